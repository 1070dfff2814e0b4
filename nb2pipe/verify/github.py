"""GitHub Actions workflow commands for a verify report: an ``::error`` on each failing cell.

GitHub shows a workflow command ``::error file=F,line=L,title=T::message`` printed by a step as
an annotation on line L of file F, in the run's summary and in a pull request's diff. For a
notebook the useful line is where the failing cell's source starts in the ``.ipynb`` file:
that is the line the diff of the notebook shows. It is found by scanning the JSON text
(:func:`cell_source_lines`), not by searching it: two cells with the same code are told apart.
"""

from __future__ import annotations

import json
import json.decoder
from collections.abc import Callable, Iterator
from pathlib import Path

from nb2pipe.verify.report import Mismatch, NotebookReport, NotebookStatus, VerifyReport

__all__ = ["annotation_commands", "cell_source_lines", "workflow_command"]

#: Lines of a diff or traceback kept in one annotation (GitHub folds long ones anyway).
_MAX_DETAIL_LINES = 30
_WHITESPACE = " \t\r\n"
#: The JSON string reader of the standard library (its C one when built): text and position
#: after a string whose opening quote ends at the position given.
_scanstring: Callable[[str, int], tuple[str, int]] = getattr(  # noqa: B009 (not in the stubs)
    json.decoder, "scanstring"
)


def workflow_command(command: str, message: str, **properties: str | int) -> str:
    """``::command key=value,...::message``, escaped as the runner reads it back."""

    def data(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(text: str) -> str:
        return data(text).replace(":", "%3A").replace(",", "%2C")

    fields = ",".join(f"{key}={prop(str(value))}" for key, value in properties.items())
    return f"::{command}{' ' + fields if fields else ''}::{data(message)}"


def cell_source_lines(text: str) -> dict[int, int]:
    """Cell index -> the 1-based line of ``text`` (a notebook's JSON) where the cell's source
    starts: its first source line, or the ``"source"`` key when the source is empty.

    Raises
    ------
    ValueError
        ``text`` is not JSON (the notebook changed since it was verified).
    """
    scanner = _Scanner(text)
    lines: dict[int, int] = {}
    for key, position in scanner.object_members(scanner.skip_space(0)):
        if key != "cells":
            scanner.skip_value(position)
            continue
        for index, cell_start in enumerate(scanner.array_items(position)):
            if text[cell_start] != "{":
                scanner.skip_value(cell_start)
                continue
            for cell_key, value_start in scanner.object_members(cell_start):
                if cell_key == "source":
                    first = value_start
                    if text[value_start] == "[":
                        first = next(iter(scanner.array_items(value_start)), value_start)
                    lines[index] = text.count("\n", 0, first) + 1
                scanner.skip_value(value_start)
    return lines


class _Scanner:
    """Walks JSON text by position; :meth:`skip_value` leaves ``end`` after each value."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.end = 0

    def skip_space(self, position: int) -> int:
        while position < len(self.text) and self.text[position] in _WHITESPACE:
            position += 1
        if position >= len(self.text):
            raise ValueError("unexpected end of the notebook's JSON")
        return position

    def _expect(self, position: int, character: str) -> int:
        position = self.skip_space(position)
        if self.text[position] != character:
            raise ValueError(f"expected {character!r} at offset {position} of the notebook")
        return position + 1

    def object_members(self, start: int) -> Iterator[tuple[str, int]]:
        """(key, start of its value) of the object at ``start``; the caller skips each value."""
        position = self._expect(start, "{")
        if self.text[self.skip_space(position)] == "}":
            self.end = self.skip_space(position) + 1
            return
        while True:
            position = self._expect(position, '"')
            key, position = _scanstring(self.text, position)
            position = self._expect(position, ":")
            yield key, self.skip_space(position)
            position = self.skip_space(self.end)
            if self.text[position] == "}":
                self.end = position + 1
                return
            position = self._expect(position, ",")

    def array_items(self, start: int) -> Iterator[int]:
        """Start of each item of the array at ``start``; the caller skips each item."""
        position = self._expect(start, "[")
        if self.text[self.skip_space(position)] == "]":
            self.end = self.skip_space(position) + 1
            return
        while True:
            yield self.skip_space(position)
            position = self.skip_space(self.end)
            if self.text[position] == "]":
                self.end = position + 1
                return
            position = self._expect(position, ",")

    def skip_value(self, start: int) -> None:
        """Set ``end`` after the value at ``start``."""
        position = self.skip_space(start)
        character = self.text[position]
        if character == '"':
            self.end = _scanstring(self.text, position + 1)[1]
        elif character == "{":
            for _, value in self.object_members(position):
                self.skip_value(value)
        elif character == "[":
            for item in self.array_items(position):
                self.skip_value(item)
        else:  # a number, true, false or null
            _, length = _scalar(self.text, position)
            self.end = position + length


def _scalar(text: str, position: int) -> tuple[object, int]:
    end = position
    while end < len(text) and text[end] not in ",]}" + _WHITESPACE:
        end += 1
    try:
        return json.loads(text[position:end]), end - position
    except json.JSONDecodeError:
        raise ValueError(f"not JSON at offset {position} of the notebook") from None


def annotation_commands(report: VerifyReport, root: Path | None = None) -> list[str]:
    """One ``::error`` per failing cell (and per notebook-wide failure or invalid notebook),
    one ``::warning`` per static hazard, for the notebooks of ``report``.

    Paths are written relative to ``root`` (the repository: ``$GITHUB_WORKSPACE``), which is
    how GitHub matches them to the files of a commit.
    """
    out: list[str] = []
    for notebook in report.notebooks:
        out.extend(_notebook_annotations(notebook, root or Path.cwd()))
    return out


def _notebook_annotations(report: NotebookReport, root: Path) -> Iterator[str]:
    file = _relative(report.path, root)
    if report.status is NotebookStatus.INVALID:
        yield workflow_command(
            "error", report.error or "invalid notebook", file=file, title="nb2pipe verify: invalid"
        )
        return
    lines = _source_lines(report.path)
    for hazard in report.hazards:
        where = lines.get(hazard.cell_index) if hazard.cell_index is not None else None
        yield workflow_command(
            "warning",
            hazard.message,
            file=file,
            **({"line": where} if where else {}),
            title=f"nb2pipe verify: {hazard.cell_label}: static {hazard.kind.value}",
        )
    for mismatch in report.mismatches:
        where = lines.get(mismatch.cell_index) if mismatch.cell_index is not None else None
        yield workflow_command(
            "error",
            _message(mismatch),
            file=file,
            line=where or 1,
            title=f"nb2pipe verify: {mismatch.cell_label}: {mismatch.reason.value}",
        )


def _message(mismatch: Mismatch) -> str:
    parts = [mismatch.message]
    if mismatch.source:
        parts.append(f"> {mismatch.source}")
    if mismatch.diff:
        detail = mismatch.diff.splitlines()
        if len(detail) > _MAX_DETAIL_LINES:
            cut = len(detail) - _MAX_DETAIL_LINES
            detail = detail[:_MAX_DETAIL_LINES] + [f"... ({cut} more lines in the HTML report)"]
        parts.append("\n".join(detail))
    if mismatch.hint:
        parts.append(f"hint: {mismatch.hint}")
    return "\n".join(parts)


def _source_lines(path: Path) -> dict[int, int]:
    try:
        return cell_source_lines(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}  # gone or rewritten since: annotate the notebook's first line


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
