"""The typed, immutable notebook model every layer of nb2pipe works on."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Mapping

from nb2pipe.errors import CellLocation, cell_label
from nb2pipe.model.tags import CellRole

__all__ = ["Cell", "CellKind", "Notebook", "Output", "source_digest"]


class CellKind(str, enum.Enum):
    CODE = "code"
    MARKDOWN = "markdown"
    RAW = "raw"


@dataclass(frozen=True)
class Output:
    """One saved output of a code cell (nbformat v4 output, typed)."""

    output_type: str  #: "stream", "execute_result", "display_data" or "error"
    name: str | None = None  #: stream name ("stdout"/"stderr") for streams
    text: str | None = None  #: stream text
    data: Mapping[str, str] = field(default_factory=dict)  #: MIME type -> content (joined)
    execution_count: int | None = None
    ename: str | None = None
    evalue: str | None = None
    traceback: tuple[str, ...] = ()


def source_digest(source: str) -> str:
    """The one hash of a cell's source: how ``%track``'s history, its code store and the
    notebook model name a version of a cell's code (16 hex digits of SHA-256; lone
    surrogates, which a frontend can send, are kept)."""
    digest = _SHA256.copy()  # copying a fresh hash skips OpenSSL's per-hash lookup (half the cost)
    digest.update(source.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


_SHA256 = hashlib.sha256()


#: Error outputs that do not show the code raises: the user interrupted it, or it ended the run.
_NOT_RAISED = frozenset({"KeyboardInterrupt", "SystemExit"})


@dataclass(frozen=True)
class Cell:
    """A notebook cell. ``index`` is its 0-based position among all cells of the notebook."""

    index: int
    kind: CellKind
    source: str
    id: str | None = None
    tags: tuple[str, ...] = ()
    role: CellRole = field(default_factory=CellRole)
    execution_count: int | None = None
    outputs: tuple[Output, ...] = ()

    @property
    def is_code(self) -> bool:
        return self.kind is CellKind.CODE

    @property
    def saved_error(self) -> Output | None:
        """The error the saved outputs show the cell raised (an interrupt or exit is none)."""
        for output in self.outputs:
            if output.output_type == "error" and output.ename not in _NOT_RAISED:
                return output
        return None

    def expects_error(self, strict_errors: bool = False) -> bool:
        """Whether running the cell should raise: it is tagged ``raises-exception``, or its
        saved outputs hold an error (teaching notebooks raise on purpose), unless
        ``strict_errors``."""
        return self.role.raises_exception or (not strict_errors and self.saved_error is not None)

    @property
    def first_line(self) -> str:
        """The first line of code (or text) in the cell, shortened: how reports quote it."""
        for line in self.source.splitlines():
            text = line.strip()
            if text:
                return text if len(text) <= 80 else text[:77] + "..."
        return ""

    @cached_property
    def source_hash(self) -> str:
        """:func:`source_digest` of the source (computed once: ``%track`` asks it per cell)."""
        return source_digest(self.source)

    def location(self, path: Path | None, line: int | None = None) -> CellLocation:
        return CellLocation(path, self.index, self.id, line)

    @property
    def label(self) -> str:
        """How messages name this cell: ``cell 3 (id ab12)``, 1-based like the UI shows."""
        return cell_label(self.index, self.id)


@dataclass(frozen=True)
class Notebook:
    """A loaded notebook: its cells and the metadata nb2pipe needs."""

    cells: tuple[Cell, ...]
    path: Path | None = None
    kernel_name: str | None = None
    language: str = "python"
    nbformat: tuple[int, int] = (4, 5)
    #: the Python version the notebook last ran with (``metadata.language_info.version``)
    language_version: str | None = None
    #: what was odd but readable, one line each (``cell 3: id 'a' is also cell 1's; ...``)
    warnings: tuple[str, ...] = ()
    #: how the metadata says a Python 2 kernel saved the notebook (``kernelspec 'python2'``),
    #: or ``None``: its code is read as Python 3, and its saved outputs may not be Python 3's
    python_2: str | None = None

    @property
    def code_cells(self) -> tuple[Cell, ...]:
        return tuple(cell for cell in self.cells if cell.is_code)

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else "notebook.ipynb"

    @property
    def stem(self) -> str:
        return self.path.stem if self.path is not None else "notebook"

    @property
    def title(self) -> str | None:
        """The text of the first Markdown heading, if any."""
        for cell in self.cells:
            if cell.kind is not CellKind.MARKDOWN:
                continue
            for line in cell.source.splitlines():
                stripped = line.strip()
                if stripped.startswith("#"):
                    text = stripped.lstrip("#").strip()
                    if text:
                        return text
        return None

    def cell_by_id(self, cell_id: str) -> Cell | None:
        for cell in self.cells:
            if cell.id == cell_id:
                return cell
        return None
