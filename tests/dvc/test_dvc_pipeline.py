"""``nb2pipe export --dvc`` run by real DVC: what re-runs after a parameter change or an edit.

Experiments and a queued sweep are run by the walkthrough test (docs/pipelines.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import make_project, project_env, sh, stages_run

pytestmark = pytest.mark.slow

ALL = ["load", "features", "train", "evaluate"]


def accuracy(project: Path) -> float:
    return json.loads((project / "metrics" / "evaluate.json").read_text())["accuracy"]


def test_dvc_runs_the_exported_pipeline(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    env = project_env(tmp_path)
    sh(project, "nb2pipe export --dvc pipeline_steps.ipynb", env)
    assert (project / "pipeline_steps_steps" / "train.py").is_file()
    sh(project, "git init -q && dvc init -q && git add -A && git commit -qm export", env)

    # all stages run; then nothing is left to do
    assert stages_run(sh(project, "dvc repro", env)) == ALL
    baseline = accuracy(project)
    assert stages_run(sh(project, "dvc repro", env)) == []
    sh(project, "git add -A && git commit -qm repro", env)

    # a parameter re-runs the stage that reads it (and what depends on its outputs) only
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("max_iter: 500", "max_iter: 400"))
    assert stages_run(sh(project, "dvc repro", env)) == ["train", "evaluate"]
    sh(project, "git add -A && git commit -qm params", env)

    # editing one step's module re-runs that stage and its dependents only
    module = project / "pipeline_steps_steps" / "train.py"
    module.write_text(module.read_text().replace("C=C,", "C=C / 10,"))
    assert stages_run(sh(project, "dvc repro", env)) == ["train", "evaluate"]
    sh(project, "git add -A && git commit -qm edit", env)
    assert accuracy(project) != baseline
