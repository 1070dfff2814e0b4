"""%track under nbclient and papermill: no cell ids are sent, so tracking runs in degraded mode."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import notebook_json
from tests.tracking.conftest import SCHEMA

pytestmark = pytest.mark.kernel


def _notebook(path: Path, *sources: str) -> Path:
    data = notebook_json(*[{"cell_type": "code", "id": f"n{i}", "source": s} for i, s in enumerate(sources)])
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")


def _stderr(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")


def test_nbclient_run_without_notebook_path_says_degraded(tmp_path: Path) -> None:
    path = _notebook(
        tmp_path / "plain.ipynb",
        "%load_ext nb2pipe\n%track on",
        "xs = [1, 2]",
        "xs.append(3)",
        "import numpy as np\nnoise = np.random.rand()",
        "%track status",
        "%track report --json",
        "model = 'a'",
        "model = 'b'\nprint(later)",
        "later = 1",
        "%track report --json",
    )
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
                   allow_errors=True).execute()
    cells = nb.cells
    assert "mutation" not in _stderr(cells[2])  # once, in order: what a fresh run does too
    assert "unseeded-random" in _stderr(cells[3])
    status = _stdout(cells[4])
    assert "notebook: unknown" in status
    assert "degraded mode" in status and "not sent for" in status
    assert "not available here: edited, undefined-in-fresh-kernel, multiple-definitions" in status
    report = json.loads(_stdout(cells[5]))
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    assert report["notebook"] is None
    assert {h["kind"] for h in report["hazards"]} == {"unseeded-random"}
    # what status calls unavailable (no notebook file: no fresh-kernel order, no saved
    # sources) the report does not list either
    later = json.loads(_stdout(cells[9]))
    kinds = {h["kind"] for h in later["hazards"]}
    assert not kinds & {"edited", "undefined-in-fresh-kernel", "multiple-definitions"}, kinds
    assert "multiple-definitions" not in _stderr(cells[7]) and "undefined" not in _stderr(cells[7])
    # without a notebook file there is no place for a history log beside it
    assert not (tmp_path / ".nb2pipe").exists()


def test_papermill_with_notebook_path_matches_cells_by_source(tmp_path: Path) -> None:
    import papermill

    source = _notebook(
        tmp_path / "analysis.ipynb",
        "%load_ext nb2pipe",
        "%track --notebook analysis.ipynb",
        "total = 0",
        "total += 5",
        "model = 'a'",
        "model = 'b'",
        "%track report --json",
    )
    out = papermill.execute_notebook(
        str(source), str(tmp_path / "out.ipynb"), cwd=str(tmp_path), kernel_name="python3",
        progress_bar=False,
    )
    report = json.loads(_stdout(out.cells[6]))
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    assert report["notebook"] == str(source)
    hazards = {(h["kind"], h["cell_id"]) for h in report["hazards"]}
    # cells are recognised by their source text: hazards name the saved cells
    assert ("multiple-definitions", "n5") in hazards
    assert report["rerun"] == [] and report["restart"] is None
    log = (tmp_path / ".nb2pipe" / "analysis.history.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in log if '"execution"' in line]
    assert [e["cell_key"] for e in events[:4]] == ["n2", "n3", "n4", "n5"]
    assert all(e["cell_id"] for e in events[:4])
