"""Judge a fresh run against the saved notebook: which cells differ, and the likely reason why.

A difference gets the most specific reason the evidence supports, in this order:
``data-changed`` (a file the cell depends on changed since ``--update`` saved the outputs),
``out-of-order-saved`` (the saved execution counts show the cell's saved output did not come
from a top-to-bottom run), ``nondeterministic`` (the cell draws unseeded random numbers or
reads a value that did; :func:`mark_nondeterministic` adds the cells whose two fresh runs
differ), else ``output-differs`` (naming an environment difference the outputs show, such as
pandas storing strings with pyarrow). Output that varies by run gets a hint: the
``nb2pipe:ignore-output`` tag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from nb2pipe.analysis import Hazard, HazardKind, NotebookAnalysis
from nb2pipe.model import Cell, Notebook, Output
from nb2pipe.verify.compare import CompareOptions, compare_outputs
from nb2pipe.verify.report import DataFile, MaskedText, Mismatch, Reason
from nb2pipe.verify.runner import NotebookRun

__all__ = [
    "IGNORE_OUTPUT_HINT",
    "Judgement",
    "first_out_of_order",
    "judge_run",
    "mark_nondeterministic",
    "pair_code_cells",
]

#: What to do about a cell whose output varies from run to run.
IGNORE_OUTPUT_HINT = (
    "its output varies by run: if that is expected, tag the cell nb2pipe:ignore-output"
)
#: Normalizers whose presence shows the output reports how a computation went (timings,
#: progress): values that vary by run (a date stamp on a report does not count).
_VARIABLE_NORMALIZERS = frozenset({"durations", "progress output"})
#: Text that differs only because the fresh run's environment differs from the saved run's:
#: (in the saved output, in the fresh one, what differs).
_ENVIRONMENT_SIGNS = (
    ("<StringArray>", "<ArrowStringArray>", "pandas stores strings with pyarrow in the fresh run"),
    ("<ArrowStringArray>", "<StringArray>", "pandas stored strings with pyarrow in the saved run"),
    ("dtype: object", "dtype: str", "pandas 3 gives strings their own dtype in the fresh run"),
    ("dtype='object'", "dtype='str'", "pandas 3 gives strings their own dtype in the fresh run"),
)


@dataclass
class Judgement:
    """What comparing the fresh run with the saved notebook found."""

    mismatches: list[Mismatch] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cells_compared: int = 0
    cells_ignored: int = 0
    #: normalizers that made some output of a compared cell equal (or were applied to it)
    normalizers: set[str] = field(default_factory=set)
    #: saved cell index -> the spans of its outputs a rule masked before comparing
    masked: dict[int, tuple[MaskedText, ...]] = field(default_factory=dict)
    #: saved cell index -> fresh cell, for every saved code cell the run executed
    fresh_cells: dict[int, Cell] = field(default_factory=dict)
    #: cells whose output differs for no reason the evidence shows (a second run may tell)
    unexplained: set[int] = field(default_factory=set)
    #: cells that draw unseeded random numbers or read what such a cell produced
    random_cells: frozenset[int] = frozenset()


def pair_code_cells(saved: Notebook, fresh: Notebook, parameterized: bool) -> dict[int, Cell]:
    """Match saved code cells to executed ones by order.

    papermill adds (or replaces) an ``injected-parameters`` cell when given parameters, and
    drops its own error-marker cells, which are Markdown; code cells otherwise keep their
    order, so pairing by order among code cells is exact.
    """

    def code(notebook: Notebook) -> list[Cell]:
        return [
            c for c in notebook.code_cells if not (parameterized and c.role.injected_parameters)
        ]

    return {s.index: f for s, f in zip(code(saved), code(fresh))}


def judge_run(
    saved: Notebook,
    run: NotebookRun,
    *,
    analysis: NotebookAnalysis | None,
    hazards: tuple[Hazard, ...],
    parameterized: bool,
    data_files: tuple[DataFile, ...],
    options: CompareOptions,
    strict_errors: bool = False,
    compare_saved: bool = True,
) -> Judgement:
    """Compare each executed cell with its saved outputs and turn a failed run into a finding.

    ``compare_saved=False`` (the run used other parameter values than the saved outputs) judges
    the run alone. A cell saved with an error output is expected to raise, like one tagged
    ``raises-exception``, unless ``strict_errors``.
    """
    judgement = Judgement()
    pairs = pair_code_cells(saved, run.notebook, parameterized)
    executed = set(run.executed)
    judgement.fresh_cells = {s: f for s, f in pairs.items() if f.index in executed}
    reasons = _ReasonFinder(saved, analysis, hazards, data_files, _files_written(run, pairs))
    judgement.random_cells = frozenset(reasons.random)
    failed_at = _failure_cell(run, pairs)
    if run.failure is not None:
        cell = saved.cells[failed_at] if failed_at is not None else None
        judgement.mismatches.append(
            Mismatch(
                run.failure.reason,
                cell.index if cell else None,
                cell.id if cell else None,
                run.failure.message,
                run.failure.detail,
                saved=cell.outputs if cell else (),
                fresh=pairs[cell.index].outputs if cell and cell.index in pairs else (),
                source=cell.first_line if cell else "",
            )
        )
    has_outputs = any(c.outputs or c.execution_count is not None for c in saved.code_cells)
    if not has_outputs:
        judgement.notes.append("saved without outputs: nothing to compare; judged the run alone")
    not_run = 0
    for saved_cell in saved.code_cells:
        fresh_cell = judgement.fresh_cells.get(saved_cell.index)
        if fresh_cell is None:
            not_run += 1 if saved_cell.source.strip() else 0
            continue
        if saved_cell.index == failed_at:
            continue  # reported as the failure itself
        if saved_cell.role.ignore_output:
            judgement.cells_ignored += 1
            continue
        if saved_cell.expects_error(strict_errors) and not run.raised(fresh_cell.index):
            expected = (
                "tagged raises-exception" if saved_cell.role.raises_exception
                else "saved with an error output"
            )
            judgement.mismatches.append(
                Mismatch(
                    Reason.ERROR,
                    saved_cell.index,
                    saved_cell.id,
                    f"{expected}, but the cell raised nothing",
                    saved=saved_cell.outputs,
                    fresh=fresh_cell.outputs,
                    source=saved_cell.first_line,
                )
            )
            continue
        if not saved_cell.outputs and saved_cell.execution_count is None:
            continue  # never run when saved: nothing to compare
        if not compare_saved:
            continue
        judgement.cells_compared += 1
        comparison = compare_outputs(saved_cell.outputs, fresh_cell.outputs, options)
        judgement.normalizers |= comparison.normalizers
        if comparison.masked:
            judgement.masked[saved_cell.index] = comparison.masked
        if comparison.equal:
            continue
        reason, why = reasons.reason_for(saved_cell.index)
        first = comparison.differences[0]
        message = "; ".join(d.message for d in comparison.differences[:3])
        if not why:
            why = _environment_difference(saved_cell.outputs, fresh_cell.outputs)
        if not why:
            judgement.unexplained.add(saved_cell.index)
        if why:
            message += f" — {why}"
        drift = comparison.drift
        if drift is not None and not why:
            message += _drift_message(drift, options.rtol)
        variable = reason is Reason.NONDETERMINISTIC or bool(
            comparison.normalizers & _VARIABLE_NORMALIZERS
        )
        diff = (
            "\n".join(
                (f"[{d.what}] " + d.diff) if len(comparison.differences) > 1 else d.diff
                for d in comparison.differences
                if d.diff
            )
            or first.message
        )
        judgement.mismatches.append(
            Mismatch(
                reason,
                saved_cell.index,
                saved_cell.id,
                message,
                diff,
                tuple(sorted(comparison.normalizers)),
                saved=saved_cell.outputs,
                fresh=fresh_cell.outputs,
                source=saved_cell.first_line,
                hint=IGNORE_OUTPUT_HINT if variable else _drift_hint(drift),
            )
        )
    if not_run and run.failure is not None:
        judgement.notes.append(f"{not_run} later code cell(s) not run after the failure")
    elif not_run:
        judgement.notes.append(f"{not_run} code cell(s) not run: {_why_not_run(run, pairs, saved)}")
    return judgement


def _why_not_run(run: NotebookRun, pairs: Mapping[int, Cell], saved: Notebook) -> str:
    """Why a run that did not fail left cells unrun: the cell that stopped it on purpose."""
    if run.stopped_at is not None:
        for saved_index, fresh in pairs.items():
            if fresh.index == run.stopped_at:
                cell = saved.cells[saved_index]
                return f"the notebook stops on purpose at {cell.label} `{cell.first_line}` (SystemExit)"
    return "the run ended before them"


def _environment_difference(saved: tuple[Output, ...], fresh: tuple[Output, ...]) -> str:
    """What the outputs show of an environment that differs from the saved run's."""

    def text(outputs: tuple[Output, ...]) -> str:
        return "\n".join(
            (o.text or "") + "\n".join(o.data.values()) for o in outputs if o.output_type != "error"
        )

    before, after = text(saved), text(fresh)
    for in_saved, in_fresh, what in _ENVIRONMENT_SIGNS:
        if in_saved in before and in_fresh in after and in_fresh not in before:
            return f"the environment differs: {what} (`{in_saved}` saved, `{in_fresh}` now)"
    return ""


#: The largest relative difference another BLAS, CPU or library build plausibly makes in a
#: printed result. Above it, numbers that moved are a real change, never a tolerance to set.
ROUNDING_DRIFT = 1e-3


def _drift_message(drift: float, rtol: float) -> str:
    if drift <= ROUNDING_DRIFT:
        return f" — only numbers differ, by up to {drift:.1e} relative (above --rtol {rtol:g})"
    return (
        f" — only numbers differ, but by up to {_relative(drift)}: more than another BLAS, CPU "
        "or library build moves a result (a real change)"
    )


def _relative(drift: float) -> str:
    """A relative difference (of the larger value) as people read it: ``12%``, ``0.12%``."""
    percent = drift * 100
    return f"{percent:.2g}%" if percent < 10 else f"{percent:.0f}%"


def _drift_hint(drift: float | None) -> str:
    """What to do about numbers that moved in their last digits; nothing for a real change."""
    if drift is None or drift == 0 or drift > ROUNDING_DRIFT:
        return ""
    suggested = 10.0 ** math.ceil(math.log10(drift))
    return (
        "another BLAS, CPU or library build moves the last digits of such results: "
        f"if that is expected, verify with --rtol {suggested:g}"
    )


def mark_nondeterministic(
    mismatches: list[Mismatch], differing: Mapping[int, str]
) -> list[Mismatch]:
    """``mismatches`` with the cells whose two fresh runs differ called ``nondeterministic``.

    ``differing`` maps saved cell indices to what differed between the two runs.
    """
    from dataclasses import replace

    out = []
    for mismatch in mismatches:
        index = mismatch.cell_index
        if mismatch.reason is Reason.OUTPUT_DIFFERS and index is not None and index in differing:
            mismatch = replace(
                mismatch,
                reason=Reason.NONDETERMINISTIC,
                message=f"{mismatch.message} — two fresh runs differ ({differing[index]})",
                hint=IGNORE_OUTPUT_HINT,
            )
        out.append(mismatch)
    return out


def _failure_cell(run: NotebookRun, pairs: Mapping[int, Cell]) -> int | None:
    if run.failure is None or run.failure.cell_index is None:
        return None
    for saved_index, fresh in pairs.items():
        if fresh.index == run.failure.cell_index:
            return saved_index
    return None  # papermill's injected-parameters cell


def _version(identity: str | None) -> str:
    """A source's version identity as the reason shows it: ``sha256 1a5cc6ec8f3e``,
    ``versionId 3HL4...``, ``md5 6f5902ac2370``."""
    if not identity:
        return "not read"
    kind, _, value = identity.partition(":")
    if not value:
        return f"sha256 {identity[:12]}" if len(identity) == 64 else identity
    names = {"version": "versionId", "md5": "md5", "commit": "commit", "etag": "etag"}
    shown = value if kind in ("version", "etag") else value[:12]
    return f"{names.get(kind, kind)} {shown}"


class _ReasonFinder:
    """The evidence for why a cell's output differs: changed data, saved order, randomness."""

    def __init__(
        self,
        saved: Notebook,
        analysis: NotebookAnalysis | None,
        hazards: tuple[Hazard, ...],
        data_files: tuple[DataFile, ...],
        written: Mapping[int, list[str]],
    ) -> None:
        self.changed = [f for f in data_files if f.changed]
        self.written = written
        self.out_of_order_from = first_out_of_order(saved)
        self.out_of_order = next((h for h in hazards if h.kind is HazardKind.OUT_OF_ORDER), None)
        self.random = _random_dependents(analysis, hazards)

    def reason_for(self, index: int) -> tuple[Reason, str]:
        for data_file in self.changed:
            # a file the fresh run did not read (gone, renamed) may explain any difference
            if data_file.read_by is None or data_file.read_by <= index:
                if "://" in data_file.path:  # a source: by its version identity
                    return Reason.DATA_CHANGED, (
                        f"data {data_file.path} changed since the outputs were saved "
                        f"({_version(data_file.saved_sha256)} -> {_version(data_file.sha256)})"
                    )
                return Reason.DATA_CHANGED, (
                    f"data file {data_file.path} changed since the outputs were saved "
                    f"(sha256 {(data_file.saved_sha256 or '')[:12]} -> "
                    f"{(data_file.sha256 or 'missing')[:12]})"
                )
        if self.out_of_order_from is not None and index >= self.out_of_order_from:
            detail = (
                self.out_of_order.message
                if self.out_of_order
                else "execution counts not increasing"
            )
            return Reason.OUT_OF_ORDER_SAVED, detail
        source = self.random.get(index)
        if source is not None:
            return Reason.NONDETERMINISTIC, source
        files = self.written.get(index)
        if files:
            # `%%writefile` says "Writing" or "Overwriting", a cache says "loaded" or "built"
            return Reason.OUTPUT_DIFFERS, (
                f"the cell writes {', '.join(files[:3])}: its output may depend on whether "
                "that file existed before the run"
            )
        return Reason.OUTPUT_DIFFERS, ""


def _files_written(run: NotebookRun, pairs: Mapping[int, Cell]) -> dict[int, list[str]]:
    """Saved cell index -> names of the files the cell opened for writing in the fresh run."""
    fresh_to_saved = {fresh.index: saved for saved, fresh in pairs.items()}
    out: dict[int, list[str]] = {}
    for access in run.accesses:
        fresh_index = run.cell_at(access.ordinal) if access.write else None
        if fresh_index is not None and fresh_index in fresh_to_saved:
            out.setdefault(fresh_to_saved[fresh_index], []).append(access.path.name)
    return out


def first_out_of_order(saved: Notebook) -> int | None:
    """The first cell whose saved count is above a count of a cell placed below it.

    Cells above it ran top to bottom with nothing out of order before them, so their saved
    outputs could come from a fresh run; from it on, they may depend on the order.
    """
    counted = [
        (c.index, c.execution_count) for c in saved.code_cells if c.execution_count is not None
    ]
    minimum_below = None
    first = None
    for index, count in reversed(counted):
        if minimum_below is not None and count > minimum_below:
            first = index
        minimum_below = count if minimum_below is None else min(minimum_below, count)
    return first


def _random_dependents(
    analysis: NotebookAnalysis | None, hazards: tuple[Hazard, ...]
) -> dict[int, str]:
    """Cells that draw unseeded random numbers, and cells that read what those produced."""
    sources = {
        h.cell_index: h
        for h in hazards
        if h.kind is HazardKind.UNSEEDED_RANDOM and h.cell_index is not None
    }
    if not sources:
        return {}
    out: dict[int, str] = {}
    for index, hazard in sources.items():
        out[index] = f"unseeded randomness: {hazard.message}"
    if analysis is None:
        return out
    for flow in analysis.dataflow.flows:
        if flow.cell_index in out:
            continue
        for name, producer in sorted(flow.inputs.items()):
            if producer in out:
                label = analysis.notebook.cells[producer].label
                out[flow.cell_index] = (
                    f"reads {name!r} from {label}, which draws unseeded random numbers"
                )
                break
    return out
