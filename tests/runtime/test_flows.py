"""``nb2pipe_runtime.flows``: the cache keys the ``--prefect`` flows skip steps by, and the flow
file's command line, on a real exported two-step script (no Prefect needed: the flows are
plain functions to the command line, and the keys are the runtime's)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from nb2pipe_runtime.flows import STAMP, CachedStep, run_flows

from nb2pipe.export import ExportOptions, export_notebook

from ..conftest import notebook_json

pytestmark = pytest.mark.slow


@pytest.fixture
def script(tmp_path: Path) -> Path:
    notebook = tmp_path / "counts.ipynb"
    notebook.write_text(json.dumps(notebook_json(
        ("n = 3  # how many\nextra = 1  # added at the end", ["parameters"]),
        ("numbers = list(range(n))", ["step:make"]),
        ("total = sum(numbers) + extra", ["step:add", "metrics"]),
    )))
    return export_notebook(notebook, ExportOptions()).script_path


MAKE = CachedStep("make", "code-of-make", reads=("n",), saves=True)
ADD = CachedStep("add", "code-of-add", reads=("extra",), inputs_from=("make",))


def test_a_key_holds_what_the_step_depends_on_and_nothing_that_changes_for_no_reason(
    script: Path,
) -> None:
    outputs = str(script.with_name("outputs"))
    runs = str(script.with_name("runs"))
    params = {"n": 3, "extra": 1}
    MAKE.run(str(script), params, outputs, runs)
    key = ADD.key(str(script), params, outputs)
    assert ADD.key(str(script), params, outputs) == key
    # make again with the same values: a new run id in its manifest, the same outputs
    MAKE.run(str(script), params, outputs, runs)
    assert ADD.key(str(script), params, outputs) == key
    # a parameter the step does not read changes nothing; one it reads does
    assert ADD.key(str(script), {**params, "n": 5}, outputs) == key
    assert ADD.key(str(script), {**params, "extra": 2}, outputs) != key
    # other inputs: make with n=5 saved other numbers
    MAKE.run(str(script), {**params, "n": 5}, outputs, runs)
    assert ADD.key(str(script), params, outputs) != key
    # the code's digest, and where the outputs are kept
    other = CachedStep("add", "edited", reads=("extra",), inputs_from=("make",))
    assert other.key(str(script), params, outputs) != ADD.key(str(script), params, outputs)
    moved = script.with_name("elsewhere")
    shutil.copytree(outputs, moved)
    assert ADD.key(str(script), params, str(moved)) != ADD.key(str(script), params, outputs)


def test_saved_outputs_another_run_replaced_are_not_current(script: Path) -> None:
    outputs = str(script.with_name("outputs"))
    runs = str(script.with_name("runs"))
    params = {"n": 3, "extra": 1}
    assert not MAKE.current(str(script), params, outputs)  # nothing saved yet
    MAKE.run(str(script), params, outputs, runs)
    assert (Path(outputs) / "make" / STAMP).is_file()
    assert MAKE.current(str(script), params, outputs)
    assert not MAKE.current(str(script), {**params, "n": 4}, outputs)
    assert ADD.current(str(script), params, outputs)  # it saves nothing: always current
    # the script run by hand replaces make's outputs (and their stamp)
    MAKE.run(str(script), {**params, "n": 4}, outputs, runs)
    assert not MAKE.current(str(script), params, outputs)
    # so does an edit of a saved file
    MAKE.run(str(script), params, outputs, runs)
    saved = Path(outputs) / "make" / "numbers.json"
    saved.write_text("[7]")
    assert not MAKE.current(str(script), params, outputs)


def test_the_command_line_reads_the_parameters_as_the_script_does(
    script: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    called: list[tuple[str, dict]] = []

    def pipeline(**params: object) -> dict:
        called.append(("pipeline", params))
        return {"add": {"run_id": "r1", "status": "finished", "metrics": {"total": 4.0}}}

    def sweep(grid: dict, params: dict) -> dict:
        called.append(("sweep", {"grid": grid, "params": params}))
        return {}

    assert run_flows(str(script), pipeline, sweep, ["--n", "4"]) == 0
    assert called == [("pipeline", {"n": 4, "extra": 1})]
    assert "add: run r1 finished; total 4" in capsys.readouterr().out
    assert run_flows(str(script), pipeline, sweep, ["--grid", '{"n": [1, 2]}']) == 0
    assert called[-1] == ("sweep", {"grid": {"n": [1, 2]}, "params": {}})
    for arguments, message in (
        (["--n", "many"], "argument --n: invalid int value: 'many' (see python counts.py --help)"),
        (["--grid", "[1]"], "argument --grid: expected parameter names to values"),
        (["--grid"], "argument --grid: expected a JSON object"),
        (["--nope"], "unrecognized arguments: --nope"),
    ):
        assert run_flows(str(script), pipeline, sweep, arguments) == 2
        [line] = capsys.readouterr().err.strip().splitlines()
        assert line.startswith(f"flow: error: {message}"), line
    assert len(called) == 2

    def failing(**params: object) -> dict:
        raise RuntimeError("step add: ZeroDivisionError: division by zero\n  (more)")

    assert run_flows(str(script), failing, sweep, []) == 1
    assert capsys.readouterr().err == (
        "flow: error: step add: ZeroDivisionError: division by zero (more)\n"
    )
