"""Log a run record and its artifacts to MLflow (``--tracking-uri`` or ``MLFLOW_TRACKING_URI``)."""

from __future__ import annotations

import os
import re
from typing import Any

from nb2pipe_runtime.record import InputLineage, MlflowRun, RunRecord

__all__ = ["RUN_ID_TAG", "MlflowError", "experiment_name", "log_run", "reason"]

#: The tag that names the nb2pipe run an MLflow run holds (how a copy finds what is there).
RUN_ID_TAG = "nb2pipe.run_id"

_MAX_PARAM = 6000  #: MLflow's limit on a parameter value's length
_MAX_TAG = 5000


class MlflowError(Exception):
    """Logging to MLflow failed (mlflow missing, a store that refuses, a server that is down)."""


def log_run(record: RunRecord, run_dir: str, tracking_uri: str) -> MlflowRun:
    """Log ``record`` and the run's artifacts as one MLflow run in the record's experiment.

    Parameters are the run's effective parameters; tags carry the run id, status, step, git
    commit, the SHA-256 of each data file and the lineage of a ``--step`` run's inputs.

    Raises
    ------
    MlflowError
        With a one-line reason (for MLflow 3's deprecated file store: use ``sqlite:///``).
    """
    try:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient
    except ModuleNotFoundError:
        raise MlflowError(
            f"a tracking URI is set ({tracking_uri}) but mlflow is not installed "
            "(pip install mlflow)"
        ) from None
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        name = experiment_name(record)
        experiment = client.get_experiment_by_name(name)
        experiment_id = (
            experiment.experiment_id if experiment is not None else client.create_experiment(name)
        )
        run = client.create_run(
            experiment_id, start_time=_millis(record.start), tags=_tags(record),
            run_name=record.run_id,
        )
        run_id = run.info.run_id
        params = [
            Param(key, str(value)[:_MAX_PARAM]) for key, value in record.effective_params.items()
        ]
        metrics = [
            Metric(key, value, _millis(record.end), 0) for key, value in record.metrics.items()
        ]
        lineage = [
            RunTag(f"nb2pipe.input.{entry.name}", _lineage_text(entry))
            for entry in record.lineage
        ]
        client.log_batch(run_id, metrics=metrics, params=params, tags=lineage)
        datasets = _datasets(record)
        if datasets:
            client.log_inputs(run_id, datasets=datasets)
        artifacts = os.path.join(run_dir, "artifacts")
        if os.path.isdir(artifacts) and os.listdir(artifacts):
            client.log_artifacts(run_id, artifacts)
        client.log_artifact(run_id, os.path.join(run_dir, "run.json"))
        status = "FINISHED" if record.status == "finished" else "FAILED"
        client.set_terminated(run_id, status=status, end_time=_millis(record.end))
    except Exception as exc:  # noqa: BLE001 - any failure of the store is reported, not raised
        raise MlflowError(reason(exc, tracking_uri)) from None
    return MlflowRun(run_id=run_id, experiment_id=str(experiment_id), tracking_uri=tracking_uri)


def experiment_name(record: RunRecord) -> str:
    """The MLflow experiment ``record`` is logged in: ``$MLFLOW_EXPERIMENT_NAME``, else the
    record's own experiment."""
    return os.environ.get("MLFLOW_EXPERIMENT_NAME") or record.experiment


def _datasets(record: RunRecord) -> list[Any]:
    """The data files the run read, and those its inputs were computed from (a ``--step``
    run's lineage), as MLflow dataset inputs with their SHA-256 as digest; the data it read
    from URLs and DVC registries with their URL as source and their version as digest."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    files = dict(record.data)
    for entry in record.lineage:
        for path, digest in entry.data.items():
            files.setdefault(path, digest)
    inputs = [
        DatasetInput(
            Dataset(name=path, digest=digest[:36], source_type="local", source=path),
            tags=[InputTag("mlflow.data.context", "read" if path in record.data else "lineage")],
        )
        for path, digest in sorted(files.items()) if "://" not in path
    ]
    # data read from URLs and DVC registries: the URL as source, the version as digest
    for source in record.sources:
        identity = source.identity or source.checks or "unversioned"
        inputs.append(DatasetInput(
            Dataset(
                name=source.url, digest=identity.partition(":")[2][:36] if ":" in identity
                else identity[:36], source_type=source.scheme, source=source.url,
            ),
            tags=[InputTag("mlflow.data.context", "read")],
        ))
    return inputs


def _tags(record: RunRecord) -> dict[str, str]:
    tags = {
        "mlflow.runName": record.run_id,
        "mlflow.source.name": record.script,
        RUN_ID_TAG: record.run_id,
        "nb2pipe.experiment": record.experiment,
        "nb2pipe.status": record.status,
    }
    if record.notebook:
        tags["nb2pipe.notebook"] = record.notebook
    if record.git is not None:
        tags["mlflow.source.git.commit"] = record.git.commit
        tags["nb2pipe.git.dirty"] = str(record.git.dirty).lower()
    if record.step:
        tags["nb2pipe.step"] = record.step
    if record.mixed_params:
        tags["nb2pipe.mixed_params"] = ", ".join(record.mixed_params)
    if record.error:
        tags["nb2pipe.error"] = record.error[:_MAX_TAG]
    for path, digest in record.data.items():
        tags["nb2pipe.data." + re.sub(r"[^\w\-. /]", "_", path)[:200]] = digest
    return tags


def _lineage_text(entry: InputLineage) -> str:
    values = ", ".join(f"{key}={value}" for key, value in sorted(entry.params.items()))
    return f"step {entry.step}, run {entry.run_id or '?'}, {entry.sha256[:12]}; {values}"[:_MAX_TAG]


def _millis(moment: str) -> int:
    import datetime

    return int(datetime.datetime.fromisoformat(moment).timestamp() * 1000)


def reason(exc: Exception, tracking_uri: str) -> str:
    """One line saying why talking to the store at ``tracking_uri`` failed (MLflow's messages
    go on with links and advice; the first sentence is kept)."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    first = message.split(". ", 1)[0].rstrip(".")  # MLflow's messages go on with links
    message = first if len(first) <= 200 else first[:197] + "..."
    text = f"logging to MLflow at {tracking_uri} failed: {message}"
    if tracking_uri.startswith("file:") or "://" not in tracking_uri:
        text += (
            "; MLflow's file store is deprecated: use a database, e.g. "
            "--tracking-uri sqlite:///mlflow.db"
        )
    return text
