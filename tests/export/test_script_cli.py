"""The exported script's own CLI: typed options, --config files, precedence, --dump-config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nb2pipe.export import export_notebook

PARAMETERS = '''
import datetime
from pathlib import Path
'''


@pytest.fixture
def script(make_notebook) -> Path:
    notebook = make_notebook(
        "import datetime\nfrom pathlib import Path",
        (
            "lr = 0.1  # learning rate\n"
            "epochs: int = 3  # passes over the data\n"
            "name = 'base'\n"
            "shuffle = True  # shuffle rows\n"
            "limit: int | None = None  # row cap\n"
            "layers = [64, 32]\n"
            "data_dir = Path('data')\n"
            "start = datetime.date(2024, 1, 31)",
            ["parameters"],
        ),
        "def show():\n    print(lr, epochs, name, shuffle, limit, layers, data_dir, start)\nshow()",
    )
    return export_notebook(notebook).script_path


def run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          cwd=script.parent)


def test_defaults(script: Path) -> None:
    assert run(script).stdout == "0.1 3 base True None [64, 32] data 2024-01-31\n"


def test_help_lists_parameters_with_types_and_help(script: Path) -> None:
    out = run(script, "--help").stdout
    for expected in ("--lr FLOAT", "learning rate", "--epochs INT", "passes over the data",
                     "--shuffle, --no-shuffle", "--limit INT", "--layers JSON",
                     "--data-dir PATH", "--start DATE", "--config FILE", "--dump-config"):
        assert expected in out


def test_help_shows_defaults_as_they_are_typed_back(script: Path) -> None:
    out = " ".join(run(script, "--help").stdout.split())  # argparse wraps lines
    assert "passes over the data (default: 3)" in out
    assert "row cap (default: None)" in out  # a parameter's None is a value
    assert "(default: [64, 32])" in out  # JSON, as --layers takes it
    assert "shuffle rows (default: True)" in out
    # the script's own switches: no "(default: None)" / "(default: False)" noise
    assert "(default: False)" not in out
    assert out.count("(default: None)") == 1
    assert "(default: $MLFLOW_TRACKING_URI) (default" not in out


def test_command_line_values(script: Path) -> None:
    out = run(script, "--lr", "0.5", "--epochs", "7", "--no-shuffle", "--limit", "10",
              "--layers", "[8]", "--data-dir", "x/y", "--start", "2025-02-03", "--name", "z").stdout
    assert out == "0.5 7 z False 10 [8] x/y 2025-02-03\n"


@pytest.mark.parametrize("args, message", [
    (["--epochs", "many"], "argument --epochs: invalid int value: 'many'"),
    (["--lr", "fast"], "argument --lr: invalid float value"),
    (["--layers", "[1,"], "argument --layers: invalid JSON value"),
    (["--start", "yesterday"], "argument --start: invalid date value"),
    (["--unknown", "1"], "unrecognized arguments: --unknown"),
])
def test_bad_values_are_argparse_errors(script: Path, args: list[str], message: str) -> None:
    result = run(script, *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("suffix, text", [
    (".yaml", "lr: 0.25\nepochs: 5\nlayers: [1, 2]\nstart: 2023-05-06\n"),
    (".toml", 'lr = 0.25\nepochs = 5\nlayers = [1, 2]\nstart = "2023-05-06"\n'),
    (".json", json.dumps({"lr": 0.25, "epochs": 5, "layers": [1, 2], "start": "2023-05-06"})),
])
def test_config_files_and_precedence(script: Path, suffix: str, text: str) -> None:
    config = script.parent / f"params{suffix}"
    config.write_text(text)
    assert run(script, "--config", str(config)).stdout == "0.25 5 base True None [1, 2] data 2023-05-06\n"
    # command line beats config file, which beats the notebook default
    out = run(script, "--config", str(config), "--epochs", "9").stdout
    assert out == "0.25 9 base True None [1, 2] data 2023-05-06\n"


def test_unknown_config_key_and_bad_config_value(script: Path) -> None:
    config = script.parent / "bad.yaml"
    config.write_text("lr: 0.2\nlearning_rate: 0.3\n")
    result = run(script, "--config", str(config))
    assert result.returncode == 2 and "unknown parameter(s) learning_rate" in result.stderr
    config.write_text("epochs: lots\n")
    result = run(script, "--config", str(config))
    assert result.returncode == 2 and "epochs: invalid int value: 'lots'" in result.stderr


def test_dump_config_round_trips(script: Path) -> None:
    dumped = run(script, "--lr", "0.7", "--dump-config").stdout
    assert "lr: 0.7\n" in dumped and 'data_dir: "data"' in dumped
    config = script.parent / "dumped.yaml"
    config.write_text(dumped)
    assert run(script, "--config", str(config)).stdout == "0.7 3 base True None [64, 32] data 2024-01-31\n"


def test_importing_the_script_runs_no_notebook_work(script: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import importlib.util, sys; "
         f"spec = importlib.util.spec_from_file_location('s', {str(script)!r}); "
         "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); print('imported')"],
        capture_output=True, text=True,
    )
    assert result.stdout == "imported\n"


def test_annotations_that_fit_their_values_export(make_notebook) -> None:
    notebook = make_notebook(
        "import datetime\nfrom pathlib import Path",
        (
            "rate: float = 1\n"
            "data: Path = 'in.csv'\n"
            "day: datetime.date = '2024-01-31'\n"
            "cap: int | None = None\n"
            "sizes: list[int] = [1, 2]\n"
            "label: str = 'x'",
            ["parameters"],
        ),
        "print(rate, data, day, cap, sizes, label)",
    )
    script = export_notebook(notebook).script_path
    assert run(script).stdout == "1 in.csv 2024-01-31 None [1, 2] x\n"


@pytest.fixture
def chooser(make_notebook) -> Path:
    notebook = make_notebook(
        "from typing import Literal",
        (
            'model: Literal["ridge", "lasso"] = "ridge"  # the regressor\n'
            "solver = 'auto'  # how to fit; one of: auto, svd, cholesky\n"
            "folds = 5  # one of: 3, 5, 10\n"
            'penalty: Literal["l1", "l2"] | None = None',
            ["parameters"],
        ),
        "print(model, solver, folds, penalty)",
    )
    return export_notebook(notebook).script_path


@pytest.mark.parametrize("args, message", [
    (["--model", "xgboost"],
     "argument --model: invalid choice: 'xgboost' (choose from 'ridge', 'lasso')"),
    (["--solver", "qr"], "argument --solver: invalid choice: 'qr'"),
    (["--folds", "4"], "argument --folds: invalid choice: 4 (choose from 3, 5, 10)"),
    (["--penalty", "l3"], "argument --penalty: invalid choice: 'l3'"),
])
def test_a_bad_choice_is_one_line_and_exit_2_before_the_run(
    chooser: Path, args: list[str], message: str
) -> None:
    result = run(chooser, *args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"{chooser.name}: error: {message}" + (
        result.stderr.split(message, 1)[1]
    ) and result.stderr.count("\n") == 1 and result.stderr.endswith(" (see --help)\n")
    assert "Traceback" not in result.stderr
    assert not (chooser.parent / "runs").exists()  # no run started


def test_choices_are_listed_accepted_and_checked_in_config_files(chooser: Path) -> None:
    assert run(chooser).stdout == "ridge auto 5 None\n"
    out = run(chooser, "--model", "lasso", "--solver", "svd", "--folds", "10", "--penalty", "l1")
    assert out.returncode == 0 and out.stdout == "lasso svd 10 l1\n"
    assert run(chooser, "--penalty", "None").stdout == "ridge auto 5 None\n"
    shown = run(chooser, "--help").stdout
    assert "--model {ridge,lasso}" in shown and "--folds {3,5,10}" in shown
    assert "how to fit (default: auto)" in " ".join(shown.split())  # `one of:` left the help
    config = chooser.parent / "bad.yaml"
    config.write_text("model: xgboost\n")
    recorded = len(list((chooser.parent / "runs").iterdir()))
    result = run(chooser, "--config", str(config))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "model: expected one of 'ridge', 'lasso', got 'xgboost'" in result.stderr
    assert len(list((chooser.parent / "runs").iterdir())) == recorded  # no run started


def test_choices_reach_params_yaml_and_the_airflow_params(make_notebook) -> None:
    from nb2pipe.export import ExportOptions

    notebook = make_notebook(
        "from typing import Literal",
        ('model: Literal["ridge", "lasso"] = "ridge"  # the regressor\nfolds = 5  # one of: 3, 5',
         ["parameters"]),
        ("values = [folds, len(model)]", ["step:load"]),
        ("score = sum(values)", ["step:score", "metrics"]),
    )
    result = export_notebook(notebook, ExportOptions(dvc=True, airflow=True))
    files = {path.name: text for path, text in result.files}
    assert 'model: "ridge"  # the regressor; one of: ridge, lasso\n' in files["params.yaml"]
    assert "folds: 5  # one of: 3, 5\n" in files["params.yaml"]
    [dag] = [text for name, text in files.items() if name.endswith("_dag.py")]
    assert "Param('ridge', type=\"string\", enum=['ridge', 'lasso'], description=\"the regressor\")" in dag
    assert "Param(5, type=\"integer\", enum=[3, 5])" in dag
    compile(dag, "dag.py", "exec")


# ---------------------------------------------------------------------------------------------
# papermill's idioms: `msg = None` parameters, notes standing alone in the parameters cell


@pytest.fixture
def papermill_script(make_notebook) -> Path:
    notebook = make_notebook(
        (
            '"""Parameters: papermill -p NAME VALUE, or --name VALUE for the script."""\n'
            "msg = None\n"
            "input_path = None  # the data to read\n"
            "'a note between parameters'\n"
            "threshold = 0.5",
            ["parameters"],
        ),
        "print(type(msg).__name__, repr(msg), input_path, threshold)",
        name="papermill.ipynb",
    )
    return export_notebook(notebook).script_path


@pytest.mark.parametrize(
    ("text", "shown", "recorded"),
    [
        ("5", "int 5", 5),
        ("0.5", "float 0.5", 0.5),
        ("true", "bool True", True),
        ("True", "bool True", True),
        ("None", "NoneType None", None),
        ("[1, 2]", "list [1, 2]", [1, 2]),
        ('{"a": 1}', "dict {'a': 1}", {"a": 1}),
        ('"5"', "str '5'", "5"),
        ("hello world", "str 'hello world'", "hello world"),
    ],
)
def test_a_none_parameter_takes_a_json_literal_or_else_the_text(
    papermill_script: Path, text: str, shown: str, recorded: object
) -> None:
    result = run(papermill_script, "--msg", text)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{shown} None 0.5\n"
    # the run record keeps the value with the type it got
    [record] = (papermill_script.parent / "runs").glob("*/run.json")
    params = json.loads(record.read_text())["params"]
    assert params == {"msg": recorded, "input_path": None, "threshold": 0.5}
    assert type(params["msg"]) is type(recorded)


def test_a_none_parameter_in_help_config_and_dump_config(papermill_script: Path) -> None:
    out = " ".join(run(papermill_script, "--help").stdout.split())
    assert "--msg VALUE (default: None)" in out
    assert "--input-path VALUE the data to read (default: None)" in out
    assert "--threshold FLOAT" in out and "a note" not in out  # the notes are no parameters
    assert run(papermill_script).stdout == "NoneType None None 0.5\n"
    config = papermill_script.parent / "params.yaml"
    config.write_text("msg: '5'\ninput_path: data/in.csv\n")
    assert run(papermill_script, "--config", str(config)).stdout == "str '5' data/in.csv 0.5\n"
    dumped = run(papermill_script, "--msg", "[1, 2]", "--dump-config").stdout
    assert dumped == "msg: [1, 2]\ninput_path: null\nthreshold: 0.5\n"
    config.write_text(dumped)
    assert run(papermill_script, "--config", str(config)).stdout == "list [1, 2] None 0.5\n"


PAPERMILL_NOTEBOOKS = Path(
    pytest.importorskip("papermill").__file__
).parent / "tests" / "notebooks"


@pytest.mark.parametrize(
    "name", ["simple_execute.ipynb", "s3/s3_in/s3-simple_notebook.ipynb"]
)
def test_papermills_own_msg_none_notebooks_export_and_take_msg(tmp_path: Path, name: str) -> None:
    """papermill's test notebooks whose parameters cell is ``msg = None`` (papermill's
    commonest idiom): exported, and ``--msg`` types the text as ``-p msg`` would."""
    source = PAPERMILL_NOTEBOOKS / name
    if not source.exists():
        pytest.skip(f"papermill's test notebooks are not installed ({source})")
    notebook = tmp_path / source.name
    notebook.write_bytes(source.read_bytes())
    result = export_notebook(notebook)
    [parameter] = result.summary.parameters
    assert (parameter.name, parameter.type.value, parameter.default) == ("msg", "any", None)
    assert run(result.script_path).stdout == "None\n"
    assert run(result.script_path, "--msg", "hello").stdout == "hello\n"
    assert run(result.script_path, "--msg", "12.51").stdout == "12.51\n"


def test_a_parameter_may_take_no_option_the_runtime_adds_to_every_script(make_notebook) -> None:
    """Export keeps parameters off the options the runtime's CLI adds to every script: the
    runtime's lists name exactly what its parser adds, and each is refused as a parameter."""
    import argparse

    from nb2pipe_runtime.cli import parse_args

    from nb2pipe.errors import Nb2PipeError
    from nb2pipe.export.plan import SCRIPT_OPTIONS

    parser = argparse.ArgumentParser(prog="train.py")
    parser.add_argument("--lr", type=float, default=0.1)
    before = {action.dest for action in parser._actions}
    parse_args(parser, [], steps=("load", "fit"))
    added = {action.dest for action in parser._actions} - before
    assert added == set(SCRIPT_OPTIONS)
    for name in SCRIPT_OPTIONS:
        notebook = make_notebook((f"{name} = 'x'", ["parameters"]), f"print({name})")
        with pytest.raises(Nb2PipeError, match=f"parameter '{name}' clashes with the script's"):
            export_notebook(notebook)
