"""``nb2pipe export --airflow``: the DAGs run in a real Airflow 3 (``airflow dags test``).

Airflow pins much of what the rest of the test environment needs, so it gets a venv of its
own (``.venv-airflow`` in the checkout, built once and kept), with the notebooks' packages and
nb2pipe-runtime from this checkout: what a worker needs. The metadata database is SQLite in a
temporary AIRFLOW_HOME.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nb2pipe.export import ExportOptions, check_notebook, export_notebook
from nb2pipe.export.api import CheckStatus

from ..conftest import SAMPLES
from ..engine_venvs import NOTEBOOK_PACKAGES, engine_python, run

pytestmark = [pytest.mark.slow, pytest.mark.airflow]
AIRFLOW_REQUIREMENTS = ("apache-airflow>=3,<4", *NOTEBOOK_PACKAGES)
_run = run


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    return engine_python("airflow", AIRFLOW_REQUIREMENTS)


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The samples exported with --airflow, and an Airflow environment for them."""
    folder = tmp_path / "project"
    shutil.copytree(SAMPLES, folder)
    for name in ("pipeline_steps.ipynb", "train_classifier.ipynb"):
        export_notebook(folder / name, ExportOptions(airflow=True))
    home = tmp_path / "airflow-home"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI")}
    env.update(
        AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(folder),
        AIRFLOW__CORE__LOAD_EXAMPLES="False", MPLBACKEND="Agg",
    )
    return folder, env


def _airflow(python: Path, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _run([python.parent / "airflow", *args], cwd, env)


def _records(folder: Path) -> list[dict]:
    found = [json.loads(p.read_text()) for p in (folder / "runs").glob("*/run.json")]
    return sorted(found, key=lambda record: record["start"])


def test_the_dag_files_are_byte_stable_and_checked(project: tuple[Path, dict[str, str]]) -> None:
    folder, _ = project
    dag = folder / "pipeline_steps_dag.py"
    text = dag.read_text()
    export_notebook(folder / "pipeline_steps.ipynb", ExportOptions(airflow=True))
    assert dag.read_text() == text
    compile(text, dag.name, "exec")
    # --check without the flag (a pre-commit hook) checks the DAGs too
    assert check_notebook(folder / "pipeline_steps.ipynb") is CheckStatus.IN_SYNC
    dag.write_text(text.replace('"C": Param(0.5', '"C": Param(0.7'))
    assert check_notebook(folder / "pipeline_steps.ipynb") is CheckStatus.STALE


def test_the_pipeline_dag_runs_every_step_like_the_script(
    airflow_python: Path, project: tuple[Path, dict[str, str]]
) -> None:
    folder, env = project
    assert _airflow(airflow_python, "db", "migrate", cwd=folder, env=env).returncode == 0
    done = _airflow(airflow_python, "dags", "test", "pipeline_steps", cwd=folder, env=env)
    assert done.returncode == 0 and "state=success" in done.stdout + done.stderr, done.stderr[-3000:]
    records = _records(folder)
    assert [record["step"] for record in records] == ["load", "features", "train", "evaluate"]
    dag_metrics = records[-1]["metrics"]
    # the same metrics as a plain run of the script
    script = _run([airflow_python, folder / "pipeline_steps.py", "--runs-dir", folder / "plain-runs"],
                  folder, env)
    assert script.returncode == 0, script.stderr
    [plain] = [json.loads(p.read_text()) for p in (folder / "plain-runs").glob("*/run.json")]
    assert dag_metrics == plain["metrics"] and set(dag_metrics) == {"accuracy", "balanced_accuracy", "f1"}
    # each task's run records where its inputs came from
    evaluate = records[-1]
    assert {entry["run_id"] for entry in evaluate["lineage"]} == {records[1]["run_id"], records[2]["run_id"]}


def test_the_sweep_dag_records_a_run_per_grid_point(
    airflow_python: Path, project: tuple[Path, dict[str, str]]
) -> None:
    folder, env = project
    assert _airflow(airflow_python, "db", "migrate", cwd=folder, env=env).returncode == 0
    grid = json.dumps({"grid": {"C": [0.05, 0.5, 5.0]}})
    done = _airflow(airflow_python, "dags", "test", "pipeline_steps_sweep", "-c", grid,
                    cwd=folder, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "state=success" in output, done.stderr[-3000:]
    records = _records(folder)
    assert sorted(record["params"]["C"] for record in records) == [0.05, 0.5, 5.0]
    assert all(record["step"] is None and "accuracy" in record["metrics"] for record in records)
    best = max(records, key=lambda record: record["metrics"]["accuracy"])
    assert f"best: run {best['run_id']}, accuracy " in output
    # the points ran side by side, each saving its steps' outputs in a folder of its own
    points = sorted((folder / "outputs" / ".sweep").iterdir())
    assert len(points) == 3 and all((point / "train" / "manifest.json").is_file() for point in points)
    assert not (folder / "outputs" / "train").exists()


def test_a_flat_notebook_is_a_one_task_dag(
    airflow_python: Path, project: tuple[Path, dict[str, str]]
) -> None:
    folder, env = project
    assert _airflow(airflow_python, "db", "migrate", cwd=folder, env=env).returncode == 0
    done = _airflow(airflow_python, "dags", "test", "train_classifier", "-c",
                    json.dumps({"n_estimators": 7}), cwd=folder, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    [record] = _records(folder)
    assert record["params"]["n_estimators"] == 7 and record["status"] == "finished"


def test_a_real_scheduler_runs_two_grid_points_at_once(
    airflow_python: Path, tmp_path: Path
) -> None:
    """The LocalExecutor under a real scheduler (api-server, scheduler, dag-processor), two
    tasks at a time: two points that each wait for the other run side by side (one after the
    other, the first would time out waiting)."""
    from ..conftest import notebook_json

    folder = tmp_path / "project"
    folder.mkdir()
    notebook = folder / "slow.ipynb"
    notebook.write_text(json.dumps(notebook_json(
        "import os\nimport time",
        ("x = 1  # the value\nbarrier = ''  # a folder where the points meet", ["parameters"]),
        "if barrier:\n"
        "    os.makedirs(barrier, exist_ok=True)\n"
        "    open(os.path.join(barrier, str(x)), 'w').close()\n"
        "    deadline = time.time() + 120\n"
        "    while len(os.listdir(barrier)) < 2:\n"
        "        if time.time() > deadline:\n"
        "            raise TimeoutError('the other point never ran alongside this one')\n"
        "        time.sleep(0.2)",
        ("score = x * 2", ["metrics"]),
    )))
    export_notebook(notebook, ExportOptions(airflow=True))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI")}
    env.update(
        AIRFLOW_HOME=str(tmp_path / "airflow-home"), AIRFLOW__CORE__DAGS_FOLDER=str(folder),
        AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="2", AIRFLOW__API__PORT=str(port),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
    )
    assert _airflow(airflow_python, "db", "migrate", cwd=folder, env=env).returncode == 0
    airflow = str(airflow_python.parent / "airflow")
    components = [
        subprocess.Popen([airflow, *command], cwd=folder, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
        for command in (["api-server", "--port", str(port)], ["scheduler"], ["dag-processor"])
    ]
    try:
        _wait(lambda: "slow_sweep" in _airflow(airflow_python, "dags", "list", cwd=folder,
                                               env=env).stdout, 180, "the DAG to be parsed")
        assert _airflow(airflow_python, "dags", "unpause", "slow_sweep", cwd=folder,
                        env=env).returncode == 0
        grid = json.dumps({"grid": {"x": [1, 2], "barrier": str(tmp_path / "barrier")}})
        assert _airflow(airflow_python, "dags", "trigger", "slow_sweep", "-c", grid,
                        cwd=folder, env=env).returncode == 0
        _wait(lambda: _run_state(airflow_python, folder, env) in ("success", "failed"), 300,
              "the DAG run to end")
        assert _run_state(airflow_python, folder, env) == "success"
    finally:
        for process in components:
            _stop(process)
    records = _records(folder)
    assert sorted(record["params"]["x"] for record in records) == [1, 2]
    # side by side, not one after the other: each waited for the other (the run succeeded),
    # so the later start is no later than the earlier end (equal to the millisecond when the
    # waiting point saw the other's mark at once)
    assert max(r["start"] for r in records) <= min(r["end"] for r in records)


def _run_state(python: Path, folder: Path, env: dict[str, str]) -> str | None:
    done = _airflow(python, "dags", "list-runs", "slow_sweep", "-o", "json", cwd=folder, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
    runs = json.loads(lines[-1]) if lines else []
    return runs[0]["state"] if runs else None


def _wait(ready: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(3)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a component and what it started (its process group)."""
    for number in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, number)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=15)
            os.killpg(process.pid, signal.SIGKILL)  # workers it left behind
        except (subprocess.TimeoutExpired, ProcessLookupError):
            continue
        return


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
