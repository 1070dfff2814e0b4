"""The orchestrators' own venvs for tests (``.venv-airflow``, ``.venv-kfp``, ...).

An engine pins much of what the rest of the test environment needs, so each gets a venv of
its own in the checkout, built once and kept: the engine, the sample notebooks' packages and
nb2pipe-runtime from this checkout (editable), what a worker needs. The venv is rebuilt when
its requirements change, and one builder at a time builds it (another pytest-xdist worker, or
another checkout's run, waits on the lock).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

__all__ = ["NOTEBOOK_PACKAGES", "engine_python", "run"]

#: what the sample notebooks import
NOTEBOOK_PACKAGES = ("pandas", "scikit-learn", "matplotlib", "pyarrow")


def run(
    command: list[str | Path], cwd: Path, env: dict[str, str], timeout: int = 900
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout, check=False, stdin=subprocess.DEVNULL,
    )


def engine_python(name: str, requirements: tuple[str, ...]) -> Path:
    """The Python of ``.venv-<name>``, holding ``requirements`` and the runtime."""
    venv = ROOT / f".venv-{name}"
    python = venv / "bin" / "python"
    marker = venv / ".nb2pipe-installed"
    wanted = "\n".join(requirements)
    with open(ROOT / f".venv-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (marker.exists() and marker.read_text() == wanted):
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            if not python.exists():
                done = run([sys.executable, "-m", "venv", venv], ROOT, env)
                assert done.returncode == 0, done.stderr
            done = run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        *requirements, "-e", ROOT / "runtime"], ROOT, env, timeout=1800)
            assert done.returncode == 0, done.stderr[-3000:]
            marker.write_text(wanted)
    return python
