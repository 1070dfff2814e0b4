"""A recorded run: ``with Run(params, __file__, notebook):`` and a pipeline's ``Run.step``."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from nb2pipe_runtime import Pipeline, Run, parse_args, record_metrics
from nb2pipe_runtime.outputs import read_saved_step
from nb2pipe_runtime.reading import read_record
from nb2pipe_runtime.record import InputLineage, RunRecord


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working folder of a run, with a data file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("x\n1\n2\n")
    return tmp_path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record(run: Run) -> RunRecord:
    return read_record(Path(run.run_dir) / "run.json")


def _params(argv: Sequence[str] = ()) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="train.py")
    parser.add_argument("--data-path", default="data.csv")
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--features", type=json.loads, default=("a", "b"))
    return parse_args(parser, list(argv))


# -- a flat script -----------------------------------------------------------------------------
def test_a_run_records_parameters_metrics_data_and_artifacts(project: Path) -> None:
    (project / "params.yaml").write_text("scale: 2.0\n")
    (project / "outputs" / "prepare").mkdir(parents=True)
    (project / "outputs" / "prepare" / "x.json").write_text("[1]")
    (project / "runs" / "earlier").mkdir(parents=True)
    (project / "runs" / "earlier" / "run.json").write_text("{}")
    (project / "lookup.txt").write_text("k")
    params = _params(["--config", "params.yaml", "--n", "3"])
    with Run(params, str(project / "train.py"), "train.ipynb") as run:
        Path(params.data_path).read_text()
        Path("params.yaml").read_text()  # the --config file is not data
        Path("outputs/prepare/x.json").read_text()  # nor a saved step output
        Path("runs/earlier/run.json").read_text()  # nor a run record
        Path("result.csv").write_text("y")  # nor what the run writes
        Path("result.csv").read_text()
        (project / "lookup.txt").read_text()  # an absolute path inside the folder
        Path(run.artifact_dir("reports"), "summary.txt").write_text("ok")
        record_metrics(accuracy=0.75, rows=2, label="wine", better=True, loss=float("nan"))
    record = _record(run)
    assert record.status == "finished" and record.error is None and record.traceback is None
    assert record.params == record.effective_params == {
        "data_path": "data.csv", "n": 3, "scale": 2.0, "features": ["a", "b"]
    }
    assert record.metrics == {"accuracy": 0.75, "rows": 2.0}
    assert record.data == {
        "data.csv": _digest(project / "data.csv"), "lookup.txt": _digest(project / "lookup.txt")
    }
    assert record.artifacts == ("reports/summary.txt",)
    assert record.warnings == ("metric 'loss' is nan; not recorded",)
    assert record.argv == ("--config", "params.yaml", "--n", "3")
    assert (record.script, record.notebook) == ("train.py", "train.ipynb")
    assert record.experiment == "train"
    assert record.run_id == Path(run.run_dir).name and Path(run.run_dir).parent == project / "runs"


def test_runs_dir_and_experiment_options(project: Path) -> None:
    with Run(_params(["--runs-dir", "records", "--experiment", "baseline"]), "train.py") as run:
        pass
    assert Path(run.run_dir).parent == project / "records"
    assert _record(run).experiment == "baseline"


def test_a_failed_run_is_recorded_and_its_exception_propagates(project: Path) -> None:
    with pytest.raises(ValueError, match="boom"), Run(_params(), "train.py", "train.ipynb") as run:
        record_metrics(rows=2)
        raise ValueError("boom")
    record = _record(run)
    assert record.status == "failed"
    assert record.error == "ValueError: boom"
    assert record.traceback is not None
    assert 'raise ValueError("boom")' in record.traceback
    assert record.traceback.endswith("ValueError: boom\n")
    assert record.metrics == {"rows": 2.0}  # what it recorded before failing


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [(0, "finished", None), (None, "finished", None), (3, "failed", "3"),
     ("stopped: no data", "failed", "stopped: no data")],
)
def test_system_exit(project: Path, code: Any, status: str, error: str | None) -> None:
    with pytest.raises(SystemExit), Run(_params(), "train.py") as run:
        raise SystemExit(code)
    record = _record(run)
    assert (record.status, record.error, record.traceback) == (status, error, None)


def test_metrics_file(project: Path) -> None:
    with Run(_params(["--metrics-file", "reports/metrics.json"]), "train.py"):
        record_metrics(accuracy=0.5, n=4)
    assert json.loads((project / "reports" / "metrics.json").read_text()) == {
        "accuracy": 0.5, "n": 4.0
    }


def test_metrics_file_is_not_written_for_a_failed_run(project: Path) -> None:
    params = _params(["--metrics-file", "metrics.json"])
    with pytest.raises(RuntimeError), Run(params, "train.py"):
        record_metrics(accuracy=0.5)
        raise RuntimeError
    assert not (project / "metrics.json").exists()


def test_record_metrics_outside_a_run_does_nothing(project: Path) -> None:
    record_metrics(accuracy=0.5)
    assert not (project / "runs").exists()


def test_the_run_is_announced_on_stderr(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Run(_params(), "train.py") as run:
        record_metrics(loss=float("inf"))
    err = capsys.readouterr().err
    assert "nb2pipe: warning: metric 'loss' is inf; not recorded" in err
    assert f"nb2pipe: run {run.run_id} finished; recorded in runs/{run.run_id}/run.json" in err


# -- a pipeline --------------------------------------------------------------------------------
def prepare(*, data_path: str, scale: float, seed: int) -> list[float]:
    """Reads data_path, scale and seed (its keyword-only arguments)."""
    rows = Path(data_path).read_text().split()[1:]
    return [float(row) * scale + seed for row in rows]


def train(xs: list[float], *, n_estimators: int, seed: int) -> dict[str, float]:
    """Reads n_estimators and seed."""
    return {"weight": sum(xs) * n_estimators, "seed": seed}


def evaluate(model: dict[str, float]) -> None:
    """Reads no parameter."""
    record_metrics(weight=model["weight"])


STEPS = ("prepare", "train", "evaluate")


def _pipeline(argv: Sequence[str] = ()) -> RunRecord:
    """The main() of an exported pipeline script."""
    parser = argparse.ArgumentParser(prog="pipe.py")
    parser.add_argument("--data-path", default="data.csv")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--n-estimators", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unused", default="never read")
    params = parse_args(parser, list(argv), steps=STEPS)
    with Pipeline(params, "pipe.py", "pipe.ipynb") as run:
        xs = run.step("prepare", prepare, outputs=("xs",))
        model = run.step("train", train, xs, outputs=("model",))
        run.step("evaluate", evaluate, model)
    return _record(run)


PREPARE_PARAMS = {"data_path": "data.csv", "scale": 1.0, "seed": 0}


def test_a_whole_pipeline_run_saves_the_step_outputs(project: Path) -> None:
    record = _pipeline()
    assert [step.name for step in record.steps] == list(STEPS)
    assert record.params == record.effective_params == {
        "data_path": "data.csv", "scale": 1.0, "n_estimators": 100, "seed": 0,
        "unused": "never read",
    }
    assert record.metrics == {"weight": 300.0}
    assert record.data == {"data.csv": _digest(project / "data.csv")}
    assert record.lineage == ()
    saved = record.outputs["prepare"]["xs"]
    assert (saved.path, saved.format) == ("outputs/prepare/xs.json", "json")
    assert saved.sha256 == _digest(project / "outputs" / "prepare" / "xs.json")
    assert set(record.outputs) == {"prepare", "train"}
    # each step's outputs: what they were computed with, not every parameter of the run
    prepared = read_saved_step(str(project / "outputs" / "prepare"))
    assert (prepared.run_id, prepared.params) == (record.run_id, PREPARE_PARAMS)
    assert prepared.data == record.data
    trained = read_saved_step(str(project / "outputs" / "train"))
    assert trained.params == PREPARE_PARAMS | {"n_estimators": 100}


def test_a_step_run_loads_the_saved_outputs_and_records_their_lineage(project: Path) -> None:
    first = _pipeline()
    record = _pipeline(["--step", "train", "--n-estimators", "5"])
    assert record.step == "train"
    assert [step.name for step in record.steps] == ["train"]
    assert record.lineage == (
        InputLineage(
            name="xs", step="prepare", path="outputs/prepare/xs.json",
            sha256=_digest(project / "outputs" / "prepare" / "xs.json"), run_id=first.run_id,
            params=PREPARE_PARAMS, data={"data.csv": _digest(project / "data.csv")},
        ),
    )
    assert record.params == {"n_estimators": 5, "seed": 0}  # what the train step read
    assert record.effective_params == {"n_estimators": 5, "seed": 0, **PREPARE_PARAMS}
    assert record.mixed_params == () and record.warnings == ()
    assert record.data == {}  # the step read no data file itself
    assert record.metrics == {}  # evaluate did not run
    assert set(record.outputs) == {"train"}


def test_lineage_follows_step_runs(project: Path) -> None:
    _pipeline()
    trained = _pipeline(["--step", "train", "--n-estimators", "5"])
    record = _pipeline(["--step", "evaluate"])
    (entry,) = record.lineage
    assert (entry.name, entry.step, entry.run_id) == ("model", "train", trained.run_id)
    assert entry.params == trained.effective_params
    assert entry.data == {"data.csv": _digest(project / "data.csv")}  # the data of its inputs
    assert record.params == {}
    assert record.effective_params == trained.effective_params
    assert record.metrics == {"weight": 15.0}


def test_a_step_run_with_other_values_than_its_inputs_has_mixed_params(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _pipeline()
    record = _pipeline(["--step", "train", "--seed", "7"])
    assert record.mixed_params == ("seed",)
    assert record.params["seed"] == record.effective_params["seed"] == 7
    assert record.warnings == (
        (
            "parameter 'seed' differs between this run and the runs that produced its inputs: "
            "run the pipeline again to get results for one value"
        ),
    )
    assert "nb2pipe: warning: parameter 'seed' differs" in capsys.readouterr().err


def test_other_values_of_parameters_the_step_does_not_read_are_not_mixed(project: Path) -> None:
    _pipeline(["--scale", "2"])
    record = _pipeline(["--step", "train"])  # scale back to 1.0, but train does not read it
    assert record.mixed_params == ()
    assert record.effective_params["scale"] == 2.0  # what xs was computed with


def test_a_data_file_changed_since_the_producing_run_gives_a_warning(project: Path) -> None:
    _pipeline()
    (project / "data.csv").write_text("x\n5\n")
    record = _pipeline(["--step", "train"])
    assert record.warnings == (
        (
            "input 'xs' of step 'train' was computed from data.csv, which has changed since: "
            "run the earlier steps again"
        ),
    )
    assert record.data == {}  # checking the hash is not reading the data


def test_a_step_run_without_saved_inputs_fails_saying_what_to_run(project: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _pipeline(["--step", "train"])
    message = str(exit_info.value.code)
    assert message.startswith("step 'train' needs 'xs' from step 'prepare', which is not saved in ")
    assert message.endswith("run step 'prepare' (or the whole pipeline) first")
    (run_json,) = (project / "runs").glob("*/run.json")
    record = read_record(run_json)
    assert (record.status, record.error) == ("failed", message)


def test_the_first_step_alone(project: Path) -> None:
    record = _pipeline(["--step", "prepare"])
    assert record.steps[0].name == "prepare" and len(record.steps) == 1
    assert record.params == PREPARE_PARAMS
    assert record.data == {"data.csv": _digest(project / "data.csv")}
    assert not (project / "outputs" / "train").exists()


def test_a_setup_step_runs_with_every_step(project: Path) -> None:
    ran: list[str] = []
    params = parse_args(argparse.ArgumentParser(), [], steps=("setup", "work"))
    with Pipeline(params, "pipe.py") as run:
        run.step("setup", lambda: ran.append("setup"), setup=True)
        run.step("work", lambda: ran.append("work"))
    params = parse_args(argparse.ArgumentParser(), ["--step", "other"], steps=("setup", "other"))
    with Pipeline(params, "pipe.py") as run:
        run.step("setup", lambda: ran.append("setup"), setup=True)
        run.step("work", lambda: ran.append("work"))
    assert ran == ["setup", "work", "setup"]
    assert [step.name for step in _record(run).steps] == ["setup"]


def test_a_step_returning_too_few_values_fails(project: Path) -> None:
    params = parse_args(argparse.ArgumentParser(), [], steps=("split",))
    message = "step 'split' returned 2 values for its 3 outputs a, b, c"
    with pytest.raises(ValueError, match=message), Pipeline(params, "pipe.py") as run:
        run.step("split", lambda: (1, 2), outputs=("a", "b", "c"))


def test_a_fitted_model_output_is_also_an_artifact(project: Path) -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    pytest.importorskip("joblib")

    def fit() -> Any:
        return linear_model.LinearRegression().fit([[0.0], [1.0]], [0.0, 2.0])

    params = parse_args(argparse.ArgumentParser(), [], steps=("fit",))
    with Pipeline(params, "pipe.py") as run:
        run.step("fit", fit, outputs=("model",))
    record = _record(run)
    assert record.outputs["fit"]["model"].model is True
    assert record.artifacts == ("models/model.joblib",)
    assert _digest(Path(run.run_dir) / "artifacts" / "models" / "model.joblib") == (
        record.outputs["fit"]["model"].sha256
    )


def test_modules_the_run_imports_are_code_not_data(project: Path) -> None:
    (project / "helper_module_for_run.py").write_text("VALUE = 1\n")
    (project / "table.csv").write_text("a\n1\n")
    with Run(_params(), "pipe.py") as run:
        import importlib
        import sys

        sys.path.insert(0, str(project))
        try:
            importlib.import_module("helper_module_for_run")
        finally:
            sys.path.remove(str(project))
            sys.modules.pop("helper_module_for_run", None)
        (project / "table.csv").read_text()
    assert list(_record(run).data) == ["table.csv"]


def test_a_parameter_that_is_not_a_number_is_recorded_as_text(project: Path) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    with Run(parse_args(parser, ["--lr", "nan"]), "pipe.py") as run:
        pass
    assert _record(run).params == {"lr": "nan"}


def test_a_run_prints_wide_frames_as_the_notebook_did(tmp_path: Path) -> None:
    """In a kernel pandas wraps a wide frame over lines; a plain script would cut it to the
    terminal's width, so its output would depend on where it runs."""
    pytest.importorskip("pandas")
    script = tmp_path / "wide.py"
    script.write_text(
        "import argparse\n"
        "import pandas as pd\n"
        "from nb2pipe_runtime import Run\n"
        "frame = pd.DataFrame({f'column_{i}': [i * 1000.5] for i in range(12)})\n"
        "with Run(argparse.Namespace(), __file__):\n"
        "    print(frame)\n"
    )
    import pandas as pd

    frame = pd.DataFrame({f"column_{i}": [i * 1000.5] for i in range(12)})
    with pd.option_context("display.max_columns", 20, "display.width", 80):
        expected = repr(frame) + "\n"
    for columns in ("40", "200"):
        env = {**os.environ, "COLUMNS": columns}
        result = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, env=env,
            check=True,
        )
        assert result.stdout == expected
        assert "..." not in result.stdout and "\\" in result.stdout  # wrapped, no column cut



FRAMES_SCRIPT = """
import argparse

import pandas
from nb2pipe_runtime import Pipeline, parse_args


def load(*, data_path):
    return pandas.read_csv(data_path), pandas.Series([1.0, 2.0], name="y")


def double(frame, series):
    return frame * 2, series * 2


def report(frame):
    print("total", int(frame["x"].sum()))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-path", default="data.csv")
    params = parse_args(parser, argv, steps=("load", "double", "report"))
    with Pipeline(params, __file__, "frames.ipynb") as run:
        frame, series = run.step("load", load, outputs=("frame", "series"))
        frame2, _series2 = run.step("double", double, frame, series, outputs=("frame2", "series2"))
        run.step("report", report, frame2)


if __name__ == "__main__":
    main()
"""


def test_without_pyarrow_a_run_warns_once_that_frames_are_pickled(project: Path) -> None:
    """Two steps save frames with pickle when no parquet engine is installed: one warning,
    printed and recorded; a later --step run loads the pickled frames back."""
    pytest.importorskip("pandas")
    from nb2pipe_runtime.outputs import NO_PARQUET_ENGINE

    shim = project / "shim"
    for module in ("pyarrow", "fastparquet"):  # as if neither were installed
        (shim / module).mkdir(parents=True)
        (shim / module / "__init__.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{module}'\")\n"
        )
    (project / "frames.py").write_text(FRAMES_SCRIPT)
    path = os.pathsep.join([str(shim), *sys.path])

    def run(*args: str) -> tuple[RunRecord, str]:
        done = subprocess.run(
            [sys.executable, "frames.py", *args], cwd=project, capture_output=True, text=True,
            timeout=120, check=False, env={**os.environ, "PYTHONPATH": path},
        )
        assert done.returncode == 0, done.stderr
        newest = max((project / "runs").glob("*/run.json"), key=lambda p: p.stat().st_mtime_ns)
        return read_record(newest), done.stdout + done.stderr

    record, output = run()
    assert record.warnings == (NO_PARQUET_ENGINE,)
    assert output.count(NO_PARQUET_ENGINE) == 1 and "total 6" in output
    assert {saved.format for step in record.outputs.values() for saved in step.values()} == {
        "pickle"
    }
    again, output = run("--step", "report")
    assert [entry.name for entry in again.lineage] == ["frame2"] and "total 6" in output
