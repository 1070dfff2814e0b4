"""``nb2pipe export --prefect``: the flows run in a real Prefect 3, as a user runs them
(``python <stem>_flow.py [--PARAM VALUE]...``).

Prefect gets a venv of its own (``.venv-prefect`` in the checkout, built once and kept), with
the notebooks' packages and nb2pipe-runtime from this checkout: what a worker needs. Its
database is SQLite in a temporary PREFECT_HOME. A flow run on Prefect's ephemeral API starts a
server of its own (10-40 s on two cores); so the flat notebook's flow runs that way, and the
others on one server the module starts and stops.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from nb2pipe.export import ExportOptions, check_notebook, export_notebook
from nb2pipe.export.api import CheckStatus

from ..conftest import SAMPLES
from ..engine_venvs import NOTEBOOK_PACKAGES, engine_python, run

pytestmark = [pytest.mark.slow, pytest.mark.prefect]
PREFECT_REQUIREMENTS = ("prefect==3.9.1", *NOTEBOOK_PACKAGES)


@pytest.fixture(scope="module")
def prefect_python() -> Path:
    return engine_python("prefect", PREFECT_REQUIREMENTS)


def _environment(home: Path) -> dict[str, str]:
    """The environment of a user's shell with Prefect (offline: no telemetry)."""
    env = {
        k: v for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI") and not k.startswith("PREFECT_")
    }
    env.update(
        PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
        # two busy cores: the ephemeral server's database set-up outlasts the default 20 s
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="300", MPLBACKEND="Agg",
    )
    return env


@pytest.fixture(scope="module")
def server(prefect_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A Prefect server on SQLite in a temporary PREFECT_HOME, and the environment of flows
    that run on it; stopped with everything it started."""
    env = _environment(tmp_path_factory.mktemp("prefect-home"))
    port = _free_port()
    process = subprocess.Popen(
        [prefect_python.parent / "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port), "--no-services", "--no-ui"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 300
        while not _healthy(api):
            assert process.poll() is None, "the Prefect server exited"
            assert time.monotonic() < deadline, "the Prefect server did not start"
            time.sleep(1)
        yield {**env, "PREFECT_API_URL": api}
    finally:
        _stop(process)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The samples, exported with --prefect."""
    folder = tmp_path / "project"
    shutil.copytree(SAMPLES, folder)
    for name in ("pipeline_steps.ipynb", "train_classifier.ipynb"):
        export_notebook(folder / name, ExportOptions(prefect=True))
    return folder


def _flow(python: Path, flow: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run([python, flow, *args], flow.parent, env)


def _records(folder: Path) -> list[dict]:
    found = [json.loads(p.read_text()) for p in (folder / "runs").glob("*/run.json")]
    return sorted(found, key=lambda record: record["start"])


def test_the_flow_file_is_byte_stable_and_checked(project: Path) -> None:
    flow = project / "pipeline_steps_flow.py"
    text = flow.read_text()
    export_notebook(project / "pipeline_steps.ipynb", ExportOptions(prefect=True))
    assert flow.read_text() == text
    compile(text, flow.name, "exec")
    # --check without the flag (a pre-commit hook) checks the flows too
    assert check_notebook(project / "pipeline_steps.ipynb") is CheckStatus.IN_SYNC
    flow.write_text(text.replace("C: float = 0.5", "C: float = 0.7"))
    assert check_notebook(project / "pipeline_steps.ipynb") is CheckStatus.STALE
    # a step's code is in its cache key: editing the notebook's train step changes that
    # step's digest only
    before = text
    notebook = json.loads((project / "pipeline_steps.ipynb").read_text())
    train = next(c for c in notebook["cells"] if "model.fit(" in "".join(c["source"]))
    train["source"] = "".join(train["source"]).replace("model.fit(", "model = model.fit(")
    (project / "pipeline_steps.ipynb").write_text(json.dumps(notebook))
    export_notebook(project / "pipeline_steps.ipynb", ExportOptions(prefect=True))
    after = flow.read_text()
    changed = [
        line.split(",")[0].strip() for old, line in zip(before.splitlines(), after.splitlines())
        if old != line
    ]
    assert len(before.splitlines()) == len(after.splitlines())
    assert changed == ['"train"', "None"]  # the train step's digest, and the whole script's


def test_the_pipeline_flow_runs_like_the_script_and_skips_what_did_not_change(
    prefect_python: Path, server: dict[str, str], project: Path
) -> None:
    flow = project / "pipeline_steps_flow.py"
    done = _flow(prefect_python, flow, env=server)
    assert done.returncode == 0, done.stderr[-3000:]
    records = _records(project)
    assert [record["step"] for record in records] == ["load", "features", "train", "evaluate"]
    # the same metrics as a plain run of the script
    script = run([prefect_python, project / "pipeline_steps.py", "--runs-dir", project / "plain",
                  "--outputs-dir", project / "plain-outputs"], project, server)
    assert script.returncode == 0, script.stderr
    [plain] = [json.loads(p.read_text()) for p in (project / "plain").glob("*/run.json")]
    assert records[-1]["metrics"] == plain["metrics"]
    assert set(plain["metrics"]) == {"accuracy", "balanced_accuracy", "f1"}
    # each task's run records where its inputs came from, and the parameters it used
    evaluate = records[-1]
    assert {entry["run_id"] for entry in evaluate["lineage"]} == {records[1]["run_id"],
                                                                  records[2]["run_id"]}
    assert records[2]["params"] == {"C": 0.5, "max_iter": 500}

    # nothing changed: every step is skipped (Prefect's cache), no run is recorded
    again = _flow(prefect_python, flow, env=server)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(_records(project)) == 4
    assert again.stdout.count("Cached(type=COMPLETED)") + again.stderr.count(
        "Cached(type=COMPLETED)") == 4

    # C is read by train only: train and evaluate run again, load and features do not
    changed = _flow(prefect_python, flow, "--C", "0.1", env=server)
    assert changed.returncode == 0, changed.stderr[-3000:]
    new = _records(project)[4:]
    assert [record["step"] for record in new] == ["train", "evaluate"]
    assert new[0]["params"]["C"] == 0.1
    assert {entry["run_id"] for entry in new[1]["lineage"]} == {records[1]["run_id"],
                                                                new[0]["run_id"]}

    # back to C=0.5: train's cached result is not what its saved outputs now hold (the
    # model of C=0.1), so train runs again; evaluate's inputs are then those of the first
    # run, and it is skipped with the first run's metrics
    back = _flow(prefect_python, flow, env=server)
    assert back.returncode == 0, back.stderr[-3000:]
    newest = _records(project)[6:]
    assert [record["step"] for record in newest] == ["train"]
    assert f"evaluate: run {records[-1]['run_id']} finished" in back.stdout

    # the runs are the notebook's experiment's, as nb2pipe runs shows them
    shown = run([sys.executable, "-m", "nb2pipe", "runs"], project, dict(os.environ))
    assert shown.returncode == 0, shown.stderr
    assert "experiment pipeline_steps" in shown.stdout
    assert all(record["run_id"] in shown.stdout for record in _records(project))


def test_the_sweep_flow_records_a_run_per_grid_point(
    prefect_python: Path, server: dict[str, str], project: Path
) -> None:
    flow = project / "pipeline_steps_flow.py"
    done = _flow(prefect_python, flow, "--grid", '{"C": [0.05, 0.5, 5.0]}', env=server)
    assert done.returncode == 0, done.stderr[-3000:]
    records = _records(project)
    assert sorted(record["params"]["C"] for record in records) == [0.05, 0.5, 5.0]
    assert all(record["step"] is None and "accuracy" in record["metrics"] for record in records)
    best = max(records, key=lambda record: record["metrics"]["accuracy"])
    assert f"best: run {best['run_id']}, accuracy " in done.stdout
    # each point saved its steps' outputs in a folder of its own (side by side, none
    # overwrites another's)
    assert len(list((project / "outputs" / ".sweep").iterdir())) == 3


def test_a_flat_notebook_is_a_one_task_flow_on_the_ephemeral_api(
    prefect_python: Path, project: Path, tmp_path: Path
) -> None:
    home = tmp_path / "prefect-home"
    env = _environment(home)
    flow = project / "train_classifier_flow.py"
    done = _flow(prefect_python, flow, "--n-estimators", "7", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    [record] = _records(project)
    assert record["params"]["n_estimators"] == 7 and record["status"] == "finished"
    assert f"run: run {record['run_id']} finished" in done.stdout
    assert not _processes_of(home), "the ephemeral server was left running"
    # bad input: one line, exit 2, before any flow runs
    for args, message in (
        (("--n-estimators", "many"), "argument --n-estimators: invalid int value: 'many'"),
        (("--grid", "{C: 1}"), "argument --grid: not JSON"),
    ):
        bad = _flow(prefect_python, flow, *args, env=env)
        assert bad.returncode == 2
        [line] = bad.stderr.strip().splitlines()
        assert line.startswith(f"train_classifier_flow.py: error: {message}"), line


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _processes_of(home: Path) -> list[int]:
    """Processes whose environment names ``home`` as PREFECT_HOME."""
    marker = f"PREFECT_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and what it started (its process group)."""
    for number in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, number)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            continue
        try:
            os.killpg(process.pid, signal.SIGKILL)  # workers it left behind
        except ProcessLookupError:
            pass
        return


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
