"""Recoveries for the server: each ``nb2pipe recover`` in a child process of its own.

A recovery runs kernels for seconds to minutes. In a thread of the server it would hold the
server's exit (Python joins worker threads before it exits: quitting Lab would wait for the
recovery) and share the server's interpreter with the search. In a child process it does
neither: the server awaits the child without blocking its event loop, the child's progress
goes to the server's log, and a child whose server goes away (its stdin closes, however the
server ended) interrupts itself, stops the kernels it started and writes nothing, as
``nb2pipe recover`` does on Ctrl+C.

The request and the outcome cross the pipe as pickles of typed objects
(:class:`RecoveryRequest`, :class:`RecoveryOutcome`); the result comes back on a descriptor
of its own, so nothing a kernel or a cell writes to the child's stdout can corrupt it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from nb2pipe.recover.api import RecoverOptions, RecoveryResult

__all__ = ["ErrorKind", "RecoveryOutcome", "RecoveryRequest", "run_recovery"]

#: The folder that holds the ``nb2pipe`` package this server imported.
_PACKAGE_HOME = Path(__file__).resolve().parents[2]
#: What the child writes to stderr before a progress line, so the server logs it as such.
PROGRESS_PREFIX = "nb2pipe-progress: "
#: Seconds the server waits for the child's stderr to close once the child exited (a kernel
#: that outlives it would keep it open).
STDERR_GRACE = 5.0


class ErrorKind(enum.Enum):
    """Why a recovery did not run to an answer: each is one class of HTTP status."""

    INPUT = "input"  #: bad input (the loader's message): 400
    EXISTS = "exists"  #: the recovered notebook exists and overwriting was not asked: 409
    PERMISSION = "permission"  #: the folder is not writable: 403
    OS = "os"  #: the disk is full, ...: 500


@dataclass(frozen=True)
class RecoveryRequest:
    notebook: Path
    options: RecoverOptions


@dataclass(frozen=True)
class RecoveryOutcome:
    """A recovery's result (recovered or not), or the one-line error that stopped it."""

    result: RecoveryResult | None = None
    error: str | None = None
    error_kind: ErrorKind | None = None


async def run_recovery(
    request: RecoveryRequest, log: logging.Logger | None = None
) -> RecoveryOutcome:
    """Run ``request`` in a child process and return its outcome.

    Raises
    ------
    RuntimeError
        The child ended without an outcome (killed, crashed): the message holds its last
        line of stderr.
    TypeError
        The child answered something else than an outcome.
    """
    log = log or logging.getLogger(__name__)
    reader, writer = os.pipe()  # the outcome's own channel
    try:
        # (subprocess, not asyncio's: an asyncio child is killed outright when its transport
        # is collected, as it may be when the server exits; this one stops by itself)
        process = subprocess.Popen(  # noqa: ASYNC220 (a fork and an exec: milliseconds)
            [sys.executable, "-m", "nb2pipe.server.recovery", str(writer)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            pass_fds=(writer,),
            # `-m` puts the working directory first on sys.path: make it the folder this
            # nb2pipe was imported from, never one whose own `nb2pipe` folder would shadow it
            cwd=_PACKAGE_HOME,
        )
    except BaseException:
        os.close(reader)
        raise
    finally:
        os.close(writer)
    assert process.stdin is not None and process.stderr is not None
    outcome, outcome_transport = await _stream(os.fdopen(reader, "rb", buffering=0))
    stderr, stderr_transport = await _stream(process.stderr)
    transports = [outcome_transport, stderr_transport]
    tail: list[str] = []
    logging_task = asyncio.create_task(_log_lines(stderr, log, tail))
    try:
        process.stdin.write(pickle.dumps(request))  # a path and options: far below a pipe's buffer
        process.stdin.flush()
        # stdin stays open: the child stops itself when it closes (this process went away)
        payload = await outcome.read()
        while (code := process.poll()) is None:  # it exits once it has written the outcome
            await asyncio.sleep(0.05)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(logging_task), STDERR_GRACE)
    finally:
        # done; or cancelled (the server stops): closing stdin tells the child to stop
        process.stdin.close()
        logging_task.cancel()
        for transport in transports:
            transport.close()
    if code != 0 or not payload:
        last = tail[-1] if tail else f"exit status {code}"
        raise RuntimeError(f"the recovery stopped unexpectedly: {last}")
    result = pickle.loads(payload)
    if not isinstance(result, RecoveryOutcome):
        raise TypeError(f"the recovery answered {type(result).__name__}")
    return result


async def _stream(pipe: IO[bytes]) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    """Read ``pipe`` on the event loop."""
    reader = asyncio.StreamReader()
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), pipe
    )
    return reader, transport


async def _log_lines(stream: asyncio.StreamReader, log: logging.Logger, tail: list[str]) -> None:
    """Progress lines to the server's log (info), anything else at debug; keep the last."""
    while line := await stream.readline():
        text = line.decode("utf-8", "replace").rstrip()
        if text.startswith(PROGRESS_PREFIX):
            log.info("nb2pipe recover: %s", text.removeprefix(PROGRESS_PREFIX))
        elif text:
            log.debug("nb2pipe recover: %s", text)
            tail[:] = [text]


# -- the child ---------------------------------------------------------------------------------


def _main(result_fd: int) -> int:
    """Read the request from stdin, recover, write the outcome to ``result_fd``."""
    os.set_inheritable(result_fd, False)  # the kernels it starts must not hold it open
    _take_sigint_back()
    os.dup2(2, 1)  # what kernels and cells print to an inherited stdout goes to the log
    request = pickle.load(sys.stdin.buffer)
    threading.Thread(target=_stop_when_the_server_goes, daemon=True).start()
    from nb2pipe.errors import Nb2PipeError, OutputExistsError
    from nb2pipe.recover.api import recover_notebook
    from nb2pipe.verify.runner import kill_running

    def progress(message: str) -> None:
        print(f"{PROGRESS_PREFIX}{request.notebook.name}: {message}", file=sys.stderr, flush=True)

    try:
        outcome = RecoveryOutcome(result=recover_notebook(request.notebook, request.options, progress))
    except OutputExistsError as exc:
        outcome = RecoveryOutcome(error=str(exc), error_kind=ErrorKind.EXISTS)
    except Nb2PipeError as exc:
        outcome = RecoveryOutcome(error=str(exc), error_kind=ErrorKind.INPUT)
    except OSError as exc:
        kind = ErrorKind.PERMISSION if isinstance(exc, PermissionError) else ErrorKind.OS
        outcome = RecoveryOutcome(error=f"{exc.strerror or exc}", error_kind=kind)
    except KeyboardInterrupt:
        kill_running()
        print("interrupted: the server went away; nothing written", file=sys.stderr, flush=True)
        return 130
    with os.fdopen(result_fd, "wb") as out:
        pickle.dump(outcome, out)
    return 0


def _take_sigint_back() -> None:
    """SIGINT raises KeyboardInterrupt here, whatever the server left us: a server a script
    started in the background (``jupyter lab &``) ignores SIGINT, its children inherit that,
    and Python then installs no handler, so the stop below would never arrive."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _stop_when_the_server_goes() -> None:
    """Wait for stdin to close (the server exited, was killed, or stopped waiting), then
    interrupt the recovery in the main thread: a SIGINT to it, which also wakes a blocking
    call there."""
    while os.read(0, 1 << 12):  # (not sys.stdin: its lock would be held at exit)
        pass
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


if __name__ == "__main__":
    # run as the module of its name, so that what it pickles names its classes there
    from nb2pipe.server.recovery import _main as main

    sys.exit(main(int(sys.argv[1])))
