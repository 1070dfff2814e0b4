"""An interrupted verify (Ctrl-C, or CI's SIGTERM) ends the kernels and scripts it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..conftest import notebook_json

pytestmark = pytest.mark.kernel


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie no one reaped yet is dead for our purpose
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_ends_kernel_and_script(tmp_path: Path, signum: int) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    loop = (
        "import os, pathlib, time\n"
        f"pathlib.Path({str(pids)!r}, str(os.getpid())).touch()\n"
        "while True:\n    time.sleep(0.05)"
    )
    notebook = tmp_path / "loop.ipynb"
    notebook.write_text(json.dumps(notebook_json(loop)), encoding="utf-8")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "nb2pipe", "verify", str(notebook), "--timeout", "0",
            "--json", str(tmp_path / "report.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # a background process may inherit SIGINT ignored; a user's terminal does not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:  # kernel and script
        time.sleep(0.2)
    started = [int(p.name) for p in pids.iterdir()]
    assert len(started) == 2, process.stdout.read() if process.poll() is not None else "timeout"
    process.send_signal(signum)
    try:
        output = process.communicate(timeout=30)[0].decode()
    finally:
        process.kill()
    assert process.returncode == 128 + signum, output
    assert "dead-kernel" not in output  # killed on purpose: no verdict printed
    assert "interrupted: 0 of 1 notebooks finished" in output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["interrupted"] is True and report["exit_code"] == 128 + signum
    assert report["notebooks"] == []
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in started)
