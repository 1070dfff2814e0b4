"""Read a notebook file into the typed model: the only code that touches nbformat JSON.

The JSON is read with the standard library rather than ``nbformat.read``: importing nbformat
pulls in jsonschema's format checkers, which cost about 1.5 s on our CI machines — more than
the whole export of a 1,000-cell notebook. The structure checks below are the ones whose
failure would otherwise surface as a ``KeyError`` deep in the exporter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from nb2pipe.errors import CellLocation, NotebookLoadError, TagError
from nb2pipe.model.notebook import Cell, CellKind, Notebook, Output
from nb2pipe.model.tags import InvalidTag, parse_tags

__all__ = ["load_notebook", "notebook_from_json"]

_PYTHON_LANGUAGES = frozenset({"python", "python3", "ipython", "ipython3"})


def load_notebook(path: str | Path) -> Notebook:
    """Read and check the notebook at ``path``.

    Raises
    ------
    NotebookLoadError
        The path is missing or a directory, the file is empty or not JSON, not a notebook,
        older than nbformat 4, or its kernel is not Python.
    TagError
        A cell carries an unknown ``nb2pipe:`` tag or a malformed step tag.
    """
    path = Path(path)
    where = CellLocation(path)
    if path.is_dir():
        raise NotebookLoadError(where, "is a directory, not a notebook")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotebookLoadError(where, "no such file") from None
    except UnicodeDecodeError as exc:
        raise NotebookLoadError(where, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise NotebookLoadError(where, f"cannot read: {exc.strerror}") from None
    return notebook_from_json(text, path)


def notebook_from_json(content: str | Mapping[str, Any], path: Path | None = None) -> Notebook:
    """Build a :class:`Notebook` from notebook JSON text or an already decoded mapping."""
    where = CellLocation(path)
    if isinstance(content, str):
        if not content.strip():
            raise NotebookLoadError(where, "the file is empty")
        try:
            data = json.loads(content)
        except json.JSONDecodeError as exc:
            raise NotebookLoadError(
                where, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
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
    metadata = data.get("metadata") or {}
    kernelspec = metadata.get("kernelspec") or {}
    language_info = metadata.get("language_info") or {}
    language = str(kernelspec.get("language") or language_info.get("name") or "python")
    kernel_name = kernelspec.get("name")
    if language.lower() not in _PYTHON_LANGUAGES:
        kernel = f"kernel {kernel_name!r} " if kernel_name else "the kernel "
        raise NotebookLoadError(where, f"{kernel}runs {language}; nb2pipe handles Python notebooks")
    cells = tuple(_read_cell(index, raw, path) for index, raw in enumerate(data["cells"]))
    return Notebook(
        cells=cells,
        path=path,
        kernel_name=str(kernel_name) if kernel_name else None,
        language=language,
        nbformat=(major, minor),
    )


def _join(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return "" if value is None else str(value)


def _read_cell(index: int, raw: Any, path: Path | None) -> Cell:
    if not isinstance(raw, Mapping):
        raise NotebookLoadError(CellLocation(path, index), "the cell is not a JSON object")
    cell_id = raw.get("id")
    cell_id = str(cell_id) if cell_id else None
    where = CellLocation(path, index, cell_id)
    try:
        kind = CellKind(raw.get("cell_type"))
    except ValueError:
        raise NotebookLoadError(where, f"unknown cell type {raw.get('cell_type')!r}") from None
    metadata = raw.get("metadata") or {}
    tags = metadata.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise NotebookLoadError(where, "metadata.tags must be a list of strings")
    try:
        role = parse_tags(tags)
    except InvalidTag as exc:
        raise TagError(where, str(exc)) from None
    outputs: tuple[Output, ...] = ()
    execution_count = None
    if kind is CellKind.CODE:
        outputs = tuple(_read_output(out) for out in raw.get("outputs") or [] if isinstance(out, Mapping))
        count = raw.get("execution_count")
        execution_count = count if isinstance(count, int) else None
    return Cell(
        index=index,
        kind=kind,
        source=_join(raw.get("source")),
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


def _read_output(raw: Mapping[str, Any]) -> Output:
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
