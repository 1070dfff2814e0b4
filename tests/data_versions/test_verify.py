"""``nb2pipe verify``'s ``data-changed`` reason for data read over HTTP: ``--update`` stores
the version of each URL the notebook read, and a later verify names a URL whose content
changed as the likely reason for a difference, as it does for a local file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ..conftest import notebook_json
from ..verify.conftest import invoke_verify
from .conftest import WINE, WebSite

pytestmark = pytest.mark.kernel


def test_a_changed_url_is_named_as_the_reason(tmp_path: Path, web: WebSite) -> None:
    url = f"{web.url}/wine.csv"
    folder = tmp_path / "notebooks"
    folder.mkdir()
    notebook = folder / "remote.ipynb"
    notebook.write_text(json.dumps(notebook_json(
        f"import pandas as pd\nwine = pd.read_csv({url!r})",
        'print(len(wine), "rows")',
    )), encoding="utf-8")
    saved = invoke_verify(notebook, "--update", "--no-script", report_dir=tmp_path)
    assert saved.exit_code == 0, saved.output
    metadata = json.loads(notebook.read_text(encoding="utf-8"))["metadata"]["nb2pipe"]
    old = hashlib.sha256(WINE.read_bytes()).hexdigest()
    assert metadata["data_files"] == {url: old}

    same = invoke_verify(notebook, "--no-script", report_dir=tmp_path)
    assert same.exit_code == 0, same.output

    lines = WINE.read_bytes().splitlines(keepends=True)
    (web.folder / "wine.csv").write_bytes(b"".join(lines[:-8]))
    changed = invoke_verify(notebook, "--no-script", report_dir=tmp_path)
    assert changed.exit_code == 1, changed.output
    assert changed.reasons("remote.ipynb") == [(1, "data-changed")]
    finding = changed.notebook("remote.ipynb")["mismatches"][0]
    new = hashlib.sha256((web.folder / "wine.csv").read_bytes()).hexdigest()
    assert finding["message"] == (
        f"stdout differs — data {url} changed since the outputs were saved "
        f"(sha256 {old[:12]} -> sha256 {new[:12]})"
    )
    [data_file] = changed.notebook("remote.ipynb")["data_files"]
    assert data_file["path"] == url and data_file["changed"]
    assert data_file["read_by_cell_index"] == 0
