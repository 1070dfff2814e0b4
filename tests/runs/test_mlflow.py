"""A pipeline run logged to a real MLflow store (sqlite in a temp dir), read back with
``MlflowClient``; without mlflow the script still runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from nb2pipe.export import export_notebook

from ..steps.helpers import run_records, run_script


def _commit_all(folder: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "pipeline")
    return git("rev-parse", "HEAD")


@pytest.mark.slow
def test_a_run_is_logged_to_mlflow(samples_copy: Path) -> None:
    mlflow = pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    script = export_notebook(samples_copy / "pipeline_steps.ipynb").script_path
    commit = _commit_all(samples_copy)
    uri = f"sqlite:///{samples_copy / 'mlflow.db'}"
    result = run_script(script, "--C", "0.2", env={"MLFLOW_TRACKING_URI": uri})
    assert result.returncode == 0, result.stderr
    [record] = run_records(samples_copy)
    assert record["mlflow"]["tracking_uri"] == uri and record["mlflow_error"] is None

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("pipeline_steps")
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.run_id == record["mlflow"]["run_id"]
    assert run.info.status == "FINISHED"
    assert run.data.params == {
        "data_path": "data/wine.csv", "test_size": "0.25", "C": "0.2", "max_iter": "500",
        "random_state": "7",
    }
    assert run.data.metrics == record["metrics"] and set(run.data.metrics) == {
        "accuracy", "balanced_accuracy", "f1"
    }
    tags = run.data.tags
    assert tags["mlflow.source.git.commit"] == commit == record["git"]["commit"]
    assert tags["nb2pipe.data.data/wine.csv"] == record["data"]["data/wine.csv"]
    assert tags["mlflow.runName"] == tags["nb2pipe.run_id"] == record["run_id"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"figures", "models", "run.json"}
    assert [a.path for a in client.list_artifacts(run.info.run_id, "figures")] == [
        "figures/pipeline_steps-cell16-1.png"
    ]
    assert [a.path for a in client.list_artifacts(run.info.run_id, "models")] == ["models/model.joblib"]
    del mlflow


@pytest.mark.slow
def test_without_mlflow_the_run_is_recorded_locally(samples_copy: Path, tmp_path: Path) -> None:
    # a stand-in that fails to import, as when mlflow is not installed
    shim = tmp_path / "shim" / "mlflow"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'mlflow'\")\n")
    script = export_notebook(samples_copy / "pipeline_steps.ipynb").script_path
    result = run_script(
        script, "--step", "load", "--tracking-uri", "sqlite:///unused.db",
        env={"PYTHONPATH": os.pathsep.join([str(shim.parent), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]).rstrip(os.pathsep)},
    )
    # the user asked for MLflow: the exit code says it did not happen, run.json still does
    assert result.returncode == 1, result.stderr
    assert (
        "nb2pipe: error: a tracking URI is set (sqlite:///unused.db) but mlflow is not installed "
        "(pip install mlflow); the run is recorded in runs/" in result.stderr
    )
    [record] = run_records(samples_copy)
    assert record["status"] == "finished" and record["mlflow"] is None
    assert record["mlflow_error"] == (
        "a tracking URI is set (sqlite:///unused.db) but mlflow is not installed (pip install "
        "mlflow)"
    )
    assert result.stderr.splitlines()[-1].startswith("nb2pipe: error: a tracking URI is set")
