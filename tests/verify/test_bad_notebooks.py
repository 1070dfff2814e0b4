"""``nb2pipe verify`` against bad notebooks of every class (tests/bad_notebooks.py): refused in
one line with the same reason as export, before any kernel starts; odd but readable ones
verified."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

from nb2pipe.verify.cli import _DEFAULT_MAX_SIZE_MB
from nb2pipe.verify.options import VerifyOptions

from ..bad_notebooks import (
    ACCEPTED,
    MB,
    PYTHON_2_METADATA,
    REFUSED,
    BadCase,
    notebook,
    write_case,
)
from .conftest import VerifyRun, stdout


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.id)
def test_bad_notebook_is_invalid_exit_2_in_one_line(
    tmp_path: Path, run_verify: Callable[..., VerifyRun], case: BadCase
) -> None:
    folder = tmp_path / "work"
    path = write_case(case, folder)
    outcome = run_verify(path)
    assert outcome.exit_code == 2, outcome.output
    report = outcome.notebook(case.file_name)
    assert report["status"] == "invalid"
    for words in case.refusal:
        assert words in report["error"]
    assert report["error"].startswith(case.file_name) and "\n" not in report["error"]
    lines = [line for line in outcome.output.splitlines() if report["error"] in line]
    assert len(lines) == 1, outcome.output
    for words in case.not_in + ("Traceback", "Error:"):
        assert words not in outcome.output
    assert sorted(p.name for p in folder.iterdir()) == [case.file_name]


@pytest.mark.kernel
@pytest.mark.parametrize("case", ACCEPTED, ids=lambda case: case.id)
def test_odd_but_readable_notebook_is_verified(
    tmp_path: Path, run_verify: Callable[..., VerifyRun], case: BadCase
) -> None:
    path = write_case(case, tmp_path / "work")
    outcome = run_verify(path)
    assert outcome.exit_code == 0, outcome.output
    report = outcome.notebook(case.file_name)
    assert report["status"] == "reproduces", report
    notes = [note for note in report["notes"] if case.note and case.note in note]
    assert len(notes) == (1 if case.note else 0), report


@pytest.mark.kernel
def test_a_python_2_notebook_is_run_on_python_3_and_its_differences_named(
    tmp_path: Path, run_verify: Callable[..., VerifyRun]
) -> None:
    """What the export summary promises: verify runs it (on Python 3: no python2 kernel is
    installed) and names the cell whose saved Python 2 output differs."""
    data = notebook("print(7 / 2)", "print('same')", metadata=PYTHON_2_METADATA)
    for number, (cell, text) in enumerate(zip(data["cells"], ("3\n", "same\n")), 1):
        cell["outputs"] = [stdout(text)]
        cell["execution_count"] = number
    path = tmp_path / "legacy.ipynb"
    path.write_text(json.dumps(data))
    outcome = run_verify(path)
    assert outcome.exit_code == 1, outcome.output
    report = outcome.notebook("legacy.ipynb")
    assert report["status"] == "differs"
    assert outcome.reasons("legacy.ipynb") == [(0, "output-differs")]
    assert any("saved by a Python 2 kernel" in note for note in report["notes"]), report


def test_max_size_is_verifys_too(tmp_path: Path, run_verify: Callable[..., VerifyRun]) -> None:
    path = tmp_path / "big.ipynb"
    data = notebook("x = 1")
    data["cells"].append(
        {"cell_type": "markdown", "id": "m", "metadata": {}, "source": "#" * (2 * MB)}
    )
    path.write_text(json.dumps(data))
    outcome = run_verify(path, "--max-size", "1")
    assert outcome.exit_code == 2
    assert "larger than the 1.0 MB limit" in outcome.notebook("big.ipynb")["error"]
    assert _DEFAULT_MAX_SIZE_MB * MB == VerifyOptions().max_notebook_size
