"""Faults in verify (issue 12, part 4): each ends in a verdict with its reason, or a clean stop.

``nb2pipe verify`` runs as a subprocess, watched while it runs: every process below it is
recorded, and afterwards none of them may be left, nor any process whose command line names
the test's folder (verify's temporary folders and the kernels' connection files are put
there through ``TMPDIR`` and ``JUPYTER_RUNTIME_DIR``). The user's notebooks keep their bytes,
and the reports are written (outside the notebooks' folders) for the notebooks that finished.

The faults: a kernel killed from outside (SIGKILL), a cell that hangs past ``--timeout``, a
cell that exhausts the memory of a ``ulimit``-bounded kernel (a kernelspec that starts the
kernel under ``prlimit --as``), a notebook that deletes its own folder, a script that hangs
(with a child process of its own), and Ctrl-C during ``-j 2``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import psutil
import pytest

from ..conftest import notebook_json
from .conftest import code, stdout

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(sys.platform != "linux", reason="process groups, prlimit and /proc"),
]

#: --timeout of the fault runs: long enough for the test to kill a kernel in mid-cell
TIMEOUT = 4
#: the ulimit-bounded kernel's address space (an idle kernel with two malloc arenas takes
#: about 220 MB)
KERNEL_ADDRESS_SPACE = 600 * 2**20
#: the longest a watched verify may run before the test gives up on it
DEADLINE = 120


def marker(folder: Path, name: str) -> str:
    """Code that leaves ``<name>.<kernel|script>.<pid>`` in ``folder``: who runs the cell."""
    return (
        "import os, sys, pathlib\n"
        f"pathlib.Path({str(folder)!r}, {name!r} + '.' + "
        "('kernel' if 'ipykernel' in sys.modules else 'script') + '.' + str(os.getpid())).touch()\n"
    )


def marked(folder: Path) -> dict[str, int]:
    """``{"<name>.<role>": pid}`` of the markers left so far."""
    out = {}
    for entry in folder.iterdir():
        name, role, pid = entry.name.rsplit(".", 2)
        out[f"{name}.{role}"] = int(pid)
    return out


@dataclass
class Watched:
    """A finished verify subprocess and what was seen of it."""

    returncode: int
    output: str
    seen: list[psutil.Process] = field(default_factory=list)

    def report(self, path: Path) -> dict[str, Any]:
        assert path.exists(), self.output
        return json.loads(path.read_text(encoding="utf-8"))


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []


def watch_verify(
    tmp_path: Path, *args: str | Path, on_tick: Callable[[subprocess.Popen[bytes]], None] = lambda p: None
) -> Watched:
    """Run ``nb2pipe verify ARGS`` and record its descendants until it exits.

    ``on_tick(process)`` is called about ten times a second while it runs (to kill a kernel,
    or send Ctrl-C).
    """
    for name in ("tmp", "runtime"):
        (tmp_path / name).mkdir(exist_ok=True)
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path / "tmp"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_PATH": os.pathsep.join(
            p for p in (str(tmp_path / "share" / "jupyter"), os.environ.get("JUPYTER_PATH")) if p
        ),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "nb2pipe", "verify", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        # a background process may inherit SIGINT ignored; a user's terminal does not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    me = psutil.Process(process.pid)
    seen: dict[tuple[int, float], psutil.Process] = {}
    deadline = time.monotonic() + DEADLINE
    try:
        while process.poll() is None:
            for child in _descendants(me):
                try:
                    seen.setdefault((child.pid, child.create_time()), child)
                except psutil.Error:
                    pass
            on_tick(process)
            if time.monotonic() > deadline:
                pytest.fail(f"verify still runs after {DEADLINE} s")
            time.sleep(0.1)
        output = process.communicate()[0].decode("utf-8", errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return Watched(process.returncode, output, list(seen.values()))


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def leftovers(watched: Watched, tmp_path: Path, pids: Path) -> list[str]:
    """The processes verify left behind (after a short grace for the kernel to exit)."""
    marked_pids = set(marked(pids).values()) if pids.exists() else set()

    def left() -> list[str]:
        out = [f"{p.pid} (seen under verify)" for p in watched.seen if _running(p)]
        for pid in marked_pids:
            try:
                process = psutil.Process(pid)
            except psutil.NoSuchProcess:
                continue
            if _running(process):
                out.append(f"{pid} (ran a cell): {' '.join(process.cmdline())}")
        for process in psutil.process_iter(["pid", "cmdline"]):
            cmdline = " ".join(process.info["cmdline"] or [])
            if str(tmp_path) in cmdline and _running(process):
                out.append(f"{process.pid} (names the test folder): {cmdline}")
        return out

    deadline = time.monotonic() + 5
    while (found := left()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def assert_no_traceback_of_ours(output: str) -> None:
    """verify printed no traceback of its own (a kernel's, quoted in a finding, is indented)."""
    assert not re.search(r"^Traceback", output, re.MULTILINE), output
    assert "/nb2pipe/verify/" not in output, output


def write_notebook(folder: Path, name: str, *cells: Any, kernel: str = "python3") -> Path:
    """``folder/name/name.ipynb``: each notebook in a folder of its own."""
    path = folder / name / f"{name}.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(notebook_json(*cells, kernel=kernel), indent=1), encoding="utf-8")
    return path


def limited_kernelspec(tmp_path: Path) -> str:
    """A kernelspec that starts the kernel under ``prlimit --as`` (a ulimit-bounded kernel)."""
    spec = tmp_path / "share" / "jupyter" / "kernels" / "limited"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    shutil.which("prlimit") or "prlimit",
                    f"--as={KERNEL_ADDRESS_SPACE}",
                    sys.executable,
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                ],
                "display_name": "Python 3 (600 MB)",
                "language": "python",
                # glibc reserves 64 MB of address space per thread arena: bound them, so the
                # kernel's size does not depend on the machine's cores
                "env": {"MALLOC_ARENA_MAX": "2"},
            }
        ),
        encoding="utf-8",
    )
    return "limited"


# ---------------------------------------------------------------------------------------------
# faults 1-5: one `verify -j 2` over a notebook per fault


@dataclass
class FaultRun:
    watched: Watched
    report: dict[str, Any]
    junit: Path
    notebooks: dict[str, Path]
    before: dict[str, bytes]
    left: list[str]
    pids: dict[str, int]

    def notebook(self, name: str) -> dict[str, Any]:
        matches = [nb for nb in self.report["notebooks"] if Path(nb["path"]).stem == name]
        assert len(matches) == 1, self.watched.output
        return matches[0]

    def reasons(self, name: str) -> list[tuple[int | None, str]]:
        return [(m["cell_index"], m["reason"]) for m in self.notebook(name)["mismatches"]]


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> FaultRun:
    if shutil.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) is not installed")
    tmp = tmp_path_factory.mktemp("faults")
    pids = tmp / "pids"
    pids.mkdir()
    nbs = tmp / "notebooks"
    limits = tmp / "limits"
    limits.mkdir()
    limited = limited_kernelspec(tmp)
    notebooks = {
        # 1. the kernel killed from outside in mid-cell (the test kills it, see on_tick)
        "killed": write_notebook(
            nbs,
            "killed",
            code('print("start")', stdout("start\n"), count=1),
            code(
                marker(pids, "killed")
                + "import time\nif 'ipykernel' in sys.modules:\n    time.sleep(60)\nprint('done')",
                stdout("done\n"),
                count=2,
            ),
        ),
        # 2. a cell that hangs past --timeout (in the script too)
        "hangs": write_notebook(
            nbs,
            "hangs",
            code('print("start")', stdout("start\n"), count=1),
            code(marker(pids, "hangs") + "import time\nwhile True:\n    time.sleep(0.05)", count=2),
        ),
        # 3. a cell that exhausts the memory of a ulimit-bounded kernel (at most 1 GB: the
        # script must not exhaust the machine's if it ran unbounded)
        "memory": write_notebook(
            nbs,
            "memory",
            code('print("start")', stdout("start\n"), count=1),
            code(
                marker(pids, "memory")
                + "import resource\n"
                + f"pathlib.Path({str(limits)!r}, "
                "'kernel' if 'ipykernel' in sys.modules else 'script').write_text("
                "str(resource.getrlimit(resource.RLIMIT_AS)[0]))\n"
                "chunks = []\nfor _ in range(16):\n    chunks.append(bytearray(64 * 2**20))\n"
                "print('allocated')",
                stdout("allocated\n"),
                count=2,
            ),
            kernel=limited,
        ),
        # 4. a notebook that deletes its own folder (the script deletes its copy)
        "deletes_folder": write_notebook(
            nbs,
            "deletes_folder",
            code('print("before")', stdout("before\n"), count=1),
            code("import os, shutil\nshutil.rmtree(os.getcwd())", count=2),
            code('print("after")', stdout("after\n"), count=3),
        ),
        # 5. a script that hangs, with a child process of its own; the notebook runs fine
        "script_hangs": write_notebook(
            nbs,
            "script_hangs",
            code(
                marker(pids, "script_hangs")
                + "import subprocess, time\nprint('ready')\n"
                "if 'ipykernel' not in sys.modules:\n"
                "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
                + f"    pathlib.Path({str(pids)!r}, 'script_hangs.child.' + str(child.pid)).touch()\n"
                "    time.sleep(10**6)",
                stdout("ready\n"),
                count=1,
            ),
        ),
    }
    before = {name: path.read_bytes() for name, path in notebooks.items()}
    killed: list[int] = []

    def kill_the_kernel(process: subprocess.Popen[bytes]) -> None:
        pid = marked(pids).get("killed.kernel")
        if pid is not None and not killed:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    json_path, junit = tmp / "reports" / "report.json", tmp / "reports" / "report.xml"
    json_path.parent.mkdir()
    watched = watch_verify(
        tmp,
        *notebooks.values(),
        "-j",
        "2",
        "--timeout",
        str(TIMEOUT),
        "--json",
        json_path,
        "--junit",
        junit,
        on_tick=kill_the_kernel,
    )
    assert killed, watched.output
    return FaultRun(
        watched,
        watched.report(json_path),
        junit,
        notebooks,
        before,
        leftovers(watched, tmp, pids),
        marked(pids),
    )


def test_faults_are_verdicts_and_every_report_is_written(faults: FaultRun) -> None:
    assert faults.watched.returncode == 1, faults.watched.output
    assert_no_traceback_of_ours(faults.watched.output)
    assert faults.report["summary"]["notebooks"] == len(faults.notebooks)
    from junitparser import JUnitXml

    cases = [case for suite in JUnitXml.fromfile(str(faults.junit)) for case in suite]
    for path in faults.notebooks.values():
        assert any(case.name == str(path) for case in cases), [c.name for c in cases]


def test_faults_leave_no_process_behind(faults: FaultRun) -> None:
    # the kernels and scripts did run under verify (the watch saw them)
    assert {"hangs.kernel", "hangs.script", "script_hangs.script", "script_hangs.child"} <= set(
        faults.pids
    ), faults.pids
    assert faults.watched.seen
    assert faults.left == []


def test_notebooks_are_untouched(faults: FaultRun) -> None:
    for name, path in faults.notebooks.items():
        if name == "deletes_folder":
            continue
        assert path.read_bytes() == faults.before[name], name
    # the notebook that deleted its folder is not written back
    assert not faults.notebooks["deletes_folder"].parent.exists()


def test_killed_kernel_is_dead_kernel_on_its_cell(faults: FaultRun) -> None:
    assert faults.reasons("killed") == [(1, "dead-kernel")]
    finding = faults.notebook("killed")["mismatches"][0]
    assert "SIGKILL" in finding["message"], finding


def test_cell_past_the_timeout_is_timeout(faults: FaultRun) -> None:
    assert faults.reasons("hangs") == [(1, "timeout")]
    finding = faults.notebook("hangs")["mismatches"][0]
    assert finding["message"] == f"the cell ran longer than the {TIMEOUT} s timeout"
    assert faults.notebook("hangs")["script"]["status"] == "skipped"


def test_memory_exhausted_in_a_bounded_kernel_names_memory_error(faults: FaultRun) -> None:
    report = faults.notebook("memory")
    [(cell, reason)] = faults.reasons("memory")
    finding = report["mismatches"][0]
    assert cell == 1
    assert reason in ("error", "dead-kernel"), finding
    if reason == "error":
        assert finding["message"] == "raised MemoryError", finding
    assert "nb2pipe/" not in finding["diff"], finding  # the kernel's traceback, not ours
    # the kernel ran under its kernelspec's limit: it started, and the first cell reproduced
    assert "memory.kernel" in faults.pids
    assert report["cells_compared"] >= 1
    # the script is started as the kernelspec starts the kernel: behind its prlimit
    limits = faults.notebooks["memory"].parents[2] / "limits"
    assert (limits / "kernel").read_text() == str(KERNEL_ADDRESS_SPACE)
    if (limits / "script").exists():  # unless the notebook's failure cancelled it first
        assert (limits / "script").read_text() == str(KERNEL_ADDRESS_SPACE)


def test_notebook_deleting_its_folder_gets_a_verdict(faults: FaultRun) -> None:
    report = faults.notebook("deletes_folder")
    assert report["status"] == "reproduces", report
    assert report["script"]["status"] == "equal", report
    assert any("no longer exists" in note for note in report["notes"]), report["notes"]


def test_hanging_script_times_out_and_its_process_group_is_killed(faults: FaultRun) -> None:
    report = faults.notebook("script_hangs")
    assert faults.reasons("script_hangs") == [(None, "script-failed")]
    message = report["mismatches"][0]["message"]
    assert message.startswith("the script timed out after "), message
    assert report["script"]["status"] == "failed"
    # the script's own child went with it (test_faults_leave_no_process_behind checks all)
    assert not psutil.pid_exists(faults.pids["script_hangs.child"]) or not _running(
        psutil.Process(faults.pids["script_hangs.child"])
    )


def test_update_never_writes_back_a_notebook_that_deleted_its_folder(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    notebook = write_notebook(
        tmp_path / "notebooks",
        "deletes_folder",
        code('print("before")', stdout("before\n"), count=1),
        code(marker(pids, "deletes") + "import shutil\nshutil.rmtree(os.getcwd())", count=2),
        code('print("after")', stdout("after\n"), count=3),
    )
    json_path = tmp_path / "report.json"
    watched = watch_verify(tmp_path, notebook, "--update", "--json", json_path)
    assert_no_traceback_of_ours(watched.output)
    assert watched.returncode == 0, watched.output
    assert not notebook.parent.exists()  # not recreated by the write-back
    report = watched.report(json_path)["notebooks"][0]
    assert report["updated"] is False
    assert f"{notebook} no longer exists after the run (a cell deleted it, or its folder); " \
        "not updated" in report["notes"]
    assert leftovers(watched, tmp_path, pids) == []


def test_a_script_runs_as_the_kernelspec_starts_its_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nb2pipe.verify.runner import kernel_command, kernel_python

    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    name = limited_kernelspec(tmp_path)
    prefix, env = kernel_command(name)
    assert prefix == [shutil.which("prlimit"), f"--as={KERNEL_ADDRESS_SPACE}", sys.executable]
    assert env == {"MALLOC_ARENA_MAX": "2"}
    assert kernel_python(name) == sys.executable
    assert kernel_command("python3")[0][-1].endswith(("python", "python3"))
    assert kernel_command("no-such-kernel") == ([sys.executable], {})


# ---------------------------------------------------------------------------------------------
# 6. Ctrl-C during -j 2 with two notebooks running


def test_ctrl_c_during_two_jobs_stops_cleanly_and_reports_what_finished(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    nbs = tmp_path / "notebooks"
    loop = "import time\nwhile True:\n    time.sleep(0.05)"
    notebooks = [
        write_notebook(nbs, "quick", code("print(1 + 1)", stdout("2\n"), count=1)),
        write_notebook(nbs, "loop_a", code(marker(pids, "loop_a") + loop, count=1)),
        write_notebook(nbs, "loop_b", code(marker(pids, "loop_b") + loop, count=1)),
    ]
    before = [path.read_bytes() for path in notebooks]
    running = {f"{name}.{role}" for name in ("loop_a", "loop_b") for role in ("kernel", "script")}
    sent: list[float] = []

    def interrupt_when_both_run(process: subprocess.Popen[bytes]) -> None:
        if not sent and running <= set(marked(pids)):
            process.send_signal(signal.SIGINT)
            sent.append(time.monotonic())

    json_path, junit = tmp_path / "report.json", tmp_path / "report.xml"
    watched = watch_verify(
        tmp_path,
        *notebooks,
        "-j",
        "2",
        "--timeout",
        "0",
        "--json",
        json_path,
        "--junit",
        junit,
        on_tick=interrupt_when_both_run,
    )
    assert sent, watched.output
    assert watched.returncode == 130, watched.output
    assert_no_traceback_of_ours(watched.output)
    assert "dead-kernel" not in watched.output  # killed on purpose: no verdict
    assert "interrupted" in watched.output
    assert leftovers(watched, tmp_path, pids) == []
    assert [path.read_bytes() for path in notebooks] == before
    # the reports hold the notebook that finished, and say the run was interrupted
    report = watched.report(json_path)
    assert [Path(nb["path"]).stem for nb in report["notebooks"]] == ["quick"]
    assert report["notebooks"][0]["status"] == "reproduces"
    assert report["interrupted"] is True and report["exit_code"] == 130
    from junitparser import JUnitXml

    from .test_reports import validate_report

    validate_report(report)
    cases = [case for suite in JUnitXml.fromfile(str(junit)) for case in suite]
    assert [case.name for case in cases] == [str(notebooks[0])]
