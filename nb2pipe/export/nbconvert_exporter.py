"""``jupyter nbconvert --to nb2pipe``: the same script text as ``nb2pipe export``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbconvert.exporters import Exporter
from traitlets import Bool

from nb2pipe.export.api import render_notebook
from nb2pipe.export.options import ExportOptions
from nb2pipe.model import notebook_from_json

__all__ = ["Nb2PipeExporter"]


class Nb2PipeExporter(Exporter):  # type: ignore[misc]
    """Export a notebook to a clean, parameterized script (see ``nb2pipe export --help``).

    File-safety options (``--force``, ``--check``) belong to ``nb2pipe export``; nbconvert
    writes its output as it does for every format.
    """

    export_from_notebook = "Python script (nb2pipe)"
    output_mimetype = "text/x-python"
    allow_ipython = Bool(
        False, help="Keep magics without a Python translation (the script then needs IPython)."
    ).tag(config=True)

    def _file_extension_default(self) -> str:
        return ".py"

    def from_notebook_node(
        self, nb: Any, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        nb_copy, resources = super().from_notebook_node(nb, resources, **kw)
        metadata = resources.get("metadata", {})
        folder = Path(metadata.get("path") or ".")
        name = metadata.get("name") or "notebook"
        notebook_path = folder / f"{name}.ipynb"
        notebook = notebook_from_json(_plain(nb_copy), notebook_path)
        options = ExportOptions(allow_ipython=self.allow_ipython)
        result = render_notebook(notebook, options, notebook_path.with_suffix(".py"))
        resources["output_extension"] = ".py"
        return result.code, resources


def _plain(node: Any) -> Any:
    """NotebookNode → plain dicts and lists (the model reads JSON-shaped data)."""
    if isinstance(node, dict):
        return {key: _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    return node
