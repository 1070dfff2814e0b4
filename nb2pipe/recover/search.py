"""Search orders and repetitions of the notebook's cells that give back its saved outputs.

The saved execution counts fix a timeline: a cell showing ``In [k]`` ran last at execution
``k``, and there were no more executions than the highest count. The gaps between those
last runs held other executions: earlier runs of cells that ran again later, or code no
longer in the notebook. The search fills the gaps with runs of current cells, depth first:

- a gap before the run at ``k`` may hold only cells whose last run is at ``k`` or later,
  and only those whose effects (names bound or changed, files, random streams) reach a
  later saved run (the shared dataflow analysis says which);
- the empty filling is tried first (that is the execution-count order), then one run, two
  runs, ... (cells the next saved run reads first), never more than the gap holds;
- each saved run's outputs are compared with the saved ones as verify compares them, and a
  branch is cut at the first that differs;
- every branch point is a checkpoint: a forked copy of the interpreter (see
  :mod:`nb2pipe.recover.shell`), so no prefix is run twice.

With a ``%track`` history that is not complete (names bound before tracking started), the
history's executions are the fixed runs and the gap before them is filled the same way.
What comes out is a candidate; :mod:`nb2pipe.recover.prove` proves it in a real kernel.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nb2pipe.analysis import HazardKind, analyze_notebook, find_static_hazards
from nb2pipe.analysis.symbols import CellSymbols
from nb2pipe.errors import Nb2PipeError
from nb2pipe.model import Cell, Notebook
from nb2pipe.recover.history import HistoryPath, recoverable_cells
from nb2pipe.recover.path import CellProblem, RecoveredPath, Replay
from nb2pipe.recover.shell import CellResult, Checkpoint, ForkUnsafe, ShellError, ShellServer
from nb2pipe.verify.compare import CompareOptions, compare_outputs

__all__ = ["SearchResult", "search_path"]

#: Most runs one gap is filled with (a cell run four times in a row is rare; the budget
#: bounds the rest).
MAX_FILL = 4
#: Candidate paths handed out for proof before the search gives up.
MAX_CANDIDATES = 3


@dataclass
class SearchResult:
    """Candidate paths, best first, and what the search learned when it found none."""

    paths: Iterator[RecoveredPath]
    problems: list[CellProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tried: int = 0


@dataclass(frozen=True)
class _Fixed:
    """A run whose place in the timeline is known."""

    slot: int
    source: str
    cell: Cell | None
    #: compare its outputs with this cell's saved ones (``None``: nothing saved to compare)
    saved: Cell | None
    raises: bool = False
    duration: float | None = None


@dataclass(frozen=True)
class _Effects:
    writes: frozenset[str]
    reads: frozenset[str]
    #: draws random numbers, writes files or hides what it binds: matters to any later run
    wide: bool


class _Search:
    def __init__(
        self,
        notebook: Notebook,
        fixed: list[_Fixed],
        fillers: list[Cell],
        *,
        deadline: float,
        compare: CompareOptions,
        cwd: Path,
        result: SearchResult,
        before: int | None = None,
        needed: frozenset[str] = frozenset(),
    ) -> None:
        self.notebook = notebook
        self.fixed = fixed
        self.compare = compare
        self.deadline = deadline
        self.cwd = cwd
        self.result = result
        self.effects = _cell_effects(notebook)
        self.final_slot = {f.cell.index: f.slot for f in fixed if f.cell is not None}
        self.fillers = fillers
        # what the runs from i on read (names), and whether any of them is wide
        self.needed: list[frozenset[str]] = []
        reads: set[str] = set()
        for step in reversed(fixed):
            reads |= self._effects_of(step).reads
            self.needed.append(frozenset(reads))
        self.needed.reverse()
        #: fillers only run below this slot (the untracked start of a session), and must then
        #: bind one of ``prefix_needed``
        self.before = before
        self.prefix_needed = needed
        #: the deepest saved run reached and the outputs it gave there
        self.deepest = -1
        #: branches run again from a fresh shell because their state could not be forked
        self.refork = 0
        #: the deadline cut the search short
        self.timed_out = False
        self.failures: dict[int, str] = {}
        self.failure_raised: dict[int, bool] = {}

    def _effects_of(self, step: _Fixed) -> _Effects:
        if step.cell is not None and step.source == step.cell.source:
            return self.effects.get(step.cell.index, _WIDE)
        return _WIDE  # older code: its effects are unknown here

    # -- the depth-first search ---------------------------------------------------------------
    def paths(self, server: ShellServer) -> Iterator[list[Replay]]:
        self.server = server
        root = server.root()
        try:
            yield from self._extend(0, 0, root, [])
        finally:
            root.close()

    def _extend(
        self, i: int, done: int, checkpoint: Checkpoint, path: list[Replay]
    ) -> Iterator[list[Replay]]:
        if i == len(self.fixed):
            yield list(path)
            return
        step = self.fixed[i]
        gap = step.slot - 1 - done
        for filling in self._fillings(i, gap):
            if time.monotonic() > self.deadline:
                self.timed_out = True
                return
            branch = self._branch(checkpoint, path)
            if branch is None:
                return
            try:
                replays = self._run_filling(branch, filling)
                if replays is None:
                    continue
                outcome = branch.run(step.source)
                self.result.tried += 1
                if not self._matches(i, step, outcome):
                    continue
                replays.append(Replay(
                    step.source, step.cell, saved=step.saved is not None, count=step.slot,
                    raises=outcome.status == "error", duration=outcome.duration,
                ))
                self.deepest = max(self.deepest, i)
                yield from self._extend(i + 1, step.slot, branch, path + replays)
            finally:
                branch.close()

    def _branch(self, checkpoint: Checkpoint, path: list[Replay]) -> Checkpoint | None:
        """A copy of ``checkpoint``; where the state cannot be forked (threads), the path
        run again from a fresh shell."""
        try:
            return checkpoint.fork()
        except ForkUnsafe:
            self.refork += 1
        except ShellError:
            return None
        fresh = self.server.root()
        for replay in path:
            outcome = fresh.run(replay.source)
            self.result.tried += 1
            if outcome.status in ("timeout", "crashed") or outcome.exits:
                fresh.close()
                return None
        return fresh

    def _run_filling(self, branch: Checkpoint, filling: tuple[Cell, ...]) -> list[Replay] | None:
        replays = []
        for cell in filling:
            outcome = branch.run(cell.source)
            self.result.tried += 1
            if outcome.status != "ok":
                return None  # a run that fails changes nothing a shorter filling lacks
            replays.append(Replay(cell.source, cell, count=None, duration=outcome.duration))
        return replays

    def _matches(self, i: int, step: _Fixed, outcome: CellResult) -> bool:
        status = outcome.status
        if status in ("timeout", "crashed"):
            self.failures.setdefault(i, f"the run {status}")
            return False
        saved = step.saved
        if saved is None:
            return status == "ok" or step.raises
        comparison = compare_outputs(saved.outputs, outcome.outputs, self.compare)
        if not comparison.equal:
            # the most telling difference: one where the cell ran (not a NameError of a
            # branch that ran it too early)
            message = "; ".join(d.message for d in comparison.differences[:2])
            if i not in self.failures or (self.failure_raised.get(i) and status == "ok"):
                self.failures[i] = message
                self.failure_raised[i] = status != "ok"
            return False
        return True

    def _fillings(self, i: int, gap: int) -> Iterator[tuple[Cell, ...]]:
        yield ()
        if gap <= 0:
            return
        step = self.fixed[i]
        needed = self.needed[i]
        room = gap
        if self.before is not None:
            # a history's prefix: only the slots before tracking started are unknown
            room = min(gap, self.before - (step.slot - gap))
            if room <= 0:
                return
        candidates = []
        for cell in self.fillers:
            effects = self.effects.get(cell.index, _WIDE)
            if self.before is not None:
                if effects.wide or effects.writes & (self.prefix_needed | needed):
                    candidates.append(cell)
                continue
            if self.final_slot.get(cell.index, 0) < step.slot:
                continue  # its last run is before this one: it cannot run again here
            if effects.wide or effects.writes & needed:
                candidates.append(cell)
        direct = self._effects_of(step).reads
        candidates.sort(
            key=lambda c: (not (self.effects.get(c.index, _WIDE).writes & direct), c.index)
        )
        for length in range(1, min(room, MAX_FILL) + 1):
            yield from itertools.product(candidates, repeat=length)


_WIDE = _Effects(frozenset(), frozenset(), True)


def _cell_effects(notebook: Notebook) -> dict[int, _Effects]:
    """Per code cell: the names it binds or changes, the names it reads (through the
    notebook's functions it calls too), and whether its effects reach further."""
    try:
        analysis = analyze_notebook(notebook)
    except Nb2PipeError:
        return {}
    functions: dict[str, frozenset[str]] = {}
    for parsed in analysis.cells:
        for info in parsed.symbols.functions:
            functions[info.name] = info.free_globals | info.global_mutations
    random_cells = {
        h.cell_index for h in find_static_hazards(analysis)
        if h.kind is HazardKind.UNSEEDED_RANDOM and h.cell_index is not None
    }
    out: dict[int, _Effects] = {}
    for parsed in analysis.cells:
        symbols: CellSymbols = parsed.symbols
        reads = set(symbols.reads)
        for name in list(symbols.reads):
            reads |= functions.get(name, frozenset())
        wide = (
            symbols.opaque_defines
            or parsed.cell.index in random_cells
            or parsed.syntax_error is not None
            or any(m.name in ("run", "cd", "store", "load") for m in symbols.magics)
        )
        out[parsed.cell.index] = _Effects(
            frozenset(symbols.defines | symbols.mutates | symbols.deletes | symbols.rebinds),
            frozenset(reads | symbols.mutates),
            wide,
        )
    return out


def search_path(
    notebook: Notebook,
    notebook_path: Path,
    *,
    deadline: float,
    compare: CompareOptions,
    history: HistoryPath | None = None,
) -> SearchResult:
    """Candidate paths to the saved outputs of ``notebook`` (lazily: each is searched for when
    the caller asks for the next), found within ``deadline`` (``time.monotonic()``)."""
    result = SearchResult(paths=iter(()))
    if history is not None:
        # the history's executions are fixed; before tracking started, current cells fill in
        start = history.session_start
        fixed = sorted(
            [
                _Fixed(r.count or 0, r.source, r.cell, r.cell if r.saved else None, r.raises)
                for r in history.path.replays
            ] + [
                _Fixed(c.execution_count or 0, c.source, c, c, c.saved_error is not None)
                for c in history.match.unmatched
            ],
            key=lambda f: f.slot,
        )
        result.paths = _candidates(
            notebook, notebook_path, fixed, deadline, compare, result,
            before=start, needed=history.before_tracking, origin="history",
        )
        return result
    fixed = [
        _Fixed(c.execution_count, c.source, c, c, raises=c.saved_error is not None)
        for c in sorted(recoverable_cells(notebook), key=lambda c: c.execution_count or 0)
        if c.execution_count is not None
    ]
    counts = [f.slot for f in fixed]
    if len(set(counts)) != len(counts):
        result.notes.append(
            "two cells show the same execution count (the kernel restarted between their runs): "
            "only one of those runs can be placed"
        )
        fixed = list({f.slot: f for f in fixed}.values())
    result.paths = _candidates(notebook, notebook_path, fixed, deadline, compare, result)
    return result


def _candidates(
    notebook: Notebook, notebook_path: Path, fixed: list[_Fixed], deadline: float,
    compare: CompareOptions, result: SearchResult, *, before: int | None = None,
    needed: frozenset[str] = frozenset(), origin: str = "search",
) -> Iterator[RecoveredPath]:
    """``before``: fillers may run only at slots below it (the runs before ``%track``
    started), and ``needed`` names what they must bind."""
    from nb2pipe.verify.runner import copy_folder

    with tempfile.TemporaryDirectory(prefix="nb2pipe-search-") as scratch:
        folder = copy_folder(notebook_path.resolve().parent, Path(scratch))
        fillers = recoverable_cells(notebook)
        search = _Search(
            notebook, fixed, fillers, deadline=deadline, compare=compare, cwd=folder, result=result,
            before=before, needed=needed,
        )
        found = 0
        with ShellServer(folder, timeout=max(1.0, deadline - time.monotonic())) as server:
            for replays in search.paths(server):
                found += 1
                notes = _search_notes(replays) if origin == "search" else (
                    "the runs before %track started were found by a search of the current cells",
                )
                yield RecoveredPath(tuple(replays), origin, notes)
                if found >= MAX_CANDIDATES:
                    break
        if search.refork:
            result.notes.append(
                f"{search.refork} branch(es) of the search ran their prefix again: the "
                "notebook's threads (a thread pool, OpenMP) make its state unsafe to fork"
            )
        if not found:
            result.problems.extend(_explain(notebook, search))


def _search_notes(replays: list[Replay]) -> tuple[str, ...]:
    repeats = sum(1 for r in replays if not r.saved)
    if not repeats:
        return ("the cells ran in the order of their execution counts, each once",)
    return (f"{repeats} earlier run(s) of cells that ran again later fill the gaps in the counts",)


def _explain(notebook: Notebook, search: _Search) -> list[CellProblem]:
    """Why no path was found: the first saved run no branch got past, and what it needs."""
    index = search.deepest + 1
    if index >= len(search.fixed):
        return []
    step = search.fixed[index]
    cell = step.cell
    if cell is None:
        return []
    reason = search.failures.get(index, "no order of the current cells got there")
    effects = search.effects.get(cell.index)
    defined: set[str] = set()
    for other in search.effects.values():
        defined |= other.writes
    missing = sorted((effects.reads - defined) if effects and not effects.wide else set())
    if missing:
        why = (
            f"it reads {', '.join(missing[:3])}, which no cell of the notebook defines now: its "
            "output came from code no longer in the notebook, and no %track history holds it"
        )
    elif cell.index in _random_dependents(notebook, search.effects):
        why = "it draws unseeded random numbers (directly or through what it reads): seed them"
    elif search.timed_out:
        why = (
            f"no order or repetition of the current cells found within the budget gave it back "
            f"({reason}; {search.result.tried} cell runs tried; --budget gives the search more "
            "time)"
        )
    else:
        why = (
            f"no order or repetition of the current cells gives it back ({reason}): its output "
            "came from code no longer in the notebook (edited or deleted since), which only a "
            "%track history holds, or from another environment (other library versions)"
        )
    return [CellProblem(cell, why)]


def _random_dependents(notebook: Notebook, effects: dict[int, _Effects]) -> set[int]:
    """Cells that draw unseeded random numbers, and cells that read what those bound."""
    try:
        analysis = analyze_notebook(notebook)
    except Nb2PipeError:
        return set()
    tainted_cells = {
        h.cell_index for h in find_static_hazards(analysis)
        if h.kind is HazardKind.UNSEEDED_RANDOM and h.cell_index is not None
    }
    names: set[str] = set()
    for cell in notebook.code_cells:  # notebook order: what is drawn flows down
        found = effects.get(cell.index)
        if found is None:
            continue
        if cell.index in tainted_cells or found.reads & names:
            tainted_cells.add(cell.index)
            names |= found.writes
    return tainted_cells
