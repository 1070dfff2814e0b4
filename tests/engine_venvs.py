"""The orchestrators' own venvs for tests (``.venv-airflow``, ``.venv-kfp``, ...).

An engine pins much of what the rest of the test environment needs, so each gets a venv of
its own in the checkout, built once and kept: the engine, the sample notebooks' packages and
nb2pipe-runtime from this checkout (editable), what a worker needs. The venv is rebuilt when
its requirements change, and one builder at a time builds it (another pytest-xdist worker, or
another checkout's run, waits on the lock).

uv (a test dependency) builds them: on a fresh CI machine, Airflow's venv took pip ~140 s and
Prefect's ~170 s of the suite's time, most of it compiling every module to bytecode; uv
builds KFP's in ~15 s. Without uv, pip does, without compiling (what runs compiles on import).
"""

from __future__ import annotations

import fcntl
import os
import shutil
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
            uv = _uv()
            if not python.exists():
                create = [uv, "venv", "--quiet", "--python", sys.executable, venv] if uv else [
                    sys.executable, "-m", "venv", venv]
                done = run(create, ROOT, env)
                assert done.returncode == 0, done.stderr
            packages = [*requirements, "-e", ROOT / "runtime"]
            install = [uv, "pip", "install", "--quiet", "--python", python, *packages] if uv else [
                python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--no-compile", *packages]
            done = run(install, ROOT, env, timeout=1800)
            assert done.returncode == 0, done.stderr[-3000:]
            marker.write_text(wanted)
    return python


def _uv() -> str | None:
    """The uv installed beside this Python (the test extras hold it), else one on the PATH."""
    beside = Path(sys.executable).with_name("uv")
    return str(beside) if beside.exists() else shutil.which("uv")
