"""Runs grouped by experiment, and the filters for long histories: ``--experiment``,
``--since``, ``--last``, ``--where``; failed runs show their error."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from nb2pipe.runs import parse_since, parse_where

from .conftest import RunScript, invoke, make_record, write_records


@pytest.mark.slow
def test_two_scripts_in_one_folder_are_two_experiments(project: Path, run: RunScript) -> None:
    run("train_classifier.py", "--n-estimators", "5")
    run("diabetes_steps.py", "--alpha", "2")
    run("train_classifier.py", "--n-estimators", "8", "--max-depth", "2")
    run("diabetes_steps.py", "--experiment", "ridge-sweep", "--alpha", "4")

    lines = invoke(str(project)).stdout.splitlines()
    assert [line for line in lines if line.startswith("experiment ")] == [
        "experiment train_classifier", "experiment diabetes_steps", "experiment ridge-sweep",
    ]
    classifier = lines[: lines.index("")]
    assert classifier[1] == "script train_classifier.py, notebook train_classifier.ipynb, 2 runs"
    assert classifier[2].split() == ["#", "run", "steps", "status", "n_estimators", "max_depth",
                                     "accuracy", "f1", "n_test", "data", "commit"]
    assert [line[3:].split()[0] for line in classifier[3:5]] == ["1", "2"]
    assert [line[3:].split()[4:6] for line in classifier[3:5]] == [["5", "3"], ["8", "2"]]
    assert [line[:1] for line in classifier[3:5]].count(">") == 1  # the best by accuracy
    assert classifier[5].startswith("> best: run ")
    assert classifier[6].startswith("same in every run: data_path=data/wine.csv, features=")
    assert "alpha" not in "\n".join(classifier)  # no union of both scripts' columns
    diabetes = lines[lines.index("experiment diabetes_steps"):]
    assert diabetes[1] == "script diabetes_steps.py, notebook diabetes_steps.ipynb, 1 run"
    assert diabetes[2].split() == ["#", "run", "steps", "status", "r2", "data", "commit"]
    assert diabetes[3].split()[0] == "3"  # rows are numbered across experiments; one: no best
    assert diabetes[4] == "same in every run: data_path=data/diabetes.csv, test_size=0.2, alpha=2"

    data = json.loads(invoke(str(project), "--json").stdout)
    assert [(e["name"], e["scripts"], len(e["runs"])) for e in data["experiments"]] == [
        ("train_classifier", ["train_classifier.py"], 2),
        ("diabetes_steps", ["diabetes_steps.py"], 1),
        ("ridge-sweep", ["diabetes_steps.py"], 1),
    ]
    assert [row["experiment"] for row in data["runs"]] == [
        "train_classifier", "train_classifier", "diabetes_steps", "ridge-sweep"
    ]
    assert data["runs"][3]["params"]["alpha"] == 4

    only = invoke(str(project), "--experiment", "ridge-sweep").stdout.splitlines()
    assert only[:2] == ["experiment ridge-sweep",
                        "script diabetes_steps.py, notebook diabetes_steps.ipynb, 1 run"]
    assert only[3].split()[:4] == ["1", data["runs"][3]["label"], "all", "finished"]
    assert len(only) == 5


def test_an_unknown_experiment_is_an_error_naming_the_known_ones(tmp_path: Path) -> None:
    write_records(tmp_path / "runs", make_record("r01"), make_record("r02", experiment="other"))
    result = invoke(str(tmp_path), "--experiment", "nosuch")
    assert result.exit_code == 2
    assert result.stderr == "nb2pipe: error: --experiment nosuch: no such experiment; known: other, train\n"


def test_failed_runs_show_their_error_under_the_table(tmp_path: Path) -> None:
    write_records(
        tmp_path / "runs",
        make_record("r01", metrics={"accuracy": 0.9}),
        make_record("r02", status="failed",
                    error="ValueError: could not convert string to float: 'x'\nmore detail"),
    )
    lines = invoke(str(tmp_path)).stdout.splitlines()
    assert lines[3:5] == [
        "1  r01  all    finished       0.9  same  1111111",
        "2  r02  all    failed           -  same  1111111",
    ]
    assert lines[-1] == "run 2 failed: ValueError: could not convert string to float: 'x'"


@pytest.fixture
def history(tmp_path: Path) -> Path:
    now = datetime.datetime.now(datetime.timezone.utc)

    def started(days: float) -> str:
        return (now - datetime.timedelta(days=days)).isoformat(timespec="milliseconds")

    write_records(
        tmp_path / "runs",
        *(
            make_record(f"r0{number}", start=started(days), end=started(days),
                        params={"C": c, "model": model},
                        metrics={"accuracy": accuracy, "f1": accuracy - 0.05})
            for number, days, c, model, accuracy in (
                (1, 30, 0.1, "rf", 0.81), (2, 10, 0.2, "rf", 0.92), (3, 2.5, 0.5, "svm", 0.95),
                (4, 1.5, 1.0, "rf", 0.88), (5, 0.2, 2.0, "svm", 0.97),
            )
        ),
    )
    return tmp_path


def labels(*args: str) -> list[str]:
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    return [row["label"] for row in json.loads(result.stdout)["runs"]]


def test_since_a_duration_or_a_date(history: Path) -> None:
    assert labels(str(history), "--json", "--since", "3d") == ["r03", "r04", "r05"]
    assert labels(str(history), "--json", "--since", "12h") == ["r05"]
    assert labels(str(history), "--json", "--since", "2w") == ["r02", "r03", "r04", "r05"]
    since = (datetime.date.today() - datetime.timedelta(days=5)).isoformat()
    assert labels(str(history), "--json", "--since", since) == ["r03", "r04", "r05"]


def test_last_n_and_where(history: Path) -> None:
    assert labels(str(history), "--json", "--last", "2") == ["r04", "r05"]
    assert labels(str(history), "--json", "--where", "accuracy>0.9") == ["r02", "r03", "r05"]
    assert labels(str(history), "--json", "--where", "accuracy >= 0.92", "--where", "C<1") == [
        "r02", "r03"]
    assert labels(str(history), "--json", "--where", "model==svm") == ["r03", "r05"]
    assert labels(str(history), "--json", "--where", "model != 'svm'") == ["r01", "r02", "r04"]
    assert labels(str(history), "--json", "--where", "f1<=0.83") == ["r01", "r04"]
    # filters, then the last N of what is left, then the order
    assert labels(str(history), "--json", "--where", "model==rf", "--last", "2",
                  "--sort", "accuracy") == ["r02", "r04"]


def test_a_filtered_table_says_how_many_runs_it_shows(history: Path) -> None:
    lines = invoke(str(history), "--where", "accuracy>0.9").stdout.splitlines()
    assert lines[1] == "script train.py, notebook train.ipynb, 3 of 5 runs shown"
    lines = invoke(str(history), "--where", "accuracy>0.99").stdout.splitlines()
    assert lines == ["experiment train", "script train.py, notebook train.ipynb, 0 of 5 runs shown",
                     "no runs match the filters"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--where", "accuracy"], ("--where 'accuracy': expected NAME OP VALUE with OP one of <, "
         "<=, >, >=, ==, != (e.g. 'accuracy>0.9')")),
        (["--where", "accuracy=>0.9"], ("--where 'accuracy=>0.9': expected NAME OP VALUE with OP "
         "one of <, <=, >, >=, ==, != (e.g. 'accuracy>0.9')")),
        (["--where", "__import__('os')>1"], ("--where \"__import__('os')>1\": expected NAME OP "
         "VALUE with OP one of <, <=, >, >=, ==, != (e.g. 'accuracy>0.9')")),
        (["--where", "model=='rf"], "--where \"model=='rf\": unterminated string 'rf"),
        (["--where", "recall>0.5"], ("--where recall: no metric or parameter of that name; "
         "metrics: accuracy, f1; parameters: C, model")),
        (["--since", "yesterday"], ("--since 'yesterday': expected a date (2026-12-01, "
         "2026-12-01T09:30) or a duration (3d, 12h, 30m, 2w)")),
        (["--last", "0"], "--last 0: expected a whole number of runs (1 or more)"),
        (["--last", "two"], "--last two: expected a whole number of runs (1 or more)"),
    ],
)
def test_bad_filters_are_one_line_errors(history: Path, args: list[str], message: str) -> None:
    result = invoke(str(history), *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == f"nb2pipe: error: {message}\n"


def test_where_and_since_values() -> None:
    assert parse_where(" accuracy >= 0.9 ").value == 0.9
    assert parse_where('name=="a b"').value == "a b"
    assert parse_where("features==[\"x\", \"y\"]").value == ["x", "y"]
    assert parse_where("max_depth==null").value is None
    now = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.timezone.utc)
    assert parse_since("1w2d", now) == datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.timezone.utc)
    assert parse_since("90m", now) == datetime.datetime(2026, 12, 2, 10, 30, tzinfo=datetime.timezone.utc)
    assert parse_since("2026-12-01T09:30+00:00") == datetime.datetime(
        2026, 12, 1, 9, 30, tzinfo=datetime.timezone.utc)
