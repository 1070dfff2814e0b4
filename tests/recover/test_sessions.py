"""``nb2pipe recover`` on generated sessions (tests/recover/sessions.py), in real kernels.

Each family is worked on in a tracked kernel and saved; then recovered twice: beside its
``%track`` history, and from a copy of the notebook alone. A recovered notebook is checked
independently of recover's own proof: executed by nbclient (not papermill) in a fresh kernel,
every saved output of the original must come out of the cell that carries it. A notebook
that cannot come back must give exit 1, write nothing, and name the cell with a reason.

``NB2PIPE_RECOVER_PROFILE=thorough`` runs five seeds of every family (see bench/README.md).
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from nb2pipe.model import notebook_from_json
from nb2pipe.recover import RecoverOptions, recover_notebook
from nb2pipe.verify.compare import CompareOptions, compare_outputs
from tests.recover.sessions import SESSION_FAMILIES, sessions

pytestmark = pytest.mark.kernel

PROFILE = os.environ.get("NB2PIPE_RECOVER_PROFILE", "ci")


def _work(family: str, seed: int, tracked: bool, folder: Path) -> Path:
    build, _ = SESSION_FAMILIES[family]
    path = folder / f"{family}.ipynb"
    notebook = build(random.Random(f"{family}-{seed}"), path, tracked)
    notebook.shutdown()
    return path


def assert_gives_back_the_saved_outputs(original: Path, recovered: Path) -> int:
    """Run the recovered notebook with nbclient and compare each saved output of the
    original with what the recovered cell that carries it printed. Returns how many."""
    saved = notebook_from_json(json.loads(original.read_text()), original)
    document = nbformat.read(str(recovered), as_version=4)  # type: ignore[no-untyped-call]
    carrying = {
        cell.metadata["nb2pipe"]["source_cell"]: index
        for index, cell in enumerate(document.cells)
        if cell.cell_type == "code" and cell.get("execution_count") is not None
    }
    client = NotebookClient(
        document, timeout=120, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(recovered.parent)}},
    )
    client.execute()
    fresh = notebook_from_json(json.loads(nbformat.writes(document)), recovered)  # type: ignore[no-untyped-call]
    checked = 0
    for cell in saved.code_cells:
        if cell.execution_count is None or cell.source.startswith("%load_ext nb2pipe"):
            continue
        assert cell.id in carrying, f"{cell.label}: no recovered cell carries its outputs"
        comparison = compare_outputs(
            cell.outputs, fresh.cells[carrying[cell.id]].outputs, CompareOptions()
        )
        assert comparison.equal, (cell.label, comparison.differences)
        checked += 1
    return checked


@pytest.fixture(scope="module")
def worked(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int, bool], Path]:
    """Every session of the profile, worked on and saved once for the module."""
    root = tmp_path_factory.mktemp("sessions")
    out = {}
    for family, seed, tracked in sessions(PROFILE):
        folder = root / f"{family}-{seed}-{'tracked' if tracked else 'untracked'}"
        folder.mkdir()
        out[(family, seed, tracked)] = _work(family, seed, tracked, folder)
    return out


def _id(session: tuple[str, int, bool]) -> str:
    family, seed, tracked = session
    return f"{family}-{seed}" + ("" if tracked else "-untracked")


@pytest.mark.parametrize("session", [s for s in sessions(PROFILE) if s[2]], ids=_id)
def test_with_history(
    worked: dict[tuple[str, int, bool], Path], session: tuple[str, int, bool]
) -> None:
    path = worked[session]
    expected = SESSION_FAMILIES[session[0]][1]
    result = recover_notebook(path, RecoverOptions(force=True))
    assert result.recovered == expected.with_history, [p.line() for p in result.problems]
    output = path.with_name(f"{path.stem}.recovered.ipynb")
    if not expected.with_history:
        assert not output.exists()
        assert result.problems and expected.reason in " ".join(p.reason for p in result.problems)
        return
    assert result.path is not None and result.path.origin == "history"
    assert assert_gives_back_the_saved_outputs(path, output) >= 1


@pytest.mark.parametrize("session", sessions(PROFILE), ids=_id)
def test_without_history(
    worked: dict[tuple[str, int, bool], Path], session: tuple[str, int, bool], tmp_path: Path
) -> None:
    original = worked[session]
    family = session[0]
    path = tmp_path / original.name
    shutil.copy2(original, path)
    for data in original.parent.glob("*.txt"):
        shutil.copy2(data, tmp_path / data.name)
    expected = SESSION_FAMILIES[family][1]
    result = recover_notebook(path, RecoverOptions())  # the default budget
    output = path.with_name(f"{path.stem}.recovered.ipynb")
    assert result.recovered == expected.without_history, [p.line() for p in result.problems]
    if not expected.without_history:
        assert not output.exists()
        assert result.problems, "a failure names the cells it could not give back"
        if expected.reason:
            assert expected.reason in " ".join(p.reason for p in result.problems)
        return
    assert result.path is not None and result.path.origin == "search"
    assert assert_gives_back_the_saved_outputs(path, output) >= 1
