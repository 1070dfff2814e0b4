"""Loading notebooks into the typed model."""

from __future__ import annotations

import json

import pytest

from nb2pipe.errors import NotebookLoadError, TagError
from nb2pipe.model import CellKind, load_notebook, notebook_from_json

from ..conftest import SAMPLES, notebook_json


def test_sample_notebooks_load_with_roles() -> None:
    notebook = load_notebook(SAMPLES / "train_classifier.ipynb")
    assert notebook.title == "Wine cultivar classifier"
    parameters = [cell for cell in notebook.cells if cell.role.parameters]
    assert len(parameters) == 1 and parameters[0].kind is CellKind.CODE
    assert any(cell.role.metrics for cell in notebook.cells)
    assert all(cell.id for cell in notebook.cells)
    assert any(output.output_type == "stream" for cell in notebook.cells for output in cell.outputs)


@pytest.mark.parametrize("tags, attribute, value", [
    (["parameters"], "parameters", True),
    (["pipeline-parameters"], "parameters", True),
    (["skip"], "skip", True),
    (["active-ipynb"], "skip", True),
    (["nbval-ignore-output"], "ignore_output", True),
    (["step:train"], "step", "train"),
    (["block:load"], "step", "load"),
    (["raises-exception"], "raises_exception", True),
    (["nb2pipe:keep"], "keep_display", True),
    (["unrelated-tool:tag"], "skip", False),
])
def test_tags(tags, attribute, value) -> None:
    notebook = notebook_from_json(json.dumps(notebook_json(("x = 1", tags))))
    assert getattr(notebook.cells[0].role, attribute) == value


@pytest.mark.parametrize("tags, message", [
    (["nb2pipe:skp"], "unknown tag 'nb2pipe:skp'"),
    (["step:not valid"], "must be a Python identifier"),
    (["step:a", "step:b"], "starts two steps"),
])
def test_bad_tags(tags, message) -> None:
    with pytest.raises(TagError, match=message):
        notebook_from_json(json.dumps(notebook_json(("x = 1", tags))))


def test_old_minor_versions_without_ids_load() -> None:
    data = notebook_json("x = 1")
    data["nbformat_minor"] = 2
    del data["cells"][0]["id"]
    notebook = notebook_from_json(json.dumps(data))
    assert notebook.cells[0].id is None and notebook.cells[0].label == "cell 1"


def test_errors_are_picklable_one_liners(tmp_path) -> None:
    import pickle

    path = tmp_path / "x.ipynb"
    path.write_text("[1]")
    with pytest.raises(NotebookLoadError) as info:
        load_notebook(path)
    error = pickle.loads(pickle.dumps(info.value))
    assert str(error) == str(info.value) == "x.ipynb: not a Jupyter notebook (no 'cells' list)"
