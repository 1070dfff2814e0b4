"""The shipped pre-commit hook, for real: ``pre-commit try-repo`` builds the hook's own isolated
environment from this repository (nb2pipe and nb2pipe-runtime, none of the notebooks'
packages) and checks the scripts a colleague exported and committed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ROOT, SAMPLES

pytestmark = pytest.mark.slow
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


def _run(command: list[str | Path], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        PRE_COMMIT_HOME=str(home), SKIP_JUPYTER_BUILDER="1",
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com",
    )
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=900, check=False,
    )


@pytest.mark.skipif(not PRE_COMMIT.exists(), reason="pre-commit is not installed")
def test_the_hook_passes_in_its_own_environment_and_catches_a_stale_script(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(SAMPLES, project)
    home = tmp_path / "pre-commit-home"
    nb2pipe = Path(sys.executable).parent / "nb2pipe"
    notebooks = sorted(p.name for p in project.glob("*.ipynb"))
    assert _run([nb2pipe, "export", "-q", *notebooks], project, home).returncode == 0
    assert _run(["git", "init", "-q"], project, home).returncode == 0
    assert _run(["git", "add", "-A"], project, home).returncode == 0
    assert _run(["git", "commit", "-q", "-m", "scripts"], project, home).returncode == 0
    hook = [PRE_COMMIT, "try-repo", ROOT, "nb2pipe-export-check", "--all-files"]
    passed = _run(hook, project, home)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "nb2pipe export --check" in passed.stdout and "Passed" in passed.stdout
    # a notebook edited without re-exporting: the hook fails and says which script
    notebook = project / "train_classifier.ipynb"
    notebook.write_text(notebook.read_text().replace("trees in the forest", "number of trees"))
    failed = _run(hook, project, home)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "train_classifier.ipynb: the script is stale" in failed.stdout
