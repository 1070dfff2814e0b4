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


@pytest.mark.parametrize(("fields", "message"), [
    ({"source": None}, "cell 2 (id c1): 'source' must be a string or a list of strings, not null"),
    ({"source": ["x", 1]}, "'source' must be a string or a list of strings, not an array"),
    ({"source": 3}, "'source' must be a string or a list of strings, not a number"),
    ({"metadata": []}, "cell 2 (id c1): 'metadata' must be an object, not an array"),
    ({"metadata": {"tags": None}}, "metadata.tags must be a list of strings"),
    ({"metadata": {"tags": "parameters"}}, "metadata.tags must be a list of strings"),
    ({"outputs": None}, "'outputs' must be an array, not null"),
    ({"outputs": ["text"]}, "output 1: must be an object, not a string"),
    ({"outputs": [{"output_type": "stream", "name": "stdout", "text": None}]},
     "output 1: 'text' must be a string or a list of strings, not null"),
    ({"outputs": [{"output_type": "display_data", "data": [], "metadata": {}}]},
     "output 1: 'data' must be an object, not an array"),
    ({"execution_count": "3"}, "'execution_count' must be an integer or null, not a string"),
    ({"id": 7}, "cell 2: 'id' must be a string, not a number"),
    ({"cell_type": "markdown", "attachments": []}, "'attachments' must be an object"),
])
def test_cell_fields_of_the_wrong_type_are_load_errors(fields, message) -> None:
    data = notebook_json("x = 1", "y = 2")
    data["cells"][1].update(fields)
    with pytest.raises(NotebookLoadError) as info:
        notebook_from_json(json.dumps(data))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_cell_without_source_is_a_load_error() -> None:
    data = notebook_json("x = 1")
    del data["cells"][0]["source"]
    with pytest.raises(NotebookLoadError, match="cell 1 .*: the cell has no 'source'"):
        notebook_from_json(json.dumps(data))


@pytest.mark.parametrize(("metadata", "message"), [
    ([], "'metadata' must be an object, not an array"),
    ({"kernelspec": "python3"}, "metadata.kernelspec must be an object, not a string"),
])
def test_notebook_metadata_of_the_wrong_type_is_a_load_error(metadata, message) -> None:
    data = notebook_json("x = 1")
    data["metadata"] = metadata
    with pytest.raises(NotebookLoadError, match=message):
        notebook_from_json(json.dumps(data))


def test_valid_optional_fields_still_load() -> None:
    data = notebook_json("x = 1", {"cell_type": "markdown", "source": ["# T\n", "text"]})
    data["cells"][0].update(
        source=["x = 1\n", "print(x)"], execution_count=3,
        outputs=[{"output_type": "stream", "name": "stdout", "text": ["1\n"]}],
    )
    del data["cells"][1]["metadata"]
    notebook = notebook_from_json(json.dumps(data))
    assert notebook.cells[0].source == "x = 1\nprint(x)" and notebook.cells[0].execution_count == 3
    assert notebook.cells[0].outputs[0].text == "1\n" and notebook.title == "T"
