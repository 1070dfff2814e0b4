"""Helpers for pipeline-step tests: plan a notebook's steps, run an exported pipeline script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from nb2pipe.analysis import analyze_notebook
from nb2pipe.export import ExportOptions
from nb2pipe.export.plan import plan_export
from nb2pipe.export.steps import PipelinePlan
from nb2pipe.model import load_notebook


def plan_steps(notebook: Path) -> PipelinePlan:
    plan = plan_export(
        analyze_notebook(load_notebook(notebook)), ExportOptions(), notebook.with_suffix(".py")
    )
    assert plan.pipeline is not None
    return plan.pipeline


def run_script(script: Path, *args: str, cwd: Path | None = None,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run an exported script with this Python, headless matplotlib, in ``cwd``."""
    environment = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    environment.update({"MPLBACKEND": "Agg", **(env or {})})
    return subprocess.run(
        [sys.executable, str(script), *args], cwd=cwd or script.parent, capture_output=True,
        text=True, timeout=300, env=environment, check=False,
    )


def run_records(folder: Path) -> list[dict[str, Any]]:
    """The run records under ``folder/runs``, oldest first."""
    records = [json.loads(p.read_text()) for p in (folder / "runs").glob("*/run.json")]
    return sorted(records, key=lambda record: record["start"])


def saved_stdout(notebook: Path, cells: set[int] | None = None) -> str:
    """What the saved notebook printed (its stdout streams), of ``cells`` (0-based) or all."""
    out = []
    for cell in load_notebook(notebook).cells:
        if cells is not None and cell.index not in cells:
            continue
        out += [o.text or "" for o in cell.outputs if o.output_type == "stream" and o.name == "stdout"]
    return "".join(out)
