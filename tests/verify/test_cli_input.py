"""Bad input and bad usage give exit 2 and a one-line reason, before any kernel starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

from nb2pipe.verify.cli import _DEFAULT_IMAGE_TOLERANCE, _DEFAULT_RTOL, _DEFAULT_TIMEOUT
from nb2pipe.verify.images import DEFAULT_IMAGE_TOLERANCE
from nb2pipe.verify.options import DEFAULT_TIMEOUT, VerifyOptions

from ..conftest import notebook_json
from .conftest import VerifyRun


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("notes.ipynb", "just some text", "invalid JSON at line 1 column 1"),
        ("broken.ipynb", '{"cells": [', "invalid JSON"),
        ("data.json", json.dumps({"a": 1}), "not a Jupyter notebook (no 'cells' list)"),
        ("empty.ipynb", "", "the file is empty"),
        ("old.ipynb", json.dumps({"worksheets": [], "nbformat": 3}), "nbformat 3 is not supported"),
        (
            "r.ipynb",
            json.dumps(notebook_json("x <- 1", kernel="ir", language="R")),
            "nb2pipe handles Python notebooks",
        ),
        (
            "null.ipynb",
            json.dumps(notebook_json("x = 1", {"source": None})),
            "null.ipynb, cell 2 (id c1): 'source' must be a string or a list of strings, not null",
        ),
    ],
)
def test_bad_notebook_exits_2(
    tmp_path: Path, run_verify: Callable[..., VerifyRun], name: str, content: str, error: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    outcome = run_verify(path)
    assert outcome.exit_code == 2, outcome.output
    report = outcome.notebook(name)
    assert report["status"] == "invalid" and error in report["error"]
    assert error in outcome.output and "Traceback" not in outcome.output


def test_missing_path_exits_2(tmp_path: Path, run_verify: Callable[..., VerifyRun]) -> None:
    outcome = run_verify(tmp_path / "nowhere.ipynb")
    assert outcome.exit_code == 2
    assert outcome.notebook("nowhere.ipynb")["error"] == "nowhere.ipynb: no such file"


def test_directory_without_notebooks_exits_2(
    tmp_path: Path, run_verify: Callable[..., VerifyRun]
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "empty" / ".ipynb_checkpoints" / "x-checkpoint.ipynb").write_text("{}")
    outcome = run_verify(tmp_path / "empty")
    assert outcome.exit_code == 2
    assert "no notebooks found" in outcome.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--update", "-p", "n", "2"], "--update cannot be combined with -p"),
        (["-p", "nope", "1"], "-p nope: no notebook has a parameter named 'nope'"),
        (["-p", "n", "two"], "-p n two: expected int"),
        (["-j", "0"], "Invalid value for '-j' / '--jobs'"),
        (["--rtol", "-1"], "Invalid value for '--rtol'"),
    ],
)
def test_bad_usage_exits_2(
    make_notebook: Callable[..., Path],
    run_verify: Callable[..., VerifyRun],
    args: list[str],
    message: str,
) -> None:
    notebook = make_notebook(("n = 1", ["parameters"]), "print(n)")
    outcome = run_verify(notebook, *args)
    assert outcome.exit_code == 2
    assert message in outcome.output
    assert outcome.report == {}  # stopped before running anything


def test_cli_defaults_match_the_library() -> None:
    # the CLI keeps its defaults as literals so that importing it stays cheap
    assert _DEFAULT_TIMEOUT == DEFAULT_TIMEOUT == VerifyOptions().timeout
    assert _DEFAULT_RTOL == VerifyOptions().rtol
    assert _DEFAULT_IMAGE_TOLERANCE == DEFAULT_IMAGE_TOLERANCE


def test_registering_verify_does_not_import_heavy_modules() -> None:
    import subprocess
    import sys

    code = (
        "import sys, nb2pipe.cli; "
        "heavy = [m for m in ('papermill', 'nbclient', 'rich', 'PIL', 'nb2pipe.verify.api') "
        "if m in sys.modules]; "
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_a_kernel_that_is_not_installed_is_a_usage_error(
    make_notebook: Callable[..., Path], run_verify: Callable[..., VerifyRun]
) -> None:
    notebook = make_notebook("print(1)")
    outcome = run_verify(notebook, "--kernel", "no-such-kernel")
    assert outcome.exit_code == 2, outcome.output
    assert "kernel 'no-such-kernel' is not installed; installed kernels: " in outcome.output
    assert "python3" in outcome.output and "Traceback" not in outcome.output
