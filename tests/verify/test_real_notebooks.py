"""Habits of real notebooks verify must judge right: errors on purpose, randomness no rule
sees, introspection the script leaves out, parameters other than the saved ones.

The notebooks run in one ``nb2pipe verify -j 2`` invocation to keep the suite fast.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from ..conftest import ROOT, notebook_json
from .conftest import VerifyRun, code, error, invoke_verify, stdout

pytestmark = pytest.mark.kernel

NOTEBOOKS = {
    # a teaching notebook: a cell raises on purpose, with no raises-exception tag
    "saved_error.ipynb": [
        code("numbers = [1, 2]", count=1),
        code("numbers[0] + 'a'", error("TypeError", "unsupported operand type(s) for +: 'int' and 'str'"), count=2),
        code("print(sum(numbers))", stdout("3\n"), count=3),
    ],
    # the unseeded draw is inside a function the notebook defines
    "random_in_function.ipynb": [
        code("import numpy as np\n\ndef generate_data(n):\n    return np.random.randn(n)", count=1),
        code("data = generate_data(3)\nprint(round(float(data.sum()), 9))", stdout("0.123456789\n"), count=2),
    ],
    # randomness no static rule can see: two fresh runs differ
    "hidden_random.ipynb": [
        code("import os\nprint(os.urandom(8).hex())", stdout("00000000000000ff\n"), count=1),
        code("print('steady')", stdout("steady\n"), count=2),
        # below the cell in question: the second run stops before it
        code("with open('hidden_random.runs', 'a') as log:\n    log.write('ran\\n')", count=3),
    ],
    # %whos by automagic: the script leaves it out, and its output is not expected from it
    "introspection.ipynb": [
        code("x = 1", count=1),
        code("whos"),
        code("print(x)", stdout("1\n"), count=3),
    ],
    # the folder listing: the script's copy of the folder holds the same files
    "listing.ipynb": [code("!ls"), code("ls")],
    # saved at the default n = 1, verified with -p n 2
    "other_parameters.ipynb": [
        code("n = 1", count=1, tags=("parameters",)),
        code("print(n * 10)", stdout("10\n"), count=2),
    ],
}


@pytest.fixture(scope="module")
def verified(tmp_path_factory: pytest.TempPathFactory) -> VerifyRun:
    folder = tmp_path_factory.mktemp("real")
    for name, cells in NOTEBOOKS.items():
        (folder / name).write_text(json.dumps(notebook_json(*cells)), encoding="utf-8")
    return invoke_verify(folder, "-j", "2", "-p", "n", "2", report_dir=folder)


def test_a_cell_saved_with_an_error_is_expected_to_raise(verified: VerifyRun) -> None:
    report = verified.notebook("saved_error.ipynb")
    assert report["status"] == "reproduces", verified.output
    assert report["script"]["status"] == "equal"
    note = "cell 2 (id c1): saved with an error (TypeError); expected to raise, as if tagged raises-exception"
    assert note in report["notes"]
    assert note in verified.output


def test_strict_errors_makes_it_an_error(tmp_path: Path) -> None:
    notebook = tmp_path / "saved_error.ipynb"
    notebook.write_text(json.dumps(notebook_json(*NOTEBOOKS["saved_error.ipynb"])), encoding="utf-8")
    run = invoke_verify(notebook, "--strict-errors", report_dir=tmp_path)
    assert run.exit_code == 1
    assert run.reasons("saved_error.ipynb") == [(1, "error")]
    assert run.notebook("saved_error.ipynb")["mismatches"][0]["message"] == (
        "raised TypeError: unsupported operand type(s) for +: 'int' and 'str'"
    )


def test_a_draw_inside_a_notebook_function_is_the_cause(verified: VerifyRun) -> None:
    report = verified.notebook("random_in_function.ipynb")
    [finding] = report["mismatches"]
    assert finding["reason"] == "nondeterministic"
    assert "np.random.randn in generate_data()" in finding["message"]
    assert finding["source"] == "data = generate_data(3)"
    assert finding["hint"].endswith("tag the cell nb2pipe:ignore-output")
    # the script draws other numbers too: its line there is not compared
    assert report["script"]["status"] == "equal"


def test_randomness_no_rule_sees_is_found_by_a_second_run(verified: VerifyRun) -> None:
    report = verified.notebook("hidden_random.ipynb")
    assert verified.reasons("hidden_random.ipynb") == [(0, "nondeterministic")]
    finding = report["mismatches"][0]
    assert finding["message"] == "stdout differs — two fresh runs differ (stdout differs)"
    assert "ran the notebook a second time: cell 1 (id c0) differ between two fresh runs" in report["notes"]
    assert report["script"]["status"] == "equal"
    assert "      > import os" in verified.output
    # the second run went as far as the cell in question: the last cell ran once, in the first
    folder = Path(report["path"]).parent
    assert (folder / "hidden_random.runs").read_text() == "ran\n"
    assert "hint: its output varies by run: if that is expected, tag the cell nb2pipe:ignore-output" in verified.output


def test_introspection_output_is_not_expected_from_the_script(verified: VerifyRun) -> None:
    report = verified.notebook("introspection.ipynb")
    assert report["status"] == "reproduces", verified.output
    assert report["script"]["status"] == "equal"
    assert any("stdout of cell 2 (id c1) not expected from the script" in n for n in report["notes"])


def test_other_parameters_compare_the_script_with_the_fresh_run_only(verified: VerifyRun) -> None:
    report = verified.notebook("other_parameters.ipynb")
    assert report["status"] == "reproduces", verified.output
    assert report["cells_compared"] == 0 and report["script"]["status"] == "equal"
    assert (
        "run with n=2, not the values the outputs were saved with: the saved outputs are not "
        "compared; the script's output is compared with the fresh run"
    ) in report["notes"]


def test_the_script_lists_the_same_folder(verified: VerifyRun) -> None:
    report = verified.notebook("listing.ipynb")
    assert report["script"]["status"] == "equal", verified.output


def test_the_report_validates(verified: VerifyRun) -> None:
    schema = json.loads((ROOT / "docs" / "verify-report.schema.json").read_text())
    jsonschema.validate(verified.report, schema)
