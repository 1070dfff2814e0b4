"""nb2pipe_runtime.engine, what orchestrators' tasks call: a step at a time through a store."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from nb2pipe_runtime.engine import EngineError, best_run, grid_points, run_component, run_script

from nb2pipe.export import export_notebook

from ..conftest import notebook_json


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    notebook = tmp_path / "project" / "steps.ipynb"
    notebook.parent.mkdir()
    notebook.write_text(json.dumps(notebook_json(
        ("n = 3  # how many", ["parameters"]),
        ("values = list(range(n))", ["step:make"]),
        ("total = sum(values)\nprint(total)", ["step:add", "metrics"]),
    )))
    return export_notebook(notebook).script_path


def test_steps_pass_their_outputs_through_an_fsspec_store(pipeline: Path, tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    store = (tmp_path / "store").as_uri()  # file:///...: any fsspec URL works the same way
    runs = str(tmp_path / "runs")
    made = run_script(str(pipeline), {"n": 5}, step="make", outputs=store, runs_dir=runs)
    assert (tmp_path / "store" / "make" / "manifest.json").is_file()
    assert not (pipeline.parent / "outputs").exists()  # only in the store
    added = run_script(str(pipeline), {"n": 5}, step="add", inputs_from=("make",),
                       outputs=store, runs_dir=runs)
    assert added.metrics == {"total": 10.0} and added.params["n"] == 5
    assert json.loads(Path(added.record).read_text())["lineage"][0]["run_id"] == made.run_id


def test_a_component_runs_the_code_it_is_given_between_artifact_folders(
    pipeline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Kubeflow component: the code comes as an input, the step outputs as artifact folders
    (named by the producing step), in the project's folder as the working directory."""
    code = pipeline.read_text()
    encoded = base64.b64encode(code.encode()).decode()
    monkeypatch.chdir(pipeline.parent)
    runs = str(tmp_path / "runs")
    made = run_component(pipeline.name, encoded, {"n": 4}, step="make",
                         output=str(tmp_path / "artifacts" / "make"), runs_dir=runs)
    assert (tmp_path / "artifacts" / "make" / "manifest.json").is_file()
    assert not (pipeline.parent / "outputs").exists()
    # code that differs from the folder's script runs as given (the YAML's code wins)
    changed = code.replace("total = sum(values)", "total = sum(values) * 2")
    assert changed != code
    added = run_component(
        pipeline.name, base64.b64encode(changed.encode()).decode(), {"n": 4}, step="add",
        inputs={"make": str(tmp_path / "artifacts" / "make")}, runs_dir=runs,
    )
    assert added.metrics == {"total": 12.0}
    [lineage] = json.loads(Path(added.record).read_text())["lineage"]
    assert lineage["run_id"] == made.run_id
    # where the input is: the artifact folder (not the link in the task's scratch folder)
    assert Path(lineage["path"]).parent == (tmp_path / "artifacts" / "make").resolve()
    assert pipeline.read_text() == code and os.listdir(tmp_path / "artifacts") == ["make"]
    # the whole script, with no step store
    whole = run_component(pipeline.name, encoded, {"n": 2}, runs_dir=runs)
    assert whole.metrics == {"total": 1.0} and whole.params["n"] == 2


def test_a_failing_task_raises_with_the_scripts_error(pipeline: Path, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="n: invalid int value: 'many'"):
        run_script(str(pipeline), {"n": "many"}, runs_dir=str(tmp_path / "runs"))


def test_grid_points_and_the_best_run() -> None:
    assert grid_points({"C": [0.1, 1.0], "seed": 3}, {"C": 0.5, "n": 2}) == [
        {"C": 0.1, "n": 2, "seed": 3}, {"C": 1.0, "n": 2, "seed": 3}
    ]
    with pytest.raises(EngineError, match="the grid must map"):
        grid_points([1, 2])  # type: ignore[arg-type]
    runs = [
        {"run_id": "a", "status": "finished", "metrics": {"loss": 0.3}, "params": {}},
        {"run_id": "b", "status": "finished", "metrics": {"loss": 0.1}, "params": {}},
        {"run_id": "c", "status": "failed", "metrics": {}, "params": {}},
    ]
    assert best_run(runs, "loss", ascending=False)["run_id"] == "a"
    # by default the first metric, better lower for a loss (by its name, as nb2pipe sweep
    # ranks it) and higher otherwise
    assert best_run(runs, None)["run_id"] == "b"
    scored = [{**run, "metrics": {"accuracy": 1 - run["metrics"]["loss"]}} for run in runs[:2]]
    assert best_run(scored, None)["run_id"] == "b"
    assert best_run([{**run, "metrics": {"accuracy": run["metrics"]["loss"]}} for run in runs[:2]],
                    "accuracy")["run_id"] == "a"


def test_the_task_reads_the_run_record_not_the_status_line(tmp_path: Path) -> None:
    """The record's path comes back through a file the run writes, so a script (or a notebook
    subprocess) printing a look-alike status line cannot mislead the task; a run the script
    itself starts does not inherit the hand-off."""
    notebook = tmp_path / "project" / "flat.ipynb"
    notebook.parent.mkdir()
    notebook.write_text(json.dumps(notebook_json(
        ("n = 3  # how many", ["parameters"]),
        ("import os, sys\n"
         + "print('nb2pipe: run fake finished; recorded in /nowhere/run.json', file=sys.stderr)\n"
         + "inherited = os.environ.get('NB2PIPE_RECORD_HANDOFF')", []),
        ("total = n * 2 + (inherited is not None)", ["metrics"]),
    )))
    script = export_notebook(notebook).script_path
    task = run_script(str(script), {"n": 4}, runs_dir=str(tmp_path / "runs"))
    assert task.status == "finished" and task.metrics == {"total": 8.0}
    assert Path(task.record).parent.name == task.run_id
    assert Path(task.record).is_relative_to(tmp_path / "runs")


def test_each_point_of_a_sweep_has_an_outputs_folder_of_its_own() -> None:
    from nb2pipe_runtime.engine import point_outputs

    one = point_outputs("s3://bucket/outputs/", {"C": 0.5, "seed": 1})
    assert one.startswith("s3://bucket/outputs/.sweep/") and len(one.rsplit("/", 1)[1]) == 16
    assert point_outputs("s3://bucket/outputs", {"seed": 1, "C": 0.5}) == one  # order is no matter
    assert point_outputs("s3://bucket/outputs", {"C": 5.0, "seed": 1}) != one
