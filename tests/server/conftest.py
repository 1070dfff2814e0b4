"""Fixtures for the server-extension tests: a jupyter_server with only nb2pipe, auth required."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

# pytest-jupyter's server fixtures and hooks (jp_fetch, an autouse event loop, a hook that runs
# coroutine tests), imported here rather than listed in `pytest_plugins`, so that they apply
# only to the tests in this folder and not to the rest of the suite.
from pytest_jupyter.jupyter_server import *  # noqa: F403


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"nb2pipe": True},
            # Every endpoint must require authentication (as the extension template tests).
            "allow_unauthenticated_access": False,
            # jupyter_server_terminals' websocket handler warns under that setting; not ours.
            "terminals_enabled": False,
        }
    }


@pytest.fixture
def write_notebook() -> Callable[..., Path]:
    """``write_notebook(path, *sources)``: a small code-only notebook on disk."""

    def write(path: Path, *sources: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        notebook = new_notebook(cells=[new_code_cell(source) for source in sources])
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        notebook.metadata["language_info"] = {"name": "python"}
        nbformat.write(notebook, path)
        return path

    return write


@pytest.fixture
def post_export(jp_fetch: Any) -> Callable[..., Any]:
    """``await post_export({"path": ...}, **fetch_kwargs)``: POST /nb2pipe/export, no raising."""

    async def post(body: object, **kwargs: Any) -> Any:
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return await jp_fetch(
            "nb2pipe", "export", method="POST", body=data, raise_error=False, **kwargs
        )

    return post


@pytest.fixture
def post_recover(jp_fetch: Any) -> Callable[..., Any]:
    """``await post_recover({"path": ...}, **fetch_kwargs)``: POST /nb2pipe/recover, no raising.

    A recovery runs kernels: on a loaded machine one of two cells takes 20 s, more than
    jp_fetch's default timeout."""

    async def post(body: object, **kwargs: Any) -> Any:
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        kwargs.setdefault("request_timeout", 300)
        return await jp_fetch(
            "nb2pipe", "recover", method="POST", body=data, raise_error=False, **kwargs
        )

    return post


def saved_notebook(path: Path, *cells: tuple[str, str | None]) -> Path:
    """A notebook as Jupyter saves it after running its cells top to bottom: ``cells`` are
    (source, what it printed or ``None``), execution counts 1, 2, ... (no kernel needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    notebook = new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3", "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    for count, (source, printed) in enumerate(cells, start=1):
        cell = new_code_cell(source, execution_count=count)
        if printed is not None:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
        notebook.cells.append(cell)
    nbformat.write(notebook, path)
    return path
