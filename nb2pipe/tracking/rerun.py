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
    FILE_PREFIX,
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


@dataclass(frozen=True)
class RerunPlan:
    rerun: tuple[str, ...]  #: cell keys, in notebook order
    restart: str | None
    #: mismatching inputs no re-run can fix: (cell key, name)
    unresolved: tuple[tuple[str, str], ...] = field(default=())


def _stat(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def disk_tokens(state: TrackerState) -> dict[str, Token]:
    """A token for the current content of every file tracked cells touched.

    When the file is as the last tracked write left it, that write's token stands for it;
    otherwise (changed outside, or never written by a tracked cell) a token of its stat.
    """
    last_write: dict[str, tuple[int, tuple[int, int] | None]] = {}
    paths: set[str] = set()
    for run in state.runs.values():
        for access in run.event.files:
            paths.add(access.path)
            if access.op != "read":
                seq = run.event.seq
                if access.path not in last_write or last_write[access.path][0] < seq:
                    last_write[access.path] = (seq, access.stamp)
    tokens: dict[str, Token] = {}
    for path in paths:
        name = file_name(path)
        now = _stat(path)
        tracked = state.names.get(name)
        written = last_write.get(path)
        if tracked is not None and written is not None and written[1] == now:
            tokens[name] = tracked.copy()
        else:
            tokens[name] = Token(hash(("external", name, now)), [(DISK_KEY, 0)])
    return tokens


class _Synthesizer:
    """Turns a cell slot into the execution a fresh run would make."""

    def __init__(self, state: TrackerState) -> None:
        self.state = state
        self._seq = _SIM_SEQ

    def event(self, slot: CellSlot, sim: TrackerState) -> tuple[ExecutionEvent, bool]:
        self._seq += 1
        run = self.state.runs.get(slot.key)
        if run is not None and run.event.source_hash == slot.source_hash and (
            run.event.error is None or slot.source is None
        ):
            return _replace_seq(run.event, self._seq), False
        # a cell whose last run raised did only part of its work: a fresh run does all of it
        untracked = run is None and bool(self.state.baseline)
        if slot.source is None:
            return ExecutionEvent(self._seq, slot.key, slot.source_hash, slot.cell_id), untracked
        try:
            cell = Cell(index=slot.cell_index or 0, kind=CellKind.CODE, source=slot.source, id=slot.cell_id)
            parsed = parse_cell(cell)
        except Nb2PipeError:
            return ExecutionEvent(self._seq, slot.key, slot.source_hash, slot.cell_id), untracked
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
        )
        return event, untracked


def _replace_seq(event: ExecutionEvent, seq: int) -> ExecutionEvent:
    from dataclasses import replace

    # a fresh run completes the cell, and JupyterLab's deletions are not part of it
    return replace(event, seq=seq, deleted_cells=(), interrupted=False)


def simulate_fresh_run(state: TrackerState, order: NotebookOrder) -> FreshRun:
    """Simulate running every cell of ``order`` top to bottom in a fresh kernel."""
    fresh = TrackerState(baseline=state.baseline, readers=None)
    fresh.names.update(disk_tokens(state))
    synthesizer = _Synthesizer(state)
    runs: dict[str, CellRun] = {}
    for slot in order.slots:
        event, untracked = synthesizer.event(slot, fresh)
        runs[slot.key] = fresh.apply(event, untracked=untracked)
    stale = tuple(
        slot.key
        for slot in order.slots
        if slot.key in state.runs and state.runs[slot.key].step != runs[slot.key].step
    )
    return FreshRun(runs, stale)


def plan_rerun(
    state: TrackerState,
    order: NotebookOrder,
    fresh: FreshRun,
    label: Callable[[str], str] | None = None,
) -> RerunPlan:
    """The cells to re-run (notebook order) and the reason a restart is needed, if any."""
    label = label or order.label
    chosen = set(fresh.stale)
    if not chosen:
        return RerunPlan((), None)
    positions = {slot.key: index for index, slot in enumerate(order.slots)}
    unresolved: list[tuple[str, str]] = []
    results: dict[str, CellRun] = {}
    sim = state
    for _ in range(len(order.slots) + 1):
        sim = state.copy_for_simulation()
        sim.names.update(disk_tokens(state))
        synthesizer = _Synthesizer(state)
        results = {}
        for slot in order.slots:
            if slot.key in chosen:
                event, untracked = synthesizer.event(slot, sim)
                results[slot.key] = sim.apply(event, untracked=untracked)
        bad = [key for key in chosen if results[key].step != fresh.runs[key].step]
        if not bad:
            unresolved = []
            break
        added: set[str] = set()
        unresolved = []
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
                    unresolved.append((key, name))
        if added <= chosen:
            break
        chosen |= added
    rerun = tuple(slot.key for slot in order.slots if slot.key in chosen)
    restart = _restart_reason(state, order, results, rerun, unresolved, label)
    return RerunPlan(rerun, restart, tuple(unresolved))


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
    results: dict[str, CellRun],
    rerun: tuple[str, ...],
    unresolved: list[tuple[str, str]],
    label: Callable[[str], str],
) -> str | None:
    reasons: list[str] = []
    for key, name in unresolved:
        token = state.names.get(name)
        if name.startswith(FILE_PREFIX):
            reasons.append(f"{name[len(FILE_PREFIX):]} changed on disk since {label(key)} read it")
        elif token is None:
            reasons.append(f"{label(key)} needs {name!r}, which no cell defines now")
        elif token.creator[0] == BASELINE_KEY:
            reasons.append(f"{name!r} was bound before %track on, by code not in the notebook")
        elif order.is_gone(token.creator[0]):
            reasons.append(f"{name!r} is still bound from {label(token.creator[0])}")
        elif order.is_below(token.creator[0], key):
            # read out of order: no re-run can unbind it, and a fresh kernel has none there
            reasons.append(
                f"{label(key)} read {name!r}, which a fresh kernel does not have yet there: "
                f"{label(token.creator[0])}, below it, set it"
            )
        elif order.is_edited(token.creator[0]) or not _still_binds(state, token.creator, name):
            reasons.append(
                f"{name!r} is still bound from an earlier version of {label(token.creator[0])}"
            )
        else:
            reasons.append(
                f"{label(key)} read {name!r}, which is still bound from "
                f"{label(token.creator[0])} although a fresh kernel does not have it there"
            )
    for key in rerun:
        run = results.get(key)
        if run is None:
            continue
        if run.unseeded:
            reasons.append(f"{label(key)} draws unseeded random numbers ({run.unseeded[0].callee})")
        elif run.nondet and not run.event.interrupted:
            reasons.append(f"{label(key)} depends on unseeded random numbers drawn earlier")
        appended = [
            a.path
            for a in run.event.files
            if a.op in ("append", "update") and not _recreated_before(state, order, rerun, key, a.path)
        ]
        if appended:
            reasons.append(f"{label(key)} appends to {appended[0]}: re-running appends again")
    if state.resets and rerun:
        reasons.append(f"%reset cleared the namespace (execution {state.resets[-1]} of this session)")
    if not reasons:
        return None
    unique = list(dict.fromkeys(reasons))
    more = f" (+{len(unique) - 2} more)" if len(unique) > 2 else ""
    return "; ".join(unique[:2]) + more
