"""A path to a notebook's saved outputs: the executions, in order, that produced them.

A :class:`RecoveredPath` is what ``nb2pipe recover`` finds (from a ``%track`` history, or by
searching orders of the current cells) and proves; :func:`recovered_notebook` writes it as a
notebook that, run top to bottom, gives back the saved outputs: one code cell per execution,
each with the code it ran then, the saved outputs on the executions that produced them.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nb2pipe.analysis.hazards import is_tracker_line
from nb2pipe.model import Cell, Notebook

__all__ = ["CellProblem", "RecoveredPath", "Replay", "recovered_notebook"]

#: The metadata key a recovered cell keeps its provenance under.
METADATA_KEY = "nb2pipe"


@dataclass(frozen=True)
class CellProblem:
    """A saved output no path within the budget gave back, and why."""

    cell: Cell
    reason: str

    def line(self) -> str:
        count = f"In [{self.cell.execution_count}] " if self.cell.execution_count else ""
        return f"{self.cell.label} {count}`{self.cell.first_line}`: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        """The problem for the server's reply: the cell (id, 0-based position), why, and
        :meth:`line`."""
        return {
            "cell_id": self.cell.id,
            "cell_index": self.cell.index,
            "reason": self.reason,
            "line": self.line(),
        }


@dataclass(frozen=True)
class Replay:
    """One execution of the path."""

    source: str  #: the code it runs (what ran then)
    #: the saved notebook's cell it is a run of (``None``: code that is no longer in it)
    cell: Cell | None
    #: its outputs are the cell's saved outputs (the run whose count the cell shows)
    saved: bool = False
    #: the execution count it had when it ran (history) or its place in the search
    count: int | None = None
    #: the run raised, as it did then: the recovered cell may raise
    raises: bool = False
    #: seconds it took when recorded (the budget's estimate), if known
    duration: float | None = None

    @property
    def older_code(self) -> bool:
        """It runs other code than the cell holds now."""
        return self.cell is not None and self.source != self.cell.source


@dataclass(frozen=True)
class RecoveredPath:
    """The executions that give back the saved outputs, and how they were found."""

    replays: tuple[Replay, ...]
    #: ``history`` (a ``%track`` session replayed) or ``search`` (orders of the current cells)
    origin: str
    #: what the path leaves out or assumes, said in the recovered notebook and by the CLI
    notes: tuple[str, ...] = ()

    def runs_of(self, cell: Cell) -> list[int]:
        """Positions (in the path) of the runs of ``cell``."""
        return [i for i, r in enumerate(self.replays) if r.cell is not None and r.cell.index == cell.index]

    @property
    def estimated_duration(self) -> float | None:
        durations = [r.duration for r in self.replays]
        if not durations or any(d is None for d in durations):
            return None
        return sum(d for d in durations if d is not None)

    def describe(self) -> list[str]:
        """One line per execution that differs from a top-to-bottom run of the notebook."""
        lines = []
        seen: dict[int, int] = {}
        for replay in self.replays:
            cell = replay.cell
            if cell is None:
                lines.append(f"runs code no longer in the notebook: `{_first_line(replay.source)}`")
                continue
            seen[cell.index] = seen.get(cell.index, 0) + 1
            label = f"{cell.label} `{cell.first_line}`"
            if replay.older_code:
                lines.append(f"{label} ran with {_change(replay.source, cell.source)}")
            if seen[cell.index] > 1:
                lines.append(f"{label} runs again ({_ordinal(seen[cell.index])} run)")
        return lines


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            text = line.strip()
            return text if len(text) <= 60 else text[:57] + "..."
    return ""


def _change(then: str, now: str) -> str:
    """``test_size = 0.2`` where the notebook now says ``test_size = 0.3``: the first line
    that differs between what ran and what the cell holds now."""
    old, new = then.splitlines(), now.splitlines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        before = _clip(old[i1].strip()) if i1 < i2 else ""
        after = _clip(new[j1].strip()) if j1 < j2 else ""
        if before and after:
            return f"`{before}`; the notebook now says `{after}`"
        if before:
            return f"`{before}`, a line the notebook no longer has"
        return f"older code, without `{after}`, which the notebook now has"
    return "older code"


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def recovered_notebook(
    notebook: Notebook, raw: Mapping[str, Any], path: RecoveredPath, source_name: str
) -> dict[str, Any]:
    """The recovered notebook (nbformat JSON) of ``path`` through ``notebook``.

    ``raw`` is the saved notebook's own JSON (its metadata is kept). Each execution becomes a
    code cell with the code it ran; the executions whose outputs were saved carry them (with
    execution counts rising top to bottom), the others carry none. A cell keeps its origin in
    ``metadata.nb2pipe.source_cell`` (the original cell's id) and says when it ran older code
    or ran again, there and in a Markdown note above it. Markdown cells of the original come
    before the first run of the code cell that follows them.
    """
    cells: list[dict[str, Any]] = [_markdown(_header(path, source_name), "recover-header")]
    placed_markdown: set[int] = set()
    runs: dict[int, int] = {}
    count = 0
    for position, replay in enumerate(path.replays):
        cell = replay.cell
        if cell is not None and cell.index not in runs:
            for above in _markdown_above(notebook, cell):
                if above.index not in placed_markdown:
                    placed_markdown.add(above.index)
                    cells.append(_copy_markdown(raw, above))
        note = ""
        run = 1
        if cell is not None:
            runs[cell.index] = run = runs.get(cell.index, 0) + 1
            pieces = []
            if replay.older_code:
                pieces.append(f"{cell.label} ran with {_change(replay.source, cell.source)}")
            if run > 1:
                pieces.append(f"{cell.label} runs again here ({_ordinal(run)} run)")
            note = "; ".join(pieces)
        else:
            note = "this execution's code is no longer in the notebook"
        if note:
            cells.append(_markdown(f"*nb2pipe recover:* {note}.", f"recover-note-{position}"))
        if replay.saved:
            count += 1
        cells.append(_code(raw, replay, run, count if replay.saved else None, position))
    metadata = dict(raw.get("metadata") or {})
    recover_meta = dict(metadata.get(METADATA_KEY) or {})
    recover_meta["recovered_from"] = {"notebook": source_name, "origin": path.origin}
    metadata[METADATA_KEY] = recover_meta
    return {
        "cells": cells,
        "metadata": metadata,
        "nbformat": 4,
        "nbformat_minor": max(5, int(raw.get("nbformat_minor") or 5)),
    }


def _header(path: RecoveredPath, source_name: str) -> str:
    how = (
        "a `%track` history of the session that produced them"
        if path.origin == "history"
        else "a search over orders and repetitions of the notebook's current cells"
    )
    lines = [
        f"# Recovered: the path to the saved outputs of `{source_name}`",
        "",
        (
            f"Written by `nb2pipe recover` from {how}. Run top to bottom in a fresh kernel, "
            "this notebook gives back every saved output of the original (checked before it "
            "was written). Each code cell is one execution, in the order they ran; "
            "`metadata.nb2pipe.source_cell` names the original cell."
        ),
    ]
    differences = path.describe()
    if differences:
        lines += ["", "Where the path differs from a top-to-bottom run of the notebook:", ""]
        lines += [f"- {line}" for line in differences]
    if path.notes:
        lines += ["", *[f"- {note}" for note in path.notes]]
    return "\n".join(lines)


def _markdown_above(notebook: Notebook, cell: Cell) -> list[Cell]:
    """The Markdown cells between the code cell above ``cell`` and ``cell``."""
    found: list[Cell] = []
    for above in reversed(notebook.cells[: cell.index]):
        if above.is_code:
            break
        if above.kind.value == "markdown":
            found.append(above)
    return list(reversed(found))


def _copy_markdown(raw: Mapping[str, Any], cell: Cell) -> dict[str, Any]:
    original = _raw_cell(raw, cell)
    copied: dict[str, Any] = {
        "cell_type": "markdown",
        "id": f"md-{cell.id or cell.index}",
        "metadata": dict(original.get("metadata") or {}),
        "source": cell.source,
    }
    if original.get("attachments"):
        copied["attachments"] = original["attachments"]
    return copied


def _markdown(text: str, cell_id: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text}


def _code(
    raw: Mapping[str, Any], replay: Replay, run: int, count: int | None, position: int
) -> dict[str, Any]:
    cell = replay.cell
    original = _raw_cell(raw, cell) if cell is not None else {}
    metadata: dict[str, Any] = {
        k: v for k, v in (original.get("metadata") or {}).items() if k not in (METADATA_KEY, "tags")
    }
    tags = [t for t in (cell.tags if cell is not None else ()) if t != "parameters"]
    if replay.raises and "raises-exception" not in tags:
        tags.append("raises-exception")
    if tags:
        metadata["tags"] = tags
    provenance: dict[str, Any] = {
        "source_cell": cell.id if cell is not None else None,
        "run": run,
        "execution_count": replay.count,
    }
    if replay.older_code:
        provenance["older_code"] = True
    if cell is None:
        provenance["code_not_in_notebook"] = True
    metadata[METADATA_KEY] = provenance
    base_id = (cell.id if cell is not None and cell.id else f"x{position}")[:48]
    outputs: Sequence[Any] = (original.get("outputs") or []) if replay.saved else []
    return {
        "cell_type": "code",
        "id": f"{base_id}-r{run}" if run > 1 or replay.older_code else base_id,
        "metadata": metadata,
        "source": replay.source,
        "execution_count": count,
        "outputs": [_with_count(o, count) for o in _without_tracker_lines(outputs)],
    }


def _with_count(output: Any, count: int | None) -> Any:
    if isinstance(output, Mapping) and output.get("output_type") == "execute_result":
        return {**output, "execution_count": count}
    return output


def _without_tracker_lines(outputs: Sequence[Any]) -> list[Any]:
    """The saved outputs without ``%track``'s own lines (its warnings under a cell): the
    recovered notebook holds what the notebook's code printed."""
    kept = []
    for output in outputs:
        if isinstance(output, Mapping) and output.get("output_type") == "stream":
            text = output.get("text") or ""
            text = "".join(text) if isinstance(text, list) else str(text)
            lines = [line for line in text.splitlines(keepends=True) if not is_tracker_line(line)]
            if not lines:
                continue
            output = {**output, "text": "".join(lines)}
        kept.append(output)
    return kept


def _raw_cell(raw: Mapping[str, Any], cell: Cell | None) -> Mapping[str, Any]:
    if cell is None:
        return {}
    cells = raw.get("cells") or []
    if 0 <= cell.index < len(cells) and isinstance(cells[cell.index], Mapping):
        return cells[cell.index]  # type: ignore[no-any-return]
    return {}
