"""Run real ``git``, ``dvc`` and ``nb2pipe`` commands in a project folder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def project_env(home: Path) -> dict[str, str]:
    """This venv's commands first on PATH, DVC's global and site state kept in ``home``."""
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        MPLBACKEND="Agg",
        DVC_NO_ANALYTICS="1",
        DVC_GLOBAL_CONFIG_DIR=str(home / "dvc-global"),
        DVC_SITE_CACHE_DIR=str(home / "dvc-site"),
        GIT_AUTHOR_NAME="nb2pipe", GIT_AUTHOR_EMAIL="nb2pipe@example.com",
        GIT_COMMITTER_NAME="nb2pipe", GIT_COMMITTER_EMAIL="nb2pipe@example.com",
    )
    return env


def sh(project: Path, command: str, env: dict[str, str], timeout: int = 300) -> str:
    """Run a shell command; its combined output (the command must succeed)."""
    done = subprocess.run(
        command, shell=True, cwd=project, env=env, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL, check=False,
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def stages_run(output: str) -> list[str]:
    """The stages a ``dvc repro`` / ``dvc exp run`` output says it ran."""
    return re.findall(r"^Running stage '([^']+)'", output, re.MULTILINE)


def experiments(project: Path, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """``dvc exp show --json``: experiment name -> {"params": ..., "metrics": ...}."""
    shown = _json_part(sh(project, "dvc exp show --json", env))
    out = {}
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            for rev in experiment["revs"]:
                data = rev.get("data") or {}
                metrics = {}
                for found in (data.get("metrics") or {}).values():
                    metrics.update(found.get("data") or {})
                params = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
                out[rev["name"]] = {"params": params, "metrics": metrics}
    return out


def _json_part(output: str) -> Any:
    """The JSON document in ``output`` (DVC may print notices around it)."""
    return json.loads(output[output.index("[") : output.rindex("]") + 1])
