"""Exported scripts in environments that hold only what they should: real second venvs.

- A venv with only the notebook's packages runs ``--standalone`` scripts, and a normal script
  there stops at once with one line naming the install command (exit 2).
- The same venv with nb2pipe-runtime (a wheel built from this checkout) added runs the normal
  script and writes a run record that validates against ``docs/run-record.schema.json``;
  installing the runtime installed nb2pipe nowhere.
- A venv with nb2pipe alone (pre-commit's isolated hook environment: none of the notebooks'
  packages) exports every sample to the same script apart from the version pins, and
  ``--check`` there passes on the scripts exported here.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from nb2pipe.export import ExportOptions, export_notebook
from nb2pipe.export.api import _without_versions

from ..conftest import ROOT, SAMPLES

pytestmark = pytest.mark.slow

#: what the sample notebooks import (the `samples` extra)
NOTEBOOK_PACKAGES = ("numpy", "pandas", "scikit-learn", "matplotlib")


def _run(*args: str | Path, cwd: Path | None = None, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI")}
    env["MPLBACKEND"] = "Agg"
    env["SKIP_JUPYTER_BUILDER"] = "1"  # nb2pipe's lab extension is not what these tests need
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env,
        check=False,
    )


def _venv(path: Path) -> Path:
    done = _run(sys.executable, "-m", "venv", path)
    assert done.returncode == 0, done.stderr
    return path / "bin" / "python"


def _pip(python: Path, *args: str | Path) -> None:
    done = _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args)
    assert done.returncode == 0, done.stderr[-3000:]


def _installed(python: Path) -> set[str]:
    done = _run(python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check")
    return {entry["name"].lower() for entry in json.loads(done.stdout)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples, exported here (the full environment), normal and --standalone."""
    folder = tmp_path_factory.mktemp("samples")
    shutil.copytree(SAMPLES, folder, dirs_exist_ok=True)
    for notebook in sorted(folder.glob("*.ipynb")):
        export_notebook(notebook)
        export_notebook(notebook, ExportOptions(output=folder / "standalone", output_is_folder=True,
                                                standalone=True))
    shutil.copytree(folder / "data", folder / "standalone" / "data")
    return folder


@pytest.fixture(scope="module")
def notebook_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding the notebooks' packages only (no nb2pipe, no runtime)."""
    python = _venv(tmp_path_factory.mktemp("notebook-venv") / "venv")
    _pip(python, *NOTEBOOK_PACKAGES)
    return python


def test_standalone_scripts_run_with_only_the_notebooks_packages(
    exported: Path, notebook_venv: Path
) -> None:
    assert not {"nb2pipe", "nb2pipe-runtime"} & _installed(notebook_venv)
    folder = exported / "standalone"
    for script in sorted(folder.glob("*.py")):
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(ast.parse(script.read_text()))
            if isinstance(node, ast.Import) for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(ast.parse(script.read_text()))
            if isinstance(node, ast.ImportFrom)
        }
        assert "nb2pipe_runtime" not in imported
        done = _run(notebook_venv, script, cwd=folder)
        assert done.returncode == 0, f"{script.name}: {done.stderr[-2000:]}"
    records = sorted(folder.glob("runs/*/run.json"))
    assert len(records) == 3
    schema = json.loads((ROOT / "docs" / "run-record.schema.json").read_text())
    for record in records:
        jsonschema.validate(json.loads(record.read_text()), schema)


def test_without_the_runtime_a_script_says_how_to_install_it(exported: Path, notebook_venv: Path) -> None:
    done = _run(notebook_venv, exported / "train_classifier.py", "--help", cwd=exported)
    assert done.returncode == 2
    assert done.stderr == (
        "this script needs nb2pipe-runtime: pip install 'nb2pipe-runtime==0.2.0'\n"
    )


def test_with_the_runtime_a_script_runs_and_records_its_parameters(
    exported: Path, notebook_venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    wheels = tmp_path_factory.mktemp("wheels")
    built = _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", wheels,
                 ROOT / "runtime")
    assert built.returncode == 0, built.stderr[-2000:]
    before = _installed(notebook_venv)
    _pip(notebook_venv, *sorted(wheels.glob("nb2pipe_runtime-*.whl")))
    assert _installed(notebook_venv) - before == {"nb2pipe-runtime"}  # and nothing else
    folder = exported
    done = _run(notebook_venv, folder / "train_classifier.py", "--n-estimators", "7", cwd=folder)
    assert done.returncode == 0, done.stderr[-2000:]
    [path] = sorted(folder.glob("runs/*/run.json"))
    record = json.loads(path.read_text())
    schema = json.loads((ROOT / "docs" / "run-record.schema.json").read_text())
    jsonschema.validate(record, schema)
    assert record["params"]["n_estimators"] == 7 and record["status"] == "finished"


def test_exports_do_not_depend_on_what_is_installed(
    exported: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """pre-commit's hook environment holds nb2pipe alone: its export is the same script."""
    python = _venv(tmp_path_factory.mktemp("nb2pipe-venv") / "venv")
    _pip(python, "-e", ROOT / "runtime", "-e", ROOT)
    installed = _installed(python)
    assert "nb2pipe" in installed and not {"pandas", "scikit-learn", "matplotlib"} & installed
    nb2pipe = python.parent / "nb2pipe"
    fresh = tmp_path_factory.mktemp("isolated-export")
    shutil.copytree(SAMPLES, fresh, dirs_exist_ok=True)
    for notebook in sorted(fresh.glob("*.ipynb")):
        done = _run(nb2pipe, "export", notebook)
        assert done.returncode == 0, done.stderr
        here = (exported / notebook.with_suffix(".py").name).read_text()
        there = notebook.with_suffix(".py").read_text()
        assert _without_versions(there) == _without_versions(here), notebook.name
        # --check in the isolated environment accepts the script exported in the full one
        shutil.copy(exported / notebook.with_suffix(".py").name, notebook.with_suffix(".py"))
        check = _run(nb2pipe, "export", "--check", notebook)
        assert check.returncode == 0, check.stderr
