"""``POST /nb2pipe/recover`` through a real jupyter_server and real kernels: a path recovered
from a ``%track`` history, a notebook no path gives back, the conflicts (an existing output,
a recovery already running), and a recovery that stops when its server goes away. (The
defences every endpoint shares: test_server_defences.py, test_server_auth.py,
test_server_bad_notebooks.py.)"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest
from tornado.simple_httpclient import HTTPTimeoutError

from nb2pipe.analysis.hazards import is_tracker_line
from nb2pipe.recover.api import RecoverOptions
from nb2pipe.server.recovery import RecoveryRequest, run_recovery
from tests.recover.lab import LabNotebook

from .conftest import saved_notebook

pytestmark = pytest.mark.kernel

HAND_WRITTEN = '{"written": "by hand"}\n'


def reply(response: Any) -> dict[str, Any]:
    return json.loads(response.body)


def printed(path: Path) -> dict[str, str]:
    """cell id -> the text its saved outputs printed (without %track's own warnings)."""
    cells = nbformat.read(str(path), as_version=4).cells  # type: ignore[no-untyped-call]
    return {
        cell.id: "".join(
            line for o in cell.outputs
            for line in o.get("text", "").splitlines(keepends=True) if not is_tracker_line(line)
        )
        for cell in cells if cell.cell_type == "code"
    }


def recovered_cells(path: Path) -> dict[str, list[str]]:
    """source cell id -> the printed text of each run in the recovered notebook."""
    runs: dict[str, list[str]] = {}
    for cell in nbformat.read(str(path), as_version=4).cells:  # type: ignore[no-untyped-call]
        if cell.cell_type == "code":
            text = "".join(o.get("text", "") for o in cell.outputs)
            runs.setdefault(cell.metadata["nb2pipe"]["source_cell"], []).append(text)
    return runs


@pytest.fixture
def tracked(jp_root_dir: Path) -> Iterator[Path]:
    """A %track session in a real kernel: a total added to twice, its step edited after it
    ran (and not run again), then the result shown; saved out of order."""
    path = jp_root_dir / "work" / "nb.ipynb"
    path.parent.mkdir()
    notebook = LabNotebook(path, [
        ("init", "total = 0"),
        ("step", "step = 2"),
        ("add", "total += step\nprint('total', total)"),
        ("show", "print('final', total * 10)"),
    ], tracked=True)
    try:
        notebook.run("init", "step", "add", "add")
        notebook.edit("step", "step = 5")
        notebook.run("show")
        notebook.save()
    finally:
        notebook.shutdown()
    yield path


@pytest.fixture
def unseeded(jp_root_dir: Path) -> Path:
    """Saved outputs that came from unseeded random numbers: no path gives them back."""
    return saved_notebook(
        jp_root_dir / "work" / "draw.ipynb",
        ("import random\nsample = [random.random() for _ in range(3)]", None),
        ("print('sample', [round(v, 6) for v in sample])", "sample [0.417022, 0.720324, 0.000114]\n"),
    )


@pytest.fixture
def in_order(jp_root_dir: Path) -> Path:
    """A notebook run top to bottom: recovered at once."""
    return saved_notebook(
        jp_root_dir / "work" / "plain.ipynb", ("x = 20", None), ("print(x + 1)", "21\n")
    )


async def test_recovers_the_path_from_the_track_history(
    post_recover, jp_root_dir: Path, tracked: Path
) -> None:
    response = await post_recover({"path": "work/nb.ipynb"})

    assert response.code == 200, response.body
    payload = reply(response)
    assert payload["recovered"] is True and payload["origin"] == "history", payload
    assert payload["output"] == "work/nb.recovered.ipynb"
    differences = payload["differences"]
    assert any("ran with `step = 2`; the notebook now says `step = 5`" in d for d in differences)
    assert any("`total += step` runs again (2nd run)" in d for d in differences), differences
    assert payload["compared"] >= 2 and isinstance(payload["notes"], list)
    assert str(jp_root_dir) not in response.body.decode()  # no server paths leak
    # the recovered notebook: the older step, the total added to twice, the saved outputs
    output = jp_root_dir / "work" / "nb.recovered.ipynb"
    runs = recovered_cells(output)
    assert runs["add"] == ["", "total 4\n"] and runs["show"] == ["final 40\n"]
    for cell_id, text in printed(tracked).items():  # each saved output, on the cell's last run
        assert cell_id == "track" or runs[cell_id][-1] == text, (cell_id, runs)
    sources = [c.source for c in nbformat.read(str(output), as_version=4).cells]  # type: ignore[no-untyped-call]
    assert "step = 2" in sources and "step = 5" not in sources


async def test_no_path_is_an_answer_naming_each_cell_and_why(
    post_recover, jp_root_dir: Path, unseeded: Path
) -> None:
    before = sorted(p.name for p in unseeded.parent.iterdir())

    response = await post_recover({"path": "work/draw.ipynb", "budget": 30})

    assert response.code == 200, response.body
    payload = reply(response)
    assert payload["recovered"] is False and payload["budget"] == 30.0
    (problem,) = payload["problems"]
    assert problem["cell_id"] == nbformat.read(str(unseeded), as_version=4).cells[1].id  # type: ignore[no-untyped-call]
    assert problem["cell_index"] == 1
    assert "random" in problem["reason"]
    assert problem["line"].startswith("cell 2 ") and "In [2]" in problem["line"]
    assert "print('sample'" in problem["line"] and problem["reason"] in problem["line"]
    assert sorted(p.name for p in unseeded.parent.iterdir()) == before  # nothing written


async def test_an_existing_output_is_409_until_overwrite_is_asked(
    post_recover, jp_root_dir: Path, in_order: Path
) -> None:
    output = in_order.with_name("plain.recovered.ipynb")
    output.write_text(HAND_WRITTEN)

    refused = await post_recover({"path": "work/plain.ipynb"})

    assert refused.code == 409
    assert reply(refused)["reason"] == "exists"
    assert reply(refused)["message"].startswith("work/plain.recovered.ipynb: exists")
    assert "--force" not in reply(refused)["message"]  # a command-line switch means nothing in Lab
    assert output.read_text() == HAND_WRITTEN

    replaced = await post_recover({"path": "work/plain.ipynb", "overwrite": True})

    assert replaced.code == 200, replaced.body
    assert reply(replaced)["recovered"] is True and reply(replaced)["differences"] == []
    assert recovered_cells(output) == {key: [text] for key, text in printed(in_order).items()}


async def test_one_recovery_per_notebook_at_a_time(
    post_recover, jp_root_dir: Path, in_order: Path, unseeded: Path
) -> None:
    """A second request for a notebook whose recovery runs (by its name or through a link)
    is 409 at once; another notebook's recovery runs beside it; once the first one answered,
    the notebook can be recovered again."""
    (jp_root_dir / "alias.ipynb").symlink_to(in_order)
    first = asyncio.ensure_future(post_recover({"path": "work/plain.ipynb"}))
    await asyncio.sleep(0.5)  # the first is running (a child process and a kernel take seconds)
    assert not first.done()

    started = time.monotonic()
    again, through_link = await asyncio.gather(
        post_recover({"path": "work/plain.ipynb", "overwrite": True}),
        post_recover({"path": "alias.ipynb"}),
    )
    waited = time.monotonic() - started
    other = asyncio.ensure_future(post_recover({"path": "work/draw.ipynb", "budget": 30}))

    for refused in (again, through_link):
        assert refused.code == 409, refused.body
        assert reply(refused)["reason"] == "running"
        assert "already running" in reply(refused)["message"]
    assert waited < 5, "the refusals did not wait for the running recovery"
    assert (await first).code == 200
    assert (await other).code == 200 and reply(await other)["recovered"] is False
    after = await post_recover({"path": "work/plain.ipynb", "overwrite": True})
    assert after.code == 200, after.body


async def test_a_client_that_gives_up_does_not_stop_the_recovery(
    post_recover, jp_root_dir: Path, in_order: Path
) -> None:
    """A proxy's read timeout cuts the request: the recovery still finishes and writes its
    notebook; asked again meanwhile, the server says it runs, and afterwards that it exists."""
    output = in_order.with_name("plain.recovered.ipynb")
    with pytest.raises(HTTPTimeoutError):
        await post_recover({"path": "work/plain.ipynb"}, request_timeout=1)

    meanwhile = await post_recover({"path": "work/plain.ipynb"})

    assert meanwhile.code == 409 and reply(meanwhile)["reason"] == "running", meanwhile.body
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        afterwards = await post_recover({"path": "work/plain.ipynb"})
        if reply(afterwards).get("reason") != "running":
            break
        await asyncio.sleep(1)
    assert afterwards.code == 409 and reply(afterwards)["reason"] == "exists", afterwards.body
    assert recovered_cells(output) == {key: [text] for key, text in printed(in_order).items()}


async def test_a_notebook_without_saved_outputs_is_400(
    post_recover, jp_root_dir: Path, write_notebook
) -> None:
    write_notebook(jp_root_dir / "never_run.ipynb", "x = 1", "print(x)")

    response = await post_recover({"path": "never_run.ipynb"})

    assert response.code == 400
    message = reply(response)["message"]
    assert message.startswith("never_run.ipynb: no saved outputs to recover"), message
    assert "\n" not in message and str(jp_root_dir) not in message
    assert not (jp_root_dir / "never_run.recovered.ipynb").exists()


@pytest.mark.parametrize("budget", [0, -3, "60", True, [60], None])
async def test_a_bad_budget_is_400(post_recover, in_order: Path, budget: object) -> None:
    body = {"path": "work/plain.ipynb", "budget": budget}
    if budget is None:
        body = {"path": "work/plain.ipynb", "overwrite": "yes"}  # the flag, for comparison

    response = await post_recover(body)

    assert response.code == 400
    assert ("'overwrite'" if budget is None else "'budget'") in reply(response)["message"]
    assert not in_order.with_name("plain.recovered.ipynb").exists()


# ---------------------------------------------------------------------------------------------
# a recovery stops when its server goes away


SLOW = ("import time\ntime.sleep(300)\nprint('slept')", "slept\n")


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _wait_until_gone(processes: list[psutil.Process], timeout: float) -> list[str]:
    """The processes still alive after ``timeout`` seconds, as ``pid: command line``."""
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    left = []
    for process in alive:
        try:
            left.append(f"{process.pid}: {' '.join(process.cmdline())[:200]}")
        except psutil.Error:
            pass  # gone meanwhile
    return left


async def test_a_cancelled_recovery_stops_its_process_and_kernels(tmp_path: Path) -> None:
    """What the server does when it stops while a recovery runs: the child process and the
    kernels it started go, and nothing is written."""
    notebook = saved_notebook(tmp_path / "slow.ipynb", SLOW)
    before = {p.pid for p in _descendants(os.getpid())}  # earlier tests' leftovers are not ours

    def ours() -> list[psutil.Process]:
        return [p for p in _descendants(os.getpid()) if p.pid not in before]

    task = asyncio.ensure_future(
        run_recovery(RecoveryRequest(notebook, RecoverOptions(budget=600)))
    )
    deadline = time.monotonic() + 60
    while len(ours()) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)  # the child, and what it runs the sleeping cell in
    started = ours()
    assert len(started) >= 2, started

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert _wait_until_gone(started, timeout=60) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.ipynb"]


def _IGNORE_SIGINT() -> None:  # noqa: N802 - a preexec_fn, named like the constant it sets
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _DEFAULT_SIGINT() -> None:  # noqa: N802 - as above; this test process's own may be ignored
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _send(request: urllib.request.Request) -> None:
    try:
        urllib.request.urlopen(request, timeout=600)
    except OSError:
        pass


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_a_killed_server_leaves_no_recovery_running(tmp_path: Path, sigint: str) -> None:
    """``jupyter server`` killed (SIGKILL: no clean-up of its own) while it recovers: the
    recovery's process and its kernels stop by themselves, and nothing is written.

    ``ignored``: a server a script started in the background (``jupyter server &``), where
    the shell sets SIGINT to be ignored and every child inherits that: the recovery's child
    stops itself with a SIGINT, so it must take the signal back.
    """
    root, home = tmp_path / "root", tmp_path / "home"
    saved_notebook(root / "slow.ipynb", SLOW)
    port, token = _free_port(), "the-right-token"
    env = {
        **os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTER_DATA_DIR": str(home / "data"),
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter-server"), "--no-browser",
         f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.root_dir={root}",
         f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0", "--allow-root"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=_IGNORE_SIGINT if sigint == "ignored" else _DEFAULT_SIGINT,
    )
    base = f"http://127.0.0.1:{port}"
    started: list[psutil.Process] = []
    try:
        for _ in range(600):  # up to 60 s to start
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, "jupyter server exited"
                time.sleep(0.1)
        request = urllib.request.Request(
            f"{base}/nb2pipe/recover", method="POST",
            data=json.dumps({"path": "slow.ipynb", "budget": 600}).encode(),
            headers={"Authorization": f"token {token}"},
        )
        # the reply never comes (the server is killed): send it without waiting for it
        pending = threading.Thread(target=_send, args=(request,), daemon=True)
        pending.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = _descendants(server.pid)
            if len(started) >= 2:
                break
            time.sleep(0.2)
        assert len(started) >= 2, started

        server.send_signal(signal.SIGKILL)
        server.wait(10)

        assert _wait_until_gone(started, timeout=30) == []
        assert sorted(p.name for p in root.iterdir()) == ["slow.ipynb"]
        pending.join(30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
        for process in started:
            if process.is_running():
                process.kill()
