"""Noise: what ``%track`` must not say. A clean run of a messy notebook is silent; one cause is
one hazard; status and report agree on what is available; nothing is cut short."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import SAMPLES
from tests.tracking.conftest import track_report
from tests.tracking.kernel_driver import KernelDriver

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KernelDriver, Path]]:
    folder = tmp_path_factory.mktemp("messy")
    shutil.copy(SAMPLES / "explore_messy.ipynb", folder)
    shutil.copytree(SAMPLES / "data", folder / "data")
    driver = KernelDriver(notebook=folder / "explore_messy.ipynb", cwd=folder)
    try:
        yield driver, folder / "explore_messy.ipynb"
    finally:
        driver.shutdown()


def test_explore_messy_run_top_to_bottom_once_says_nothing(messy: tuple[KernelDriver, Path]) -> None:
    driver, notebook = messy
    assert "%track is on" in driver.execute("%load_ext nb2pipe\n%track").stdout
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    warned = {}
    for cell in cells:
        result = driver.execute("".join(cell["source"]), cell["id"])
        assert result.status == "ok", (cell["id"], result.outputs)
        if result.warnings:
            warned[cell["id"]] = result.warnings
    # the cells that add columns to df (features, random) change it once, in notebook order
    assert warned == {}
    report = track_report(driver)
    assert report["hazards"] == [] and report["rerun"] == [] and report["restart"] is None
    status = driver.execute("%track status").stdout
    assert "cell ids: sent by the frontend" in status, status  # %track cells are not executions
    assert f"{len(cells)} executions recorded" in status, status


def test_a_deleted_cells_name_is_one_hazard_not_two(session) -> None:
    nb = session(("a", "tmp = 5"), ("b", "z = tmp * 2"))
    nb.run("a")
    nb.delete("a", save=True)
    result = nb.run("b")
    assert [w.split(":")[0] for w in result.warnings] == ["nb2pipe hidden-state"], result.warnings
    assert "a fresh kernel raises NameError here" in result.warnings[0], result.warnings
    report = nb.report()
    assert [h["kind"] for h in report["hazards"] if h["cell_id"] == "b"] == ["hidden-state"]


def test_a_read_of_a_name_set_below_is_one_hazard_not_two(session) -> None:
    nb = session(("a", "y = w + 1"), ("b", "w = 2"))
    nb.run("b")
    result = nb.run("a")
    assert [w.split(":")[0] for w in result.warnings] == ["nb2pipe undefined-in-fresh-kernel"], result.warnings
    assert [h["kind"] for h in nb.report()["hazards"]] == ["undefined-in-fresh-kernel"]


def test_restart_reasons_are_all_given(session) -> None:
    """The JSON ``restart`` names every reason, not two and "(+5 more)"."""
    cells = [(f"c{i}", f"v{i} = {i}") for i in range(6)]
    nb = session(*cells, ("show", "print(1)"))
    nb.run(*[cid for cid, _ in cells])
    for i in range(6):  # each cell binds another name now: the old ones stay bound
        nb.edit(f"c{i}", f"w{i} = {i}")
        nb.run(f"c{i}")
    report = nb.report()
    restart = report["restart"]
    assert restart and "more)" not in restart
    for i in range(6):
        assert f"'v{i}' is still bound" in restart, restart
    assert report["rerun"] == [], report["rerun"]  # the restart runs them all


def test_files_to_remove_are_all_given(session, tmp_path: Path) -> None:
    """Six cells append to six logs and must run again: ``remove`` names every log."""
    logs = [tmp_path / f"log{i}.txt" for i in range(6)]
    cells = [(f"c{i}", f"with open({str(p)!r}, 'a') as f:\n    f.write(str(seed))") for i, p in enumerate(logs)]
    nb = session(("s", "seed = 1"), *cells)
    nb.run("s", *[cid for cid, _ in cells])
    nb.edit("s", "seed = 2")
    nb.run("s")  # every cell has to run again, and each would append to its log again
    report = nb.report()
    assert report["restart"] is None, report["restart"]  # a restart leaves the logs as they are
    assert sorted(report["remove"]) == sorted(p.name for p in logs), report["remove"]
    assert report["rerun"] == [cid for cid, _ in cells], report["rerun"]
