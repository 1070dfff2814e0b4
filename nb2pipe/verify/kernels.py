"""Kernels started ahead: while notebooks run, the kernels of the next ones start.

A kernel takes about a second to start (ipykernel imports IPython, zmq, tornado, ...), and
the notebook's worker would wait for it after every notebook. Started ahead, it boots while
the worker runs the notebook before, in the moments a running kernel leaves a core idle (the
round trip between two cells, verify comparing the outputs, the next notebook being read).

The kernel is started exactly as :func:`~nb2pipe.verify.runner.run_notebook` starts one (the
notebook's kernel and folder, the file-access probe, IPython history in memory): it is a fresh
kernel that waited a moment, nothing of another notebook is in it. One that failed to start
is started again by the run, as any kernel that loses its port at start-up.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["KernelLookahead", "StartedKernel", "start_kernel"]


@dataclass
class StartedKernel:
    """A kernel started for one notebook, and the scratch folder of its run."""

    kernel_name: str
    folder: Path  #: the notebook's folder, the kernel's working directory
    metric_names: frozenset[str]
    scratch: tempfile.TemporaryDirectory[str]
    #: the kernel manager (an :class:`~jupyter_client.manager.AsyncKernelManager`)
    manager: Any = None
    _closed: bool = field(default=False, repr=False)

    @property
    def work(self) -> Path:
        return Path(self.scratch.name)

    @property
    def probe_log(self) -> Path:
        return self.work / "probe.log"

    @property
    def kernel_log(self) -> Path:
        return self.work / "kernel.log"

    def fits(self, kernel_name: str, folder: Path, metric_names: frozenset[str]) -> bool:
        """Whether the kernel was started the way a run with these settings starts one."""
        return (kernel_name, folder, metric_names) == (
            self.kernel_name,
            self.folder,
            self.metric_names,
        )

    def shut_down(self) -> None:
        """End the kernel (nbclient ends only the kernels it started itself)."""
        if self.manager is None:
            return
        from jupyter_core.utils import run_sync

        from nb2pipe.verify.runner import forget_kernel, release_kernel_manager

        manager, self.manager = self.manager, None
        forget_kernel(manager)
        try:
            run_sync(manager._async_shutdown_kernel)(now=True)
        except Exception:  # already gone, or never started: the process group is killed anyway
            pass
        release_kernel_manager(manager)

    def close(self) -> None:
        """End the kernel and remove the scratch folder (the logs were read by then)."""
        if self._closed:
            return
        self._closed = True
        self.shut_down()
        self.scratch.cleanup()


def start_kernel(
    kernel_name: str, folder: Path, metric_names: frozenset[str], threads: int | None = None
) -> StartedKernel:
    """Start a kernel as a notebook's run starts it (``threads``: its thread pools' limit);
    never raises (a kernel that did not start is left for the run to find dead and start
    again)."""
    from jupyter_core.utils import run_sync

    from nb2pipe.verify.runner import kernel_manager_class, kernel_start_arguments

    started = StartedKernel(
        kernel_name,
        folder,
        metric_names,
        tempfile.TemporaryDirectory(prefix="nb2pipe-verify-"),
    )
    started.probe_log.write_bytes(b"")
    started.kernel_log.write_bytes(b"")
    managers: list[Any] = []
    manager = kernel_manager_class(started.kernel_log, managers, threads)(
        kernel_name=kernel_name
    )
    started.manager = manager
    try:
        run_sync(manager._async_start_kernel)(
            extra_arguments=kernel_start_arguments(started.probe_log, folder, metric_names),
            cwd=str(folder),
        )
    except Exception:  # no such kernel, cannot execute it: the run reports it
        started.shut_down()
    return started


class KernelLookahead:
    """Starts the kernels of the notebooks next in line, ``ahead`` at most at a time.

    ``notebooks`` are the runs in the order workers take them (``None`` for a position with
    nothing to run), each as (kernel name, folder, metric names). :meth:`take` is called by
    the worker that starts position ``i``: it hands over the kernel started for it, if any,
    and starts the kernels of the positions after it.
    """

    def __init__(
        self,
        notebooks: Sequence[tuple[str, Path, frozenset[str]] | None],
        ahead: int,
        start: Callable[[str, Path, frozenset[str]], StartedKernel] = start_kernel,
    ) -> None:
        self._notebooks = list(notebooks)
        self._ahead = ahead
        self._start = start
        self._lock = threading.Lock()
        self._started: dict[int, Future[StartedKernel]] = {}
        self._next = 0  #: the first position whose kernel was not asked for yet
        self._taken = 0  #: positions taken so far
        self._closed = False
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, ahead), thread_name_prefix="nb2pipe-kernel"
        )

    def take(self, position: int) -> StartedKernel | None:
        """The kernel started for ``position`` (waiting for its start), or None."""
        with self._lock:
            if self._closed:
                return None
            future = self._started.pop(position, None)
            self._taken += 1
            self._next = max(self._next, position + 1)
            self._fill()
        return future.result() if future is not None else None

    def _fill(self) -> None:
        """Start kernels for the positions after the last taken, up to ``ahead`` waiting."""
        while len(self._started) < self._ahead and self._next < len(self._notebooks):
            position, self._next = self._next, self._next + 1
            settings = self._notebooks[position]
            if settings is not None:
                self._started[position] = self._pool.submit(self._start, *settings)

    def close(self) -> None:
        """End the kernels started and never taken (an interrupt, an error)."""
        with self._lock:
            self._closed = True
            futures, self._started = list(self._started.values()), {}
        for future in futures:
            if not future.cancel():
                try:
                    future.result().close()
                except Exception:
                    pass
        self._pool.shutdown(wait=True, cancel_futures=True)
