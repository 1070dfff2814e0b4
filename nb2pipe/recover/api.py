"""``nb2pipe recover``: find the path that produced a notebook's saved outputs, and prove it.

The recipe: load the notebook; from a ``%track`` history beside it, take the session whose
execution counts match the saved ones and replay its sliced executions with the code they
ran then; without a (complete) history, search orders and repetitions of the current cells
(:mod:`nb2pipe.recover.search`). Either way a path counts only once a fresh kernel, running
the recovered notebook top to bottom, gave back every saved output (:mod:`.prove`); then the
recovered notebook (and, asked for, its script) is written. Nothing is written otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from nb2pipe.errors import Nb2PipeError, OutputExistsError
from nb2pipe.model import DEFAULT_MAX_SIZE, Notebook, load_notebook
from nb2pipe.recover.history import HistoryPath, history_path_of, recoverable_cells
from nb2pipe.recover.path import CellProblem, RecoveredPath, Replay, recovered_notebook
from nb2pipe.recover.prove import Proof, prove
from nb2pipe.verify.compare import CompareOptions

__all__ = [
    "CellProblem",
    "RecoverOptions",
    "RecoveredOutputExistsError",
    "RecoveryResult",
    "default_output",
    "recover_notebook",
]

#: The budget when nothing tells how long a fresh run takes, and at least this much.
MIN_BUDGET = 60.0
#: How many times the estimated fresh run the search and its proofs may take by default.
BUDGET_FACTOR = 10.0


@dataclass(frozen=True)
class RecoverOptions:
    output: Path | None = None  #: the recovered notebook (default ``<stem>.recovered.ipynb``)
    script: Path | None = None  #: also export the recovered path as a script here
    budget: float | None = None  #: seconds for the search and proofs (default: 10x a run)
    force: bool = False  #: overwrite existing outputs
    kernel_name: str | None = None
    rtol: float = 1e-6
    use_history: bool = True
    max_notebook_size: int | None = DEFAULT_MAX_SIZE


@dataclass(frozen=True)
class RecoveryResult:
    """What ``recover`` did."""

    recovered: bool
    path: RecoveredPath | None
    output: Path | None = None
    script: Path | None = None
    problems: tuple[CellProblem, ...] = ()
    notes: tuple[str, ...] = ()
    proof: Proof | None = None
    budget: float = 0.0
    duration: float = 0.0
    #: executions tried by the search (0: a history was replayed)
    tried: int = 0


class RecoveredOutputExistsError(OutputExistsError):
    """The recovered notebook (or script) exists; ``--force`` overwrites it.

    Typed, so that the server answers it as a conflict (409) and Lab can offer to replace it.
    """

    def __init__(self, path: Path, what: str = "notebook") -> None:
        self.path = path
        self.what = what
        Nb2PipeError.__init__(self, f"{path}: exists; pass --force to overwrite the {what}")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.path, self.what))


def default_output(notebook_path: Path) -> Path:
    return notebook_path.with_name(f"{notebook_path.stem}.recovered.ipynb")


Progress = Callable[[str], None]


def recover_notebook(
    notebook_path: Path, options: RecoverOptions = RecoverOptions(), progress: Progress | None = None
) -> RecoveryResult:
    """Recover the path to the saved outputs of the notebook at ``notebook_path``.

    Raises
    ------
    Nb2PipeError
        Bad input: the notebook cannot be read, has no saved outputs, or an output exists
        (without ``force``).
    """
    say = progress or (lambda message: None)
    started = time.monotonic()
    notebook_path = Path(notebook_path)
    notebook = load_notebook(notebook_path, max_size=options.max_notebook_size)
    raw = json.loads(notebook_path.read_text(encoding="utf-8"))
    output = options.output or default_output(notebook_path)
    _refuse_existing(output, notebook_path, options.force)
    if options.script is not None:
        _refuse_existing(options.script, notebook_path, options.force, script=True)
    saved = recoverable_cells(notebook)
    if not saved:
        raise Nb2PipeError(
            f"{notebook_path}: no saved outputs to recover (no code cell has an execution "
            "count): run it and save it, or use nb2pipe verify"
        )
    from nb2pipe.verify.runner import resolve_kernel

    kernel, kernel_note = resolve_kernel(options.kernel_name or notebook.kernel_name)
    compare = CompareOptions(rtol=options.rtol)
    notes: list[str] = [kernel_note] if kernel_note else []
    history = history_path_of(notebook) if options.use_history else None
    estimate = _estimate(history, raw)
    budget = options.budget if options.budget is not None else max(
        MIN_BUDGET, BUDGET_FACTOR * estimate if estimate else MIN_BUDGET
    )
    deadline = started + budget

    def remaining() -> float:
        return max(1.0, deadline - time.monotonic())

    problems: list[CellProblem] = []
    if history is not None:
        notes += list(history.notes)
        if history.complete:
            say(f"replaying {len(history.path.replays)} executions of the %track session")
            attempts = [history.path]
            if history.dropped:
                full = history_path_of(notebook, sliced=False)
                if full is not None and full.complete:
                    attempts.append(full.path)
            for attempt in attempts:
                result = _try(notebook, raw, attempt, notebook_path, kernel, remaining(), compare)
                if result.reproduced:
                    return _finish(
                        notebook_path, notebook, raw, attempt, result, output, options, notes,
                        budget, started,
                    )
                if time.monotonic() > deadline:
                    break
                problems = _problems_from_proof(result, attempt, notebook)
        elif history.only_before_tracking_missing and time.monotonic() < deadline:
            from nb2pipe.recover.search import search_path

            say("replaying the %track session; searching the current cells for what ran before it")
            prefixed = search_path(
                notebook, notebook_path, deadline=deadline, compare=compare, history=history,
            )
            for candidate in prefixed.paths:
                proof = _try(notebook, raw, candidate, notebook_path, kernel, remaining(), compare)
                if proof.reproduced:
                    return _finish(
                        notebook_path, notebook, raw, candidate, proof, output, options,
                        notes + list(candidate.notes), budget, started, tried=prefixed.tried,
                    )
                if time.monotonic() > deadline:
                    break
            problems += _history_gaps(history, notebook)
        else:
            problems += _history_gaps(history, notebook)
    search_result = None
    if time.monotonic() < deadline:
        from nb2pipe.recover.search import search_path

        say("searching orders and repetitions of the notebook's current cells")
        search_result = search_path(
            notebook, notebook_path, deadline=deadline, compare=compare, history=history,
        )
        for candidate in search_result.paths:
            if time.monotonic() > deadline:
                break
            say(f"proving a path of {len(candidate.replays)} executions in a fresh kernel")
            proof = _try(notebook, raw, candidate, notebook_path, kernel, remaining(), compare)
            if proof.reproduced:
                return _finish(
                    notebook_path, notebook, raw, candidate, proof, output, options,
                    notes + list(search_result.notes), budget, started, tried=search_result.tried,
                )
            problems = _problems_from_proof(proof, candidate, notebook) or problems
        # (the candidates are searched for lazily: what the search learned is known now)
        problems = list(search_result.problems) or problems
    return RecoveryResult(
        recovered=False,
        path=None,
        problems=tuple(_dedupe(problems)) or (
            tuple(CellProblem(c, "not given back within the budget") for c in saved[:1])
        ),
        notes=tuple(notes + (list(search_result.notes) if search_result else [])),
        budget=budget,
        duration=time.monotonic() - started,
        tried=search_result.tried if search_result else 0,
    )


def _try(
    notebook: Notebook, raw: dict[str, Any], path: RecoveredPath, notebook_path: Path,
    kernel: str, timeout: float, compare: CompareOptions,
) -> Proof:
    document = recovered_notebook(notebook, raw, path, notebook_path.name)
    return prove(document, notebook_path, kernel_name=kernel, timeout=timeout, options=compare)


def _finish(
    notebook_path: Path, notebook: Notebook, raw: dict[str, Any], path: RecoveredPath,
    proof: Proof, output: Path, options: RecoverOptions, notes: list[str], budget: float,
    started: float, tried: int = 0,
) -> RecoveryResult:
    from nb2pipe.files import write_atomically

    document = recovered_notebook(notebook, raw, path, notebook_path.name)
    text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    script = None
    script_notes: list[str] = []
    if options.script is not None:
        script_text, script_notes = _script_of(document, output, options.script, notebook, path)
        script = options.script
    write_atomically(output, text)
    if script is not None:
        write_atomically(script, script_text)
    return RecoveryResult(
        recovered=True,
        path=path,
        output=output,
        script=script,
        notes=tuple(notes + script_notes),
        proof=proof,
        budget=budget,
        duration=time.monotonic() - started,
        tried=tried,
    )


def _script_of(
    document: dict[str, Any], output: Path, script: Path, notebook: Notebook, path: RecoveredPath
) -> tuple[str, list[str]]:
    """The recovered path as a parameterized script, and how its defaults were chosen.

    Where the path runs the parameters cell more than once, the run tagged ``parameters``
    (whose values become the command line's defaults) is the one the saved outputs used: the
    last run before the last saved execution that reads a parameter. The other runs stay as
    plain code where they ran: a reader before the chosen run saw their values, as it did.
    """
    from nb2pipe.export import ExportOptions, render_notebook
    from nb2pipe.model import notebook_from_json

    notes: list[str] = []
    code_cells = [c for c in document["cells"] if c["cell_type"] == "code"]
    parameters = next((c for c in notebook.code_cells if c.role.parameters), None)
    runs = [
        i for i, r in enumerate(path.replays)
        if parameters is not None and r.cell is not None and r.cell.index == parameters.index
    ]
    if runs:
        chosen, earlier_readers = _run_the_result_used(document, output, runs, path)
        tags = code_cells[chosen].setdefault("metadata", {}).setdefault("tags", [])
        if "parameters" not in tags:
            tags.append("parameters")
        replay = path.replays[chosen]
        if len(runs) > 1 or replay.older_code:
            count = f"In [{replay.count}]" if replay.count else f"run {runs.index(chosen) + 1}"
            notes.append(
                f"the script's defaults are the values of the parameters cell's run at {count}"
                f"{' (older code)' if replay.older_code else ''}, the values the last saved "
                "output that depends on a parameter used "
                f"(the cell ran {len(runs)} time(s) on the path)"
            )
        if earlier_readers:
            labels = ", ".join(
                f"{r.cell.label}" for r in earlier_readers if r.cell is not None
            )
            notes.append(
                f"{labels} used values of an earlier run of the parameters cell: that run stays "
                "as plain code above them, so the script gives their outputs back too, "
                "whatever the command line says"
            )
    recovered = notebook_from_json(document, output)
    rendered = render_notebook(recovered, ExportOptions(force=True), script)
    return rendered.code, notes


def _run_the_result_used(
    document: dict[str, Any], output: Path, runs: list[int], path: RecoveredPath
) -> tuple[int, list[Replay]]:
    """Of the parameters cell's runs (positions on the path), the one the saved outputs used,
    and the saved runs whose outputs depend on an earlier one (through the names they read,
    directly or through other cells).

    The chosen run is the one the last dependent saved output depends on (the latest of its
    runs when it depends on several)."""
    from nb2pipe.analysis import analyze_notebook
    from nb2pipe.model import notebook_from_json

    try:
        analysis = analyze_notebook(notebook_from_json(document, output))
    except Nb2PipeError:
        return runs[-1], []
    symbols = [parsed.symbols for parsed in analysis.cells]
    if len(symbols) != len(path.replays):
        return runs[-1], []
    origin: dict[str, set[int]] = {}  # name -> the parameters runs its value depends on
    depends: dict[int, set[int]] = {}  # saved position -> the parameters runs it depends on
    for position, (replay, cell_symbols) in enumerate(zip(path.replays, symbols)):
        if position in runs:
            for name in cell_symbols.defines:
                origin[name] = {position}
            continue
        used: set[int] = set()
        for name in cell_symbols.reads | cell_symbols.mutates:
            used |= origin.get(name, set())
        for name in cell_symbols.defines:
            origin[name] = set(used)
        for name in cell_symbols.mutates - cell_symbols.defines:
            origin[name] = origin.get(name, set()) | used
        if replay.saved and used:
            depends[position] = used
    if not depends:
        return runs[-1], []
    chosen = max(depends[max(depends)])
    earlier = [
        path.replays[position] for position, used in sorted(depends.items())
        if any(run < chosen for run in used)
    ]
    return chosen, earlier


def _estimate(history: HistoryPath | None, raw: dict[str, Any]) -> float | None:
    """Seconds a fresh run takes: the history's durations, else the saved timings
    (JupyterLab's ``metadata.execution``), else unknown."""
    if history is not None:
        estimate = history.path.estimated_duration
        if estimate is not None:
            return estimate
    total = 0.0
    found = False
    for cell in raw.get("cells") or []:
        timing = (cell.get("metadata") or {}).get("execution") if isinstance(cell, dict) else None
        if not isinstance(timing, dict):
            continue
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        try:
            total += (_timestamp(end) - _timestamp(start))
            found = True
        except (TypeError, ValueError):
            continue
    return total if found else None


def _timestamp(value: Any) -> float:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _refuse_existing(path: Path, notebook_path: Path, force: bool, script: bool = False) -> None:
    if path.resolve() == notebook_path.resolve():
        raise Nb2PipeError(f"{path}: the output would overwrite the notebook")
    if path.is_dir():
        raise Nb2PipeError(f"{path}: is a directory; give a file name")
    if path.exists() and not force:
        raise RecoveredOutputExistsError(path, "script" if script else "notebook")


def _problems_from_proof(proof: Proof, path: RecoveredPath, notebook: Notebook) -> list[CellProblem]:
    """The saved cells whose outputs the proof run did not give back."""
    code = proof.notebook.code_cells
    problems = []
    for mismatch in proof.mismatches:
        if mismatch.cell_index is None:
            continue
        ordinal = next((i for i, c in enumerate(code) if c.index == mismatch.cell_index), None)
        if ordinal is None or ordinal >= len(path.replays):
            continue
        cell = path.replays[ordinal].cell
        if cell is not None:
            problems.append(CellProblem(cell, f"{mismatch.reason.value}: {mismatch.message}"))
    return problems


def _history_gaps(history: HistoryPath, notebook: Notebook) -> list[CellProblem]:
    """What a history cannot replay, named on the cells it concerns."""
    problems = [
        CellProblem(
            cell, f"its saved output came from In [{cell.execution_count}], which no %track "
            "session beside the notebook recorded",
        )
        for cell in history.match.unmatched
    ]
    cells = {c.id: c for c in notebook.code_cells if c.id}
    for events, why in (
        (history.missing_code, (
            "ran code the %track code store does not hold (recorded before the store existed, "
            "or pruned)"
        )),
        (history.interrupted, "was interrupted: what it had done by then cannot be replayed"),
    ):
        for event in events:
            owner = cells.get(event.cell_id or event.cell_key)
            if owner is not None:
                problems.append(
                    CellProblem(owner, f"its run at In [{event.execution_count}] {why}")
                )
    return problems


def _dedupe(problems: list[CellProblem]) -> list[CellProblem]:
    seen: set[int] = set()
    out = []
    for problem in problems:
        if problem.cell.index not in seen:
            seen.add(problem.cell.index)
            out.append(problem)
    return out

