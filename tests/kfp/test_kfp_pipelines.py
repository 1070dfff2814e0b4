"""``nb2pipe export --kfp``: the pipeline file compiles with KFP v2 and runs in ``kfp.local``.

KFP gets a venv of its own (``.venv-kfp`` in the checkout, built once and kept), with the
notebooks' packages and nb2pipe-runtime from this checkout: what a component's image holds.
``kfp.local``'s SubprocessRunner runs the components in that venv, with no cluster, Docker or
network. It does not cache, so the caching settings are checked in the compiled YAML.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nb2pipe.export import ExportOptions, check_notebook, export_notebook, render_notebook
from nb2pipe.export.api import CheckStatus
from nb2pipe.model import load_notebook

from ..conftest import ROOT, SAMPLES, notebook_json
from ..engine_venvs import NOTEBOOK_PACKAGES, engine_python, run

pytestmark = [pytest.mark.kfp]
#: kfp.local's SubprocessRunner, ParallelFor with a Collected fan-in: checked on 2.17.3
KFP_REQUIREMENTS = ("kfp==2.17.*", *NOTEBOOK_PACKAGES)
GOLDEN = ROOT / "tests" / "golden" / "kfp"


@pytest.fixture(scope="session")
def kfp_python() -> Path:
    return engine_python("kfp", KFP_REQUIREMENTS)


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The samples exported with --kfp, and the environment a user's shell gives them."""
    folder = tmp_path / "project"
    shutil.copytree(SAMPLES, folder)
    for name in ("pipeline_steps.ipynb", "train_classifier.ipynb"):
        export_notebook(folder / name, ExportOptions(kfp=True))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI")}
    env.update(MPLBACKEND="Agg")
    return folder, env


def _records(folder: Path) -> list[dict]:
    found = [json.loads(p.read_text()) for p in (folder / "runs").glob("*/run.json")]
    return sorted(found, key=lambda record: record["start"])


def _kfp(python: Path, folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run([python, folder / "pipeline_steps_kfp.py", *args], folder, env)


# -- the file ------------------------------------------------------------------------------------
@pytest.mark.parametrize("stem", ["pipeline_steps", "train_classifier"])
def test_the_pipeline_file_matches_its_golden_copy(stem: str, request: pytest.FixtureRequest) -> None:
    """The whole rendered file, reviewed as text (``pytest --update-golden`` rewrites it)."""
    notebook = load_notebook(SAMPLES / f"{stem}.ipynb")
    result = render_notebook(notebook, ExportOptions(kfp=True), SAMPLES / f"{stem}.py")
    [(path, text)] = [(p, t) for p, t in result.files if p.name == f"{stem}_kfp.py"]
    golden = GOLDEN / path.name
    if request.config.getoption("--update-golden"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")
    compile(text, path.name, "exec")
    # byte-stable: the same notebook renders the same file
    again = render_notebook(load_notebook(SAMPLES / f"{stem}.ipynb"), ExportOptions(kfp=True),
                            SAMPLES / f"{stem}.py")
    assert dict(again.files)[path] == text


def test_check_covers_the_pipeline_file_without_the_flag(project: tuple[Path, dict[str, str]]) -> None:
    folder, _ = project
    notebook = folder / "pipeline_steps.ipynb"
    pipeline = folder / "pipeline_steps_kfp.py"
    text = pipeline.read_text()
    # a pre-commit hook passes no --kfp
    assert check_notebook(notebook) is CheckStatus.IN_SYNC
    pipeline.write_text(text.replace('C: float = 0.5', 'C: float = 0.7'))
    assert check_notebook(notebook) is CheckStatus.STALE
    # the image and wheels an export named are part of the file, and of its check
    export_notebook(notebook, ExportOptions(kfp=True, kfp_image="registry.example/wine:1",
                                            kfp_packages=("/wheels/nb2pipe_runtime.whl",)))
    assert 'IMAGE = "registry.example/wine:1"' in pipeline.read_text()
    assert check_notebook(notebook) is CheckStatus.IN_SYNC
    assert check_notebook(notebook, ExportOptions(kfp=True)) is CheckStatus.STALE


def test_the_cli_writes_the_pipeline_file(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "pipeline_steps.ipynb", tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "runtime")])}
    done = run([sys.executable, "-m", "nb2pipe", "export", "--kfp-image", "img:2",
                tmp_path / "pipeline_steps.ipynb"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert "also wrote pipeline_steps_kfp.py" in done.stdout
    assert 'IMAGE = "img:2"' in (tmp_path / "pipeline_steps_kfp.py").read_text()


# -- compiled for a cluster ----------------------------------------------------------------------
def _tasks(spec: dict) -> dict[str, dict]:
    """Every task of a compiled pipeline, in its root DAG and in the DAGs of its loops."""
    tasks = dict(spec["root"]["dag"]["tasks"])
    for component in spec["components"].values():
        tasks.update(component.get("dag", {}).get("tasks", {}))
    return tasks


@pytest.mark.slow
def test_the_compiled_pipelines_cache_every_task_and_carry_the_code(
    kfp_python: Path, project: tuple[Path, dict[str, str]]
) -> None:
    folder, env = project
    done = _kfp(kfp_python, folder, env)
    assert done.returncode == 0, done.stderr[-3000:]
    steps = yaml.safe_load((folder / "pipeline_steps_pipeline.yaml").read_text())
    grid = yaml.safe_load((folder / "pipeline_steps_grid_pipeline.yaml").read_text())
    # kfp.local never caches: the cluster's caching is what the YAML says, on for every task
    step_tasks = _tasks(steps)
    assert set(step_tasks) == {"load-step", "features-step", "train-step", "evaluate-step"}
    grid_tasks = _tasks(grid)
    assert set(grid_tasks) >= {"expand-grid", "run-point", "best-point"}
    for task in [*step_tasks.values(), *grid_tasks.values()]:
        if "componentRef" in task and "for-loop" not in task["componentRef"]["name"]:
            assert task["cachingOptions"] == {"enableCache": True}, task
    # step outputs are Dataset artifacts from the producing tasks; metrics a Metrics artifact
    evaluate = step_tasks["evaluate-step"]["inputs"]["artifacts"]
    assert {a["taskOutputArtifact"]["producerTask"] for a in evaluate.values()} == {
        "features-step", "train-step"}
    evaluate_outputs = steps["components"]["comp-evaluate-step"]["outputDefinitions"]["artifacts"]
    assert evaluate_outputs["metrics"]["artifactType"]["schemaTitle"] == "system.Metrics"
    train_outputs = steps["components"]["comp-train-step"]["outputDefinitions"]["artifacts"]
    assert train_outputs["outputs"]["artifactType"]["schemaTitle"] == "system.Dataset"
    # each component reads only its step's parameters, so a changed C leaves load's cache valid
    assert set(steps["components"]["comp-train-step"]["inputDefinitions"]["parameters"]) == {
        "code", "C", "max_iter"}
    # typed parameters with the parameters cell's help
    parameters = steps["root"]["inputDefinitions"]["parameters"]
    assert parameters["C"]["parameterType"] == "NUMBER_DOUBLE"
    assert parameters["max_iter"]["parameterType"] == "NUMBER_INTEGER"
    assert parameters["max_iter"]["defaultValue"] == 500
    assert parameters["data_path"]["description"] == "input CSV, one row per wine"
    # the code travels in the YAML (a cluster has no copy of this folder's script)
    import base64

    code = step_tasks["load-step"]["inputs"]["parameters"]["code"]["runtimeValue"]["constant"]
    assert base64.b64decode(code).decode() == (folder / "pipeline_steps.py").read_text()
    # with no image, components install the script's own dependencies on python:3.11
    executor = steps["deploymentSpec"]["executors"]["exec-train-step"]["container"]
    assert executor["image"] == "python:3.11"
    assert "scikit-learn==" in " ".join(executor["command"])


@pytest.mark.slow
def test_an_image_or_wheels_reach_every_component(
    kfp_python: Path, project: tuple[Path, dict[str, str]]
) -> None:
    folder, env = project
    notebook = folder / "pipeline_steps.ipynb"
    export_notebook(notebook, ExportOptions(kfp=True, kfp_image="registry.example/wine:1"))
    assert _kfp(kfp_python, folder, env).returncode == 0
    steps = yaml.safe_load((folder / "pipeline_steps_pipeline.yaml").read_text())
    executors = steps["deploymentSpec"]["executors"].values()
    assert {e["container"]["image"] for e in executors} == {"registry.example/wine:1"}
    assert not any("pandas" in " ".join(e["container"]["command"]) for e in executors)
    wheel = "https://files.example/nb2pipe_runtime-0.2.0-py3-none-any.whl"
    export_notebook(notebook, ExportOptions(kfp=True, kfp_packages=(wheel,)))
    assert _kfp(kfp_python, folder, env).returncode == 0
    steps = yaml.safe_load((folder / "pipeline_steps_pipeline.yaml").read_text())
    for executor in steps["deploymentSpec"]["executors"].values():
        command = " ".join(executor["container"]["command"])
        assert wheel in command and "nb2pipe-runtime==" not in command and "pandas==" in command


# -- run with kfp.local --------------------------------------------------------------------------
@pytest.mark.slow
def test_the_local_pipeline_runs_every_step_like_the_script(
    kfp_python: Path, project: tuple[Path, dict[str, str]]
) -> None:
    folder, env = project
    done = _kfp(kfp_python, folder, env, "--local", "--C", "0.2")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = _records(folder)
    assert [record["step"] for record in records] == ["load", "features", "train", "evaluate"]
    load, features, train, evaluate = records
    # the same metrics as a plain run of the script with the same parameters
    script = run([kfp_python, folder / "pipeline_steps.py", "--C", "0.2", "--runs-dir",
                  folder / "plain-runs"], folder, env)
    assert script.returncode == 0, script.stderr
    [plain] = [json.loads(p.read_text()) for p in (folder / "plain-runs").glob("*/run.json")]
    assert evaluate["metrics"] == plain["metrics"]
    assert set(plain["metrics"]) == {"accuracy", "balanced_accuracy", "f1"}
    # each component's run records where its inputs came from, and what they were made with
    assert {e["run_id"] for e in features["lineage"]} == {load["run_id"]}
    assert {e["run_id"] for e in train["lineage"]} == {features["run_id"]}
    assert {e["run_id"] for e in evaluate["lineage"]} == {features["run_id"], train["run_id"]}
    assert train["params"] == {"C": 0.2, "max_iter": 500}
    assert evaluate["effective_params"] == plain["effective_params"]
    # ... in the notebook's experiment, where `nb2pipe runs` lists them
    assert {record["experiment"] for record in records} == {"pipeline_steps"}
    listing = run([sys.executable, "-m", "nb2pipe", "runs", "--json"], folder,
                  {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "runtime")])})
    assert listing.returncode == 0, listing.stderr
    assert all(record["run_id"] in listing.stdout for record in records)
    # the Metrics artifact KFP shows holds the same values, and the Dataset artifacts name
    # the run that saved them
    [root] = (folder / "outputs" / "kfp-local").glob("pipeline-steps-*")
    evaluate_output = json.loads((root / "evaluate-step" / "executor_output.json").read_text())
    [metrics] = evaluate_output["artifacts"]["metrics"]["artifacts"]
    assert metrics["metadata"] == plain["metrics"]
    train_output = json.loads((root / "train-step" / "executor_output.json").read_text())
    [dataset] = train_output["artifacts"]["outputs"]["artifacts"]
    assert dataset["metadata"]["nb2pipe_run_id"] == train["run_id"]
    assert (root / "train-step" / "outputs" / "model.joblib").is_file()
    # the lineage names the input artifacts' files, not a task's scratch folder
    paths = {entry["name"]: entry["path"] for entry in evaluate["lineage"]}
    assert paths["model"] == (root / "train-step" / "outputs" / "model.joblib").relative_to(
        folder).as_posix()


@pytest.mark.slow
def test_the_local_grid_pipeline_records_a_run_per_point_and_the_best(
    kfp_python: Path, project: tuple[Path, dict[str, str]]
) -> None:
    """ParallelFor with a Collected fan-in, in kfp.local 2.17; integers stay integers."""
    folder, env = project
    grid = json.dumps({"C": [0.05, 0.5, 5.0], "max_iter": [300]})
    done = _kfp(kfp_python, folder, env, "--local", "--grid", grid, "--random-state", "3")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = _records(folder)
    assert sorted(record["params"]["C"] for record in records) == [0.05, 0.5, 5.0]
    assert all(record["step"] is None and "accuracy" in record["metrics"] for record in records)
    assert {(type(r["params"]["max_iter"]), r["params"]["random_state"]) for r in records} == {
        (int, 3)}
    best = max(records, key=lambda record: record["metrics"]["accuracy"])
    assert f"best: run {best['run_id']}, accuracy " in done.stdout


@pytest.mark.slow
def test_a_flat_notebook_is_a_one_component_pipeline(
    kfp_python: Path, project: tuple[Path, dict[str, str]]
) -> None:
    folder, env = project
    done = run([kfp_python, folder / "train_classifier_kfp.py", "--local", "--n-estimators", "7",
                "--max-depth", "None"], folder, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [record] = _records(folder)
    assert record["status"] == "finished" and record["step"] is None
    # a parameter that may be None, and a list, arrive as the script's parser reads them
    assert record["params"]["n_estimators"] == 7 and record["params"]["max_depth"] is None
    assert record["params"]["features"][:2] == ["alcohol", "malic_acid"]


@pytest.mark.slow
def test_bad_input_is_one_line_and_exit_2(
    kfp_python: Path, project: tuple[Path, dict[str, str]]
) -> None:
    folder, env = project
    cases = {
        ("--local", "--gamma", "1"): "unrecognized arguments: --gamma 1",
        ("--local", "--grid", "{C: [1]}"): "--grid is not JSON",
        ("--local", "--grid", "[1, 2]"): "--grid maps parameter names to values",
        ("--local", "--grid", '{"gamma": [1]}'): "--grid: no parameter named gamma",
        ("--local", "--max-iter", "many"): "argument --max-iter: invalid int value: 'many'",
        ("--C", "0.1"): "parameters and --grid are for --local runs",
    }
    for args, message in cases.items():
        done = _kfp(kfp_python, folder, env, *args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and message in lines[0], (args, done.stderr)
    assert not (folder / "runs").exists()
    # a step that fails ends the run with one line naming the pipeline and the task
    done = _kfp(kfp_python, folder, env, "--local", "--test-size", "5")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "pipeline_steps_kfp.py: error: Pipeline 'pipeline-steps' finished with status FAILURE. "
        "Inner task failed: 'features-step'."
    )
    # compiling for a cluster without an image reads the script's PEP 723 block: on Python
    # 3.10 (no tomllib) with no tomli, that is one line too, not a traceback
    without_toml = (
        "import runpy, sys; sys.modules['tomllib'] = sys.modules['tomli'] = None; "
        "sys.argv = ['pipeline_steps_kfp.py']; "
        "runpy.run_path('pipeline_steps_kfp.py', run_name='__main__')"
    )
    done = run([kfp_python, "-c", without_toml], folder, env)
    assert done.returncode == 1 and done.stderr.strip() == (
        "pipeline_steps_kfp.py: error: reading pipeline_steps.py's dependencies needs Python "
        "3.11 or tomli (pip install tomli), or export with --kfp-image"
    ), done.stderr


@pytest.mark.slow
def test_names_that_clash_with_the_files_own_still_compile(kfp_python: Path, tmp_path: Path) -> None:
    """Parameters named like the component's own inputs (``code``, ``outputs``, ``grid``) or
    the file's options, steps named like parameters, an optional and a papermill-style
    ``None`` parameter: the file compiles, and both pipelines keep the notebook's names.
    Parameters named like what the file's functions import or call (``os``, ``json``,
    ``dsl``) get a ``_`` there and in the pipelines' inputs, and still reach the script."""
    notebook = tmp_path / "clash-case.ipynb"
    notebook.write_text(json.dumps(notebook_json(
        ("code = 'a'  # some code\noutputs = 2\ngrid: int | None = None\nlocal = True\n"
         + "msg = None\nload = 1.5\nos = 'linux'\njson = 1\ndsl = 10\nname = 'n'", ["parameters"]),
        ("x = len(code) + outputs + len(os) + json", ["step:load"]),
        ("y = x * load if local else x\nmsg2 = msg\ntag = name * dsl", ["step:grid"]),
        ("score = y + (grid or 0) + len(tag)", ["metrics"]),
    )))
    export_notebook(notebook, ExportOptions(kfp=True))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = run([kfp_python, tmp_path / "clash-case_kfp.py"], tmp_path, env)
    assert done.returncode == 0, done.stderr[-3000:]
    kept = {"code", "outputs", "grid", "local", "msg", "load", "name", "os_", "json_", "dsl_"}
    steps = yaml.safe_load((tmp_path / "clash-case_pipeline.yaml").read_text())
    assert set(steps["root"]["inputDefinitions"]["parameters"]) == kept
    grid = yaml.safe_load((tmp_path / "clash-case_grid_pipeline.yaml").read_text())
    assert set(grid["root"]["inputDefinitions"]["parameters"]) == {"grid_", *kept}
    done = run([kfp_python, tmp_path / "clash-case_kfp.py", "--local", "--grid-value", "2",
                "--load", "3", "--os", "macos", "--dsl", "3"], tmp_path, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = _records(tmp_path)
    assert [record["step"] for record in records] == ["load", "grid"]
    x = 1 + 2 + len("macos") + 1
    assert records[-1]["metrics"] == {"score": x * 3.0 + 2 + len("n" * 3)}
    assert records[0]["params"]["os"] == "macos" and records[-1]["params"]["dsl"] == 3


@pytest.mark.slow
def test_every_kind_of_parameter_is_typed_for_kfp(kfp_python: Path, tmp_path: Path) -> None:
    """Booleans, choices, dates and paths (as text), a float written as an integer, an
    optional integer (JSON text), and a set-up step whose parameter every component reads."""
    notebook = tmp_path / "kinds.ipynb"
    notebook.write_text(json.dumps(notebook_json(
        "import datetime\nfrom pathlib import Path\nfrom typing import Literal",
        ("verbose = False  # talk more\nmode: Literal['a', 'b'] = 'a'  # the mode\n"
         + "day = datetime.date(2024, 1, 2)\nfolder = Path('data')\nratio: float = 1\n"
         + "seed: int | None = None", ["parameters"]),
        ("print('setup', verbose)", []),
        ("x = 2 if mode == 'a' else 3", ["step:make"]),
        ("y = x * ratio + (seed or 0)\nz = str(day) + str(folder)", ["step:use"]),
        ("score = y", ["metrics"]),
    )))
    export_notebook(notebook, ExportOptions(kfp=True))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = run([kfp_python, tmp_path / "kinds_kfp.py"], tmp_path, env)
    assert done.returncode == 0, done.stderr[-3000:]
    spec = yaml.safe_load((tmp_path / "kinds_pipeline.yaml").read_text())
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert {name: (p["parameterType"], p["defaultValue"]) for name, p in parameters.items()} == {
        "verbose": ("BOOLEAN", False), "mode": ("STRING", "a"), "day": ("STRING", "2024-01-02"),
        "folder": ("STRING", "data"), "ratio": ("NUMBER_DOUBLE", 1.0), "seed": ("STRING", "null"),
    }
    assert parameters["mode"]["description"] == 'the mode; one of: "a", "b"'
    # the set-up step (cells before the first step) runs before every step: its parameter
    # is an input of every component
    for component in ("comp-prepare-step", "comp-make-step", "comp-use-step"):
        assert "verbose" in spec["components"][component]["inputDefinitions"]["parameters"]
    done = run([kfp_python, tmp_path / "kinds_kfp.py", "--local", "--mode", "b", "--verbose",
                "--seed", "4", "--day", "2025-02-03"], tmp_path, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    use = _records(tmp_path)[-1]
    assert use["params"] == {"verbose": True, "day": "2025-02-03", "folder": "data",
                             "ratio": 1.0, "seed": 4}
    assert use["metrics"] == {"score": 3 * 1.0 + 4}
    done = run([kfp_python, tmp_path / "kinds_kfp.py", "--local", "--mode", "c"], tmp_path, env)
    assert done.returncode == 2 and "argument --mode: invalid choice: 'c'" in done.stderr


@pytest.mark.slow
def test_the_local_runner_runs_two_grid_points_side_by_side(kfp_python: Path, tmp_path: Path) -> None:
    """kfp.local 2.17 runs a ParallelFor two iterations at a time: two points that each wait
    for the other both finish (one after the other, the first would time out waiting)."""
    notebook = tmp_path / "slow.ipynb"
    notebook.write_text(json.dumps(notebook_json(
        "import os\nimport time",
        ("x = 1  # the value\nbarrier = ''  # a folder where the points meet", ["parameters"]),
        "if barrier:\n"
        "    os.makedirs(barrier, exist_ok=True)\n"
        "    open(os.path.join(barrier, str(x)), 'w').close()\n"
        "    deadline = time.time() + 120\n"
        "    while len(os.listdir(barrier)) < 2:\n"
        "        if time.time() > deadline:\n"
        "            raise TimeoutError('the other point never ran alongside this one')\n"
        "        time.sleep(0.2)",
        ("score = x * 2", ["metrics"]),
    )))
    export_notebook(notebook, ExportOptions(kfp=True))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    grid = json.dumps({"x": [1, 2], "barrier": str(tmp_path / "barrier")})
    done = run([kfp_python, tmp_path / "slow_kfp.py", "--local", "--grid", grid], tmp_path, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = _records(tmp_path)
    assert sorted(record["params"]["x"] for record in records) == [1, 2]
    assert max(r["start"] for r in records) <= min(r["end"] for r in records)
    best = max(records, key=lambda record: record["metrics"]["score"])
    assert best["params"]["x"] == 2 and f"best: run {best['run_id']}, score 4" in done.stdout
