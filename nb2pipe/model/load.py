"""Read a notebook file into the typed model: the only code that touches nbformat JSON.

The JSON is read with the standard library rather than ``nbformat.read``: importing nbformat
pulls in jsonschema's format checkers, which cost about 1.5 s on our CI machines — more than
the whole export of a 1,000-cell notebook. The structure checks below are the ones whose
failure would otherwise surface as a ``KeyError`` deep in the exporter.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

from nb2pipe.errors import CellLocation, NotebookLoadError, TagError
from nb2pipe.model.notebook import Cell, CellKind, Notebook, Output
from nb2pipe.model.tags import InvalidTag, parse_tags

__all__ = [
    "DEFAULT_MAX_SIZE",
    "decode_notebook_bytes",
    "load_notebook",
    "notebook_from_json",
    "output_from_json",
]

_PYTHON_LANGUAGES = frozenset({"python", "python3", "ipython", "ipython3"})


#: Notebooks larger than this are refused before they are read (``--max-size`` raises it): a
#: 256 MB notebook is already far past what Jupyter opens comfortably (outputs full of images),
#: and reading one costs several times its size in memory (text, JSON objects, the model).
DEFAULT_MAX_SIZE = 256 * 1024 * 1024

#: Kernel names of Python 2 (``language`` says only "python")
_PYTHON_2_KERNELS = frozenset({"python2", "python27", "python2.7"})


def load_notebook(path: str | Path, *, max_size: int | None = DEFAULT_MAX_SIZE) -> Notebook:
    """Read and check the notebook at ``path``.

    ``max_size``: refuse files larger than this many bytes before reading them (``None``: no
    limit).

    Raises
    ------
    NotebookLoadError
        The path is missing or a directory, too large, binary, not UTF-8, empty or not JSON
        (the message gives the line and column), not a notebook, not nbformat 4, its kernel is
        not Python (a Python 2 kernel's notebook is read: see :attr:`Notebook.python_2`), or a
        cell holds a NUL character.
    TagError
        A cell carries an unknown ``nb2pipe:`` tag or a malformed step tag.
    """
    path = Path(path)
    where = CellLocation(path)
    if path.is_dir():
        raise NotebookLoadError(where, "is a directory, not a notebook")
    if path.exists() and not path.is_file():  # a FIFO would block, a device never end
        raise NotebookLoadError(where, "is not a regular file, not a notebook")
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            if max_size is not None and size > max_size:
                raise NotebookLoadError(where, _too_large(size, max_size))
            # read at most one byte past the limit: a file that grows meanwhile, or a
            # device with no size, is refused all the same without reading it all
            raw = file.read(max_size + 1) if max_size is not None else file.read()
    except FileNotFoundError:
        raise NotebookLoadError(where, "no such file") from None
    except OSError as exc:
        raise NotebookLoadError(where, f"cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # a path with NUL in it (from an API caller, not a shell)
        raise NotebookLoadError(where, f"cannot read: {exc}") from None
    if max_size is not None and len(raw) > max_size:
        raise NotebookLoadError(where, _too_large(len(raw), max_size))
    return notebook_from_json(decode_notebook_bytes(raw, path), path)


def _too_large(size: int, limit: int) -> str:
    return (
        f"is {_megabytes(size)}, larger than the {_megabytes(limit)} limit for notebooks "
        "(--max-size MB raises it)"
    )


def _megabytes(size: int) -> str:
    megabytes = size / (1024 * 1024)
    return f"{megabytes:.0f} MB" if megabytes >= 10 else f"{megabytes:.1f} MB"


def decode_notebook_bytes(raw: bytes, path: Path | None = None) -> str:
    """The text of a notebook file: UTF-8 without a byte-order mark, not binary.

    Raises
    ------
    NotebookLoadError
        The bytes hold a NUL (a binary file: JSON text never does), start with a byte-order
        mark, or are not UTF-8; the message gives the line and column.
    """
    where = CellLocation(path)
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise NotebookLoadError(
            where, f"not a notebook: a binary file (a NUL byte at offset {nul}; notebooks are "
            "JSON text)"
        )
    if raw.startswith(b"\xef\xbb\xbf"):
        # nbformat (so Jupyter and papermill) cannot read it: refused here too, so that
        # export and verify agree
        raise NotebookLoadError(
            where, "starts with a UTF-8 byte-order mark, which Jupyter cannot read; remove it"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line = raw.count(b"\n", 0, start) + 1
        line_start = raw.rfind(b"\n", 0, start) + 1
        column = len(raw[line_start:start].decode("utf-8", errors="replace")) + 1
        raise NotebookLoadError(
            where,
            f"not UTF-8 text at line {line} column {column}: byte 0x{raw[start]:02x} "
            f"({exc.reason}; offset {start})",
        ) from None


def notebook_from_json(content: str | Mapping[str, Any], path: Path | None = None) -> Notebook:
    """Build a :class:`Notebook` from notebook JSON text or an already decoded mapping."""
    where = CellLocation(path)
    if isinstance(content, str):
        if not content.strip():
            raise NotebookLoadError(where, "the file is empty")
        data = _decode_json(content, path)
    else:
        data = content
    if not isinstance(data, Mapping) or not isinstance(data.get("cells"), list):
        if isinstance(data, Mapping) and isinstance(data.get("worksheets"), list):
            raise NotebookLoadError(
                where,
                "nbformat 3 is not supported; upgrade it with "
                "`jupyter nbconvert --to notebook --inplace`",
            )
        raise NotebookLoadError(where, "not a Jupyter notebook (no 'cells' list)")
    major = data.get("nbformat")
    minor = data.get("nbformat_minor", 0)
    if not isinstance(major, int) or not isinstance(minor, int):
        raise NotebookLoadError(where, "not a Jupyter notebook (no nbformat version)")
    if major < 4:
        raise NotebookLoadError(
            where,
            f"nbformat {major} is not supported; upgrade it with "
            "`jupyter nbconvert --to notebook --inplace`",
        )
    if major > 4:
        # a newer *minor* version is read as the newest one known, as nbformat does (minor
        # versions only add optional fields); a newer major version may mean anything
        raise NotebookLoadError(
            where,
            f"nbformat {major}.{minor} is newer than nbformat 4, the newest nb2pipe reads",
        )
    metadata = data.get("metadata")
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, Mapping):
        raise NotebookLoadError(where, f"'metadata' must be an object, not {_json_type(metadata)}")
    kernelspec = metadata.get("kernelspec") or {}
    language_info = metadata.get("language_info") or {}
    for key, value in (("kernelspec", kernelspec), ("language_info", language_info)):
        if not isinstance(value, Mapping):
            raise NotebookLoadError(
                where, f"metadata.{key} must be an object, not {_json_type(value)}"
            )
    language = str(kernelspec.get("language") or language_info.get("name") or "python")
    kernel_name = kernelspec.get("name")
    if language.lower() not in _PYTHON_LANGUAGES:
        kernel = f"kernel {kernel_name!r} " if kernel_name else "the kernel "
        raise NotebookLoadError(where, f"{kernel}runs {language}; nb2pipe handles Python notebooks")
    # a Python 2 kernel's notebook is read all the same: its code is refused only where it is
    # Python 2 syntax (the analysis names it), and where it is also Python 3 the outputs may
    # differ, which the summary says and verify checks
    python_2 = _python_2(kernelspec, language_info)
    cells, warnings = _unique_ids(
        tuple(_read_cell(index, raw, path) for index, raw in enumerate(data["cells"]))
    )
    if python_2:
        warnings = (_python_2_warning(python_2), *warnings)
    return Notebook(
        cells=cells,
        path=path,
        kernel_name=str(kernel_name) if kernel_name else None,
        language=language,
        nbformat=(major, minor),
        language_version=_version(language_info.get("version")),
        warnings=warnings,
        python_2=python_2,
    )


def _python_2_warning(how: str) -> str:
    """The summary's line for a notebook saved by a Python 2 kernel (``how``: what says so)."""
    return (
        f"saved by a Python 2 kernel ({how}): `/`, `print` and `str` may differ; "
        "`nb2pipe verify` checks it"
    )


def _decode_json(content: str, path: Path | None) -> Any:
    """``json.loads(content)``, failing with the line and column and a readable cause."""
    where = CellLocation(path)
    stripped = content.lstrip()
    if not stripped.startswith(("{", "[")):
        if (path is not None and path.suffix == ".py") or _is_python(content):
            raise NotebookLoadError(
                where,
                "not a notebook: Python source (a notebook is JSON, saved as .ipynb; "
                "`jupytext --to ipynb` converts a percent-format script)",
            )
    try:
        return json.loads(content)
    except json.JSONDecodeError as exc:
        cause = exc.msg
        if cause.startswith("Unterminated string"):
            cause = "a string starts there and never ends"
        elif cause.endswith(" at"):  # "Invalid control character at": the position follows
            cause = cause[: -len(" at")] + " there"
        if cause.startswith("a string starts") or exc.pos >= len(content.rstrip()):
            cause += "; the file is cut short (an interrupted save?)"
        raise NotebookLoadError(
            where, f"invalid JSON at line {exc.lineno} column {exc.colno}: {cause}"
        ) from None
    except RecursionError:
        raise NotebookLoadError(
            where, "the JSON is nested too deeply to read (past Python's recursion limit)"
        ) from None


def _is_python(content: str) -> bool:
    """Whether text that is not JSON reads as a Python module (a script given as a notebook).

    Compiled rather than parsed into a tree: a code object needs no ``ast`` objects (and
    so not the lock around building them, see ``nb2pipe.analysis.syntax``).
    """
    text = content.strip()
    if len(text) > 1_000_000 or not text or text.isidentifier():  # one word is not a script
        return False
    try:
        compile(text, "<notebook>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _python_2(kernelspec: Mapping[str, Any], language_info: Mapping[str, Any]) -> str | None:
    """How the metadata says the kernel is Python 2, or ``None``."""
    name = str(kernelspec.get("name") or "").lower()
    if name in _PYTHON_2_KERNELS:
        return f"kernelspec {kernelspec.get('name')!r}"
    version = language_info.get("version")
    if isinstance(version, str) and version.split(".")[0] == "2":
        return f"language_info.version {version}"
    mode = language_info.get("codemirror_mode")
    if isinstance(mode, Mapping) and mode.get("version") == 2:
        return "language_info.codemirror_mode version 2"
    return None


def _unique_ids(cells: tuple[Cell, ...]) -> tuple[tuple[Cell, ...], tuple[str, ...]]:
    """Cells whose id repeats an earlier cell's lose it (named by position), with a warning.

    nbformat repairs such a notebook when it reads it (a new random id, and a warning); the
    ids are not ours to invent (an export must not change between runs), so the later cells
    go by position until Jupyter saves the repaired notebook.
    """
    seen: dict[str, Cell] = {}
    out: list[Cell] = []
    warnings: list[str] = []
    for cell in cells:
        if cell.id is not None and cell.id in seen:
            warnings.append(
                f"cell {cell.index + 1}: id {cell.id!r} is also cell {seen[cell.id].index + 1}'s; "
                f"it is named by position (Jupyter gives it a new id when it saves)"
            )
            cell = replace(cell, id=None)
        elif cell.id is not None:
            seen[cell.id] = cell
        out.append(cell)
    return tuple(out), tuple(warnings)


def _version(value: Any) -> str | None:
    """``major.minor`` of a ``language_info.version`` such as ``3.11.7``, if it is one."""
    parts = str(value).split(".") if isinstance(value, str) else []
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
        return f"{parts[0]}.{parts[1]}"
    return None


def _join(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return "" if value is None else str(value)


def _json_type(value: Any) -> str:
    """The JSON name of ``value``'s type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, Mapping) else type(value).__name__


def _is_text(value: Any) -> bool:
    """nbformat's ``multiline_string``: a string or a list of strings."""
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(part, str) for part in value)
    )


def _check_cell(raw: Mapping[str, Any], kind: CellKind) -> str | None:
    """What is wrong with the field types of a cell, by the nbformat 4 schema, or ``None``.

    A cheap stand-in for nbformat's validation (see the module docstring): the fields nb2pipe
    and papermill read must have the schema's types, so a bad one is reported here with its
    cell instead of failing later (``"source": null`` used to crash the verify run).
    """
    if "source" not in raw:
        return "the cell has no 'source'"
    if not _is_text(raw["source"]):
        return f"'source' must be a string or a list of strings, not {_json_type(raw['source'])}"
    if "metadata" in raw and not isinstance(raw["metadata"], Mapping):
        return f"'metadata' must be an object, not {_json_type(raw['metadata'])}"
    tags = (raw.get("metadata") or {}).get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        return "metadata.tags must be a list of strings"
    if "attachments" in raw and not isinstance(raw["attachments"], Mapping):
        return f"'attachments' must be an object, not {_json_type(raw['attachments'])}"
    if kind is not CellKind.CODE:
        return None
    count = raw.get("execution_count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        return f"'execution_count' must be an integer or null, not {_json_type(count)}"
    outputs = raw.get("outputs", [])
    if not isinstance(outputs, list):
        return f"'outputs' must be an array, not {_json_type(outputs)}"
    for number, output in enumerate(outputs, 1):
        problem = _check_output(output)
        if problem:
            return f"output {number}: {problem}"
    return None


def _check_output(raw: Any) -> str | None:
    if not isinstance(raw, Mapping):
        return f"must be an object, not {_json_type(raw)}"
    if not isinstance(raw.get("output_type"), str):
        return "'output_type' must be a string"
    if "text" in raw and not _is_text(raw["text"]):
        return f"'text' must be a string or a list of strings, not {_json_type(raw['text'])}"
    if "data" in raw and not isinstance(raw["data"], Mapping):
        return f"'data' must be an object, not {_json_type(raw['data'])}"
    if "traceback" in raw and not (
        isinstance(raw["traceback"], list) and all(isinstance(x, str) for x in raw["traceback"])
    ):
        return "'traceback' must be a list of strings"
    return None


def _read_cell(index: int, raw: Any, path: Path | None) -> Cell:
    if not isinstance(raw, Mapping):
        raise NotebookLoadError(CellLocation(path, index), "the cell is not a JSON object")
    cell_id = raw.get("id")
    if cell_id is not None and not isinstance(cell_id, str):
        raise NotebookLoadError(
            CellLocation(path, index), f"'id' must be a string, not {_json_type(cell_id)}"
        )
    cell_id = cell_id or None
    where = CellLocation(path, index, cell_id)
    try:
        kind = CellKind(raw.get("cell_type"))
    except ValueError:
        raise NotebookLoadError(where, f"unknown cell type {raw.get('cell_type')!r}") from None
    problem = _check_cell(raw, kind)
    if problem:
        raise NotebookLoadError(where, problem)
    source = _join(raw["source"])
    nul = source.find("\x00")
    if nul >= 0:
        line = source.count("\n", 0, nul) + 1
        column = nul - (source.rfind("\n", 0, nul) + 1) + 1
        raise NotebookLoadError(
            CellLocation(path, index, cell_id, line),
            f"a NUL character (\\u0000) at column {column}: cells hold text, and Python "
            "refuses source with NUL in it",
        )
    metadata = raw.get("metadata") or {}
    tags = metadata.get("tags", [])
    try:
        role = parse_tags(tags)
    except InvalidTag as exc:
        raise TagError(where, str(exc)) from None
    outputs: tuple[Output, ...] = ()
    execution_count = None
    if kind is CellKind.CODE:
        outputs = tuple(output_from_json(out) for out in raw.get("outputs", []))
        execution_count = raw.get("execution_count")
    return Cell(
        index=index,
        kind=kind,
        source=source,
        id=cell_id,
        tags=tuple(tags),
        role=role,
        execution_count=execution_count,
        outputs=outputs,
    )


def _mime_text(value: Any) -> str:
    """MIME bundle values are strings, lists of strings, or JSON (``application/json``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    return json.dumps(value, sort_keys=True)


def output_from_json(raw: Mapping[str, Any]) -> Output:
    """One nbformat v4 output (as saved, or as a kernel message's content shaped like one)."""
    data = raw.get("data") or {}
    count = raw.get("execution_count")
    return Output(
        output_type=str(raw.get("output_type", "")),
        name=raw.get("name"),
        text=_join(raw.get("text")) if "text" in raw else None,
        data={str(mime): _mime_text(value) for mime, value in data.items()},
        execution_count=count if isinstance(count, int) else None,
        ename=raw.get("ename"),
        evalue=raw.get("evalue"),
        traceback=tuple(str(line) for line in raw.get("traceback") or ()),
    )
