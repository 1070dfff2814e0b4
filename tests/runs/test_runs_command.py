"""``nb2pipe runs``: the table of recorded runs, sorting, JSON, differing data and code."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from nb2pipe.cli import cli
from nb2pipe.export import export_notebook

from ..steps.helpers import run_script


def write_record(runs: Path, run_id: str, **fields: Any) -> None:
    record = {
        "run_id": run_id, "status": "finished", "step": None, "start": f"2026-01-01T00:00:{run_id[-2:]}",
        "params": {"C": 0.5, "seed": 7}, "metrics": {}, "data": {"data/x.csv": "a" * 64},
        "git": {"commit": "1" * 40, "dirty": False}, "dvc": None, **fields,
    }
    (runs / run_id).mkdir(parents=True)
    (runs / run_id / "run.json").write_text(json.dumps(record))


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, ["runs", *args], catch_exceptions=False)


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    write_record(runs, "r01", metrics={"accuracy": 0.9})
    write_record(runs, "r02", params={"C": 0.1, "seed": 7}, metrics={"accuracy": 0.95})
    write_record(runs, "r03", params={"C": 1.0, "seed": 7}, metrics={"accuracy": 0.8},
                 data={"data/x.csv": "b" * 64}, git={"commit": "2" * 40, "dirty": True})
    # the stages of one DVC experiment are one row
    for run_id, step, metrics in (("r04", "train", {}), ("r05", "evaluate", {"accuracy": 0.97})):
        write_record(runs, run_id, step=step, params={"C": 0.01, "seed": 7}, metrics=metrics,
                     dvc={"experiment": "lucky-fox", "stage": step})
    return runs


def test_table_shows_varying_params_metrics_and_differences(runs: Path) -> None:
    result = invoke(str(runs.parent))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["#", "run", "steps", "status", "C", "accuracy", "data", "commit"]
    assert lines[1].split() == ["1", "r01", "all", "finished", "0.5", "0.9", "x.csv@1", "1111111"]
    assert lines[3].split() == ["3", "r03", "all", "finished", "1", "0.8", "x.csv@2", "2222222*"]
    assert lines[4].split() == ["4", "lucky-fox", "train+evaluate", "finished", "0.01", "0.97",
                                "x.csv@1", "1111111"]
    assert "same in every run: seed=7" in result.output
    assert f"data differs: data/x.csv: @1 = {'a' * 12} (runs 1, 2, 4); @2 = {'b' * 12} (runs 3)" in result.output
    assert "code differs: 1111111 (runs 1, 2, 4); 2222222 (runs 3)" in result.output


def test_sort_by_metric(runs: Path) -> None:
    labels = [line.split()[1] for line in invoke(str(runs), "--sort", "accuracy").output.splitlines()[1:5]]
    assert labels == ["lucky-fox", "r02", "r01", "r03"]
    labels = [line.split()[1] for line in invoke(str(runs), "--sort", "accuracy", "--ascending").output.splitlines()[1:5]]
    assert labels == ["r03", "r01", "r02", "lucky-fox"]


def test_json(runs: Path) -> None:
    data = json.loads(invoke(str(runs.parent), "--json").output)
    assert [row["label"] for row in data["runs"]] == ["r01", "r02", "r03", "lucky-fox"]
    assert data["runs"][3]["run_ids"] == ["r04", "r05"] and data["runs"][3]["steps"] == ["train", "evaluate"]
    assert data["data_versions"] == {"data/x.csv": ["a" * 64, "b" * 64]}
    assert data["commits"] == ["1" * 40, "2" * 40]


def test_no_records_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["runs", str(tmp_path)])
    assert result.exit_code == 2 and "no run records" in result.output


@pytest.mark.slow
def test_changing_one_byte_of_the_data_changes_its_recorded_hash(samples_copy: Path) -> None:
    script = export_notebook(samples_copy / "pipeline_steps.ipynb").script_path
    data = samples_copy / "data" / "wine.csv"
    assert run_script(script, "--step", "load").returncode == 0
    content = bytearray(data.read_bytes())
    position = content.index(b"\n") + 1  # the first digit of the first data row
    content[position] = ord("9") if content[position] != ord("9") else ord("8")
    data.write_bytes(bytes(content))
    assert run_script(script, "--step", "load").returncode == 0
    comparison = json.loads(invoke(str(samples_copy), "--json").output)
    first, second = (row["data"]["data/wine.csv"] for row in comparison["runs"])
    assert second == hashlib.sha256(bytes(content)).hexdigest() != first
    assert comparison["data_versions"] == {"data/wine.csv": [first, second]}
    table = invoke(str(samples_copy)).output
    assert f"data differs: data/wine.csv: @1 = {first[:12]} (runs 1); @2 = {second[:12]} (runs 2)" in table
