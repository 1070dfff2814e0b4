"""Fixtures for the browser tests: a real ``jupyter lab`` and Debian's headless chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

REPO = Path(__file__).resolve().parents[2]
SAMPLE_NOTEBOOK = REPO / "sample_notebooks" / "train_classifier.ipynb"
SCREENSHOTS = REPO / "docs" / "screenshots"
BUILD_SCREENSHOTS = REPO / "build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
# Playwright's own browser download is unreachable here: always drive Debian's chromium.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
SERVER_START_TIMEOUT = 60.0  # seconds; /api/status answers after about 2 s on 2 cores
VIEWPORT = {"width": 1400, "height": 860}


@dataclass(frozen=True)
class LabServer:
    url: str  #: base URL, no trailing slash
    token: str
    root_dir: Path
    log_path: Path

    def lab_url(self, notebook: str) -> str:
        # `reset` starts from an empty workspace, so tabs of earlier tests don't come back.
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _write_notebook(path: Path, *sources: str) -> Path:
    notebook = new_notebook(cells=[new_code_cell(source) for source in sources])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.write(notebook, path)
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(server: LabServer, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/api/status?token={server.token}", timeout=2):
                return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(
        f"jupyter lab did not answer in {SERVER_START_TIMEOUT} s:\n{server.log_tail()}"
    )


def _quiet_lab_settings(config_dir: Path) -> None:
    """User settings that keep the news prompt out of the screenshots, and Lab's "Select
    Kernel" dialog out of the way: Lab shows it when it opens a notebook before the kernel
    specs have loaded, though the notebook names its kernel; a user who ticked "Always start
    the preferred kernel" in it has this setting."""
    user = config_dir / "lab" / "user-settings" / "@jupyterlab"
    settings = user / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    notebook = user / "notebook-extension"
    notebook.mkdir(parents=True)
    (notebook / "tracker.jupyterlab-settings").write_text(
        json.dumps({"autoStartDefaultKernel": True})
    )


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """``jupyter lab`` on 127.0.0.1 with a token, a temp root and temp config/runtime dirs."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    base = tmp_path_factory.mktemp("lab")
    root_dir = base / "root"
    root_dir.mkdir()
    config_dir = base / "config"
    _quiet_lab_settings(config_dir)
    port = _free_port()
    server = LabServer(
        url=f"http://127.0.0.1:{port}",
        token=uuid.uuid4().hex,
        root_dir=root_dir,
        log_path=base / "jupyter-lab.log",
    )
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
    }
    command = [
        sys.executable, "-m", "jupyterlab",
        "--allow-root",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={server.token}",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.extension_manager=readonly",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    with server.log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=base)
    try:
        _wait_until_up(server, proc)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def sample_notebook(lab_server: LabServer) -> str:
    """The sample classifier notebook, copied into the server root; returns its API path."""
    folder = lab_server.root_dir / f"sample-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    shutil.copy(SAMPLE_NOTEBOOK, folder / SAMPLE_NOTEBOOK.name)
    return f"{folder.name}/{SAMPLE_NOTEBOOK.name}"


@pytest.fixture
def make_notebook() -> Callable[..., Path]:
    """``make_notebook(path, *sources)``: write a small code-only notebook."""
    return _write_notebook


@pytest.fixture(scope="module")
def browser(lab_server: LabServer) -> Iterator[object]:
    # Module scope, not session: while sync_playwright() is open it marks an asyncio loop as
    # running in this thread, which breaks every later test that runs a loop (pytest-jupyter).
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[attr-defined]
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the browser tests save their screenshots: ``build/screenshots/``, or the README's
    ``docs/screenshots/`` with ``NB2PIPE_UPDATE_SCREENSHOTS=1`` (so a test run leaves the
    committed pictures alone)."""
    folder = SCREENSHOTS if os.environ.get("NB2PIPE_UPDATE_SCREENSHOTS") else BUILD_SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    return folder
