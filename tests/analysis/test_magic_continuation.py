"""A line magic's arguments over several lines: one magic after a `\\`, never inside brackets.

IPython's input transformers end a ``%magic`` or ``!command`` at the end of its line unless the
line ends with ``\\`` (``find_end_of_continued_line``); open brackets do not carry it on. Each
case is checked against IPython's own shell as well as against the analysis, so that the day
IPython joins such lines these tests say so.
"""

from __future__ import annotations

import json

import pytest
from IPython.core.interactiveshell import InteractiveShell

from nb2pipe.analysis import MagicKind, analyze_notebook
from nb2pipe.errors import CellParseError
from nb2pipe.model import notebook_from_json

from ..conftest import notebook_json

SETUP = "import numpy as np\nx = np.arange(4.0)\nfrom math import fsum as f"


def analysed(*cells: str):
    return analyze_notebook(notebook_from_json(json.dumps(notebook_json(*cells)), None)).cells


def ipython_runs(*cells: str) -> bool:
    """Whether IPython's shell (what ipykernel runs a cell with) runs every cell cleanly."""
    shell = InteractiveShell.instance()
    shell.reset()
    return all(shell.run_cell(cell, silent=True).success for cell in cells)


#: cell -> the magic as IPython reads it (kind, name, arguments, line)
CONTINUED = {
    "%timeit -n 1 -r 1 np.fromiter((v for v in x), \\\n    dtype=x.dtype, count=len(x))": (
        MagicKind.LINE, "timeit",
        "-n 1 -r 1 np.fromiter((v for v in x),      dtype=x.dtype, count=len(x))", 1,
    ),
    "%time total = f([1, \\\n                 2])\nprint(total)": (
        MagicKind.LINE, "time", "total = f([1,                   2])", 1,
    ),
    "y = 2\nvalue = %time f(\\\n    [y, 3])": (MagicKind.LINE, "time", "f(     [y, 3])", 2),
    "for i in range(2):\n    %time f([i, \\\n        1])": (
        MagicKind.LINE, "time", "f([i,          1])", 2,
    ),
    "!echo one \\\n  two": (MagicKind.SYSTEM, "", "echo one    two", 1),
    "%env GREETING=hello \\\n  world": (MagicKind.LINE, "env", "GREETING=hello    world", 1),
}


@pytest.mark.parametrize("source", CONTINUED, ids=range(len(CONTINUED)))
def test_a_trailing_backslash_continues_a_magic_as_ipython_does(source: str) -> None:
    cell = analysed(SETUP, source)[1]
    [magic] = cell.symbols.magics
    assert (magic.kind, magic.name, magic.args, magic.line) == CONTINUED[source]
    assert ipython_runs(SETUP, source)


#: cell -> the refusal: the magic as IPython ended it, and its line
CUT = {
    # the idiom of the Python Data Science Handbook's "eval and query" chapter
    "%timeit np.fromiter((v for v in x),\n                    dtype=x.dtype, count=len(x))":
        "line 2: `%timeit np.fromiter((v for v in x),` (line 1) ends with its line",
    # the continuation not indented: the left-over line is `2])`, unmatched
    "%time total = f([1,\n2])": "line 2: `%time total = f([1,` (line 1) ends with its line",
    # lines that are Python on their own, up to the one that is not
    "%time total = f([1,\n2,\n3])": "line 3: `%time total = f([1,` (line 1) ends with its line",
    "y = 2\nvalue = %time f(\n    [y, 3])": "line 3: `%time f(` (line 2) ends with its line",
    "for i in range(2):\n    %time f([i,\n            1])":
        "line 3: `%time f([i,` (line 2) ends with its line",
    "!echo $(printf one,\n  two)": "line 2: `!echo $(printf one,` (line 1) ends with its line",
    "files = !ls {str(x[0]),\n    'b'}": "line 2: `!ls {str(x[0]),` (line 1) ends with its line",
    "%load_ext autoreload\n%autoreload (2,\n 3)": "line 3: `%autoreload (2,` (line 2) ends",
}


@pytest.mark.parametrize("source", CUT, ids=range(len(CUT)))
def test_open_brackets_do_not_continue_a_magic_and_the_refusal_says_so(source: str) -> None:
    with pytest.raises(CellParseError) as caught:
        analysed(SETUP, source)
    message = str(caught.value)
    assert message.startswith("<notebook>, cell 2 (id c1), " + CUT[source]), message
    assert "the cell fails in Jupyter too" in message and "with `\\`" in message
    assert not ipython_runs(SETUP, source)  # what the message says of Jupyter


def test_a_cut_magic_saved_with_its_error_is_a_cell_expected_to_raise() -> None:
    """Saved with the kernel's error, the cell is left out as raising, with the reason."""
    source = next(iter(CUT))
    data = notebook_json(SETUP, source)
    data["cells"][1]["outputs"] = [{
        "output_type": "error", "ename": "IndentationError", "evalue": "unexpected indent",
        "traceback": [],
    }]
    cell = analyze_notebook(notebook_from_json(json.dumps(data), None)).cells[1]
    assert cell.syntax_error is not None and "ends with its line" in cell.syntax_error


@pytest.mark.parametrize(
    "source",
    [
        "%time f([1, 2])\n)",  # the magic closes its own brackets
        "%matplotlib inline\nprint(f([1])))",
        "!echo one\nvalue = f([1,\n2]))",  # the open brackets are Python's own
    ],
)
def test_other_syntax_errors_are_not_taken_for_a_cut_magic(source: str) -> None:
    with pytest.raises(CellParseError) as caught:
        analysed(SETUP, source)
    assert "ends with its line" not in str(caught.value)
