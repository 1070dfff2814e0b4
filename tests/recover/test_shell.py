"""The shell fork server: outputs as a kernel saves them, checkpoints, forks, and cleanup."""

from __future__ import annotations

import ast
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from nb2pipe.model import Output
from nb2pipe.recover import (
    CellResult,
    Checkpoint,
    ForkUnsafe,
    ShellError,
    ShellServer,
    _worker,
    shell,
)
from nb2pipe.verify.compare import CompareOptions, compare_outputs
from nb2pipe.verify.runner import run_notebook

from ..conftest import notebook_json

#: One cell of each kind of output a notebook saves, and each way ipykernel differs from a
#: plain interpreter; the kernel comparison below runs them in a real kernel too.
KINDS = {
    "print": 'print("one")\nprint("two")',
    "stderr": 'import sys\nprint("to stderr", file=sys.stderr)\nprint("back to stdout")',
    "fd output": 'import os\nos.system("echo from a subprocess")',
    "display": 'from IPython.display import HTML, display\ndisplay(HTML("<b>bold</b>"), "text")',
    "execute_result": "6 * 7",
    "no result after ;": "6 * 7;",
    "dataframe": 'import pandas as pd\npd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})',
    "figure": "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('t');",
    "plt.show": 'plt.plot([2, 1])\nplt.show()\nprint("after show")',
    "error": 'print("before")\n{}["missing"]',
    "UsageError": "%not_a_magic",
    "SyntaxError": "x = (",
    "warning": 'import warnings\nwarnings.warn("careful")',
    "sys.exit()": "import sys\nsys.exit()",
    "input()": 'input("name? ")',
    "top-level await": "import asyncio\nawait asyncio.sleep(0)\n'awaited'",
    "asyncio.run in a running loop": "asyncio.run(asyncio.sleep(0))",
    "clear_output": (
        'from IPython.display import clear_output\nprint("gone")\nclear_output()\nprint("kept")'
    ),
    "display update": 'handle = display("first", display_id=True)\nhandle.update("second")',
    "kernel magic": "%autosave 0",
    "shell class": "type(get_ipython()).__name__",
}

#: ipykernel forwards what is written to file descriptors 1 and 2 from a thread; nbclient
#: stops collecting at the execute reply, so whether it saves that text is a race.
RACY_IN_NBCLIENT = frozenset({"fd output"})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShellServer]:
    with ShellServer(tmp_path_factory.mktemp("shell"), timeout=120) as started:
        yield started


@pytest.fixture
def root(server: ShellServer) -> Iterator[Checkpoint]:
    checkpoint = server.root()
    yield checkpoint
    checkpoint.close()


def _kinds(outputs: tuple[Output, ...]) -> list[str]:
    return [output.output_type for output in outputs]


def test_outputs_have_the_shape_a_kernel_saves(root: Checkpoint) -> None:
    results = {name: root.run(source) for name, source in KINDS.items()}

    printed = results["print"]
    assert printed.status == "ok"
    assert [(o.output_type, o.name, o.text) for o in printed.outputs] == [
        ("stream", "stdout", "one\ntwo\n")  # consecutive chunks of one stream, merged
    ]
    assert [(o.name, o.text) for o in results["stderr"].outputs] == [
        ("stderr", "to stderr\n"),
        ("stdout", "back to stdout\n"),
    ]
    assert results["fd output"].outputs[0].text == "from a subprocess\n"
    assert [dict(o.data) for o in results["display"].outputs] == [
        {"text/html": "<b>bold</b>", "text/plain": "<IPython.core.display.HTML object>"},
        {"text/plain": "'text'"},
    ]
    result = results["execute_result"]
    assert _kinds(result.outputs) == ["execute_result"]
    assert result.outputs[0].data == {"text/plain": "42"}
    assert result.outputs[0].execution_count == result.execution_count
    assert results["no result after ;"].outputs == ()
    assert set(results["dataframe"].outputs[0].data) == {"text/plain", "text/html"}
    for name in ("figure", "plt.show"):
        figure = results[name].outputs[0]
        assert figure.output_type == "display_data", name
        assert figure.data["image/png"].startswith("iVBORw0KGgo"), name  # a base64 PNG
    assert results["plt.show"].outputs[1].text == "after show\n"

    error = results["error"]
    assert (error.status, error.ename, error.evalue) == ("error", "KeyError", "'missing'")
    assert _kinds(error.outputs) == ["stream", "error"]
    assert error.outputs[1].ename == "KeyError" and error.outputs[1].traceback
    usage = results["UsageError"]
    assert (usage.status, usage.ename) == ("error", "UsageError")
    assert [(o.name, o.text) for o in usage.outputs] == [
        ("stderr", "UsageError: Line magic function `%not_a_magic` not found.\n")
    ]
    assert results["SyntaxError"].ename == "SyntaxError"
    assert "UserWarning: careful" in (results["warning"].outputs[0].text or "")
    exited = results["sys.exit()"]
    assert (exited.status, exited.ename) == ("error", "SystemExit")
    asked = results["input()"]
    assert (asked.status, asked.ename) == ("error", "StdinNotImplementedError")
    assert results["top-level await"].outputs[0].data == {"text/plain": "'awaited'"}
    assert results["asyncio.run in a running loop"].ename == "RuntimeError"
    assert [o.text for o in results["clear_output"].outputs] == ["kept\n"]
    assert [dict(o.data) for o in results["display update"].outputs] == [{"text/plain": "'second'"}]
    assert results["kernel magic"].status == "ok"
    assert results["shell class"].outputs[0].data == {"text/plain": "'ZMQInteractiveShell'"}
    assert root.alive  # sys.exit() is an error in a kernel, not the end of it


@pytest.mark.kernel
def test_outputs_agree_with_a_real_kernel(tmp_path: Path, server: ShellServer) -> None:
    """The CI-sized faithfulness check (``bench/bench_recover_shell.py fidelity`` runs the
    corpus): every cell's outputs and outcome, shell against kernel, by verify's comparison."""
    sources = list(KINDS.values())
    path = tmp_path / "kinds.ipynb"
    path.write_text(json.dumps(notebook_json(*sources)), encoding="utf-8")
    run = run_notebook(path, kernel_name="python3", timeout=120, expected_errors=range(99))
    kernel_cells = {cell.index: cell for cell in run.notebook.cells}
    checkpoint = server.root()
    disagreements = []
    for index, (name, source) in enumerate(KINDS.items()):
        result = checkpoint.run(source)
        reply = run.replies[index]
        comparison = compare_outputs(kernel_cells[index].outputs, result.outputs, CompareOptions())
        if name in RACY_IN_NBCLIENT:
            continue
        if not comparison.equal or reply.status != result.status or reply.ename != result.ename:
            disagreements.append(
                (name, reply.status, result.status, [d.message for d in comparison.differences])
            )
    checkpoint.close()
    assert disagreements == []


def test_a_fork_is_isolated_from_its_siblings_and_its_original(root: Checkpoint) -> None:
    root.run("values = [1]\nimport random\nrandom.seed(7)")
    first, second = root.fork(), root.fork()
    first.run("values.append(2)\ncount = 10")
    assert _value(second.run("values")) == "[1]"
    assert _value(root.run("values")) == "[1]"
    assert second.run("count").ename == "NameError"
    # the random module reseeds itself in a forked child; a checkpoint keeps its state
    expected = random.Random(7).random()
    assert _value(first.run("random.random()")) == repr(expected)
    assert _value(second.run("random.random()")) == repr(expected)
    assert _value(first.run("values")) == "[1, 2]"
    first.close()
    second.close()


def test_execution_counts_increment_as_in_a_kernel(root: Checkpoint) -> None:
    assert root.execution_count == 0
    assert root.run("1").execution_count == 1
    assert root.run("   \n").execution_count is None  # a blank cell is not counted
    failed = root.run("1 / 0")
    assert (failed.status, failed.execution_count) == ("error", 2)
    assert root.execution_count == 2
    child = root.fork()
    assert child.execution_count == 2
    result = child.run("'third'")
    assert result.execution_count == 3 and result.outputs[0].execution_count == 3
    assert root.run("'third here too'").execution_count == 3
    child.close()


def test_a_cell_past_the_timeout_is_interrupted(root: Checkpoint) -> None:
    start = time.monotonic()
    result = root.run("import time\nprint('started')\ntime.sleep(60)", timeout=1)
    assert time.monotonic() - start < 10
    assert (result.status, result.ename) == ("timeout", "KeyboardInterrupt")
    assert _kinds(result.outputs) == ["stream", "error"]
    assert root.alive and _value(root.run("'still usable'")) == "'still usable'"


def test_a_cell_that_ignores_the_interrupt_is_killed(
    server: ShellServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shell, "INTERRUPT_GRACE", 0.5)
    checkpoint = server.root()
    source = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    result = checkpoint.run(source, timeout=1)
    assert result.status == "timeout"
    assert not checkpoint.alive
    assert _ends(checkpoint.pid)
    with pytest.raises(ShellError, match="closed"):
        checkpoint.run("1")


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("import os\nos._exit(3)", id="os._exit"),
        pytest.param("import ctypes\nctypes.string_at(0)", id="segfault"),
    ],
)
def test_a_crashing_cell_leaves_its_parent_checkpoint_intact(root: Checkpoint, source: str) -> None:
    root.run("state = 'parent'")
    child = root.fork()
    result = child.run(source)
    assert result.status == "crashed"
    assert not child.alive
    assert _value(root.run("state")) == "'parent'"
    assert root.fork().run("state").outputs[0].data == {"text/plain": "'parent'"}


def test_exit_ends_the_checkpoint_as_it_ends_a_kernel(root: Checkpoint) -> None:
    """In ipykernel, ``exit()`` stops the kernel right after its reply (the cell itself is ok)."""
    result = root.run("exit()")
    assert (result.status, result.exits) == ("ok", True)
    assert not root.alive
    with pytest.raises(ShellError):
        root.run("1")


def test_fork_refused_while_the_notebook_keeps_threads(root: Checkpoint) -> None:
    root.run(
        "import threading\nstop = threading.Event()\n"
        "worker = threading.Thread(target=stop.wait, name='waiter')\nworker.start()"
    )
    with pytest.raises(ForkUnsafe, match="waiter"):
        root.fork()
    assert _value(root.run("worker.is_alive()")) == "True"  # the state is intact
    root.run("stop.set()\nworker.join()")
    root.fork().close()


def test_fork_after_an_openmp_pool_ran_does_not_hang(root: Checkpoint) -> None:
    """scikit-learn's GNU OpenMP pool would hang a forked copy; it is released first."""
    pytest.importorskip("sklearn")
    fit = (
        "from sklearn.cluster import KMeans\nimport numpy as np\n"
        "X = np.random.RandomState(0).rand(500, 3)\n"
        "round(KMeans(3, n_init=1, random_state=0).fit(X).inertia_, 6)"
    )
    expected = _value(root.run(fit))
    child = root.fork()
    assert _value(child.run(fit, timeout=60)) == expected
    assert _value(root.run(fit)) == expected
    child.close()


def test_fork_after_joblib_processes_ran(root: Checkpoint) -> None:
    """joblib keeps a process executor (and two threads) after ``n_jobs=2``: it is shut down
    before the fork and started again when needed, in either process."""
    pytest.importorskip("joblib")
    parallel = (
        "from joblib import Parallel, delayed\n"
        "Parallel(n_jobs=2)(delayed(abs)(i) for i in range(-3, 3))"
    )
    expected = _value(root.run(parallel))
    child = root.fork()
    assert _value(child.run(parallel, timeout=60)) == expected
    assert _value(root.run(parallel, timeout=60)) == expected
    child.close()


def test_close_leaves_no_process_behind(tmp_path: Path) -> None:
    server = ShellServer(tmp_path)
    root = server.root()
    root.run("import subprocess\nsleeper = subprocess.Popen(['sleep', '300'])")
    child = root.fork()
    grandchild = child.fork()
    child.close()  # the grandchild outlives the checkpoint it was forked from
    assert _value(grandchild.run("'alive'")) == "'alive'"
    processes = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
    assert len(processes) >= 4  # supervisor, root, grandchild, sleep
    server.close()
    assert [p.pid for p in processes if _running(p.pid)] == []  # gone at once, not soon


def test_the_profile_configures_the_shell_as_it_configures_a_kernel(tmp_path: Path) -> None:
    """Config and startup files change outputs (every expression shown, a figure format)."""
    profile = tmp_path / "ipython" / "profile_default"
    (profile / "startup").mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(
        'c.InteractiveShell.ast_node_interactivity = "all"\n', encoding="utf-8"
    )
    (profile / "startup" / "00-greeting.py").write_text("GREETING = 'hello'\n", encoding="utf-8")
    notebook = tmp_path / "notebook"
    notebook.mkdir()
    with ShellServer(notebook, env={"IPYTHONDIR": str(tmp_path / "ipython")}) as server:
        result = server.root().run("GREETING\n1 + 1")
    assert [o.data["text/plain"] for o in result.outputs] == ["'hello'", "2"]


def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    with pytest.raises(ShellError, match="cannot start"):
        ShellServer(tmp_path, python=str(tmp_path / "no-python"))
    with pytest.raises(ShellError, match="not a folder"):
        ShellServer(tmp_path / "missing")


def test_the_worker_imports_only_what_a_kernel_has() -> None:
    """It runs in the notebook's interpreter, which need not have nb2pipe installed."""
    tree = ast.parse(Path(_worker.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.add(node.module.split(".")[0])
    assert imported - {"IPython", "ipykernel", "traitlets", "__future__"} <= set(
        __import__("sys").stdlib_module_names
    )


def _value(result: CellResult) -> str:
    assert result.status == "ok", (result.ename, result.evalue)
    return result.outputs[-1].data["text/plain"]


def _ends(pid: int, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while _running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
