"""A fork server of IPython shells whose cell outputs are those a Jupyter kernel would save.

A search for the path to a notebook's saved outputs runs candidate sequences of cells and
keeps interpreter states as checkpoints instead of re-running prefixes. A running ipykernel
cannot be forked safely (ZMQ sockets and their threads), so the search runs on a plain
IPython shell (ipykernel's own shell class, without a kernel) in a worker process that forks
itself: each :class:`Checkpoint` is one process holding one state, and :meth:`Checkpoint.fork`
copies it with ``os.fork``, copy-on-write. A fork costs two copies of the process's page
tables (the copy is forked twice, so that it outlives its original), far less than running
the cells again: see ``bench/README.md``.

**What a fork copies:** the whole process: the user namespace, imported modules, open files
and their offsets, the random module's state (which the module would reseed in a forked
child), the execution count, the asyncio event loop and its pending tasks.

**What it does not copy:**

- The file system. Branches share the notebook's folder, so a cell that writes a file
  changes it for every checkpoint: run the search in a scratch copy of the folder, and treat
  cells that write files as effects the search cannot undo.
- Threads. Pools that libraries start again on demand are ended before a fork (joblib's
  process executor, GNU OpenMP pools, whose copies would hang). While the notebook's code
  keeps other threads alive (a thread pool, a background thread), :meth:`Checkpoint.fork`
  raises :class:`ForkUnsafe`: run the prefix again from :meth:`ShellServer.root` instead.
- Subprocesses a cell started: they stay children of the original.

**How faithful:** the outputs are recorded in the shape nbclient saves (streams merged,
``display()``, ``execute_result`` with its count, errors with tracebacks, a ``UsageError``
as a stderr stream, inline matplotlib figures as ``image/png``), with what ipykernel changes
in the interpreter (``input()`` raises ``StdinNotImplementedError``, top-level ``await``
runs in a running event loop, ``sys.exit()`` is an error, ``exit()`` ends the process as
it ends a kernel, output written to file descriptors 1 and 2 is captured, the kernel's
environment variables, ``sys.argv`` and ``sys.path``, the profile's configuration and
startup files). ``bench/bench_recover_shell.py`` measures the agreement with real kernels
on the corpus. Known differences: the event loop runs only while a cell runs (a kernel's
runs between cells too); ``update_display_data`` for an output of an earlier cell is not
applied to it; the history database is off (``%history -l`` shows nothing); output that
ipykernel forwards from file descriptors after the execute reply is lost by nbclient at
random, and always kept here. A recovered path is always proven in a real kernel.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from nb2pipe.errors import Nb2PipeError
from nb2pipe.model import Output, output_from_json
from nb2pipe.recover._worker import receive_message, send_message

__all__ = ["CellResult", "Checkpoint", "ForkUnsafe", "ShellError", "ShellServer"]

_WORKER = Path(__file__).with_name("_worker.py")

#: Seconds the worker may take to import IPython, load the profile and build the shell.
START_TIMEOUT = 120.0
#: Seconds a fork may take (it includes the OpenMP probe, at most 2 s).
FORK_TIMEOUT = 60.0
#: Seconds a timed-out cell has to stop after SIGINT before its process is killed.
INTERRUPT_GRACE = 5.0
#: Seconds ``close()`` waits for the supervisor to kill and reap everything below it.
SHUTDOWN_GRACE = 10.0

#: What a kernel's launcher sets in the environment (jupyter_client and ipykernel), so code
#: that prints or branches on it sees the same values.
_KERNEL_ENVIRONMENT = {"PYDEVD_USE_FRAME_EVAL": "NO"}


class ShellError(Nb2PipeError):
    """The shell server could not start, or a checkpoint is closed or no longer running."""


class ForkUnsafe(ShellError):
    """A checkpoint cannot be forked now; its state is intact and it can still run cells.

    Run the cells that led to it again from :meth:`ShellServer.root` instead.
    """


@dataclass(frozen=True)
class CellResult:
    """How one cell ran in a checkpoint, and the outputs a kernel would have saved for it."""

    #: "ok"; "error" (the cell raised: ``ename``/``evalue`` set, a ``UsageError`` included);
    #: "timeout" (interrupted after the server's timeout); "crashed" (the process died:
    #: ``os._exit``, a segfault)
    status: str
    ename: str = ""
    evalue: str = ""
    #: streams (consecutive chunks of one stream merged), display_data, execute_result (with
    #: its execution count) and error outputs, in order
    outputs: tuple[Output, ...] = ()
    #: seconds
    duration: float = 0.0
    #: the count the cell ran as (``In [n]``); None for a blank cell, which is not counted
    execution_count: int | None = None
    #: the cell called ``exit()``/``quit()``: a kernel stops right after it, and so did the
    #: checkpoint (as a restarted kernel, the next cell starts from a fresh state)
    exits: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class ShellServer:
    """Starts one worker process and hands out checkpoints of its shell.

    Parameters
    ----------
    cwd
        The notebook's folder: the shell's working directory and ``''`` on its ``sys.path``,
        as a kernel has them.
    python
        The interpreter to run (the notebook kernel's; it needs IPython and ipykernel);
        ``sys.executable`` by default.
    env
        Variables set on top of this process's environment (a kernelspec's ``env``).
    timeout
        Seconds a cell may run before it is interrupted (reported as "timeout"); None: no limit.

    Raises
    ------
    ShellError
        The worker could not start or build the shell (the message quotes its error).
    """

    def __init__(
        self,
        cwd: Path,
        *,
        python: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> None:
        folder = Path(cwd).resolve()
        if not folder.is_dir():
            raise ShellError(f"{cwd}: not a folder")
        self.timeout = timeout
        self._lock = threading.Lock()
        self._checkpoints: weakref.WeakSet[Checkpoint] = weakref.WeakSet()
        self._closed = False
        # closed in close(), with the worker that writes it
        self._log: IO[bytes] = tempfile.TemporaryFile(prefix="nb2pipe-shell-")  # noqa: SIM115
        environment = {**os.environ, **_KERNEL_ENVIRONMENT, **(env or {})}
        environment["JPY_PARENT_PID"] = str(os.getpid())
        ours, theirs = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                [python or sys.executable, str(_WORKER), str(theirs.fileno())],
                cwd=folder,
                env=environment,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
            )
        except OSError as exc:
            ours.close()
            raise ShellError(f"cannot start {python or sys.executable}: {exc}") from exc
        finally:
            theirs.close()
        self._conn = ours
        try:
            hello = self._request_supervisor(None, START_TIMEOUT, "start")[0]
        except ShellError:
            self.close()
            raise
        if "internal_error" in hello:
            self.close()
            raise ShellError(f"the shell could not start: {_last_line(hello['internal_error'])}")
        self.pid = int(hello["pid"])

    def __enter__(self) -> ShellServer:  # noqa: PYI034 - final in practice; 3.10 has no Self
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def root(self) -> Checkpoint:
        """A new checkpoint in the fresh state: nothing run, execution count 0."""
        reply, fds = self._request_supervisor({"op": "root"}, FORK_TIMEOUT, "fork a fresh shell")
        if not fds:
            raise ShellError(f"the shell server did not fork: {reply}")
        return self._adopt(fds[0])

    def close(self) -> None:
        """Kill every process the server started (checkpoints and what their cells started)."""
        if self._closed:
            return
        self._closed = True
        for checkpoint in list(self._checkpoints):
            checkpoint._detach()
        try:
            send_message(self._conn, {"op": "shutdown"})
        except OSError:
            pass
        self._conn.close()
        process = self._process
        deadline = time.monotonic() + SHUTDOWN_GRACE
        while time.monotonic() < deadline and not _exited_unreaped(process.pid):
            time.sleep(0.01)
        # the supervisor swept everything below it; whatever escaped it in its process group
        # (or everything, if it hung) goes now, before the group's id can be reused
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()
        self._log.close()

    def log_tail(self, lines: int = 20) -> str:
        """The end of the worker's own log (its stderr outside cells): startup failures."""
        try:
            self._log.seek(0)
            text = self._log.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _request_supervisor(
        self, request: Mapping[str, Any] | None, timeout: float, what: str
    ) -> tuple[dict[str, Any], list[int]]:
        if self._closed and request is not None:
            raise ShellError("the shell server is closed")
        with self._lock:
            try:
                if request is not None:
                    send_message(self._conn, request)
                if not _readable(self._conn, timeout):
                    raise ShellError(f"the shell server did not {what} within {timeout:.0f} s")
                return receive_message(self._conn)
            except (EOFError, OSError) as exc:
                detail = _last_line(self.log_tail())
                raise ShellError(
                    f"the shell server ended before it could {what}"
                    + (f": {detail}" if detail else "")
                ) from exc

    def _adopt(self, fd: int) -> Checkpoint:
        os.set_inheritable(fd, False)  # SCM_RIGHTS descriptors arrive inheritable
        checkpoint = Checkpoint(self, socket.socket(fileno=fd))
        self._checkpoints.add(checkpoint)
        return checkpoint


class Checkpoint:
    """One interpreter state, held by one process. Methods block; one call at a time each.

    ``run`` changes the state; ``fork`` copies it into a new process and leaves this one
    usable. Different checkpoints may be used from different threads at once.
    """

    def __init__(self, server: ShellServer, sock: socket.socket) -> None:
        self._server = server
        self._sock = sock
        self._lock = threading.Lock()
        self._closed = False
        hello = self._receive(FORK_TIMEOUT, "start")
        self.pid = int(hello["pid"])
        self._count = int(hello["next_count"]) - 1

    def __repr__(self) -> str:
        state = "alive" if self.alive else "closed"
        return f"<Checkpoint pid={self.pid} execution_count={self._count} {state}>"

    @property
    def execution_count(self) -> int:
        """How many cells this state has counted (the next cell runs as this + 1)."""
        return self._count

    @property
    def alive(self) -> bool:
        return not self._closed

    def run(
        self, source: str, *, cell_id: str | None = None, timeout: float | None = None
    ) -> CellResult:
        """Run one cell in this state (which it changes), as a kernel's execute request.

        ``cell_id`` is what a notebook client sends with the request (IPython passes it to
        ``pre_run_cell`` hooks). ``timeout`` overrides the server's for this cell. A
        "crashed" or ``exits`` result, or a "timeout" the cell did not stop at, ends the
        checkpoint.
        """
        with self._lock:
            self._check_open()
            start = time.monotonic()
            try:
                send_message(self._sock, {"op": "run", "source": source, "cell_id": cell_id})
            except OSError as exc:
                self._detach()
                raise ShellError("the checkpoint's process is no longer running") from exc
            limit = self._server.timeout if timeout is None else timeout
            try:
                if limit is None or _readable(self._sock, limit):
                    return self._result(self._receive(None, "run the cell"))
                return self._interrupt(start, limit)
            except (EOFError, OSError, ValueError) as exc:
                if self._closed:  # the server was closed from another thread
                    raise ShellError("the shell server was closed while the cell ran") from exc
                self._detach()
                return CellResult(
                    "crashed",
                    evalue="the shell process ended while running the cell",
                    duration=time.monotonic() - start,
                )

    def fork(self) -> Checkpoint:
        """A copy of this state in a new process; this checkpoint stays as it is.

        Raises
        ------
        ForkUnsafe
            The state has threads a copy would lack (see the module docstring).
        ShellError
            The checkpoint is closed, or the fork failed.
        """
        with self._lock:
            self._check_open()
            try:
                send_message(self._sock, {"op": "fork"})
                answered = _readable(self._sock, FORK_TIMEOUT)
                if answered:
                    reply, fds = receive_message(self._sock)
            except (EOFError, OSError) as exc:
                self._detach()
                raise ShellError("the checkpoint's process ended while forking") from exc
            if not answered:  # a late answer would be taken for the next one: end it
                self._kill()
                raise ShellError(f"the fork did not answer within {FORK_TIMEOUT:.0f} s")
            if "fork_unsafe" in reply:
                raise ForkUnsafe(f"cannot fork this state: {reply['fork_unsafe']}")
            if not fds:
                raise ShellError(f"the fork failed: {reply}")
            return self._server._adopt(fds[0])

    def close(self) -> None:
        """End this checkpoint's process (its state is gone; forks of it are not affected)."""
        with self._lock:
            if not self._closed:
                try:
                    send_message(self._sock, {"op": "close"})
                except OSError:
                    pass
                self._detach()

    def _kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._detach()

    def _detach(self) -> None:
        self._closed = True
        self._sock.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ShellError("the checkpoint is closed")

    def _receive(self, timeout: float | None, what: str) -> dict[str, Any]:
        """One reply; EOFError when the process died before answering."""
        if timeout is not None and not _readable(self._sock, timeout):
            raise ShellError(f"the checkpoint did not {what} within {timeout:.0f} s")
        try:
            reply, fds = receive_message(self._sock)
        except EOFError:
            if timeout is not None:  # while starting: nothing to report as a cell result
                raise ShellError(
                    f"the checkpoint ended before it could {what}: "
                    + (_last_line(self._server.log_tail()) or "no message")
                ) from None
            raise
        for fd in fds:
            os.close(fd)
        if "internal_error" in reply:
            raise ShellError(f"the shell failed: {_last_line(reply['internal_error'])}")
        return reply

    def _result(self, reply: Mapping[str, Any], status: str | None = None) -> CellResult:
        self._count = int(reply["next_count"]) - 1
        if reply.get("exits"):
            self._detach()
        count = reply.get("execution_count")
        return CellResult(
            status or str(reply["status"]),
            ename=str(reply.get("ename") or ""),
            evalue=str(reply.get("evalue") or ""),
            outputs=tuple(output_from_json(output) for output in reply.get("outputs", ())),
            duration=float(reply.get("duration") or 0.0),
            execution_count=count if isinstance(count, int) else None,
            exits=bool(reply.get("exits")),
        )

    def _interrupt(self, start: float, limit: float) -> CellResult:
        """Interrupt a cell past the timeout as a kernel is interrupted (SIGINT); kill its
        process if it does not answer."""
        if _readable(self._sock, 0):  # it ended just now
            return self._result(self._receive(None, "run the cell"))
        try:
            os.kill(self.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        if _readable(self._sock, INTERRUPT_GRACE):
            return self._result(self._receive(None, "stop"), status="timeout")
        self._kill()
        return CellResult(
            "timeout",
            evalue=f"the cell ran longer than {limit:g} s and did not stop when interrupted",
            duration=time.monotonic() - start,
        )


def _readable(sock: socket.socket, timeout: float) -> bool:
    """Whether ``sock`` has data (or EOF) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    poller = select.poll()  # (select() refuses descriptors past 1024: a busy process has them)
    poller.register(sock, select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR)
    while True:
        remaining = max(0.0, deadline - time.monotonic())
        if poller.poll(remaining * 1000):
            return True
        if remaining <= 0:
            return False


def _exited_unreaped(pid: int) -> bool:
    """Whether the child ``pid`` has exited, leaving it unreaped (its process group id
    stays reserved until it is)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _last_line(text: str) -> str:
    lines = [line for line in str(text).splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
