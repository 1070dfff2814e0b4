"""``nb2pipe sweep`` on Optuna studies, with real scripts and real storages (the default
journal under runs/.sweeps/, a journal file given by --storage, SQLite): TPE, a sweep killed
and resumed, two workers sharing one study, pruning, --dump-best."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from nb2pipe.cli import cli
from nb2pipe.export import export_notebook

from ..conftest import notebook_json

NB2PIPE = Path(sys.executable).parent / "nb2pipe"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return {**env, "MPLBACKEND": "Agg"}


def _sweep(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NB2PIPE), "sweep", *args], cwd=folder, capture_output=True, text=True,
        timeout=600, env=_env(), check=False,
    )


def _records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((folder / "runs").glob("*/run.json"))]


def _toy(folder: Path, body: str, metrics: str = "score = x * 2") -> Path:
    """An exported notebook: parameters x, lr and delay, ``body``, then a metrics cell."""
    folder.mkdir(parents=True, exist_ok=True)
    notebook = folder / "toy.ipynb"
    notebook.write_text(json.dumps(notebook_json(
        "import time\nfrom nb2pipe_runtime import report",
        ("x = 1  # the value\nlr = 0.1  # a rate\ndelay = 0.0  # seconds to wait",
         ["parameters"]),
        body,
        (metrics, ["metrics"]),
    )), encoding="utf-8")
    return export_notebook(notebook).script_path


def _journal_trials(journal: Path) -> int:
    """Trials created in a journal file (how many times Optuna logged a new trial)."""
    return sum(
        json.loads(line).get("op_code") == 4  # JournalOperation.CREATE_TRIAL
        for line in journal.read_text().splitlines() if line.strip()
    )


@pytest.mark.slow
def test_a_tpe_sweep_learns_on_the_default_storage_and_marks_its_best(tmp_path: Path) -> None:
    script = _toy(tmp_path / "p", "y = 1", metrics="score = -(x - 3) ** 2 - (lr - 0.01) ** 2")
    (script.parent / "space.yaml").write_text(
        "x: {int_uniform: [0, 8]}\nlr: {log_uniform: [0.001, 0.1]}\n"
    )
    done = _sweep(script.parent, script.name, "--space", "space.yaml", "--sampler", "tpe",
                  "--trials", "5", "--seed", "1", "-j", "2")
    assert done.returncode == 0, done.stderr
    assert "new study" in done.stderr and "tpe, score maximize, 2 at a time" in done.stderr
    journal = script.parent / "runs" / ".sweeps" / "studies.journal"
    assert journal.is_file() and _journal_trials(journal) == 5
    records = _records(script.parent)
    assert len(records) == 5 and all(r["status"] == "finished" for r in records)
    assert all(0 <= r["params"]["x"] <= 8 and 0.001 <= r["params"]["lr"] <= 0.1 for r in records)
    assert {json.dumps(r["objective"]) for r in records} == {
        json.dumps({"metric": "score", "goal": "maximize", "source": "sweep"})
    }
    best = max(records, key=lambda r: r["metrics"]["score"])
    assert f"best: run {best['run_id']}, score " in done.stdout
    listed = CliRunner().invoke(cli, ["runs", str(script.parent), "--json"], catch_exceptions=False)
    [experiment] = json.loads(listed.stdout)["experiments"]
    assert [run["label"] for run in experiment["runs"] if run["best"]] == [best["run_id"]]
    # a second command with --trials 7 continues the same study: 2 more, TPE told of all 7
    more = _sweep(script.parent, script.name, "--space", "space.yaml", "--sampler", "tpe",
                  "--trials", "7", "--seed", "1")
    assert more.returncode == 0, more.stderr
    assert "resuming: 5 trial(s) done" in more.stderr
    assert len(_records(script.parent)) == 7 and _journal_trials(journal) == 7


@pytest.mark.slow
def test_a_killed_sweep_resumes_losing_only_its_running_trial(tmp_path: Path) -> None:
    """SIGKILL while trial 1 runs: the script dies with the sweep, no record of it; the same
    command again fails that trial as lost (not counted) and runs its point once more."""
    script = _toy(tmp_path / "p", "time.sleep(delay)")
    journal = tmp_path / "shared" / "sweeps.journal"
    args = (script.name, "-p", "x=1,2,3", "-p", "delay=2", "--storage", str(journal))
    sweep = subprocess.Popen([str(NB2PIPE), "sweep", *args], cwd=script.parent, env=_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(
        r["status"] == "finished" for r in _records(script.parent)
    ):
        time.sleep(0.1)
    time.sleep(0.5)  # the second point is running
    assert _scripts_running(script), "no trial is running"
    sweep.kill()
    sweep.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _scripts_running(script):
        time.sleep(0.1)
    assert not _scripts_running(script)  # the trial died with its sweep
    assert [r["params"]["x"] for r in _records(script.parent)] == [1]
    done = _sweep(script.parent, *args)
    assert done.returncode == 0, done.stderr
    assert "resuming: 1 trial(s) done" in done.stderr
    assert "study has 3 finished, 0 pruned, 0 failed" in done.stderr
    finished = Counter(r["params"]["x"] for r in _records(script.parent))
    assert finished == Counter({1: 1, 2: 1, 3: 1})
    # the journal holds the lost trial as failed beside the three that ran
    assert _journal_trials(journal) == 4
    again = _sweep(script.parent, *args)
    assert again.returncode == 0 and "this worker ran 0 trial(s)" in again.stderr


def _scripts_running(script: Path) -> bool:
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(script) in command and str(NB2PIPE) not in command:
            return True
    return False


@pytest.mark.slow
def test_two_workers_share_one_study_and_no_grid_point_runs_twice(tmp_path: Path) -> None:
    script = _toy(tmp_path / "p", "time.sleep(delay)")
    journal = tmp_path / "shared.journal"
    args = [script.name, "-p", "x=1,2,3,4,5,6", "-p", "delay=0.3", "--study", "shared",
            "--storage", str(journal)]
    workers = [
        subprocess.Popen([str(NB2PIPE), "sweep", *args], cwd=script.parent, env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=600) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    ran = [int(line.split("ran ")[1].split()[0]) for _, err in outputs
           for line in err.splitlines() if "this worker ran" in line]
    assert sum(ran) == 6 and all(count >= 1 for count in ran), outputs  # both took part
    records = _records(script.parent)
    assert Counter(r["params"]["x"] for r in records) == Counter(range(1, 7))
    assert all(r["status"] == "finished" for r in records)


@pytest.mark.slow
def test_a_pruned_trial_is_recorded_as_pruned_with_its_last_value(tmp_path: Path) -> None:
    script = _toy(
        tmp_path / "p",
        "for step in range(3):\n    report(x * (step + 1), step)\n    time.sleep(delay)",
        metrics="score = x * 3",
    )
    done = _sweep(script.parent, script.name, "-p", "x=5,1", "--pruner", "median",
                  "--prune-after", "1")
    assert done.returncode == 0, done.stderr
    by_x = {r["params"]["x"]: r for r in _records(script.parent)}
    assert by_x[5]["status"] == "finished" and by_x[5]["metrics"] == {"score": 15.0}
    assert by_x[1]["status"] == "pruned" and by_x[1]["metrics"] == {"score": 1.0}  # at step 0
    assert "trial 1 (x=1): pruned, 1 in" in done.stderr
    assert "study has 1 finished, 1 pruned, 0 failed" in done.stderr
    table = CliRunner().invoke(cli, ["runs", str(script.parent), "--json"],
                               catch_exceptions=False)
    statuses = {run["params"]["x"]: run["status"] for run in json.loads(table.stdout)["runs"]}
    assert statuses == {5: "finished", 1: "pruned"}
    # outside a sweep report() does nothing: the script runs to its end
    alone = subprocess.run([sys.executable, script.name, "--x", "1"], cwd=script.parent,
                           capture_output=True, text=True, timeout=120, check=False, env=_env())
    assert alone.returncode == 0 and " finished; recorded in " in alone.stderr


@pytest.mark.slow
def test_dump_best_round_trips_through_the_scripts_config(tmp_path: Path) -> None:
    script = _toy(tmp_path / "p", "y = 1")
    (script.parent / "best.yaml").write_text("mine: true\n")
    args = [script.name, "-p", "x=1,3,2", "--dump-best", "best.yaml",
            "--storage", "sqlite:///" + str(tmp_path / "studies.db")]
    refused = _sweep(script.parent, *args)
    assert refused.returncode == 2 and refused.stderr == (
        "nb2pipe: error: --dump-best best.yaml: the file exists (give --force to overwrite it)\n"
    )
    assert not (script.parent / "runs").exists()
    done = _sweep(script.parent, *args, "--force")
    assert done.returncode == 0, done.stderr
    text = (script.parent / "best.yaml").read_text()
    assert text.startswith("# nb2pipe sweep: the best trial of study ")
    rerun = subprocess.run([sys.executable, script.name, "--config", "best.yaml"],
                           cwd=script.parent, capture_output=True, text=True, timeout=120,
                           check=False, env=_env())
    assert rerun.returncode == 0, rerun.stderr
    latest = max(_records(script.parent), key=lambda r: r["start"])
    assert latest["params"] == {"x": 3, "lr": 0.1, "delay": 0.0}
    assert latest["metrics"]["score"] == 6
    # a file --dump-best wrote is its own to overwrite: the same command again works
    again = _sweep(script.parent, *args)
    assert again.returncode == 0, again.stderr


def test_resuming_a_study_with_another_space_is_refused_in_one_line(tmp_path: Path) -> None:
    script = _toy(tmp_path / "p", "y = 1")
    first = _sweep(script.parent, script.name, "-p", "x=1", "--study", "s")
    assert first.returncode == 0, first.stderr
    changed = _sweep(script.parent, script.name, "-p", "x=1,4", "--study", "s")
    assert changed.returncode == 2
    assert changed.stderr == (
        "nb2pipe: error: study s was created with another space (x: [1] then, [1, 4] now): "
        "give --study NAME for a new study\n"
    )
    other_metric = _sweep(script.parent, script.name, "-p", "x=1", "--study", "s", "--minimize")
    assert other_metric.returncode == 2 and other_metric.stderr == (
        "nb2pipe: error: study s ranks by score (maximize), not by score (minimize): give "
        "--study NAME for a new study\n"
    )
    # without --study, another space is another study
    new = _sweep(script.parent, script.name, "-p", "x=1,4")
    assert new.returncode == 0 and "new study" in new.stderr, new.stderr


@pytest.mark.slow
def test_with_mlflow_the_trials_are_child_runs_of_one_sweep_run(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    script = _toy(tmp_path / "p", "y = 1")
    uri = "sqlite:///" + str(tmp_path / "mlflow.db")
    env = {**_env(), "MLFLOW_TRACKING_URI": uri}
    done = subprocess.run(
        [str(NB2PIPE), "sweep", script.name, "-p", "x=1,2"], cwd=script.parent, env=env,
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
    client = MlflowClient(tracking_uri=uri)
    [experiment] = [e for e in client.search_experiments() if e.name == "toy"]
    runs = client.search_runs([experiment.experiment_id])
    [parent] = [run for run in runs if "nb2pipe.study" in run.data.tags]
    children = [run for run in runs if "nb2pipe.run_id" in run.data.tags]
    assert len(children) == 2
    assert {run.data.tags["mlflow.parentRunId"] for run in children} == {parent.info.run_id}
    assert parent.data.metrics["score"] == 4.0  # the study's best
    assert parent.data.tags["nb2pipe.best_run"] in {r["run_id"] for r in _records(script.parent)}


def _journal_study(path: Path, name: str = "s") -> tuple[object, object]:
    import optuna

    from nb2pipe.sweep import study as studies
    from nb2pipe.sweep.space import Choice

    storage, _where = studies.open_storage(str(path), path.parent)
    settings = studies.SweepSettings("toy.py", {"x": Choice((1, 2, 3))}, "score", "maximize")
    study, _created = studies.open_study(
        storage, name, settings, optuna.samplers.RandomSampler(seed=0), None
    )
    return study, studies


def test_a_trial_whose_worker_stopped_beating_is_lost_and_its_point_enqueued_again(
    tmp_path: Path,
) -> None:
    """Another machine's worker died: its trial fails as lost once its heartbeat is a minute
    old (not before), is not counted, and the grid gets its point back."""
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState

    study, studies = _journal_study(tmp_path / "s.journal")
    points = [{"x": 1}, {"x": 2}]
    assert studies.enqueue_grid(study, points) == 2
    trial = study.ask({"x": CategoricalDistribution((1, 2, 3))})
    storage = study._storage
    storage.set_trial_user_attr(trial._trial_id, studies.WORKER, "elsewhere/4242/99")
    storage.set_trial_user_attr(trial._trial_id, studies.BEAT, time.time() - 10)
    assert studies.fail_lost_trials(study) == 0  # beating recently: alive
    assert studies.study_state(study).counted == 1
    storage.set_trial_user_attr(trial._trial_id, studies.BEAT, time.time() - 120)
    assert studies.fail_lost_trials(study) == 1
    [lost] = [t for t in study.get_trials() if t.number == trial.number]
    assert lost.state == TrialState.FAIL and lost.user_attrs[studies.OUTCOME] == "lost"
    state = studies.study_state(study)
    assert (state.counted, state.lost, state.waiting) == (0, 1, 1)
    assert studies.enqueue_grid(study, points) == 1  # x=1 again; x=2 still waits
    # a worker on this host whose process is gone is lost at once, heartbeat or not
    again = study.ask({"x": CategoricalDistribution((1, 2, 3))})
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    storage.set_trial_user_attr(again._trial_id, studies.WORKER, studies.worker_id(int(dead)))
    storage.set_trial_user_attr(again._trial_id, studies.BEAT, time.time())
    assert studies.fail_lost_trials(study) == 1


def test_a_grid_point_enqueued_by_two_workers_runs_once(tmp_path: Path) -> None:
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState

    study, studies = _journal_study(tmp_path / "s.journal")
    # two workers started together: neither saw the other's queue
    for _ in range(2):
        study.enqueue_trial({"x": 1})
    space = {"x": CategoricalDistribution((1, 2, 3))}
    first, second = study.ask(space), study.ask(space)
    assert first.params == second.params == {"x": 1}
    assert studies.claim_is_first(study, first)
    assert not studies.claim_is_first(study, second)
    dropped = study.get_trials()[second.number]
    assert dropped.state == TrialState.FAIL and dropped.user_attrs[studies.OUTCOME] == "duplicate"
    assert studies.study_state(study).counted == 1
