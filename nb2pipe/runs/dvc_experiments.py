"""DVC experiments as run rows, from ``dvc exp show --json``.

Queued experiments write run records into the project (see the pipeline runtime), but a stage
DVC restores from its run cache does not run and writes none; ``nb2pipe runs --dvc`` adds
those experiments from what DVC itself knows.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from nb2pipe.errors import Nb2PipeError
from nb2pipe.runs.rows import RunRow

__all__ = ["read_dvc_experiments"]


def read_dvc_experiments(project: Path) -> list[RunRow]:
    """The experiments ``dvc exp show --json`` lists in ``project``.

    Parameters
    ----------
    project
        The DVC project (holding ``dvc.yaml``).

    Returns
    -------
    list[RunRow]
        One row per experiment, in the nb2pipe experiment of the script its stages run.

    Raises
    ------
    Nb2PipeError
        ``dvc`` is not installed or fails.
    """
    command = shutil.which("dvc")
    if command is None:
        raise Nb2PipeError("--dvc needs the dvc command (pip install dvc)")
    done = subprocess.run(
        [command, "exp", "show", "--json"], cwd=project, capture_output=True, text=True,
        timeout=300, stdin=subprocess.DEVNULL, check=False,
    )
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise Nb2PipeError(f"{project}: dvc exp show: {message}")
    text = done.stdout
    try:
        shown = json.loads(text[text.index("[") : text.rindex("]") + 1])
    except ValueError as exc:
        raise Nb2PipeError(f"{project}: dvc exp show printed no JSON") from exc
    experiment = _pipeline_experiment(project)
    rows = []
    for baseline in shown if isinstance(shown, list) else []:
        for found in _mapping(baseline).get("experiments") or []:
            executor = _mapping(_mapping(found).get("executor"))
            for rev in _mapping(found).get("revs") or []:
                rows.append(_row(_mapping(rev), executor, experiment))
    return rows


def _pipeline_experiment(project: Path) -> str:
    """The experiment a DVC pipeline's runs are recorded under: the stem of the one script
    its stages run (``python pipeline_steps.py --step load``), else ``dvc``."""
    try:
        content = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return "dvc"
    stages = content.get("stages") if isinstance(content, dict) else None
    scripts = set()
    for stage in stages.values() if isinstance(stages, dict) else []:
        command = stage.get("cmd") if isinstance(stage, dict) else None
        for word in str(command or "").split():
            if word.endswith(".py"):
                scripts.add(Path(word).stem)
                break
    return scripts.pop() if len(scripts) == 1 else "dvc"


def _row(rev: dict[str, Any], executor: dict[str, Any], experiment: str) -> RunRow:
    """One experiment of ``dvc exp show --json`` (DVC's format: read here and only here)."""
    data = _mapping(rev.get("data"))
    params: dict[str, Any] = {}
    for found in _mapping(data.get("params")).values():
        params.update(_mapping(_mapping(found).get("data")))
    metrics: dict[str, float] = {}
    for found in _mapping(data.get("metrics")).values():
        for key, value in _mapping(_mapping(found).get("data")).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                metrics[key] = float(value)
    state = str(executor.get("state") or "success")
    name = str(rev.get("name") or str(rev.get("rev", ""))[:7])
    return RunRow(
        label=name,
        experiment=experiment,
        run_ids=(),
        steps=(),
        status={"success": "finished", "failed": "failed"}.get(state, state),
        start=str(data.get("timestamp") or ""),
        params=params,
        own_params=params,
        metrics=metrics,
        data={},
        commit=rev.get("rev"),
        dirty=False,
        dvc_experiment=rev.get("name"),
    )


def _mapping(value: Any) -> dict[str, Any]:
    """``value`` if DVC gave an object there, else an empty one (DVC leaves fields out)."""
    return value if isinstance(value, dict) else {}
