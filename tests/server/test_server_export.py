"""POST /nb2pipe/export and GET /nb2pipe/hazards through a real jupyter_server."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

HAND_WRITTEN = "# written by hand, not by nb2pipe\n"


def reply(response: object) -> dict:
    return json.loads(response.body)  # type: ignore[attr-defined]


@pytest.fixture
def notebook(jp_root_dir: Path, write_notebook) -> Path:
    return write_notebook(jp_root_dir / "work" / "nb.ipynb", "x = 1", "print(x + 1)")


@pytest.fixture
def outside(jp_root_dir: Path, write_notebook) -> Path:
    """A notebook next to, not inside, the server root."""
    return write_notebook(jp_root_dir.parent / "outside" / "secret.ipynb", "secret = 42")


async def test_export_writes_script_and_returns_summary(post_export, notebook: Path) -> None:
    response = await post_export({"path": "work/nb.ipynb"})

    assert response.code == 200
    payload = reply(response)
    assert payload["path"] == "work/nb.py"
    script = (notebook.parent / "nb.py").read_text()
    assert "x = 1" in script and "print(x + 1)" in script
    assert payload["summary"]["cells"] == 2
    assert payload["summary"]["script"] == "nb.py"
    assert payload["summary_lines"] and all(isinstance(s, str) for s in payload["summary_lines"])
    assert payload["hazards"] == []


async def test_export_returns_the_notebooks_hazards(post_export, jp_root_dir, write_notebook):
    write_notebook(jp_root_dir / "h.ipynb", "y = x + 1", "x = 1")

    response = await post_export({"path": "h.ipynb"})

    assert response.code == 200
    kinds = {hazard["kind"] for hazard in reply(response)["hazards"]}
    assert "undefined-in-fresh-kernel" in kinds


async def test_export_twice_replaces_its_own_script(post_export, notebook: Path) -> None:
    first = await post_export({"path": "work/nb.ipynb"})
    second = await post_export({"path": "work/nb.ipynb"})

    assert (first.code, second.code) == (200, 200)


async def test_existing_hand_written_script_is_a_conflict(post_export, notebook: Path) -> None:
    script = notebook.with_suffix(".py")
    script.write_text(HAND_WRITTEN)

    response = await post_export({"path": "work/nb.ipynb"})

    assert response.code == 409
    assert "nb.py" in reply(response)["message"]
    assert str(notebook.parent) not in reply(response)["message"]  # no server paths leak
    assert script.read_text() == HAND_WRITTEN


async def test_overwrite_replaces_hand_written_script(post_export, notebook: Path) -> None:
    script = notebook.with_suffix(".py")
    script.write_text(HAND_WRITTEN)

    response = await post_export({"path": "work/nb.ipynb", "overwrite": True})

    assert response.code == 200
    assert "x = 1" in script.read_text()


async def test_notebook_error_is_400_naming_the_cell(post_export, jp_root_dir, write_notebook):
    write_notebook(jp_root_dir / "bad.ipynb", "x = 1", "%foo_unknown_magic\ny = x")

    response = await post_export({"path": "bad.ipynb"})

    assert response.code == 400
    message = reply(response)["message"]
    assert "bad.ipynb" in message and "cell 2" in message
    assert "--allow-ipython" not in message  # a command-line switch means nothing in Lab
    assert not (jp_root_dir / "bad.py").exists()


@pytest.mark.parametrize(
    "body, expected",
    [
        pytest.param(b"{not json", "not valid JSON", id="malformed"),
        pytest.param(b"", "not valid JSON", id="empty"),
        pytest.param(b'["work/nb.ipynb"]', "JSON object", id="not-an-object"),
        pytest.param(b"{}", "'path'", id="no-path"),
        pytest.param(b'{"path": 3}', "'path'", id="path-not-a-string"),
        pytest.param(
            b'{"path": "work/nb.ipynb", "overwrite": "yes"}', "'overwrite'", id="bad-flag"
        ),
        pytest.param(b'{"path": "work/notes.txt"}', "not a notebook", id="not-ipynb"),
    ],
)
async def test_bad_request_is_400_with_message(post_export, notebook, body, expected) -> None:
    response = await post_export(body)

    assert response.code == 400
    assert expected in reply(response)["message"]
    assert not notebook.with_suffix(".py").exists()


async def test_missing_notebook_is_404(post_export, jp_root_dir) -> None:
    response = await post_export({"path": "nope.ipynb"})

    assert response.code == 404
    assert "nope.ipynb" in reply(response)["message"]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("../outside/secret.ipynb", id="dot-dot"),
        pytest.param("work/../../outside/secret.ipynb", id="dot-dot-inside"),
        pytest.param("ABSOLUTE", id="absolute"),
        pytest.param(".hidden/nb.ipynb", id="hidden"),
    ],
)
async def test_paths_outside_the_root_are_refused(post_export, jp_root_dir, outside, path):
    if path == "ABSOLUTE":
        path = str(outside)
    before = sorted(p.name for p in outside.parent.iterdir())

    response = await post_export({"path": path})

    assert response.code in (403, 404)
    assert reply(response)["message"]
    assert sorted(p.name for p in outside.parent.iterdir()) == before


async def test_symlinked_notebook_escaping_the_root_is_refused(post_export, jp_root_dir, outside):
    (jp_root_dir / "link.ipynb").symlink_to(outside)

    response = await post_export({"path": "link.ipynb"})

    assert response.code == 403
    assert "outside the server root" in reply(response)["message"]
    assert not (jp_root_dir / "link.py").exists()
    assert not outside.with_suffix(".py").exists()


async def test_symlinked_folder_escaping_the_root_is_refused(post_export, jp_root_dir, outside):
    (jp_root_dir / "linked").symlink_to(outside.parent, target_is_directory=True)

    response = await post_export({"path": "linked/secret.ipynb"})

    assert response.code == 403
    assert not outside.with_suffix(".py").exists()


async def test_symlinked_script_escaping_the_root_is_refused(post_export, notebook, outside):
    target = outside.parent / "target.py"
    target.write_text(HAND_WRITTEN)
    notebook.with_suffix(".py").symlink_to(target)

    response = await post_export({"path": "work/nb.ipynb", "overwrite": True})

    assert response.code == 403
    assert target.read_text() == HAND_WRITTEN


async def test_hazards_lists_static_hazards(jp_fetch, jp_root_dir, write_notebook) -> None:
    write_notebook(jp_root_dir / "h.ipynb", "print(undefined_name)")

    response = await jp_fetch("nb2pipe", "hazards", params={"path": "h.ipynb"})

    (hazard,) = reply(response)["hazards"]
    assert hazard["kind"] == "undefined-in-fresh-kernel"
    assert hazard["names"] == ["undefined_name"]


async def test_hazards_refuses_paths_outside_the_root(jp_fetch, outside) -> None:
    response = await jp_fetch(
        "nb2pipe", "hazards", params={"path": "../outside/secret.ipynb"}, raise_error=False
    )

    assert response.code == 404


@pytest.fixture
def fake_tracking(monkeypatch):
    """Stand-in for ``nb2pipe.tracking.history_state``: one hazard per call, calls recorded."""
    from nb2pipe.analysis import Hazard, HazardKind
    from nb2pipe.tracking.history import HistoryState
    from nb2pipe.tracking.report import TrackReport

    calls: list[Path] = []

    def history_state(notebook_path: Path) -> HistoryState:
        calls.append(notebook_path)
        hazard = Hazard(HazardKind.OUT_OF_ORDER, 0, None, ("x",), "ran out of order", "re-run")
        report = TrackReport(None, 3, (hazard,), ("c0",), ("cell 1 `x = 1`",), None)
        return HistoryState((hazard,), report)

    module = types.ModuleType("nb2pipe.tracking")
    module.history_state = history_state  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nb2pipe.tracking", module)
    return calls


async def test_hazards_include_the_track_history_when_logged(
    jp_fetch, jp_root_dir, write_notebook, fake_tracking
) -> None:
    notebook = write_notebook(jp_root_dir / "h.ipynb", "x = 1")
    (jp_root_dir / ".nb2pipe").mkdir()
    (jp_root_dir / ".nb2pipe" / "h.history.jsonl").write_text("{}\n")

    response = await jp_fetch("nb2pipe", "hazards", params={"path": "h.ipynb"})

    assert [h["kind"] for h in reply(response)["hazards"]] == ["out-of-order"]
    assert reply(response)["track"] == {
        "executions": 3, "rerun": ["c0"], "rerun_labels": ["cell 1 `x = 1`"], "restart": None,
        "remove": [],
        "cells": [{"cell_id": "c0", "state": "rerun", "label": "c0", "hazards": [], "rerun": True}],
    }
    assert fake_tracking == [notebook]


async def test_hazards_skip_the_track_history_without_a_log(
    jp_fetch, jp_root_dir, write_notebook
) -> None:
    write_notebook(jp_root_dir / "h.ipynb", "x = 1")

    response = await jp_fetch("nb2pipe", "hazards", params={"path": "h.ipynb"})

    assert reply(response)["hazards"] == [] and reply(response)["track"] is None
