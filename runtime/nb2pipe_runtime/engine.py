"""Run an exported script from an orchestrator's tasks: one step, or one point of a sweep.

The DAG files ``nb2pipe export --airflow`` writes call these from their tasks (and the
Kubeflow components of ``--kfp`` call :func:`run_component`), so a worker needs the script,
this package and the notebook's packages, nothing of the orchestrator's beyond running a
Python function. A task's parameters reach the script as its ``--config``
(the script checks them as it checks any config file); a step's outputs go through a store all
workers reach: a folder, or any fsspec URL (``s3://bucket/pipeline``) when fsspec is installed,
copied to a local folder around the step.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any

from nb2pipe_runtime.reading import read_record
from nb2pipe_runtime.record import Objective
from nb2pipe_runtime.run import RECORD_HANDOFF_VARIABLE

__all__ = [
    "POINTS",
    "EngineError",
    "TaskRun",
    "best_run",
    "grid_points",
    "point_outputs",
    "run_component",
    "run_script",
]

#: Where a sweep's points save their steps' outputs, one folder a point, inside the store
#: (a hidden name: no step is called so).
POINTS = ".sweep"

class EngineError(RuntimeError):
    """A task's run of the script failed (the message is the script's last error line)."""


@dataclass(frozen=True)
class TaskRun:
    """What one task's run of the script recorded (JSON values: it travels between tasks)."""

    run_id: str
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    record: str = ""  #: the ``run.json`` path

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_script(
    script: str,
    params: dict[str, Any],
    *,
    step: str | None = None,
    inputs_from: tuple[str, ...] = (),
    outputs: str | None = None,
    runs_dir: str | None = None,
    python: str = sys.executable,
) -> TaskRun:
    """Run ``script`` (the whole of it, or ``--step step``) with ``params`` in its folder.

    ``outputs`` is the step store (default: the script's own ``outputs/``); for a URL, the
    outputs of the steps in ``inputs_from`` are copied from it first and the step's own are
    copied back after.

    Raises
    ------
    EngineError
        The script failed; its last error line and the run's record path.
    """
    folder = os.path.dirname(os.path.abspath(script))
    with tempfile.TemporaryDirectory(prefix="nb2pipe-task-") as scratch:
        local_outputs = outputs
        if outputs is not None and "://" in outputs:
            local_outputs = os.path.join(scratch, "outputs")
            for name in inputs_from:
                _copy(f"{outputs.rstrip('/')}/{name}", os.path.join(local_outputs, name))
        run = _run(script, folder, scratch, params, step, local_outputs, runs_dir, python)
        if step is not None and outputs is not None and local_outputs != outputs:
            produced = os.path.join(str(local_outputs), step)
            if os.path.isdir(produced):
                _copy(produced, f"{outputs.rstrip('/')}/{step}")
    return run


def run_component(
    script: str,
    code_base64: str,
    params: dict[str, Any],
    *,
    step: str | None = None,
    inputs: dict[str, str] | None = None,
    output: str | None = None,
    runs_dir: str | None = None,
    python: str = sys.executable,
) -> TaskRun:
    """Run the script named ``script`` from a Kubeflow component; ``code_base64`` is its text
    (base64: ``kfp.local`` rewrites ``python3`` in a task's plain-text inputs).

    The component's working directory is the project's folder (the script's folder on a
    laptop, the image's working directory on a cluster): relative data paths resolve there,
    and the script there runs when its text is the code given (so its run records the
    checkout's commit); otherwise a copy of the code runs, still in that folder. Step outputs
    travel as artifact folders: ``inputs`` maps each producing step to its artifact's local
    path, and the step's own saved outputs are moved to ``output``.

    Raises
    ------
    EngineError
        The script failed; its last error line.
    """
    folder = os.getcwd()
    code = base64.b64decode(code_base64).decode("utf-8")
    with tempfile.TemporaryDirectory(prefix="nb2pipe-task-") as scratch:
        path = os.path.join(folder, script)
        if _read_text(path, strip=False) != code:
            path = os.path.join(scratch, "code", os.path.basename(script))
            os.makedirs(os.path.dirname(path))
            with open(path, "w", encoding="utf-8") as file:
                file.write(code)
        if step is None:  # the whole script: its steps' outputs stay in this scratch folder
            return _run(path, folder, scratch, params, None, None, runs_dir, python)
        store = os.path.join(scratch, "outputs")
        os.makedirs(store)
        for producer, artifact in (inputs or {}).items():
            os.symlink(os.path.abspath(artifact), os.path.join(store, producer))
        run = _run(path, folder, scratch, params, step, store, runs_dir, python)
        produced = os.path.join(store, step)
        if output is not None and os.path.isdir(produced):
            shutil.rmtree(output, ignore_errors=True)
            shutil.move(produced, output)
    return run


def _run(
    script: str,
    folder: str,
    scratch: str,
    params: dict[str, Any],
    step: str | None,
    outputs: str | None,
    runs_dir: str | None,
    python: str,
) -> TaskRun:
    """Run ``script`` in ``folder`` with ``params`` as its ``--config``; what it recorded."""
    config = os.path.join(scratch, "params.json")
    with open(config, "w", encoding="utf-8") as file:
        json.dump(params, file)
    command = [python, os.path.abspath(script), "--config", config]
    if step is not None:
        command += ["--step", step]
    if outputs is not None:
        command += ["--outputs-dir", outputs]
    if runs_dir is not None:
        command += ["--runs-dir", runs_dir]
    handoff = os.path.join(scratch, "record-path")
    done = subprocess.run(
        command, cwd=folder, capture_output=True, text=True, check=False,
        stdin=subprocess.DEVNULL, env={**os.environ, RECORD_HANDOFF_VARIABLE: handoff},
    )
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    path = _read_text(handoff)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise EngineError(lines[-1] if lines else f"exit code {done.returncode}")
    if path is None:
        raise EngineError("the script recorded no run (is it a script nb2pipe exported?)")
    record = read_record(path)
    return TaskRun(
        run_id=record.run_id, status=record.status, params=dict(record.effective_params),
        metrics=dict(record.metrics), record=path,
    )


def grid_points(
    grid: dict[str, Any], base: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every combination of ``grid``'s values (a value that is not a list is one value),
    each on top of ``base``.

    Raises
    ------
    EngineError
        ``grid`` is not a mapping of parameter names to values.
    """
    if not isinstance(grid, dict) or not grid:
        raise EngineError('the grid must map parameter names to values: {"C": [0.1, 1.0]}')
    names = list(grid)
    values = [grid[name] if isinstance(grid[name], list) else [grid[name]] for name in names]
    return [
        {**(base or {}), **dict(zip(names, combination))}
        for combination in itertools.product(*values)
    ]


def point_outputs(outputs: str, point: dict[str, Any]) -> str:
    """The folder (or URL) of the store where one point of a sweep saves its steps' outputs:
    the points run side by side, and one folder for all would mix their outputs."""
    text = json.dumps(point, sort_keys=True, default=str, separators=(",", ":"))
    return f"{outputs.rstrip('/')}/{POINTS}/{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def best_run(
    runs: list[dict[str, Any]], metric: str | None, ascending: bool | None = None
) -> dict[str, Any]:
    """The finished run with the best ``metric`` (default: the first metric the runs have);
    lower is better when ``ascending``, by default when the metric's name says so (a loss, an
    error, a duration: :meth:`Objective.goal_of`, as ``nb2pipe sweep`` and ``nb2pipe runs``).

    Raises
    ------
    EngineError
        No finished run has the metric.
    """
    finished = [run for run in runs if run.get("status") == "finished" and run.get("metrics")]
    name = metric or next((key for run in finished for key in run["metrics"]), None)
    ranked = [run for run in finished if name in run["metrics"]]
    if name is None or not ranked:
        raise EngineError(f"no finished run has the metric {name!r}")
    if ascending is None:
        ascending = Objective.goal_of(name) == "minimize"
    best = (min if ascending else max)(ranked, key=lambda run: run["metrics"][name])
    print(f"best: run {best['run_id']}, {name} {best['metrics'][name]:.6g}, "
          f"params {best['params']}")
    return {**best, "metric": name}


def _read_text(path: str, strip: bool = True) -> str | None:
    """The file's text (stripped), or None when there is no such file."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
        return None
    return (text.strip() or None) if strip else text


def _copy(source: str, target: str) -> None:
    """Copy a folder between the local disk and a store (either side may be an fsspec URL)."""
    if "://" not in source and "://" not in target:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
        return
    try:
        import fsspec  # type: ignore[import-untyped]
    except ModuleNotFoundError:
        store = source if "://" in source else target
        raise EngineError(f"a step store at {store} needs fsspec (pip install fsspec)") from None
    if "://" in source:
        filesystem, path = fsspec.core.url_to_fs(source)
        if not filesystem.exists(path):
            raise EngineError(f"{source}: no saved outputs (run that step first)")
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        filesystem.get(path, target, recursive=True)
    else:
        filesystem, path = fsspec.core.url_to_fs(target)
        if filesystem.exists(path):
            filesystem.rm(path, recursive=True)
        filesystem.put(source, path, recursive=True)
