"""Shared fixtures: tiny notebooks built inline, the sample notebooks, golden-file updating."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_notebooks"
#: Real public notebooks (with their data) laid beside the repo; read-only in CI.
#: NB2PIPE_CORPUS points elsewhere (e.g. a local collection of notebooks).
CORPUS = Path(os.environ.get("NB2PIPE_CORPUS") or ROOT.parent / "shared" / "corpus")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite the expected golden outputs"
    )
    parser.addoption(
        "--corpus", default="subset", choices=["subset", "all", "none"],
        help="which ../shared/corpus notebooks the corpus tests run",
    )


Cell = str | tuple[str, list[str]] | dict[str, Any]


#: folders whose tests share a session fixture that is costly or does not bear two copies at
#: once on two cores (a JupyterLab server with a browser, Airflow's venv, the DVC walkthrough):
#: ``make test`` keeps each in one xdist worker, and every other test file in one worker
SHARED_FIXTURE_FOLDERS = ("airflow", "dvc", "e2e", "kfp", "prefect")


def pytest_configure(config: pytest.Config) -> None:
    """Under ``make test`` (pytest-xdist), the kernels and scripts the tests start share the
    cores' BLAS/OpenMP threads as ``nb2pipe verify -j`` shares them: two workers each running
    a notebook that does linear algebra, with a thread per core each, ran the RFE corpus
    notebook in ~290-420 s instead of ~20 (see ``nb2pipe.verify.threads``)."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if workers.isdigit():
        from nb2pipe.verify.threads import thread_environment, threads_per_process

        os.environ.update(thread_environment(threads_per_process(int(workers)), os.environ))
    # The commands the tests start get Ctrl-C as from a user's terminal. A script that starts
    # the suite in the background (`make test &`) has the shell ignore SIGINT in it, and every
    # command it starts would inherit that: a test that sends one would wait in vain (tests
    # of a background server's children set it ignored themselves).
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


#: test files and folders that take minutes (on CI's 2 cores: a module fixture of ~130 kernel
#: scenarios, the engines' venvs and real runs, the DVC walkthrough, a browser): ``make test``
#: starts them first, longest first, so that the two workers finish together rather than one
#: starting a ten-minute unit when the other is nearly done
HEAVY_FIRST = (
    "tests/tracking/test_rerun_scenarios.py",
    "tests/dvc",
    "tests/airflow",
    "tests/e2e",
    "tests/prefect",
    "tests/kfp",
    "tests/export/test_isolation.py",
    "tests/verify/test_github_action.py",
    "tests/export/test_pre_commit.py",
    "tests/export/test_equivalence.py",
    "tests/verify/test_corpus.py",
    "tests/export/test_bad_notebooks.py",
)


def _scope(nodeid: str) -> str:
    """The scheduling unit of a test: its file, or the shared folder it is in."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    if len(parts) > 2 and parts[0] == "tests" and parts[1] in SHARED_FIXTURE_FOLDERS:
        return "/".join(parts[:2])
    return path


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, with each of :data:`SHARED_FIXTURE_FOLDERS` one unit (xdist's own
    ``loadgroup`` cannot mark groups under pytest 9), and the units of :data:`HEAVY_FIRST`
    handed out first (then the others, most tests first, as xdist orders them)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileOrSharedFolderScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return _scope(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            # the queue is whole by the first assignment; the workers' collections (whose
            # indices the work is sent by) stay as collected
            if not getattr(self, "_heavy_first", False):
                units = sorted(self.workqueue.items(), key=_rank)
                self.workqueue.clear()
                self.workqueue.update(units)
                self._heavy_first = True
            super()._assign_work_unit(node)

    return FileOrSharedFolderScheduling(config, log)


def _rank(unit: tuple[str, dict[str, bool]]) -> tuple[int, int]:
    """Units of :data:`HEAVY_FIRST` in its order, then the others, most tests first."""
    scope, tests = unit
    order = HEAVY_FIRST.index(scope) if scope in HEAVY_FIRST else len(HEAVY_FIRST)
    return order, -len(tests)


def fenced_blocks(doc: Path) -> list[tuple[str, list[str]]]:
    """The fenced blocks of a Markdown document, in order: (language, lines)."""
    blocks: list[tuple[str, list[str]]] = []
    fence: str | None = None
    lines: list[str] = []
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            if fence is None:
                fence, lines = line[3:].strip(), []
            else:
                blocks.append((fence, lines))
                fence = None
        elif fence is not None:
            lines.append(line)
    return blocks


def bash_commands(doc: Path) -> list[str]:
    """The lines of a document's ``bash`` blocks, one command a line (comments left out): what
    a walkthrough test runs exactly as written."""
    return [
        line
        for language, lines in fenced_blocks(doc)
        if language == "bash"
        for line in lines
        if line.strip() and not line.lstrip().startswith("#")
    ]


def notebook_json(*cells: Cell, kernel: str = "python3", language: str = "python") -> dict[str, Any]:
    """nbformat 4.5 JSON for ``cells``: a string is a code cell, ``(source, tags)`` a tagged
    code cell, and a dict is merged into a cell (``{"cell_type": "markdown", "source": ...}``)."""
    out = []
    for index, cell in enumerate(cells):
        base: dict[str, Any] = {
            "cell_type": "code",
            "id": f"c{index}",
            "metadata": {},
            "source": "",
            "outputs": [],
            "execution_count": None,
        }
        if isinstance(cell, str):
            base["source"] = cell
        elif isinstance(cell, tuple):
            base["source"], base["metadata"]["tags"] = cell[0], list(cell[1])
        else:
            base.update(cell)
            if base["cell_type"] != "code":
                base.pop("outputs", None)
                base.pop("execution_count", None)
        out.append(base)
    return {
        "cells": out,
        "metadata": {
            "kernelspec": {"name": kernel, "display_name": kernel, "language": language},
            "language_info": {"name": language},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture
def make_notebook(tmp_path: Path) -> Callable[..., Path]:
    """Write a notebook of ``cells`` into ``tmp_path`` and return its path."""

    def make(*cells: Cell, name: str = "notebook.ipynb", **kwargs: Any) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(notebook_json(*cells, **kwargs), indent=1), encoding="utf-8")
        return path

    return make


@pytest.fixture
def samples_copy(tmp_path: Path) -> Path:
    """A writable copy of ``sample_notebooks/`` (scripts get exported beside the notebooks)."""
    target = tmp_path / "samples"
    shutil.copytree(SAMPLES, target, ignore=shutil.ignore_patterns("*.py", "figures", "runs"))
    return target

