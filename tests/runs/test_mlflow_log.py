"""The runtime's MLflow logging, on records of real runs of the hand-written scripts: a real
``sqlite:///`` store read back with ``MlflowClient``, and MLflow 3's deprecated file store."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from nb2pipe_runtime.record import RunRecord
from nb2pipe_runtime.reading import read_record

from .conftest import RunScript


def commit_all(folder: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=folder,
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout.strip()

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "scripts and data")
    return git("rev-parse", "HEAD")


def records(project: Path) -> list[RunRecord]:
    found = [read_record(path) for path in (project / "runs").glob("*/run.json")]
    return sorted(found, key=lambda record: record.start)


@pytest.mark.slow
def test_a_step_run_logged_to_sqlite_reads_back(
    project: Path, run: RunScript, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    monkeypatch.chdir(project)  # the store keeps artifacts in ./mlruns, as the script's run does
    from mlflow.tracking import MlflowClient
    from nb2pipe_runtime.mlflow_log import log_run

    commit = commit_all(project)
    (project / ".gitignore").write_text("runs/\noutputs/\nmlflow.db\n")
    run("diabetes_steps.py", "--step", "load")
    run("diabetes_steps.py", "--step", "train", "--alpha", "10")
    run("diabetes_steps.py", "--step", "evaluate")
    load, train, evaluate = records(project)
    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)

    logged = log_run(evaluate, str(project / "runs" / evaluate.run_id), uri)
    experiment = client.get_experiment_by_name("diabetes_steps")
    assert experiment is not None and logged.experiment_id == experiment.experiment_id
    found = client.get_run(logged.run_id)
    assert found.info.status == "FINISHED" and found.info.run_name == evaluate.run_id
    # the effective parameters: alpha 10 from the train run, though evaluate read only test_size
    assert found.data.params == {"test_size": "0.2", "alpha": "10.0", "data_path": "data/diabetes.csv"}
    assert found.data.metrics == evaluate.metrics and set(found.data.metrics) == {"r2"}
    tags = found.data.tags
    assert tags["mlflow.source.git.commit"] == commit == evaluate.git.commit  # type: ignore[union-attr]
    assert tags["nb2pipe.git.dirty"] == "false"
    assert tags["nb2pipe.step"] == "evaluate" and tags["nb2pipe.experiment"] == "diabetes_steps"
    model = next(entry for entry in evaluate.lineage if entry.name == "model")
    assert model.run_id == train.run_id
    assert tags["nb2pipe.input.model"] == (
        f"step train, run {train.run_id}, {model.sha256[:12]}; alpha=10.0, "
        "data_path=data/diabetes.csv, test_size=0.2"
    )
    artifacts = {a.path for a in client.list_artifacts(logged.run_id)}
    assert artifacts == {"figures", "run.json"}
    assert [a.path for a in client.list_artifacts(logged.run_id, "figures")] == [
        "figures/diabetes_steps-cell8-1.png"
    ]

    # the load run carries the data file's hash; the train run its saved model
    logged = log_run(load, str(project / "runs" / load.run_id), uri)
    found_load = client.get_run(logged.run_id)
    tags = found_load.data.tags
    assert tags["nb2pipe.data.data/diabetes.csv"] == load.data["data/diabetes.csv"]
    # ... and logs it as the run's dataset input, its SHA-256 as digest
    [dataset] = [entry.dataset for entry in found_load.inputs.dataset_inputs]
    assert (dataset.name, dataset.source) == ("data/diabetes.csv", "data/diabetes.csv")
    assert load.data["data/diabetes.csv"].startswith(dataset.digest)
    logged = log_run(train, str(project / "runs" / train.run_id), uri)
    assert [a.path for a in client.list_artifacts(logged.run_id, "models")] == ["models/model.joblib"]
    assert client.get_run(logged.run_id).data.params["alpha"] == "10.0"


@pytest.mark.slow
def test_the_file_store_is_a_one_line_error_and_a_failed_exit(
    project: Path, run: RunScript
) -> None:
    pytest.importorskip("mlflow")
    uri = (project / "mlruns").as_uri()
    done = run("train_classifier.py", "--n-estimators", "5", "--tracking-uri", uri, check=False)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("nb2pipe: error:")]
    assert len(errors) == 1
    [record] = records(project)
    where = f"runs/{record.run_id}/run.json"
    assert errors[0].startswith(f"nb2pipe: error: logging to MLflow at {uri} failed: ")
    assert errors[0].endswith(
        "MLflow's file store is deprecated: use a database, e.g. --tracking-uri "
        f"sqlite:///mlflow.db; the run is recorded in {where}"
    )
    # the last line is the failure, as the exit code says: not "run ... finished"
    assert done.stderr.splitlines()[-2:] == [
        f"nb2pipe: run {record.run_id} finished; recorded in {where}", errors[0]
    ]
    assert record.status == "finished" and record.mlflow is None
    assert record.mlflow_error is not None and errors[0] == (
        f"nb2pipe: error: {record.mlflow_error}; the run is recorded in {where}"
    )
    assert json.loads((project / where).read_text())["metrics"]["n_test"] == 54.0


@pytest.mark.slow
def test_a_server_that_is_down_is_recorded_and_a_failed_exit(
    project: Path, run: RunScript
) -> None:
    pytest.importorskip("mlflow")
    uri = "http://127.0.0.1:9"  # the discard port: nothing listens there
    done = run(
        "train_classifier.py", "--n-estimators", "5", "--tracking-uri", uri, check=False,
        env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"},
    )
    assert done.returncode == 1
    [record] = records(project)
    assert record.status == "finished" and record.mlflow is None
    assert record.mlflow_error is not None
    assert record.mlflow_error.startswith(f"logging to MLflow at {uri} failed: ")
    assert "\n" not in record.mlflow_error
    assert done.stderr.splitlines()[-1] == (
        f"nb2pipe: error: {record.mlflow_error}; the run is recorded in "
        f"runs/{record.run_id}/run.json"
    )
    assert "Traceback" not in done.stderr
