"""``%track`` reuses the analysis of a saved cell's source (``analysis.parse``) for a cell run as
saved: on real notebooks, that analysis equals the walk of the tree IPython makes."""

from __future__ import annotations

import ast

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell

from nb2pipe.analysis import gather_cell_symbols
from nb2pipe.analysis.parse import analysed_symbols, parse_cell
from nb2pipe.model import Cell, CellKind
from nb2pipe.tracking.recorder import _as_typed

from ..conftest import CORPUS


def _code_cells() -> list[tuple[str, str]]:
    out = []
    for path in sorted(CORPUS.glob("*/**/*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        out += [
            (f"{path.relative_to(CORPUS)}[{index}]", cell.source)
            for index, cell in enumerate(notebook.cells)
            if cell.cell_type == "code"
        ]
    return out


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::SyntaxWarning")
def test_the_saved_analysis_is_the_walk_of_ipythons_tree() -> None:
    cells = _code_cells()
    if not cells:
        pytest.skip(f"no corpus at {CORPUS}")
    shell = InteractiveShell.instance()
    reused = walked = 0
    for name, source in cells:
        parse_cell(Cell(index=0, kind=CellKind.CODE, source=source, id=None), may_fail=True)
        transformed = shell.transform_cell(source)
        symbols = analysed_symbols(source)
        if not _as_typed(source, transformed):
            walked += 1
            continue
        try:
            tree = ast.parse(transformed)
        except SyntaxError:
            assert symbols is None, name  # not Python: nothing to reuse
            continue
        if symbols is None:
            walked += 1  # e.g. nested deeper than the analysis parses
            continue
        reused += 1
        assert symbols == gather_cell_symbols(tree), name
    # most cells of real notebooks are plain Python; magics, shell escapes and one-line
    # automagic calls are walked as IPython transformed them
    assert reused > 5 * walked > 0, (reused, walked)
    print(f"{reused} cells reuse the saved analysis, {walked} are walked")


@pytest.mark.parametrize("source, transformed, as_typed", [
    ("x = 1", "x = 1\n", True),
    ("x = 1\n\n", "x = 1\n", True),
    ("\n\nx = 1", "x = 1\n", False),  # leading blank lines dropped: other line numbers
    ("%time x = 1", "get_ipython().run_line_magic('time', 'x = 1')\n", False),
    ("ls", "get_ipython().run_line_magic('ls', '')\n", False),  # automagic
    ("x = 1", None, False),  # an IPython that does not say what it ran
])
def test_as_typed(source: str, transformed: str | None, as_typed: bool) -> None:
    assert _as_typed(source, transformed) is as_typed
