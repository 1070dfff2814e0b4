"""``--update``: write a fresh run's outputs and data-file hashes into the notebook, atomically.

Only outputs, execution counts and ``metadata.nb2pipe.data_files`` change: sources, cell
metadata and everything else stay as the user saved them (papermill's own metadata is not
copied). The hashes let a later ``verify`` name a changed data file as the likely cause of a
difference (reason ``data-changed``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from nb2pipe.files import write_atomically

__all__ = ["METADATA_KEY", "read_saved_data_hashes", "write_fresh_outputs"]

#: ``metadata.nb2pipe`` of the notebook; verify owns its ``data_files`` entry.
METADATA_KEY = "nb2pipe"
_DATA_FILES = "data_files"


def read_saved_data_hashes(path: Path) -> dict[str, str]:
    """The data-file hashes a previous ``--update`` stored: relative path -> SHA-256."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    stored = ((data.get("metadata") or {}).get(METADATA_KEY) or {}).get(_DATA_FILES) or {}
    if not isinstance(stored, Mapping):
        return {}
    return {str(k): str(v) for k, v in stored.items() if isinstance(v, str)}


def write_fresh_outputs(
    path: Path,
    fresh_cells: Mapping[int, Mapping[str, Any]],
    data_hashes: Mapping[str, str],
) -> None:
    """Replace the outputs of the notebook at ``path`` by the fresh ones.

    ``fresh_cells`` maps a saved cell index to the executed cell's nbformat JSON.
    """
    import nbformat

    node = nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]
    for index, raw in enumerate(node.cells):
        fresh = fresh_cells.get(index)
        if raw.cell_type != "code" or fresh is None:
            continue
        raw.outputs = nbformat.from_dict(list(fresh.get("outputs") or []))  # type: ignore[no-untyped-call]
        raw.execution_count = fresh.get("execution_count")
    node.metadata.setdefault(METADATA_KEY, {})[_DATA_FILES] = dict(sorted(data_hashes.items()))
    # nbformat's own writer: the file keeps the layout Jupyter gives it
    text = nbformat.writes(node)  # type: ignore[no-untyped-call]
    write_atomically(path, text if text.endswith("\n") else text + "\n")
