"""Hazards: the typed findings shared by static analysis, ``%track``, verify and the server."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "WARNING_WIDTH",
    "Hazard",
    "HazardKind",
    "Severity",
    "fit_summary",
    "is_tracker_cell",
    "is_tracker_line",
    "short_labels",
    "tracker_warning",
]


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class HazardKind(str, enum.Enum):
    """Stable identifiers (PRODUCT.md §2), used in JSON, docs and messages."""

    OUT_OF_ORDER = "out-of-order"
    STALE = "stale"
    EDITED = "edited"
    HIDDEN_STATE = "hidden-state"
    UNDEFINED_IN_FRESH_KERNEL = "undefined-in-fresh-kernel"
    MUTATION = "mutation"
    NON_IDEMPOTENT = "non-idempotent"
    MULTIPLE_DEFINITIONS = "multiple-definitions"
    UNSEEDED_RANDOM = "unseeded-random"
    EXTERNAL_FILE = "external-file"

    @property
    def severity(self) -> Severity:
        return _SEVERITIES[self]


_KIND_VALUES = frozenset(kind.value for kind in HazardKind)
#: What ``%track`` itself prints into a cell's output: its start and stop lines.
_TRACKER_LINE_STARTS = ("%track is on", "%track is off", "nb2pipe: %track ")


#: Characters of the line ``%track`` prints under a cell (the report has the rest).
WARNING_WIDTH = 120
_CELL_CODE = re.compile(r"((?:new |deleted )?cell(?: \d+)?) `[^`]*`")


def short_labels(text: str) -> str:
    """``text`` with each cell named by its place only: ``cell 3 `x = 1``` -> ``cell 3``."""
    return _CELL_CODE.sub(r"\1", text)


def tracker_warning(kind: HazardKind, message: str, fix: str, summary: str = "") -> str:
    """The one line ``%track`` prints under a cell for a hazard: about 120 characters.

    The hazard's summary, else its message and fix with cells named by their place; cut at a
    word with "…" when still too long (``%track report`` and JupyterLab's badge have it all).
    """
    head = f"nb2pipe {kind.value}: "
    room = WARNING_WIDTH - len(head)
    text = summary or f"{short_labels(message)} — fix: {short_labels(fix)}"
    if len(text) > room and not summary:
        text = f"{short_labels(message)} (%track report)"
    return head + fit_summary(kind, text)


def fit_summary(kind: HazardKind, text: str) -> str:
    """``text`` cut at a word with "…" so that it fits the line under a cell after the
    hazard's ``nb2pipe <kind>: `` head."""
    room = WARNING_WIDTH - len(f"nb2pipe {kind.value}: ")
    if len(text) <= room:
        return text
    cut = text[: room - 1]
    return (cut[: cut.rfind(" ")] if " " in cut else cut).rstrip(",;: ") + "…"


_TRACKER_MAGICS = ("%track", "%load_ext nb2pipe", "%reload_ext nb2pipe", "%unload_ext nb2pipe")


def is_tracker_cell(source: str) -> bool:
    """Whether a cell only loads or drives ``%track`` (``%load_ext nb2pipe``, ``%track on``):
    its run is the tracker's, not the notebook's work (a history never records it)."""
    code = [
        line.strip() for line in source.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    return bool(code) and all(
        any(line == magic or line.startswith(magic + " ") for magic in _TRACKER_MAGICS)
        for line in code
    )


def is_tracker_line(line: str) -> bool:
    """Whether an output line is ``%track``'s own (a hazard warning under a cell, or the
    line ``%track`` prints when it starts), not the notebook's: outputs saved while the
    tracker ran hold them, a fresh run does not."""
    if line.startswith("nb2pipe "):
        return line[len("nb2pipe "):].split(":", 1)[0] in _KIND_VALUES
    return line.startswith(_TRACKER_LINE_STARTS)


_SEVERITIES = {
    HazardKind.OUT_OF_ORDER: Severity.ERROR,
    HazardKind.STALE: Severity.WARNING,
    HazardKind.EDITED: Severity.WARNING,
    HazardKind.HIDDEN_STATE: Severity.ERROR,
    HazardKind.UNDEFINED_IN_FRESH_KERNEL: Severity.ERROR,
    HazardKind.MUTATION: Severity.WARNING,
    HazardKind.NON_IDEMPOTENT: Severity.WARNING,
    HazardKind.MULTIPLE_DEFINITIONS: Severity.INFO,
    HazardKind.UNSEEDED_RANDOM: Severity.WARNING,
    HazardKind.EXTERNAL_FILE: Severity.WARNING,
}


@dataclass(frozen=True)
class Hazard:
    """One finding about one cell."""

    kind: HazardKind
    cell_index: int | None  #: 0-based position in the notebook (``None``: not in the saved file)
    cell_id: str | None
    names: tuple[str, ...]
    message: str  #: one line, names the cells and names involved
    fix: str  #: one line: what to do about it
    line: int | None = None
    #: what ``%track`` prints under the cell, about 120 characters: the message and the fix
    #: in short (cells by their place only, long lists cut with "+N more"); empty: made from
    #: the message (see :func:`tracker_warning`)
    summary: str = ""

    @property
    def severity(self) -> Severity:
        return self.kind.severity

    @property
    def cell_label(self) -> str:
        position = f"[{self.cell_index + 1}]" if self.cell_index is not None else "[?]"
        return f"{position} {self.cell_id}" if self.cell_id else position

    def to_json(self) -> dict[str, Any]:
        """The ``%track report --json`` / server shape of one hazard."""
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "cell_id": self.cell_id,
            "cell_index": self.cell_index,
            "names": list(self.names),
            "message": self.message,
            "fix": self.fix,
            "line": self.line,
            **({"summary": self.summary} if self.summary else {}),
        }

    def __str__(self) -> str:
        return f"{self.severity.value}: {self.kind.value}: {self.cell_label}: {self.message} Fix: {self.fix}"
