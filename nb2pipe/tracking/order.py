"""Where each cell sits in the notebook and what its current source is.

Order and sources come from the notebook file as of its last save; cells that ran but are not
in the saved file yet are placed by execution order (right after the cell executed before
them); without a notebook file the execution order is all there is. Sources of executed cells
are the ones that ran, unless the file was saved after they ran.
"""

from __future__ import annotations

import bisect
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from nb2pipe.errors import Nb2PipeError
from nb2pipe.model import Cell, Notebook, load_notebook
from nb2pipe.tracking.state import BASELINE_KEY, TrackerState

__all__ = ["CellSlot", "NotebookOrder", "NotebookFile", "first_code_line"]

#: A save within this many seconds after a cell started may predate its execution.
_CLOCK_SLACK = 0.5
#: Look at the notebook file's modification time at most this often (seconds).
_STAT_INTERVAL = 1.0
#: Characters of a cell's first line of code its label shows.
_LINE_WIDTH = 40


class NotebookFile:
    """The saved notebook, reloaded when its modification time changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.notebook: Notebook | None = None
        self.mtime: float = 0.0
        self._mtime_ns: int = -1
        self._checked = 0.0
        self._by_source: dict[str, Cell | None] | None = None
        self.error: str | None = None  #: why the last load failed

    def refresh(self, force: bool = False) -> Notebook | None:
        """The saved notebook; unless ``force``, the file is looked at at most once a second."""
        now = time.monotonic()
        if not force and self.notebook is not None and now - self._checked < _STAT_INTERVAL:
            return self.notebook
        self._checked = now
        try:
            mtime_ns = os.stat(self.path).st_mtime_ns
        except OSError as exc:
            self.error = f"cannot read {self.path}: {exc.strerror}"
            return self.notebook
        if mtime_ns != self._mtime_ns:
            try:
                self.notebook = load_notebook(self.path)
                self._by_source = None
                self.error = None
            except Nb2PipeError as exc:
                self.error = str(exc)  # keep the last good version (e.g. a save in progress)
            self._mtime_ns = mtime_ns
            self.mtime = mtime_ns / 1e9
        return self.notebook

    def cell_id_for_source(self, raw_source: str) -> str | None:
        """The id of the one saved code cell whose source is ``raw_source`` (degraded mode)."""
        cell = self.saved_cell(raw_source)
        return cell.id if cell is not None else None

    def saved_cell(self, raw_source: str) -> Cell | None:
        """The one saved code cell whose source is ``raw_source`` (as last loaded; no file
        check): what ``%track`` already knows of a cell run as it was saved."""
        if self.notebook is None:
            return None
        if self._by_source is None:
            by_source: dict[str, Cell | None] = {}
            for cell in self.notebook.code_cells:
                # a source that two cells share identifies neither
                by_source[cell.source] = None if cell.source in by_source else cell
            self._by_source = by_source
        return self._by_source.get(raw_source)


@dataclass(frozen=True, eq=False)
class CellSlot:
    """A code cell in the current order."""

    key: str
    position: tuple[int, ...]  #: sort key (saved cells: ``(index,)``)
    cell_index: int | None  #: 0-based position in the saved notebook; ``None``: not saved yet
    cell_id: str | None
    #: the source a fresh run would execute, if known as text (``None``: only its hash is known)
    source: str | None
    source_hash: str
    cell: Cell | None  #: the saved cell, when in the file

    def label(self, state: TrackerState | None = None, first_line: str | None = None, saved: bool = True) -> str:
        """How messages name the cell, the way the screen lets a person find it.

        ``cell 3 `total = sum(data)``` — its place in the notebook (markdown cells count, as
        on screen) and its first line of code. A cell not in the saved file yet has no place:
        ``new cell `w = 1` (In [7])``, with its execution count (``In [k]`` is only ever an
        execution count, as Jupyter shows it). ``saved``: whether there is a saved notebook.
        """
        line = first_code_line(self.source) if self.source is not None else first_line
        code = f" `{line}`" if line else ""
        if self.cell_index is not None:
            return f"cell {self.cell_index + 1}{code}"
        run = state.runs.get(self.key) if state is not None else None
        count = run.event.execution_count if run is not None else None
        ran = f" (In [{count}])" if count is not None else ""
        return f"{'new cell' if saved else 'cell'}{code}{ran}"


def first_code_line(source: str, width: int = _LINE_WIDTH) -> str | None:
    """The first line of ``source`` that is not blank or a comment, shortened to ``width``."""
    for line in source.splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            return text if len(text) <= width else text[: width - 1] + "…"
    return None


class NotebookOrder:
    """The code cells in notebook order, merged from the saved file and the execution history."""

    def __init__(
        self,
        state: TrackerState,
        notebook: Notebook | None,
        saved_at: float | None = None,
        deleted: frozenset[str] = frozenset(),
        first_lines: Mapping[str, str] | None = None,
    ) -> None:
        self.state = state
        #: cell key -> first line of the code its latest run ran (the live kernel knows it; a
        #: replayed log does not: it holds no source)
        self.first_lines: Mapping[str, str] = first_lines if first_lines is not None else {}
        self.notebook = notebook
        #: the notebook's folder: paths under it are shown relative to it
        self.root = str(notebook.path.parent) if notebook is not None and notebook.path is not None else None
        self.saved_at = saved_at
        self.deleted = set(deleted) | state.deleted_cells
        self.slots: list[CellSlot] = []
        self.by_key: dict[str, CellSlot] = {}
        #: keys of the cells not in the saved file (placed by execution order), oldest first
        self.unsaved: list[str] = []
        #: source hash of each cell's latest run when its slot was built
        self._seen: dict[str, str] = {}
        self._executions = 0
        #: bumped whenever a slot changes, so caches keyed on the order know
        self.version = 0
        self._build()

    def _current_source(self, cell: Cell) -> tuple[str | None, str]:
        run = self.state.runs.get(cell.id) if cell.id else None
        saved_hash = cell.source_hash
        if run is None or run.event.source_hash == saved_hash:
            return cell.source, saved_hash
        if self.saved_at is not None and self.saved_at > run.event.started + run.event.duration + _CLOCK_SLACK:
            return cell.source, saved_hash  # saved after it ran: the saved text is newer
        return None, run.event.source_hash  # ran after the last save: what ran is current

    def _build(self) -> None:
        state = self.state
        if self.notebook is not None:
            for cell in self.notebook.code_cells:
                key = cell.id or f"index:{cell.index}"
                if key in self.deleted:
                    continue
                source, digest = self._current_source(cell)
                self._add(CellSlot(key, (cell.index,), cell.index, cell.id, source, digest, cell))
        pending = sorted(
            (k for k in state.runs if k not in self.by_key and k != BASELINE_KEY),
            key=lambda k: state.first_seq.get(k, 0),
        )
        for key in pending:
            self._add_unsaved(key)
        self.slots.sort(key=lambda slot: slot.position)
        self._seen = {k: r.event.source_hash for k, r in state.runs.items()}
        self._executions = state.executions

    def _add_unsaved(self, key: str) -> None:
        if self._is_deleted(key):
            return
        run = self.state.runs[key]
        position = self._placement(key)
        self._add(CellSlot(key, position, None, run.event.cell_id, None, run.event.source_hash, None))

    def refresh_runs(self) -> None:
        """Take in executions since the order was built: new cells, and code that changed."""
        state = self.state
        if state.executions == self._executions:
            return
        if state.executions == self._executions + 1 and state.last_key is not None:
            changed = [state.last_key]  # the usual case: one cell ran since
        else:
            changed = list(state.runs)
        self._executions = state.executions
        for key in changed:
            run = state.runs.get(key)
            if run is None or self._seen.get(key) == run.event.source_hash:
                continue
            self._seen[key] = run.event.source_hash
            slot = self.by_key.get(key)
            if slot is None:
                if key == BASELINE_KEY or self._is_deleted(key):
                    continue
                self._add_unsaved(key)
                added = self.slots.pop()
                bisect.insort(self.slots, added, key=lambda s: s.position)
                self.version += 1
                continue
            if slot.cell is not None:
                source, digest = self._current_source(slot.cell)
            else:
                source, digest = None, run.event.source_hash
            if digest == slot.source_hash and source == slot.source:
                continue
            self.version += 1
            updated = CellSlot(key, slot.position, slot.cell_index, slot.cell_id, source, digest, slot.cell)
            self.slots[self.slots.index(slot)] = updated
            self.by_key[key] = updated

    def _add(self, slot: CellSlot) -> None:
        self.slots.append(slot)
        self.by_key[slot.key] = slot
        if slot.cell_index is None:
            self.unsaved.append(slot.key)

    def _placement(self, key: str) -> tuple[int, ...]:
        first = self.state.first_seq.get(key, 0)
        if self.notebook is None:
            return (first,)
        predecessor = self.state.predecessor.get(key)
        before = self.by_key.get(predecessor) if predecessor is not None else None
        if before is None:
            return (len(self.notebook.cells), first)
        return before.position + (first,)

    def _is_deleted(self, key: str) -> bool:
        if key in self.deleted:
            return True
        run = self.state.runs[key]
        if self.notebook is None or not run.event.cell_id or self.saved_at is None:
            return False
        # the file was saved after the cell ran and the cell is not in it: it was deleted
        return self.saved_at > run.event.started + run.event.duration + _CLOCK_SLACK

    # -- lookups -------------------------------------------------------------------------------
    def position(self, key: str) -> tuple[int, ...] | None:
        slot = self.by_key.get(key)
        return slot.position if slot is not None else None

    def is_below(self, key: str, other: str) -> bool:
        """Whether cell ``key`` sits below cell ``other``."""
        mine, theirs = self.position(key), self.position(other)
        return mine is not None and theirs is not None and mine > theirs

    def is_gone(self, key: str) -> bool:
        """A cell that ran but is no longer in the notebook."""
        return key != BASELINE_KEY and key not in self.by_key

    def short_path(self, path: str) -> str:
        """``path`` as the notebook's code would name it: relative to the notebook's folder
        when under it, else as it is."""
        root = self.root
        if root and path.startswith(root + os.sep):
            return path[len(root) + 1:]
        return path

    def label(self, key: str) -> str:
        """How messages name cell ``key`` (see :meth:`CellSlot.label`)."""
        slot = self.by_key.get(key)
        if slot is not None:
            return slot.label(self.state, self.first_lines.get(key), self.notebook is not None)
        if key == BASELINE_KEY:
            return "code run before %track on"
        run = self.state.runs.get(key)
        count = run.event.execution_count if run is not None else None
        line = self.first_lines.get(key)
        what = f" `{line}`" if line else (f" {run.event.cell_id}" if run is not None and run.event.cell_id else "")
        return f"deleted cell{what}" + (f" (In [{count}])" if count is not None else "")

    def is_edited(self, key: str) -> bool:
        slot = self.by_key.get(key)
        run = self.state.runs.get(key)
        return slot is not None and run is not None and slot.source_hash != run.event.source_hash
