"""Fixtures for ``nb2pipe runs``: records written with ``RunRecord``, and real runs of exported
scripts (the sample ``train_classifier`` and ``notebooks/diabetes_steps``, a three-step
pipeline) in a temp folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from nb2pipe_runtime.record import GitState, RunRecord

from nb2pipe.cli import cli
from nb2pipe.export import export_notebook

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = (ROOT / "sample_notebooks" / "train_classifier.ipynb",
             Path(__file__).parent / "notebooks" / "diabetes_steps.ipynb")
DATA = ROOT / "sample_notebooks" / "data"


def invoke(*args: str) -> Result:
    """``nb2pipe runs ARGS`` in-process; stderr apart from stdout."""
    return CliRunner().invoke(cli, ["runs", *args], catch_exceptions=False)


def make_record(run_id: str, **fields: Any) -> RunRecord:
    """A finished record of experiment ``train`` with defaults for what a test leaves out."""
    second = run_id[-2:] if run_id[-2:].isdigit() else "00"
    values: dict[str, Any] = {
        "run_id": run_id, "experiment": "train", "script": "train.py",
        "notebook": "train.ipynb", "status": "finished",
        "start": f"2026-01-01T00:00:{second}.000+00:00",
        "end": f"2026-01-01T00:00:{second}.500+00:00", "seconds": 0.5, "python": "3.11.7",
        "params": {"C": 0.5, "seed": 7}, "data": {"data/x.csv": "a" * 64},
        "git": GitState(commit="1" * 40, dirty=False), "packages": {"numpy": "2.4.6"},
    }
    values.update(fields)
    if "effective_params" not in fields:
        values["effective_params"] = dict(values["params"])
    return RunRecord(**values)


def write_records(runs: Path, *records: RunRecord) -> Path:
    """Write ``records`` as ``runs/<run id>/run.json``; returns ``runs``."""
    for record in records:
        (runs / record.run_id).mkdir(parents=True, exist_ok=True)
        record.write(runs / record.run_id / "run.json")
    return runs


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with the notebooks, their exported scripts and the sample data."""
    folder = tmp_path / "project"
    folder.mkdir()
    for notebook in NOTEBOOKS:
        shutil.copy(notebook, folder / notebook.name)
        export_notebook(folder / notebook.name)
    shutil.copytree(DATA, folder / "data")
    return folder


RunScript = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(project: Path) -> RunScript:
    """``run("train_classifier.py", "--n-estimators", "10")``: run a script in ``project``
    with this Python and headless matplotlib; asserts it succeeded unless ``check=False``."""

    def run_script(script: str, *args: str, check: bool = True,
                   env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        environment.update({"MPLBACKEND": "Agg", **(env or {})})
        done = subprocess.run(
            [sys.executable, script, *args], cwd=project, capture_output=True, text=True,
            timeout=300, env=environment, check=False,
        )
        if check:
            assert done.returncode == 0, done.stderr
        return done

    return run_script
