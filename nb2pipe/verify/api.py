"""Verify notebooks: static check, fresh kernel run, output comparison, script equivalence.

``verify_paths`` reads like the recipe of PRODUCT.md §4: find the notebooks, prepare each one
(load, static check, bind parameters: all usage errors surface before any kernel starts), then
verify them ``jobs`` at a time, each in its own kernel, and collect a :class:`VerifyReport`.
"""

from __future__ import annotations

import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Protocol, Sequence

from nb2pipe.analysis import (
    Hazard,
    HazardKind,
    NotebookAnalysis,
    analyze_notebook,
    find_static_hazards,
)
from nb2pipe.errors import Nb2PipeError, NestedTooDeeplyError
from nb2pipe.export.parameters import Parameter
from nb2pipe.model import DEFAULT_MAX_SIZE, Cell, Notebook, load_notebook
from nb2pipe.verify.compare import compare_outputs
from nb2pipe.verify.errors import VerificationFailed, VerifyInterrupted, VerifyUsageError
from nb2pipe.verify.judge import (
    first_out_of_order,
    judge_run,
    mark_nondeterministic,
    pair_code_cells,
)
from nb2pipe.verify.kernels import KernelLookahead, StartedKernel, start_kernel
from nb2pipe.verify.options import VerifyOptions
from nb2pipe.verify.parameters import BoundParameters, bind_parameters, notebook_parameters
from nb2pipe.verify.probe import data_files_read, sha256_of
from nb2pipe.verify.report import (
    DataFile,
    MaskedCell,
    Mismatch,
    NotebookReport,
    NotebookStatus,
    Reason,
    ScriptCheck,
    ScriptStatus,
    VerifyReport,
)
from nb2pipe.verify.runner import (
    NotebookRun,
    allow_running,
    check_kernel,
    kill_running,
    preload,
    resolve_kernel,
    run_notebook,
)

if TYPE_CHECKING:
    from nb2pipe.verify.script import ScriptCheckJob
from nb2pipe.verify.update import read_saved_data_hashes, write_fresh_outputs

__all__ = [
    "VerifyProgress",
    "find_notebooks",
    "raise_for_mismatches",
    "verify_notebook",
    "verify_paths",
]

#: Static hazard kinds verify reports (PRODUCT.md §4.1).
STATIC_KINDS = frozenset(
    {HazardKind.OUT_OF_ORDER, HazardKind.UNDEFINED_IN_FRESH_KERNEL, HazardKind.UNSEEDED_RANDOM}
)
#: Reasons ``--update`` resolves by saving the fresh outputs.
_OUTPUT_REASONS = frozenset(
    {Reason.OUTPUT_DIFFERS, Reason.NONDETERMINISTIC, Reason.OUT_OF_ORDER_SAVED, Reason.DATA_CHANGED}
)


class VerifyProgress(Protocol):
    """Hooks for a progress display; called from worker threads."""

    def notebook_started(self, path: Path, cells: int) -> None: ...

    def cell_executed(self, path: Path) -> None: ...

    def notebook_finished(self, report: NotebookReport) -> None: ...


class _NoProgress:
    def notebook_started(self, path: Path, cells: int) -> None:
        pass

    def cell_executed(self, path: Path) -> None:
        pass

    def notebook_finished(self, report: NotebookReport) -> None:
        pass


@dataclass
class _Prepared:
    """A notebook loaded and statically checked, ready to run."""

    path: Path
    notebook: Notebook
    analysis: NotebookAnalysis | None
    hazards: tuple[Hazard, ...]
    declared_parameters: tuple[Parameter, ...] | None
    kernel_name: str
    notes: list[str] = field(default_factory=list)
    parameters: BoundParameters = field(default_factory=BoundParameters)


def find_notebooks(paths: Iterable[Path]) -> tuple[list[Path], list[NotebookReport]]:
    """Expand directories into the notebooks under them (hidden folders left out).

    Returns the notebooks in the order given (each once) and an ``invalid`` report for each
    directory without notebooks. Missing paths are kept: loading them reports the error.
    """
    found: list[Path] = []
    empty: list[NotebookReport] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            inside = sorted(
                p
                for p in path.rglob("*.ipynb")
                if not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not inside:
                empty.append(
                    NotebookReport(path, NotebookStatus.INVALID, error="no notebooks found")
                )
            candidates = inside
        else:
            candidates = [path]
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found, empty


def verify_paths(
    paths: Sequence[Path],
    options: VerifyOptions = VerifyOptions(),
    progress: VerifyProgress | None = None,
) -> VerifyReport:
    """Verify every notebook in ``paths`` (directories are searched).

    Raises
    ------
    VerifyUsageError
        Options that cannot apply: ``--update`` with ``-p``, a ``-p`` name no notebook
        declares, a value of the wrong type.
    """
    start = time.monotonic()
    progress = progress or _NoProgress()
    if options.update and options.parameters:
        raise VerifyUsageError(
            "--update cannot be combined with -p: saved outputs must come from the notebook's "
            "own parameter values"
        )
    if options.kernel is not None:
        check_kernel(options.kernel)
    notebooks, reports = find_notebooks(paths)
    for report in reports:
        progress.notebook_finished(report)
    prepared: list[_Prepared | NotebookReport] = [
        _prepare(path, options.strict_errors, options.max_notebook_size, options.kernel)
        for path in notebooks
    ]
    _bind_parameters([p for p in prepared if isinstance(p, _Prepared)], options)
    if any(isinstance(item, _Prepared) for item in prepared):
        preload()
    if options.parameters:
        from nb2pipe.verify.parameters import register_typed_translator

        register_typed_translator()

    interrupted = threading.Event()
    finished: dict[int, NotebookReport] = {}  # position -> report, before any interrupt
    # while N notebooks run, the kernels of the next N start
    lookahead = KernelLookahead(
        [
            (item.kernel_name, item.path.resolve().parent, _metric_names(item.analysis))
            if isinstance(item, _Prepared)
            else None
            for item in prepared
        ],
        ahead=max(1, options.jobs),
        start=functools.partial(start_kernel, threads=options.process_threads),
    )

    def work(position: int, item: _Prepared | NotebookReport) -> NotebookReport:
        if isinstance(item, NotebookReport):
            report = item
        else:
            kernel = lookahead.take(position)
            try:
                report = _verify_prepared(item, options, progress, kernel)
            finally:
                if kernel is not None:
                    kernel.close()  # the run closed it, unless it never ran
        if not interrupted.is_set():  # the kernels killed on an interrupt are no verdict
            finished[position] = report
            progress.notebook_finished(report)
        return report

    allow_running()
    pool = ThreadPoolExecutor(max_workers=max(1, options.jobs))
    futures = [pool.submit(work, position, item) for position, item in enumerate(prepared)]
    try:
        try:
            results = [future.result() for future in futures]
        except (KeyboardInterrupt, SystemExit) as exc:
            # Ctrl-C, or SIGTERM through the command: kernels and scripts run in their own
            # sessions and would outlive us, and the worker threads would wait for them; end
            # them (and any a worker starts from now on), then the threads
            interrupted.set()
            for future in futures:
                future.cancel()
            kill_running()
            pool.shutdown(wait=True, cancel_futures=True)
            status = 130 if isinstance(exc, KeyboardInterrupt) else _exit_status(exc)
            done = [finished[i] for i in sorted(finished)]
            raise VerifyInterrupted(
                VerifyReport(
                    tuple(reports + done),
                    time.monotonic() - start,
                    options.rtol,
                    options.script,
                    interrupted=status,
                    planned=len(reports) + len(prepared),
                )
            ) from None
        except BaseException:
            interrupted.set()
            for future in futures:
                future.cancel()
            kill_running()
            raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        lookahead.close()
    return VerifyReport(
        tuple(reports + results), time.monotonic() - start, options.rtol, options.script
    )


def _exit_status(exc: SystemExit) -> int:
    return exc.code if isinstance(exc.code, int) and exc.code > 0 else 130


def verify_notebook(
    path: Path, options: VerifyOptions = VerifyOptions(), progress: VerifyProgress | None = None
) -> NotebookReport:
    """Verify one notebook (see :func:`verify_paths`)."""
    return verify_paths([path], replace(options, jobs=1), progress).notebooks[0]


def raise_for_mismatches(report: VerifyReport) -> None:
    """Raise :class:`VerificationFailed` unless every notebook reproduces."""
    if not report.ok:
        raise VerificationFailed(report)


# ---------------------------------------------------------------------------------------------
# steps


def _prepare(
    path: Path,
    strict_errors: bool = False,
    max_size: int | None = DEFAULT_MAX_SIZE,
    kernel: str | None = None,
) -> _Prepared | NotebookReport:
    """Load and statically check one notebook (PRODUCT.md §4.1); ``kernel`` overrides the
    notebook's own."""
    start = time.monotonic()
    try:
        notebook = load_notebook(path, max_size=max_size)
    except Nb2PipeError as exc:
        return NotebookReport(
            path, NotebookStatus.INVALID, error=str(exc), duration=time.monotonic() - start
        )
    notes: list[str] = list(notebook.warnings)
    analysis: NotebookAnalysis | None = None
    hazards: tuple[Hazard, ...] = ()
    for cell in notebook.code_cells:
        error = cell.saved_error
        if error is not None and not cell.role.raises_exception:
            notes.append(
                f"{cell.label}: saved with an error ({error.ename}); "
                + (
                    "--strict-errors: it must run cleanly"
                    if strict_errors
                    else "expected to raise, as if tagged raises-exception"
                )
            )
    try:
        analysis = analyze_notebook(notebook)
        expected_to_raise = {c.index for c in notebook.cells if c.expects_error(strict_errors)}
        hazards = tuple(
            h
            for h in find_static_hazards(analysis)
            if h.kind in STATIC_KINDS
            # a `raises-exception` cell may well raise NameError: that is what it shows
            and not (
                h.kind is HazardKind.UNDEFINED_IN_FRESH_KERNEL
                and h.cell_index in expected_to_raise
            )
        )
    except NestedTooDeeplyError as exc:  # Python may run it; nb2pipe cannot check or export it
        return NotebookReport(
            path, NotebookStatus.INVALID, error=str(exc), duration=time.monotonic() - start
        )
    except Nb2PipeError as exc:  # a cell that is not Python: the run will say more
        notes.append(f"static check skipped: {exc}")
    kernel_name, kernel_note = resolve_kernel(kernel or notebook.kernel_name)
    if kernel_note:
        notes.append(kernel_note)
    declared = notebook_parameters(analysis) if analysis is not None else None
    return _Prepared(path, notebook, analysis, hazards, declared, kernel_name, notes)


def _bind_parameters(prepared: list[_Prepared], options: VerifyOptions) -> None:
    if not options.parameters:
        return
    for name, _ in options.parameters:
        if prepared and not any(
            p.declared_parameters is None or any(d.name == name for d in p.declared_parameters)
            for p in prepared
        ):
            raise VerifyUsageError(f"-p {name}: no notebook has a parameter named {name!r}")
    for item in prepared:
        item.parameters = bind_parameters(options.parameters, item.declared_parameters)
        item.notes.extend(item.parameters.notes)


def _verify_prepared(
    item: _Prepared,
    options: VerifyOptions,
    progress: VerifyProgress,
    kernel: StartedKernel | None = None,
) -> NotebookReport:
    """Steps 2–5 of PRODUCT.md §4 for one notebook: run, compare, script, verdict.
    ``kernel``: one started ahead for the run."""
    start = time.monotonic()
    progress.notebook_started(item.path, len(item.notebook.code_cells))
    script_check = _start_script(item, options)
    try:
        run = _run(item, options, lambda: progress.cell_executed(item.path), kernel=kernel)
        data_files = _data_files(item, run, bool(item.parameters.values))
        compare_saved = not item.parameters.changed
        judgement = judge_run(
            item.notebook,
            run,
            analysis=item.analysis,
            hazards=item.hazards,
            parameterized=bool(item.parameters.values),
            data_files=data_files,
            options=options.compare,
            strict_errors=options.strict_errors,
            compare_saved=compare_saved,
        )
        mismatches = list(judgement.mismatches)
        notes = item.notes + judgement.notes
        if not compare_saved:
            notes.append(
                f"run with {', '.join(item.parameters.changed)}, not the values the outputs "
                "were saved with: the saved outputs are not compared"
                + ("; the script's output is compared with the fresh run" if options.script else "")
            )
        script = ScriptCheck(ScriptStatus.SKIPPED, None if options.script else "--no-script")
        script_found: list[Mismatch] = []
        if options.script and script_check is None:
            script = ScriptCheck(ScriptStatus.SKIPPED, "the notebook has a cell that is not Python")
        elif script_check is not None and run.failure is not None:
            script = ScriptCheck(
                ScriptStatus.SKIPPED, "the notebook run failed: nothing to compare"
            )
        elif script_check is not None:
            metrics = _notebook_metrics(item, run, judgement.fresh_cells)
            script, script_found = script_check.finish(
                judgement.fresh_cells, options.rtol, metrics, judgement.random_cells
            )
        # a difference no evidence explains: a second fresh run tells whether it varies by run
        unexplained = set(judgement.unexplained) | {
            m.cell_index
            for m in script_found
            if m.reason is Reason.SCRIPT_DIFFERS
            and m.cell_index is not None
            and m.cell_index not in judgement.random_cells
        }
        if unexplained and options.second_run and run.failure is None:
            variable = _second_run_differences(
                item, options, judgement.fresh_cells, max(unexplained)
            )
            mismatches = mark_nondeterministic(
                mismatches, {i: why for i, why in variable.items() if i in judgement.unexplained}
            )
            if variable:
                notes.append(
                    "ran the notebook a second time: "
                    + ", ".join(item.notebook.cells[i].label for i in sorted(variable))
                    + " differ between two fresh runs"
                )
            if variable and script_check is not None and script_found:
                metrics = _notebook_metrics(item, run, judgement.fresh_cells)
                script, script_found = script_check.finish(
                    judgement.fresh_cells,
                    options.rtol,
                    metrics,
                    judgement.random_cells | frozenset(variable),
                )
        mismatches += script_found
        if script_check is not None:
            notes += script_check.notes
    finally:
        if script_check is not None:
            script_check.cancel()  # no-op once finished; kills the script otherwise
    notes += [
        f"data file {f.path} changed since the outputs were saved; they still reproduce"
        for f in data_files
        if f.changed and not any(m.reason is Reason.DATA_CHANGED for m in mismatches)
    ]
    updated = options.update and run.failure is None
    gone = not item.path.exists()
    if gone:
        notes.append(
            f"{item.path} no longer exists after the run (a cell deleted it, or its folder)"
            + ("; not updated" if updated else "")
        )
        updated = False
    if updated:
        problem = _update(item, run, judgement.fresh_cells, data_files)
        if problem is not None:
            notes.append(f"not updated: {problem}")
            updated = False
    if updated:
        notes += [
            f"updated {m.cell_label}: {m.reason.value}"
            for m in mismatches
            if m.reason in _OUTPUT_REASONS
        ]
        mismatches = [m for m in mismatches if m.reason not in _OUTPUT_REASONS]
    # in notebook order; findings about the notebook as a whole (script failed) last
    mismatches.sort(key=lambda m: float("inf") if m.cell_index is None else m.cell_index)
    hint = _recover_hint(item, mismatches, judgement.unexplained)
    if hint:
        notes.append(hint)
    differing = {m.cell_index for m in mismatches}
    masked = tuple(
        MaskedCell(
            index,
            item.notebook.cells[index].id,
            item.notebook.cells[index].first_line,
            index in differing,
            spans,
        )
        for index, spans in sorted(judgement.masked.items())
    )
    return NotebookReport(
        path=item.path,
        status=NotebookStatus.DIFFERS if mismatches else NotebookStatus.REPRODUCES,
        mismatches=tuple(mismatches),
        hazards=item.hazards,
        notes=tuple(notes),
        cells_compared=judgement.cells_compared,
        cells_ignored=judgement.cells_ignored,
        normalizers=tuple(sorted(judgement.normalizers)),
        masked=masked,
        data_files=data_files,
        script=script,
        duration=time.monotonic() - start,
        updated=updated,
    )


def _recover_hint(item: _Prepared, mismatches: list[Mismatch], unexplained: set[int]) -> str:
    """Where the saved outputs came from another path than a top-to-bottom run (counts out of
    order, or a ``%track`` history beside the notebook) and no other cause explains a
    difference: ``nb2pipe recover`` finds that path."""
    from nb2pipe.tracking.log import history_path

    path_caused = any(
        m.reason is Reason.OUT_OF_ORDER_SAVED
        or (m.reason is Reason.OUTPUT_DIFFERS and m.cell_index in unexplained)
        for m in mismatches
    )
    if not path_caused:
        return ""
    if first_out_of_order(item.notebook) is None and not history_path(item.path).is_file():
        return ""
    return f"the saved outputs came from another path: nb2pipe recover {item.path}"


def _start_script(item: _Prepared, options: VerifyOptions) -> ScriptCheckJob | None:
    """Export the notebook and start its script, to run while the kernel runs the notebook."""
    if not options.script or item.analysis is None:
        return None
    from nb2pipe.verify.script import start_script_check

    cells = max(1, len(item.notebook.code_cells))
    timeout = options.timeout * cells if options.timeout else None
    return start_script_check(
        item.analysis,
        item.kernel_name,
        item.parameters.script_arguments,
        timeout,
        strict_errors=options.strict_errors,
        threads=options.process_threads,
    )


def _run(
    item: _Prepared,
    options: VerifyOptions,
    on_cell_executed: Callable[[], None] | None = None,
    last_cell: int | None = None,
    kernel: StartedKernel | None = None,
) -> NotebookRun:
    """One fresh run of the notebook (the cells expected to raise may raise), to its end or
    to ``last_cell`` (included)."""
    return run_notebook(
        item.path,
        kernel_name=item.kernel_name,
        parameters=item.parameters.values,
        timeout=options.cell_timeout,
        metric_names=_metric_names(item.analysis),
        on_cell_executed=on_cell_executed,
        expected_errors=[
            cell.index
            for cell in item.notebook.code_cells
            if cell.expects_error(options.strict_errors) and not cell.role.raises_exception
        ],
        last_cell=last_cell,
        kernel=kernel,
        threads=options.process_threads,
    )


def _second_run_differences(
    item: _Prepared, options: VerifyOptions, first: dict[int, Cell], last_cell: int
) -> dict[int, str]:
    """Run the notebook again, up to ``last_cell`` (the last cell in question): the cells whose
    outputs differ between the two fresh runs, with what differs (saved cell index ->
    message). ``first`` pairs the saved cells with the first run's.

    The cells below ``last_cell`` would only cost time: what they print cannot change what
    the cells above printed. With parameters the run goes at least to the ``parameters``
    cell, where papermill injects the values.
    """
    if item.parameters.values:
        last_cell = max(
            [last_cell, *(c.index for c in item.notebook.code_cells if c.role.parameters)]
        )
    second = _run(item, options, last_cell=last_cell)
    if second.failure is not None:
        return {}
    executed = set(second.executed)
    again = {
        saved: fresh
        for saved, fresh in pair_code_cells(
            item.notebook, second.notebook, bool(item.parameters.values)
        ).items()
        if fresh.index in executed
    }
    out: dict[int, str] = {}
    for index, one in sorted(first.items()):
        two = again.get(index)
        if two is None:
            continue
        comparison = compare_outputs(one.outputs, two.outputs, options.compare)
        if not comparison.equal:
            out[index] = comparison.differences[0].message
    return out


def _data_files(item: _Prepared, run: NotebookRun, parameterized: bool) -> tuple[DataFile, ...]:
    """Files the run read, hashed now, and the data it read from URLs and DVC registries, by
    version, beside the hashes and versions ``--update`` stored last time."""
    folder = item.path.resolve().parent
    saved_hashes = read_saved_data_hashes(item.path)
    fresh_to_saved = {
        fresh.index: saved
        for saved, fresh in pair_code_cells(item.notebook, run.notebook, parameterized).items()
    }
    files: dict[str, DataFile] = {}
    for path, ordinal in data_files_read(run.accesses).items():
        key = _relative(path, folder)
        fresh_index = run.cell_at(ordinal)
        reader = fresh_to_saved.get(fresh_index) if fresh_index is not None else None
        files[key] = DataFile(key, sha256_of(path), saved_hashes.get(key), reader)
    for access in run.probe.sources:
        # data read from a URL or a DVC registry: by its version identity, as run records
        # compare it (what can be checked when it has none)
        source = access.source
        fresh_index = run.cell_at(access.ordinal)
        reader = fresh_to_saved.get(fresh_index) if fresh_index is not None else None
        version = source.identity or source.checks or "unversioned"
        files[source.url] = DataFile(source.url, version, saved_hashes.get(source.url), reader)
    for key, saved in saved_hashes.items():
        if key not in files:
            if "://" in key:  # a source this run did not read: nothing to compare
                continue
            path = Path(key) if Path(key).is_absolute() else folder / key
            files[key] = DataFile(key, sha256_of(path), saved, None)
    return tuple(files[key] for key in sorted(files))


def _metric_names(analysis: NotebookAnalysis | None) -> frozenset[str]:
    """Names the ``metrics`` cells assign (the script records them in its run record)."""
    if analysis is None:
        return frozenset()
    return frozenset(
        name
        for parsed in analysis.cells
        if parsed.cell.role.metrics
        for name in parsed.symbols.defines
    )


def _notebook_metrics(
    item: _Prepared, run: NotebookRun, fresh_cells: dict[int, Cell]
) -> dict[str, tuple[float, Cell]]:
    """Each metric's value in the fresh run right after the ``metrics`` cell that sets it."""
    out: dict[str, tuple[float, Cell]] = {}
    if item.analysis is None:
        return out
    for parsed in item.analysis.cells:
        fresh = fresh_cells.get(parsed.cell.index)
        if not parsed.cell.role.metrics or fresh is None:
            continue
        ordinal = run.ordinal_of(fresh.index)
        for name in parsed.symbols.defines:
            value = run.probe.metric_at(name, ordinal) if ordinal is not None else None
            if value is not None:
                out[name] = (value, parsed.cell)
    return out


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)


def _update(
    item: _Prepared,
    run: NotebookRun,
    fresh_cells: dict[int, Cell],
    data_files: tuple[DataFile, ...],
) -> str | None:
    """Write the fresh outputs into the notebook; what went wrong, if it could not."""
    raw_by_fresh_index = {cell.index: raw for cell, raw in zip(run.notebook.cells, run.cells_json)}
    fresh_json = {
        saved_index: raw_by_fresh_index[cell.index] for saved_index, cell in fresh_cells.items()
    }
    hashes = {
        f.path: f.sha256 for f in data_files if f.sha256 is not None and f.read_by is not None
    }
    try:
        write_fresh_outputs(item.path, fresh_json, hashes)
    except OSError as exc:  # deleted or made read-only meanwhile: the notebook stays as it was
        return f"cannot write {item.path}: {exc.strerror or exc}"
    return None
