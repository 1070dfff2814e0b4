"""The pipeline walkthrough in docs/pipelines.md: its ``bash`` blocks, run exactly as written
(see ``conftest.walkthrough``), do what the walkthrough says; then, in the DVC project it
leaves, a parameter change and an edit re-run only the stages they touch."""

from __future__ import annotations

import json

import pytest
from nb2pipe_runtime.reading import read_record

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
    # the best run by the primary metric is marked with ">" in front of its number
    rows = [line.split() for line in compared if line.lstrip("> ").split()[:1] in (["1"], ["2"])]
    assert [row[0] for row in rows] == [">", "2"]
    assert [row[5:7] for row in rows[:1]] + [row[4:6] for row in rows[1:]] == [
        ["0.01", "1"], ["0.5", "0.9556"]]
    assert "accuracy:" in outputs["python pipeline_steps.py --step evaluate"][0]


@pytest.mark.slow
def test_a_step_run_records_the_parameters_its_inputs_were_computed_with(
    walkthrough: Walkthrough,
) -> None:
    """`--step train --C 10`, then `--step evaluate`: the evaluation was computed with C=10."""
    records = [
        read_record(path) for path in sorted((walkthrough.project / "runs").glob("*/run.json"))
    ]
    by_step = {record.step: record for record in sorted(records, key=lambda r: r.start)
               if record.dvc is None}
    train, evaluate = by_step["train"], by_step["evaluate"]
    assert train.params == {"C": 10.0, "max_iter": 500} and evaluate.params == {}
    assert evaluate.effective_params["C"] == 10.0 and not evaluate.mixed_params
    assert {entry.run_id for entry in evaluate.lineage if entry.name == "model"} == {train.run_id}
    table = walkthrough.outputs["nb2pipe runs --last 2"][0].splitlines()
    rows = [line.split() for line in table if line.split()[:1] in (["1"], ["2"])]
    assert [row[2] for row in rows] == ["train", "evaluate"]
    assert table[-1].startswith("same in every run: C=10, max_iter=500, ")
    # the DVC stages (`--config params.yaml --step NAME`) record what each stage read
    stages = {}  # the first `dvc repro`'s stages
    for record in sorted(records, key=lambda r: r.start):
        if "--config" in record.argv and record.step is not None:
            stages.setdefault(record.step, record)
    assert stages["load"].params == {"data_path": "data/wine.csv"}  # no model parameter
    assert stages["train"].params == {"C": 0.5, "max_iter": 500}
    assert stages["evaluate"].effective_params["C"] == 0.5  # params.yaml's value


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
