"""How a cell ends is read from the kernel's execute reply: only a deliberate exit with no
status stops a notebook on purpose; every other failure, IPython's usage errors included
(saved as a stderr stream, with no error output), is an ``error``.

All notebooks run in one ``nb2pipe verify -j 2`` (each in its own kernel).
"""

from __future__ import annotations

import json

import pytest

from ..conftest import notebook_json
from .conftest import VerifyRun, code, invoke_verify, stderr, stdout

pytestmark = pytest.mark.kernel

#: notebook name -> (cells, expected [(cell index, reason)], a note expected in the report)
CASES: dict[str, tuple[list[dict[str, object]], list[tuple[int, str]], str]] = {
    # a mistyped option of a magic: papermill stops there, and no error output is saved
    "bad_magic_option.ipynb": (
        [code("x = 1\n%timeit -badflag x"), code("print(x)")],
        [(0, "error")],
        "1 later code cell(s) not run after the failure",
    ),
    "unknown_magic.ipynb": (
        [code("x = 1"), code("%notamagic x"), code("print(x)")],
        [(1, "error")],
        "1 later code cell(s) not run after the failure",
    ),
    # the same, with saved outputs that the cells after it would have matched
    "bad_magic_saved.ipynb": (
        [
            code("x = 1", count=1),
            code("%timeit -badflag x", count=2),
            code("print(x)", stdout("1\n"), count=3),
        ],
        [(1, "error")],
        "1 later code cell(s) not run after the failure",
    ),
    "sys_exit.ipynb": (
        [code("x = 1"), code("import sys\nsys.exit()"), code("print(x)")],
        [],
        (
            "1 code cell(s) not run: the notebook stops on purpose at cell 2 (id c1) "
            "`import sys` (SystemExit)"
        ),
    ),
    "raise_system_exit.ipynb": (
        [code("raise SystemExit"), code("print(1)")],
        [],
        "the notebook stops on purpose at cell 1 (id c0)",
    ),
    "sys_exit_zero.ipynb": (
        [code("import sys\nsys.exit(0)"), code("print(1)")],
        [],
        "the notebook stops on purpose at cell 1 (id c0)",
    ),
    # a status or a message is a failure, not a planned stop
    "sys_exit_status.ipynb": (
        [code("import sys\nsys.exit(3)", count=1), code("print(1)")],
        [(0, "error")],
        "",
    ),
    "sys_exit_message.ipynb": (
        [code('import sys\nsys.exit("no data")', count=1), code("print(1)")],
        [(0, "error")],
        "",
    ),
    # exit() and quit() are no planned stop: ipykernel shuts the kernel down 0.1 s after
    # answering, so whether the next cell still gets in is a race. The verdict must not hang
    # on it: the cell is an error, whatever the machine's load
    "exit_call.ipynb": (
        [code("exit()", count=1), code("print(2)", stdout("2\n"), count=2)],
        [(0, "error")],
        "1 later code cell(s) not run after the failure",
    ),
    "quit_mid_notebook.ipynb": (
        [
            code("x = 1", count=1),
            code("quit()", count=2),
            code("print(x)", stdout("1\n"), count=3),
            code("print(x + 1)", stdout("2\n"), count=4),
        ],
        [(1, "error")],
        "2 later code cell(s) not run after the failure",
    ),
    # the last code cell: nothing is lost when the kernel goes
    "exit_at_the_end.ipynb": (
        [code("print(1)", stdout("1\n"), count=1), code("exit()", count=2)],
        [],
        "",
    ),
    # keep_kernel=True: the kernel stays, and the run goes on
    "exit_keep_kernel.ipynb": (
        [code("exit(keep_kernel=True)", count=1), code("print(2)", stdout("2\n"), count=2)],
        [],
        "",
    ),
    # a usage error where the notebook expects one: it raised, and the run goes on
    "expected_usage_error.ipynb": (
        [
            code(
                "%timeit -badflag 1",
                stderr('UsageError: option -b not recognized (allowed: "n:r:tcp:qov:")\n'),
                count=1,
                tags=("raises-exception",),
            ),
            code("print(3)", stdout("3\n"), count=2),
        ],
        [],
        "",
    ),
}


@pytest.fixture(scope="module")
def stops(tmp_path_factory: pytest.TempPathFactory) -> VerifyRun:
    folder = tmp_path_factory.mktemp("stops")
    for name, (cells, _, _) in CASES.items():
        (folder / name).write_text(json.dumps(notebook_json(*cells)), encoding="utf-8")
    return invoke_verify(folder, "--no-script", "-j", "2", report_dir=folder)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_notebook_is_judged_from_the_kernel_reply(stops: VerifyRun, name: str) -> None:
    _, expected, note = CASES[name]
    assert stops.reasons(name) == expected, stops.output
    report = stops.notebook(name)
    assert report["status"] == ("differs" if expected else "reproduces")
    if note:
        assert any(note in line for line in report["notes"]), report["notes"]
    assert not any("SystemExit" in line for line in report["notes"]) or name.startswith(
        ("sys_exit", "raise_system_exit")
    )


def test_an_exit_call_says_why_the_run_ends_there(stops: VerifyRun) -> None:
    [finding] = stops.notebook("quit_mid_notebook.ipynb")["mismatches"]
    assert finding["message"].startswith("called exit(): ipykernel shuts the kernel down")
    assert "sys.exit()" in finding["message"]


def test_a_usage_error_quotes_what_ipython_said(stops: VerifyRun) -> None:
    [finding] = stops.notebook("bad_magic_option.ipynb")["mismatches"]
    assert finding["message"].startswith("raised UsageError: option -b not recognized")
    assert "UsageError" in finding["diff"]
    assert stops.exit_code == 1


def test_a_status_or_a_message_is_named(stops: VerifyRun) -> None:
    [status] = stops.notebook("sys_exit_status.ipynb")["mismatches"]
    assert status["message"] == "raised SystemExit: 3"
    [message] = stops.notebook("sys_exit_message.ipynb")["mismatches"]
    assert message["message"] == "raised SystemExit: no data"
