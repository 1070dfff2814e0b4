"""Which cells to re-run so every output equals a fresh top-to-bottom run — or why only a restart can.

A fresh run is simulated by applying every cell, in notebook order, to an empty
:class:`TrackerState` (cells that ran use the effects of their last execution; the others their
static effects). A cell is *stale* when the signature of its last execution differs from its
fresh one. The re-run set starts with the stale cells; re-running them is simulated on a copy
of the live state and, while some cell still comes out differently, the cells that produced
its mismatching inputs in the fresh run (creators, aliasers, in-place changers above it) join
the set. What no re-run can fix (a value only a deleted cell made, unseeded randomness, a file
appended to, ``%reset``) becomes the ``restart`` reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

from nb2pipe.analysis.parse import parse_cell
from nb2pipe.errors import Nb2PipeError
from nb2pipe.model import Cell, CellKind
from nb2pipe.tracking.effects import static_effects
from nb2pipe.tracking.log import ExecutionEvent
from nb2pipe.tracking.order import CellSlot, NotebookOrder
from nb2pipe.tracking.state import (
    BASELINE_KEY,
    CREATE,
    FILE_PREFIX,
    LIST,
    RANDOM_PREFIX,
    CellRun,
    Token,
    TrackerState,
    file_name,
)

__all__ = ["DISK_KEY", "FreshRun", "RerunPlan", "plan_rerun", "simulate_fresh_run"]

#: The "cell" that wrote a file's current content when no tracked execution did.
DISK_KEY = "<disk>"
_SIM_SEQ = 1 << 40  #: simulated executions get seqs no real execution has


@dataclass(frozen=True)
class FreshRun:
    """The simulated fresh top-to-bottom run: each cell's run, in notebook order."""

    runs: dict[str, CellRun]
    #: executed cells whose last execution differs from the fresh run
    stale: tuple[str, ...]
    #: the state the fresh run ends with: every name, file and random generator
    names: dict[str, Token] = field(default_factory=dict)
    #: the disk the fresh run starts from (a path a tracked cell made: as before tracking)
    initial: dict[str, Token] = field(default_factory=dict)


@dataclass(frozen=True)
class RerunPlan:
    #: cell keys, in notebook order (none when ``restart`` is set: a restart runs them all)
    rerun: tuple[str, ...]
    restart: str | None
    #: mismatching inputs no re-run can fix: (cell key, name)
    unresolved: tuple[tuple[str, str], ...] = field(default=())
    #: names bound now and paths on disk now that no cell of a fresh run makes so:
    #: (the cell that made them, name)
    leftovers: tuple[tuple[str, str], ...] = field(default=())
    #: the cells the restart reasons are about
    restart_cells: tuple[str, ...] = field(default=())
    #: paths to remove before re-running: what earlier runs left on disk that neither a
    #: re-run nor a restart undoes (a file written only if missing, a folder renamed onto,
    #: a file appended to); each with the cell that made it
    remove: tuple[tuple[str, str], ...] = field(default=())


def _stat(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def disk_tokens(state: TrackerState) -> dict[str, Token]:
    """A token for the current content of every path tracked cells touched that exists now.

    When a file is as the last tracked write left it, that write's token stands for it (a
    folder: as long as it exists); otherwise (changed outside, or never written by a tracked
    cell) a token of its stat. Paths that are gone have none.
    """
    last_write: dict[str, tuple[int, tuple[int, int] | None]] = {}
    paths: set[str] = {n[len(FILE_PREFIX):] for n in state.names if n.startswith(FILE_PREFIX)}
    for run in state.runs.values():
        for access in run.event.files:
            paths.add(access.path)
            if access.op not in ("read", LIST):
                seq = run.event.seq
                if access.path not in last_write or last_write[access.path][0] < seq:
                    last_write[access.path] = (seq, access.stamp)
    tokens: dict[str, Token] = {}
    for path in paths:
        name = file_name(path)
        now = _stat(path)
        if now is None:
            continue
        tracked = state.names.get(name)
        written = last_write.get(path)
        if tracked is not None and (written is None or written[1] == now or os.path.isdir(path)):
            tokens[name] = tracked.copy()
        elif os.path.isdir(path):
            tokens[name] = Token(hash(("external", name, "folder")), [(DISK_KEY, 0)])
        else:
            tokens[name] = Token(hash(("external", name, now)), [(DISK_KEY, 0)])
    return tokens


def _before_tracking(tokens: dict[str, Token]) -> dict[str, Token]:
    """``tokens`` as a fresh run finds the disk: paths tracked cells made or appended to are
    not there yet (or hold what they held before), so it is what its own cells write that it
    reads."""
    out = {}
    for name, token in tokens.items():
        if (token.written or token.appended) and token.creator[0] != DISK_KEY:
            out[name] = Token(hash(("before %track", name)), [(DISK_KEY, 0)])
        else:
            out[name] = token
    return out


def _with_disk(sim: TrackerState, state: TrackerState) -> None:
    """Give ``sim`` the disk as it is now: its files' tokens, and none for paths gone."""
    disk = disk_tokens(state)
    for name in [n for n in sim.names if n.startswith(FILE_PREFIX) and n not in disk]:
        del sim.names[name]
    sim.names.update(disk)


class _Synthesizer:
    """Turns a cell slot into the execution a fresh run would make."""

    def __init__(self, state: TrackerState) -> None:
        self.state = state
        self._seq = _SIM_SEQ

    def event(self, slot: CellSlot, sim: TrackerState) -> tuple[ExecutionEvent, bool, int | None]:
        """The execution, whether it is of a cell that never ran under tracking, and the
        signature of the recorded execution it replays (``None``: made from the source)."""
        self._seq += 1
        run = self.state.runs.get(slot.key)
        if run is not None and run.event.source_hash == slot.source_hash and (
            run.event.error is None or slot.source is None
        ):
            return _replace_seq(run.event, self._seq), False, run.step
        # a cell whose last run raised did only part of its work: a fresh run does all of it
        untracked = run is None and bool(self.state.baseline)
        if slot.source is None:
            return ExecutionEvent(self._seq, slot.key, slot.source_hash, slot.cell_id), untracked, None
        try:
            cell = Cell(index=slot.cell_index or 0, kind=CellKind.CODE, source=slot.source, id=slot.cell_id)
            parsed = parse_cell(cell)
        except Nb2PipeError:
            return ExecutionEvent(self._seq, slot.key, slot.source_hash, slot.cell_id), untracked, None
        imports: dict[str, str] = {}
        for other in sim.runs.values():
            imports.update(other.event.imports)
        effects = static_effects(parsed.symbols, sim.functions, imports)
        event = ExecutionEvent(
            seq=self._seq,
            cell_key=slot.key,
            source_hash=slot.source_hash,
            cell_id=slot.cell_id,
            defines=effects.defines,
            reads=effects.reads,
            mutates=effects.mutates,
            deletes=effects.deletes,
            rebinds=effects.rebinds,
            seeds=effects.seeds,
            draws=effects.draws,
            functions=parsed.symbols.functions,
            imports=effects.imports,
            reset=effects.reset,
            opaque=effects.opaque,
            exclusive=effects.exclusive,
            values=dict(effects.constants),
            constants=frozenset(effects.constants),
        )
        return event, untracked, None


def _replace_seq(event: ExecutionEvent, seq: int) -> ExecutionEvent:
    from dataclasses import replace

    # a fresh run completes the cell, and JupyterLab's deletions are not part of it
    return replace(event, seq=seq, deleted_cells=(), interrupted=False)


def simulate_fresh_run(state: TrackerState, order: NotebookOrder) -> FreshRun:
    """Simulate running every cell of ``order`` top to bottom in a fresh kernel."""
    fresh = TrackerState(baseline=state.baseline, readers=None)
    initial = _before_tracking(disk_tokens(state))
    fresh.names.update({name: token.copy() for name, token in initial.items()})
    synthesizer = _Synthesizer(state)
    runs: dict[str, CellRun] = {}
    for slot in order.slots:
        event, untracked, recorded = synthesizer.event(slot, fresh)
        runs[slot.key] = fresh.apply(event, untracked=untracked, recorded_step=recorded)
    stale = tuple(
        slot.key
        for slot in order.slots
        if slot.key in state.runs and state.runs[slot.key].step != runs[slot.key].step
    )
    return FreshRun(runs, stale, fresh.names, initial)


@dataclass
class _Pass:
    """One fixed point of the re-run simulation."""

    chosen: set[str]
    results: dict[str, CellRun] = field(default_factory=dict)
    unresolved: list[tuple[str, str]] = field(default_factory=list)
    leftovers: list[tuple[str, str]] = field(default_factory=list)


def plan_rerun(
    state: TrackerState,
    order: NotebookOrder,
    fresh: FreshRun,
    label: Callable[[str], str] | None = None,
) -> RerunPlan:
    """The cells to re-run (notebook order), the paths to remove first, and the reason a
    restart is needed, if any.

    Paths an earlier run left on disk that a fresh run does not find (or a re-run would
    append to again) are removed first, in a second simulation: no re-run can undo them, and
    a restart cannot either. The cells that made them join the re-run when their latest run
    raised or wrote nothing (what they do hinged on the path being there). A restart is
    advised only for what only a restart clears (names the notebook no longer binds, code
    run before tracking, ``%reset``), and then alone: it runs every cell anyway.
    """
    label = label or order.label
    positions = {slot.key: index for index, slot in enumerate(order.slots)}
    result = _fixed_point(state, order, fresh, positions, set(fresh.stale), {})
    removed = _paths_to_remove(state, order, result)
    if removed:
        gone = _removed_tokens(state, fresh, [path for path, _ in removed])
        start = set(fresh.stale) | _makers_to_rerun(state, order, gone)
        result = _fixed_point(state, order, fresh, positions, start, gone)
    if not result.chosen and not result.leftovers and not removed:
        return RerunPlan((), None)
    rerun = tuple(slot.key for slot in order.slots if slot.key in result.chosen)
    restart, restart_cells = _restart_reason(
        state, order, rerun, result.unresolved, result.leftovers, label
    )
    if restart:
        return RerunPlan((), restart, tuple(result.unresolved), tuple(result.leftovers),
                         restart_cells, tuple(removed))
    return RerunPlan(rerun, None, tuple(result.unresolved), tuple(result.leftovers), (), tuple(removed))


def _fixed_point(
    state: TrackerState,
    order: NotebookOrder,
    fresh: FreshRun,
    positions: dict[str, int],
    chosen: set[str],
    gone: dict[str, Token | None],
) -> _Pass:
    """Grow ``chosen`` until re-running it gives the fresh run's outputs and end state, with
    the paths of ``gone`` removed first (name -> the token a fresh run starts with, if any)."""
    current = _Pass(set(chosen))
    for _ in range(len(order.slots) + 1):
        sim = state.copy_for_simulation()
        _with_disk(sim, state)
        for name, token in gone.items():
            if token is None:
                sim.names.pop(name, None)
            else:
                sim.names[name] = token.copy()
        synthesizer = _Synthesizer(state)
        results: dict[str, CellRun] = {}
        for slot in order.slots:
            if slot.key in current.chosen:
                event, untracked, recorded = synthesizer.event(slot, sim)
                results[slot.key] = sim.apply(event, untracked=untracked, recorded_step=recorded)
        current.results = results
        bad = [key for key in current.chosen if results[key].step != fresh.runs[key].step]
        # the state left behind must be a fresh run's too, not only the outputs: the next
        # cell the user writes reads it
        missing, current.leftovers = _final_differences(sim, fresh, positions, current.chosen)
        if not bad and not missing:
            current.unresolved = []
            break
        added: set[str] = set(missing)
        current.unresolved = []
        for key in bad:
            wanted, got = fresh.runs[key], results[key]
            for name in sorted(set(wanted.inputs) | set(got.inputs)):
                if wanted.inputs.get(name) == got.inputs.get(name):
                    continue
                writers = [
                    w[0]
                    for w in wanted.input_writers.get(name, ())
                    if w[0] in positions and positions[w[0]] < positions[key]
                ]
                if writers:
                    added.update(writers)
                else:
                    current.unresolved.append((key, name))
        if added <= current.chosen:
            break
        current.chosen |= added
    return current


def _paths_to_remove(state: TrackerState, order: NotebookOrder, result: _Pass) -> list[tuple[str, str]]:
    """``(path, the cell that made it)`` for what earlier runs left on disk that no re-run
    undoes: paths a fresh run does not find, paths it finds otherwise, files a re-run would
    append to again. A folder goes whole (what is inside goes with it)."""
    found: dict[str, str] = {}
    for creator, name in result.leftovers:
        if name.startswith(FILE_PREFIX):
            found.setdefault(name[len(FILE_PREFIX):], creator)
    for key, name in result.unresolved:
        token = state.names.get(name)
        if name.startswith(FILE_PREFIX) and token is not None and (token.written or token.appended):
            maker = token.creator[0] if token.creator[0] in state.runs else key
            found.setdefault(name[len(FILE_PREFIX):], maker)
    rerun = tuple(slot.key for slot in order.slots if slot.key in result.chosen)
    fresh_disk = _before_tracking(disk_tokens(state))
    # an edited ``os.makedirs("out")`` that raised because ``out`` is there: its run stands
    # for what a fresh run does, so no cell looks stale, yet a fresh run would not raise
    blocked = tuple(
        slot.key for slot in order.slots
        if slot.key not in result.chosen and (run := state.runs.get(slot.key)) is not None
        and run.event.exclusive and run.event.error in _PATH_ERRORS
    )
    for key in rerun + blocked:
        run = state.runs.get(key)
        if run is None:
            continue
        if run.event.exclusive:
            # it made folders in a way that fails (or does otherwise) when they are there:
            # ``os.rename("raw", "data")`` once ``data`` holds files
            for path in _made_folders(state, run):
                name = file_name(path)
                token = fresh_disk.get(name)
                made_here = token is None or (
                    token.creator[0] == DISK_KEY and token.sig == hash(("before %track", name))
                )
                if os.path.isdir(path) and made_here:
                    found.setdefault(path, key)
        for access in run.event.files:
            if (
                access.op in ("append", "update")
                and not _recreated_before(state, order, rerun, key, access.path)
                and os.path.lexists(access.path)
            ):
                found.setdefault(access.path, key)
    paths = sorted(found)
    kept = [p for p in paths if not any(p.startswith(other + os.sep) for other in paths if other != p)]
    return [(path, found[path]) for path in kept]


#: Errors of a cell making or moving a folder onto a path that is there.
_PATH_ERRORS = frozenset({"FileExistsError", "IsADirectoryError", "NotADirectoryError", "OSError"})


def _made_folders(state: TrackerState, run: CellRun) -> list[str]:
    """The folders ``run``'s cell created (in its latest run, or an earlier one when the
    latest raised), outermost only: what is inside goes with them."""
    made = [a.path for a in run.event.files if a.op == CREATE and a.stamp is None]
    if run.event.error is not None:
        made += [
            name[len(FILE_PREFIX):] for name, token in state.names.items()
            if name.startswith(FILE_PREFIX) and token.creator[0] == run.key
            and os.path.isdir(name[len(FILE_PREFIX):])
        ]
    made = sorted(set(made))
    return [p for p in made if not any(p.startswith(other + os.sep) for other in made if other != p)]


def _removed_tokens(state: TrackerState, fresh: FreshRun, paths: list[str]) -> dict[str, Token | None]:
    """The names of ``paths`` and what is inside them, with the token a fresh run starts with
    there (``None``: nothing)."""
    names = set(state.names) | set(disk_tokens(state)) | set(fresh.initial)
    out: dict[str, Token | None] = {}
    for path in paths:
        prefix = file_name(path)
        for name in names:
            if name == prefix or name.startswith(prefix + os.sep):
                out[name] = fresh.initial.get(name)
    return out


def _makers_to_rerun(state: TrackerState, order: NotebookOrder, gone: dict[str, Token | None]) -> set[str]:
    """Cells to run again once the paths of ``gone`` are removed: the cells that made them,
    when their latest run raised (``os.makedirs`` on a folder that was there) or wrote
    nothing (``if not os.path.exists(p)``) or appended to them; and the cells reading them."""
    out: set[str] = set()
    # what reads them reads what the makers make again: a maker whose run raised is known
    # only from its source, which does not say which paths it makes
    paths = {name[len(FILE_PREFIX):] for name in gone}
    for key, reader in state.runs.items():
        if key in order.by_key and any(a.op in ("read", LIST) and a.path in paths for a in reader.event.files):
            out.add(key)
    for name in gone:
        token = state.names.get(name)
        if token is None:
            continue
        keys = {w[0] for w in token.writers} if token.appended else {token.creator[0]}
        for key in keys:
            run = state.runs.get(key)
            if run is None or key not in order.by_key:
                continue
            made = [a for a in run.event.files if a.op not in ("read", LIST)]
            if run.event.error is not None or not made or token.appended:
                out.add(key)
    return out


def _final_differences(
    sim: TrackerState, fresh: FreshRun, positions: dict[str, int], chosen: set[str]
) -> tuple[set[str], list[tuple[str, str]]]:
    """Where the simulated end state differs from the fresh run's.

    Returns cells to add for each differing name: the latest cell not chosen yet among those
    that make the fresh run's value (re-running the last change is often enough; earlier ones
    join on later rounds if not), and ``(cell, name)`` for names bound now that a fresh run
    does not bind at all (no re-run can unbind them; the cell is the one that bound the value).
    """
    cells: set[str] = set()
    leftovers: list[tuple[str, str]] = []
    for name in sorted(set(sim.names) | set(fresh.names)):
        mine, wanted = sim.names.get(name), fresh.names.get(name)
        if mine is not None and wanted is not None and mine.sig == wanted.sig:
            continue
        if mine is not None and wanted is not None and name.startswith(FILE_PREFIX) and os.path.isdir(name[len(FILE_PREFIX):]):
            continue  # a folder there in both: what it holds is compared path by path
        makers = [w[0] for w in wanted.writers if w[0] in positions] if wanted is not None else []
        if makers:
            cells.update([k for k in makers if k not in chosen][-1:] or makers)
        elif mine is not None and mine.creator[0] not in (BASELINE_KEY, DISK_KEY):
            # bound now (or on disk now), and no cell of the notebook makes it so
            leftovers.append((mine.creator[0], name))
    return cells, leftovers


def _recreated_before(
    state: TrackerState, order: NotebookOrder, rerun: tuple[str, ...], key: str, path: str
) -> bool:
    """Whether a cell re-run before ``key`` rewrites ``path`` from scratch (so appends start over)."""
    for other in rerun:
        if other == key:
            return False
        run = state.runs.get(other)
        if run is not None and any(a.path == path and a.op == "write" for a in run.event.files):
            return True
    return False


def _still_binds(state: TrackerState, creator: tuple[str, int], name: str) -> bool:
    """Whether the latest run of the cell that created ``name``'s value binds it too."""
    latest = state.runs.get(creator[0])
    if latest is None or latest.seq == creator[1]:
        return True
    return name in latest.event.defines or name in latest.event.mutates


def _restart_reason(
    state: TrackerState,
    order: NotebookOrder,
    rerun: tuple[str, ...],
    unresolved: list[tuple[str, str]],
    leftovers: list[tuple[str, str]],
    label: Callable[[str], str],
) -> tuple[str | None, tuple[str, ...]]:
    """Every reason only a restart restores a fresh run's state, and the cells they are about.

    Files are no reason (a restart leaves the disk as it is: the paths to remove say what
    to do), nor unseeded random numbers (a restart does not make a draw reproducible:
    seeding it does, as the ``unseeded-random`` hazard says).
    """
    reasons: dict[str, None] = {}
    cells: dict[str, None] = {}

    def add(key: str, reason: str) -> None:
        reasons[reason] = None
        if key in order.by_key:
            cells[key] = None
    for creator, name in leftovers:
        if name.startswith((FILE_PREFIX, RANDOM_PREFIX)):
            continue  # a path: removed first; a seed set by code no longer there: the draws say so
        if order.is_gone(creator):
            where = f"{label(creator)}"
        elif order.is_edited(creator) or creator not in state.runs or name not in state.runs[creator].event.defines:
            where = f"an earlier version of {label(creator)}"
        else:
            where = label(creator)
        add(creator, f"{name!r} is still bound from {where}, and a fresh run does not define it (del {name})")
    for key, name in unresolved:
        token = state.names.get(name)
        if name.startswith((FILE_PREFIX, RANDOM_PREFIX)):
            continue
        if token is None:
            add(key, f"{label(key)} needs {name!r}, which no cell defines now")
        elif token.creator[0] == BASELINE_KEY:
            add(key, f"{name!r} was bound before %track on, by code not in the notebook")
        elif order.is_gone(token.creator[0]):
            add(key, f"{name!r} is still bound from {label(token.creator[0])}")
        elif order.is_below(token.creator[0], key):
            # read out of order: no re-run can unbind it, and a fresh kernel has none there
            add(key,
                f"{label(key)} read {name!r}, which a fresh kernel does not have yet there: "
                f"{label(token.creator[0])}, below it, set it"
            )
        elif order.is_edited(token.creator[0]) or not _still_binds(state, token.creator, name):
            add(key,
                f"{name!r} is still bound from an earlier version of {label(token.creator[0])}"
            )
        else:
            add(key,
                f"{label(key)} read {name!r}, which is still bound from "
                f"{label(token.creator[0])} although a fresh kernel does not have it there"
            )
    if state.resets and rerun:
        add("", f"%reset cleared the namespace (execution {state.resets[-1]} of this session)")
    if not reasons:
        return None, ()
    # one cause found twice (a leftover name, and a cell reading it) says it once, the long way
    said = [r for r in reasons if not any(o != r and o.startswith(r) for o in reasons)]
    return "; ".join(said), tuple(cells)
