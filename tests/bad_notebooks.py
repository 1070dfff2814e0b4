"""Bad notebooks of every class, generated on disk, and what each surface must do with them.

One catalogue for the three surfaces that read notebooks (``nb2pipe export``, ``nb2pipe
verify`` and ``POST /nb2pipe/export``): each reads through :func:`nb2pipe.model.load_notebook`,
so each must give the same one-line refusal (or the same acceptance) for every class here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

MB = 1024 * 1024


def notebook(*sources: str, metadata: dict[str, Any] | None = None, minor: int = 5,
             ids: list[str] | None = None) -> dict[str, Any]:
    """nbformat 4 JSON of code cells ``sources`` (ids ``c0``, ``c1``, ... unless ``ids``)."""
    cells = [
        {"cell_type": "code", "id": ids[i] if ids else f"c{i}", "metadata": {}, "source": source,
         "outputs": [], "execution_count": None}
        for i, source in enumerate(sources)
    ]
    if metadata is None:
        metadata = {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        }
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": minor}


def _text(path: Path, data: dict[str, Any] | str) -> None:
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=1),
                    encoding="utf-8")


def truncated(path: Path) -> None:
    """A save cut short inside a string: the position must survive into the message."""
    text = json.dumps(notebook("x = 1", "print('a rather long string, cut here')"), indent=1)
    _text(path, text[: text.index("cut here")])


def python_source(path: Path) -> None:
    _text(path, "import os\n\nprint(os.getcwd())\n")


def binary(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)


def nul_in_cell(path: Path) -> None:
    _text(path, notebook("x = 1", "y = 2\nz = 'a\x00b'\nprint(z)"))


def huge(path: Path) -> None:
    """500 MB on disk but sparse: costs no disk, and a loader that reads it all is caught by
    the memory and time it takes."""
    _text(path, notebook("x = 1"))
    with path.open("r+b") as file:
        file.truncate(500 * MB)


def deep_code(path: Path) -> None:
    """An expression chain deep enough that a recursive tree walk hits the recursion limit."""
    _text(path, notebook("x = 1", "y = " + " + ".join(["x"] * 500)))


def deep_parser(path: Path) -> None:
    """Deeper still: CPython's own parser gives up (MemoryError / RecursionError)."""
    _text(path, notebook("x = 1", "y = " + "-" * 100_000 + "x"))


def deep_json(path: Path) -> None:
    """Metadata nested deeper than ``json.loads`` recurses."""
    data = json.dumps(notebook("x = 1"))
    _text(path, data.replace('"metadata": {}', '"metadata": {"a": ' + "[" * 100_000
                             + "]" * 100_000 + "}", 1))


def nbformat_minor_99(path: Path) -> None:
    _text(path, notebook("x = 1", "print(x)", minor=99))


def nbformat_5(path: Path) -> None:
    data = notebook("x = 1")
    data["nbformat"], data["nbformat_minor"] = 5, 0
    _text(path, data)


def duplicate_ids(path: Path) -> None:
    _text(path, notebook("x = 1", "print(x)", "print(x + 1)", ids=["a", "b", "a"]))


def no_kernelspec(path: Path) -> None:
    _text(path, notebook("x = 1", "print(x)", metadata={}))


PYTHON_2_METADATA = {
    "kernelspec": {"name": "python2", "display_name": "Python 2", "language": "python"},
    "language_info": {"name": "python", "version": "2.7.18",
                      "codemirror_mode": {"name": "ipython", "version": 2}},
}


def python_2(path: Path) -> None:
    """A Python 2 notebook whose code is Python 3 too: exported, with a line saying `/`,
    `print` and `str` may differ (verify runs it on Python 3 and compares)."""
    _text(path, notebook("x = 1", "print(x)", metadata=PYTHON_2_METADATA))


def invalid_utf8(path: Path) -> None:
    data = json.dumps(notebook("x = 1", "name = 'José'"), indent=1, ensure_ascii=False)
    path.write_bytes(data.encode().replace("é".encode(), b"\xe9"))


def byte_order_mark(path: Path) -> None:
    """Windows editors write one; nbformat (Jupyter, papermill) cannot read the file then."""
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(notebook("x = 1")).encode())


@dataclass(frozen=True)
class BadCase:
    id: str
    write: Callable[[Path], None]
    #: words the one-line refusal holds; empty: the notebook is accepted (exported, verified)
    refusal: tuple[str, ...] = ()
    file_name: str = "bad.ipynb"
    #: words no surface may show for it (the old, misleading message)
    not_in: tuple[str, ...] = field(default=())
    #: words one line of an accepted notebook's notes (export summary, verify report) holds
    note: str | None = None

    @property
    def accepted(self) -> bool:
        return not self.refusal


CASES = [
    BadCase("truncated-json", truncated,
            ("invalid JSON at line 15 column 14", "a string starts there and never ends",
             "cut short"), not_in=("starting at",)),
    BadCase("python-file", python_source, ("not a notebook", "Python source"),
            file_name="analysis.py", not_in=("invalid JSON",)),
    BadCase("python-source-named-ipynb", python_source, ("not a notebook", "Python source"),
            not_in=("invalid JSON",)),
    BadCase("binary-file", binary, ("not a notebook", "binary file"), not_in=("UTF-8",)),
    BadCase("nul-in-cell", nul_in_cell,
            ("cell 2 (id c1), line 2", "NUL character", "column 7")),
    BadCase("500-MB", huge, ("500 MB", "larger than the 256 MB limit", "--max-size")),
    BadCase("nested-past-the-recursion-limit", deep_code,
            ("cell 2 (id c1), line 1", "nested too deeply")),
    BadCase("nested-past-the-parser", deep_parser, ("cell 2 (id c1)", "nested too deeply")),
    BadCase("json-nested-past-the-recursion-limit", deep_json,
            ("JSON is nested too deeply",)),
    BadCase("nbformat-4.99", nbformat_minor_99),
    BadCase("nbformat-5", nbformat_5, ("nbformat 5.0", "newer than")),
    BadCase("duplicate-cell-ids", duplicate_ids,
            note="cell 3: id 'a' is also cell 1's; it is named by position"),
    BadCase("no-kernelspec", no_kernelspec),
    BadCase("python-2-kernel", python_2,
            note="saved by a Python 2 kernel (kernelspec 'python2'): `/`, `print` and `str` "
                 "may differ; `nb2pipe verify` checks it"),
    BadCase("utf-8-byte-order-mark", byte_order_mark, ("byte-order mark",)),
    BadCase("invalid-utf-8", invalid_utf8, ("not UTF-8 text at line 15 column 26", "byte 0xe9")),
]

REFUSED = [case for case in CASES if not case.accepted]
ACCEPTED = [case for case in CASES if case.accepted]


def write_case(case: BadCase, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / case.file_name
    case.write(path)
    return path


def one_hundred_thousand_cells(path: Path, cells: int = 100_000) -> None:
    """A notebook of ``cells`` small code cells (each reads the one before)."""
    sources = ["x0 = 0"] + [f"x{i} = x{i - 1} + 1" for i in range(1, cells - 1)]
    sources.append(f"print(x{cells - 2})")
    path.write_text(json.dumps(notebook(*sources)), encoding="utf-8")
