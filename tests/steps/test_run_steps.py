"""How a pipeline script runs its steps through nb2pipe-runtime's ``Run``, tested in-process."""

from __future__ import annotations

import argparse
import json
import pathlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from nb2pipe_runtime import Pipeline, Run, record_metrics
from nb2pipe_runtime.outputs import _save_one, load_output
from nb2pipe_runtime.record import SavedOutput


class Opaque:
    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.value == self.value


@pytest.mark.parametrize(
    ("value", "fmt", "warns"),
    [
        (pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=[5, 7]), "parquet", False),
        (pd.Series([1.5, 2.5], name="target", index=[3, 4]), "parquet", False),
        (pd.Series([1, 2]), "parquet", False),  # unnamed series keep name None
        # parquet cannot hold mixed columns: pickled, with the warning the docs promise
        (pd.DataFrame({"mixed": [1, "x"]}), "pickle", True),
        (np.arange(6).reshape(2, 3), "npy", False),
        (np.array([{"a": 1}], dtype=object), "pickle", False),
        (["a", 1, 2.5, None, {"k": [True]}], "json", False),
        ((1, 2), "pickle", True),  # a tuple would come back as a list from JSON
        (Opaque(3), "pickle", True),
    ],
    ids=["frame", "series", "unnamed-series", "mixed-column", "array", "object-array", "json",
         "tuple", "object"],
)
def test_outputs_round_trip_by_type(tmp_path: Path, value: object, fmt: str, warns: bool) -> None:
    entry, warning = _save_one(str(tmp_path), "value", value)
    assert entry.format == fmt
    assert (warning is not None) == warns
    loaded = load_output(str(tmp_path), SavedOutput(**json.loads(json.dumps(entry.__dict__))))
    if isinstance(value, (pd.DataFrame, pd.Series)):
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(loaded, value)
        else:
            pd.testing.assert_series_equal(loaded, value)
    elif isinstance(value, np.ndarray):
        assert loaded.dtype == value.dtype and (loaded == value).all()
    else:
        assert type(loaded) is type(value) and loaded == value


def test_estimators_are_saved_with_joblib(tmp_path: Path) -> None:
    model = LogisticRegression(C=0.3).fit([[0.0], [1.0]], [0, 1])
    entry, warning = _save_one(str(tmp_path), "model", model)
    assert (entry.format, entry.model, warning) == ("joblib", True, None)
    loaded = load_output(str(tmp_path), entry)
    assert loaded.get_params() == model.get_params() and (loaded.coef_ == model.coef_).all()


def _params(**values: object) -> argparse.Namespace:
    defaults = {"config": None, "dump_config": False, "step": None, "outputs_dir": "outputs",
                "runs_dir": "runs", "experiment": None, "tracking_uri": None,
                "metrics_file": None}
    return argparse.Namespace(**{**defaults, **values})


def test_a_run_records_params_metrics_data_and_outputs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "data.csv").write_text("a\n1\n")
    (tmp_path / "config.yaml").write_text("limit: 2\n")
    params = _params(limit=2, path=pathlib.Path("data.csv"), config=tmp_path / "config.yaml",
                     metrics_file="metrics/m.json")

    def load(*, path: pathlib.Path) -> list[str]:
        open("config.yaml").close()  # the --config file is not data
        Path("scratch.txt").write_text("written")  # files the run writes are not data
        open("scratch.txt").close()
        return open(path).read().split()

    def score(rows: list[str]) -> None:
        record_metrics(n=len(rows), label="text", flag=True, ratio=np.float64(0.5))

    with Pipeline(params, "pipe.py", "pipe.ipynb") as run:
        rows = run.step("load", load, outputs=("rows",))
        run.step("score", score, rows)
    record = json.loads((tmp_path / "runs" / run.run_id / "run.json").read_text())
    assert record["status"] == "finished" and record["error"] is None
    assert record["params"] == {"limit": 2, "path": "data.csv"}
    assert record["metrics"] == {"n": 2.0, "ratio": 0.5}  # numbers only, not bool or str
    assert list(record["data"]) == ["data.csv"]
    assert record["outputs"]["load"]["rows"]["format"] == "json"
    assert [step["name"] for step in record["steps"]] == ["load", "score"]
    assert json.loads((tmp_path / "metrics" / "m.json").read_text()) == {"n": 2.0, "ratio": 0.5}
    assert record["python"] and "numpy" in record["packages"]


def test_a_single_step_loads_its_inputs_and_records_them(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)

    def make() -> pd.DataFrame:
        return pd.DataFrame({"x": [1, 2, 3]})

    def total(frame: pd.DataFrame) -> int:
        return int(frame["x"].sum())

    with Pipeline(_params(), "pipe.py") as run:
        frame = run.step("make", make, outputs=("frame",))
        run.step("total", total, frame, outputs=("value",))
    with Pipeline(_params(step="total"), "pipe.py") as single:
        frame = single.step("make", make, outputs=("frame",))
        assert repr(frame) == "<output 'frame' of step 'make', saved on disk>"
        assert single.step("total", total, frame, outputs=("value",)) == 6
    record = json.loads(Path(single.run_dir, "run.json").read_text())
    assert record["step"] == "total"
    [lineage] = record["lineage"]  # recorded though pyarrow read it in C
    assert (lineage["path"], lineage["step"], lineage["run_id"]) == (
        "outputs/make/frame.parquet", "make", run.run_id
    )
    assert record["data"] == {}


def test_a_parameter_naming_a_file_the_run_never_opened_is_not_data(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "data.csv").write_text("a\n1\n")
    params = _params(path=pathlib.Path("data.csv"), name="data.csv")

    def idle(*, path: pathlib.Path, name: str) -> int:
        return 1  # names the file in its parameters but never opens it

    with Pipeline(params, "pipe.py") as run:
        run.step("idle", idle, outputs=("value",))
    record = json.loads(Path(run.run_dir, "run.json").read_text())
    assert record["params"]["path"] == "data.csv" and record["data"] == {}


def test_a_failed_run_is_recorded_with_its_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)

    def broken() -> None:
        raise ZeroDivisionError("division by zero")

    with pytest.raises(ZeroDivisionError), Pipeline(_params(), "pipe.py") as run:
        run.step("broken", broken)
    record = json.loads(Path(run.run_dir, "run.json").read_text())
    assert (record["status"], record["error"]) == ("failed", "ZeroDivisionError: division by zero")
    assert "raise ZeroDivisionError" in record["traceback"]


def test_a_single_step_without_saved_inputs_says_what_to_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    expected = "step 'use' needs 'x' from step 'make'.*run step 'make'"
    with pytest.raises(SystemExit, match=expected), Pipeline(_params(step="use"), "pipe.py") as run:
        x = run.step("make", lambda: 1, outputs=("x",))
        run.step("use", lambda x: x, x)
    record = json.loads(Path(run.run_dir, "run.json").read_text())
    assert record["status"] == "failed" and "needs 'x'" in record["error"]


def test_queued_dvc_experiments_record_into_the_project(tmp_path: Path, monkeypatch) -> None:
    """`dvc queue start` runs in a temporary copy of the project that it deletes afterwards."""
    project = tmp_path / "project"
    (project / ".dvc").mkdir(parents=True)
    workspace = project / ".dvc" / "tmp" / "exps" / "tmp123"
    (workspace / ".dvc").mkdir(parents=True)
    (workspace / "sub").mkdir()
    monkeypatch.chdir(workspace / "sub")
    monkeypatch.setenv("DVC_ROOT", str(project))
    monkeypatch.setenv("DVC_EXP_NAME", "fuzzy-cat")
    with Run(_params(), "pipe.py") as run:
        pass
    assert Path(run.run_dir).parent == project / "sub" / "runs"
    record = json.loads(Path(run.run_dir, "run.json").read_text())
    assert record["dvc"]["experiment"] == "fuzzy-cat"


def test_an_output_that_cannot_be_saved_does_not_stop_the_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)

    def make():  # noqa: ANN202
        return lambda: 1, 2

    with Pipeline(_params(), "pipe.py") as run:
        function, number = run.step("make", make, outputs=("function", "number"))
    assert function() == 1 and number == 2
    record = json.loads(Path(run.run_dir, "run.json").read_text())
    assert record["status"] == "finished"
    assert list(record["outputs"]["make"]) == ["number"]
    assert "output 'function' could not be saved" in record["warnings"][0]
    assert sorted(p.name for p in (tmp_path / "outputs" / "make").iterdir()) == ["manifest.json", "number.json"]
