"""``%track report``: every hazard of the current state, the cells to re-run, and the restart reason."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from nb2pipe.analysis import CellSymbols, Hazard, HazardKind, find_static_hazards
from nb2pipe.analysis.analyze import NotebookAnalysis
from nb2pipe.analysis.parse import ParsedCell, parse_cell, symbols_only
from nb2pipe.errors import Nb2PipeError
from nb2pipe.model import Cell, CellKind, Notebook
from nb2pipe.tracking.hazards import (
    append_hazard,
    appended_again,
    edited_hazard,
    execution_hazards,
    file_change_hazards,
    leftover_hazards,
    merge_duplicates,
    removal_hazards,
    stale_hazards,
)
from nb2pipe.tracking.order import NotebookOrder
from nb2pipe.tracking.rerun import FreshRun, RerunPlan, plan_rerun, simulate_fresh_run

__all__ = ["CellMarker", "CellState", "StaticHazardCache", "TrackReport", "available_kinds", "build_report"]

#: Kinds the static analysis of the effective notebook contributes.
_STATIC_KINDS = frozenset(
    {
        HazardKind.UNDEFINED_IN_FRESH_KERNEL,
        HazardKind.MULTIPLE_DEFINITIONS,
        HazardKind.UNSEEDED_RANDOM,
    }
)
_KIND_ORDER = {kind: rank for rank, kind in enumerate(HazardKind)}


class CellState(str, enum.Enum):
    """What a cell's marker in JupyterLab says, most urgent first."""

    RESTART = "restart"  #: no re-run fixes it: restart the kernel (see ``restart``)
    OUT_OF_ORDER = "out-of-order"  #: read a value a cell below it made
    UNSAFE = "unsafe"  #: its output cannot be trusted: hidden state, files, randomness, ...
    STALE = "stale"  #: its inputs changed after it ran
    EDITED = "edited"  #: its code changed after it ran
    RERUN = "rerun"  #: nothing wrong with it, but the re-run needs it (it re-creates an object)


_STATE_OF_KIND = {
    HazardKind.OUT_OF_ORDER: CellState.OUT_OF_ORDER,
    HazardKind.STALE: CellState.STALE,
    HazardKind.EDITED: CellState.EDITED,
    HazardKind.HIDDEN_STATE: CellState.UNSAFE,
    HazardKind.UNDEFINED_IN_FRESH_KERNEL: CellState.UNSAFE,
    HazardKind.MUTATION: CellState.UNSAFE,
    HazardKind.NON_IDEMPOTENT: CellState.UNSAFE,
    HazardKind.UNSEEDED_RANDOM: CellState.UNSAFE,
    HazardKind.EXTERNAL_FILE: CellState.UNSAFE,
}
_URGENCY = {state: rank for rank, state in enumerate(CellState)}


@dataclass(frozen=True)
class CellMarker:
    """One cell's state, for the marker on it: the most urgent state and what explains it."""

    cell_id: str
    state: CellState
    label: str
    hazards: tuple[Hazard, ...]
    rerun: bool  #: in the report's ``rerun`` list

    def to_json(self) -> dict[str, Any]:
        return {
            "cell_id": self.cell_id,
            "state": self.state.value,
            "label": self.label,
            "hazards": [hazard.to_json() for hazard in self.hazards],
            "rerun": self.rerun,
        }


@dataclass(frozen=True)
class TrackReport:
    """What ``%track report`` shows; :meth:`to_json` is the ``--json`` shape (see docs/)."""

    notebook: str | None
    executions: int
    hazards: tuple[Hazard, ...]
    rerun: tuple[str, ...]  #: cell ids (or execution keys in degraded mode), notebook order
    rerun_labels: tuple[str, ...]
    restart: str | None
    #: cell ids (or keys) the restart reasons are about
    restart_cells: tuple[str, ...] = ()
    #: cell id (or key) -> how messages name the cell
    labels: Mapping[str, str] = field(default_factory=dict)
    #: paths to remove before re-running (what earlier runs left on disk: see RerunPlan)
    remove: tuple[str, ...] = ()

    def markers(self) -> tuple[CellMarker, ...]:
        """A marker for every cell that has a state worth showing, in notebook order.

        Cells with only ``multiple-definitions`` (information, not a wrong state) get none.
        """
        hazards: dict[str, list[Hazard]] = {}
        order: dict[str, None] = {}
        for hazard in self.hazards:
            if hazard.cell_id is not None:
                hazards.setdefault(hazard.cell_id, []).append(hazard)
                order[hazard.cell_id] = None
        order.update((key, None) for key in self.rerun)
        out = []
        for cell_id in order:
            found = hazards.get(cell_id, [])
            states = [_STATE_OF_KIND[h.kind] for h in found if h.kind in _STATE_OF_KIND]
            if cell_id in self.restart_cells:
                states.append(CellState.RESTART)
            if cell_id in self.rerun:
                states.append(CellState.RERUN)
            if not states:
                continue
            state = min(states, key=_URGENCY.__getitem__)
            label = self.labels.get(cell_id, cell_id)
            out.append(CellMarker(cell_id, state, label, tuple(found), cell_id in self.rerun))
        return tuple(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "executions": self.executions,
            "hazards": [hazard.to_json() for hazard in self.hazards],
            "rerun": list(self.rerun),
            "restart": self.restart,
            "remove": list(self.remove),
        }

    def to_lab_json(self) -> dict[str, Any]:
        """What the JupyterLab extension shows on the cells (``GET /nb2pipe/hazards``'s
        ``track``): each cell's marker, and the cells "Re-run suggested cells" runs."""
        return {
            "executions": self.executions,
            "rerun": list(self.rerun),
            "rerun_labels": list(self.rerun_labels),
            "restart": self.restart,
            "remove": list(self.remove),
            "cells": [marker.to_json() for marker in self.markers()],
        }

    def lines(self) -> list[str]:
        where = self.notebook or "no notebook file"
        head = f"%track: {where} — {self.executions} executions, {len(self.hazards)} hazard"
        out = [head + ("" if len(self.hazards) == 1 else "s")]
        for hazard in self.hazards:
            out.append(f"  {hazard.severity.value:<7} {hazard.kind.value}: {hazard.message}")
            out.append(f"          fix: {hazard.fix}")
        if self.remove:
            out.append("Remove first (no re-run or restart undoes them): " + ", ".join(self.remove))
        if self.rerun:
            out.append("Re-run, in this order: " + ", ".join(self.rerun_labels))
        elif not self.restart:
            out.append("Re-run: nothing — every output matches a fresh top-to-bottom run")
        if self.restart:
            out.append(f"Restart the kernel and run all cells: {self.restart}")
            target = Path(self.notebook).name if self.notebook else "NOTEBOOK.ipynb"
            out.append(
                "To keep the result you have, recover it first: save the notebook, then run "
                f"`nb2pipe recover {target}` (it replays this session's code, kept by %track)"
            )
        return out


class StaticHazardCache:
    """Static hazards of the effective notebook, recomputed only when a cell's source changes."""

    def __init__(self) -> None:
        self._key: object = None
        self._hazards: list[Hazard] = []
        #: cell key (the order's) -> its hazards: a cell not in the saved file, run by a
        #: frontend that sends no cell ids, has neither an id nor a place to tell it by
        self._by_key: dict[str, list[Hazard]] = {}

    def hazards(
        self, order: NotebookOrder, symbols: Mapping[str, tuple[str, CellSymbols]]
    ) -> list[Hazard]:
        runs = order.state.runs
        # messages name unsaved cells by execution count (In [k]): a re-run renames them
        unsaved = tuple(runs[key].event.execution_count for key in order.unsaved if key in runs)
        fingerprint = (id(order), order.version, unsaved)
        if fingerprint != self._key:
            keyed = _static_hazards(order, symbols)
            self._hazards = [hazard for _, hazard in keyed]
            self._by_key = {}
            for key, hazard in keyed:
                self._by_key.setdefault(key, []).append(hazard)
            self._key = fingerprint
        return self._hazards

    def of_cell(
        self, order: NotebookOrder, symbols: Mapping[str, tuple[str, CellSymbols]], key: str
    ) -> list[Hazard]:
        """The static hazards of the cell ``key`` (the warning under a cell needs only its own)."""
        self.hazards(order, symbols)
        return self._by_key.get(key, [])


def _event_symbols(order: NotebookOrder, key: str) -> CellSymbols | None:
    run = order.state.runs.get(key)
    if run is None:
        return None
    event = run.event
    return CellSymbols(
        defines=event.defines,
        reads=event.reads,
        mutates=event.mutates,
        deletes=event.deletes,
        rebinds=event.rebinds,
        opaque_defines=event.opaque,
        loop_targets=event.loop_targets,
    )


def _static_hazards(
    order: NotebookOrder, live_symbols: Mapping[str, tuple[str, CellSymbols]]
) -> list[tuple[str, Hazard]]:
    """``find_static_hazards`` over the notebook as a fresh run would execute it now, each with
    the key of the cell it is about."""
    slots = order.slots
    cells: list[Cell] = []
    parsed: list[ParsedCell] = []
    slot_of: dict[int, int] = {}  # synthetic index -> slot rank
    # interleave the saved notebook's other cells so positions match what the user sees
    others = [c for c in (order.notebook.cells if order.notebook else ()) if not c.is_code]
    items: list[tuple[tuple[int, ...], Any]] = [((c.index,), c) for c in others]
    items += [(slot.position, rank) for rank, slot in enumerate(slots)]
    items.sort(key=lambda item: item[0])
    for _, item in items:
        index = len(cells)
        if isinstance(item, Cell):
            cells.append(Cell(index=index, kind=item.kind, source=item.source, id=item.id))
            continue
        slot = slots[item]
        symbols: CellSymbols | None = None
        live = live_symbols.get(slot.key)
        if live is not None and live[0] == slot.source_hash:
            symbols = live[1]
        cell = Cell(index=index, kind=CellKind.CODE, source=slot.source or "", id=slot.cell_id)
        if symbols is None and slot.source is not None:
            try:
                parsed.append(parse_cell(cell))
            except Nb2PipeError:
                cells.append(Cell(index=index, kind=CellKind.RAW, source=slot.source, id=slot.cell_id))
                continue
        else:
            symbols = symbols or _event_symbols(order, slot.key) or CellSymbols()
            parsed.append(symbols_only(cell, symbols))
        cells.append(cell)
        slot_of[index] = item
    notebook = Notebook(cells=tuple(cells), path=None)
    analysis = NotebookAnalysis(notebook, tuple(parsed))

    def label(cell: Cell) -> str:
        # the synthetic positions count unsaved cells too: name cells as every message does
        rank = slot_of.get(cell.index)
        return order.label(slots[rank].key) if rank is not None else f"cell {cell.index + 1}"

    out = []
    for hazard in find_static_hazards(analysis, label):
        if hazard.kind not in _STATIC_KINDS or hazard.cell_index not in slot_of:
            continue
        slot = slots[slot_of[hazard.cell_index]]
        # every report line names its cell, as the inline warnings do
        message = f"{order.label(slot.key)}: {hazard.message}"
        out.append((slot.key, Hazard(
            hazard.kind, slot.cell_index, slot.cell_id, hazard.names, message, hazard.fix,
            hazard.line, hazard.summary,
        )))
    return out


def _sort_key(order: NotebookOrder, hazard: Hazard) -> tuple[Any, ...]:
    position: tuple[int, ...] = (1 << 30,)
    for slot in order.slots:
        if slot.cell_id == hazard.cell_id and slot.cell_index == hazard.cell_index:
            position = slot.position
            break
    return (position, _KIND_ORDER[hazard.kind], hazard.names)


def collect_hazards(
    order: NotebookOrder,
    fresh: FreshRun,
    plan: RerunPlan,
    static: Iterable[Hazard],
    namespace: Mapping[str, Any] | None = None,
) -> list[Hazard]:
    state = order.state
    hazards: list[Hazard] = []
    explained: set[str] = set()
    for slot in order.slots:
        run = state.runs.get(slot.key)
        if run is None:
            continue
        edited = edited_hazard(slot, order)
        found = execution_hazards(run, order, namespace, plan.rerun)
        if edited is not None:
            hazards.append(edited)
        if edited is not None or any(
            # a cell that ran on its own earlier result: non-idempotent says why it is off
            h.kind in (HazardKind.OUT_OF_ORDER, HazardKind.HIDDEN_STATE, HazardKind.NON_IDEMPOTENT)
            for h in found
        ):
            explained.add(slot.key)
        hazards += found
    hazards += stale_hazards(fresh, order, plan.rerun, skip=explained)
    hazards += file_change_hazards(state, order, fresh)
    hazards += leftover_hazards(plan, order)
    hazards += removal_hazards(plan, order)
    # cells that appended to a file again (as warned under the cell), unless said above
    removed = {path for path, _ in plan.remove}
    for slot in order.slots:
        run = state.runs.get(slot.key)
        if run is not None and run.runs > 1 and run.event.files:
            paths = [path for path, _ in appended_again(run, state) if path not in removed]
            if paths:
                hazards.append(append_hazard(order, slot.key, list(dict.fromkeys(paths))))
    seen = {(h.kind, h.cell_id, h.cell_index) for h in hazards}
    for hazard in static:
        if (hazard.kind, hazard.cell_id, hazard.cell_index) not in seen:
            hazards.append(hazard)
    unique = merge_duplicates(dict.fromkeys(hazards))
    return sorted(unique, key=lambda h: _sort_key(order, h))


@functools.cache  # asked after every cell: four possible answers
def available_kinds(has_notebook: bool, has_cell_ids: bool) -> frozenset[HazardKind]:
    """The hazard kinds ``%track`` can judge in a mode (``%track status`` lists them, and the
    report and the warnings hold no others).

    Without a notebook file the order is the execution order: there are no saved sources to
    compare and no fresh-kernel order to check. Without cell ids an edited cell is a new cell.
    """
    kinds = set(HazardKind)
    if not has_notebook:
        kinds -= {HazardKind.EDITED, HazardKind.UNDEFINED_IN_FRESH_KERNEL, HazardKind.MULTIPLE_DEFINITIONS}
    elif not has_cell_ids:
        kinds.discard(HazardKind.EDITED)
    return frozenset(kinds)


def build_report(
    order: NotebookOrder,
    notebook: str | None,
    live_symbols: Mapping[str, tuple[str, CellSymbols]] | None = None,
    static_cache: StaticHazardCache | None = None,
    namespace: Mapping[str, Any] | None = None,
    kinds: frozenset[HazardKind] = frozenset(HazardKind),
) -> TrackReport:
    """The full report of ``order.state`` against the notebook order ``order``.

    ``namespace`` is the kernel's ``user_ns`` (``None`` when replaying a log): fixes fit the
    live objects' types. ``kinds``: the hazard kinds this mode can judge (see
    :func:`available_kinds`).
    """
    state = order.state
    fresh = simulate_fresh_run(state, order)
    plan = plan_rerun(state, order, fresh)
    symbols = live_symbols or {}
    static = (static_cache or StaticHazardCache()).hazards(order, symbols)
    hazards = [h for h in collect_hazards(order, fresh, plan, static, namespace) if h.kind in kinds]
    rerun_ids = tuple(order.by_key[k].cell_id or k for k in plan.rerun)
    return TrackReport(
        notebook=notebook,
        executions=state.executions,
        hazards=tuple(hazards),
        rerun=rerun_ids,
        rerun_labels=tuple(order.label(k) for k in plan.rerun),
        restart=plan.restart,
        restart_cells=tuple(order.by_key[k].cell_id or k for k in plan.restart_cells),
        labels={slot.cell_id or slot.key: order.label(slot.key) for slot in order.slots},
        remove=tuple(order.short_path(path) for path, _ in plan.remove),
    )
