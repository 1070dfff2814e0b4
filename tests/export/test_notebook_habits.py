"""Habits of real notebooks that the exporter must take in its stride (found by QA)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from nb2pipe.cli import cli
from nb2pipe.export import ExportOptions, render_notebook
from nb2pipe.model import load_notebook

from .equivalence import normalize, notebook_cell_stdout, script_stdout


def export(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["export", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_a_date_parameter_through_an_aliased_datetime_import(make_notebook) -> None:
    notebook = make_notebook(
        "import datetime as dt\nfrom datetime import date as day",
        ("start = dt.date(2022, 2, 1)\nend: dt.date = day(2022, 3, 1)", ["parameters"]),
        "print(start.isoformat(), (end - start).days)",
    )
    code, _, err = export(str(notebook))
    assert code == 0, err
    script = notebook.with_suffix(".py")
    run = subprocess.run(
        [sys.executable, str(script), "--start", "2022-02-15"],
        capture_output=True, text=True, cwd=notebook.parent,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "2022-02-15 14\n"


def test_an_alias_of_another_module_is_still_not_a_literal(make_notebook) -> None:
    notebook = make_notebook(
        "from datetime import datetime as dt", ("start = dt.date(2022, 2, 1)", ["parameters"])
    )
    code, _, err = export(str(notebook))
    assert code == 2 and "parameter 'start' is not a literal" in err


def test_trailing_semicolons_that_hid_results_are_dropped(make_notebook) -> None:
    notebook = make_notebook(
        "import matplotlib.pyplot as plt",
        "plt.plot([1, 2]);\nplt.xlabel('x');  # label\nx = 1; y = 2;",
        "def f():\n    return 1;\nprint(f());",
    )
    code = render_notebook(load_notebook(notebook), ExportOptions()).code
    assert "plt.plot([1, 2])\n" in code
    assert "plt.xlabel('x')  # label\n" in code
    assert "x = 1; y = 2\n" in code
    assert "return 1\n" in code and "print(f())\n" in code
    assert ");" not in code


def test_check_without_dvc_accepts_a_script_exported_with_dvc(make_notebook) -> None:
    # the pre-commit hook runs `nb2pipe export --check` with no --dvc
    notebook = make_notebook(
        ("n = 3", ["parameters"]), ("x = list(range(n))", ["step:make"]),
        ("print(sum(x))", ["step:report"]),
    )
    assert export("--dvc", str(notebook))[0] == 0
    code, _, err = export("--check", str(notebook))
    assert code == 0, err
    data = notebook.read_text().replace("print(sum(x))", "print(max(x))")
    notebook.write_text(data)
    code, _, err = export("--check", str(notebook))
    assert code == 1 and "stale" in err


def test_a_tuple_parameter_stays_a_tuple_from_the_command_line_and_config(make_notebook) -> None:
    notebook = make_notebook(("shape = (2, 3)", ["parameters"]), "print(shape, type(shape).__name__)")
    assert export(str(notebook))[0] == 0
    script = notebook.with_suffix(".py")
    (notebook.parent / "c.json").write_text('{"shape": [4, 5]}')

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(script), *args], capture_output=True, text=True,
            cwd=notebook.parent,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert run() == "(2, 3) tuple\n"
    assert run("--shape", "[1, 2]") == "(1, 2) tuple\n"
    assert run("--config", "c.json") == "(4, 5) tuple\n"


def test_a_markdown_heading_with_text_right_under_it_is_not_run_into_one_sentence(
    make_notebook,
) -> None:
    notebook = make_notebook(
        "import os",
        {"cell_type": "markdown", "source": "## Sensor time series\nRolling stats and anomalies"},
        "x = 1",
        {"cell_type": "markdown", "source": "Plain text\ncontinued\n\n## Later heading"},
        "y = 2",
    )
    code = render_notebook(load_notebook(notebook), ExportOptions()).code
    assert "# Sensor time series\n        x = 1\n" in code
    assert "# Plain text continued\n        y = 2\n" in code


def test_bare_calls_that_only_show_a_value_are_dropped_and_listed(make_notebook) -> None:
    notebook = make_notebook(
        "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2], 'b': [3, 4]})",
        "df.head()",
        "df.describe()\ndf['a'].value_counts().sort_index()",
        "df.sample(1, random_state=0)\nhelp(len)",
        # kept: a sample without a seed advances the global random state, unknown calls and
        # calls whose arguments call something may have effects, inplace= changes df
        "df.sample(1)\nprint(df.tail(1))\ndf.head(len(df))\ndf.dropna(inplace=True)",
    )
    result = render_notebook(load_notebook(notebook))
    code = result.code
    for dropped in ("df.head()", "df.describe()", "value_counts()", "random_state=0", "help(len)"):
        assert dropped not in code
    for kept in ("df.sample(1)\n", "print(df.tail(1))\n", "df.head(len(df))\n", "inplace=True"):
        assert kept in code
    notes = "\n".join(result.summary.notes)
    assert "cell 2 (id c1): dropped display-only `df.head()`" in notes
    assert "cell 3 (id c2): dropped display-only `df['a'].value_counts().sort_index()`" in notes
    assert "cell 4 (id c3): dropped display-only `help(len)`" in notes


def test_the_comments_above_a_dropped_line_stay_above_the_next_statement(make_notebook) -> None:
    notebook = make_notebook("x = 1\n# the value\nx\n# then y\ny = 2\n# only a look\nx")
    code = render_notebook(load_notebook(notebook)).code
    assert "        x = 1\n        # the value\n        # then y\n        y = 2\n\n" in code
    assert "only a look" not in code  # comments of a dropped last line go with it


def test_check_compares_the_parameters_in_params_yaml_not_its_text(make_notebook) -> None:
    """`dvc exp run -S lr=0.1` rewrites params.yaml in its own format (and the user edits it)."""
    notebook = make_notebook(
        ("lr = 0.5  # step size\nepochs = 3", ["parameters"]),
        ("x = lr * epochs", ["step:make"]), ("print(x)", ["step:report"]),
    )
    assert export("--dvc", str(notebook))[0] == 0
    params = notebook.parent / "params.yaml"
    params.write_text("epochs: 3\nlr: 0.1\n")  # re-ordered, re-formatted, a new value
    code, _, err = export("--check", "--dvc", str(notebook))
    assert code == 0, err
    params.write_text("lr: 0.1\n")  # a parameter missing: stale
    code, _, err = export("--check", "--dvc", str(notebook))
    assert code == 1 and "stale" in err


SHELL_CELLS = (
    "label = 'hello'\nfolder = 'data dir'\nn = 3",
    # all or nothing: one name that is no variable leaves the command as written (the shell
    # expands $label and $NB2PIPE_NO_SUCH_VARIABLE to nothing), as IPython runs it
    "!echo [$label] [$NB2PIPE_NO_SUCH_VARIABLE]\n"
    "!echo [$label] [{n + 1}] ['$label'] [$$label]\n"
    "!mkdir -p '{folder}'",
    "%%writefile {folder.replace(' ', '_')}.txt\nnoted\n",
    "listing = !ls -d {folder.split()[0]}*\nprint(listing, n)",
)


@pytest.mark.kernel
@pytest.mark.parametrize("steps", [False, True], ids=["flat", "steps"])
def test_shell_escapes_expand_names_as_ipython_does(make_notebook, steps: bool) -> None:
    """``$name``/``{expr}`` in a shell escape or a magic's line, by IPython's rules (all or
    nothing, single quotes, ``$$``); in a pipeline, a name from an earlier step is the step's
    input (it was a NameError)."""
    cells = SHELL_CELLS
    if steps:
        names = ("setup", "shell", "note", "read")
        cells = tuple((source, [f"step:{name}"]) for source, name in zip(cells, names))
    notebook = make_notebook(*cells)
    code, _, err = export(str(notebook))
    assert code == 0, err
    expected = notebook_cell_stdout(notebook)
    (notebook.parent / "data dir").rmdir()  # what the notebook left, made again by the script
    (notebook.parent / "data_dir.txt").unlink()
    returncode, stdout, stderr = script_stdout(notebook.with_suffix(".py"))
    assert returncode == 0, stderr
    assert stdout == normalize("".join(expected))
    assert stdout.startswith("[] []\n[hello] [4] [$label] []\n")  # $$label: the shell's $label
