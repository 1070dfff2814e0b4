"""The pipeline walkthrough in docs/pipelines.md: its ``bash`` blocks, run exactly as written
(see ``conftest.walkthrough``), do what the walkthrough says; then, in the DVC project it
leaves, a parameter change and an edit re-run only the stages they touch."""

from __future__ import annotations

import json

import pytest

from .conftest import Walkthrough, doc_commands
from .helpers import experiments, sh, stages_run


def test_the_walkthrough_has_the_promised_commands() -> None:
    commands = doc_commands()
    for expected in ("nb2pipe export pipeline_steps.ipynb", "python pipeline_steps.py",
                     "python pipeline_steps.py --C 0.01", "nb2pipe runs --sort accuracy",
                     "nb2pipe export --dvc pipeline_steps.ipynb", "dvc repro",
                     "dvc exp run -S C=0.01", "dvc queue start", "dvc exp show"):
        assert expected in commands


@pytest.mark.slow
def test_export_two_runs_and_compare(walkthrough: Walkthrough) -> None:
    outputs = walkthrough.outputs
    exported = outputs["nb2pipe export pipeline_steps.ipynb"][0]
    assert "step train: X_train_scaled, feature_cols, y_train -> model" in exported
    assert "accuracy:          0.9556" in outputs["python pipeline_steps.py"][0]
    assert "accuracy:          1.0000" in outputs["python pipeline_steps.py --C 0.01"][0]
    compared = outputs["nb2pipe runs --sort accuracy"][0].splitlines()
    assert compared[0] == "experiment pipeline_steps"
    rows = [line.split() for line in compared if line.split()[:1] in (["1"], ["2"])]
    assert [row[4:6] for row in rows] == [["0.01", "1"], ["0.5", "0.9556"]]
    assert "accuracy:" in outputs["python pipeline_steps.py --step evaluate"][0]


@pytest.mark.slow
def test_reproduce_and_sweep_with_dvc(walkthrough: Walkthrough) -> None:
    outputs = walkthrough.outputs
    first, second = outputs["dvc repro"]
    assert stages_run(first) == ["load", "features", "train", "evaluate"]
    assert stages_run(second) == []  # nothing changed: nothing runs
    assert stages_run(outputs["dvc exp run -S C=0.01"][0]) == ["train", "evaluate"]

    shown = experiments(walkthrough.project, walkthrough.env)
    tried = [found for found in shown.values() if found["params"]["C"] == 0.01]
    assert tried and tried[0]["metrics"]["accuracy"] == 1.0  # the default C=0.5 gives 0.9556
    swept = {name: found for name, found in shown.items() if found["params"]["C"] in (0.05, 0.2, 1.0)}
    assert len(swept) == 3 and all("accuracy" in found["metrics"] for found in swept.values())
    assert all(name in outputs["dvc exp show"][0] for name in swept)
    # the queued experiments ran in temporary copies; their run records came back here
    table = outputs["nb2pipe runs --sort accuracy"][1]
    for name, found in swept.items():
        [row] = [line for line in table.splitlines() if f" {name} " in line]
        assert "train+evaluate" in row.split()
        assert f"{found['metrics']['accuracy']:.4f}".rstrip("0").rstrip(".") in row.split()


@pytest.mark.slow
def test_only_the_stages_a_change_touches_re_run(walkthrough: Walkthrough) -> None:
    """Runs last: it changes the project the walkthrough left."""
    project, env = walkthrough.project, walkthrough.env
    assert stages_run(sh(project, "dvc repro", env)) == []
    metrics = project / "metrics" / "evaluate.json"
    before = json.loads(metrics.read_text())["accuracy"]

    # a parameter re-runs the stage that reads it, and the stages that use its outputs
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("max_iter: 500", "max_iter: 400"))
    assert stages_run(sh(project, "dvc repro", env)) == ["train", "evaluate"]

    # editing one step's module re-runs that stage and its dependents only
    module = project / "pipeline_steps_steps" / "train.py"
    module.write_text(module.read_text().replace("C=C,", "C=C * 50,"))
    assert stages_run(sh(project, "dvc repro", env)) == ["train", "evaluate"]
    assert json.loads(metrics.read_text())["accuracy"] != before
    assert stages_run(sh(project, "dvc repro", env)) == []
