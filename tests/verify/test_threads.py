"""Kernels and scripts running at once share the cores: each gets its share of BLAS threads.

Two kernels doing linear algebra on a machine with as many cores as one of them wants run
many times slower together than one after the other (OpenBLAS threads spin while they wait),
so verify limits each process's thread pools to its share of the cores, unless the user or the
kernelspec set the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nb2pipe.verify.options import VerifyOptions
from nb2pipe.verify.threads import THREAD_VARIABLES, thread_environment, threads_per_process

from .conftest import VerifyRun, code, numbered, stdout

PRINT_LIMITS = "import os\nprint(os.environ.get('OPENBLAS_NUM_THREADS'), os.environ.get('OMP_NUM_THREADS'))"


def test_the_cores_are_divided_among_the_processes_running_at_once() -> None:
    assert threads_per_process(1, cores=2) is None  # one process: every core, no limit
    assert threads_per_process(2, cores=2) == 1
    assert threads_per_process(4, cores=2) == 1  # never below one
    assert threads_per_process(2, cores=8) == 4
    assert threads_per_process(3, cores=8) == 2
    # -j 1 with the script beside the kernel is two processes; --no-script one
    assert VerifyOptions(jobs=1, script=False).process_threads is threads_per_process(1)
    assert VerifyOptions(jobs=2, script=True).process_threads == threads_per_process(4)
    assert VerifyOptions(jobs=4, threads=3).process_threads == 3  # --threads wins


def test_a_limit_the_environment_sets_wins() -> None:
    assert thread_environment(None, {}) == {}
    assert thread_environment(2, {"OMP_NUM_THREADS": "8"}) == {
        name: "2" for name in THREAD_VARIABLES if name != "OMP_NUM_THREADS"
    }


@pytest.mark.kernel
def test_kernel_and_script_run_with_the_limit_and_the_users_own_wins(
    make_notebook: Callable[..., Path],
    run_verify: Callable[..., VerifyRun],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notebook = make_notebook(*numbered(code(PRINT_LIMITS, stdout("1 1\n"))))
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    limited = run_verify(notebook, "--threads", "1")
    report = limited.notebook(notebook.name)
    # the kernel printed the limit, and so did the script (compared with the fresh run)
    assert report["status"] == "reproduces", limited.output
    assert report["script"]["status"] == "equal", limited.output
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    own = run_verify(notebook, "--threads", "1", "--no-script")
    assert own.reasons(notebook.name) == [(0, "output-differs")], own.output
    assert "+1 3" in own.output, own.output
