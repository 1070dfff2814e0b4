"""The GitHub Action: annotations on the failing cell's line of the .ipynb file, and the
action's steps script (action/steps.py) run in a scratch folder as the runner runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from nb2pipe.verify.github import cell_source_lines, workflow_command

from ..conftest import ROOT, notebook_json
from .conftest import code, invoke_verify, numbered, stdout

STEPS = ROOT / "action" / "steps.py"


def _line(text: str, number: int) -> str:
    return text.split("\n")[number - 1]


# ---------------------------------------------------------------------------------------------
# the line of each cell's source in the notebook's JSON


def test_each_cell_points_at_its_own_first_source_line_as_nbformat_writes_it() -> None:
    import nbformat

    cells = [
        "import pandas as pd",
        {"cell_type": "markdown", "source": "# import pandas as pd\nsame words, a Markdown cell"},
        "x = 1\nprint(x)",
        "x = 1\nprint(x)",  # the same code again: its own line, not the first match
        "",
        'print("a \\"quoted\\" \\u00e9 word")',
    ]
    node = nbformat.from_dict(notebook_json(*cells))
    text = nbformat.writes(node)  # type: ignore[no-untyped-call]
    lines = cell_source_lines(text)
    assert sorted(lines) == list(range(len(cells)))
    assert lines[0] < lines[1] < lines[2] < lines[3] < lines[4] < lines[5]
    assert _line(text, lines[0]).strip() == '"import pandas as pd"'
    assert _line(text, lines[1]).strip() == '"# import pandas as pd\\n",'
    assert _line(text, lines[2]).strip() == _line(text, lines[3]).strip() == '"x = 1\\n",'
    assert _line(text, lines[4]).strip() == '"source": []'  # empty: the key's line
    assert json.loads(_line(text, lines[5]).strip()) == cells[5]


def test_key_order_outputs_and_metadata_named_source_do_not_mislead_it() -> None:
    notebook = notebook_json("print(1)", "print(2)")
    for cell in notebook["cells"]:
        cell["metadata"] = {"source": "not the cell's", "tags": ["x"]}
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ['{"source": 1']}]
    notebook["cells"][1] = dict(reversed(list(notebook["cells"][1].items())))  # source first
    notebook = {"metadata": notebook["metadata"], **notebook}  # cells after metadata
    text = json.dumps(notebook, indent=2)
    lines = cell_source_lines(text)
    assert _line(text, lines[0]).strip() == '"source": "print(1)",'
    assert _line(text, lines[1]).strip() == '"source": "print(2)",'
    assert cell_source_lines(json.dumps(notebook)) == {0: 1, 1: 1}  # all on one line


@settings(max_examples=60, deadline=None)
@given(
    sources=st.lists(
        st.lists(st.text(st.characters(codec="utf-8"), max_size=12), min_size=1, max_size=3),
        min_size=1,
        max_size=6,
    ),
    indent=st.sampled_from([None, 0, 1, 2, 4]),
    as_list=st.booleans(),
    ensure_ascii=st.booleans(),
)
def test_the_line_holds_the_cells_first_source_line_whatever_the_layout(
    sources: list[list[str]], indent: int | None, as_list: bool, ensure_ascii: bool
) -> None:
    cells = []
    for index, lines in enumerate(sources):
        source_lines = [f"c{index}_" + line.replace("\n", " ") + "\n" for line in lines]
        cells.append(
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
             "source": source_lines if as_list else "".join(source_lines)}
        )
    text = json.dumps(
        {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
        indent=indent,
        ensure_ascii=ensure_ascii,
    )
    found = cell_source_lines(text)
    assert sorted(found) == list(range(len(cells)))
    for index, cell in enumerate(cells):
        first = cell["source"][0] if as_list else cell["source"]
        assert json.dumps(first, ensure_ascii=ensure_ascii) in _line(text, found[index])


def test_text_that_is_not_json_is_refused() -> None:
    with pytest.raises(ValueError):
        cell_source_lines('{"cells": [{"source": "x"')


def test_workflow_commands_escape_what_the_runner_reads_back() -> None:
    line = workflow_command(
        "error", "50% of\nrows", file="a,b.ipynb", line=3, title="cell 1: output-differs"
    )
    assert line == (
        "::error file=a%2Cb.ipynb,line=3,title=cell 1%3A output-differs::50%25 of%0Arows"
    )


# ---------------------------------------------------------------------------------------------
# nb2pipe verify --github-annotations, for real


def _failing_notebook(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "analysis.ipynb"
    cells = numbered(
        code("x = 21", count=1),
        code("print(x)", stdout("21\n")),
        code("print(x * 2)", stdout("43\n")),  # differs: 42 now
    )
    path.write_text(json.dumps(notebook_json(*cells), indent=1), encoding="utf-8")
    return path


@pytest.mark.kernel
def test_annotations_name_the_failing_cells_line_in_the_ipynb_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = _failing_notebook(tmp_path / "notebooks")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    run = invoke_verify(notebook, "--no-script", "--github-annotations", report_dir=tmp_path)
    assert run.exit_code == 1, run.output
    annotations = [line for line in run.output.splitlines() if line.startswith("::")]
    assert len(annotations) == 1, run.output
    head, message = annotations[0][2:].split("::", 1)
    command, properties = head.split(" ", 1)
    fields = dict(part.split("=", 1) for part in properties.split(","))
    assert command == "error"
    assert fields["file"] == "notebooks/analysis.ipynb"  # relative to the repository
    assert fields["title"] == "nb2pipe verify%3A cell 3 (id c2)%3A output-differs"
    assert _line(notebook.read_text(), int(fields["line"])).strip() == '"source": "print(x * 2)",'
    text = message.replace("%0A", "\n")
    assert "> print(x * 2)" in text and "-43" in text and "+42" in text


# ---------------------------------------------------------------------------------------------
# the action's steps script


def test_action_yml_runs_the_steps_script_with_the_documented_inputs() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert {"paths", "python-version", "args"} <= set(action["inputs"])
    runs = [step.get("run", "") for step in action["runs"]["steps"]]
    assert 'python "$GITHUB_ACTION_PATH/action/steps.py" install' in runs
    assert 'python "$GITHUB_ACTION_PATH/action/steps.py" verify' in runs
    uses = [step.get("uses", "") for step in action["runs"]["steps"]]
    assert any(u.startswith("actions/setup-python@") for u in uses)
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    docs = (ROOT / "docs" / "ci.md").read_text()
    for name in action["inputs"]:
        assert f"`{name}`" in docs, name


def _steps(step: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(STEPS), step],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.kernel
def test_the_verify_step_writes_reports_outputs_summary_and_annotations(tmp_path: Path) -> None:
    workspace = tmp_path / "repo"
    notebook = _failing_notebook(workspace / "nbs")
    runner_temp, outputs, summary = tmp_path / "runner", tmp_path / "out", tmp_path / "summary.md"
    runner_temp.mkdir()
    done = _steps(
        "verify",
        workspace,
        INPUT_PATHS="nbs",
        INPUT_ARGS="--no-script --timeout 120",
        RUNNER_TEMP=str(runner_temp),
        GITHUB_OUTPUT=str(outputs),
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_WORKSPACE=str(workspace),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert values["exit-code"] == "1"
    for name in ("html", "junit", "json"):
        assert Path(values[name]).parent == runner_temp / "nb2pipe-verify"
        assert Path(values[name]).is_file(), name
    assert "<html" in Path(values["html"]).read_text().lower()
    report = json.loads(Path(values["json"]).read_text())
    assert [(m["cell_index"], m["reason"]) for m in report["notebooks"][0]["mismatches"]] == [
        (2, "output-differs")
    ]
    error = next(line for line in done.stdout.splitlines() if line.startswith("::error "))
    line = int(error.split(",line=", 1)[1].split(",", 1)[0])
    assert "file=nbs/analysis.ipynb," in error
    assert '"print(x * 2)"' in _line(notebook.read_text(), line)
    assert "::group::" not in done.stdout  # verify's own output is not folded away
    page = summary.read_text()
    assert "0 of 1 notebooks reproduce" in page
    assert "| nbs/analysis.ipynb | cell 3 (id c2) | output-differs |" in page


def test_the_verify_step_runs_one_notebook_per_core_unless_told(tmp_path: Path) -> None:
    sys.path.insert(0, str(STEPS.parent))
    try:
        import steps  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(STEPS.parent))
    default = steps.verify_command(["."], [], tmp_path)
    assert default[default.index("--jobs") + 1] == str(os.cpu_count() or 1)
    for args in (["-j", "3"], ["-j3"], ["--jobs", "3"], ["--jobs=3"]):
        command = steps.verify_command(["."], args, tmp_path)
        assert "--jobs" not in command[: -len(args)] and command[-len(args) :] == args


@pytest.mark.slow
def test_the_install_step_installs_nb2pipe_from_the_checkout_and_the_requirements(
    tmp_path: Path,
) -> None:
    """A fresh virtual environment, as setup-python leaves it: the install step makes
    ``python -m nb2pipe verify`` work there, with the project's requirements (packages from
    the registry: this test needs it)."""
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("tomli_w\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        [str(python), str(STEPS), "install"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "::group::Install nb2pipe and requirements.txt" in done.stdout
    check = subprocess.run(
        [str(python), "-c", "import nb2pipe, nb2pipe_runtime, tomli_w; print(nb2pipe.__file__)"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert Path(check.stdout.strip()).is_relative_to(environment)
    help_text = subprocess.run(
        [str(python), "-m", "nb2pipe", "verify", "--help"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert "--github-annotations" in help_text.stdout
