"""Run a notebook in a fresh kernel with papermill, and its exported script in a subprocess.

Both runs report what happened as data (:class:`NotebookRun`, :class:`ScriptRun`): an error,
a timeout or a dead kernel is a result to judge, never an exception out of verify.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from nb2pipe.errors import Nb2PipeError
from nb2pipe.model import Cell, Notebook, notebook_from_json
from nb2pipe.verify.kernels import StartedKernel
from nb2pipe.verify.probe import FileAccess, ProbeLog, probe_exec_line, read_probe_log
from nb2pipe.verify.report import Reason
from nb2pipe.verify.threads import thread_environment

__all__ = [
    "CellReply",
    "NotebookRun",
    "RunFailure",
    "ScriptJob",
    "ScriptRun",
    "check_kernel",
    "copy_folder",
    "kernel_command",
    "resolve_kernel",
    "run_notebook",
]

#: Seconds a kernel may take to start and answer.
KERNEL_START_TIMEOUT = 60
#: Kernel starts tried when a port picked for the kernel was taken before the kernel bound it.
KERNEL_START_ATTEMPTS = 3
#: Lines of kernel stderr kept for a dead-kernel report.
_KERNEL_LOG_TAIL = 20
_PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"


@dataclass(frozen=True)
class RunFailure:
    """Why a fresh run stopped early."""

    reason: Reason  #: ``error``, ``timeout`` or ``dead-kernel``
    cell_index: int | None  #: position in the executed notebook; None: before any cell ran
    message: str
    detail: str = ""


@dataclass(frozen=True)
class CellReply:
    """What the kernel answered to one cell's execute request: how the cell ended.

    IPython saves some failures with no ``error`` output (a ``UsageError`` from a mistyped
    magic is a stderr stream), so whether a cell failed is read from here, never guessed
    from its outputs.
    """

    status: str  #: ``ok``, ``error`` or ``aborted``
    ename: str = ""
    evalue: str = ""
    #: the cell called ``exit()``/``quit()``: ipykernel stops its loop 0.1 s after such a reply
    #: and the kernel process ends, so whether a later cell still runs is a race
    ends_kernel: bool = False

    @property
    def failed(self) -> bool:
        return self.status != "ok"

    @property
    def planned_stop(self) -> bool:
        """The notebook's own code ended the run on purpose: ``sys.exit()``, ``sys.exit(0)``
        or ``raise SystemExit`` with no status (``exit()``/``quit()`` shut an ipykernel
        down, see :attr:`ends_kernel`, and a non-zero status or a message is a failure)."""
        return (
            self.status == "error"
            and self.ename == "SystemExit"
            and self.evalue.strip() in _ZERO_EXIT_VALUES
        )


#: How a ``SystemExit`` with a zero (or no) status shows its value in an execute reply.
_ZERO_EXIT_VALUES = frozenset({"", "0", "None", "False"})


@dataclass(frozen=True)
class NotebookRun:
    """The fresh run of one notebook."""

    #: the executed notebook as far as the run got (cells never reached are absent)
    notebook: Notebook
    #: the executed cells as nbformat JSON, for ``--update`` to write back
    cells_json: tuple[Mapping[str, Any], ...]
    #: positions (in the executed notebook) of the code cells run, in the order they ran
    executed: tuple[int, ...]
    failure: RunFailure | None
    #: files opened and metric values set, as the kernel probe logged them
    probe: ProbeLog
    kernel_name: str
    duration: float
    notes: tuple[str, ...] = ()
    #: executed notebook position -> the kernel's execute reply for that cell
    replies: Mapping[int, CellReply] = field(default_factory=dict)
    #: position of the cell that ended the run on purpose (``sys.exit()``), if one did
    stopped_at: int | None = None

    def raised(self, cell_index: int) -> bool:
        """Whether the cell at ``cell_index`` failed in this run (its kernel reply says so)."""
        reply = self.replies.get(cell_index)
        return reply is not None and reply.failed

    @property
    def accesses(self) -> tuple[FileAccess, ...]:
        return self.probe.accesses

    def ordinal_of(self, cell_index: int) -> int | None:
        """Which cell in run order (1-based) the executed notebook's cell ``cell_index`` was."""
        try:
            return self.executed.index(cell_index) + 1
        except ValueError:
            return None

    def cell_at(self, ordinal: int) -> int | None:
        """Position in the executed notebook of the ``ordinal``-th cell run (1-based)."""
        if 1 <= ordinal <= len(self.executed):
            return self.executed[ordinal - 1]
        return None


@lru_cache(maxsize=1)
def _kernel_specs() -> dict[str, str]:
    from jupyter_client.kernelspec import KernelSpecManager

    return dict(KernelSpecManager().find_kernel_specs())


def resolve_kernel(name: str | None) -> tuple[str, str | None]:
    """The kernel to run a notebook with, and a note when it is not the notebook's own."""
    specs = _kernel_specs()
    if name and name in specs:
        return name, None
    fallback = "python3" if "python3" in specs else next(iter(sorted(specs)), "python3")
    if name:
        return fallback, f"kernel {name!r} is not installed here; ran with {fallback!r}"
    return fallback, None


def check_kernel(name: str) -> None:
    """Refuse a kernel the user named (``--kernel``) that is not installed here.

    Raises
    ------
    VerifyUsageError
        Naming the kernels that are installed.
    """
    from nb2pipe.verify.errors import VerifyUsageError

    specs = _kernel_specs()
    if name not in specs:
        raise VerifyUsageError(
            f"kernel {name!r} is not installed; installed kernels: "
            + (", ".join(sorted(specs)) or "none")
        )


_KERNEL_MODULES = frozenset({"ipykernel_launcher", "ipykernel"})


def kernel_command(kernel_name: str) -> tuple[list[str], dict[str, str]]:
    """How the kernel's Python is started, to run the script the same way: the kernelspec's
    argv up to ``-m ipykernel_launcher`` (a wrapper such as ``prlimit --as=...`` or ``conda run
    -n env`` stays in front of the interpreter), and the kernelspec's environment.

    A spec that names a bare ``python`` runs with ours; one whose command we cannot read runs
    with ours, without its wrapper.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        return [sys.executable], {}
    argv = [str(part) for part in spec.argv or []]
    env = {str(k): str(v) for k, v in (spec.env or {}).items()}
    cut = next(
        (
            i
            for i in range(1, len(argv) - 1)
            if argv[i] == "-m" and argv[i + 1] in _KERNEL_MODULES
        ),
        None,
    )
    if cut is None:
        return [_interpreter(argv[0]) if argv else sys.executable], env
    prefix = [os.path.expanduser(part) for part in argv[:cut]]
    prefix[-1] = _interpreter(prefix[-1])
    if len(prefix) > 1 and shutil.which(prefix[0]) is None:
        return [prefix[-1]], env  # a wrapper not installed here: the kernel cannot start either
    return prefix, env


def _interpreter(name: str) -> str:
    if name in ("python", "python3", "{python}"):
        return sys.executable
    return shutil.which(name) or sys.executable


def kernel_python(kernel_name: str) -> str:
    """The Python interpreter of a kernel (the one its kernelspec starts), else ours."""
    return kernel_command(kernel_name)[0][-1]


def kernel_start_arguments(
    probe_log: Path, folder: Path, metric_names: Iterable[str]
) -> list[str]:
    """The kernel's command-line arguments beyond the kernelspec's: the file-access probe
    (see :mod:`.probe`), and IPython's history kept in memory (as nbclient would add)."""
    return [
        "--IPKernelApp.exec_lines=" + probe_exec_line(probe_log, folder, metric_names),
        "--HistoryManager.hist_file=:memory:",
    ]


def forget_kernel(manager: Any) -> None:
    """The kernel of ``manager`` has ended: an interrupt need not end it."""
    _running.discard(getattr(manager, "kernel_pid", -1))


def kernel_manager_class(
    log_path: Path, made: list[Any], threads: int | None = None
) -> type[Any]:
    """The kernel manager class for one run; each instance is appended to ``made``; its
    kernels' thread pools are limited to ``threads`` (see :mod:`.threads`).

    nbclient is given the class, not a manager: it shuts down (and closes the channels of)
    only a kernel whose manager it created itself. Given a manager, it left every kernel
    running, with its libraries in memory, until verify exited.
    """
    from jupyter_client.manager import AsyncKernelManager

    class _LoggedKernelManager(AsyncKernelManager):
        """Sends the kernel's own stdout/stderr to a file: kept for dead-kernel reports and
        kept off verify's terminal output."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.clients: list[Any] = []
            made.append(self)

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            env = kw.get("env")  # ours and the kernelspec's, by now
            if isinstance(env, dict):
                env.update(thread_environment(threads, env))
            with open(log_path, "ab") as log:
                kw["stdout"] = log
                kw["stderr"] = log
                await super()._async_launch_kernel(kernel_cmd, **kw)
            process = getattr(self.provisioner, "process", None)
            if process is not None:
                self.kernel_pid = process.pid
                self.kernel_process = process  # kept past shutdown: how it ended
                _running.add(process.pid)

        def client(self, **kwargs: Any) -> Any:
            """nbclient's client of this kernel, remembered so that its context is closed."""
            client = super().client(**kwargs)
            self.clients.append(client)
            return client

    return _LoggedKernelManager


class _RunningProcesses:
    """Process groups verify started (kernels, scripts), so an interrupted verify can end
    them: both start in their own session, so Ctrl-C does not reach them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pids: set[int] = set()
        #: killed them all (an interrupt): a process started after that is killed at once,
        #: so a worker thread between two steps cannot leave one behind
        self._closed = False

    def open(self) -> None:
        with self._lock:
            self._closed = False

    def add(self, pid: int) -> None:
        with self._lock:
            if not self._closed:
                self._pids.add(pid)
                return
        _kill_group(pid)

    def discard(self, pid: int) -> None:
        with self._lock:
            self._pids.discard(pid)

    def kill_all(self) -> None:
        with self._lock:
            pids, self._pids = self._pids, set()
            self._closed = True
        for pid in pids:
            _kill_group(pid)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        pass


_running = _RunningProcesses()


def kill_running() -> None:
    """End every kernel and script this process started that still runs (on an interrupt),
    and any started later by a worker thread still winding down (until :func:`allow_running`)."""
    _running.kill_all()


def allow_running() -> None:
    """Let kernels and scripts run again (a new verify in this process, after an interrupt)."""
    _running.open()


def preload() -> None:
    """Import what runs a notebook, once, before worker threads need it.

    Worker threads would otherwise race to import papermill and its dependencies (~2 s of
    imports) at the same moment, which Python's per-module import locks allow but which
    buys nothing and has been seen to fail under load.
    """
    _import_jsonschema_without_iri_syntax()
    import jupyter_client.manager  # noqa: F401
    import nbclient.exceptions  # noqa: F401
    import papermill  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    import papermill.exceptions  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    from PIL import Image, ImageChops, ImageStat  # noqa: F401


def _import_jsonschema_without_iri_syntax() -> None:
    """Import jsonschema (nbformat validates notebooks with it) without ``rfc3987_syntax``.

    When that optional package is installed (``jsonschema[format-nongpl]``, which
    jupyter_server brings), importing jsonschema builds its IRI grammars: about 2 s on a quiet
    machine, 10 s on a loaded one, before the first kernel starts (and again in each
    pytest-xdist worker). Only the ``iri`` and ``iri-reference`` format checkers use it, and
    nothing verify validates has such a format (nbformat validates without format checkers).
    The import is refused only for jsonschema's first import; later imports find the package.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # `import` raises ImportError
    try:
        importlib.import_module("jsonschema")
    except ImportError:
        pass  # a jsonschema that needs it: nbformat's import below says what is missing
    finally:
        if "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is None:
            del sys.modules["rfc3987_syntax"]


def run_notebook(
    path: Path,
    *,
    kernel_name: str,
    parameters: Mapping[str, Any] | None = None,
    timeout: int | None = None,
    metric_names: Iterable[str] = (),
    on_cell_executed: Callable[[], None] | None = None,
    expected_errors: Iterable[int] = (),
    last_cell: int | None = None,
    kernel: StartedKernel | None = None,
    threads: int | None = None,
) -> NotebookRun:
    """Run the notebook at ``path`` top to bottom in a fresh kernel, in the notebook's folder
    (to the cell at position ``last_cell`` included, when given). ``kernel``: one started
    ahead for this run (:mod:`.kernels`); the run ends it. ``threads``: the limit of a kernel
    started here (see :mod:`.threads`).

    papermill writes the executed notebook into a temporary directory; the user's notebook is
    never written. File accesses of the kernel are recorded (see :mod:`.probe`). The cells at
    ``expected_errors`` (positions in the notebook) may raise, as if tagged
    ``raises-exception``: the run goes on after them.
    """
    import papermill  # type: ignore[import-untyped,unused-ignore]
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError  # type: ignore[import-untyped,unused-ignore]

    start = time.monotonic()
    cells: dict[int, Any] = {}
    executed: list[int] = []
    replies: dict[int, CellReply] = {}
    current = [-1]

    def on_start(cell: Any, cell_index: int) -> None:
        cells[cell_index] = cell
        current[0] = cell_index

    def on_execute(cell: Any, cell_index: int) -> None:
        executed.append(cell_index)

    def on_executed(cell: Any, cell_index: int, execute_reply: Any) -> None:
        replies[cell_index] = _cell_reply(execute_reply)
        if on_cell_executed is not None:
            on_cell_executed()

    failure: RunFailure | None = None
    folder = path.resolve().parent
    metrics = frozenset(metric_names)
    if kernel is not None and not kernel.fits(kernel_name, folder, metrics):
        kernel.close()
        kernel = None
    scratch_folder: contextlib.AbstractContextManager[str] = (
        contextlib.nullcontext(kernel.scratch.name)
        if kernel is not None
        else tempfile.TemporaryDirectory(prefix="nb2pipe-verify-")
    )
    with contextlib.ExitStack() as ending:
        if kernel is not None:
            ending.callback(kernel.close)
        work = Path(ending.enter_context(scratch_folder))
        probe_log, kernel_log = work / "probe.log", work / "kernel.log"
        for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
            # the kernel started ahead, for the first attempt; else one started now
            ready = kernel.manager if kernel is not None and attempt == 1 else None
            managers: list[Any] = [ready] if ready is not None else []
            if ready is None:
                probe_log.write_bytes(b"")
                kernel_log.write_bytes(b"")
            manager = (
                {"km": ready}
                if ready is not None
                else {"kernel_manager_class": kernel_manager_class(kernel_log, managers, threads)}
            )
            try:
                papermill.execute_notebook(
                    _with_expected_errors(path, frozenset(expected_errors), last_cell),
                    str(work / path.name),
                    parameters=dict(parameters) if parameters else None,
                    kernel_name=kernel_name,
                    progress_bar=False,
                    request_save_on_cell_execute=False,
                    execution_timeout=timeout,
                    start_timeout=KERNEL_START_TIMEOUT,
                    # engine (nbclient) options: our kernel manager, the notebook's folder as
                    # the kernel's cwd (not papermill's process-wide chdir: -j runs in
                    # threads), the file-access hook, progress hooks, and no graceful-shutdown
                    # wait
                    **manager,
                    resources={"metadata": {"path": str(folder)}},
                    extra_arguments=kernel_start_arguments(probe_log, folder, metrics),
                    on_cell_start=on_start,
                    on_cell_execute=on_execute,
                    on_cell_executed=on_executed,
                    shutdown_kernel="immediate",
                )
            except PapermillExecutionError:
                pass  # judged below from the kernel's replies: raises-exception cells may fail
            except CellTimeoutError as exc:
                failure = RunFailure(
                    Reason.TIMEOUT,
                    current[0],
                    f"the cell ran longer than the {timeout} s timeout",
                    str(exc).splitlines()[0] if str(exc) else "",
                )
            except DeadKernelError:
                failure = RunFailure(
                    Reason.DEAD_KERNEL,
                    current[0],
                    "the kernel died while running the cell" + _how_it_ended(managers),
                    _tail(kernel_log),
                )
            except (RuntimeError, TimeoutError, OSError) as exc:  # start-up failed, lost link
                cell = current[0] if current[0] >= 0 else None
                failure = RunFailure(
                    Reason.DEAD_KERNEL,
                    cell,
                    f"the kernel failed: {type(exc).__name__}: {exc}".strip(),
                    _tail(kernel_log),
                )
            except Exception as exc:  # papermill could not run it (bad parameters, ...)
                cell = current[0] if current[0] >= 0 else None
                failure = RunFailure(
                    Reason.ERROR,
                    cell,
                    f"papermill could not run the notebook: {type(exc).__name__}: {exc}",
                )
            finally:
                for started in managers:
                    forget_kernel(started)
                if ready is not None and kernel is not None:
                    kernel.shut_down()  # nbclient ends only the kernels it started
                for started in managers:
                    release_kernel_manager(started)
            if not (
                attempt < KERNEL_START_ATTEMPTS
                and failure is not None
                and not cells
                and _lost_port_race(kernel_log)
            ):
                break
            # Jupyter's connection protocol picks free ports, releases them and lets the kernel
            # bind them: another process can take one in between (most likely with -j). No
            # cell ran, so a fresh kernel on fresh ports starts over cleanly.
            failure = None
        probe = read_probe_log(probe_log)
    cut = _cut_at_kernel_exit(cells, executed, replies)
    if cut is not None:
        failure = cut

    ordered = [cells[i] for i in sorted(cells) if not _is_papermill_marker(cells[i])]
    fresh = notebook_from_json(
        {
            "cells": ordered,
            "metadata": {"kernelspec": {"name": kernel_name}},
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        path,
    )
    stopped_at = None
    if failure is None:
        failure, stopped_at = _first_unexpected_error(fresh, executed, replies)
    return NotebookRun(
        notebook=fresh,
        cells_json=tuple(ordered),
        executed=tuple(executed),
        failure=failure,
        probe=probe,
        kernel_name=kernel_name,
        duration=time.monotonic() - start,
        replies=dict(replies),
        stopped_at=stopped_at,
    )


def _cell_reply(message: Any) -> CellReply:
    content = (message or {}).get("content", {}) if isinstance(message, Mapping) else {}
    payloads = content.get("payload") or ()
    return CellReply(
        status=str(content.get("status", "ok")),
        ename=str(content.get("ename") or ""),
        evalue=str(content.get("evalue") or ""),
        ends_kernel=any(
            isinstance(payload, Mapping)
            and payload.get("source") == "ask_exit"
            and not payload.get("keepkernel")
            for payload in payloads
        ),
    )


def _cut_at_kernel_exit(
    cells: dict[int, Any], executed: list[int], replies: dict[int, CellReply]
) -> RunFailure | None:
    """The failure of a run whose cell called ``exit()``/``quit()`` with code cells after it.

    ipykernel ends the kernel 0.1 s after answering such a cell: on a quiet machine the next
    cell often gets in first, on a busy one the kernel is gone. The verdict must not hang on
    that race, so the run is cut at the exit call (whatever started after it is dropped) and
    the cell is an error: a fresh kernel cannot get past it. (nbclient starts only non-empty
    code cells, so any cell started after it is code the exit call cuts off.)
    """
    for position, index in enumerate(executed):
        reply = replies.get(index)
        if reply is None or not reply.ends_kernel:
            continue
        later = [i for i in cells if i > index]
        if not later:
            return None  # the last code cell: nothing is lost
        for dropped in later:
            cells.pop(dropped, None)
            replies.pop(dropped, None)
        del executed[position + 1 :]
        return RunFailure(
            Reason.ERROR,
            index,
            "called exit(): ipykernel shuts the kernel down after this cell, so a fresh run "
            "cannot go past it (to stop on purpose use sys.exit(), or remove the call)",
        )
    return None


def release_kernel_manager(kernel_manager: Any) -> None:
    """Close what a kernel manager we passed to papermill keeps open: nbclient shuts the
    kernel down but leaves a manager it does not own with its ZeroMQ context and sockets, a
    dozen file descriptors a run (a process verifying a hundred notebooks ran out of them)."""
    for client in getattr(kernel_manager, "clients", ()):
        try:
            client.stop_channels()
        except Exception:  # noqa: BLE001 - stopped already
            pass
        _destroy(getattr(client, "context", None))
    _destroy(getattr(kernel_manager, "context", None))


def _destroy(context: Any) -> None:
    if context is not None and not getattr(context, "closed", True):
        try:
            context.destroy(linger=0)
        except Exception:  # noqa: BLE001 - ZeroMQ refused: nothing more to do
            pass


def _with_expected_errors(
    path: Path, cells: frozenset[int], last_cell: int | None = None
) -> Any:
    """The notebook to hand papermill: its path, or (when some cells may raise without the
    tag nbclient looks for) the notebook read with those cells tagged ``raises-exception``,
    and without the cells after ``last_cell``."""
    if not cells and last_cell is None:
        return str(path)
    import nbformat

    node = nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]
    if last_cell is not None:
        del node.cells[last_cell + 1 :]
    for index in cells:
        if 0 <= index < len(node.cells):
            tags = node.cells[index].setdefault("metadata", {}).setdefault("tags", [])
            if "raises-exception" not in tags:
                tags.append("raises-exception")
    return node


def _is_papermill_marker(cell: Mapping[str, Any]) -> bool:
    return _PAPERMILL_ERROR_TAG in (cell.get("metadata", {}).get("tags") or [])


def _first_unexpected_error(
    fresh: Notebook, executed: Sequence[int], replies: Mapping[int, CellReply]
) -> tuple[RunFailure | None, int | None]:
    """The first cell, in run order, whose execute reply is a failure the notebook does not
    expect (it is not tagged ``raises-exception``), or the cell that stopped the run on
    purpose: ``(failure, None)`` or ``(None, stop cell)``.

    Judged from the kernel's replies, not the outputs: a ``UsageError`` (a mistyped magic) is
    saved as a stderr stream with no error output, yet papermill stops there. Only a
    ``SystemExit`` with no or a zero status counts as ending the notebook on purpose.
    """
    cells = {cell.index: cell for cell in fresh.cells}
    for index in executed:
        reply = replies.get(index)
        cell = cells.get(index)
        if reply is None or cell is None or not reply.failed or cell.role.raises_exception:
            continue
        if reply.planned_stop:
            return None, index
        message = f"raised {reply.ename}: {reply.evalue}".rstrip(": ") if reply.ename else (
            f"the kernel answered {reply.status!r}"
        )
        return RunFailure(Reason.ERROR, index, message, _failure_text(cell)), None
    return None, None


def _failure_text(cell: Cell) -> str:
    """The traceback the cell showed, else what it wrote to stderr (IPython's usage errors)."""
    for output in cell.outputs:
        if output.output_type == "error":
            return _traceback_text(output.traceback)
    stderr = "".join(
        output.text or "" for output in cell.outputs
        if output.output_type == "stream" and output.name == "stderr"
    )
    return _traceback_text(stderr.splitlines()) if stderr else ""


def _traceback_text(lines: Sequence[str]) -> str:
    from nb2pipe.verify.normalize import terminal_text

    return "\n".join(terminal_text("\n".join(lines)).splitlines()[-15:])


def _lost_port_race(kernel_log: Path) -> bool:
    """Whether the kernel died at start-up because one of its ports was already taken."""
    try:
        text = kernel_log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "Address already in use" in text


def _how_it_ended(managers: Sequence[Any]) -> str:
    """`` (killed by SIGKILL: ...)`` or `` (exit status 1)``: how a dead kernel's process ended."""
    process = getattr(managers[-1], "kernel_process", None) if managers else None
    code = process.poll() if process is not None else None
    if code is None:
        return ""
    if code >= 0:
        return f" (exit status {code})"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    if -code == signal.SIGKILL:
        return f" (killed by {name}: out of memory, or killed from outside)"
    return f" (killed by {name})"


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    # ipykernel's start-up warnings say nothing about why the kernel died
    lines = [line for line in lines if "running over TCP without encryption" not in line]
    return "\n".join(lines[-_KERNEL_LOG_TAIL:])


# ---------------------------------------------------------------------------------------------
# the exported script

_COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".hg", ".svn", ".ipynb_checkpoints", "__pycache__", ".nb2pipe", ".venv", "node_modules"
)


def copy_folder(source: Path, scratch: Path) -> Path:
    """Copy ``source`` into ``scratch`` for the script to run in.

    The other entries of ``source``'s parent are linked beside the copy, so ``../data`` paths
    resolve as they do for the notebook (read through the links; the copy itself is private).
    """
    target = scratch / source.name
    shutil.copytree(source, target, ignore=_COPY_IGNORE, symlinks=True)
    parent = source.parent
    try:
        siblings = [entry for entry in parent.iterdir() if entry.name != source.name]
    except OSError:
        siblings = []
    for entry in siblings[:1000]:
        if not entry.name.startswith("."):
            try:
                (scratch / entry.name).symlink_to(entry)
            except OSError:
                pass
    return target


@dataclass(frozen=True)
class ScriptRun:
    """A finished (or killed) run of the exported script."""

    returncode: int | None  #: None: killed (timeout, or cancelled because the notebook failed)
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False


@dataclass
class ScriptJob:
    """The exported script running in the background, in a copy of the notebook's folder."""

    argv: list[str]
    cwd: Path
    timeout: float | None
    env: Mapping[str, str] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = None
    _start: float = 0.0

    def start(self) -> None:
        # files, not pipes: nobody has to drain them while the notebook runs
        self._stdout = tempfile.TemporaryFile()
        self._stderr = tempfile.TemporaryFile()
        env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONIOENCODING": "utf-8", **self.env}
        self._start = time.monotonic()
        self._process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            stdout=self._stdout,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        _running.add(self._process.pid)

    def wait(self) -> ScriptRun:
        assert self._process is not None
        timed_out = False
        try:
            self._process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.cancel()
        _running.discard(self._process.pid)
        return self._collect(timed_out)

    def cancel(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, AttributeError):
            self._process.kill()
        self._process.wait()
        _running.discard(self._process.pid)

    def _collect(self, timed_out: bool) -> ScriptRun:
        assert self._process is not None
        duration = time.monotonic() - self._start
        outputs = []
        for file in (self._stdout, self._stderr):
            file.seek(0)
            outputs.append(file.read().decode("utf-8", errors="replace"))
            file.close()
        code = None if timed_out else self._process.returncode
        return ScriptRun(code, outputs[0], outputs[1], duration, timed_out)


def start_script(
    script: Path,
    arguments: Sequence[str],
    *,
    python: str | Sequence[str],
    under_ipython: bool,
    timeout: float | None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ScriptJob:
    """Start ``script`` with ``arguments`` in ``cwd`` (default: the script's folder).

    ``python`` is the interpreter, or the command that starts it (a wrapper's argv, the
    interpreter last: see :func:`kernel_command`); ``env`` is added to the environment.
    A script kept outside ``cwd`` still imports the modules there, as the notebook did
    (``cwd`` goes first on ``PYTHONPATH``).
    """
    command = [python] if isinstance(python, str) else list(python)
    if under_ipython:
        argv = [*command, "-m", "IPython", "--no-banner", "--quick", str(script), "--", *arguments]
    else:
        argv = [*command, str(script), *arguments]
    folder = cwd or script.parent
    extra: dict[str, str] = dict(env or {})
    if folder != script.parent:
        extra["PYTHONPATH"] = os.pathsep.join(
            part
            for part in (str(folder), extra.get("PYTHONPATH", os.environ.get("PYTHONPATH", "")))
            if part
        )
    job = ScriptJob(argv, folder, timeout, extra)
    try:
        job.start()
    except OSError as exc:
        raise Nb2PipeError(f"{script}: cannot start the script: {exc.strerror}") from None
    return job
