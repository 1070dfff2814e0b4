"""A sweep's Optuna study: where it is stored, how it is resumed and shared, what counts.

The study is the sweep's memory: its trials (each one run of the script), their values, and
what the sweep was asked (the space, the metric) as study attributes, so that re-running the
same command continues it, a worker in another shell or machine joins it, and a resume with
another space is refused. The default storage is a journal file under ``runs/.sweeps/``
(Optuna's storage for many processes sharing one file); a URL (``sqlite:///...``,
``postgresql://...``) is an Optuna RDB storage, any other path a journal file.

Each trial carries user attributes: the worker running it (host, process id and its start)
and a heartbeat, which let another worker or a restart fail a trial whose worker died
(``lost``, not counted, its grid point enqueued again); and at its end its outcome and run id.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nb2pipe.errors import Nb2PipeError
from nb2pipe.sweep.space import SweepSpace, describe, to_choice

if TYPE_CHECKING:
    import optuna

__all__ = [
    "HEARTBEAT_SECONDS",
    "StudyState",
    "SweepSettings",
    "claim_is_first",
    "default_study_name",
    "enqueue_grid",
    "fail_lost_trials",
    "heartbeat",
    "open_storage",
    "open_study",
    "study_state",
    "worker_id",
]

HEARTBEAT_SECONDS = 10.0  #: how often a worker marks its running trials alive
LOST_AFTER_SECONDS = 60.0  #: a running trial of another host unmarked this long is lost

# user attributes of a trial
WORKER = "nb2pipe.worker"
BEAT = "nb2pipe.heartbeat"
OUTCOME = "nb2pipe.outcome"  #: finished, pruned, failed (the script), lost, interrupted, duplicate
RUN_ID = "nb2pipe.run_id"
ERROR = "nb2pipe.error"
# user attributes of the study
SPACE = "nb2pipe.space"
METRIC = "nb2pipe.metric"
SCRIPT = "nb2pipe.script"
MLFLOW_PARENT = "nb2pipe.mlflow_parent"

#: outcomes of trials that ran to an end: they count towards ``--trials``, and a grid point
#: with one is done
COUNTED = ("finished", "pruned", "failed")


@dataclass(frozen=True)
class SweepSettings:
    """What a study is created with and checked against on a resume."""

    script: str  #: the script's file name
    space: SweepSpace  #: typed by the script
    metric: str
    direction: str  #: ``maximize`` or ``minimize``


def default_study_name(settings: SweepSettings) -> str:
    """The script's name and a digest of the space, metric and direction: the same command
    resumes its study, another space starts another one."""
    text = json.dumps(
        [describe(settings.space), settings.metric, settings.direction], sort_keys=True,
        default=str,
    )
    return f"{Path(settings.script).stem}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def open_storage(url: str | None, runs_dir: Path) -> tuple[Any, str]:
    """The Optuna storage for ``url`` (default: a journal file under ``runs_dir/.sweeps``),
    and how to name it to a user.

    Raises
    ------
    Nb2PipeError
        The storage cannot be opened (a driver missing, a server down): one line.
    """
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if url is None:
        path = runs_dir / ".sweeps" / "studies.journal"
    elif "://" not in url:
        path = Path(url)
    else:
        try:
            return optuna.storages.RDBStorage(url), url
        except Exception as exc:  # noqa: BLE001 - any driver's failure, in one line
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise Nb2PipeError(f"--storage {url}: cannot open it: {first}") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path))), str(path)
    except OSError as exc:
        raise Nb2PipeError(f"{path}: cannot open the sweep's journal: {exc.strerror}") from None


def open_study(
    storage: Any, name: str, settings: SweepSettings, sampler: Any, pruner: Any
) -> tuple[optuna.Study, bool]:
    """Create the study, or load it and check it was created for the same sweep; whether it
    was created now.

    Raises
    ------
    Nb2PipeError
        The study exists with another space, metric or direction: one line saying which.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            storage=storage, study_name=name, sampler=sampler, pruner=pruner,
            direction="maximize" if settings.direction == "maximize" else "minimize",
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(
            study_name=name, storage=storage, sampler=sampler, pruner=pruner
        )
        _check_same(study, name, settings)
        return study, False
    study.set_user_attr(SPACE, describe(settings.space))
    study.set_user_attr(METRIC, settings.metric)
    study.set_user_attr(SCRIPT, settings.script)
    return study, True


def _check_same(study: optuna.Study, name: str, settings: SweepSettings) -> None:
    attrs = study.user_attrs
    if SPACE not in attrs:  # created a moment ago by another worker, not yet described
        return
    was = attrs[SPACE]
    now = json.loads(json.dumps(describe(settings.space), default=str))
    if was != now:
        changed = sorted(set(was) ^ set(now)) or [k for k in now if was.get(k) != now[k]]
        detail = ", ".join(
            f"{key}: {json.dumps(was.get(key))} then, {json.dumps(now.get(key))} now"
            for key in changed
        )
        raise Nb2PipeError(
            f"study {name} was created with another space ({detail}): give --study NAME for "
            "a new study"
        )
    direction = study.direction.name.lower()
    if attrs.get(METRIC) != settings.metric or direction != settings.direction:
        raise Nb2PipeError(
            f"study {name} ranks by {attrs.get(METRIC)} ({direction}), not by "
            f"{settings.metric} ({settings.direction}): give --study NAME for a new study"
        )


# -- workers and their trials -----------------------------------------------------------------
def worker_id(pid: int | None = None) -> str:
    """``host/pid/start``: which process runs a trial (``start`` tells a reused pid apart)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}/{pid}/{_process_start(pid)}"


def _process_start(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "?"
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, starttime


def _worker_alive(worker: str) -> bool | None:
    """Whether the worker process still runs; ``None`` for another host's worker."""
    host, _, rest = worker.partition("/")
    pid, _, start = rest.partition("/")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return bool(start == "?" or _process_start(int(pid)) == start)


def heartbeat(study: optuna.Study, trial_id: int) -> None:
    """Mark a running trial alive (another worker fails it as lost when this stops)."""
    import optuna

    try:
        study._storage.set_trial_user_attr(trial_id, BEAT, time.time())
    except optuna.exceptions.UpdateFinishedTrialError:
        pass  # another worker already failed it as lost


def fail_lost_trials(study: optuna.Study) -> int:
    """Fail the running trials whose worker died (a SIGKILL, a crash, a machine gone): on this
    host when its process is gone, elsewhere when its heartbeat stopped. How many."""
    import optuna
    from optuna.trial import TrialState

    lost = 0
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER)
        if worker is None:
            # claimed a moment ago, or by something else than nb2pipe: by its start
            started = trial.datetime_start.timestamp() if trial.datetime_start else now
            if now - started < LOST_AFTER_SECONDS:
                continue
        else:
            alive = _worker_alive(worker)
            beat = float(trial.user_attrs.get(BEAT, 0.0))
            if alive or (alive is None and now - beat < LOST_AFTER_SECONDS):
                continue
        try:
            study._storage.set_trial_user_attr(trial._trial_id, OUTCOME, "lost")
            if study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                lost += 1
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return lost


def _point(trial: Any) -> str:
    """A trial's parameters as a key (enqueued trials hold theirs as ``fixed_params``)."""
    params = trial.system_attrs.get("fixed_params") or trial.params
    return json.dumps(
        {name: to_choice(value) for name, value in params.items()}, sort_keys=True
    )


def _covers(trial: Any) -> bool:
    """Whether ``trial`` stands for its point: waiting, running, or ran to an end."""
    from optuna.trial import TrialState

    if trial.state in (
        TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED
    ):
        return True
    return bool(trial.state == TrialState.FAIL and trial.user_attrs.get(OUTCOME) == "failed")


def enqueue_grid(study: optuna.Study, points: list[dict[str, Any]]) -> int:
    """Enqueue the grid's points that no trial stands for (all of them in a new study; on a
    resume, those lost or interrupted); how many.

    Two workers starting together may enqueue a point twice: :func:`claim_is_first` drops
    the later copy when a worker takes it, so no point runs twice.
    """
    covered = {_point(trial) for trial in study.get_trials(deepcopy=False) if _covers(trial)}
    added = 0
    for point in points:
        key = json.dumps({name: to_choice(v) for name, v in point.items()}, sort_keys=True)
        if key not in covered:
            study.enqueue_trial({name: to_choice(v) for name, v in point.items()})
            covered.add(key)
            added += 1
    return added


def claim_is_first(study: optuna.Study, trial: optuna.Trial) -> bool:
    """Whether the trial this worker just took is the first that stands for its point; a
    later copy is failed as a ``duplicate`` (not counted) and not run."""
    from optuna.trial import TrialState

    mine = study._storage.get_trial(trial._trial_id)
    key = _point(mine)
    for other in study.get_trials(deepcopy=False):
        if other.number < mine.number and _covers(other) and _point(other) == key:
            study._storage.set_trial_user_attr(trial._trial_id, OUTCOME, "duplicate")
            study.tell(trial, state=TrialState.FAIL)
            return False
    return True


@dataclass(frozen=True)
class StudyState:
    """The study's trials as the sweep counts them."""

    counted: int  #: ran to an end (finished, pruned, failed by the script) or running
    finished: int
    pruned: int
    failed: int
    running: int
    waiting: int
    lost: int  #: lost or interrupted: not counted, their points run again
    best: float | None


def study_state(study: optuna.Study) -> StudyState:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    states = [t.state for t in trials]
    failed = sum(
        t.state == TrialState.FAIL and t.user_attrs.get(OUTCOME) == "failed" for t in trials
    )
    lost = sum(
        t.state == TrialState.FAIL and t.user_attrs.get(OUTCOME) in ("lost", "interrupted")
        for t in trials
    )
    finished = states.count(TrialState.COMPLETE)
    pruned = states.count(TrialState.PRUNED)
    running = states.count(TrialState.RUNNING)
    best = None
    if finished:
        best = study.best_value
    return StudyState(
        counted=finished + pruned + failed + running, finished=finished, pruned=pruned,
        failed=failed, running=running, waiting=states.count(TrialState.WAITING), lost=lost,
        best=best,
    )
