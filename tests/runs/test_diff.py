"""``nb2pipe runs --diff A B``: what differs between two runs, named by number, id or prefix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nb2pipe_runtime.record import GitState

from .conftest import RunScript, invoke, make_record, write_records

START = "2026-01-01T00:00:0{}.000+00:00"


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    write_records(
        tmp_path / "runs",
        make_record("20260101-000001-aaaaaa", start=START.format(1), params={"C": 0.5, "seed": 7, "kernel": "rbf"},
                    metrics={"accuracy": 0.9, "f1": 0.85},
                    data={"data/x.csv": "a" * 64, "data/labels.csv": "c" * 64},
                    packages={"numpy": "2.4.6", "pandas": "3.1.1", "scipy": "1.16.0"}),
        make_record("20260101-000002-bbbbbb", start=START.format(2), params={"C": 0.1, "seed": 7},
                    metrics={"accuracy": 0.93, "f1": 0.85, "recall": 0.8},
                    data={"data/x.csv": "b" * 64, "data/labels.csv": "c" * 64},
                    git=GitState(commit="2" * 40, dirty=True), python="3.12.1",
                    packages={"numpy": "2.4.7", "pandas": "3.1.1", "polars": "1.30.0"}),
        make_record("20260101-000002-bbbccc", start=START.format(3), status="failed", error="KeyError: 'label'",
                    metrics={}),
    )
    return tmp_path


def test_diff_shows_parameters_data_code_packages_metrics_and_status(runs: Path) -> None:
    result = invoke(str(runs), "--diff", "1", "20260101-000002-bbbb")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "--- run 1: 20260101-000001-aaaaaa (experiment train, 2026-01-01T00:00:01)",
        "+++ run 2: 20260101-000002-bbbbbb (experiment train, 2026-01-01T00:00:02)",
        "parameters:",
        "  C       0.5  ->  0.1",
        "  kernel  rbf  ->  (none)",
        "data:",
        f"  data/x.csv  {'a' * 12}  ->  {'b' * 12}",
        "code:",
        f"  commit               {'1' * 40}  ->  {'2' * 40}",
        "  uncommitted changes  no                                        ->  yes",
        "packages:",
        "  python  3.11.7  ->  3.12.1",
        "  numpy   2.4.6   ->  2.4.7",
        "metrics:",
        "  accuracy  0.9     ->  0.93  (+0.03, +3.3%)",
        "  recall    (none)  ->  0.8",
        # polars and scipy: each imported by one run only, not a change of versions
        ("same: 1 parameter, 1 data file, 1 package (and 2 imported by one run only), 1 metric, "
        "status finished"),
    ]


def test_diff_of_a_failed_run_shows_its_error(runs: Path) -> None:
    lines = invoke(str(runs), "--diff", "1", "3").stdout.splitlines()
    assert lines[lines.index("status:"):] == [
        "status:",
        "  status  finished  ->  failed",
        "  error   (none)    ->  KeyError: 'label'",
        ("same: 2 parameters, 1 data file, commit, python 3.11.7, 1 package (and 2 imported by "
        "one run only)"),
    ]


def test_diff_json(runs: Path) -> None:
    data = json.loads(invoke(str(runs), "--diff", "20260101-000001", "3", "--json").stdout)
    assert [run["label"] for run in data["runs"]] == ["20260101-000001-aaaaaa", "20260101-000002-bbbccc"]
    assert data["differences"]["metrics"] == [
        {"name": "accuracy", "before": "0.9", "after": "(none)"},
        {"name": "f1", "before": "0.85", "after": "(none)"},
    ]
    assert data["differences"]["status"][0] == {"name": "status", "before": "finished", "after": "failed"}


@pytest.mark.parametrize(
    ("a", "message"),
    [
        ("20260101-000002-bbb", "--diff 20260101-000002-bbb: several runs match"),
        ("20260101-000002-bb", "--diff 20260101-000002-bb: several runs match"),
        ("20260101-00000", ("--diff 20260101-00000: several runs match (20260101-000001-aaaaaa, "
         "20260101-000002-bbbbbb, 20260101-000002-bbbccc); give more of the id")),
        ("zzz", "--diff zzz: no run with that number (1-3) or with that in its id"),
        ("4", "--diff 4: no run with that number (1-3) or with that in its id"),
        ("bbb", "--diff bbb: several runs match (20260101-000002-bbbbbb, 20260101-000002-bbbccc)"),
        ("-0000", "--diff -0000: several runs match"),
    ],
)
def test_a_run_that_is_not_one_row_is_an_error(runs: Path, a: str, message: str) -> None:
    result = invoke(str(runs), "--diff", a, "1")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"nb2pipe: error: {message}") and result.stderr.count("\n") == 1


def test_prefixes_that_name_one_run(runs: Path) -> None:
    lines = invoke(str(runs), "--diff", "20260101-000002-bbbb", "20260101-000002-bbbc").stdout.splitlines()
    assert lines[:2] == [
        "--- run 2: 20260101-000002-bbbbbb (experiment train, 2026-01-01T00:00:02)",
        "+++ run 3: 20260101-000002-bbbccc (experiment train, 2026-01-01T00:00:03)",
    ]


@pytest.mark.parametrize(
    ("a", "b", "numbers"),
    [
        ("aaaaaa", "bccc", (1, 3)),  # the distinctive end of an id
        ("0001-aa", "bbbbb", (1, 2)),  # any part only one id holds
        ("1", "bbccc", (1, 3)),  # a table number and a fragment
        ("01-aaa", "02-bbbb", (1, 2)),  # from the middle of the id
    ],
)
def test_any_fragment_that_names_one_run(runs: Path, a: str, b: str, numbers: tuple[int, int]) -> None:
    result = invoke(str(runs), "--diff", a, b)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == [
        f"--- run {numbers[0]}", f"+++ run {numbers[1]}"
    ]


def test_packages_one_run_imported_for_its_options_are_not_differences(tmp_path: Path) -> None:
    """A --config run imports PyYAML, a --step run only its step's packages: no line for
    them; a version that changed still shows."""
    write_records(
        tmp_path / "runs",
        make_record("20260101-000001-aaaaaa", start=START.format(1),
                    packages={"numpy": "2.4.6", "scikit-learn": "1.7.0", "matplotlib": "3.10.0"}),
        make_record("20260101-000002-bbbbbb", start=START.format(2), argv=("--config", "p.yaml"),
                    packages={"numpy": "2.4.6", "scikit-learn": "1.7.1", "PyYAML": "6.0.4"}),
    )
    lines = invoke(str(tmp_path), "--diff", "aaaaaa", "bbbbbb").stdout.splitlines()
    assert lines[2:] == [
        "packages:",
        "  scikit-learn  1.7.0  ->  1.7.1",
        ("same: 2 parameters, 1 data file, commit, python 3.11.7, 1 package (and 2 imported by "
        "one run only), status finished"),
    ]
    data = json.loads(invoke(str(tmp_path), "--diff", "1", "2", "--json").stdout)
    assert data["differences"]["packages"] == [
        {"name": "scikit-learn", "before": "1.7.0", "after": "1.7.1"}
    ]


@pytest.mark.slow
def test_diff_of_two_real_runs(project: Path, run: RunScript) -> None:
    run("train_classifier.py", "--n-estimators", "5")
    data = project / "data" / "wine.csv"
    data.write_text(data.read_text().replace("\n", "\n\n", 1).replace("\n\n", "\n", 1) + "\n")
    run("train_classifier.py", "--n-estimators", "40", "--max-depth", "None")
    found = json.loads(invoke(str(project), "--json").stdout)["runs"]
    lines = invoke(str(project), "--diff", "1", "2").stdout.splitlines()
    before, after = (row["data"]["data/wine.csv"][:12] for row in found)
    assert lines[2:6] == [
        "parameters:",
        "  n_estimators  5  ->  40",
        "  max_depth     3  ->  -",
        "data:",
    ]
    assert lines[6] == f"  data/wine.csv  {before}  ->  {after}"
    metrics = lines[lines.index("metrics:") + 1:]
    assert [line.split()[0] for line in metrics[:-1]] == [
        name for name in ("accuracy", "f1")
        if found[0]["metrics"][name] != found[1]["metrics"][name]
    ]
    assert metrics[-1].startswith("same: 4 parameters")
