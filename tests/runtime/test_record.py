"""The run record: the typed, versioned contract of ``runs/<run id>/run.json``."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
from nb2pipe_runtime import record
from nb2pipe_runtime.record import (
    DataSource,
    DvcContext,
    DvcSource,
    GitState,
    InputLineage,
    MlflowRun,
    Objective,
    RunRecord,
    SavedOutput,
    StepTiming,
)
from nb2pipe_runtime.reading import RunRecordError, read_record, record_from_json

from tests.conftest import ROOT

SCHEMA_PATH = ROOT / "docs" / "run-record.schema.json"
DIGEST = "ab" * 32
OTHER_DIGEST = "cd" * 32


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def _full_record() -> RunRecord:
    """A record with every field set, nested types included."""
    return RunRecord(
        run_id="20261202-061721-e1c694",
        experiment="train",
        script="train.py",
        notebook="train.ipynb",
        status="failed",
        start="2026-12-02T06:17:21.651+00:00",
        end="2026-12-02T06:17:22.762+00:00",
        seconds=1.111,
        python="3.11.7",
        params={"n": 5, "features": ["a", "b"], "depth": None},
        effective_params={"n": 5, "features": ["a", "b"], "depth": None, "scale": 0.5},
        mixed_params=("scale",),
        metrics={"accuracy": 0.9, "n_test": 54.0},
        data={"data/wine.csv": DIGEST},
        lineage=(
            InputLineage(
                name="X", step="prepare", path="outputs/prepare/X.parquet", sha256=OTHER_DIGEST,
                run_id="20261202-061700-aaaaaa", params={"scale": 0.4},
                data={"data/wine.csv": DIGEST},
            ),
        ),
        outputs={
            "train": {
                "model": SavedOutput(
                    file="model.joblib", format="joblib",
                    type="sklearn.ensemble.RandomForestClassifier",
                    path="outputs/train/model.joblib", sha256=DIGEST, model=True,
                ),
                "y": SavedOutput(
                    file="y.parquet", format="parquet", type="pandas.core.series.Series",
                    path="outputs/train/y.parquet", sha256=OTHER_DIGEST, series_name="label",
                ),
            }
        },
        artifacts=("figures/train-cell3-1.png", "models/model.joblib"),
        error="ValueError: boom",
        traceback="Traceback (most recent call last):\nValueError: boom\n",
        step="train",
        steps=(StepTiming("train", 0.25),),
        argv=("--step", "train", "--n", "5"),
        git=GitState(commit="0" * 40, dirty=True, changed=("train.py",)),
        packages={"numpy": "2.4.6"},
        dvc=DvcContext(experiment="exp-1", stage=None, baseline="abc"),
        mlflow=MlflowRun(run_id="r1", experiment_id="0", tracking_uri="sqlite:///mlflow.db"),
        objective=Objective("accuracy", "maximize", "metrics"),
        mlflow_error="logging to MLflow at sqlite:///other.db failed: no such table",
        warnings=("parameter 'scale' differs",),
    )


def _minimal_json() -> dict[str, Any]:
    return RunRecord(
        run_id="r", experiment="e", script="s.py", notebook=None, status="finished",
        start="2026-12-02T06:17:21.651+00:00", end="2026-12-02T06:17:21.651+00:00",
        seconds=0.0, python="3.11.7",
    ).to_json()


# -- JSON ------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [_full_record, lambda: record_from_json(_minimal_json())])
def test_json_round_trip(make: Any, tmp_path: Path) -> None:
    original = make()
    assert record_from_json(original.to_json()) == original
    original.write(tmp_path / "run.json")
    assert read_record(tmp_path / "run.json") == original
    assert json.loads((tmp_path / "run.json").read_text())["format_version"] == 2
    assert os.listdir(tmp_path) == ["run.json"]  # written atomically: no temporary left


def test_to_json_is_plain_json() -> None:
    data = _full_record().to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["steps"] == [{"name": "train", "seconds": 0.25}]
    assert data["format"] == "nb2pipe-run"


def _written(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "run.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: "{not json", "not JSON"),
        (lambda d: [d], "not a run record (not a JSON object)"),
        (lambda d: {k: v for k, v in d.items() if k != "format"}, "no nb2pipe-run format"),
        (lambda d: d | {"seconds": "fast"}, "record.seconds: expected a number"),
        (lambda d: d | {"status": "running"}, "record.status: expected one of finished, failed"),
        (lambda d: d | {"metrics": {"acc": "high"}}, "record.metrics.acc: expected a number"),
        (
            lambda d: d | {"git": {"commit": "x", "dirty": "yes"}},
            "record.git.dirty: expected true/false",
        ),
        (lambda d: d | {"steps": [{"name": "a"}]}, "record.steps[0]: missing field 'seconds'"),
        (lambda d: d | {"argv": "--n 5"}, "record.argv: expected a list"),
        (lambda d: d | {"colour": "red"}, "record: unknown field 'colour'"),
        (lambda d: {k: v for k, v in d.items() if k != "run_id"}, "record: missing field 'run_id'"),
        (lambda d: d | {"format_version": 3}, "written in run-record format 3"),
        (lambda d: d | {"format_version": 0}, "no nb2pipe-run format"),
        (lambda d: d | {"format_version": "2"}, "no nb2pipe-run format"),
    ],
)
def test_read_errors_are_one_line_naming_the_file(
    tmp_path: Path, change: Any, message: str
) -> None:
    path = _written(tmp_path, change(_minimal_json()))
    with pytest.raises(RunRecordError) as error:
        read_record(path)
    text = str(error.value)
    assert text.startswith(f"{path}: ") and message in text
    assert "\n" not in text


def test_read_error_of_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RunRecordError, match="cannot read"):
        read_record(tmp_path / "run.json")


# -- records of nb2pipe 0.1 (no format_version) ----------------------------------------------
def _legacy() -> dict[str, Any]:
    """A record as the scripts nb2pipe 0.1 exported wrote it."""
    return {
        "run_id": "20250101-120000-abcdef",
        "script": "pipeline.py",
        "notebook": "notebooks/pipeline.ipynb",
        "status": "finished",
        "error": None,
        "traceback": None,
        "step": "train",
        "steps": [{"name": "train", "seconds": 1.5}],
        "argv": ["--step", "train"],
        "params": {"n": 3, "path": "data/x.csv"},
        "metrics": {"accuracy": 0.75, "n": 3},
        "data": {"data/x.csv": DIGEST},
        "inputs": {"outputs/prepare/X.parquet": OTHER_DIGEST},
        "outputs": {
            "train": {
                "model": {
                    "type": "sklearn.linear_model._logistic.LogisticRegression",
                    "file": "model.joblib",
                    "format": "joblib", "path": "outputs/train/model.joblib", "sha256": DIGEST,
                    "model": True,
                },
                "y": {
                    "type": "pandas.core.series.Series", "file": "y.parquet", "format": "parquet",
                    "series_name": "label", "path": "outputs/train/y.parquet", "sha256": DIGEST,
                },
            }
        },
        "artifacts": ["models/model.joblib"],
        "git": {"commit": "f" * 40, "dirty": False, "changed": []},
        "python": "3.10.12",
        "packages": {"scikit-learn": "1.4.0"},
        "start": "2025-01-01T12:00:00.000+00:00",
        "end": "2025-01-01T12:00:01.500+00:00",
        "seconds": 1.5,
        "dvc": {"experiment": None, "stage": "train", "baseline": None},
        "mlflow": {"run_id": "m1", "experiment_id": "1", "tracking_uri": "sqlite:///m.db"},
        "warnings": [],
    }


def test_legacy_record_upgrades(tmp_path: Path) -> None:
    upgraded = read_record(_written(tmp_path, _legacy()))
    assert (upgraded.format, upgraded.format_version) == ("nb2pipe-run", record.FORMAT_VERSION)
    assert upgraded.experiment == "pipeline"  # the notebook's stem
    assert upgraded.params == upgraded.effective_params == {"n": 3, "path": "data/x.csv"}
    assert upgraded.mixed_params == ()
    assert upgraded.steps == (StepTiming("train", 1.5),)
    assert upgraded.lineage == (
        InputLineage(
            name="X", step="prepare", path="outputs/prepare/X.parquet", sha256=OTHER_DIGEST
        ),
    )
    assert upgraded.outputs["train"]["model"].model is True
    assert upgraded.outputs["train"]["y"].series_name == "label"
    assert upgraded.metrics == {"accuracy": 0.75, "n": 3.0}
    assert upgraded.git == GitState(commit="f" * 40, dirty=False)
    assert upgraded.dvc == DvcContext(stage="train")
    assert upgraded.mlflow == MlflowRun("m1", "1", "sqlite:///m.db")
    assert upgraded.argv == ("--step", "train")
    jsonschema.validate(upgraded.to_json(), _schema())


def _version_1() -> dict[str, Any]:
    """A record as the scripts nb2pipe 0.2 exported wrote it (format version 1), its
    ``changed`` list cut as that version cut it."""
    return {
        "run_id": "20260101-120000-abcdef", "experiment": "train", "script": "train.py",
        "notebook": "train.ipynb", "status": "finished",
        "start": "2026-01-01T12:00:00.000+00:00", "end": "2026-01-01T12:00:01.000+00:00",
        "seconds": 1.0, "python": "3.11.7", "params": {"n": 3}, "effective_params": {"n": 3},
        "mixed_params": [], "metrics": {"accuracy": 0.5}, "data": {"data/x.csv": DIGEST},
        "lineage": [], "outputs": {}, "artifacts": [], "error": None, "traceback": None,
        "step": None, "steps": [], "argv": ["--n", "3"],
        "git": {"commit": "e" * 40, "dirty": True, "changed": ["vc.lock", "train.py"]},
        "packages": {"numpy": "2.4.6"}, "dvc": None,
        "mlflow": {"run_id": "m1", "experiment_id": "1", "tracking_uri": "sqlite:///m.db"},
        "warnings": [], "format": "nb2pipe-run", "format_version": 1,
    }


def test_every_earlier_format_reads_as_the_current_one(tmp_path: Path) -> None:
    """Records of version 0 (nb2pipe 0.1) and 1 (nb2pipe 0.2) read as the current version,
    with what they said kept and the fields added since at their defaults."""
    version_1 = read_record(_written(tmp_path, _version_1()))
    assert version_1.format_version == record.FORMAT_VERSION
    assert version_1.git == GitState(commit="e" * 40, dirty=True, changed=("vc.lock", "train.py"))
    assert version_1.metrics == {"accuracy": 0.5} and version_1.params == {"n": 3}
    assert version_1.mlflow == MlflowRun("m1", "1", "sqlite:///m.db")
    assert (version_1.objective, version_1.mlflow_error) == (None, None)  # added in version 2
    assert version_1.sources == ()
    jsonschema.validate(version_1.to_json(), _schema())
    version_0 = read_record(_written(tmp_path, _legacy()))
    assert version_0.format_version == record.FORMAT_VERSION
    # what a reader writes back is the current format, and reads back the same
    assert record_from_json(version_1.to_json()) == version_1


SOURCES = [
    {"url": "s3://team-data/wine.csv", "scheme": "s3", "size": 11534, "sha256": DIGEST,
     "version_id": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", "etag": '"6f5902ac237024bdd0c176cb93063dc4"',
     "last_modified": "2026-12-01T10:00:00+00:00", "pinned": None, "dvc": None,
     "parameter": "data_path"},
    {"url": "dvc://git@example.com/registry.git#wine.csv", "scheme": "dvc", "size": 11534,
     "sha256": None, "version_id": None, "etag": None, "last_modified": None, "pinned": "v1",
     "dvc": {"repo": "git@example.com/registry.git", "path": "wine.csv", "rev": "v1",
             "commit": "e" * 40, "md5": "6f5902ac237024bdd0c176cb93063dc4"},
     "parameter": "data_rev"},
    {"url": "http://127.0.0.1:8765/wine.csv", "scheme": "http", "size": None, "sha256": None,
     "version_id": None, "etag": '"abc"', "last_modified": None, "pinned": None, "dvc": None,
     "parameter": None},
]


def test_a_version_2_record_without_sources_reads_and_one_with_them_round_trips(
    tmp_path: Path,
) -> None:
    """``sources`` was added to version 2 with a default: version 2 records written before it
    read with none; records with sources read back the same and match the schema."""
    before = _version_1() | {"format_version": 2}
    assert read_record(_written(tmp_path, before)).sources == ()
    with_sources = read_record(_written(tmp_path, before | {"sources": SOURCES}))
    s3, dvc, web = with_sources.sources
    assert s3.identity == DIGEST and s3.can_pin
    assert dvc.dvc == DvcSource("git@example.com/registry.git", "wine.csv", "v1", "e" * 40,
                                "6f5902ac237024bdd0c176cb93063dc4")
    assert dvc.identity == "md5:6f5902ac237024bdd0c176cb93063dc4" and dvc.can_pin
    assert web.identity is None and web.checks == 'etag:"abc"' and not web.can_pin
    assert with_sources.data_versions() == {
        "data/x.csv": DIGEST, s3.url: DIGEST, dvc.url: "md5:6f5902ac237024bdd0c176cb93063dc4",
        web.url: 'etag:"abc"',
    }
    assert with_sources.to_json()["sources"] == SOURCES
    jsonschema.validate(with_sources.to_json(), _schema())
    broken = SOURCES[0] | {"size": "11534"}
    with pytest.raises(RunRecordError, match=r"record.sources\[0\].size: expected an integer"):
        read_record(_written(tmp_path, before | {"sources": [broken]}))


def test_legacy_record_without_notebook_takes_the_scripts_name() -> None:
    legacy = _legacy() | {"notebook": None}
    assert record_from_json(legacy).experiment == "pipeline"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"inputs": ["outputs/prepare/X.parquet"]}, "record.inputs: expected an object"),
        ({"outputs": {"train": ["model"]}}, "record.outputs.train: expected an object"),
        ({"steps": {"train": 1.5}}, "record.steps: expected a list"),
        ({"steps": ["train"]}, "record.steps[0]: expected an object"),
        ({"params": ["n"]}, "record.params: expected an object"),
        ({"status": "running"}, "record.status: expected one of finished, failed"),
    ],
)
def test_malformed_legacy_record_is_a_read_error(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = _written(tmp_path, _legacy() | change)
    with pytest.raises(RunRecordError) as error:
        read_record(path)
    assert str(error.value) == f"{path}: {message}"


# -- the JSON Schema in docs/ ----------------------------------------------------------------
DATACLASSES = [
    RunRecord, GitState, StepTiming, SavedOutput, InputLineage, DvcContext, MlflowRun, Objective,
    DataSource, DvcSource,
]


def _definition(name: str) -> str:
    """The schema's name for a record dataclass: ``SavedOutput`` -> ``saved_output``."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _refs(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        found = {schema["$ref"].rsplit("/", 1)[1]} if "$ref" in schema else set()
        return found.union(*(_refs(value) for value in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_refs(item) for item in schema))
    return set()


@pytest.mark.parametrize("cls", DATACLASSES, ids=lambda cls: cls.__name__)
def test_schema_has_exactly_the_dataclass_fields(cls: type) -> None:
    schema = _schema()
    part = schema if cls is RunRecord else schema["$defs"][_definition(cls.__name__)]
    names = [f.name for f in dataclasses.fields(cls)]
    assert list(part["properties"]) == names
    assert part["required"] == names  # to_json writes every field
    assert part["additionalProperties"] is False
    # a field holding a record dataclass refers to that dataclass's definition
    classes = {c.__name__ for c in DATACLASSES}
    for f in dataclasses.fields(cls):
        nested = {_definition(n) for n in re.findall(r"\w+", str(f.type)) if n in classes}
        assert nested == _refs(part["properties"][f.name]) - {
            "json_value", "sha256", "status", "output_format"
        }, f.name


def test_every_schema_definition_belongs_to_the_record() -> None:
    defined = set(_schema()["$defs"])
    assert defined == {_definition(cls.__name__) for cls in DATACLASSES[1:]} | {
        "json_value", "sha256", "status", "output_format"
    }
    assert defined == _refs(_schema())


def test_schema_enums_and_constants_match_the_record() -> None:
    schema = _schema()
    assert schema["$defs"]["status"]["enum"] == list(get_args(record.Status))
    assert schema["$defs"]["output_format"]["enum"] == list(get_args(record.OutputFormat))
    objective = schema["$defs"]["objective"]["properties"]
    assert objective["goal"]["enum"] == list(get_args(record.Goal))
    assert objective["source"]["enum"] == list(get_args(record.ObjectiveSource))
    assert schema["properties"]["format"]["const"] == record.FORMAT
    assert schema["properties"]["format_version"]["const"] == record.FORMAT_VERSION
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"format_version": 3}, "format_version"),
        ({"format_version": 1}, "format_version"),
        ({"format": "other"}, "format"),
        ({"status": "running"}, "status"),
        ({"colour": "red"}, None),
        ({"metrics": {"acc": "high"}}, "metrics"),
        ({"git": {"commit": "x", "dirty": False}}, "git"),
        ({"objective": {"metric": "loss", "goal": "lower", "source": "metrics"}}, "objective"),
        ({"data": {"data.csv": "not a digest"}}, "data"),
    ],
)
def test_schema_rejects_what_the_reader_rejects(change: dict[str, Any], field: str | None) -> None:
    with pytest.raises(jsonschema.ValidationError) as error:
        jsonschema.validate(_minimal_json() | change, _schema())
    if field is not None:
        assert field in list(error.value.absolute_path) or field in error.value.message


def test_schema_validates_a_full_record() -> None:
    jsonschema.validate(_full_record().to_json(), _schema())
    jsonschema.validate(_minimal_json(), _schema())


SCRIPT = '''
import argparse
import sys

from nb2pipe_runtime import Run, parse_args, record_metrics, save_figures


def main(argv=None):
    parser = argparse.ArgumentParser(description="a small exported script")
    parser.add_argument("--data-path", default="data/rows.csv", help="the CSV")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the values")
    params = parse_args(parser, argv)
    with Run(params, __file__, "small.ipynb"):
        with open(params.data_path) as file:
            rows = [line.split(",") for line in file.read().split()[1:]]
        total = sum(float(value) for _, value in rows) * params.scale
        try:
            import matplotlib
        except ImportError:
            pass
        else:
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            plt.plot([float(value) for _, value in rows])
            save_figures("small-cell2")
        with open("summary.txt", "w") as file:
            file.write(str(total))
        record_metrics(total=total, rows=len(rows), label="not a number")


if __name__ == "__main__":
    main()
'''


def test_schema_validates_the_record_a_real_script_writes(tmp_path: Path) -> None:
    (tmp_path / "small.py").write_text(textwrap.dedent(SCRIPT))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("name,value\na,1\nb,2\n")
    done = subprocess.run(
        [sys.executable, "small.py", "--scale", "2"], cwd=tmp_path, capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    (run_json,) = (tmp_path / "runs").glob("*/run.json")
    data = json.loads(run_json.read_text())
    jsonschema.validate(data, _schema())
    read = read_record(run_json)
    assert read.status == "finished" and read.run_id == run_json.parent.name
    assert read.params == {"data_path": "data/rows.csv", "scale": 2.0}
    assert read.metrics == {"rows": 2.0, "total": 6.0}
    # the first metric the metrics cell assigned, though the record lists them sorted
    assert read.objective == Objective("total", "maximize", "metrics")
    assert list(read.data) == ["data/rows.csv"]  # not summary.txt: the run wrote it
    assert read.argv == ("--scale", "2")
    assert (read.script, read.notebook, read.experiment) == ("small.py", "small.ipynb", "small")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert read.artifacts == ()
    else:
        assert read.artifacts == ("figures/small-cell2-1.png",)
        assert (run_json.parent / "artifacts" / "figures" / "small-cell2-1.png").is_file()
    assert f"run {read.run_id} finished" in done.stderr


@pytest.mark.parametrize(
    ("metric", "goal"),
    [
        ("accuracy", "maximize"), ("f1", "maximize"), ("r2", "maximize"), ("auc", "maximize"),
        ("loss", "minimize"), ("val_loss", "minimize"), ("rmse", "minimize"),
        ("mean_squared_error", "minimize"), ("trainLoss", "minimize"), ("fit_time", "minimize"),
        ("neg_mean_squared_error", "maximize"), ("error_rate", "minimize"),
        ("lossless_ratio", "maximize"),
    ],
)
def test_which_way_a_metric_is_better_by_its_name(metric: str, goal: str) -> None:
    assert Objective.goal_of(metric) == goal
