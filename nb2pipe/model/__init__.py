"""The notebook model: typed, immutable cells and notebooks, and the loader that builds them."""

from nb2pipe.model.load import (
    DEFAULT_MAX_SIZE,
    load_notebook,
    notebook_from_json,
    output_from_json,
)
from nb2pipe.model.notebook import Cell, CellKind, Notebook, Output, source_digest
from nb2pipe.model.tags import CellRole

__all__ = [
    "DEFAULT_MAX_SIZE",
    "Cell",
    "CellKind",
    "CellRole",
    "Notebook",
    "Output",
    "load_notebook",
    "notebook_from_json",
    "output_from_json",
    "source_digest",
]
