"""What ``nb2pipe export --dvc`` writes: step modules, dvc.yaml, params.yaml, .gitignore."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from nb2pipe.cli import cli
from nb2pipe.errors import ExportError, OutputExistsError
from nb2pipe.export import CheckStatus, ExportOptions, check_notebook, export_notebook

from ..export.test_golden import assert_sound_script

DVC = ExportOptions(dvc=True)


@pytest.fixture
def exported(samples_copy: Path) -> Path:
    export_notebook(samples_copy / "pipeline_steps.ipynb", DVC)
    return samples_copy


def test_a_stage_per_step_with_its_deps_params_outs_and_metrics(exported: Path) -> None:
    stages = yaml.safe_load((exported / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["load", "features", "train", "evaluate"]
    common = ["pipeline_steps.py", "pipeline_steps_steps/shared.py"]
    assert stages["load"] == {
        "cmd": "python pipeline_steps.py --config params.yaml --step load",
        "deps": [*common, "pipeline_steps_steps/load.py", "${data_path}"],
        "params": ["data_path"],
        "outs": ["outputs/load"],
    }
    assert stages["train"]["deps"] == [*common, "pipeline_steps_steps/train.py", "outputs/features"]
    assert stages["train"]["params"] == ["C", "max_iter"]
    evaluate = stages["evaluate"]
    assert evaluate["cmd"].endswith("--step evaluate --metrics-file metrics/evaluate.json")
    assert evaluate["deps"][-2:] == ["outputs/features", "outputs/train"]
    assert "params" not in evaluate and "outs" not in evaluate
    assert evaluate["metrics"] == [{"metrics/evaluate.json": {"cache": False}}]


def test_modules_are_sound_python(exported: Path) -> None:
    package = exported / "pipeline_steps_steps"
    for path in [exported / "pipeline_steps.py", *sorted(package.glob("*.py"))]:
        assert_sound_script(path.read_text(), path.name)
    train = (package / "train.py").read_text()
    assert "from pipeline_steps_steps.shared import LogisticRegression, pd\n" in train
    assert "def train(X_train_scaled, feature_cols, y_train, *, C, max_iter):" in train
    entry = (exported / "pipeline_steps.py").read_text()
    assert "from pipeline_steps_steps.train import train\n" in entry
    assert "def train(" not in entry  # the code is in the modules only


def test_params_yaml_keeps_values_the_user_changed(exported: Path) -> None:
    params = exported / "params.yaml"
    assert yaml.safe_load(params.read_text()) == {
        "data_path": "data/wine.csv", "test_size": 0.25, "C": 0.5, "max_iter": 500, "random_state": 7,
    }
    assert "C: 0.5  # inverse regularisation strength of the logistic regression\n" in params.read_text()
    params.write_text(params.read_text().replace("C: 0.5", "C: 0.1"))
    export_notebook(exported / "pipeline_steps.ipynb", DVC)
    assert yaml.safe_load(params.read_text())["C"] == 0.1
    assert check_notebook(exported / "pipeline_steps.ipynb", DVC) is CheckStatus.IN_SYNC


def test_gitignore_lines_are_added_once(exported: Path) -> None:
    text = (exported / ".gitignore").read_text()
    assert text.endswith("/runs/\n/outputs/\n")
    export_notebook(exported / "pipeline_steps.ipynb", DVC)
    assert (exported / ".gitignore").read_text() == text
    assert text.count("/runs/") == 1 and text.count("/outputs/") == 1


def test_check_sees_a_stale_module(exported: Path) -> None:
    module = exported / "pipeline_steps_steps" / "train.py"
    module.write_text(module.read_text() + "# edited\n")
    assert check_notebook(exported / "pipeline_steps.ipynb", DVC) is CheckStatus.STALE
    result = CliRunner().invoke(cli, ["export", "--dvc", "--check", str(exported / "pipeline_steps.ipynb")])
    assert result.exit_code == 1


def test_a_foreign_dvc_yaml_is_not_overwritten(samples_copy: Path) -> None:
    (samples_copy / "dvc.yaml").write_text("stages: {}\n")
    with pytest.raises(OutputExistsError):
        export_notebook(samples_copy / "pipeline_steps.ipynb", DVC)
    export_notebook(samples_copy / "pipeline_steps.ipynb", ExportOptions(dvc=True, force=True))
    assert "stages:\n  load:" in (samples_copy / "dvc.yaml").read_text()


def test_the_script_must_be_beside_the_notebook(samples_copy: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="with --dvc the script goes beside the notebook"):
        export_notebook(samples_copy / "pipeline_steps.ipynb",
                        ExportOptions(dvc=True, output=tmp_path / "elsewhere.py"))


def test_the_cli_option(samples_copy: Path) -> None:
    result = CliRunner().invoke(cli, ["export", "--dvc", str(samples_copy / "pipeline_steps.ipynb")])
    assert result.exit_code == 0, result.output
    assert "also wrote pipeline_steps_steps/__init__.py" in result.output
    assert (samples_copy / "dvc.yaml").is_file()


def _steps_notebook(folder: Path, cells: list[tuple[str, list[str]]]) -> Path:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = tags
        notebook.cells.append(cell)
    path = folder / "names.ipynb"
    nbformat.write(notebook, path)
    return path


def test_step_modules_import_what_the_rendered_code_reads(tmp_path: Path) -> None:
    """A step module imports the names its function reads: the plan's free names plus what
    the rendering adds (a magic's runtime function and module, a figure saver, metrics) and
    not what it removes (display-only lines, ``plt.show()`` in a loop, a cell's ``global``)."""
    notebook = _steps_notebook(tmp_path, [
        (
            (
                "import json\nimport os\nimport matplotlib.pyplot as plt\nfrom math import *\n"
                "def run_echo(text):\n    !echo {text}\n"
            ),
            [],
        ),
        ("parts = [1, 2]\nlabel = 'a'\njson\n", ["step:load"]),
        (
            (
                "global parts\nfor part in parts:\n    plt.plot([part, floor(2.5)])\n"
                "    plt.show()\n!echo {label}\n%cd .\n"
            ),
            ["step:draw"],
        ),
        ("total = sum(parts)\nos.sep\n", ["step:score", "metrics"]),
    ])
    export_notebook(notebook, DVC)
    package = tmp_path / "names_steps"
    for path in [tmp_path / "names.py", *sorted(package.glob("*.py"))]:
        assert_sound_script(path.read_text(), path.name)
    shared = (package / "shared.py").read_text()
    assert "from nb2pipe_runtime import shell\n" in shared  # run_echo's shell escape
    load = (package / "load.py").read_text()
    # `json` only showed a value: dropped, so json is not imported
    assert "from names_steps.shared import json" not in load
    assert "from names_steps.shared import *  # noqa: F403\n" in load
    draw = (package / "draw.py").read_text()
    # plt.show() in the loop saves the figures instead; !echo and %cd need shell and os
    assert "from nb2pipe_runtime import save_figures\n" in draw
    assert "from names_steps.shared import os, plt, shell\n" in draw  # shared imports shell
    assert "def draw(label, parts):" in draw
    score = (package / "score.py").read_text()
    assert "from nb2pipe_runtime import record_metrics\n" in score
    assert "from names_steps.shared import os" not in score  # `os.sep` only showed a value
    done = subprocess.run(
        [sys.executable, "names.py", "--runs-dir", str(tmp_path / "runs")], cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert done.returncode == 0, done.stderr
    assert "a\n" in done.stdout
