"""``nb2pipe runs --to-mlflow URI``: copy run records into an MLflow store.

For runs recorded before MLflow was set up (or by a teammate without it): each record becomes
the MLflow run its script would have logged with ``--tracking-uri`` (the runtime's own
:func:`~nb2pipe_runtime.mlflow_log.log_run`: effective parameters, metrics, tags with the git
commit, the data files' SHA-256 and the lineage of a ``--step`` run's inputs, the data files as
dataset inputs, the artifacts and ``run.json``), with its own start and end times. A record is
copied once: the store is asked which nb2pipe runs it already holds (the
``nb2pipe.run_id`` tag), and those are left alone; a copy that broke off half-way (an MLflow run
still ``RUNNING``) is deleted and made again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nb2pipe_runtime.mlflow_log import (
    RUN_ID_TAG,
    MlflowError,
    experiment_name,
    log_run,
    reason,
)

from nb2pipe.errors import Nb2PipeError
from nb2pipe.runs.records import StoredRecord

__all__ = ["CopiedRuns", "MlflowCopyError", "copy_to_mlflow"]


@dataclass(frozen=True)
class CopiedRuns:
    """What a copy did: nb2pipe run id -> MLflow run id, for the runs copied now and those the
    store held already."""

    tracking_uri: str
    copied: dict[str, str]
    present: dict[str, str]

    def summary(self) -> str:
        copied, present = len(self.copied), len(self.present)
        text = f"copied {copied} run{'s' if copied != 1 else ''} to {self.tracking_uri}"
        if present:
            text += f"; {present} {'was' if present == 1 else 'were'} there already"
        return text


class MlflowCopyError(Nb2PipeError):
    """mlflow is missing or the store failed (a run is not bad input: exit 1, not 2)."""

    exit_code = 1


def copy_to_mlflow(records: Iterable[StoredRecord], tracking_uri: str) -> CopiedRuns:
    """Copy ``records`` (oldest first) into the MLflow store at ``tracking_uri``.

    Raises
    ------
    MlflowCopyError
        mlflow is not installed, or the store fails: one line saying how many runs were
        copied before it did (running the command again copies the rest).
    """
    try:
        from mlflow.tracking import MlflowClient
    except ModuleNotFoundError:
        raise MlflowCopyError(
            f"--to-mlflow {tracking_uri}: mlflow is not installed (pip install mlflow)"
        ) from None
    copied: dict[str, str] = {}
    present: dict[str, str] = {}
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        held: dict[str, dict[str, tuple[str, str]]] = {}  # experiment -> nb2pipe run -> (id, status)
        for stored in records:
            record = stored.record
            name = experiment_name(record)
            if name not in held:
                held[name] = _held_runs(client, name)
            found = held[name].get(record.run_id)
            if found is not None and found[1] != "RUNNING":
                present[record.run_id] = found[0]
                continue
            if found is not None:  # a copy (or a run's own logging) that broke off
                client.delete_run(found[0])
            logged = log_run(record, str(stored.run_dir), tracking_uri)
            copied[record.run_id] = logged.run_id
            held[name][record.run_id] = (logged.run_id, "FINISHED")
    except MlflowError as exc:
        raise _partial(tracking_uri, copied, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - any failure of the store is one line
        raise _partial(tracking_uri, copied, reason(exc, tracking_uri)) from None
    return CopiedRuns(tracking_uri=tracking_uri, copied=copied, present=present)


def _partial(tracking_uri: str, copied: dict[str, str], message: str) -> MlflowCopyError:
    if not copied:
        return MlflowCopyError(f"--to-mlflow: {message}")
    count = len(copied)
    return MlflowCopyError(
        f"--to-mlflow: {message} (after copying {count} run{'s' if count != 1 else ''}; run "
        "the command again to copy the rest)"
    )


def _held_runs(client: Any, experiment: str) -> dict[str, tuple[str, str]]:
    """The nb2pipe runs an MLflow experiment holds: nb2pipe run id -> (MLflow run id,
    status), deleted runs left out."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return {}
    held: dict[str, tuple[str, str]] = {}
    token = None
    while True:
        page = client.search_runs(
            [found.experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` != ''",
            max_results=1000, page_token=token,
        )
        for run in page:
            nb2pipe_id = run.data.tags.get(RUN_ID_TAG)
            if nb2pipe_id and (nb2pipe_id not in held or run.info.status != "RUNNING"):
                held[nb2pipe_id] = (run.info.run_id, run.info.status)
        token = page.token
        if not token:
            return held
