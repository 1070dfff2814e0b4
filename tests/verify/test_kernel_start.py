"""A kernel that loses the race for its ports at start-up is started again, not reported dead.

Jupyter picks free ports, releases them and lets the kernel bind them; another process can
take one in between (seen with ``-j 2`` on CI). The kernel below really loses that race on its
first start: its launcher holds the shell port before ipykernel binds it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

import pytest

from nb2pipe.verify import runner

from .conftest import VerifyRun, code, stdout

pytestmark = pytest.mark.kernel

LAUNCHER = """\
import json, socket, sys
from pathlib import Path

starts = Path({starts!r})
starts.write_text(starts.read_text() + "start\\n" if starts.exists() else "start\\n")
blockers = []
if starts.read_text().count("start") <= {lost}:
    # take the shell port first, as another process would between the pick and the bind
    info = json.loads(Path(sys.argv[sys.argv.index("-f") + 1]).read_text())
    blocker = socket.socket()
    blocker.bind((info["ip"], info["shell_port"]))
    blocker.listen()
    blockers.append(blocker)
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""


def install_racing_kernel(
    root: Path, monkeypatch: pytest.MonkeyPatch, lost: int
) -> Path:
    """Install a kernel that loses its first ``lost`` port races; returns its start log."""
    root.mkdir()
    starts = root / "starts.log"
    launcher = root / "launcher.py"
    launcher.write_text(LAUNCHER.format(starts=str(starts), lost=lost), encoding="utf-8")
    spec = root / "jupyter" / "kernels" / "racing"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, str(launcher), "-f", "{connection_file}"],
                "display_name": "racing",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(root / "jupyter"))
    runner._kernel_specs.cache_clear()
    return starts


@pytest.fixture(autouse=True)
def _fresh_kernel_specs() -> object:
    yield
    runner._kernel_specs.cache_clear()


def test_a_lost_port_race_is_retried(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_notebook: Callable[..., Path],
    run_verify: Callable[..., VerifyRun],
) -> None:
    starts = install_racing_kernel(tmp_path / "env", monkeypatch, lost=1)
    notebook = make_notebook(code('print("hi")', stdout("hi\n"), count=1), kernel="racing")

    run = run_verify(notebook, "--no-script")

    assert run.exit_code == 0, run.output
    assert run.notebook("notebook.ipynb")["status"] == "reproduces"
    assert starts.read_text().count("start") == 2  # lost once, then started again


def test_a_kernel_that_never_binds_is_reported_after_the_retries(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_notebook: Callable[..., Path],
    run_verify: Callable[..., VerifyRun],
) -> None:
    starts = install_racing_kernel(tmp_path / "env", monkeypatch, lost=99)
    notebook = make_notebook(code('print("hi")', stdout("hi\n"), count=1), kernel="racing")

    run = run_verify(notebook, "--no-script")

    assert run.exit_code == 1, run.output
    [mismatch] = run.notebook("notebook.ipynb")["mismatches"]
    assert mismatch["reason"] == "dead-kernel"
    assert "Address already in use" in run.output
    assert starts.read_text().count("start") == runner.KERNEL_START_ATTEMPTS


def test_a_kernel_started_ahead_that_lost_its_port_is_started_again(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_notebook: Callable[..., Path],
    run_verify: Callable[..., VerifyRun],
) -> None:
    """With -j 1 the second notebook's kernel starts while the first runs; both of the first
    two starts lose their port, so the kernel started ahead is dead when its turn comes."""
    starts = install_racing_kernel(tmp_path / "env", monkeypatch, lost=2)
    # the first notebook notes how many kernels had started when its cell ran
    seen = f"open('seen.txt', 'w').write(open({str(starts)!r}).read())"
    make_notebook(code(f"_ = {seen}", count=1), kernel="racing", name="first.ipynb")
    make_notebook(
        code('print("hi")', stdout("hi\n"), count=1), kernel="racing", name="second.ipynb"
    )

    run = run_verify(tmp_path / "first.ipynb", tmp_path / "second.ipynb", "--no-script")

    assert run.exit_code == 0, run.output
    assert [run.notebook(n)["status"] for n in ("first.ipynb", "second.ipynb")] == [
        "reproduces",
        "reproduces",
    ]
    assert starts.read_text().count("start") == 4  # each lost once, then started again
    # the second notebook's first kernel had started before the first notebook's cell ran
    assert (tmp_path / "seen.txt").read_text().count("start") == 3
