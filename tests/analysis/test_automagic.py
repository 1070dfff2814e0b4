"""IPython's automagic: a one-line cell whose first word is a magic runs as that magic."""

from __future__ import annotations

import json

import pytest

from nb2pipe.analysis import MagicKind, analyze_notebook
from nb2pipe.analysis.magics import KERNEL_LINE_MAGICS
from nb2pipe.errors import CellParseError
from nb2pipe.model import notebook_from_json

from ..conftest import notebook_json


def analysed(*cells: str):
    return analyze_notebook(notebook_from_json(json.dumps(notebook_json(*cells)), None)).cells


@pytest.mark.parametrize(
    ("line", "name", "args"),
    [
        ("ls scripts/*.py", "ls", "scripts/*.py"),
        ("cat file.txt", "cat", "file.txt"),
        ("pwd", "pwd", ""),  # valid Python, but no variable `pwd` exists: IPython runs %pwd
        ("timeit xs.prod()", "timeit", "xs.prod()"),
        ("cd data", "cd", "data"),
        ("mkdir out", "mkdir", "out"),
        ("\nwhos", "whos", ""),  # IPython drops leading blank lines first
    ],
)
def test_a_one_line_cell_starting_with_a_magic_runs_as_it(line: str, name: str, args: str) -> None:
    cell = analysed("import numpy as np\nxs = np.arange(3)", line)[1]
    assert cell.automagic == name
    [magic] = cell.symbols.magics
    assert (magic.kind, magic.name, magic.args) == (MagicKind.LINE, name, args)


@pytest.mark.parametrize(
    "cells",
    [
        ("ls = [1]", "ls[0]"),  # a variable shadows the alias
        ("timeit = 3", "timeit"),
        ("from os import *\nimport os", "os.getcwd()"),  # a dotted first word is never a magic
        ("x = 1", "ls\n\n"),  # IPython applies automagic to one-line cells only
        ("x = 1", "# list the files\nls"),
        ("x = 1", "print = 1"),  # assignments are Python
        ("x = 1", "dir"),  # a builtin shadows any magic
    ],
)
def test_python_stays_python(cells: tuple[str, str]) -> None:
    cell = analysed(*cells)[1]
    assert cell.automagic is None and cell.symbols.magics == ()


def test_an_extension_magic_runs_without_percent_once_loaded() -> None:
    cells = analysed("%load_ext memory_profiler", "memit sum(range(3))")
    assert cells[1].automagic == "memit"
    with pytest.raises(CellParseError, match=r"%memit, which no earlier cell loads \(%load_ext memory_profiler\)"):
        analysed("x = 1", "memit sum(range(3))")


def test_the_magic_list_is_ipythons_own() -> None:
    from ipykernel.zmqshell import KernelMagics
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    names = set(shell.magics_manager.magics["line"]) | set(KernelMagics.magics["line"])
    assert names == set(KERNEL_LINE_MAGICS)
