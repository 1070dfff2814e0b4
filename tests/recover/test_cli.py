"""``nb2pipe recover`` as a user runs it: exit codes, what it prints, what it writes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nb2pipe.cli import cli
from tests.conftest import notebook_json
from tests.recover.lab import LabNotebook

pytestmark = pytest.mark.kernel


def recover(*args: str | Path) -> tuple[int, str, str]:
    outcome = CliRunner().invoke(cli, ["recover", *map(str, args)])
    return outcome.exit_code, outcome.stdout, outcome.stderr


# -- bad input: one line, exit 2, nothing written ---------------------------------------------------
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.ipynb"
    code, _, err = recover(missing)
    assert code == 2 and err.count("\n") == 1 and "missing.ipynb" in err and "Traceback" not in err
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    code, _, err = recover(broken)
    assert code == 2 and "cut short" in err and err.count("\n") == 1
    never_run = tmp_path / "never_run.ipynb"
    never_run.write_text(json.dumps(notebook_json({"source": "x = 1"})))
    code, _, err = recover(never_run)
    assert code == 2 and "no saved outputs to recover" in err
    saved = tmp_path / "saved.ipynb"
    saved.write_text(json.dumps(notebook_json({"source": "x = 1", "execution_count": 1})))
    code, _, err = recover(saved, "-o", saved)
    assert code == 2 and "would overwrite the notebook" in err
    (tmp_path / "saved.recovered.ipynb").write_text("mine")
    code, _, err = recover(saved)
    assert code == 2 and "exists; pass --force" in err
    assert (tmp_path / "saved.recovered.ipynb").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "broken.ipynb", "never_run.ipynb", "saved.ipynb", "saved.recovered.ipynb",
    ]


# -- a session with parameters: recovered, its script, the defaults ------------------------------------
@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A parameter tuned while working: the training cell ran with alpha 3, then the
    parameters cell was edited to 5 and run, and a report re-run; the result shown by the
    training cell came from 3."""
    folder = tmp_path_factory.mktemp("tuned")
    nb = LabNotebook(folder / "tuned.ipynb", [
        ("params", "alpha = 3\nlabel = 'run'"),
        ("train", "score = alpha * 10\nprint(label, 'score', score)"),
        ("report", "print('alpha now', alpha)"),
    ], tracked=True)
    nb.tag("params", "parameters")
    nb.run("params", "train")
    nb.edit("params", "alpha = 5\nlabel = 'run'")
    nb.run("params", "report")
    nb.save()
    nb.shutdown()
    return folder / "tuned.ipynb"


def test_recovered_with_history_then_refused_without_force(tuned: Path) -> None:
    code, out, err = recover(tuned)
    assert code == 0, out + err
    assert out.startswith("✓ tuned.ipynb: recovered from the %track history; proven in a fresh kernel")
    assert "cell 2 (id params) `alpha = 5` ran with `alpha = 3`; the notebook now says `alpha = 5`" in out
    assert "runs again (2nd run)" in out
    written = tuned.with_name("tuned.recovered.ipynb")
    assert f"wrote {written}" in out
    document = json.loads(written.read_text())
    sources = [c["source"] for c in document["cells"] if c["cell_type"] == "code"]
    assert sources == [
        "alpha = 3\nlabel = 'run'", "score = alpha * 10\nprint(label, 'score', score)",
        "alpha = 5\nlabel = 'run'", "print('alpha now', alpha)",
    ]
    provenance = [c["metadata"]["nb2pipe"] for c in document["cells"] if c["cell_type"] == "code"]
    assert [p["source_cell"] for p in provenance] == ["params", "train", "params", "report"]
    assert provenance[0].get("older_code") is True and provenance[2]["run"] == 2
    before = written.read_bytes()
    code, _, err = recover(tuned)
    assert code == 2 and "pass --force" in err and written.read_bytes() == before
    code, _, _ = recover(tuned, "--force")
    assert code == 0


def test_the_script_of_the_result_defaults_to_the_values_it_used(
    tuned: Path, tmp_path: Path
) -> None:
    script = tmp_path / "tuned_result.py"
    output = tmp_path / "tuned.recovered.ipynb"
    code, out, err = recover(tuned, "-o", output, "--script", script)
    assert code == 0, out + err
    # the last output reading a parameter (the report) used the second run: its values are
    # the defaults; the training cell's output used the first, kept as plain code above it
    assert "the script's defaults are the values of the parameters cell's run at In [4]" in out
    assert "cell 3 (id train) used values of an earlier run of the parameters cell" in out
    ran = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    # the training cell's saved output came from alpha 3; the report's from the later alpha 5
    assert ran.stdout.splitlines() == ["run score 30", "alpha now 5"]
    helped = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert "--alpha" in helped.stdout


def test_recover_works_where_the_folder_was_copied(tuned: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    shutil.copytree(tuned.parent, clone)
    for old in clone.glob("*.recovered.ipynb"):
        old.unlink()
    code, out, err = recover(clone / "tuned.ipynb")
    assert code == 0, out + err
    assert "recovered from the %track history" in out


def test_no_path_is_exit_1_naming_the_cell_and_writing_nothing(tmp_path: Path) -> None:
    nb = LabNotebook(tmp_path / "noisy.ipynb", [
        ("draw", "import random\nvalues = [random.random() for _ in range(2)]"),
        ("show", "print(values)"),
    ], tracked=False)
    nb.run("draw", "show")
    nb.save()
    nb.shutdown()
    code, out, err = recover(tmp_path / "noisy.ipynb", "--budget", "60")
    assert code == 1, out + err
    assert out.startswith("✗ noisy.ipynb: no path within the 60 s budget gives back the saved outputs; nothing written")
    assert "cell 2 (id show) In [2] `print(values)`: " in out and "random" in out
    assert not (tmp_path / "noisy.recovered.ipynb").exists()
