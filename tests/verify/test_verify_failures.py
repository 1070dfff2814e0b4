"""Each way a notebook fails to reproduce gets exit 1, the right cell and the right reason.

The notebooks run in one ``nb2pipe verify -j 2`` invocation (each in its own kernel) to keep
the suite fast; every case is still asserted on its own notebook's report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from junitparser import TestCase

from ..conftest import notebook_json
from .conftest import VerifyRun, code, error, invoke_verify, stdout

pytestmark = pytest.mark.kernel

#: notebook name -> cells (saved as if they had run) and the expected (cell index, reason) list
CASES = {
    # a saved output edited by hand; unseeded randomness, drawn in one cell and shown in the
    # next; an allowed exception; then a cell that raises (the rest never runs)
    "edited_random_error.ipynb": (
        [
            code('print("hello")', stdout("hallo\n"), count=1),
            code("import random\nvalue = random.random()", count=2),
            code("print(round(value, 3))", stdout("0.5\n"), count=3),
            code(
                "1 / 0",
                error("ZeroDivisionError", "division by zero"),
                count=4,
                tags=("raises-exception",),
            ),
            code("print(2 + 2)", stdout("4\n"), count=5),
            code('raise ValueError("boom")', count=6),
            code('print("never")', stdout("never\n"), count=7),
        ],
        [(0, "output-differs"), (2, "nondeterministic"), (5, "error")],
    ),
    # saved counts out of order, and the printed value depends on that order
    "out_of_order.ipynb": (
        [
            code("x = 10", count=2),
            code("x = 1", count=1),
            code("print(x)", stdout("10\n"), count=3),
        ],
        [(2, "out-of-order-saved")],
    ),
    "dead_kernel.ipynb": (
        [
            code('print("start")', stdout("start\n"), count=1),
            code("import os\nos._exit(1)", count=2),
        ],
        [(1, "dead-kernel")],
    ),
    "endless.ipynb": (
        [
            code('print("start")', stdout("start\n"), count=1),
            code("while True:\n    pass", count=2),
        ],
        [(1, "timeout")],
    ),
    # a translated magic that behaves differently: %timeit runs its statement 3 times in the
    # kernel, the script runs it once. Saved without outputs: the fresh run is judged alone,
    # then the script against it.
    "script_differs.ipynb": (
        [
            code("counter = []"),
            code("%timeit -n 3 -r 1 counter.append(1)"),
            code("print(len(counter))"),
        ],
        [(2, "script-differs")],
    ),
    "script_fails.ipynb": (
        [
            code(
                'import sys\nassert "ipykernel" in sys.modules, "needs a kernel"\n'
                'print("in a kernel")'
            )
        ],
        [(None, "script-failed")],
    ),
    # a metric the script records (run.json) that differs from the notebook's value
    "metrics_differ.ipynb": (
        [
            code("import sys\nprint('loaded')", tags=("step:train",)),
            code('accuracy = 1.0 if "ipykernel" in sys.modules else 0.5', tags=("metrics",)),
        ],
        [(1, "script-differs")],
    ),
    # -p reaches both runs, typed by the parameters cell (a Path stays a Path, a tuple a tuple)
    "parameters.ipynb": (
        [
            code(
                'from pathlib import Path\nn = 1\nfolder = Path("a")\nsizes = (1,)',
                count=1,
                tags=("parameters",),
            ),
            code(
                "print(n * 2, type(folder).__name__, folder, type(sizes).__name__, sizes)",
                stdout("4 PosixPath b tuple (3, 4)\n"),
                count=2,
            ),
        ],
        [],
    ),
    # papermill's `msg = None`: -p types the text as papermill does, and the script's --msg
    # reads it the same way (a JSON literal, else the text)
    "papermill_none.ipynb": (
        [
            code("msg = None", count=1, tags=("parameters",)),
            code("print(type(msg).__name__, msg)", stdout("list [1, 2]\n"), count=2),
        ],
        [],
    ),
    # a line magic meant to go on while brackets are open: IPython ends it with its line, so
    # the kernel fails on the cell, as the static check (the same as export's) says
    "magic_cut.ipynb": (
        [
            code("total = 0", count=1),
            code("%time total = sum([1,\n    2])", count=2),
            code("print(total)", stdout("3\n"), count=3),
        ],
        [(1, "error")],
    ),
}


@pytest.fixture(scope="module")
def failures(tmp_path_factory: pytest.TempPathFactory) -> VerifyRun:
    folder = tmp_path_factory.mktemp("failures")
    for name, (cells, _) in CASES.items():
        (folder / name).write_text(json.dumps(notebook_json(*cells)), encoding="utf-8")
    return invoke_verify(
        folder,
        "-j",
        "2",
        "--timeout",
        "3",
        "-p",
        "n",
        "2",
        "-p",
        "folder",
        "b",
        "-p",
        "sizes",
        "[3, 4]",
        "-p",
        "msg",
        "[1, 2]",
        "--junit",
        folder / "report.xml",
        "--html",
        folder / "report.html",
        report_dir=folder,
    )


def test_exit_code_is_1(failures: VerifyRun) -> None:
    assert failures.exit_code == 1, failures.output
    assert failures.report["summary"] == {
        "notebooks": len(CASES),
        "reproduce": sum(not reasons for _, reasons in CASES.values()),
        "differ": sum(bool(reasons) for _, reasons in CASES.values()),
        "invalid": 0,
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_failure_names_cell_and_reason(failures: VerifyRun, name: str) -> None:
    assert failures.reasons(name) == CASES[name][1], failures.output


def test_error_reports_the_exception_and_the_cells_not_run(failures: VerifyRun) -> None:
    report = failures.notebook("edited_random_error.ipynb")
    error_finding = report["mismatches"][-1]
    assert error_finding["message"] == "raised ValueError: boom"
    assert "ValueError" in error_finding["diff"]  # traceback excerpt, no ANSI codes
    assert "\x1b" not in error_finding["diff"]
    assert "1 later code cell(s) not run after the failure" in report["notes"]
    # the allowed exception (raises-exception) and the cell after it compared equal
    assert report["cells_compared"] == 5
    assert report["script"]["status"] == "skipped"


def test_a_cut_magic_is_named_by_the_static_check(failures: VerifyRun) -> None:
    report = failures.notebook("magic_cut.ipynb")
    assert any(
        "line 2: `%time total = sum([1,` (line 1) ends with its line" in note
        for note in report["notes"]
    ), report["notes"]


def test_edited_output_shows_a_diff(failures: VerifyRun) -> None:
    edited = failures.notebook("edited_random_error.ipynb")["mismatches"][0]
    assert edited["message"] == "stdout differs"
    assert "-hallo" in edited["diff"] and "+hello" in edited["diff"]


def test_nondeterministic_names_the_random_source(failures: VerifyRun) -> None:
    report = failures.notebook("edited_random_error.ipynb")
    random_finding = report["mismatches"][1]
    assert (
        "reads 'value' from cell 2 (id c1), which draws unseeded random numbers"
        in random_finding["message"]
    )
    assert [h["kind"] for h in report["static_hazards"]] == ["unseeded-random"]


def test_out_of_order_is_found_statically_too(failures: VerifyRun) -> None:
    report = failures.notebook("out_of_order.ipynb")
    assert [h["kind"] for h in report["static_hazards"]] == ["out-of-order"]
    assert "not from a top-to-bottom run" in report["mismatches"][0]["message"]
    # the script (x = 10; x = 1; print(x)) agrees with the fresh run, not with the saved output
    assert report["script"]["status"] == "equal"
    # where the outputs came from: another path, which recover finds
    assert any(
        note.startswith("the saved outputs came from another path: nb2pipe recover ")
        and note.endswith("out_of_order.ipynb")
        for note in report["notes"]
    ), report["notes"]
    # an edited output with counts in order and no history is no other path
    assert not any("nb2pipe recover" in n for n in failures.notebook(
        "edited_random_error.ipynb")["notes"])


def test_dead_kernel_and_timeout_are_findings_not_crashes(failures: VerifyRun) -> None:
    dead = failures.notebook("dead_kernel.ipynb")["mismatches"][0]
    assert dead["message"] == "the kernel died while running the cell (exit status 1)"
    timeout = failures.notebook("endless.ipynb")["mismatches"][0]
    assert timeout["message"] == "the cell ran longer than the 3 s timeout"


def test_script_differs_shows_both_outputs(failures: VerifyRun) -> None:
    report = failures.notebook("script_differs.ipynb")
    assert "saved without outputs: nothing to compare; judged the run alone" in report["notes"]
    finding = report["mismatches"][0]
    assert finding["cell"] == "cell 3 (id c2)"
    assert "-3" in finding["diff"] and "+1" in finding["diff"]


def test_script_failure_quotes_its_error(failures: VerifyRun) -> None:
    finding = failures.notebook("script_fails.ipynb")["mismatches"][0]
    assert finding["message"] == "the script exited with status 1: AssertionError: needs a kernel"


def test_metrics_of_the_run_record_are_compared(failures: VerifyRun) -> None:
    finding = failures.notebook("metrics_differ.ipynb")["mismatches"][0]
    assert finding["message"] == (
        "metric accuracy: the notebook has 1.0, the script's run record 0.5"
    )
    assert finding["cell"] == "cell 2 (id c1)"


def test_parameters_reach_notebook_and_script(failures: VerifyRun) -> None:
    report = failures.notebook("parameters.ipynb")
    assert report["status"] == "reproduces", report
    assert report["script"]["status"] == "equal"
    assert (
        "-p n: not a parameter of this notebook; ignored"
        in failures.notebook("endless.ipynb")["notes"]
    )


def test_terminal_output_names_cells_and_reasons(failures: VerifyRun) -> None:
    assert "cell 6 (id c5)  error  raised ValueError: boom" in failures.output
    assert "cell 2 (id c1)  dead-kernel" in failures.output
    reproduce = sum(not reasons for _, reasons in CASES.values())
    assert (
        f"{len(CASES)} notebooks: {reproduce} reproduce, {len(CASES) - reproduce} differ"
        in failures.output
    )


def notebook_case_of(cases: list[TestCase], name: str) -> TestCase:
    return next(c for c in cases if c.classname == "nb2pipe.verify" and c.name.endswith(name))


def test_junit_report_parses_with_a_case_per_notebook_and_per_differing_cell(
    failures: VerifyRun, tmp_path: Path
) -> None:
    from junitparser import Failure, JUnitXml

    path = Path(failures.report["notebooks"][0]["path"]).parent / "report.xml"
    xml = JUnitXml.fromfile(str(path))
    cases = [case for suite in xml for case in suite]
    # one case per notebook, and one per differing cell (a finding about no cell fails the
    # notebook's own case)
    cells = sum(len({cell for cell, _ in CASES[name][1] if cell is not None}) for name in CASES)
    assert len(cases) == len(CASES) + cells
    assert not notebook_case_of(cases, "script_fails.ipynb").is_passed
    by_name = {(case.classname, case.name): case for case in cases}
    notebook = str(path.parent / "endless.ipynb")
    assert ("nb2pipe.verify", notebook) in by_name
    timeout_case = by_name[(notebook, "cell 2 (id c1)")]
    assert isinstance(timeout_case.result[0], Failure)
    assert timeout_case.result[0].type == "timeout"
    passing = by_name[("nb2pipe.verify", str(path.parent / "parameters.ipynb"))]
    assert passing.is_passed


def test_html_report_shows_saved_and_fresh_side_by_side(failures: VerifyRun) -> None:
    path = Path(failures.report["notebooks"][0]["path"]).parent / "report.html"
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert '<span class="reason">output-differs</span>' in page
    assert "<th>saved</th><th>fresh</th>" in page
    assert "hallo" in page and "hello" in page


def test_json_report_validates_against_the_schema(failures: VerifyRun) -> None:
    from .test_reports import validate_report

    validate_report(failures.report)
