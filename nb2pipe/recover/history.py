"""The path from a ``%track`` history: the session that produced the saved outputs, sliced.

The saved notebook says which execution produced each cell's outputs: its execution count.
The session whose executions carry those counts (for those cells) is the one that ran them;
its executions up to the last saved count, each with the code the store kept, are the path.
A backward slice keeps only the executions whose effects reach a saved output: the names,
files and random-number streams the saved runs read, and what those read in turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nb2pipe.analysis.hazards import is_tracker_cell
from nb2pipe.model import Cell, Notebook
from nb2pipe.recover.path import RecoveredPath, Replay
from nb2pipe.tracking.log import ExecutionEvent, RecordedSession, history_path, read_sessions
from nb2pipe.tracking.sources import SourceStore

__all__ = [
    "HistoryPath", "SessionMatch", "history_path_of", "match_session", "recoverable_cells",
]

#: File operations that read what was there before (a ``write`` replaces it).
_READS_FILE = frozenset({"read", "append", "update", "list"})


@dataclass(frozen=True)
class SessionMatch:
    """The session whose executions produced the saved outputs."""

    session: RecordedSession
    #: saved cell index -> the execution that produced its saved outputs
    targets: dict[int, ExecutionEvent]
    #: saved cells (with an execution count) whose execution is not in the session
    unmatched: tuple[Cell, ...]


@dataclass(frozen=True)
class HistoryPath:
    """What a history gives: the path, and what it cannot say."""

    path: RecoveredPath
    match: SessionMatch
    #: needed executions whose code the store does not hold (tracked before it existed,
    #: pruned, or a store that could not be written)
    missing_code: tuple[ExecutionEvent, ...] = ()
    #: needed names bound before tracking started (their code is in no history)
    before_tracking: frozenset[str] = frozenset()
    #: needed executions that were interrupted (their partial effects cannot be replayed)
    interrupted: tuple[ExecutionEvent, ...] = ()
    #: executions the slice left out (effects no saved output reads)
    dropped: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def session_start(self) -> int:
        """The execution count ``%track`` started at: earlier counts ran untracked."""
        return self.match.session.header.execution_count

    @property
    def only_before_tracking_missing(self) -> bool:
        """All the history lacks ran before tracking started: names bound then, and saved
        outputs of cells that last ran then. A search of the current cells can fill that in."""
        return (
            not self.missing_code and not self.interrupted
            and all((c.execution_count or 0) < self.session_start for c in self.match.unmatched)
            and bool(self.before_tracking or self.match.unmatched)
        )

    @property
    def complete(self) -> bool:
        """Every execution the saved outputs need is known, with its code."""
        return not (
            self.missing_code or self.before_tracking or self.interrupted or self.match.unmatched
        )


def match_session(notebook: Notebook, sessions: list[RecordedSession]) -> SessionMatch | None:
    """The session (latest first on ties) that holds the most of the saved cells' executions."""
    saved = recoverable_cells(notebook)
    if not saved:
        return None
    best: SessionMatch | None = None
    for session in sessions:
        by_count: dict[int, list[ExecutionEvent]] = {}
        for event in session.events:
            if event.execution_count is not None:
                by_count.setdefault(event.execution_count, []).append(event)
        targets: dict[int, ExecutionEvent] = {}
        unmatched: list[Cell] = []
        for cell in saved:
            assert cell.execution_count is not None
            found = next(
                (e for e in by_count.get(cell.execution_count, ()) if _is_run_of(e, cell)), None
            )
            if found is None:
                unmatched.append(cell)
            else:
                targets[cell.index] = found
        if targets and (best is None or len(targets) >= len(best.targets)):
            best = SessionMatch(session, targets, tuple(unmatched))
    return best


def recoverable_cells(notebook: Notebook) -> list[Cell]:
    """The code cells whose saved outputs a path must give back: those with an execution
    count, except the cells that only start ``%track`` (the tracker's own work)."""
    return [
        c for c in notebook.code_cells
        if c.execution_count is not None and not is_tracker_cell(c.source)
    ]


def _is_run_of(event: ExecutionEvent, cell: Cell) -> bool:
    if cell.id is not None and (event.cell_id == cell.id or event.cell_key == cell.id):
        return True
    # no cell ids (nbclient, consoles): the code that ran must be the code the cell holds
    return event.cell_id is None and event.source_hash == cell.source_hash


def history_path_of(
    notebook: Notebook, *, sliced: bool = True, store: SourceStore | None = None
) -> HistoryPath | None:
    """The path a ``%track`` history beside ``notebook`` records (``None``: no history, or
    no session ran the saved executions)."""
    if notebook.path is None:
        return None
    sessions = read_sessions(history_path(notebook.path))
    match = match_session(notebook, sessions)
    if match is None:
        return None
    store = store or SourceStore.beside(notebook.path)
    last = max(e.execution_count or 0 for e in match.targets.values())
    events = [
        e for e in match.session.events
        if e.execution_count is not None and e.execution_count <= last
    ]
    target_seqs = {e.seq for e in match.targets.values()}
    kept = _slice(events, target_seqs) if sliced else events
    needed_before = _needed_before_tracking(kept, match.session) if sliced else frozenset(
        match.session.header.baseline
    )
    cells_by_id = {c.id: c for c in notebook.code_cells if c.id is not None}
    cells_by_hash = {c.source_hash: c for c in notebook.code_cells}
    cell_of_target = {e.seq: index for index, e in match.targets.items()}
    replays: list[Replay] = []
    missing: list[ExecutionEvent] = []
    interrupted: list[ExecutionEvent] = []
    for event in kept:
        if event.interrupted:
            interrupted.append(event)
            continue
        source = store.read(event.source_hash)
        if source is None:
            missing.append(event)
            continue
        if event.seq in cell_of_target:
            cell: Cell | None = notebook.cells[cell_of_target[event.seq]]
        else:
            cell = cells_by_id.get(event.cell_id or event.cell_key) or (
                cells_by_hash.get(event.source_hash) if event.cell_id is None else None
            )
        replays.append(
            Replay(
                source=source,
                cell=cell,
                saved=event.seq in target_seqs,
                count=event.execution_count,
                raises=event.error is not None,
                duration=event.duration,
            )
        )
    dropped = len(events) - len(kept)
    notes = []
    if dropped:
        notes.append(
            f"{dropped} of the session's {len(events)} executions up to In [{last}] are left "
            "out: no saved output reads what they changed"
        )
    return HistoryPath(
        path=RecoveredPath(tuple(replays), "history", tuple(notes)),
        match=match,
        missing_code=tuple(missing),
        before_tracking=needed_before,
        interrupted=tuple(interrupted),
        dropped=dropped,
        notes=tuple(notes),
    )


def _slice(events: list[ExecutionEvent], targets: set[int]) -> list[ExecutionEvent]:
    """The executions whose effects reach a target's run (the targets included), in order.

    Backwards from the last: an execution is kept when it is a target, or changes a name, a
    file or a random stream that a kept later execution reads; a kept execution then needs
    what it reads. A name it binds anew is satisfied by it; one it changes in place still
    needs the object made before. Executions whose effects no tree shows (``%run``, star
    imports, ``%reset``) are always kept.
    """
    names: set[str] = set()
    files: set[str] = set()
    streams: set[str] = set()
    kept: list[ExecutionEvent] = []
    for event in reversed(events):
        writes = (
            event.defines | event.mutates | event.deletes | event.rebinds | event.generators
            | set(event.aliases)
        )
        written_files = {a.path for a in event.files if a.op not in ("read", "list")}
        families = {d.family or d.qualified for d in event.draws}
        seeded = set(event.seeds)
        keep = (
            event.seq in targets
            or bool(writes & names)
            or bool(written_files & files)
            or bool((families | seeded) & streams)
            or event.opaque
            or event.reset
        )
        if not keep:
            continue
        kept.append(event)
        # what it needs from before: names it reads before binding them, and objects it
        # changes in place that it did not make itself
        names -= event.defines
        names |= event.reads | (event.mutates - event.defines) | set(event.aliases.values())
        files -= {a.path for a in event.files if a.op == "write"}
        files |= {a.path for a in event.files if a.op in _READS_FILE}
        streams -= seeded
        streams |= families
    kept.reverse()
    return kept


def _needed_before_tracking(kept: list[ExecutionEvent], session: RecordedSession) -> frozenset[str]:
    """Names the kept executions read that nothing in the session bound before them and that
    were bound before tracking started."""
    bound: set[str] = set()
    needed: set[str] = set()
    for event in kept:
        needed |= (event.reads | (event.mutates - event.defines)) - bound
        bound |= event.defines
    return frozenset(needed & session.header.baseline)


def history_exists(notebook_path: Path) -> bool:
    """Whether a ``%track`` history lies beside the notebook."""
    return history_path(notebook_path).is_file()
