"""%track never breaks the user's kernel: same outputs, errors and execution counts as without it.

A stock kernel and a kernel that autoloads nb2pipe through IPython's ``extensions`` config (with
``NB2PIPE_TRACK=1``, so tracking is on from the first cell) run the same cells; every execute
reply and output must match, and ``user_ns`` must hold the same names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from tests.tracking.conftest import write_notebook
from tests.tracking.kernel_driver import Execution, KernelDriver

pytestmark = pytest.mark.kernel

#: a 2 GiB array (the machine has 24 GiB; both kernels hold one at a time)
BIG_ARRAY_BYTES = 2 * 1024**3

EVIL = '''\
class Evil:
    def __eq__(self, other):
        raise RuntimeError("eq")
    def __hash__(self):
        raise RuntimeError("hash")
    def __repr__(self):
        raise RuntimeError("repr")
    def __len__(self):
        raise RuntimeError("len")
    def __bool__(self):
        raise RuntimeError("bool")
    def __getattr__(self, name):
        raise RuntimeError("getattr " + name)
    @property
    def __dict__(self):
        raise RuntimeError("dict")
evil = Evil()'''

THREAD = """\
import threading, time
stop = threading.Event()
shared = []
def churn():
    i = 0
    while not stop.is_set():
        globals()[f"_t{i % 50}"] = [i]
        globals().pop(f"_t{(i + 25) % 50}", None)
        shared.append(i)
        del shared[:-10]
        i += 1
        time.sleep(0)
worker = threading.Thread(target=churn, daemon=True)
worker.start()"""

CASES: dict[str, list[str]] = {
    "exceptions": ["x = 1", "1 / 0", "raise ValueError('bad value')", "y = undefined_name + 1", "print(x)"],
    "syntax-errors": ["def f(:\n    pass", "z = (1,", "  indented = 1", "%magic_that_does_not_exist", "print('after')"],
    "keyboard-interrupt": ["raise KeyboardInterrupt", "k = 2\nprint(k)"],
    "reset": ["a = 1\nb = [2]", "%reset -f", "print('a' in dir(), 'b' in dir())", "a = 3", "print(a)"],
    "del": ["b = [1]", "c = b", "del b", "print('b' in dir(), c)", "del nonexistent", "del c"],
    "hundred-thousand-globals": [
        "for i in range(100_000):\n    globals()[f'g{i}'] = i",
        "print(sum(1 for k in list(globals()) if k.startswith('g') and k[1:].isdigit()))",
        "print(g99999 + 1)",
        "g5 = [g5]\ng5.append(g6)\nprint(g5)",
        "for i in range(100_000):\n    del globals()[f'g{i}']",
    ],
    # a thread changes globals (and a list the cells use) while cells run and between them,
    # while the tracker walks the namespace
    "threads": [
        THREAD,
        "a = [1, 2]",
        "a.append(3)\nshared_before = len(shared) >= 0",
        "b = sum(a)\nprint(b)",
        "for k in range(20_000):\n    c = k",
        "time.sleep(0.2)\nprint(c, b, shared_before)",
        "def during():\n    t = threading.Thread(target=lambda: globals().update(made_by_thread=1))\n"
        "    t.start()\n    t.join()\nduring()\nprint(made_by_thread)",
        "stop.set()\nworker.join()\nprint(worker.is_alive())",
    ],
    # IPython's autoawait: top-level await, async comprehensions, switched off and on
    "autoawait": [
        "import asyncio",
        "await asyncio.sleep(0.01)",
        "async def twice(x):\n    await asyncio.sleep(0)\n    return 2 * x",
        "value = await twice(21)\nprint(value)",
        "async def gen():\n    for i in range(3):\n        yield i",
        "items = [i async for i in gen()]\nprint(items)",
        "results = await asyncio.gather(twice(1), twice(2))\nprint(results)",
        "%autoawait off",
        "await asyncio.sleep(0)",
        "%autoawait asyncio",
        "print(await twice(value))",
    ],
    "big-array": [
        f"import numpy as np\nbig = np.ones({BIG_ARRAY_BYTES // 8}, dtype=np.float64)",
        "big[0] = 3.0",
        "view = big[:10]\nview += 1",
        "print(float(big[:100].sum()), big.nbytes)",
        "del big, view",
    ],
    "raising-dunders": [
        EVIL,
        "alias = evil",
        "holder = [evil, evil]\nmapping = {'k': evil}",
        "evil",
        "print(type(alias).__name__)",
        "holder.append(evil)",
        "try:\n    evil == 1\nexcept RuntimeError as e:\n    print('caught', e)",
        "evil.new_attribute = 1",
        "del alias",
    ],
}


def _events(driver: KernelDriver, cases: dict[str, list[str]]) -> Iterator[tuple[str, Execution]]:
    for name, cells in cases.items():
        for index, source in enumerate(cells):
            yield name, driver.execute(source, cell_id=f"{name}-{index}")


def _names(driver: KernelDriver) -> list[str]:
    return json.loads(driver.value("__import__('json').dumps(sorted(k for k in globals() if not k.startswith('_')))").strip("'"))


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KernelDriver, KernelDriver, Path]]:
    root = tmp_path_factory.mktemp("robust")
    ipython_dir = root / "ipython"
    profile = ipython_dir / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text('c.InteractiveShellApp.extensions = ["nb2pipe"]\n')
    notebook = write_notebook(root / "robust.ipynb", ["pass"])
    tracked = KernelDriver(
        notebook=notebook, cwd=root, env={"IPYTHONDIR": str(ipython_dir), "NB2PIPE_TRACK": "1"}
    )
    stock = KernelDriver(cwd=root, env={"IPYTHONDIR": str(root / "stock-ipython")})
    try:
        yield stock, tracked, root
    finally:
        tracked.shutdown()
        stock.shutdown()


@pytest.fixture(scope="module")
def both_runs(kernels) -> dict[str, list[tuple[Execution, Execution]]]:
    stock, tracked, _ = kernels
    out: dict[str, list[tuple[Execution, Execution]]] = {}
    # one case at a time in each kernel, so at most one big array exists per kernel
    for name, cells in CASES.items():
        for (_, plain), (_, watched) in zip(_events(stock, {name: cells}), _events(tracked, {name: cells})):
            out.setdefault(name, []).append((plain, watched))
    return out


def test_autoloaded_extension_tracks_from_the_first_cell(kernels, both_runs) -> None:
    _, tracked, root = kernels
    status = tracked.execute("%track status", cell_id="status")
    assert status.stdout.startswith("%track is on since In [1]"), status.stdout
    assert "robust.ipynb (from __session__)" in status.stdout
    assert (root / ".nb2pipe" / "robust.history.jsonl").is_file()


@pytest.mark.parametrize("case", list(CASES))
def test_same_outputs_errors_and_execution_counts(both_runs, case: str) -> None:
    for plain, watched in both_runs[case]:
        assert watched.execution_count == plain.execution_count, watched.code
        assert (watched.status, watched.ename) == (plain.status, plain.ename), watched.code
        assert watched.user_outputs() == plain.user_outputs(), watched.code
        assert not any("internal error" in w for w in watched.warnings), watched.warnings


def test_same_names_in_user_namespace(kernels, both_runs) -> None:
    stock, tracked, _ = kernels
    assert _names(tracked) == _names(stock)


def test_tracking_stayed_on_and_recorded_every_execution(kernels, both_runs) -> None:
    _, tracked, root = kernels
    lines = (root / ".nb2pipe" / "robust.history.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines if '"execution"' in line]
    expected = sum(len(cells) for cells in CASES.values())
    assert len(events) >= expected
    errors = {e["error"] for e in events}
    assert {"ZeroDivisionError", "ValueError", "NameError", "SyntaxError", "KeyboardInterrupt"} <= errors
    assert any(e.get("reset") for e in events)
    # the history log holds names and hashes, never values
    text = "\n".join(lines)
    assert "bad value" not in text and "RuntimeError" not in text


def test_interrupting_a_running_cell(kernels) -> None:
    stock, tracked, _ = kernels
    loop = "import time\nfor _ in range(400):\n    time.sleep(0.05)"
    plain = stock.interrupt_during(loop, cell_id="interrupt", after=1.0)
    watched = tracked.interrupt_during(loop, cell_id="interrupt", after=1.0)
    assert (plain.status, plain.ename) == (watched.status, watched.ename) == ("error", "KeyboardInterrupt")
    after = tracked.execute("print('still fine')", cell_id="after-interrupt")
    assert after.stdout == "still fine\n" and after.warnings == []
    assert "%track is on" in tracked.execute("%track status", cell_id="status2").stdout


def test_interrupt_during_the_trackers_own_work(kernels) -> None:
    """Ctrl-C lands while %track records a cell that has finished (the tracker is slowed down
    for one cell to hit it): the cell's result is a stock kernel's, and tracking stays on."""
    stock, tracked, root = kernels
    slow_once = (
        "import time as _time\nimport nb2pipe.tracking.recorder as _recorder\n"
        "_original = _recorder.ExecutionRecorder._record\n_calls = []\n"
        "def _slow(self, *args, **kwargs):\n"
        "    _calls.append(1)\n"
        "    if len(_calls) == 2:\n"
        "        _recorder.ExecutionRecorder._record = _original\n"
        "        _time.sleep(1.5)\n"
        "    return _original(self, *args, **kwargs)\n"
        "_recorder.ExecutionRecorder._record = _slow"
    )
    counts = []
    for driver in (stock, tracked):
        patched = driver.execute(slow_once, cell_id="slow-once")
        assert patched.status == "ok" and patched.execution_count is not None
        counts.append(patched.execution_count)
    cell = "held = 6 * 7\nprint(held)"
    plain = stock.interrupt_during(cell, cell_id="held", after=0.5)
    watched = tracked.interrupt_during(cell, cell_id="held", after=0.5)
    # (the tracked kernel ran other tests' %track cells: compare counts from here on)
    assert (plain.status, plain.execution_count) == ("ok", counts[0] + 1)
    assert (watched.status, watched.execution_count) == ("ok", counts[1] + 1)
    assert watched.user_outputs() == plain.user_outputs() == [("stream", "stdout", "42\n")]
    assert not any("internal error" in line for line in watched.stderr.splitlines())
    after = tracked.execute("print(held + 1)", cell_id="after-held")
    assert after.stdout == "43\n" and after.warnings == []
    assert "%track is on" in tracked.execute("%track status", cell_id="status-held").stdout
    lines = (root / ".nb2pipe" / "robust.history.jsonl").read_text().splitlines()
    assert any('"held"' in line for line in lines)  # the interrupted recording was finished


def test_no_references_to_user_objects(kernels) -> None:
    _, tracked, _ = kernels
    cells = [
        "import gc, weakref\nimport numpy as np\nclass Thing:\n    pass",
        "thing = Thing()\narr = np.zeros(1000)\nitems = [thing]",
        "refs = [weakref.ref(thing), weakref.ref(arr)]",
        "other = thing\nthing.size = 3\narr += 1\nitems.append(arr)",
        "view = arr[:10]\nview += 1",
        "del thing, other, arr, items, view",
        "gc.collect()\nprint([r() is None for r in refs])",
    ]
    results = [tracked.execute(c, cell_id=f"weak-{i}") for i, c in enumerate(cells)]
    assert results[-1].stdout == "[True, True]\n", results[-1].outputs


def test_internal_failure_turns_tracking_off_with_one_message(kernels) -> None:
    _, tracked, _ = kernels
    sabotage = (
        "import nb2pipe.tracking.state as _s\n"
        "_s.TrackerState.apply = lambda self, event, **kw: 1 / 0"
    )
    broken = tracked.execute(sabotage + "\nvalue = 41 + 1\nprint(value)", cell_id="sabotage")
    assert broken.status == "ok" and broken.stdout == "42\n"
    assert "turned itself off" in broken.stderr and broken.stderr.count("nb2pipe") == 1
    after = tracked.execute("print(value)", cell_id="after")
    assert after.stdout == "42\n" and after.stderr == ""
    status = tracked.execute("%track status", cell_id="status3").stdout
    assert "off after an internal error: ZeroDivisionError" in status
