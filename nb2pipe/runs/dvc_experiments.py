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

from nb2pipe.errors import Nb2PipeError
from nb2pipe.runs.records import RunRow

__all__ = ["read_dvc_experiments"]


def read_dvc_experiments(project: Path) -> list[RunRow]:
    """The experiments ``dvc exp show --json`` lists in ``project``.

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
    rows = []
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            executor = experiment.get("executor") or {}
            for rev in experiment.get("revs") or []:
                rows.append(_row(rev, executor))
    return rows


def _row(rev: dict[str, Any], executor: dict[str, Any]) -> RunRow:
    data = rev.get("data") or {}
    params: dict[str, Any] = {}
    for found in (data.get("params") or {}).values():
        params.update(found.get("data") or {})
    metrics: dict[str, float] = {}
    for found in (data.get("metrics") or {}).values():
        for key, value in (found.get("data") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                metrics[key] = float(value)
    state = executor.get("state") or "success"
    return RunRow(
        label=str(rev.get("name") or rev.get("rev", "")[:7]),
        run_ids=(),
        steps=(),
        status={"success": "finished", "failed": "failed"}.get(state, state),
        start=str(data.get("timestamp") or ""),
        params=params,
        metrics=metrics,
        data={},
        commit=rev.get("rev"),
        dirty=False,
        experiment=rev.get("name"),
    )
