"""Exported pipeline scripts run: the whole pipeline and each ``--step`` alone give the
notebook's results, and every run leaves a record."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nb2pipe.export import ExportOptions, export_notebook

from .helpers import run_records, run_script, saved_stdout

STEPS = ("load", "features", "train", "evaluate")


@pytest.fixture
def pipeline(samples_copy: Path) -> Path:
    return export_notebook(samples_copy / "pipeline_steps.ipynb").script_path


@pytest.mark.slow
def test_whole_pipeline_and_each_step_alone_give_the_notebooks_results(pipeline: Path) -> None:
    notebook = pipeline.with_suffix(".ipynb")
    expected = saved_stdout(notebook)
    whole = run_script(pipeline)
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout == expected
    # each step alone, in a fresh process, loading what the previous step saved
    (pipeline.parent / "outputs").rename(pipeline.parent / "outputs-of-whole-run")
    alone = []
    for step in STEPS:
        result = run_script(pipeline, "--step", step)
        assert result.returncode == 0, result.stderr
        alone.append(result.stdout)
    assert "".join(alone) == expected
    records = run_records(pipeline.parent)
    assert [record["step"] for record in records] == [None, *STEPS]
    assert all(record["status"] == "finished" for record in records)
    # the metrics are the numbers the notebook's metrics cell assigned (and printed)
    printed = dict(re.findall(r"^(accuracy|macro F1):\s+([\d.]+)$", expected, re.MULTILINE))
    for record in (records[0], records[-1]):
        assert f"{record['metrics']['accuracy']:.4f}" == printed["accuracy"]
        assert f"{record['metrics']['f1']:.4f}" == printed["macro F1"]
    whole_record, load_record, train_record = records[0], records[1], records[3]
    assert list(whole_record["data"]) == ["data/wine.csv"] == list(load_record["data"])
    # a step that only loaded saved outputs read no data file, though data_path names one
    assert all(record["data"] == {} for record in records[2:]), [r["data"] for r in records]
    assert whole_record["params"]["C"] == 0.5 and whole_record["notebook"] == "pipeline_steps.ipynb"
    assert sorted(entry["path"] for entry in train_record["lineage"]) == [
        "outputs/features/X_train_scaled.npy",
        "outputs/features/feature_cols.json",
        "outputs/features/y_train.parquet",
    ]
    # a step run records the parameters its step reads, and where its inputs came from
    assert train_record["params"] == {"C": 0.5, "max_iter": 500}
    features_record = records[2]
    assert {entry["run_id"] for entry in train_record["lineage"]} == {features_record["run_id"]}
    assert train_record["effective_params"] == {
        "C": 0.5, "max_iter": 500, "data_path": "data/wine.csv", "test_size": 0.25,
        "random_state": 7,
    }
    assert train_record["outputs"]["train"]["model"]["format"] == "joblib"
    # artifacts: the figure the notebook showed, the saved model
    run_dir = pipeline.parent / "runs" / whole_record["run_id"]
    assert whole_record["artifacts"] == ["figures/pipeline_steps-cell16-1.png", "models/model.joblib"]
    assert (run_dir / "artifacts" / "figures" / "pipeline_steps-cell16-1.png").stat().st_size > 1000
    assert not (pipeline.parent / "figures").exists()


@pytest.mark.slow
def test_a_step_needs_its_inputs_saved(pipeline: Path) -> None:
    result = run_script(pipeline, "--step", "train")
    assert result.returncode == 1
    assert "step 'train' needs 'X_train_scaled' from step 'features'" in result.stderr
    [record] = run_records(pipeline.parent)
    assert record["status"] == "failed" and record["step"] == "train"


@pytest.mark.slow
def test_a_failing_run_is_recorded_as_failed(make_notebook, tmp_path: Path) -> None:
    notebook = make_notebook(
        ("n = 2", ["parameters"]),
        ("values = [1, 2, 3]", ["step:load"]),
        ("print(sum(values) / (n - 2))", ["step:divide"]),
    )
    script = export_notebook(notebook).script_path
    result = run_script(script)
    assert result.returncode == 1 and "ZeroDivisionError" in result.stderr
    [record] = run_records(tmp_path)
    assert record["status"] == "failed"
    assert record["error"] == "ZeroDivisionError: division by zero"
    assert [step["name"] for step in record["steps"]] == ["load"]
    assert run_script(script, "--n", "3").returncode == 0


@pytest.mark.slow
def test_a_helper_kept_in_its_step_sees_the_steps_values(make_notebook) -> None:
    notebook = make_notebook(
        ("scale = 10", ["parameters"]),
        ("data = [1, 2, 3]", ["step:load"]),
        ("def total():\n    return sum(data) * scale\nresult = total()", ["step:sum"]),
        ("print(result)", ["step:show"]),
    )
    script = export_notebook(notebook).script_path
    assert run_script(script).stdout == "60\n"
    assert run_script(script, "--step", "sum", "--scale", "2").returncode == 0
    assert run_script(script, "--step", "show").stdout == "12\n"


def test_display_kept_in_a_block_is_imported_in_step_modules(make_notebook) -> None:
    notebook = make_notebook(
        ("rows = [1, 2]", ["step:load"]),
        ("for row in rows:\n    display(row)", ["step:show"]),
    )
    result = export_notebook(notebook, ExportOptions(dvc=True))
    show = {path.name: text for path, text in result.files}["show.py"]
    assert "from notebook_steps.shared import display\n" in show
