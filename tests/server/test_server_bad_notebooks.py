"""``POST /nb2pipe/export``, ``POST /nb2pipe/recover`` and ``GET /nb2pipe/hazards`` against bad
notebooks of every class (tests/bad_notebooks.py), through a real jupyter_server: a 400 with
the loader's one-line message (paths relative to the root), nothing written; odd but readable
ones exported. (Recover reads a notebook the loader accepts no further than its saved
outputs: these never ran, so it says that, and never starts a kernel.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nb2pipe.errors import Nb2PipeError
from nb2pipe.model import load_notebook

from ..bad_notebooks import ACCEPTED, REFUSED, BadCase, write_case


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.id)
async def test_bad_notebook_is_400_with_its_reason(
    post_export, post_recover, jp_fetch, jp_root_dir: Path, case: BadCase
) -> None:
    path = write_case(case, jp_root_dir / "work")
    api_path = f"work/{case.file_name}"
    before = sorted(p.name for p in jp_root_dir.parent.rglob("*"))

    exported = await post_export({"path": api_path})
    recovered = await post_recover({"path": api_path})
    hazards = await jp_fetch(
        "nb2pipe", "hazards", params={"path": api_path}, raise_error=False
    )

    try:
        load_notebook(path)
        loaded = True
    except Nb2PipeError:
        loaded = False
    for response in (exported, recovered, hazards):
        assert response.code == 400, response.body
        message = json.loads(response.body)["message"]
        assert "\n" not in message and str(jp_root_dir) not in message
        # a .py is refused by its name before it is read: "not a notebook (.ipynb)"
        expected = ("not a notebook",) if path.suffix == ".py" else case.refusal
        if response is recovered and loaded and path.suffix != ".py":
            expected = ("no saved outputs to recover",)
        for words in expected:
            assert words in message, message
        assert case.file_name in message.split(":")[0]
    assert sorted(p.name for p in jp_root_dir.parent.rglob("*")) == before


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda case: case.id)
async def test_odd_but_readable_notebook_exports(
    post_export, jp_root_dir: Path, case: BadCase
) -> None:
    path = write_case(case, jp_root_dir / "work")

    response = await post_export({"path": f"work/{case.file_name}"})

    assert response.code == 200, response.body
    assert "print(x)" in path.with_suffix(".py").read_text()
    notes = json.loads(response.body)["summary"]["notes"]
    assert len([note for note in notes if case.note and case.note in note]) == bool(case.note)
