"""Run a sweep's points, N at a time, each a normal recorded run of the script.

Each point's values go to a config file (``<runs dir>/.sweeps/<sweep id>/point-<k>.json``,
beside the point's log), and the script runs as ``python SCRIPT --config FILE --runs-dir DIR``
in the current folder, in a process group of its own: a failed point is reported and the
others go on; Ctrl-C interrupts the running points (their runs are recorded as failed), keeps
the finished ones, and leaves no process behind.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable

from nb2pipe_runtime.run import OBJECTIVE_VARIABLE

__all__ = ["PointRun", "SweepRun", "run_sweep"]

_RECORDED = re.compile(r"^nb2pipe: run (\S+) (finished|failed); recorded in ", re.MULTILINE)
_GRACE = 5.0  #: seconds an interrupted point has to record its run before it is killed


@dataclass
class PointRun:
    """One point of the sweep and how its run went."""

    number: int  #: 1-based
    values: dict[str, Any]  #: the swept parameters' values
    config: Path
    log: Path
    status: str = "pending"  #: pending, running, finished, failed, interrupted
    run_id: str | None = None
    returncode: int | None = None
    error: str | None = None  #: the last line the script printed to stderr, for a failure
    seconds: float = 0.0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    output: IO[bytes] | None = field(default=None, repr=False)
    started: float = 0.0

    @property
    def label(self) -> str:
        return ", ".join(f"{name}={_text(value)}" for name, value in self.values.items())


@dataclass
class SweepRun:
    """A finished (or interrupted) sweep."""

    sweep_id: str
    folder: Path  #: where the points' configs and logs are
    points: list[PointRun]
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def failed(self) -> list[PointRun]:
        return [point for point in self.points if point.status == "failed"]

    @property
    def run_ids(self) -> list[str]:
        return [point.run_id for point in self.points if point.run_id is not None]


def run_sweep(
    script: Path,
    python: str,
    values: list[dict[str, Any]],
    *,
    jobs: int,
    runs_dir: Path,
    objective: str | None = None,
    on_change: Callable[[SweepRun], None] = lambda sweep: None,
) -> SweepRun:
    """Run ``script`` once per entry of ``values`` (checked values of the swept parameters),
    at most ``jobs`` at a time; ``on_change`` hears of every start and end (progress).

    ``objective`` (``METRIC:maximize``, ``:minimize`` for the first metric) is what the sweep
    ranks by; each run records it as its primary metric, so ``nb2pipe runs`` marks the same
    best run later.
    """
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    sweep_id = f"{stamp}-{secrets.token_hex(3)}"
    folder = runs_dir / ".sweeps" / sweep_id
    folder.mkdir(parents=True)
    points = []
    for number, point in enumerate(values, 1):
        config = folder / f"point-{number}.json"
        config.write_text(json.dumps(point, indent=1) + "\n", encoding="utf-8")
        points.append(PointRun(number, point, config, folder / f"point-{number}.log"))
    sweep = SweepRun(sweep_id, folder, points)
    started = time.monotonic()
    pending = list(points)
    running: list[PointRun] = []
    try:
        while pending or running:
            while pending and len(running) < jobs:
                point = pending.pop(0)
                _start(point, script, python, runs_dir, objective)
                running.append(point)
                on_change(sweep)
            time.sleep(0.05)
            for point in list(running):
                if point.process is not None and point.process.poll() is not None:
                    _finish(point)
                    running.remove(point)
                    on_change(sweep)
    except KeyboardInterrupt:
        sweep.interrupted = True
        _interrupt(running)
        for point in pending:
            point.status = "interrupted"
        on_change(sweep)
    sweep.seconds = time.monotonic() - started
    return sweep


def _start(
    point: PointRun, script: Path, python: str, runs_dir: Path, objective: str | None
) -> None:
    point.output = point.log.open("wb")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if objective is not None:
        env[OBJECTIVE_VARIABLE] = objective
    point.process = subprocess.Popen(
        [python, str(script), "--config", str(point.config), "--runs-dir", str(runs_dir)],
        stdout=point.output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        start_new_session=True,  # its own process group: Ctrl-C is forwarded, not broadcast
    )
    point.status = "running"
    point.started = time.monotonic()


def _finish(point: PointRun, interrupted: bool = False) -> None:
    assert point.process is not None
    point.returncode = point.process.returncode
    point.seconds = time.monotonic() - point.started
    if point.output is not None:
        point.output.close()
    text = point.log.read_text(encoding="utf-8", errors="replace")
    recorded = _RECORDED.findall(text)
    if recorded:
        point.run_id = recorded[-1][0]
    if interrupted:
        point.status = "interrupted"
    elif point.returncode == 0:
        point.status = "finished"
    else:
        point.status = "failed"
        lines = [line for line in text.splitlines() if line.strip() and not _RECORDED.match(line)]
        point.error = lines[-1].strip() if lines else f"exit code {point.returncode}"


def _interrupt(running: list[PointRun]) -> None:
    """Ctrl-C: the running points get it too (a run records itself as failed), then a grace
    period, then their whole process groups are killed."""
    for point in running:
        _signal(point, signal.SIGINT)
    deadline = time.monotonic() + _GRACE
    for point in running:
        assert point.process is not None
        try:
            point.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal(point, signal.SIGKILL)
            point.process.wait()
        _signal(point, signal.SIGKILL)  # anything it started that is still there
        _finish(point, interrupted=True)


def _signal(point: PointRun, number: int) -> None:
    assert point.process is not None
    try:
        os.killpg(point.process.pid, number)
    except (ProcessLookupError, PermissionError):
        pass


def _text(value: Any) -> str:
    """A value as the notebook spells it (``None``, ``True``, text as is, lists as JSON)."""
    if value is None or isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else json.dumps(value)
