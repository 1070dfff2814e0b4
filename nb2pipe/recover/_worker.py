"""The worker side of the shell fork server: an IPython shell that records what ipykernel sends.

This file runs as a script in the notebook's interpreter (``python _worker.py FD``), which may
not have nb2pipe installed: it imports only the standard library, IPython and ipykernel (which
any interpreter that runs a notebook kernel has). The server imports its message framing.

Processes (all in one process group, the session the server started):

- the **supervisor**, started by the server: it builds the shell once (config, extensions and
  startup files as a kernel loads them), then only forks fresh checkpoints from that pristine
  state (``root``), reaps processes, and kills them all on ``shutdown`` or when the server's
  connection closes. It is the child subreaper of every checkpoint.
- **checkpoints**: each holds one interpreter state and serves ``run``/``fork``/``close`` on its
  own Unix socket. A fork is a double fork, so the copy is a child of the supervisor (closing
  the original does not take its copies with it); its end of a new socketpair goes to the
  server with ``SCM_RIGHTS``.

What ipykernel does that matters for outputs is mirrored here, by subclassing its own
``ZMQInteractiveShell`` (so ``get_ipython()`` looks like a kernel's to libraries that check),
its display hook and publisher, reusing its compiler (cell file names) and its JSON
encoding of MIME bundles; see :func:`_build_shell` and :class:`_Checkpoint.run`.
"""

from __future__ import annotations

import asyncio
import builtins
import codecs
import ctypes
import getpass
import io
import json
import os
import random
import selectors
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: The message header: the length of the JSON body that follows.
_HEADER = struct.Struct(">I")
_MAX_MESSAGE = 1 << 31

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36

#: Seconds a throwaway fork may take to run one OpenMP parallel region (see
#: :func:`_openmp_pool_broken_by_fork`); it takes about a millisecond when it works.
OPENMP_PROBE_TIMEOUT = 2.0

#: Seconds a fork waits for the notebook's threads to end before it is refused.
THREAD_GRACE = 0.5

#: Threads that a fork may leave behind without harm: tqdm's monitor only tunes refresh rates.
_HARMLESS_THREADS = frozenset({"tqdm._monitor.TMonitor"})


# --------------------------------------------------------------------------------------------
# Message framing (shared with the server)


def send_message(sock: socket.socket, message: Mapping[str, Any], fds: Sequence[int] = ()) -> None:
    """Send one JSON message, with file descriptors attached to its first byte."""
    body = json.dumps(message, default=str).encode()
    data = _HEADER.pack(len(body)) + body
    if fds:
        sent = socket.send_fds(sock, [data], list(fds))
        data = data[sent:]
    if data:
        sock.sendall(data)


def receive_message(sock: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """Receive one message and the descriptors sent with it; ``EOFError`` when the peer left."""
    header, fds = _receive_exactly(sock, _HEADER.size, with_fds=True)
    (size,) = _HEADER.unpack(header)
    if size > _MAX_MESSAGE:
        raise EOFError(f"message of {size} bytes")
    body, _ = _receive_exactly(sock, size, with_fds=False)
    message = json.loads(body)
    if not isinstance(message, dict):
        raise TypeError(f"a message must be a JSON object, not {type(message).__name__}")
    return message, fds


def _receive_exactly(sock: socket.socket, size: int, *, with_fds: bool) -> tuple[bytes, list[int]]:
    chunks: list[bytes] = []
    fds: list[int] = []
    missing = size
    while missing:
        if with_fds:
            chunk, received, _, _ = socket.recv_fds(sock, missing, 4)
            fds.extend(received)
        else:
            chunk = sock.recv(min(missing, 1 << 20))
        if not chunk:
            for fd in fds:
                os.close(fd)
            raise EOFError("connection closed")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks), fds


# --------------------------------------------------------------------------------------------
# Process plumbing


def _prctl(option: int, value: int) -> bool:
    """``prctl(2)`` where it exists (Linux); ``False`` elsewhere or when it failed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _flush_c_stdio() -> None:
    """Flush C stdio buffers, so a fork does not print what one process buffered twice."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


def _quiet_fork() -> int:
    """``os.fork()`` without Python 3.12's warning about forking a multi-threaded process
    (OpenBLAS keeps threads and handles fork; :func:`_fork_problem` checks the rest). The
    filters are restored before the child returns, so its warnings behave as its parent's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux ``/proc``), for the supervisor's last sweep."""
    found: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _reap(signum: int = 0, frame: object = None) -> None:
    """Collect every finished child (the supervisor's SIGCHLD handler)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _loaded_libraries(prefix: str) -> list[str]:
    """Paths of the loaded shared libraries whose file name starts with ``prefix``."""
    found: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.rstrip("\n").split(maxsplit=5)[-1]
                if os.path.basename(path).startswith(prefix) and path not in found:
                    found.append(path)
    except OSError:
        pass
    return found


def _release_openmp_pool(path: str) -> bool:
    """Let the GNU OpenMP runtime at ``path`` end its worker threads (``omp_pause_resource_all``
    with ``omp_pause_hard``, OpenMP 5.0; libgomp has it since GCC 10). Its next parallel
    region starts new ones, in whichever process runs it."""
    try:
        gomp = ctypes.CDLL(path)
        pause = gomp.omp_pause_resource_all
    except (OSError, AttributeError):
        return False
    pause.argtypes = [ctypes.c_int]
    pause.restype = ctypes.c_int
    return int(pause(2)) == 0


def _openmp_pool_broken_by_fork(path: str, timeout: float = OPENMP_PROBE_TIMEOUT) -> bool:
    """Whether a fork of this process would hang in its next OpenMP parallel region.

    GNU OpenMP (libgomp, which scikit-learn, PyTorch and others ship) keeps its worker
    threads in a pool that a forked child still believes it has; the child's next parallel
    region waits for threads that do not exist, forever. LLVM's and Intel's runtimes and
    OpenBLAS handle fork. Where the pool cannot be released, whether it exists is not
    observable from outside, so a throwaway fork runs one empty parallel region
    (``free(NULL)`` on every thread) and is given ``timeout`` seconds.
    """
    _flush_c_stdio()
    pid = _quiet_fork()
    if pid == 0:
        try:
            gomp = ctypes.CDLL(path)
            gomp.GOMP_parallel.argtypes = [ctypes.c_void_p, ctypes.c_void_p] + [ctypes.c_uint] * 2
            gomp.GOMP_parallel.restype = None
            free = ctypes.cast(ctypes.CDLL(None).free, ctypes.c_void_p)
            gomp.GOMP_parallel(free, None, 0, 0)
        finally:
            os._exit(0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
        time.sleep(0.001)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return True


def _release_loky_executor() -> None:
    """Shut joblib's reusable process executor down (``n_jobs`` > 1 leaves it running, with
    two threads that a fork would lose); the next ``Parallel`` call starts another."""
    module = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(module, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True)


def _live_threads() -> list[threading.Thread]:
    return [
        thread
        for thread in threading.enumerate()
        if thread is not threading.main_thread()
        and thread.is_alive()
        and f"{type(thread).__module__}.{type(thread).__qualname__}" not in _HARMLESS_THREADS
    ]


#: Why this process can never be forked again (an OpenMP pool that stays), once found.
_FOREVER_UNSAFE: list[str] = []


def _fork_problem() -> str:
    """Why forking this process now would leave a copy that hangs or misbehaves ('' if none).

    Pools that a library restarts on demand are released first, which makes the fork safe:
    joblib's process executor, and GNU OpenMP pools where the runtime allows it. Only what
    cannot be released refuses it.
    """
    if _FOREVER_UNSAFE:
        return _FOREVER_UNSAFE[0]
    _release_loky_executor()
    threads = _live_threads()
    if threads:  # pools shut down by the cell end their threads a moment later
        deadline = time.monotonic() + THREAD_GRACE
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        threads = _live_threads()
    if threads:
        names = ", ".join(sorted({thread.name for thread in threads}))
        return (
            f"the notebook's code started {len(threads)} thread(s) ({names}); a fork copies "
            "only the thread that forks, so whatever waits on them in the copy would hang"
        )
    for path in _loaded_libraries("libgomp"):
        if not _release_openmp_pool(path) and _openmp_pool_broken_by_fork(path):
            _FOREVER_UNSAFE.append(
                f"an OpenMP thread pool ({os.path.basename(path)}) is running and cannot be "
                "released; a forked copy would hang in its next parallel region"
            )
            return _FOREVER_UNSAFE[0]
    return ""


# --------------------------------------------------------------------------------------------
# Recording outputs


class _FdCapture:
    """Output written to file descriptors 1 and 2 (C code, ``os.system``, subprocesses), read
    back in order at each Python-level output, as ipykernel's fd watcher forwards it.

    Each process has its own anonymous in-memory files, so copies never share them.
    """

    def __init__(self) -> None:
        self._readers: list[tuple[str, int, Any]] = []
        self.offsets = [0, 0]
        for fd, name in ((1, "stdout"), (2, "stderr")):
            reader = _anonymous_file(name)
            os.dup2(reader, fd)
            self._readers.append((name, reader, codecs.getincrementaldecoder("utf-8")("replace")))

    def drain(self) -> list[tuple[str, str]]:
        chunks: list[tuple[str, str]] = []
        for index, (name, reader, decoder) in enumerate(self._readers):
            size = os.fstat(reader).st_size
            if size > self.offsets[index]:
                data = os.pread(reader, size - self.offsets[index], self.offsets[index])
                self.offsets[index] += len(data)
                text = decoder.decode(data)
                if text:
                    chunks.append((name, text))
        return chunks

    def reset(self) -> None:
        """Empty the files (between cells): the descriptors share one offset, so writers
        continue at the start."""
        for index, (_, reader, decoder) in enumerate(self._readers):
            os.ftruncate(reader, 0)
            os.lseek(reader, 0, os.SEEK_SET)
            self.offsets[index] = 0
            decoder.reset()

    def close(self) -> None:
        for _, reader, _ in self._readers:
            os.close(reader)
        self._readers = []


def _anonymous_file(name: str) -> int:
    if hasattr(os, "memfd_create"):
        try:
            return os.memfd_create(f"nb2pipe-{name}", os.MFD_CLOEXEC)
        except OSError:
            pass
    with tempfile.TemporaryFile() as handle:
        return os.dup(handle.fileno())


class _Recorder:
    """A cell's outputs in the order a Jupyter client saves them (nbformat output dicts).

    Consecutive chunks of one stream are merged, ``clear_output`` removes what it clears
    (at once, or before the next output with ``wait=True``), and ``update_display_data``
    replaces the data of the outputs displayed with that ``display_id``, as nbclient does.
    """

    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []
        self.active = False
        self.capture: _FdCapture | None = None
        #: the process running the cell; a process its code forked writes to the descriptors
        self.owner = os.getpid()
        self._clear_pending = False
        self._lock = threading.RLock()

    def start(self) -> None:
        with self._lock:
            self.owner = os.getpid()
            if self.capture is not None:
                self.capture.drain()  # printed between cells: no cell's output
                self.capture.reset()
            self.outputs = []
            self._clear_pending = False
            self.active = True

    def finish(self) -> list[dict[str, Any]]:
        with self._lock:
            self._drain()
            self.active = False
            if self.capture is not None:
                self.capture.reset()
            outputs = [{k: v for k, v in out.items() if k != "_display_id"} for out in self.outputs]
            self.outputs = []
            return outputs

    def stream(self, name: str, text: str) -> None:
        with self._lock:
            if self.active and text:
                self._drain()
                self._append_stream(name, text)

    def rich(self, output: dict[str, Any], display_id: str | None = None) -> None:
        with self._lock:
            if not self.active:
                return
            self._drain()
            self._before_output()
            if display_id is not None:
                output["_display_id"] = display_id
            self.outputs.append(output)

    def update(self, display_id: str, data: Any, metadata: Any) -> None:
        with self._lock:
            if not self.active:
                return
            self._drain()
            for output in self.outputs:
                if output.get("_display_id") == display_id:
                    output["data"] = data
                    output["metadata"] = metadata

    def clear(self, wait: bool) -> None:
        with self._lock:
            if not self.active:
                return
            self._drain()
            if wait:
                self._clear_pending = True
            else:
                self.outputs = []
                self._clear_pending = False

    def _drain(self) -> None:
        if self.capture is not None:
            for name, text in self.capture.drain():
                self._append_stream(name, text)

    def _append_stream(self, name: str, text: str) -> None:
        self._before_output()
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def _before_output(self) -> None:
        if self._clear_pending:
            self.outputs = []
            self._clear_pending = False


_RECORDER = _Recorder()


class OutStream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` in the shell, shaped like ipykernel's ``OutStream``: text
    only, not a terminal, ``fileno()`` the process's original stream (as ipykernel's is)."""

    def __init__(self, name: str, original_fd: int) -> None:
        super().__init__()
        self.name = name
        self._original_fd = original_fd

    @property
    def encoding(self) -> str:  # type: ignore[override]  # read-only in io.TextIOBase too
        return "UTF-8"

    def write(self, string: str) -> int:
        if not isinstance(string, str):
            raise TypeError(f"write() argument must be str, not {type(string)}")
        if os.getpid() != _RECORDER.owner:
            # a process the cell forked (multiprocessing): its recorder is a copy nobody
            # reads, so its text goes where ipykernel's children's goes, to the cell
            os.write(2 if self.name == "stderr" else 1, string.encode(errors="replace"))
        else:
            _RECORDER.stream(self.name, string)
        return len(string)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._original_fd

    def flush(self) -> None:
        pass

    def set_parent(self, parent: object) -> None:
        pass


# --------------------------------------------------------------------------------------------
# The shell


def _shell_classes() -> tuple[type[Any], Callable[..., Any]]:
    """ipykernel's shell, display hook and publisher, sending to the recorder instead of ZMQ."""
    # untyped libraries: used through Any
    from ipykernel import displayhook, eventloops, jsonutil, zmqshell
    from IPython.core.error import UsageError
    from traitlets import Type

    kernel_display_hook: Any = displayhook.ZMQShellDisplayHook
    kernel_display_publisher: Any = zmqshell.ZMQDisplayPublisher
    kernel_shell: Any = zmqshell.ZMQInteractiveShell
    json_clean: Any = jsonutil.json_clean
    encode_images: Any = jsonutil.encode_images

    def message(msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
        header = {"msg_type": msg_type, "msg_id": uuid.uuid4().hex}
        return {
            "header": header,
            "msg_id": header["msg_id"],
            "msg_type": msg_type,
            "parent_header": {},
            "metadata": {},
            "content": content,
        }

    def hooked(publisher: Any, msg: dict[str, Any] | None) -> dict[str, Any] | None:
        for hook in list(publisher._hooks):  # an ipywidgets Output captures displays so
            if msg is None:
                break
            msg = hook(msg)
        return msg

    class ZMQShellDisplayHook(kernel_display_hook):  # type: ignore[misc]
        """The kernel's display hook: an ``execute_result`` with the cell's count."""

        msg: dict[str, Any] | None

        def start_displayhook(self) -> None:
            self.msg = message("execute_result", {"data": {}, "metadata": {}})

        def finish_displayhook(self) -> None:
            started, self.msg = self.msg, None
            if started and started["content"]["data"]:
                msg = hooked(self, started)
                if msg is not None:
                    content = msg["content"]
                    _RECORDER.rich(
                        {
                            "output_type": "execute_result",
                            "execution_count": content.get("execution_count"),
                            "data": content["data"],
                            "metadata": content.get("metadata") or {},
                        }
                    )

    class ZMQDisplayPublisher(kernel_display_publisher):  # type: ignore[misc]
        """The kernel's display publisher: ``display_data``, updates, ``clear_output``."""

        def publish(
            self,
            data: dict[str, Any],
            metadata: dict[str, Any] | None = None,
            *,
            transient: dict[str, Any] | None = None,
            update: bool = False,
            **kwargs: Any,
        ) -> None:
            metadata = {} if metadata is None else metadata
            transient = {} if transient is None else transient
            self._validate_data(data, metadata)
            content = {"data": encode_images(data), "metadata": metadata, "transient": transient}
            msg_type = "update_display_data" if update else "display_data"
            msg = hooked(self, message(msg_type, json_clean(content)))
            if msg is None:
                return
            content = msg["content"]
            display_id = (content.get("transient") or {}).get("display_id")
            if msg_type == "update_display_data":
                if display_id is not None:
                    _RECORDER.update(display_id, content["data"], content.get("metadata") or {})
                return
            _RECORDER.rich(
                {
                    "output_type": "display_data",
                    "data": content["data"],
                    "metadata": content.get("metadata") or {},
                },
                display_id,
            )

        def clear_output(self, wait: bool = False) -> None:
            if hooked(self, message("clear_output", {"wait": wait})) is not None:
                _RECORDER.clear(bool(wait))

    class ZMQInteractiveShell(kernel_shell):  # type: ignore[misc]
        """ipykernel's shell without a kernel: outputs go to the recorder.

        It keeps ipykernel's class name, because libraries tell a notebook from a terminal
        by it (``get_ipython().__class__.__name__ == "ZMQInteractiveShell"``).
        """

        displayhook_class = Type(ZMQShellDisplayHook)
        display_pub_class = Type(ZMQDisplayPublisher)

        def _update_exit_now(self, change: Any) -> None:
            pass  # the kernel stops its event loop; the checkpoint exits after its reply

        def enable_gui(self, gui: Any = None) -> None:
            loop_map: Any = eventloops.loop_map
            if gui not in loop_map:  # as ipykernel's enable_gui says it
                raise UsageError(f"Invalid GUI request {gui!r}, valid ones are:{loop_map.keys()}")
            if loop_map[gui] is not None:  # qt, tk, ...: a kernel would run their loop
                raise UsageError(f"the nb2pipe shell runs no GUI event loop ({gui!r})")
            self.active_eventloop = gui

        def _showtraceback(self, etype: Any, evalue: Any, stb: list[str]) -> None:
            content = json_clean(
                {"traceback": stb, "ename": str(etype.__name__), "evalue": str(evalue)}
            )
            if getattr(self.displayhook, "msg", None) is not None:
                self._last_traceback_during_displayhook = True
            _RECORDER.rich({"output_type": "error", **content})
            self._last_traceback = stb

        def init_hooks(self) -> None:
            super().init_hooks()
            # pager output is a payload of the execute reply, which nbclient does not save
            self.set_hook("show_in_pager", lambda *args, **kwargs: None, 99)

    def no_stdin(what: str) -> Callable[..., str]:
        from IPython.core.error import StdinNotImplementedError

        def refuse(*args: Any, **kwargs: Any) -> str:
            raise StdinNotImplementedError(
                f"{what} was called, but this frontend does not support input requests."
            )

        refuse.__name__ = refuse.__qualname__ = what  # as the kernel's bound methods are named
        return refuse

    return ZMQInteractiveShell, no_stdin


def _kernel_argv() -> list[str]:
    """What ``sys.argv`` is in a kernel: the launcher and its connection file."""
    import importlib.util

    spec = importlib.util.find_spec("ipykernel_launcher")
    launcher = spec.origin if spec is not None and spec.origin else "ipykernel_launcher.py"
    runtime = os.path.join(tempfile.gettempdir(), f"kernel-{uuid.uuid4()}.json")
    return [launcher, "-f", runtime]


def _build_shell() -> tuple[Any, Callable[..., Any]]:
    """Build the shell as ``IPKernelApp.initialize`` does, minus sockets, threads and history.

    The profile's ``ipython_config.py``/``ipython_kernel_config.py``, its startup files,
    ``exec_lines`` and extensions load as in a kernel, because they change outputs (a figure
    format, ``ast_node_interactivity``). The history manager is off, so no thread runs.
    """
    from ipykernel import compiler, kernelapp

    kernel_app: Any = kernelapp.IPKernelApp

    shell_class, no_stdin = _shell_classes()
    sys.argv = _kernel_argv()
    stdout_copy, stderr_copy = os.dup(1), os.dup(2)
    sys.stdout = OutStream("stdout", stdout_copy)
    sys.stderr = OutStream("stderr", stderr_copy)

    app = kernel_app.instance()
    app.init_profile_dir()
    app.init_config_files()
    app.load_config_file()
    app.config.HistoryManager.enabled = False
    app.init_pdb()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as IPKernelApp.init_signal; see run()
    shell = shell_class.instance(
        parent=app,
        profile_dir=app.profile_dir,
        user_module=None,
        user_ns=None,
        kernel=None,
        compiler_class=compiler.XCachingCompiler,
    )
    app.shell = shell
    shell.configurables.append(app)
    app.init_path()
    app.init_gui_pylab()
    app.init_extensions()
    app.init_code()
    return shell, no_stdin


# --------------------------------------------------------------------------------------------
# A checkpoint: one interpreter state in one process


class _Checkpoint:
    """Serves one process's shell state over its socket."""

    def __init__(self, shell: Any, no_stdin: Callable[..., Any], supervisor: int) -> None:
        self.shell = shell
        self.no_stdin = no_stdin
        self.supervisor = supervisor
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, conn: socket.socket, random_state: Any = None) -> None:
        """Become a checkpoint process (after a fork) and serve until closed; never returns."""
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self._adopt()
            if random_state is not None and "random" in sys.modules:
                random.setstate(random_state)  # the random module reseeds itself on fork
            if _RECORDER.capture is not None:
                _RECORDER.capture.close()
            _RECORDER.capture = _FdCapture()
            self._renew_loop()
            send_message(conn, {"pid": os.getpid(), "next_count": self.shell.execution_count})
            self._serve(conn)
        except BaseException:  # noqa: BLE001 - logged; the process ends either way
            _log_exception()
        finally:
            os._exit(0)

    def _adopt(self) -> None:
        """Wait to be the supervisor's child, then die with it (``PR_SET_PDEATHSIG``)."""
        deadline = time.monotonic() + 10
        while os.getppid() != self.supervisor:
            if time.monotonic() > deadline:
                os._exit(1)
            time.sleep(0.0002)
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != self.supervisor:
            os._exit(1)

    def _renew_loop(self) -> None:
        """The asyncio loop persists across cells, as the kernel's does. A select() loop keeps
        no kernel object a fork would share (an epoll instance would be); the self-pipe of
        a copied loop is still its parent's, so a copy makes its own."""
        if self.loop is None:
            self.loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
            asyncio.set_event_loop(self.loop)
            return
        loop: Any = self.loop
        if hasattr(loop, "_close_self_pipe") and hasattr(loop, "_make_self_pipe"):
            loop._close_self_pipe()
            loop._make_self_pipe()

    def _serve(self, conn: socket.socket) -> None:
        while True:
            try:
                request, fds = receive_message(conn)
            except (EOFError, OSError):
                return
            for fd in fds:
                os.close(fd)
            op = request.get("op")
            if op == "run":
                try:
                    reply = self.run(str(request.get("source", "")), request.get("cell_id"))
                except Exception:  # noqa: BLE001 - a fault of this worker, not of the cell
                    send_message(conn, {"internal_error": traceback.format_exc()})
                    continue
                send_message(conn, reply)
                if reply["exits"]:
                    return
            elif op == "fork":
                self.fork(conn)
            elif op == "close":
                return
            else:
                send_message(conn, {"internal_error": f"unknown request {op!r}"})

    # -- running a cell ----------------------------------------------------------------

    def run(self, source: str, cell_id: str | None) -> dict[str, Any]:
        """Run one cell as ipykernel's ``do_execute`` does, and describe how it ended."""
        shell = self.shell
        assert self.loop is not None
        _RECORDER.start()
        start = time.perf_counter()
        result: Any = None
        interrupted = False
        me = os.getpid()
        task = self.loop.create_task(self._execute(source, cell_id))
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            result = self.loop.run_until_complete(task)
        except KeyboardInterrupt:  # raised outside IPython's own handling (an async cell)
            interrupted = True
            shell.showtraceback()
            task.cancel()
            try:
                self.loop.run_until_complete(task)
            except BaseException:  # noqa: BLE001, S110 - the cancellation itself
                pass
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if os.getpid() != me:
            os._exit(0)  # a fork the cell made (os.fork()) returned here: it must not answer
        duration = time.perf_counter() - start
        outputs = _RECORDER.finish()
        reply: dict[str, Any] = {
            "status": "ok",
            "ename": "",
            "evalue": "",
            "outputs": outputs,
            "duration": duration,
            "execution_count": None,
            "next_count": shell.execution_count,
            "exits": bool(shell.exit_now),
        }
        if result is not None:
            reply["execution_count"] = result.execution_count
            error = result.error_before_exec or result.error_in_exec
            if not result.success or getattr(shell, "_last_traceback_during_displayhook", False):
                reply.update(status="error", ename=type(error).__name__, evalue=str(error))
        elif interrupted:
            reply.update(status="error", ename="KeyboardInterrupt", evalue="")
        return reply

    async def _execute(self, code: str, cell_id: str | None) -> Any:
        from IPython.core.async_helpers import _asyncio_runner

        shell = self.shell
        saved_input, saved_getpass = builtins.input, getpass.getpass
        builtins.input = self.no_stdin("raw_input")
        getpass.getpass = self.no_stdin("getpass")
        try:
            preprocessing_exc_tuple = None
            try:
                transformed_cell = shell.transform_cell(code)
            except Exception:  # noqa: BLE001 - IPython reports it as the cell's error
                transformed_cell = code
                preprocessing_exc_tuple = sys.exc_info()
            if shell.loop_runner is _asyncio_runner and shell.should_run_async(
                code,
                transformed_cell=transformed_cell,
                preprocessing_exc_tuple=preprocessing_exc_tuple,
            ):
                result = None
                try:
                    result = await shell.run_cell_async(
                        code,
                        store_history=True,
                        silent=False,
                        transformed_cell=transformed_cell,
                        preprocessing_exc_tuple=preprocessing_exc_tuple,
                        cell_id=cell_id,
                    )
                finally:
                    shell.events.trigger("post_execute")
                    shell.events.trigger("post_run_cell", result)
                return result
            return shell.run_cell(code, store_history=True, silent=False, cell_id=cell_id)
        finally:
            builtins.input, getpass.getpass = saved_input, saved_getpass

    # -- forking -------------------------------------------------------------------------

    def fork(self, conn: socket.socket) -> None:
        """Copy this process; the copy's end of a new socketpair goes back over ``conn``."""
        problem = _fork_problem()
        if problem:
            send_message(conn, {"ok": False, "fork_unsafe": problem})
            return
        for stream in (sys.__stdout__, sys.__stderr__):
            if stream is not None:
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
        _flush_c_stdio()
        ours, theirs = socket.socketpair()
        random_state = random.getstate() if "random" in sys.modules else None
        middle = _quiet_fork()
        if middle == 0:
            try:
                if _quiet_fork() == 0:
                    ours.close()
                    conn.close()
                    self.start(theirs, random_state)
            finally:
                os._exit(0)
        os.waitpid(middle, 0)
        theirs.close()
        send_message(conn, {"ok": True}, fds=[ours.fileno()])
        ours.close()


def _log_exception() -> None:
    """Write the current exception to the worker's log (the original stderr)."""
    try:
        fd = _LOG_FD if _LOG_FD is not None else 2
        os.write(fd, traceback.format_exc().encode(errors="replace"))
    except OSError:
        pass


_LOG_FD: int | None = None


# --------------------------------------------------------------------------------------------
# The supervisor


def _supervise(conn: socket.socket) -> None:
    """Build the shell, then fork fresh checkpoints on request until shutdown."""
    global _LOG_FD
    _LOG_FD = os.dup(2)
    os.set_inheritable(_LOG_FD, False)
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    try:
        if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
            del sys.path[0]  # this script's folder; ipykernel_launcher removes its own likewise
        shell, no_stdin = _build_shell()
    except BaseException:  # noqa: BLE001 - reported to the server, which raises it
        send_message(conn, {"internal_error": traceback.format_exc()})
        return
    signal.signal(signal.SIGCHLD, _reap)
    checkpoint = _Checkpoint(shell, no_stdin, os.getpid())
    send_message(conn, {"pid": os.getpid(), "python": sys.version.split()[0]})
    while True:
        try:
            request, fds = receive_message(conn)
        except (EOFError, OSError):
            break
        for fd in fds:
            os.close(fd)
        if request.get("op") != "root":
            break
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            ours.close()
            conn.close()
            checkpoint.start(theirs)
        theirs.close()
        send_message(conn, {"ok": True}, fds=[ours.fileno()])
        ours.close()
    _shutdown()


def _shutdown() -> None:
    """Kill every process below the supervisor and reap it, then leave.

    Orphans of killed checkpoints (their subprocesses) are reparented to the supervisor,
    its subreaper, so sweeping until no child is left catches them too.
    """
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    me = os.getpid()
    for _ in range(50):
        children = _children(me)
        if not children:
            break
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.002)
    os._exit(0)


def main(argv: Sequence[str]) -> None:
    conn = socket.socket(fileno=int(argv[1]))
    _supervise(conn)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
