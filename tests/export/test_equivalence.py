"""Exported scripts print what their notebooks print, in a fresh kernel and in a subprocess."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path
from typing import Callable

import pytest

from nb2pipe.analysis import MagicKind, analyze_notebook
from nb2pipe.export import export_notebook
from nb2pipe.model import load_notebook

from ..conftest import CORPUS, SAMPLES
from .equivalence import agrees_but_for, agrees_in_words_but_for, normalize, notebook_cell_stdout, script_stdout


def _has_shell_escapes(notebook: Path) -> bool:
    analysis = analyze_notebook(load_notebook(notebook))
    return any(
        magic.kind in (MagicKind.SYSTEM, MagicKind.GETOUTPUT)
        for parsed in analysis.cells
        for magic in parsed.symbols.magics
    )


def assert_same_stdout(notebook: Path, second_run: bool = False) -> set[int]:
    """Run the notebook in its folder and the script in a pristine copy of that folder.

    With ``second_run``, a difference sends the notebook through a second fresh run: the
    exported cells (their positions among them) whose output differs between the two are
    returned, and the script may print anything there.
    """
    copy = notebook.parent.with_name(notebook.parent.name + "-script")
    shutil.copytree(notebook.parent, copy)
    script = export_notebook(copy / notebook.name).script_path
    # both folders hold the same files (`!ls` lists them): the script beside the notebook too,
    # and the script's run records outside its folder
    shutil.copy(script, notebook.parent / script.name)
    chunks = notebook_cell_stdout(notebook)
    expected = normalize("".join(chunks))
    runs = copy.with_name(copy.name + "-runs")
    code, actual, stderr = script_stdout(script, "--runs-dir", str(runs))
    assert code == 0, stderr
    by_words = _has_shell_escapes(notebook)
    printed = actual
    if by_words:
        # `!ls` lays names out in columns on the kernel's pty (column-major order) and one a
        # line on the script's pipe: the same words, in another order
        expected, actual = " ".join(sorted(expected.split())), " ".join(sorted(actual.split()))
    if actual != expected and second_run:
        # as verify does: a second fresh run tells which cells' output varies by run; those
        # may print anything there (as many lines, or words)
        again = notebook_cell_stdout(notebook)
        variable = {i for i, (one, two) in enumerate(zip(chunks, again)) if normalize(one) != normalize(two)}
        if variable and (
            agrees_in_words_but_for(chunks, variable, printed)
            if by_words
            else agrees_but_for(chunks, variable, printed)
        ):
            return variable
    assert actual == expected, "\n".join(
        difflib.unified_diff(expected.splitlines(), actual.splitlines(), "notebook", "script", lineterm="")
    )
    return set()


@pytest.mark.kernel
@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.ipynb")))
def test_sample_script_prints_what_the_notebook_prints(samples_copy: Path, name: str) -> None:
    assert_same_stdout(samples_copy / name)


@pytest.mark.kernel
def test_parameters_on_the_command_line_reach_notebook_functions(samples_copy: Path) -> None:
    script = export_notebook(samples_copy / "train_classifier.ipynb").script_path
    code, default_run, _ = script_stdout(script)
    code2, changed_run, stderr = script_stdout(script, "--n-estimators", "5", "--max-depth", "1")
    assert code == code2 == 0, stderr
    # build_model() reads n_estimators / max_depth as globals: the metrics change
    assert default_run != changed_run
    records = [json.loads(p.read_text()) for p in sorted(samples_copy.glob("runs/*/run.json"))]
    assert len(records) == 2 and all(r["status"] == "finished" for r in records)
    by_trees = {r["params"]["n_estimators"]: r for r in records}
    assert by_trees[5]["params"]["max_depth"] == 1 and by_trees[100]["params"]["max_depth"] == 3
    assert by_trees[5]["metrics"]["accuracy"] != by_trees[100]["metrics"]["accuracy"]
    assert set(by_trees[100]["metrics"]) == {"accuracy", "f1", "n_test"}
    assert list(by_trees[100]["data"]) == ["data/wine.csv"]
    assert by_trees[100]["artifacts"] == ["figures/train_classifier-cell14-1.png"]


@pytest.mark.kernel
def test_magics_inside_functions_behave_as_in_the_notebook(
    tmp_path: Path, make_notebook: Callable[..., Path]
) -> None:
    (tmp_path / "nb").mkdir()
    notebook = make_notebook(
        "import os\nos.makedirs('sub', exist_ok=True)",
        # IPython expands $name and {name} from the calling function's locals
        "def shout(name):\n    lines = !echo hi {name} $name\n    return lines",
        "class Walker:\n    def enter(self, path):\n        %cd -q {path}\n        return path",
        'print(shout("bob"))\nprint(Walker().enter("sub"), os.path.basename(os.getcwd()))',
        name="nb/functions.ipynb",
    )
    assert_same_stdout(notebook)
    script = notebook.parent.with_name("nb-script") / "functions.py"
    assert "get_ipython" not in script.read_text()


def _corpus_notebooks() -> list[Path]:
    folder = CORPUS / "runnable"
    return sorted(folder.rglob("*.ipynb")) if folder.is_dir() else []


@pytest.mark.kernel
@pytest.mark.corpus
@pytest.mark.parametrize("notebook", _corpus_notebooks() or [None], ids=lambda p: p.stem if p else "absent")
def test_corpus_script_prints_what_the_notebook_prints(
    notebook: Path | None, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if notebook is None:
        pytest.skip(f"no corpus at {CORPUS / 'runnable'}")
    selection = request.config.getoption("--corpus")
    if selection == "none" or (selection == "subset" and _corpus_notebooks().index(notebook) % 4):
        pytest.skip("not in the CI subset (run with --corpus=all)")
    copy = tmp_path / notebook.parent.name
    shutil.copytree(notebook.parent, copy)
    variable = assert_same_stdout(copy / notebook.name, second_run=True)
    if variable:
        request.node.user_properties.append(("varies by run", sorted(variable)))
        print(f"\n{notebook.stem}: equal but for the cells whose output varies by run")
