"""Golden files for the exporter: notebook cells in, exact script out (black-style cases).

A case file ``tests/golden/export/<name>.py`` holds the notebook as ``# %%`` cells (tags in
brackets: ``# %% [parameters]``, ``# %% [markdown]``; ``!error TypeError: message`` there is
no tag but a saved error output), a line ``# output``, then the whole expected script. A first
line ``# nb2pipe-flags: ...`` sets export options (``--allow-ipython``, ``--standalone``), runs
the script (``--run``; its stdout is compared with ``<name>.stdout`` when that exists) or says
a Python 2 kernel saved the notebook (``--python2``).
``pytest --update-golden`` rewrites the expected part; review that diff.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import libcst
import pyflakes.api
import pyflakes.reporter
import pytest

from nb2pipe.export import ExportOptions, render_notebook
from nb2pipe.export.api import _without_versions
from nb2pipe.model import load_notebook, notebook_from_json

from ..conftest import ROOT, SAMPLES

GOLDEN = ROOT / "tests" / "golden"
CASES = sorted((GOLDEN / "export").glob("*.py"))
OUTPUT_MARKER = "# output\n"


def read_case(path: Path) -> tuple[dict, list[str], str]:
    text = path.read_text(encoding="utf-8")
    source, _, expected = text.partition(OUTPUT_MARKER)
    flags: list[str] = []
    cells: list[dict] = []
    for line in source.splitlines(keepends=True):
        if line.startswith("# nb2pipe-flags:"):
            flags = line.split(":", 1)[1].split()
        elif line.startswith("# %%"):
            tags = line[4:].strip().strip("[]")
            tag_list = [t.strip() for t in tags.split(",") if t.strip()]
            kind = "markdown" if "markdown" in tag_list else "code"
            errors = [_saved_error(t) for t in tag_list if t.startswith("!error ")]
            tag_list = [t for t in tag_list if t != "markdown" and not t.startswith("!error ")]
            cells.append({"cell_type": kind, "source": "", "metadata": {"tags": tag_list}})
            if errors:
                cells[-1]["saved_outputs"] = errors
        elif cells:
            if cells[-1]["cell_type"] == "markdown":
                line = line[2:] if line.startswith("# ") else line.lstrip("#")
            cells[-1]["source"] += line
    for index, cell in enumerate(cells):
        cell["source"] = cell["source"].rstrip("\n")
        cell["id"] = f"c{index}"
        if cell["cell_type"] == "code":
            outputs = cell.pop("saved_outputs", [])
            cell.update(outputs=outputs, execution_count=index + 1 if outputs else None)
    kernelspec = {"name": "python3", "language": "python", "display_name": "Python 3"}
    metadata: dict = {"kernelspec": kernelspec}
    if "--python2" in flags:  # saved by a Python 2 kernel
        metadata = {
            "kernelspec": dict(kernelspec, name="python2", display_name="Python 2"),
            "language_info": {"name": "python", "version": "2.7.18"},
        }
    notebook = {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
    return notebook, flags, expected


def _saved_error(tag: str) -> dict:
    """``!error TypeError: message`` -> an nbformat error output."""
    ename, _, evalue = tag[len("!error ") :].partition(":")
    return {"output_type": "error", "ename": ename.strip(), "evalue": evalue.strip(), "traceback": []}


def export_case(path: Path) -> tuple[str, list[str], str]:
    data, flags, expected = read_case(path)
    notebook_path = path.with_suffix(".ipynb")
    notebook = notebook_from_json(json.dumps(data), notebook_path)
    options = ExportOptions(
        allow_ipython="--allow-ipython" in flags, standalone="--standalone" in flags
    )
    code = render_notebook(notebook, options, notebook_path.with_suffix(".py")).code
    return code, flags, expected


def undefined_names(code: str, filename: str) -> list[str]:
    """pyflakes' complaints about undefined names in ``code``."""

    class Collect(pyflakes.reporter.Reporter):
        def __init__(self) -> None:
            self.messages: list[str] = []

        def flake(self, message: object) -> None:
            if type(message).__name__ in ("UndefinedName", "UndefinedLocal"):
                self.messages.append(str(message))

        def syntaxError(self, *args: object) -> None:  # noqa: N802 (pyflakes API)
            self.messages.append(f"syntax error {args}")

        def unexpectedError(self, *args: object) -> None:  # noqa: N802
            self.messages.append(f"unexpected {args}")

    reporter = Collect()
    pyflakes.api.check(code, filename, reporter)
    return reporter.messages


def assert_sound_script(code: str, name: str) -> None:
    compile(code, name, "exec")
    libcst.parse_module(code)
    assert "get_ipython" not in code or "from IPython import get_ipython" in code
    assert undefined_names(code, name) == []


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_golden_case(case: Path, request: pytest.FixtureRequest) -> None:
    code, flags, expected = export_case(case)
    if request.config.getoption("--update-golden"):
        text = case.read_text(encoding="utf-8")
        folded = code
        case.write_text(text.partition(OUTPUT_MARKER)[0] + OUTPUT_MARKER + folded, encoding="utf-8")
        expected = folded
    assert _without_versions(code) == _without_versions(expected)
    assert_sound_script(code, case.name)
    # byte-stable: a second export of the same notebook gives the same text
    assert export_case(case)[0] == code


@pytest.mark.parametrize("case", [c for c in CASES if "# nb2pipe-flags: --run" in c.read_text()],
                         ids=lambda c: c.stem)
def test_golden_case_runs(case: Path, tmp_path: Path) -> None:
    code, _, _ = export_case(case)
    script = tmp_path / "script.py"
    script.write_text(code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    expected_stdout = case.with_suffix(".stdout")
    if expected_stdout.exists():
        assert result.stdout == expected_stdout.read_text(encoding="utf-8")
    # the figures the notebook showed inline, saved with the run
    expected_figures = case.with_suffix(".figures")
    if expected_figures.exists():
        saved = sorted(p.name for p in tmp_path.glob("runs/*/artifacts/figures/*.png"))
        assert saved == expected_figures.read_text(encoding="utf-8").split()


SAMPLE_NOTEBOOKS = sorted(SAMPLES.glob("*.ipynb"))


@pytest.mark.parametrize("notebook", SAMPLE_NOTEBOOKS, ids=lambda p: p.stem)
def test_golden_sample_scripts(notebook: Path, request: pytest.FixtureRequest) -> None:
    """The scripts of the sample notebooks, pinned (dependency versions aside)."""
    golden = GOLDEN / "samples" / (notebook.stem + ".py")
    code = render_notebook(load_notebook(notebook)).code
    if request.config.getoption("--update-golden"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(code, encoding="utf-8")
    expected = golden.read_text(encoding="utf-8")
    assert _without_versions(code) == _without_versions(expected)
    assert_sound_script(code, golden.name)
    assert render_notebook(load_notebook(notebook)).code == code
    ast.parse(code)
