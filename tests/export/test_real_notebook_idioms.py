"""What real notebooks hold: refusals that name their cause, saved errors, automagic (CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner

from nb2pipe.cli import cli

TYPE_ERROR = {
    "output_type": "error", "ename": "TypeError",
    "evalue": "unsupported operand type(s) for +: 'int' and 'str'", "traceback": [],
}


def export(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["export", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # Python 2 code
        (("x = 1\nprint 'x is', x",), "cell 1 (id c0), line 2: Python 2 syntax: print statement"),
        (('exec "y = 2"',), "line 1: Python 2 syntax: exec statement"),
        (("try:\n    pass\nexcept ValueError, e:\n    pass",), "line 3: Python 2 syntax: `except E, name:`"),
        (("x = `1`",), "Python 2 syntax: backticks"),
        (("if 1 <> 2:\n    pass",), "Python 2 syntax: the <> operator"),
        (("raise ValueError, 'bad'",), "Python 2 syntax: `raise E, message`"),
        # shell commands and magics typed without ! or %
        (("import os\npip install seaborn",), "line 2: `pip install seaborn` is IPython's %pip typed without `%`"),
        (("import os\nwget https://example.com/data.csv",),
         "line 2: `wget https://example.com/data.csv` is a shell command typed without `!`; write `!wget"),
        # a cell of shell commands: the first line that is not Python is named, whatever it is
        (("!pip install jupyter\nipython notebook",),
         ("cell 1 (id c0), line 2: `ipython notebook` is a shell command typed without `!`; "
          "write `!ipython notebook`")),
        (("ipython notebook",), "line 1: `ipython notebook` is a shell command typed without `!`"),
        (("# in a terminal:\ngit clone https://example.com/repo.git\ncd repo\nmake install",),
         "line 2: `git clone https://example.com/repo.git` is a shell command typed without `!`"),
        (("%matplotlib inline\napt-get install -y graphviz",),
         "line 2: `apt-get install -y graphviz` is a shell command typed without `!`"),
        (("import os\n    jupyter nbconvert --to script a.ipynb",),  # unexpected indent
         "line 2: `jupyter nbconvert --to script a.ipynb` is a shell command typed without `!`"),
        (("x = 1\npython3 -m pip install -r requirements.txt",),
         "line 2: `python3 -m pip install -r requirements.txt` is a shell command typed without"),
        (("x = 1\nconda install -c conda-forge lightgbm",),
         "line 2: `conda install -c conda-forge lightgbm` is IPython's %conda typed without `%`"),
        (("x = 1\nls -la data/",), "line 2: `ls -la data/` is IPython's %ls typed without `%`: IPython runs that only in a cell of one line (automagic); write `%ls -la data/`"),
        (("ls = [1]", "ls -la data/"), "cell 2 (id c1), line 1: `ls -la data/` is not Python, and IPython runs it as Python here: a variable 'ls' hides the magic %ls"),
        # a line magic's arguments meant to go on while brackets are open (IPython ends it
        # with its line: the cell fails in Jupyter too)
        (("import numpy as np\nx = np.arange(3.0)",
          "%timeit np.fromiter((v for v in x),\n    dtype=x.dtype, count=len(x))"),
         ("cell 2 (id c1), line 2: `%timeit np.fromiter((v for v in x),` (line 1) ends with "
          "its line: IPython joins the lines of a magic or `!` command only after a `\\`, not "
          "inside brackets, so the cell fails in Jupyter too; end line 1 with `\\`, or put the "
          "call on one line")),
        (("x = 1\ny = %time sum([x,\n2])",), "line 3: `%time sum([x,` (line 2) ends with its line"),
        # cell magics for other languages
        (("%%cython\ncdef int i = 0",), "cell 1 (id c0), line 1: %%cython runs the cell as Cython code"),
        (("%%R\nx <- 1",), "%%R runs the cell as R code"),
        (("%%fortran\nsubroutine f()\nend",), "%%fortran runs the cell as Fortran code"),
        # a space after % (IPython 7 and later fail on it)
        (("% matplotlib inline",), "`% matplotlib inline` names no magic: IPython reads no space after `%`; write %matplotlib inline"),
    ],
)
def test_refusals_name_the_cause_cell_and_line(
    make_notebook: Callable[..., Path], cells: tuple[str, ...], expected: str | None
) -> None:
    notebook = make_notebook(*cells)
    code, _, err = export(str(notebook))
    if expected is None:
        assert code == 2 and "ls" not in err.split(":", 3)[-1]  # Python's own complaint, not ours
        return
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("nb2pipe: error: notebook.ipynb, ")
    assert expected in err
    assert not notebook.with_suffix(".py").exists()


def test_a_python_2_notebook_exports_unless_its_code_is_python_2(make_notebook) -> None:
    """Saved by a Python 2 kernel: exported when its code is Python 3 too, with a line saying
    what may differ; refused, naming the construct, where it is Python 2 syntax."""
    notebook = make_notebook("x = 7", "print(x / 2)", kernel="python2", name="legacy.ipynb")
    code, out, err = export(str(notebook))
    assert code == 0, err
    assert out.splitlines()[:2] == [
        "legacy.ipynb -> legacy.py",
        (
            "  saved by a Python 2 kernel (kernelspec 'python2'): `/`, `print` and `str` may "
            "differ; `nb2pipe verify` checks it"
        ),
    ]
    script = notebook.with_suffix(".py")
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=script.parent,
        check=False,
    )
    assert run.returncode == 0 and run.stdout == "3.5\n", run.stderr  # Python 3's `/`
    # a second export is the same script, and --check agrees
    assert export(str(notebook))[0] == 0 and export("--check", str(notebook))[0] == 0

    notebook = make_notebook("x = 7", "print x / 2", kernel="python2", name="py2.ipynb")
    code, out, err = export(str(notebook))
    assert code == 2 and out == ""
    assert err == (
        "nb2pipe: error: py2.ipynb, cell 2 (id c1), line 1: Python 2 syntax: print statement "
        "(Python 3: print(...)); nb2pipe exports Python 3 code\n"
    )
    assert not notebook.with_suffix(".py").exists()


def test_an_executable_on_the_path_is_a_shell_command(
    make_notebook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only the well-known commands: any program installed on the PATH."""
    notebook = make_notebook("import os\nprepare-data --input raw.csv --fast")
    code, _, err = export(str(notebook))
    assert code == 2 and "line 2: not valid Python: invalid syntax" in err  # unknown here
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "prepare-data").write_text("#!/bin/sh\n")
    (tools / "prepare-data").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    code, _, err = export(str(notebook))
    assert code == 2 and err == (
        "nb2pipe: error: notebook.ipynb, cell 1 (id c0), line 2: `prepare-data --input raw.csv "
        "--fast` is a shell command typed without `!`; write `!prepare-data --input raw.csv "
        "--fast`\n"
    )


@pytest.mark.parametrize(
    "source",
    [
        "x = 1\nfoo bar",  # no such program
        "x = [1, 2\ny = 3",  # the failing line is Python that the line above broke
        "values = [3, 1]\nfor value in values print(value)",  # a keyword is no program
    ],
)
def test_python_mistakes_are_not_taken_for_shell_commands(make_notebook, source: str) -> None:
    code, _, err = export(str(make_notebook(source)))
    assert code == 2 and "not valid Python" in err and "shell command" not in err


def test_the_space_after_percent_is_not_offered_allow_ipython(make_notebook) -> None:
    code, _, err = export(str(make_notebook("% matplotlib inline")))
    assert code == 2 and "--allow-ipython" not in err
    code, _, err = export(str(make_notebook("%%cython\ncdef int i = 0", name="c.ipynb")))
    assert code == 2 and err.rstrip().endswith("use --allow-ipython to keep it")


def test_a_cell_saved_with_an_error_is_left_out_and_said_so(make_notebook) -> None:
    notebook = make_notebook(
        "numbers = [1, 2]",
        {"source": "numbers[0] + 'a'", "outputs": [TYPE_ERROR], "execution_count": 2},
        {"source": "print 'py2'", "outputs": [dict(TYPE_ERROR, ename="SyntaxError")]},
        "print(sum(numbers))",
    )
    code, out, err = export(str(notebook))
    assert code == 0, err
    assert "cell 2 (id c1): dropped: its saved output is an error (TypeError), so it counts as raises-exception" in out
    assert "cell 3 (id c2): dropped: its saved output is an error (SyntaxError)" in out
    script = notebook.with_suffix(".py")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=script.parent)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "3\n"


def test_strict_errors_refuses_a_cell_saved_with_an_error(make_notebook) -> None:
    notebook = make_notebook(
        "numbers = [1, 2]", {"source": "numbers[0] + 'a'", "outputs": [TYPE_ERROR]}
    )
    code, _, err = export("--strict-errors", str(notebook))
    assert code == 2
    assert err == (
        "nb2pipe: error: notebook.ipynb, cell 2 (id c1): its saved output is an error "
        "(TypeError: unsupported operand type(s) for +: 'int' and 'str'); fix the cell, or tag "
        "it raises-exception to leave it out of the script\n"
    )


def test_an_interrupted_cell_is_not_an_error_on_purpose(make_notebook) -> None:
    interrupted = dict(TYPE_ERROR, ename="KeyboardInterrupt", evalue="")
    notebook = make_notebook({"source": "total = sum(range(10))", "outputs": [interrupted]}, "print(total)")
    code, out, err = export(str(notebook))
    assert code == 0, err
    assert "total = sum(range(10))" in notebook.with_suffix(".py").read_text()


def test_a_later_cell_needing_a_cell_saved_with_an_error_is_refused(make_notebook) -> None:
    notebook = make_notebook({"source": "y = 1 + 'a'", "outputs": [TYPE_ERROR]}, "print(y)")
    code, _, err = export(str(notebook))
    assert code == 2
    assert "cell 2 (id c1), line 1: reads 'y', which only cell 1 (id c0), dropped because its saved output is an error, defines" in err


def test_automagic_lines_are_translated_and_listed(make_notebook) -> None:
    notebook = make_notebook("mkdir results", "cd results", "print('here')")
    code, out, err = export(str(notebook))
    assert code == 0, err
    assert "cell 1 (id c0): `mkdir results` runs as %mkdir (IPython's automagic)" in out
    script = notebook.with_suffix(".py")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=script.parent)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [str(script.parent / "results"), "here"]
