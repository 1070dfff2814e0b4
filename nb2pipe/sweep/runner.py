"""Run a study's trials, N at a time, each a normal recorded run of the script.

Ask and tell: the sweep asks the study for a trial (an enqueued grid point, or the sampler's
next point), writes its values to a config file (``<runs dir>/.sweeps/<study>/trial-<n>.json``,
beside its log) and runs ``python SCRIPT --config FILE --runs-dir DIR`` in the current folder,
in a process group of its own that dies with the sweep (a parent-death signal on Linux), then
tells the study the run's metric from its record. A failed trial is reported and the others go
on; the script's ``nb2pipe_runtime.report(value, step)`` reaches the sweep through a pipe, the
sweep asks the pruner and answers, and a pruned trial stops at that report. Ctrl-C (or SIGTERM,
SIGHUP) interrupts the running trials (their runs are recorded as failed, their trials are not
counted), keeps the finished ones, and leaves no process behind.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from nb2pipe_runtime.reading import RunRecordError, read_record
from nb2pipe_runtime.record import RunRecord
from nb2pipe_runtime.run import OBJECTIVE_VARIABLE
from nb2pipe_runtime.sweep import REPORT_VARIABLE

from nb2pipe.sweep import study as studies
from nb2pipe.sweep.space import SweepSpace, distributions, from_choices, grid

__all__ = ["SweepRun", "Sweeper", "TrialRun"]

_RECORDED = re.compile(r"^nb2pipe: run (\S+) (finished|failed|pruned); recorded in (.+)$", re.MULTILINE)
_GRACE = 5.0  #: seconds an interrupted or pruned trial has to record its run before it is killed

# Runs in the script's interpreter, then becomes the script (exec keeps the process): the
# trial dies with the sweep (PR_SET_PDEATHSIG; a sweep that died before it was set is seen
# by the parent check), and the pipe ends to the sweep are named for this process only.
_LAUNCHER = r"""
import ctypes, os, signal, sys
parent = int(os.environ.pop("NB2PIPE_SWEEP_PARENT"))
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
except (OSError, AttributeError):
    pass  # not Linux: the sweep's own signal handlers stop its trials
if os.getppid() != parent:
    os._exit(1)
os.environ["NB2PIPE_SWEEP_REPORT"] = "%d:%s" % (os.getpid(), os.environ.pop("NB2PIPE_SWEEP_FDS"))
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""


@dataclass
class TrialRun:
    """One trial of the study that this worker ran, and how its run went."""

    number: int  #: the study's trial number (0-based, across workers)
    values: dict[str, Any]  #: the swept parameters' values, as the script reads them
    config: Path
    log: Path
    trial: Any = field(default=None, repr=False)  #: the optuna.Trial
    status: str = "running"  #: running, finished, pruned, failed, interrupted, lost
    run_id: str | None = None
    value: float | None = None  #: the metric (a pruned trial's: the value it reported last)
    returncode: int | None = None
    error: str | None = None  #: the last line the script printed to stderr, for a failure
    seconds: float = 0.0
    started: float = 0.0
    pruned_at: float | None = None  #: when the sweep answered ``prune``
    last_step: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    output: IO[bytes] | None = field(default=None, repr=False)
    reports: int | None = field(default=None, repr=False)  #: the pipe end the script writes
    answers: int | None = field(default=None, repr=False)  #: the pipe end the sweep answers on
    buffer: bytes = field(default=b"", repr=False)

    @property
    def label(self) -> str:
        return ", ".join(f"{name}={_text(value)}" for name, value in self.values.items())


@dataclass
class SweepRun:
    """This worker's part of the study, when it stopped."""

    study: Any = field(repr=False)  #: the optuna.Study
    folder: Path  #: where the trials' configs and logs are
    trials: list[TrialRun] = field(default_factory=list)
    interrupted: bool = False
    stopped: str = ""  #: why no more trials started: done, --trials, --timeout, --target
    seconds: float = 0.0

    @property
    def failed(self) -> list[TrialRun]:
        return [trial for trial in self.trials if trial.status == "failed"]


@dataclass
class Sweeper:
    """Run trials of ``study`` until the study has ``trials`` (the grid's points without),
    ``timeout`` seconds pass or a trial reaches ``target``."""

    study: Any  #: the optuna.Study
    space: SweepSpace
    settings: studies.SweepSettings
    script: Path
    python: str
    runs_dir: Path
    jobs: int
    use_grid: bool
    trials: int | None = None
    timeout: float | None = None
    target: float | None = None
    on_change: Callable[[SweepRun], None] = lambda sweep: None
    running: list[TrialRun] = field(default_factory=list)

    def run(self) -> SweepRun:
        folder = self.runs_dir / ".sweeps" / self.study.study_name
        folder.mkdir(parents=True, exist_ok=True)
        sweep = SweepRun(self.study, folder)
        started = time.monotonic()
        studies.fail_lost_trials(self.study)
        if self.use_grid:
            studies.enqueue_grid(self.study, grid(self.space))
        last_beat = time.monotonic()
        previous = _stop_on_signals()
        try:
            while True:
                if not sweep.stopped:
                    self._start_trials(sweep, started)
                if not self.running:
                    break
                self._wait(0.05)
                for trial in list(self.running):
                    if trial.process is not None and trial.process.poll() is not None:
                        self._finish(trial)
                        self.running.remove(trial)
                        self.on_change(sweep)
                    elif trial.pruned_at is not None and time.monotonic() - trial.pruned_at > _GRACE:
                        _signal(trial, signal.SIGKILL)  # told to stop and did not
                if time.monotonic() - last_beat > studies.HEARTBEAT_SECONDS:
                    last_beat = time.monotonic()
                    for trial in self.running:
                        studies.heartbeat(self.study, trial.trial._trial_id)
                    # another worker that died: its trials are not counted, its points rerun
                    if studies.fail_lost_trials(self.study) and self.use_grid:
                        studies.enqueue_grid(self.study, grid(self.space))
        except KeyboardInterrupt:
            sweep.interrupted = True
            self._interrupt()
            self.on_change(sweep)
        finally:
            _restore_signals(previous)
        sweep.seconds = time.monotonic() - started
        return sweep

    # -- starting ----------------------------------------------------------------------------
    def _start_trials(self, sweep: SweepRun, started: float) -> None:
        while len(self.running) < self.jobs:
            reason = self._why_stop(started)
            if reason:
                sweep.stopped = reason
                return
            trial = self._ask()
            if trial is None:
                continue
            values = from_choices(self.space, trial.params)
            run = TrialRun(
                trial.number, values, sweep.folder / f"trial-{trial.number}.json",
                sweep.folder / f"trial-{trial.number}.log", trial=trial,
            )
            run.config.write_text(json.dumps(values, indent=1) + "\n", encoding="utf-8")
            self._launch(run)
            self.running.append(run)
            sweep.trials.append(run)
            self.on_change(sweep)

    def _why_stop(self, started: float) -> str:
        if self.timeout is not None and time.monotonic() - started >= self.timeout:
            return "--timeout"
        state = studies.study_state(self.study)
        if self.target is not None and state.best is not None:
            maximize = self.settings.direction == "maximize"
            if (state.best >= self.target) if maximize else (state.best <= self.target):
                return "--target"
        if self.trials is not None and state.counted >= self.trials:
            return "--trials"
        if self.use_grid and state.waiting == 0:
            return "done"
        return ""

    def _ask(self) -> Any:
        """The next trial, claimed for this worker; ``None`` when the one taken was a
        duplicate grid point (dropped)."""
        trial = self.study.ask(distributions(self.space))
        storage = self.study._storage
        storage.set_trial_user_attr(trial._trial_id, studies.WORKER, studies.worker_id())
        storage.set_trial_user_attr(trial._trial_id, studies.BEAT, time.time())
        if self.use_grid and not studies.claim_is_first(self.study, trial):
            return None
        return trial

    def _launch(self, run: TrialRun) -> None:
        reports_read, reports_write = os.pipe()
        answers_read, answers_write = os.pipe()
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            OBJECTIVE_VARIABLE: f"{self.settings.metric}:{self.settings.direction}",
            "NB2PIPE_SWEEP_PARENT": str(os.getpid()),
            "NB2PIPE_SWEEP_FDS": f"{reports_write}:{answers_read}",
        }
        env.pop(REPORT_VARIABLE, None)  # a sweep run from a trial: its own trials report to it
        run.output = run.log.open("wb")
        try:
            run.process = subprocess.Popen(
                [self.python, "-c", _LAUNCHER, str(self.script), "--config", str(run.config),
                 "--runs-dir", str(self.runs_dir)],
                stdout=run.output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                pass_fds=(reports_write, answers_read),
                start_new_session=True,  # its own process group: Ctrl-C is forwarded, not broadcast
            )
        finally:
            os.close(reports_write)
            os.close(answers_read)
        os.set_blocking(reports_read, False)
        run.reports, run.answers = reports_read, answers_write
        run.started = time.monotonic()

    # -- while they run ----------------------------------------------------------------------
    def _wait(self, seconds: float) -> None:
        """Sleep until a report arrives or ``seconds`` pass; answer every report."""
        readable = [trial.reports for trial in self.running if trial.reports is not None]
        ready = select.select(readable, [], [], seconds)[0] if readable else []
        if not readable:
            time.sleep(seconds)
        for trial in self.running:
            if trial.reports in ready:
                self._read_reports(trial)

    def _read_reports(self, run: TrialRun) -> None:
        assert run.reports is not None
        try:
            chunk = os.read(run.reports, 65536)
        except BlockingIOError:
            return
        if not chunk:  # the script closed its end (it ended)
            os.close(run.reports)
            run.reports = None
            return
        run.buffer += chunk
        *lines, run.buffer = run.buffer.split(b"\n")
        for line in lines:
            try:
                report = json.loads(line)
                value, step = float(report["value"]), int(report["step"])
            except (ValueError, KeyError, TypeError):
                continue
            run.value, run.last_step = value, step
            prune = run.pruned_at is not None  # told already, and it went on: again
            if not prune:
                run.trial.report(value, step)
                prune = run.trial.should_prune()
                if prune:
                    run.pruned_at = time.monotonic()
            self._answer(run, "prune" if prune else "go")

    def _answer(self, run: TrialRun, answer: str) -> None:
        if run.answers is None:
            return
        try:
            os.write(run.answers, (answer + "\n").encode())
        except OSError:  # the script is gone
            pass

    # -- ending ------------------------------------------------------------------------------
    def _finish(self, run: TrialRun, interrupted: bool = False) -> None:
        from optuna.trial import TrialState

        assert run.process is not None
        if run.reports is not None:
            self._read_reports(run)  # the last reports, if any are left
        self._close(run)
        run.returncode = run.process.returncode
        run.seconds = time.monotonic() - run.started
        text = run.log.read_text(encoding="utf-8", errors="replace")
        recorded = _RECORDED.findall(text)
        record = None
        if recorded:
            run.run_id = recorded[-1][0]
            record = _read(Path(recorded[-1][2]))
        metric = self.settings.metric
        state = TrialState.FAIL
        if interrupted:
            run.status = "interrupted"
        elif run.pruned_at is not None and (record is None or record.status == "pruned"):
            run.status, state = "pruned", TrialState.PRUNED
        elif run.returncode == 0 and record is not None and metric in record.metrics:
            run.status, state = "finished", TrialState.COMPLETE
            run.value = record.metrics[metric]
        else:
            run.status = "failed"
            if run.returncode == 0:
                known = ", ".join(record.metrics) if record is not None else ""
                run.error = f"the run recorded no metric {metric!r} (its metrics: {known or 'none'})"
            else:
                lines = [
                    line for line in text.splitlines()
                    if line.strip() and not _RECORDED.match(line)
                ]
                run.error = lines[-1].strip() if lines else f"exit code {run.returncode}"
        self._tell(run, state)

    def _tell(self, run: TrialRun, state: Any) -> None:
        import optuna

        storage = self.study._storage
        trial_id = run.trial._trial_id
        try:
            storage.set_trial_user_attr(trial_id, studies.OUTCOME, run.status)
            if run.run_id is not None:
                storage.set_trial_user_attr(trial_id, studies.RUN_ID, run.run_id)
            if run.error is not None:
                storage.set_trial_user_attr(trial_id, studies.ERROR, run.error[:500])
            if state == optuna.trial.TrialState.COMPLETE:
                self.study.tell(run.trial, run.value)
            else:
                self.study.tell(run.trial, state=state)
        except optuna.exceptions.UpdateFinishedTrialError:
            run.status = "lost"  # another worker took this worker for dead and failed it

    def _interrupt(self) -> None:
        """Ctrl-C: the running trials get it too (a run records itself as failed), then a
        grace period, then their whole process groups are killed."""
        for run in self.running:
            _signal(run, signal.SIGINT)
        deadline = time.monotonic() + _GRACE
        for run in self.running:
            assert run.process is not None
            try:
                run.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(run, signal.SIGKILL)
                run.process.wait()
            _signal(run, signal.SIGKILL)  # anything it started that is still there
            self._finish(run, interrupted=True)
        self.running.clear()

    def _close(self, run: TrialRun) -> None:
        for name in ("reports", "answers"):
            fd = getattr(run, name)
            if fd is not None:
                os.close(fd)
                setattr(run, name, None)
        if run.output is not None:
            run.output.close()
            run.output = None


def _read(path: Path) -> RunRecord | None:
    try:
        return read_record(path)
    except (RunRecordError, OSError):
        return None


def _signal(run: TrialRun, number: int) -> None:
    assert run.process is not None
    try:
        os.killpg(run.process.pid, number)
    except (ProcessLookupError, PermissionError):
        pass


def _interrupted(number: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _stop_on_signals() -> dict[int, Any]:
    """SIGTERM and SIGHUP (a scheduler, a closed terminal) stop the sweep as Ctrl-C does."""
    previous: dict[int, Any] = {}
    for number in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[number] = signal.signal(number, _interrupted)
        except ValueError:  # not the main thread
            pass
    return previous


def _restore_signals(previous: dict[int, Any]) -> None:
    for number, handler in previous.items():
        signal.signal(number, handler)


def _text(value: Any) -> str:
    """A value as the notebook spells it (``None``, ``True``, text as is, lists as JSON)."""
    if value is None or isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else json.dumps(value)
