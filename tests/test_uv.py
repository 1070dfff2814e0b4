"""The README's ``uv run --find-links build/wheels train.py``, for real: ``make wheels`` builds
the runtime's wheel (nb2pipe-runtime is not on the package index yet), and the real ``uv``
runs an exported script from its PEP 723 block, installing nothing but that wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nb2pipe.export import export_notebook

from .conftest import ROOT, notebook_json

#: what uv or pip print when the package index cannot be reached
_OFFLINE = ("failed to fetch", "error sending request", "dns error", "connection refused",
            "could not connect", "network is unreachable", "temporary failure in name resolution",
            "connection error", "timed out", "no matching distribution found for hatchling")


def _skip_if_offline(done: subprocess.CompletedProcess[str], what: str) -> None:
    text = (done.stdout + done.stderr).lower()
    if done.returncode != 0 and any(words in text for words in _OFFLINE):
        first = (done.stderr.strip().splitlines() or ["?"])[0]
        pytest.skip(f"{what} cannot reach the package index: {first}")


def _tool(name: str) -> str:
    found = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent),
                                                     os.environ.get("PATH", "")]))
    if found is None:
        how = "pip install uv; nb2pipe[test] has it" if name == "uv" else "apt-get install make"
        pytest.skip(f"{name} is not installed ({how})")
    return found


@pytest.mark.slow
def test_uv_runs_an_exported_script_with_the_runtimes_wheel(tmp_path: Path) -> None:
    uv, make = _tool("uv"), _tool("make")
    wheels = tmp_path / "wheels"
    # the Makefile's own recipe (`make demo` runs it), with this interpreter standing in for
    # the demo's .venv
    built = subprocess.run(
        [make, "-o", ".venv/.demo-installed", "wheels", f"BIN={Path(sys.executable).parent}",
         f"WHEELS={wheels}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    _skip_if_offline(built, "pip")
    assert built.returncode == 0, built.stderr
    [wheel] = wheels.glob("*.whl")
    assert wheel.name.startswith("nb2pipe_runtime-") and wheel.name.endswith("-py3-none-any.whl")

    project = tmp_path / "project"
    project.mkdir()
    notebook = project / "small.ipynb"
    notebook.write_text(json.dumps(notebook_json(
        "import statistics\nimport sys",
        "values = [3, 1, 2]\nprint('median', statistics.median(values))\nprint(sys.prefix)",
        ("spread = max(values) - min(values)", ["metrics"]),
    )), encoding="utf-8")
    script = export_notebook(notebook).script_path
    assert '#     "nb2pipe-runtime==' in script.read_text()  # the only dependency
    environment = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "VIRTUAL_ENV", "UV_", "MLFLOW_"))
    }
    environment.update(UV_CACHE_DIR=str(tmp_path / "uv-cache"), UV_PYTHON_DOWNLOADS="never")
    done = subprocess.run(
        [uv, "run", "--no-project", "--python", sys.executable, "--find-links", str(wheels),
         script.name],
        cwd=project, capture_output=True, text=True, timeout=600, check=False, env=environment,
    )
    _skip_if_offline(done, "uv")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "median 2"
    # uv's own environment, not this one: the runtime came from the wheel
    assert Path(lines[1]).resolve() != Path(sys.prefix).resolve()
    [record] = (project / "runs").glob("*/run.json")
    data = json.loads(record.read_text())
    assert data["status"] == "finished" and data["metrics"] == {"spread": 2.0}
    assert data["packages"] == {"nb2pipe-runtime": wheel.name.split("-")[1]}
    assert f"run {data['run_id']} finished" in done.stderr
