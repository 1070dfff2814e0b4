"""Effective parameters along a ``--step`` run's lineage, and the ``!`` marks for results no
single set of values describes: a parameter mixed along the lineage, an input computed from
another version of a data file. Real runs of ``scripts/diabetes_steps.py``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from nb2pipe_runtime.record import DvcContext, InputLineage

from .conftest import RunScript, invoke, make_record, write_records


def table_rows(project: Path, *args: str) -> list[list[str]]:
    """The table's rows as cells, the run id and the best run's mark (``>``) left out."""
    lines = [
        line[3:] if line.startswith((">  ", "   ")) else line
        for line in invoke(str(project), *args).stdout.splitlines()
    ]
    end = next(i for i, line in enumerate(lines) if i > 2 and not line[:1].isdigit())
    return [[cell for i, cell in enumerate(line.split()) if i != 1] for line in lines[3:end]]


def runs_json(project: Path) -> list[dict[str, Any]]:
    return list(json.loads(invoke(str(project), "--json").stdout)["runs"])


@pytest.mark.slow
def test_a_step_run_shows_the_parameters_its_inputs_were_computed_with(
    project: Path, run: RunScript
) -> None:
    """The issue's scenario: train with alpha 10, then evaluate; then a real alpha-1 run."""
    run("diabetes_steps.py", "--step", "load")
    run("diabetes_steps.py", "--step", "train", "--alpha", "10")
    run("diabetes_steps.py", "--step", "evaluate")
    run("diabetes_steps.py", "--step", "evaluate", "--alpha", "5")  # evaluate reads no alpha
    run("diabetes_steps.py")
    rows = table_rows(project)
    header = invoke(str(project)).stdout.splitlines()[2].split()
    assert header == ["#", "run", "steps", "status", "test_size", "alpha", "r2", "data", "commit"]
    r2_alpha_10, r2_alpha_1 = rows[2][5], rows[4][5]
    assert rows == [
        ["1", "load", "finished", "-", "-", "-", "same", "-"],
        ["2", "train", "finished", "0.2", "10", "-", "same", "-"],
        ["3", "evaluate", "finished", "0.2", "10", r2_alpha_10, "same", "-"],
        ["4", "evaluate", "finished", "0.2", "10", r2_alpha_10, "same", "-"],
        ["5", "all", "finished", "0.2", "1", r2_alpha_1, "same", "-"],
    ]
    assert r2_alpha_10 != r2_alpha_1 and "!" not in invoke(str(project)).stdout

    found = runs_json(project)
    evaluate = found[2]
    assert evaluate["own_params"] == {"test_size": 0.2}
    assert evaluate["params"] == {"test_size": 0.2, "alpha": 10.0, "data_path": "data/diabetes.csv"}
    assert found[3]["params"]["alpha"] == 10.0 and "alpha" not in found[3]["own_params"]
    assert found[0]["params"] == {"data_path": "data/diabetes.csv"}  # load reads only that
    assert [row["mixed_params"] for row in found] == [[]] * 5
    assert found[4]["params"]["alpha"] == 1.0


@pytest.mark.slow
def test_a_parameter_that_differs_along_the_lineage_is_marked(
    project: Path, run: RunScript
) -> None:
    run("diabetes_steps.py", "--step", "load")
    run("diabetes_steps.py", "--step", "train", "--test-size", "0.3")
    run("diabetes_steps.py", "--step", "evaluate")  # evaluate reads test_size too: 0.2 here
    rows = table_rows(project)
    assert rows[2][:4] == ["3", "evaluate", "finished", "0.2|0.3!"]
    assert rows[2][5].endswith("!")  # its r2 belongs to no single test_size
    lines = invoke(str(project)).stdout.splitlines()
    assert lines[-1] == (
        "! run 3: test_size differs along its lineage: 0.2 (run 3), 0.3 (run 2); no single set "
        "of values describes its results: run the pipeline again"
    )
    [mixed] = runs_json(project)[2]["mixed_params"]
    train_run = runs_json(project)[1]["run_ids"][0]
    assert mixed["name"] == "test_size"
    assert [(v["value"], len(v["runs"])) for v in mixed["values"]] == [(0.2, 1), (0.3, 1)]
    assert mixed["values"][1]["runs"] == [train_run]


@pytest.mark.slow
def test_an_input_computed_from_an_older_data_file_is_marked(
    project: Path, run: RunScript
) -> None:
    run("diabetes_steps.py")
    data = project / "data" / "diabetes.csv"
    data.write_text(data.read_text().replace("\n59,", "\n60,", 1))
    run("diabetes_steps.py", "--step", "load")  # reads the new version
    run("diabetes_steps.py", "--step", "evaluate")  # the model was trained on the old one
    found = runs_json(project)
    old, new = found[0]["data"]["data/diabetes.csv"], found[1]["data"]["data/diabetes.csv"]
    assert old != new and found[2]["data"] == {"data/diabetes.csv": old}
    rows = table_rows(project)
    assert rows[2][:2] == ["3", "evaluate"] and rows[2][-2:] == ["diabetes.csv@1!", "-"]
    assert rows[2][-3].endswith("!")
    lines = invoke(str(project)).stdout.splitlines()
    assert lines[-2:] == [
        f"data differs: data/diabetes.csv: @1 = {old[:12]} (runs 1, 3); @2 = {new[:12]} (runs 2)",
        (f"! run 3: inputs X_test, model, y_test were computed (step train, run 1) from "
        f"data/diabetes.csv {old[:12]}, but run 2, the latest to read it, read {new[:12]}; no "
        "single set of values describes its results: run the pipeline again"),
    ]
    stale = found[2]["stale_inputs"]
    assert {entry["input"] for entry in stale} == {"model", "X_test", "y_test"}
    assert {(e["computed_from"], e["newer"], e["by_this_run"]) for e in stale} == {(old, new, False)}


def test_an_input_computed_from_another_version_than_the_run_read(tmp_path: Path) -> None:
    lineage = InputLineage(name="df", step="load", path="outputs/load/df.parquet", sha256="f" * 64,
                           run_id="r01", params={"C": 0.5}, data={"data/x.csv": "a" * 64})
    write_records(
        tmp_path / "runs",
        make_record("r01", step="load"),
        make_record("r02", step="train", data={"data/x.csv": "b" * 64},
                    lineage=(lineage,), metrics={"accuracy": 0.9}),
    )
    lines = invoke(str(tmp_path)).stdout.splitlines()
    assert lines[2:5] == [
        "#  run  steps  status    accuracy  data      commit",
        "1  r01  load   finished         -  x.csv@1   1111111",
        "2  r02  train  finished      0.9!  x.csv@2!  1111111",
    ]
    assert lines[-1] == (
        f"! run 2: input df was computed (step load, run 1) from data/x.csv {'a' * 12}, but this "
        f"run read {'b' * 12}; no single set of values describes its results: run the pipeline again"
    )


def test_the_stages_of_a_dvc_experiment_are_one_row_with_their_effective_params(
    tmp_path: Path,
) -> None:
    def stage(run_id: str, step: str, params: dict[str, Any], upstream: str | None,
              upstream_params: dict[str, Any], **fields: Any) -> Any:
        lineage = () if upstream is None else (InputLineage(
            name="x", step="prev", path="outputs/prev/x.npy", sha256="e" * 64, run_id=upstream,
            params=upstream_params, data={"data/x.csv": "a" * 64}),)
        return make_record(run_id, step=step, params=params,
                           effective_params={**upstream_params, **params}, lineage=lineage,
                           data={"data/x.csv": "a" * 64} if upstream is None else {},
                           dvc=DvcContext(experiment=fields.pop("exp"), stage=step), **fields)

    write_records(
        tmp_path / "runs",
        stage("r01", "load", {"path": "data/x.csv"}, None, {}, exp="calm-owl"),
        stage("r02", "train", {"alpha": 1.0}, "r01", {"path": "data/x.csv"}, exp="calm-owl"),
        stage("r03", "evaluate", {}, "r02", {"path": "data/x.csv", "alpha": 1.0}, exp="calm-owl",
              metrics={"r2": 0.47}),
        # a second experiment restored load from DVC's cache: its first record is train
        stage("r04", "train", {"alpha": 10.0}, "r01", {"path": "data/x.csv"}, exp="keen-elk"),
        stage("r05", "evaluate", {}, "r04", {"path": "data/x.csv", "alpha": 10.0}, exp="keen-elk",
              metrics={"r2": 0.46}),
    )
    lines = invoke(str(tmp_path)).stdout.splitlines()
    assert lines[2:] == [
        "   #  run       steps                status    alpha    r2  data  commit",
        ">  1  calm-owl  load+train+evaluate  finished      1  0.47  same  1111111",
        "   2  keen-elk  train+evaluate       finished     10  0.46  same  1111111",
        "> best: run 1, r2 0.47 (highest; the first metric of the metrics cell)",
        "same in every run: path=data/x.csv",
    ]


def test_dvc_experiments_without_records_join_the_pipeline_experiment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--dvc`` adds what ``dvc exp show`` knows (a stand-in ``dvc`` prints its JSON)."""
    shown = [{"rev": "workspace", "name": None, "data": {}, "experiments": None}, {
        "rev": "a" * 40, "name": "main", "data": {},
        "experiments": [
            {"name": name, "executor": {"state": state}, "revs": [{
                "rev": rev * 40, "name": name, "data": {
                    "timestamp": "2026-01-01T00:01:00",
                    "params": {"params.yaml": {"data": {"alpha": alpha}}},
                    "metrics": {"metrics/evaluate.json": {"data": {"r2": r2, "note": "x"}}},
                },
            }]}
            for name, state, rev, alpha, r2 in (("calm-owl", "success", "b", 1.0, 0.47),
                                                 ("lazy-cat", "failed", "c", 3.0, 0.45))
        ],
    }]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dvc").write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(shown)}\nEOF\n")
    (bin_dir / "dvc").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  load:\n    cmd: python pipeline.py --step load\n"
        "  train:\n    cmd: python pipeline.py --step train\n"
    )
    write_records(tmp_path / "runs", make_record(
        "r01", experiment="pipeline", step="train", params={"alpha": 1.0},
        metrics={"r2": 0.47}, dvc=DvcContext(experiment="calm-owl", stage="train"),
    ))
    lines = invoke(str(tmp_path), "--dvc").stdout.splitlines()
    assert lines[:1] + lines[2:] == [
        "experiment pipeline",
        "#  run       steps  status    alpha    r2  data  commit",
        "1  calm-owl  train  finished      1  0.47  same  1111111",
        f"2  lazy-cat  all    failed        3  0.45  -     {'c' * 7}",
        f"code differs: 1111111 (runs 1); {'c' * 7} (runs 2)",
    ]
