"""``nb2pipe runs --to-mlflow URI``: real run records copied into a real ``sqlite:///`` MLflow
store, read back with ``MlflowClient``; a second copy adds nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from nb2pipe_runtime.reading import read_record
from nb2pipe_runtime.record import RunRecord

from .conftest import RunScript, invoke
from .test_mlflow_log import commit_all


def records(project: Path) -> dict[str, RunRecord]:
    found = [read_record(path) for path in (project / "runs").glob("*/run.json")]
    return {record.run_id: record for record in sorted(found, key=lambda r: r.start)}


@pytest.fixture
def history(project: Path, run: RunScript) -> Path:
    """A team's history before MLflow: whole runs, --step runs with lineage, a failed run, a
    run with a --config file."""
    commit_all(project)
    (project / ".gitignore").write_text("runs/\noutputs/\nmlflow.db\nmlruns/\n")
    (project / "fast.yaml").write_text("n_estimators: 5\n")
    run("train_classifier.py", "--config", "fast.yaml")
    run("train_classifier.py", "--n-estimators", "8", "--max-depth", "2")
    run("diabetes_steps.py", "--step", "load")
    run("diabetes_steps.py", "--step", "train", "--alpha", "10")
    run("diabetes_steps.py", "--step", "evaluate")
    failed = run("diabetes_steps.py", "--test-size", "2", check=False)
    assert failed.returncode == 1
    return project


@pytest.mark.slow
def test_every_record_is_copied_with_what_it_recorded(
    history: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(history)  # the store keeps artifacts in ./mlruns
    uri = f"sqlite:///{history / 'mlflow.db'}"
    result = invoke("--to-mlflow", uri, str(history))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"copied 6 runs to {uri}\n"

    client = MlflowClient(tracking_uri=uri)
    recorded = records(history)
    logged = {}
    for name in ("train_classifier", "diabetes_steps"):
        experiment = client.get_experiment_by_name(name)
        assert experiment is not None
        for found in client.search_runs([experiment.experiment_id]):
            logged[found.data.tags["nb2pipe.run_id"]] = found
    assert set(logged) == set(recorded)
    for run_id, record in recorded.items():
        found = logged[run_id]
        assert found.info.run_name == run_id
        assert found.info.status == ("FINISHED" if record.status == "finished" else "FAILED")
        assert found.info.start_time == round(_millis(record.start))
        assert found.info.end_time == round(_millis(record.end))
        assert found.data.params == {k: str(v) for k, v in record.effective_params.items()}
        assert found.data.metrics == record.metrics
        tags = found.data.tags
        assert record.git is not None and tags["mlflow.source.git.commit"] == record.git.commit
        assert tags["nb2pipe.experiment"] == record.experiment
        for path, digest in record.data.items():
            assert tags[f"nb2pipe.data.{path}"] == digest
        artifacts = {a.path for a in client.list_artifacts(found.info.run_id)}
        assert "run.json" in artifacts
        assert ("figures" in artifacts) == any(a.startswith("figures/") for a in record.artifacts)
        assert ("models" in artifacts) == any(a.startswith("models/") for a in record.artifacts)

    # the evaluate run: its lineage, and the data its inputs were computed from
    evaluate = next(r for r in recorded.values() if r.step == "evaluate")
    train = next(r for r in recorded.values() if r.step == "train")
    found = logged[evaluate.run_id]
    assert found.data.params["alpha"] == "10.0"  # effective: the train run's value
    assert found.data.tags["nb2pipe.input.model"].startswith(f"step train, run {train.run_id}, ")
    [dataset] = [entry.dataset for entry in found.inputs.dataset_inputs]
    assert dataset.name == "data/diabetes.csv"
    assert evaluate.lineage[0].data["data/diabetes.csv"].startswith(dataset.digest)
    failed = next(r for r in recorded.values() if r.status == "failed")
    assert logged[failed.run_id].data.tags["nb2pipe.error"] == failed.error

    # idempotent: nothing is copied twice
    again = invoke("--to-mlflow", uri, str(history))
    assert again.exit_code == 0 and again.stdout == f"copied 0 runs to {uri}; 6 were there already\n"
    assert sum(len(client.search_runs([e.experiment_id])) for e in client.search_experiments()) == 6


@pytest.mark.slow
def test_runs_logged_at_run_time_filters_and_broken_copies(
    project: Path, run: RunScript, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(project)
    uri = f"sqlite:///{project / 'mlflow.db'}"
    run("train_classifier.py", "--n-estimators", "5", "--tracking-uri", uri)  # logged already
    run("train_classifier.py", "--n-estimators", "6")
    run("diabetes_steps.py", "--step", "load")
    client = MlflowClient(tracking_uri=uri)
    # a copy that broke off half-way: an MLflow run still RUNNING with the nb2pipe run's tag
    second = list(records(project).values())[1]
    experiment_id = client.get_experiment_by_name("train_classifier").experiment_id
    broken = client.create_run(experiment_id, tags={"nb2pipe.run_id": second.run_id})

    result = invoke("--to-mlflow", uri, "--experiment", "train_classifier", str(project))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"copied 1 run to {uri}; 1 was there already\n"
    kept = client.search_runs([experiment_id])
    assert sorted(r.data.tags["nb2pipe.run_id"] for r in kept) == sorted(
        r.run_id for r in records(project).values() if r.experiment == "train_classifier"
    )
    assert all(r.info.status == "FINISHED" for r in kept)
    assert client.get_run(broken.info.run_id).info.lifecycle_stage == "deleted"
    assert client.get_experiment_by_name("diabetes_steps") is None  # not shown: not copied


def test_a_store_that_fails_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    from .conftest import make_record, write_records

    write_records(tmp_path / "runs", make_record("r01", metrics={"accuracy": 0.5}))
    monkeypatch.chdir(tmp_path)
    uri = (tmp_path / "mlruns").as_uri()  # MLflow 3's file store refuses
    result = invoke("--to-mlflow", uri, str(tmp_path))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(f"nb2pipe: error: --to-mlflow: logging to MLflow at {uri} ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def _millis(moment: str) -> float:
    import datetime

    return datetime.datetime.fromisoformat(moment).timestamp() * 1000
