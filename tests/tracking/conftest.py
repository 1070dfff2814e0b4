"""Fixtures for the tracker's tests: real kernels driven like JupyterLab, shared per module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import notebook_json
from tests.tracking.kernel_driver import KernelDriver

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "track-report.schema.json"


def write_notebook(path: Path, cells: list[tuple[str, str]] | list[str]) -> Path:
    """A notebook whose code cells have the given ``(id, source)`` pairs (or sources: ids c0..)."""
    pairs = [c if isinstance(c, tuple) else (f"c{i}", c) for i, c in enumerate(cells)]
    data = notebook_json(*[{"cell_type": "code", "id": cid, "source": src} for cid, src in pairs])
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kernel")


@pytest.fixture(scope="module")
def lab_kernel(kernel_dir: Path) -> Iterator[KernelDriver]:
    """One kernel per test module, started like JupyterLab starts it (JPY_SESSION_NAME set)."""
    notebook = write_notebook(kernel_dir / "session.ipynb", ["pass"])
    driver = KernelDriver(notebook=notebook, cwd=kernel_dir)
    driver.execute("%load_ext nb2pipe")
    yield driver
    driver.shutdown()


@pytest.fixture(scope="module")
def stock_kernel(kernel_dir: Path) -> Iterator[KernelDriver]:
    """A kernel without nb2pipe, to compare outputs with."""
    driver = KernelDriver(cwd=kernel_dir)
    yield driver
    driver.shutdown()


def track_report(driver: KernelDriver) -> dict[str, Any]:
    """``%track report --json`` as data."""
    result = driver.execute("%track report --json")
    assert result.status == "ok", result.outputs
    return json.loads(result.stdout)


class NotebookSession:
    """A notebook on disk plus a tracked kernel, operated like a JupyterLab user would."""

    def __init__(self, driver: KernelDriver, path: Path, cells: list[tuple[str, str]]) -> None:
        self.driver = driver
        self.path = path
        self.cells = dict(cells)
        self.order = [cid for cid, _ in cells]
        self._deleted: list[str] = []
        self.save()
        driver.execute("%track off")
        driver.execute("%reset -f")
        started = driver.execute(f"%track --notebook {path}")
        assert "%track is on" in started.stdout, started.outputs

    def save(self, later: bool = False) -> None:
        """Write the notebook; ``later`` dates the save after every execution so far."""
        write_notebook(self.path, [(cid, self.cells[cid]) for cid in self.order])
        if later:
            import os
            import time

            stamp = time.time() + 2
            os.utime(self.path, (stamp, stamp))

    def run(self, *cell_ids: str) -> Any:
        result = None
        for cell_id in cell_ids:
            deleted, self._deleted = self._deleted, []
            result = self.driver.execute(self.cells[cell_id], cell_id, deleted=deleted)
        return result

    def edit(self, cell_id: str, source: str, save: bool = True) -> None:
        self.cells[cell_id] = source
        if save:
            self.save()

    def insert(self, after: str | None, cell_id: str, source: str, save: bool = True) -> None:
        self.cells[cell_id] = source
        self.order.insert(self.order.index(after) + 1 if after else 0, cell_id)
        if save:
            self.save()

    def delete(self, cell_id: str, save: bool = False) -> None:
        """Delete a cell: JupyterLab reports it with the next execute request."""
        self.order.remove(cell_id)
        self._deleted.append(cell_id)
        if save:
            self.save(later=True)

    def report(self) -> dict[str, Any]:
        return track_report(self.driver)


@pytest.fixture
def session(lab_kernel: KernelDriver, tmp_path: Path) -> Any:
    """``session(cells)`` -> a fresh tracked :class:`NotebookSession` in the module's kernel."""

    def make(*cells: tuple[str, str] | str, name: str = "notebook.ipynb") -> NotebookSession:
        pairs = [c if isinstance(c, tuple) else (f"c{i}", c) for i, c in enumerate(cells)]
        return NotebookSession(lab_kernel, tmp_path / name, pairs)

    return make
