"""What verify found: typed reports per notebook and for the whole run, and their JSON form."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2pipe.analysis import Hazard
from nb2pipe.errors import cell_label
from nb2pipe.model import Output

__all__ = [
    "REPORT_VERSION",
    "DataFile",
    "MaskedCell",
    "MaskedText",
    "Mismatch",
    "NotebookReport",
    "NotebookStatus",
    "Reason",
    "ScriptCheck",
    "ScriptStatus",
    "VerifyReport",
]

#: Version of the JSON report (``docs/verify-report.schema.json``).
REPORT_VERSION = 1


class Reason(str, enum.Enum):
    """Why a notebook does not reproduce (PRODUCT.md §4.5): one per mismatch."""

    OUTPUT_DIFFERS = "output-differs"
    ERROR = "error"
    TIMEOUT = "timeout"
    DEAD_KERNEL = "dead-kernel"
    NONDETERMINISTIC = "nondeterministic"
    OUT_OF_ORDER_SAVED = "out-of-order-saved"
    DATA_CHANGED = "data-changed"
    SCRIPT_DIFFERS = "script-differs"
    SCRIPT_FAILED = "script-failed"


class NotebookStatus(str, enum.Enum):
    REPRODUCES = "reproduces"
    DIFFERS = "differs"
    #: not a notebook verify can run (missing, not JSON, not nbformat 4, not Python)
    INVALID = "invalid"


class ScriptStatus(str, enum.Enum):
    EQUAL = "equal"
    DIFFERS = "differs"
    FAILED = "failed"
    #: ``--no-script``, or the notebook run failed so there is nothing to compare with
    SKIPPED = "skipped"


@dataclass(frozen=True)
class MaskedText:
    """A span of a cell's saved or fresh output that a named rule masked before comparing."""

    rule: str  #: the rule's name: "durations", "progress output", "timestamps", ...
    side: str  #: "saved" or "fresh"
    #: which output: "stdout", "text/plain", "text/html table 1, row 2, column 3"
    output: str
    start: int  #: the span in that output's text
    end: int
    text: str  #: the text the rule masked

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "side": self.side,
            "output": self.output,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }


@dataclass(frozen=True)
class MaskedPair:
    """What one rule masked at the same place of the saved and the fresh output (for reading:
    the n-th span a rule masked in an output on one side goes with the n-th on the other)."""

    rule: str
    output: str
    saved: str | None  #: None: nothing there on that side
    fresh: str | None
    count: int = 1  #: this many identical pairs


@dataclass(frozen=True)
class MaskedCell:
    """A compared cell and every span of its outputs a rule masked before comparing."""

    cell_index: int  #: 0-based position in the saved notebook
    cell_id: str | None
    source: str  #: the cell's first line of code
    differs: bool  #: the cell still differs (a mismatch names it)
    masked: tuple[MaskedText, ...]

    @property
    def cell_label(self) -> str:
        return cell_label(self.cell_index, self.cell_id)

    def pairs(self) -> list[MaskedPair]:
        """The masked spans paired saved with fresh, identical pairs counted once."""
        sides: dict[tuple[str, str], dict[str, list[str]]] = {}
        for span in self.masked:
            key = (span.output, span.rule)
            sides.setdefault(key, {"saved": [], "fresh": []})[span.side].append(span.text)
        counted: dict[tuple[str, str, str | None, str | None], int] = {}
        for (output, rule), texts in sides.items():
            saved, fresh = texts["saved"], texts["fresh"]
            for index in range(max(len(saved), len(fresh))):
                pair = (
                    rule,
                    output,
                    saved[index] if index < len(saved) else None,
                    fresh[index] if index < len(fresh) else None,
                )
                counted[pair] = counted.get(pair, 0) + 1
        return [MaskedPair(*pair, count=count) for pair, count in counted.items()]

    def to_json(self) -> dict[str, Any]:
        return {
            "cell_index": self.cell_index,
            "cell_id": self.cell_id,
            "cell": self.cell_label,
            "differs": self.differs,
            "masked": [span.to_json() for span in self.masked],
        }


@dataclass(frozen=True)
class Mismatch:
    """One failure: a reason from the fixed list, the cell, and what differs."""

    reason: Reason
    cell_index: int | None  #: 0-based position in the saved notebook; None: the notebook as a whole
    cell_id: str | None
    message: str  #: one line
    diff: str = ""  #: compact diff or traceback excerpt
    normalizers: tuple[str, ...] = ()  #: normalizers applied before the outputs still differed
    #: the cell's first line of code, so a reader knows which cell without opening the notebook
    source: str = ""
    #: what the user may do about it (``tag the cell nb2pipe:ignore-output ...``), or empty
    hint: str = ""
    #: saved and fresh outputs of the cell, for the HTML report (not in JSON: images are big)
    saved: tuple[Output, ...] = field(default=(), repr=False, compare=False)
    fresh: tuple[Output, ...] = field(default=(), repr=False, compare=False)

    @property
    def cell_label(self) -> str:
        if self.cell_index is None:
            return "notebook"
        return cell_label(self.cell_index, self.cell_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason.value,
            "cell_index": self.cell_index,
            "cell_id": self.cell_id,
            "cell": self.cell_label,
            "message": self.message,
            "diff": self.diff,
            "normalizers": list(self.normalizers),
            "source": self.source,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class DataFile:
    """A file the fresh run read, with its hash now and the hash stored by ``--update``."""

    path: str  #: relative to the notebook's folder when inside it
    sha256: str | None  #: None: the file is gone
    saved_sha256: str | None = None
    #: position (0-based, saved notebook) of the first cell that read it in the fresh run
    read_by: int | None = None

    @property
    def changed(self) -> bool:
        return self.saved_sha256 is not None and self.saved_sha256 != self.sha256

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "saved_sha256": self.saved_sha256,
            "changed": self.changed,
            "read_by_cell_index": self.read_by,
        }


@dataclass(frozen=True)
class ScriptCheck:
    """Outcome of the script-equivalence step."""

    status: ScriptStatus
    detail: str | None = None
    duration: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "detail": self.detail,
            "duration": round(self.duration, 3),
        }


@dataclass(frozen=True)
class NotebookReport:
    """Everything verify found about one notebook."""

    path: Path
    status: NotebookStatus
    mismatches: tuple[Mismatch, ...] = ()
    #: static findings on the saved notebook (saved order, undefined names, unseeded randomness)
    hazards: tuple[Hazard, ...] = ()
    notes: tuple[str, ...] = ()
    cells_compared: int = 0
    cells_ignored: int = 0
    #: normalizers applied to the compared outputs of the notebook
    normalizers: tuple[str, ...] = ()
    #: the compared cells whose outputs had spans masked before comparing, in notebook order
    masked: tuple[MaskedCell, ...] = ()
    data_files: tuple[DataFile, ...] = ()
    script: ScriptCheck = ScriptCheck(ScriptStatus.SKIPPED)
    duration: float = 0.0
    #: ``--update`` wrote the fresh outputs into the notebook
    updated: bool = False
    #: why the notebook is invalid (status ``invalid``)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is NotebookStatus.REPRODUCES

    def masked_cell(self, index: int | None) -> MaskedCell | None:
        """What was masked in the outputs of the cell at ``index``, if anything."""
        return next((cell for cell in self.masked if cell.cell_index == index), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "status": self.status.value,
            "duration": round(self.duration, 3),
            "cells_compared": self.cells_compared,
            "cells_ignored": self.cells_ignored,
            "normalizers": list(self.normalizers),
            "masked": [cell.to_json() for cell in self.masked],
            "mismatches": [m.to_json() for m in self.mismatches],
            "static_hazards": [h.to_json() for h in self.hazards],
            "notes": list(self.notes),
            "data_files": [f.to_json() for f in self.data_files],
            "script": self.script.to_json(),
            "updated": self.updated,
            "error": self.error,
        }


@dataclass(frozen=True)
class VerifyReport:
    """The reports of every notebook of one ``nb2pipe verify`` run, in the order given."""

    notebooks: tuple[NotebookReport, ...]
    duration: float = 0.0
    rtol: float = 1e-6
    script: bool = True
    #: stopped by Ctrl-C (130) or SIGTERM (143): the exit status; the notebooks are those that
    #: finished before. 0: ran to the end
    interrupted: int = 0
    #: notebooks verify was given (more than ``notebooks`` when interrupted)
    planned: int | None = None

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(report.ok for report in self.notebooks)

    @property
    def exit_code(self) -> int:
        """0 all reproduce, 1 something differs or fails, 2 bad input, 130/143 interrupted."""
        if self.interrupted:
            return self.interrupted
        if any(r.status is NotebookStatus.INVALID for r in self.notebooks):
            return 2
        return 0 if self.ok else 1

    def count(self, status: NotebookStatus) -> int:
        return sum(1 for report in self.notebooks if report.status is status)

    def summary_line(self) -> str:
        total = len(self.notebooks)
        parts = [f"{self.count(NotebookStatus.REPRODUCES)} reproduce"]
        if self.count(NotebookStatus.DIFFERS):
            parts.append(f"{self.count(NotebookStatus.DIFFERS)} differ")
        if self.count(NotebookStatus.INVALID):
            parts.append(f"{self.count(NotebookStatus.INVALID)} invalid")
        noun = "notebook" if total == 1 else "notebooks"
        if self.interrupted:
            planned = self.planned if self.planned is not None else total
            found = f": {', '.join(parts)}" if total else ""
            return (
                f"interrupted: {total} of {planned} notebooks finished{found} "
                f"({self.duration:.1f} s)"
            )
        return f"{total} {noun}: {', '.join(parts)} ({self.duration:.1f} s)"

    def to_json(self) -> dict[str, Any]:
        interrupted = {"interrupted": True} if self.interrupted else {}
        return {
            "version": REPORT_VERSION,
            **interrupted,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "duration": round(self.duration, 3),
            "rtol": self.rtol,
            "script": self.script,
            "summary": {
                "notebooks": len(self.notebooks),
                "reproduce": self.count(NotebookStatus.REPRODUCES),
                "differ": self.count(NotebookStatus.DIFFERS),
                "invalid": self.count(NotebookStatus.INVALID),
            },
            "notebooks": [report.to_json() for report in self.notebooks],
        }
