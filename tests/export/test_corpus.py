"""Export every corpus notebook (``../shared/corpus``): sound scripts, or one-line refusals.

Static checks only (no kernel): each script compiles, has no ``get_ipython``, no undefined
names (pyflakes), and ``--help`` lists every parameter with its type. The kernel-backed stdout
comparison for the runnable corpus lives in ``test_equivalence.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nb2pipe.cli import cli
from nb2pipe.export import export_notebook

from ..conftest import CORPUS
from .test_golden import assert_sound_script


def _notebooks(kind: str) -> list[Path]:
    folder = CORPUS / kind
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _copy(notebook: Path, tmp_path: Path) -> Path:
    """The corpus is read-only: export a copy of the notebook's folder."""
    target = tmp_path / notebook.parent.name
    shutil.copytree(notebook.parent, target)
    return target / notebook.name


RUNNABLE = _notebooks("runnable")
MESSY = _notebooks("messy")
#: The messy notebooks export refuses, and the cause its one line must name. Every other one
#: exports. IPython reads `% matplotlib` as the magic named "": the cell fails in a kernel too.
MESSY_REFUSALS = {
    "07_Visualization__Tips__Exercises_with_code_and_solutions": "`% matplotlib inline` names no magic",
}
#: Saved by a Python 2 kernel, and Python 3 code all the same: exported, with the summary's
#: line saying their saved outputs may not be the script's (`/` and `str` differ there).
MESSY_PYTHON_2 = frozenset({
    "05_Merge__Auto_MPG__Exercises_with_solutions",
    "05_Merge__Housing_Market__Exercises_with_solutions",
    "08_Creating_Series_and_DataFrames__Pokemon__Exercises-with-solutions-and-code",
})


@pytest.mark.corpus
@pytest.mark.parametrize("notebook", RUNNABLE or [None], ids=lambda p: p.stem if p else "absent")
def test_runnable_corpus_exports_sound_scripts(notebook: Path | None, tmp_path: Path) -> None:
    if notebook is None:
        pytest.skip(f"no corpus at {CORPUS / 'runnable'}")
    copy = _copy(notebook, tmp_path)
    result = export_notebook(copy)
    assert_sound_script(result.code, result.script_path.name)
    # byte-stable: exporting again (over the script, as a user re-exporting does) gives the same
    assert export_notebook(copy).code == result.code
    help_text = subprocess.run(
        [sys.executable, str(result.script_path), "--help"], capture_output=True, text=True,
        cwd=result.script_path.parent, timeout=120,
    )
    assert help_text.returncode == 0, help_text.stderr
    flat = " ".join(help_text.stdout.split())
    for parameter in result.summary.parameters:
        assert parameter.option in flat


@pytest.mark.corpus
@pytest.mark.parametrize("notebook", MESSY or [None], ids=lambda p: p.stem if p else "absent")
def test_messy_corpus_exports_or_is_refused_in_one_line(notebook: Path | None, tmp_path: Path) -> None:
    if notebook is None:
        pytest.skip(f"no corpus at {CORPUS / 'messy'}")
    copy = _copy(notebook, tmp_path)
    outcome = CliRunner().invoke(cli, ["export", str(copy)], catch_exceptions=False)
    if notebook.stem not in MESSY_REFUSALS:
        assert outcome.exit_code == 0, outcome.stderr
        assert_sound_script(copy.with_suffix(".py").read_text(), copy.name)
        python_2 = "  saved by a Python 2 kernel (kernelspec 'python2'): `/`, `print` and `str`"
        assert (python_2 in outcome.stdout) == (notebook.stem in MESSY_PYTHON_2), outcome.stdout
    else:
        assert outcome.exit_code == 2
        assert MESSY_REFUSALS[notebook.stem] in outcome.stderr
        assert outcome.stderr.count("\n") == 1 and "Traceback" not in outcome.stderr
        assert outcome.stderr.startswith(f"nb2pipe: error: {copy.name}")
        assert not copy.with_suffix(".py").exists()
