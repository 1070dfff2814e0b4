"""With MLflow configured, a study's trials as child runs of one parent run in MLflow.

Each trial logs itself to MLflow as any run of the script does (``MLFLOW_TRACKING_URI``);
at the end of a worker's sweep the parent run (one per study, its id kept in the study so
workers and resumes share it) gets the study's best parameters and metric, and every trial's
MLflow run gets the ``mlflow.parentRunId`` tag that nests it under the parent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nb2pipe.sweep import study as studies

__all__ = ["link_trials"]

_PARENT_TAG = "mlflow.parentRunId"


def link_trials(study: Any, runs_dir: Path, settings: studies.SweepSettings) -> str | None:
    """Nest the study's logged trials under its parent run; a one-line problem, or ``None``
    (also when no trial was logged to MLflow)."""
    from nb2pipe_runtime.reading import RunRecordError, read_record

    logged = []
    for trial in study.get_trials(deepcopy=False):
        run_id = trial.user_attrs.get(studies.RUN_ID)
        if not run_id:
            continue
        try:
            record = read_record(runs_dir / run_id / "run.json")
        except (RunRecordError, OSError):
            continue
        if record.mlflow is not None:
            logged.append((trial, record.mlflow))
    if not logged:
        return None
    try:
        from mlflow.tracking import MlflowClient

        first = logged[0][1]
        client = MlflowClient(tracking_uri=first.tracking_uri)
        parent = study.user_attrs.get(studies.MLFLOW_PARENT)
        if parent is None:
            parent = client.create_run(
                first.experiment_id, run_name=study.study_name,
                tags={"nb2pipe.study": study.study_name, "nb2pipe.metric": settings.metric},
            ).info.run_id
            study.set_user_attr(studies.MLFLOW_PARENT, parent)
        for _trial, mlflow_run in logged:
            if client.get_run(mlflow_run.run_id).data.tags.get(_PARENT_TAG) != parent:
                client.set_tag(mlflow_run.run_id, _PARENT_TAG, parent)
        try:
            best = study.best_trial
        except ValueError:
            best = None
        if best is not None and best.value is not None:
            client.log_metric(parent, settings.metric, float(best.value))
            for name, value in best.params.items():
                client.set_tag(parent, f"best.{name}", str(value))
            client.set_tag(parent, "nb2pipe.best_run", str(best.user_attrs.get(studies.RUN_ID)))
        client.set_terminated(parent, status="FINISHED")
    except Exception as exc:  # noqa: BLE001 - the sweep's runs are recorded; say what failed
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"could not nest the trials under one MLflow run: {first_line}"
    return None
