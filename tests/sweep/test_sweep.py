"""``nb2pipe sweep`` on real exported scripts: grids, checked values, failures and Ctrl-C (the
Optuna study itself: tests/sweep/test_study.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from nb2pipe.cli import cli
from nb2pipe.errors import Nb2PipeError
from nb2pipe.export import export_notebook
from nb2pipe.sweep import Choice, Range, distributions, grid, parse_assignment

from ..conftest import SAMPLES, notebook_json

NB2PIPE = Path(sys.executable).parent / "nb2pipe"


def _sweep(folder: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return subprocess.run(
        [str(NB2PIPE), "sweep", *args], cwd=folder, capture_output=True, text=True,
        timeout=timeout, env={**env, "MPLBACKEND": "Agg"}, check=False,
    )


def _records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((folder / "runs").glob("*/run.json"))]


@pytest.fixture
def trainer(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(SAMPLES, folder)
    export_notebook(folder / "train_classifier.ipynb")
    return folder


def _toy(folder: Path, body: str) -> Path:
    """A small exported notebook: parameters x and delay, a metrics cell, ``body`` between."""
    folder.mkdir(parents=True, exist_ok=True)
    notebook = folder / "toy.ipynb"
    data = notebook_json(
        "import time",
        ("x = 1  # the value\ndelay = 0.0  # seconds to wait", ["parameters"]),
        body,
        ("score = x * 2", ["metrics"]),
    )
    notebook.write_text(json.dumps(data), encoding="utf-8")
    return export_notebook(notebook).script_path


@pytest.mark.slow
def test_a_grid_with_two_at_a_time_records_every_point(trainer: Path) -> None:
    done = _sweep(trainer, "train_classifier.py", "-p", "n_estimators=5,50",
                  "-p", "max-depth=2,None", "-j", "2")
    assert done.returncode == 0, done.stderr
    records = _records(trainer)
    assert sorted((r["params"]["n_estimators"], str(r["params"]["max_depth"])) for r in records) == [
        (5, "2"), (5, "None"), (50, "2"), (50, "None")
    ]
    assert all(r["status"] == "finished" and "accuracy" in r["metrics"] for r in records)
    assert {r["experiment"] for r in records} == {"train_classifier"}  # one experiment
    best = max(records, key=lambda r: r["metrics"]["accuracy"])
    assert f"best: run {best['run_id']}, accuracy " in done.stdout
    # nb2pipe runs lists them as any other runs
    listed = CliRunner().invoke(cli, ["runs", str(trainer), "--json"], catch_exceptions=False)
    runs = json.loads(listed.stdout)["runs"]
    assert {run["label"] for run in runs} == {r["run_id"] for r in records}


def test_a_bad_value_is_one_line_before_anything_runs(tmp_path: Path) -> None:
    script = _toy(tmp_path / "p", "y = x + 1")
    done = _sweep(script.parent, script.name, "-p", "x=1,two")
    assert done.returncode == 2
    assert done.stderr == "nb2pipe: error: sweep value x=two: invalid int value: 'two'\n"
    assert not (script.parent / "runs").exists()
    done = _sweep(script.parent, script.name, "-p", "z=1")
    assert done.returncode == 2 and done.stderr == (
        "nb2pipe: error: z: not a parameter of toy.py; known: x, delay\n"
    )


def test_a_value_outside_a_parameters_choices_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    notebook = folder / "fit.ipynb"
    notebook.write_text(json.dumps(notebook_json(
        "from typing import Literal",
        ('model: Literal["ridge", "lasso"] = "ridge"\nfolds = 5  # one of: 3, 5', ["parameters"]),
        ("score = folds * 2", ["metrics"]),
    )), encoding="utf-8")
    script = export_notebook(notebook).script_path
    done = _sweep(folder, script.name, "-p", "model=ridge,xgboost")
    assert done.returncode == 2
    assert done.stderr == (
        "nb2pipe: error: sweep value model=xgboost: expected one of 'ridge', 'lasso', "
        "got 'xgboost'\n"
    )
    done = _sweep(folder, script.name, "-p", "folds=3,4")
    assert done.returncode == 2
    assert done.stderr == (
        "nb2pipe: error: sweep value folds=4: expected one of 3, 5, got 4\n"
    )
    assert not (folder / "runs").exists()


@pytest.mark.slow
def test_a_failing_point_is_reported_and_the_others_run(tmp_path: Path) -> None:
    script = _toy(tmp_path / "p", "if x == 3:\n    raise ValueError('three is not allowed')")
    done = _sweep(script.parent, script.name, "-p", "x=1,3,5", "-j", "2")
    assert done.returncode == 1
    assert "trial 1 (x=3) failed: ValueError: three is not allowed" in done.stderr
    records = _records(script.parent)
    assert sorted((r["params"]["x"], r["status"]) for r in records) == [
        (1, "finished"), (3, "failed"), (5, "finished")
    ]
    assert "best: run " in done.stdout and "score 10 (x=5)" in done.stdout


@pytest.mark.slow
def test_the_sweeps_metric_and_direction_are_recorded_and_mark_the_best(tmp_path: Path) -> None:
    """``--metric score --minimize``: each run records it, and ``nb2pipe runs`` later marks
    the run the sweep called best (lowest score), not the highest."""
    script = _toy(tmp_path / "p", "y = x + 1")
    done = _sweep(script.parent, script.name, "-p", "x=3,1,2", "--metric", "score", "--minimize")
    assert done.returncode == 0, done.stderr
    records = _records(script.parent)
    assert {json.dumps(r["objective"]) for r in records} == {
        json.dumps({"metric": "score", "goal": "minimize", "source": "sweep"})
    }
    lowest = min(records, key=lambda r: r["metrics"]["score"])
    assert f"best: run {lowest['run_id']}, score 2 (x=1)" in done.stdout
    listed = CliRunner().invoke(cli, ["runs", str(script.parent), "--json"], catch_exceptions=False)
    [experiment] = json.loads(listed.stdout)["experiments"]
    assert experiment["primary_metric"]["source"] == "sweep"
    assert [run["label"] for run in experiment["runs"] if run["best"]] == [lowest["run_id"]]
    # a later run of the script by hand records the notebook's own first metric
    done = subprocess.run([sys.executable, script.name, "--x", "9"], cwd=script.parent,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    table = CliRunner().invoke(cli, ["runs", str(script.parent)], catch_exceptions=False).stdout
    assert "(lowest; the metric its sweep ranked by)" in table  # the sweep's choice still wins


def test_the_flags_of_0_2_still_work_with_a_note_saying_how_each_maps(tmp_path: Path) -> None:
    script = _toy(tmp_path / "p", "y = x + 1")
    space = script.parent / "space.yaml"
    space.write_text("x: {int_uniform: [1, 1000]}\ndelay: [0.0]\n")
    old = ("--config", "space.yaml", "--samples", "2", "--seed", "7", "--sort", "score",
           "--ascending")
    done = _sweep(script.parent, script.name, *old)
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if line.startswith("nb2pipe: note:")]
    assert notes == [
        ("nb2pipe: note: --config space.yaml is now --space space.yaml (--config names the "
         "script's own parameter file, which --dump-best writes); the old flag goes in the next "
         "release"),
        ("nb2pipe: note: --samples 2 is now --sampler random --trials 2; the old flag goes in "
         "the next release"),
        "nb2pipe: note: --sort score is now --metric score; the old flag goes in the next release",
        "nb2pipe: note: --ascending is now --minimize; the old flag goes in the next release",
    ]
    records = _records(script.parent)
    assert len(records) == 2 and all(1 <= r["params"]["x"] <= 1000 for r in records)
    assert {r["objective"]["goal"] for r in records} == {"minimize"}
    # the same command again: the study has its 2 trials, nothing more runs
    again = _sweep(script.parent, script.name, *old)
    assert again.returncode == 0, again.stderr
    assert "resuming: 2 trial(s) done" in again.stderr and len(_records(script.parent)) == 2
    # a seeded random sweep in another study draws the same points
    other = _sweep(script.parent, script.name, "--space", "space.yaml", "--sampler", "random",
                   "--trials", "2", "--seed", "7", "--metric", "score", "--minimize",
                   "--study", "again")
    assert other.returncode == 0, other.stderr
    later = [r["params"]["x"] for r in _records(script.parent) if r["run_id"] not in
             {first["run_id"] for first in records}]
    assert sorted(later) == sorted(r["params"]["x"] for r in records)
    unbounded = _sweep(script.parent, script.name, "--space", "space.yaml")
    assert unbounded.returncode == 2
    assert unbounded.stderr == (
        "nb2pipe: error: --sampler tpe needs --trials N or --timeout S (a grid ends by itself, "
        "a sampler does not)\n"
    )
    gridded = _sweep(script.parent, script.name, "--space", "space.yaml", "--sampler", "grid")
    assert gridded.returncode == 2 and "x is a range, which a grid cannot list" in gridded.stderr


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_finished_runs(tmp_path: Path) -> None:
    script = _toy(tmp_path / "p", "time.sleep(delay)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    sweep = subprocess.Popen(
        [str(NB2PIPE), "sweep", script.name, "-p", "delay=0,60,60", "-j", "2"],
        cwd=script.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(
        r["status"] == "finished" for r in _records(script.parent)
    ):
        time.sleep(0.2)
    time.sleep(1.0)  # the second point (60 s) is running now
    sweep.send_signal(signal.SIGINT)
    _stdout, stderr = sweep.communicate(timeout=30)
    assert sweep.returncode == 130, stderr
    assert "interrupted: 1 run(s) finished and kept" in stderr
    statuses = sorted((r["params"]["delay"], r["status"]) for r in _records(script.parent))
    assert statuses[0] == (0.0, "finished")
    assert all(status == "failed" for _, status in statuses[1:])  # interrupted, recorded
    # no process of the sweep is left: nothing runs the script any more
    left = [
        pid for pid in os.listdir("/proc") if pid.isdigit()
        and str(script) in _cmdline(pid)
    ]
    assert left == []


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.parametrize(("text", "name", "values"), [
    ("n_estimators=10,100", "n_estimators", ("10", "100")),
    ("max-depth=2,None", "max_depth", ("2", "None")),
    ('features=["a","b"],["c"]', "features", ('["a","b"]', '["c"]')),  # commas in JSON stay
    ("label='x,y',z", "label", ("'x,y'", "z")),
])
def test_assignments(text: str, name: str, values: tuple[str, ...]) -> None:
    assert parse_assignment(text) == (name, Choice(values))


def test_a_grid_is_every_combination_and_ranges_are_optuna_distributions() -> None:
    space = {"a": Choice((1, 2)), "b": Choice(("x", "y", "z"))}
    points = grid(space)
    assert len(points) == 6 and points[0] == {"a": 1, "b": "x"} and points[-1] == {"a": 2, "b": "z"}
    found = distributions({
        "lr": Range("log_uniform", 1e-4, 1e-1), "n": Range("int_uniform", 1, 9),
        "features": Choice((["a", "b"], ["c"])),
    })
    assert found["lr"].log and (found["lr"].low, found["lr"].high) == (1e-4, 1e-1)
    assert (found["n"].low, found["n"].high) == (1, 9)
    assert found["features"].choices == ('["a", "b"]', '["c"]')  # Optuna holds no lists
    with pytest.raises(Nb2PipeError, match="lr is a range, which a grid cannot list"):
        grid({"lr": Range("uniform", 0.0, 1.0)})
