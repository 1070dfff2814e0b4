"""``nb2pipe runs``: the table of recorded runs, sorting, JSON, differing data and code,
records it cannot read and records of nb2pipe 0.1."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from nb2pipe_runtime.record import DvcContext, GitState, Objective

from .conftest import RunScript, invoke, make_record, write_records


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    runs = write_records(
        tmp_path / "runs",
        make_record("r01", metrics={"accuracy": 0.9}),
        make_record("r02", params={"C": 0.1, "seed": 7}, metrics={"accuracy": 0.95}),
        make_record("r03", params={"C": 1.0, "seed": 7}, metrics={"accuracy": 0.8},
                    data={"data/x.csv": "b" * 64}, git=GitState(commit="2" * 40, dirty=True)),
    )
    # the stages of one DVC experiment are one row
    for run_id, step, metrics in (("r04", "train", {}), ("r05", "evaluate", {"accuracy": 0.97})):
        write_records(runs, make_record(
            run_id, step=step, params={"C": 0.01, "seed": 7}, metrics=metrics,
            dvc=DvcContext(experiment="lucky-fox", stage=step),
        ))
    return runs


def test_table_shows_varying_params_metrics_and_differences(runs: Path) -> None:
    result = invoke(str(runs.parent))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:2] == ["experiment train", "script train.py, notebook train.ipynb, 4 runs"]
    assert lines[2].split() == ["#", "run", "steps", "status", "C", "accuracy", "data", "commit"]
    assert lines[3].split() == ["1", "r01", "all", "finished", "0.5", "0.9", "x.csv@1", "1111111"]
    assert lines[5].split() == ["3", "r03", "all", "finished", "1", "0.8", "x.csv@2", "2222222*"]
    # the best run by the primary metric, in a list oldest first
    assert lines[6].split() == [">", "4", "lucky-fox", "train+evaluate", "finished", "0.01",
                                "0.97", "x.csv@1", "1111111"]
    assert lines[7:] == [
        "> best: run 4, accuracy 0.97 (highest; the first metric of the metrics cell)",
        "same in every run: seed=7",
        f"data differs: data/x.csv: @1 = {'a' * 12} (runs 1, 2, 4); @2 = {'b' * 12} (runs 3)",
        "code differs: 1111111 (runs 1, 2, 4); 2222222 (runs 3)",
        "* uncommitted changes to tracked files in runs 3",
    ]


def test_sort_by_metric(runs: Path) -> None:
    def labels(*args: str) -> list[str]:
        lines = invoke(str(runs), *args).stdout.splitlines()
        return [line[3:].split()[1] for line in lines[3:7]] + [
            line for line in lines if line.startswith("> best")
        ]

    assert labels("--sort", "accuracy") == [
        "lucky-fox", "r02", "r01", "r03",
        "> best: run 1, accuracy 0.97 (highest; as --sort asks)",
    ]
    # --sort wins: with --ascending the lowest is the best
    assert labels("--sort", "accuracy", "--ascending") == [
        "r03", "r01", "r02", "lucky-fox",
        "> best: run 1, accuracy 0.8 (lowest; as --sort --ascending asks)",
    ]
    # sorted by a parameter: the best is still the primary metric's
    assert labels("--sort", "C") == [
        "r03", "r01", "r02", "lucky-fox",
        "> best: run 4, accuracy 0.97 (highest; the first metric of the metrics cell)",
    ]


def _objective_records(tmp_path: Path, *objectives: Objective | None) -> Path:
    metrics = ({"accuracy": 0.9, "loss": 0.30}, {"accuracy": 0.8, "loss": 0.20},
               {"accuracy": 0.85, "loss": 0.25})
    return write_records(tmp_path / "runs", *(
        make_record(f"r0{number}", params={"C": number, "seed": 7}, metrics=metrics[number - 1],
                    objective=objective)
        for number, objective in enumerate(objectives, 1)
    )).parent


def _best(folder: Path, *args: str) -> tuple[list[int], str]:
    lines = invoke(str(folder), *args).stdout.splitlines()
    marked = [int(line.split()[1]) for line in lines[3:] if line.startswith(">  ")]
    note = next(line for line in lines if line.startswith("> best: "))
    return marked, note


def test_the_best_run_is_the_one_the_metrics_cell_names_first(tmp_path: Path) -> None:
    """``loss`` is the first metric the notebook assigns (the record's metrics are sorted):
    lower is better for a loss."""
    metrics_cell = Objective("loss", "minimize", "metrics")
    folder = _objective_records(tmp_path, metrics_cell, metrics_cell, metrics_cell)
    assert _best(folder) == ([2], ("> best: run 2, loss 0.2 (lowest; the first metric of the "
                                  "metrics cell)"))
    data = json.loads(invoke(str(folder), "--json").stdout)
    assert data["experiments"][0]["primary_metric"] == {
        "metric": "loss", "goal": "minimize", "source": "metrics"
    }
    assert data["experiments"][0]["best"] == 2
    assert [run["best"] for run in data["runs"]] == [False, True, False]


def test_a_sweeps_metric_wins_over_the_metrics_cells(tmp_path: Path) -> None:
    folder = _objective_records(
        tmp_path, Objective("accuracy", "maximize", "sweep"),
        Objective("loss", "minimize", "metrics"), Objective("accuracy", "maximize", "sweep"),
    )
    assert _best(folder) == ([1], ("> best: run 1, accuracy 0.9 (highest; the metric its sweep "
                                  "ranked by)"))
    # --sort still wins
    assert _best(folder, "--sort", "loss", "--ascending")[1] == (
        "> best: run 1, loss 0.2 (lowest; as --sort --ascending asks)"
    )


def test_records_without_an_objective_take_the_first_metric_by_its_name(tmp_path: Path) -> None:
    """Records written before format 2: the first metric (here accuracy), higher is better."""
    folder = _objective_records(tmp_path, None, None, None)
    assert _best(folder) == ([1], ("> best: run 1, accuracy 0.9 (highest; the first metric of "
                                  "the metrics cell)"))


def test_failed_runs_and_runs_without_the_metric_are_never_the_best(tmp_path: Path) -> None:
    objective = Objective("accuracy", "maximize", "metrics")
    write_records(
        tmp_path / "runs",
        make_record("r01", metrics={"accuracy": 0.99}, status="failed", error="boom",
                    objective=objective),
        make_record("r02", metrics={"f1": 0.5}, objective=Objective("f1", "maximize", "metrics")),
        make_record("r03", metrics={"accuracy": 0.7}, objective=objective),
        make_record("r04", metrics={"accuracy": 0.7}, objective=objective),  # equal: the older
    )
    assert _best(tmp_path) == ([3], ("> best: run 3, accuracy 0.7 (highest; the first metric of "
                                    "the metrics cell)"))
    # filtered: the best of the runs shown; one run alone is not marked
    shown = json.loads(invoke(str(tmp_path), "--since", "2026-01-01T00:00:02+00:00", "--json").stdout)
    assert [(run["label"], run["best"]) for run in shown["runs"]] == [
        ("r02", False), ("r03", True), ("r04", False)
    ]
    shown = json.loads(invoke(str(tmp_path), "--last", "1", "--json").stdout)
    assert [(run["label"], run["best"]) for run in shown["runs"]] == [("r04", False)]
    assert shown["experiments"][0]["best"] is None


def test_an_unknown_sort_name_is_an_error_listing_the_known_ones(runs: Path) -> None:
    result = invoke(str(runs), "--sort", "nosuch")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        "nb2pipe: error: --sort nosuch: no metric or parameter of that name; metrics: accuracy; "
        "parameters: C, seed\n"
    )


def test_json(runs: Path) -> None:
    data = json.loads(invoke(str(runs.parent), "--json").stdout)
    assert [row["label"] for row in data["runs"]] == ["r01", "r02", "r03", "lucky-fox"]
    assert [row["experiment"] for row in data["runs"]] == ["train"] * 4
    assert data["runs"][3]["run_ids"] == ["r04", "r05"]
    assert data["runs"][3]["steps"] == ["train", "evaluate"]
    assert data["runs"][3]["dvc_experiment"] == "lucky-fox"
    [experiment] = data["experiments"]
    assert experiment["name"] == "train" and experiment["scripts"] == ["train.py"]
    assert [run["number"] for run in experiment["runs"]] == [1, 2, 3, 4]
    assert experiment["data_versions"] == {"data/x.csv": ["a" * 64, "b" * 64]}
    assert experiment["commits"] == ["1" * 40, "2" * 40]
    assert data["unreadable"] == {}


def test_no_records_is_an_error(tmp_path: Path) -> None:
    result = invoke(str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == f"nb2pipe: error: {tmp_path}: no run records (runs/<run id>/run.json) here\n"


def test_unreadable_records_are_listed_with_their_reason(runs: Path) -> None:
    (runs / "r09").mkdir()
    (runs / "r09" / "run.json").write_text("{not json")
    (runs / "r10").mkdir()
    future = make_record("r10").to_json() | {"format_version": 99}
    (runs / "r10" / "run.json").write_text(json.dumps(future))
    (runs / "r11").mkdir()
    (runs / "r11" / "run.json").write_text(json.dumps(make_record("r11").to_json() | {"seconds": "x"}))
    result = invoke(str(runs))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-3:] == [
        (f"unreadable record {runs / 'r09' / 'run.json'}: not JSON: Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1)"),
        (f"unreadable record {runs / 'r10' / 'run.json'}: written in run-record format 99; this "
        "nb2pipe-runtime reads up to 2 (upgrade nb2pipe)"),
        f"unreadable record {runs / 'r11' / 'run.json'}: record.seconds: expected a number",
    ]
    assert "4 runs" in result.stdout.splitlines()[1]  # the readable ones are all listed


def test_a_record_of_nb2pipe_0_1_is_read(tmp_path: Path) -> None:
    """Records written before the format had a version (the 0.1 exporter's shape) upgrade."""
    legacy: dict[str, Any] = {
        "run_id": "20260101-000000-abcdef", "script": "old_script.py", "notebook": "old.ipynb",
        "status": "failed", "error": "ValueError: bad value", "traceback": "Traceback ...",
        "step": None, "steps": [{"name": "load", "seconds": 0.1}], "argv": ["--C", "2"],
        "params": {"C": 2.0}, "metrics": {"accuracy": 0.5}, "data": {"data/x.csv": "c" * 64},
        "inputs": {}, "outputs": {}, "artifacts": [],
        "git": {"commit": "3" * 40, "dirty": False, "changed": []}, "python": "3.11.7",
        "packages": {}, "start": "2026-01-01T00:00:00.000+00:00",
        "end": "2026-01-01T00:00:01.000+00:00", "seconds": 1.0, "dvc": None, "mlflow": None,
        "warnings": [],
    }
    (tmp_path / "runs" / legacy["run_id"]).mkdir(parents=True)
    (tmp_path / "runs" / legacy["run_id"] / "run.json").write_text(json.dumps(legacy))
    result = invoke(str(tmp_path))
    assert result.stdout.splitlines() == [
        "experiment old",
        "script old_script.py, notebook old.ipynb, 1 run",
        "#  run                     steps  status  accuracy  data  commit",
        "1  20260101-000000-abcdef  all    failed       0.5  same  3333333",
        "same in every run: C=2",
        "run 1 failed: ValueError: bad value",
    ]


@pytest.mark.slow
def test_changing_one_byte_of_the_data_changes_its_recorded_hash(
    project: Path, run: RunScript
) -> None:
    data = project / "data" / "wine.csv"
    run("train_classifier.py", "--n-estimators", "5")
    content = bytearray(data.read_bytes())
    position = content.index(b"\n") + 1  # the first digit of the first data row
    content[position] = ord("9") if content[position] != ord("9") else ord("8")
    data.write_bytes(bytes(content))
    run("train_classifier.py", "--n-estimators", "5")
    comparison = json.loads(invoke(str(project), "--json").stdout)
    first, second = (row["data"]["data/wine.csv"] for row in comparison["runs"])
    assert second == hashlib.sha256(bytes(content)).hexdigest() != first
    assert comparison["experiments"][0]["data_versions"] == {"data/wine.csv": [first, second]}
    table = invoke(str(project)).stdout
    assert (f"data differs: data/wine.csv: @1 = {first[:12]} (runs 1); @2 = {second[:12]} (runs 2)"
            in table.splitlines())
