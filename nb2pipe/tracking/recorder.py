"""ExecutionRecorder: turns IPython's cell events into :class:`ExecutionEvent` records.

Hooks (all inert while tracking is off):

- ``pre_run_cell``: the cell id (``info.cell_id``), JupyterLab's ``deletedCells`` (execute
  request metadata) and the start time;
- an ``ast_transformers`` entry that sees the tree IPython parsed, hands it to
  :func:`gather_cell_symbols` and snapshots the identities and stamps of the names the cell
  touches — right before the code runs; it returns the tree unchanged;
- a :class:`nb2pipe_runtime.audit.FileAudit` (the exported scripts' and verify's audit: one
  rule for which files are the user's), listening to the executing thread while a cell runs;
- ``post_run_cell``: compares the namespace with the snapshot, builds the event, folds it into
  the :class:`TrackerState`, appends it to the history log and prints the cell's hazards.

Any exception inside the tracker turns tracking off with one message; the user's cell result
is never touched.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # no stub: signal's C half
import ast
import atexit
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from nb2pipe_runtime.audit import FileAudit, FileOpen, environment_prefixes

from nb2pipe.analysis import CellSymbols, Hazard, HazardKind, gather_cell_symbols
from nb2pipe.analysis.parse import analysed_symbols
from nb2pipe.model import source_digest
from nb2pipe.tracking.effects import StaticEffects, static_effects
from nb2pipe.tracking.folders import Listing, list_folder, listing_changes
from nb2pipe.tracking.hazards import (
    append_hazard,
    appended_again,
    cell_places,
    execution_hazards,
    format_warning,
    make_hazard,
    merge_duplicates,
    stale_hazards,
)
from nb2pipe.tracking.log import (
    FileAccess,
    HistoryLog,
    SessionHeader,
    history_path,
)
from nb2pipe.tracking.order import NotebookFile, NotebookOrder, first_code_line
from nb2pipe.tracking.report import StaticHazardCache, TrackReport, available_kinds, build_report
from nb2pipe.tracking.rerun import plan_rerun, simulate_fresh_run
from nb2pipe.tracking.runtime import file_accesses, is_user_name
from nb2pipe.tracking.snapshot import ExecutionCore, NamespaceSnapshot
from nb2pipe.tracking.sources import SourceStore
from nb2pipe.tracking.state import CREATE, REMOVE, CellRun, TrackerState

__all__ = ["ExecutionRecorder", "NotebookSource"]

logger = logging.getLogger("nb2pipe.tracking")
# the kernel's stderr is the cell's output: without a handler, logging's last resort prints there
logger.addHandler(logging.NullHandler())

_MISSING = 0  #: ``id()`` of an unbound name (no object has id 0)
_SIGINT = int(signal.SIGINT)
#: Hazards that already say why a cell's output is off (no "ran on out-of-date input" then).
_EXPLAINED_BY = frozenset({HazardKind.OUT_OF_ORDER, HazardKind.HIDDEN_STATE, HazardKind.STALE})
#: Hazards of a cell's own run that make what it produced suspect.
_SUSPECT_KINDS = frozenset({
    HazardKind.OUT_OF_ORDER, HazardKind.HIDDEN_STATE, HazardKind.NON_IDEMPOTENT, HazardKind.STALE,
})
_MAIN_THREAD = threading.main_thread().ident
#: Line magics that may bind names no syntax tree shows.
_OPAQUE_MAGICS = frozenset({"run", "store", "load", "reset_selective", "macro", "autoreload"})
#: The hazard kinds of each mode (notebook file or not, cell ids or not).
_KINDS: dict[tuple[bool, bool], frozenset[HazardKind]] = {}
#: Sources whose analysis is kept for re-runs (past it the cache starts again).
_ANALYSED_LIMIT = 4096
#: Distinct (file, mode) opens kept per execution: a cell that opens more files is not slowed
#: down (nor the history log filled) by the rest.
_FILE_OPEN_LIMIT = 10_000


def _error_line(error: BaseException, namespace: Any) -> int | None:
    """The line of the cell's own code where ``error`` was raised (``None`` if not found)."""
    tb = error.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "<module>" and frame.f_globals is namespace:
            return tb.tb_lineno
        tb = tb.tb_next
    return None


def _only_track_magics(source: str) -> bool:
    """Whether a cell holds nothing but ``%track`` lines (and blank lines or comments)."""
    if "%track" not in source:
        return False
    lines = [line.strip() for line in source.splitlines()]
    code = [line for line in lines if line and not line.startswith("#")]
    return bool(code) and all(line == "%track" or line.startswith("%track ") for line in code)


def _as_typed(raw_cell: str, transformed: str | None) -> bool:
    """Whether IPython's transformations (``transformed``: ``None`` when IPython does not
    say) left ``raw_cell`` as it was, but for the trailing newline it adds."""
    return transformed is not None and transformed.rstrip("\n") == raw_cell.rstrip("\n")


def _event_loop_callback(shell: Any) -> Callable[[Callable[[], None]], None] | None:
    """How to run work on the kernel's event loop once the current request's handler (and
    so the cell's reply) is done: its asyncio loop's ``call_soon`` (the tracker runs on the
    loop's thread; ``add_callback`` would also write to the loop's wake-up pipe), else the
    tornado loop's ``add_callback``; ``None`` without a kernel."""
    loop = getattr(getattr(shell, "kernel", None), "io_loop", None)
    inner = getattr(loop, "asyncio_loop", None)
    call_soon = getattr(inner, "call_soon", None)
    if callable(call_soon):
        return call_soon  # type: ignore[no-any-return]
    add = getattr(loop, "add_callback", None)
    return add if callable(add) else None


@dataclass
class NotebookSource:
    """Where the notebook path came from: ``--notebook``, ``__session__`` or ``JPY_SESSION_NAME``."""

    path: Path
    origin: str


@dataclass
class _Pending:
    """What the tracker knows about the execution in flight."""

    raw_cell: str
    digest: str  #: :func:`source_digest` of ``raw_cell``: the history's, the store's and the caches' key
    cell_id: str | None
    deleted_cells: tuple[str, ...]
    started: float
    clock: float
    #: IPython's input transformations left the code as typed (no magics, no prompts, no
    #: leading blank lines): its tree is the one the saved notebook's analysis parsed
    as_typed: bool = False
    symbols: CellSymbols | None = None
    effects: StaticEffects | None = None
    snapshot: NamespaceSnapshot | None = None
    tree: ast.Module | None = None  #: IPython's tree of the cell (code only, no values)
    cost: float = 0.0  #: seconds the tracker itself spent on this execution so far
    #: the folder's paths before the cell ran, for cells that may create or remove paths
    listing: Listing | None = None


class _HeldInterrupts:
    """Ctrl-C while the tracker does its own bookkeeping is held, not raised there.

    The tracker's work around a cell takes a fraction of a millisecond; an interrupt that
    lands in it is meant for the cell. After the cell it would find a stock kernel idle, which
    ignores it; before the cell it is dropped likewise (press again). Raised inside the
    tracker, it would leave the tracker's state half updated. Only the main thread can set a
    signal handler, and only a handler set from Python can be put back: otherwise nothing is
    held.
    """

    def __init__(self) -> None:
        self.previous: Any = None
        self.held = False

    def __enter__(self) -> _HeldInterrupts:
        # ``_signal``'s functions, not ``signal``'s wrappers: those convert to and from enums,
        # which cost ten times the system call (four calls a cell)
        if threading.get_ident() == _MAIN_THREAD:
            previous = _signal.getsignal(_SIGINT)
            if previous is not None:
                try:
                    _signal.signal(_SIGINT, self._hold)
                    self.previous = previous
                except (ValueError, OSError):
                    pass
        return self

    def _hold(self, signum: int, frame: Any) -> None:
        self.held = True

    def __exit__(self, *exc_info: object) -> None:
        if self.previous is not None:
            _signal.signal(_SIGINT, self.previous)


class _TreeRecorder:
    """The ``ast_transformers`` entry: records the tree of the cell about to run."""

    def __init__(self, recorder: ExecutionRecorder) -> None:
        self.recorder = recorder

    def visit(self, node: ast.AST) -> ast.AST:
        recorder = self.recorder
        pending = recorder.pending
        if recorder.enabled and pending is not None and pending.symbols is None:
            try:
                with _HeldInterrupts():
                    recorder.on_tree(pending, node)
            except BaseException as exc:  # noqa: BLE001 - IPython would drop a failing transformer
                recorder.fail(exc)
        recorder.detach_transformer()
        return node


class ExecutionRecorder:
    """Records executions of one IPython shell while tracking is on."""

    def __init__(self, shell: Any, write: Callable[[str], None] | None = None) -> None:
        self.shell = shell
        self.enabled = False
        self.failure: str | None = None
        self.pending: _Pending | None = None
        self.state = TrackerState.start()
        self.notebook: NotebookSource | None = None
        self.notebook_file: NotebookFile | None = None
        self.log: HistoryLog | None = None
        self.log_error: str | None = None
        self.started_at_count = 0
        self.with_cell_id = 0
        self.without_cell_id = 0
        self.deleted_reported = 0
        self.live_symbols: dict[str, tuple[str, CellSymbols]] = {}
        #: cell key -> first line of code of its latest run (labels name cells by it)
        self.first_lines: dict[str, str] = {}
        self.imports: dict[str, str] = {}
        self.static_cache = StaticHazardCache()
        #: source digest -> (scope, symbols, static effects) of cells analysed in this session
        self._analysed: dict[str, tuple[int, CellSymbols, StaticEffects]] = {}
        #: bumped whenever the notebook functions or imports in scope may have changed
        self._scope = 0
        self._class_names: tuple[int, list[str]] = (-1, [])
        self.last_hazards: list[Hazard] = []
        #: (cell key, path, file's creator) of append-again warnings already printed
        self._appends_warned: set[tuple[str, str, tuple[str, int]]] = set()
        #: cells whose values may be out of date: their run drew a hazard, or a check found
        #: them stale (a cell reading what they made is checked after it runs)
        self._suspects: set[str] = set()
        #: the cell just run, when the check found it ran on out-of-date input
        self._stale_now: set[str] = set()
        #: seconds the tracker spent per execution (its own hooks), most recent last
        self.costs: deque[float] = deque(maxlen=100_000)
        self._order: NotebookOrder | None = None
        self._order_key: object = None
        self._depth = 0
        self._seq = 0
        self._write = write or (lambda text: print(text, file=sys.stderr))
        self._transformer = _TreeRecorder(self)
        #: runs a callback on the kernel's event loop once the reply is sent (no kernel: None)
        self._defer: Callable[[Callable[[], None]], None] | None = None
        #: the file audit of the session; its root is the notebook's folder (its ``.nb2pipe/``
        #: history folder is hidden, so left out), else the kernel's working folder
        self.audit = FileAudit(limit=_FILE_OPEN_LIMIT)
        self._hooked = False
        self._detached = False  #: out of ``ast_transformers`` until the cell ends
        self._unhook_pending = False
        self._atexit = False

    # -- wiring ------------------------------------------------------------------------------
    # The hooks are in place only while tracking is on, so a kernel with tracking off runs
    # exactly like a stock one (IPython re-locates every tree when any AST transformer is set).
    def _hook(self) -> None:
        self._unhook_pending = False
        if self._hooked:
            return
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        self.shell.ast_transformers.append(self._transformer)
        self._hooked = True

    def detach_transformer(self) -> None:
        """Leave ``ast_transformers`` for the rest of this cell, when last in it.

        IPython re-locates the whole tree (``ast.fix_missing_locations``) after its AST
        transformers whenever the list is not empty, which costs a trivial cell more than the
        tracker's own analysis; this transformer returns the tree unchanged, so the walk is
        needed only for other transformers. Removing the last entry while IPython iterates
        the list ends its loop there; :meth:`pre_run_cell` and :meth:`post_run_cell` put it
        back before any other cell's tree is made.
        """
        transformers = self.shell.ast_transformers
        if transformers and transformers[-1] is self._transformer:
            transformers.pop()
            self._detached = True

    def _attach_transformer(self) -> None:
        self._detached = False
        if self._hooked and self._transformer not in self.shell.ast_transformers:
            self.shell.ast_transformers.append(self._transformer)

    def _unhook(self) -> None:
        self._unhook_pending = False
        self._detached = False
        if not self._hooked:
            return
        for event, callback in (("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)):
            try:
                self.shell.events.unregister(event, callback)
            except ValueError:
                pass
        if self._transformer in self.shell.ast_transformers:
            self.shell.ast_transformers.remove(self._transformer)
        self._hooked = False

    def unregister(self) -> None:
        """Stop and remove every hook (``%unload_ext``)."""
        self.stop()

    # -- starting and stopping ---------------------------------------------------------------
    def start(self, notebook: Path | None = None) -> None:
        """Start a tracking session: names bound now count as made before tracking."""
        self.stop()
        self.failure = None
        self.notebook = self._find_notebook(notebook)
        self.notebook_file = NotebookFile(self.notebook.path) if self.notebook else None
        if self.notebook_file is not None:
            self.notebook_file.refresh()
        hidden = self._hidden_names()
        baseline = {n for n in self.shell.user_ns if is_user_name(n, hidden)}
        self.state = TrackerState.start(baseline)
        self.live_symbols, self.imports, self.first_lines = {}, {}, {}
        self._appends_warned = set()
        self._suspects, self._stale_now = set(), set()
        self.static_cache = StaticHazardCache()
        self._analysed, self._scope, self._class_names = {}, 0, (-1, [])
        self._order, self._order_key = None, None
        self.started_at_count = int(getattr(self.shell, "execution_count", 1))
        self.with_cell_id = self.without_cell_id = self.deleted_reported = 0
        self._seq = 0
        self.costs.clear()
        root = self.notebook.path.parent if self.notebook else Path.cwd()
        self.audit = FileAudit(
            str(root), thread=threading.get_ident(), limit=_FILE_OPEN_LIMIT, listings=True
        )
        environment_prefixes()  # found once per process (it opens files): now, not in a cell
        self._open_log(baseline)
        self._defer = _event_loop_callback(self.shell)
        self.pending = None
        self._depth = 0
        self._hook()
        self.enabled = True

    def stop(self, unhook: bool = True) -> None:
        self.enabled = False
        self.audit.stop()
        self.audit.take()
        self.pending = None
        if self.log is not None:
            self.log.close()
            self.log = None
        if unhook:
            self._unhook()
        else:
            # called from inside IPython's loop over the AST transformers: remove them later
            self._unhook_pending = self._hooked

    def fail(self, exc: BaseException) -> None:
        """Turn tracking off after an internal error and say so once."""
        was_on = self.enabled
        self.stop(unhook=False)
        self.failure = f"{type(exc).__name__}: {exc}"
        logger.error("%%track failed and turned itself off", exc_info=(type(exc), exc, exc.__traceback__))
        if was_on:
            try:
                self._write(
                    f"nb2pipe: %track hit an internal error ({self.failure}) and turned itself off; "
                    "your cell ran normally. `%track on` starts it again."
                )
            except Exception:  # noqa: BLE001
                pass

    def _find_notebook(self, given: Path | None) -> NotebookSource | None:
        if given is not None:
            return NotebookSource(Path(given).expanduser().resolve(), "--notebook")
        candidates = [
            (self.shell.user_ns.get("__session__"), "__session__"),
            (os.environ.get("JPY_SESSION_NAME"), "JPY_SESSION_NAME"),
        ]
        for value, origin in candidates:
            if not isinstance(value, str) or not value.endswith(".ipynb"):
                continue
            path = Path(value).expanduser()
            for candidate in (path, Path.cwd() / path.name):
                if candidate.is_file():
                    return NotebookSource(candidate.resolve(), origin)
        return None

    def _open_log(self, baseline: set[str]) -> None:
        self.log, self.log_error = None, None
        if self.notebook is None:
            return
        header = SessionHeader(
            notebook=str(self.notebook.path),
            started=time.time(),
            baseline=frozenset(baseline),
            execution_count=self.started_at_count,
            pid=os.getpid(),
        )
        store = SourceStore.beside(self.notebook.path)
        store.usage()  # the store's listing is read now, not in the first tracked cell
        log = HistoryLog(history_path(self.notebook.path), store)
        try:
            log.open(header)
        except OSError as exc:
            self.log_error = f"cannot write {log.path}: {exc.strerror}"
            return
        self.log = log
        if not self._atexit:
            atexit.register(self._close_log)  # the kernel's last lines reach the disk on shutdown
            self._atexit = True

    def _close_log(self) -> None:
        if self.log is not None:
            self.log.close()

    def _hidden_names(self) -> Any:
        return getattr(self.shell, "user_ns_hidden", {})

    # -- IPython events ----------------------------------------------------------------------
    def pre_run_cell(self, info: Any) -> None:
        if self._detached:
            self._attach_transformer()
        if not self.enabled:
            return
        try:
            self._depth += 1
            if self._depth > 1:
                return  # a cell run from inside a cell (``run_cell``): part of the outer one
            metadata = getattr(info, "cell_meta", None)
            if not isinstance(metadata, dict):
                metadata = self._request_metadata()
            if _only_track_magics(info.raw_cell or ""):
                return  # ``%track status``, ``%track report``: asking the tracker is no execution
            cell_id = getattr(info, "cell_id", None) or metadata.get("cellId")
            deleted = metadata.get("deletedCells") or ()
            clock = time.perf_counter()
            if self.log is not None:
                self.log.drain()  # the previous execution's line is on disk before this cell runs
            raw_cell = info.raw_cell or ""
            self.pending = _Pending(
                raw_cell=raw_cell,
                digest=self._digest(raw_cell),
                cell_id=str(cell_id) if cell_id else None,
                deleted_cells=tuple(str(d) for d in deleted if isinstance(d, str)),
                started=time.time(),
                clock=clock,
                as_typed=_as_typed(raw_cell, getattr(info, "transformed_cell", None)),
            )
            self.pending.cost = time.perf_counter() - clock
        except BaseException as exc:  # noqa: BLE001
            self.fail(exc)

    def _digest(self, raw_cell: str) -> str:
        """:func:`source_digest` of ``raw_cell``; a cell run as it was saved has its digest
        already (the notebook's order is built from the saved cells' digests)."""
        saved = self.notebook_file.saved_cell(raw_cell) if self.notebook_file is not None else None
        return saved.source_hash if saved is not None else source_digest(raw_cell)

    def _request_metadata(self) -> dict[str, Any]:
        """The execute request's metadata (cellId, deletedCells), from ipykernel's parent header."""
        kernel = getattr(self.shell, "kernel", None)
        try:
            parent = kernel.get_parent() if kernel is not None else None
        except Exception:  # noqa: BLE001
            parent = None
        metadata = parent.get("metadata") if isinstance(parent, dict) else None
        return metadata if isinstance(metadata, dict) else {}

    def on_tree(self, pending: _Pending, tree: ast.AST) -> None:
        """The cell is about to run: analyse IPython's tree and snapshot what it touches."""
        if not isinstance(tree, ast.Module):
            return
        entered = time.perf_counter()
        # another transformer before this one may have changed the tree
        typed = pending.raw_cell if pending.as_typed and len(self.shell.ast_transformers) == 1 else None
        symbols, effects = self._analyse(pending.digest, tree, typed)
        pending.symbols, pending.effects, pending.tree = symbols, effects, tree
        pending.snapshot = NamespaceSnapshot.take(
            self.shell.user_ns, symbols, effects, self._hidden_names(), self._classes()
        )
        if effects.changes_paths and self.audit.root is not None:
            pending.listing = list_folder(self.audit.root)
        audit = self.audit
        audit.take()  # opens since the last cell ended (none: it listens only while cells run)
        audit.thread = threading.get_ident()  # the thread running the cell, the only one counted
        audit.start()
        pending.cost += time.perf_counter() - entered

    def _analyse(
        self, digest: str, tree: ast.Module, typed: str | None
    ) -> tuple[CellSymbols, StaticEffects]:
        """The cell's symbols and static effects, from the cache when this source ran before.

        IPython makes the same tree of the same source, so the symbols depend on the digest
        alone; the effects also on the notebook functions and imports in scope, which
        :attr:`_scope` counts changes of. Re-running a cell costs no analysis, and neither
        does the symbol walk of a cell run as saved (``typed``: its source, when IPython left
        it as typed), which reading the notebook analysed already.
        """
        cached = self._analysed.get(digest)
        if cached is not None and cached[0] == self._scope:
            return cached[1], cached[2]
        symbols = cached[1] if cached is not None else None
        if symbols is None and typed is not None:
            symbols = analysed_symbols(typed)
        if symbols is None:
            symbols = gather_cell_symbols(tree)
        effects = static_effects(symbols, self.state.functions, self.imports)
        if len(self._analysed) >= _ANALYSED_LIMIT:
            self._analysed.clear()
        self._analysed[digest] = (self._scope, symbols, effects)
        return symbols, effects

    def _classes(self) -> list[str]:
        """The names the notebook's own classes were defined under (as of the current scope)."""
        if self._class_names[0] != self._scope:
            names = [name for name, info in self.state.functions.items() if info.is_class]
            self._class_names = (self._scope, names)
        return self._class_names[1]

    def post_run_cell(self, result: Any) -> None:
        if self._detached:
            self._attach_transformer()
        if not self.enabled:
            if self._unhook_pending:
                self._unhook()
            return
        try:
            self._depth = max(0, self._depth - 1)
            if self._depth > 0:
                return
            pending, self.pending = self.pending, None
            self.audit.stop()
            opened = self.audit.take()
            if pending is None:
                return  # tracking started during this cell, or an empty cell
            entered = time.perf_counter()
            with _HeldInterrupts():
                run = self._record(pending, result, opened)
                self._warn(run)
            self.costs.append(pending.cost + time.perf_counter() - entered)
        except BaseException as exc:  # noqa: BLE001
            self.fail(exc)

    # -- building the event ------------------------------------------------------------------
    def _cell_key(self, pending: _Pending, digest: str) -> str:
        if pending.cell_id:
            self.with_cell_id += 1
            return pending.cell_id
        self.without_cell_id += 1
        if self.notebook_file is not None:
            self.notebook_file.refresh()
            matched = self.notebook_file.cell_id_for_source(pending.raw_cell)
            if matched:
                return matched
        return f"src:{digest}"

    def _record(self, pending: _Pending, result: Any, opened: list[FileOpen]) -> CellRun:
        duration = time.perf_counter() - pending.clock
        error = None
        if result is not None:
            error = getattr(result, "error_before_exec", None) or getattr(result, "error_in_exec", None)
        interrupted = result is None or isinstance(error, KeyboardInterrupt)
        digest = pending.digest
        key = self._cell_key(pending, digest)
        self._seq += 1
        count = getattr(result, "execution_count", None) if result is not None else None
        core = ExecutionCore(
            seq=self._seq,
            cell_key=key,
            source_hash=digest,
            cell_id=pending.cell_id or (key if not key.startswith("src:") else None),
            execution_count=count,
            started=pending.started,
            duration=duration,
            error=type(error).__name__ if error is not None else ("KeyboardInterrupt" if result is None else None),
            interrupted=interrupted,
            deleted_cells=pending.deleted_cells,
            files=self._file_accesses(pending, opened),
        )
        if pending.symbols is not None and pending.effects is not None and pending.snapshot is not None:
            succeeded = error is None and not interrupted
            effects = pending.effects
            if not succeeded and effects.mutates:
                effects = self._effects_until_error(pending, effects, error)
            observed = pending.snapshot.observe(
                self.shell.user_ns, effects, succeeded, self._hidden_names(), self.state.names, count
            )
            base = observed.event(core, pending.effects, pending.symbols, succeeded)
        else:
            base = core.event()
        self.deleted_reported += len(pending.deleted_cells)
        run = self.state.apply(base)
        if base.functions or base.imports or base.reset:
            self._scope += 1  # the functions or imports in scope changed: effects may differ
        line = first_code_line(pending.raw_cell)
        if line is not None:
            self.first_lines[key] = line
        if pending.symbols is not None:
            self.live_symbols[key] = (digest, pending.symbols)
            self.imports.update(base.imports)
        if pending.deleted_cells:
            self._order = None  # JupyterLab deleted cells: rebuild the order
        if self.log is not None:
            if self.log.error is not None:
                self.log_error = f"cannot write {self.log.path}: {self.log.error.strerror}"
                self.log.close()
                self.log = None
            else:
                self.log.append(base, pending.raw_cell, self._defer)
        return run

    def _file_accesses(self, pending: _Pending, opened: list[FileOpen]) -> tuple[FileAccess, ...]:
        """The files the audit saw, plus the paths that appeared or went away in the folder."""
        accesses = file_accesses(opened)
        before = pending.listing
        if before is None or self.audit.root is None:
            return accesses
        after = list_folder(self.audit.root)
        if after is None:
            return accesses
        created, changed, removed = listing_changes(before, after, [a.path for a in accesses])
        extra = [FileAccess(p, CREATE, None if after[p][2] else after[p][:2]) for p in created]
        extra += [FileAccess(p, "write", after[p][:2]) for p in changed]
        extra += [FileAccess(p, REMOVE, None) for p in removed]
        return accesses + tuple(extra)

    def _effects_until_error(
        self, pending: _Pending, effects: StaticEffects, error: BaseException | None
    ) -> StaticEffects:
        """``effects`` with the in-place changes of statements that never ran left out.

        A cell that raised (or was interrupted) at line ``n`` ran its top-level statements that
        end before ``n`` and part of the one containing ``n``: only a compound one (a loop, a
        ``with``) may have changed something before failing; a plain statement that raised
        (``df.drop(columns=["gone"], inplace=True)``) did not. Changes the stamps see are
        added back by the snapshot whatever this says.
        """
        line = _error_line(error, self.shell.user_ns) if error is not None else None
        tree = pending.tree
        if line is None or tree is None or pending.symbols is None:
            return effects
        ran: list[ast.stmt] = []
        for statement in tree.body:
            end = getattr(statement, "end_lineno", None) or statement.lineno
            if end < line:
                ran.append(statement)
            elif statement.lineno <= line and hasattr(statement, "body"):
                ran.append(statement)  # a compound statement may have changed things before
                break
            else:
                break
        if len(ran) == len(tree.body):
            return effects
        partial = gather_cell_symbols(ast.Module(body=ran, type_ignores=[]))
        done = static_effects(partial, self.state.functions, self.imports).mutates
        return replace(effects, mutates=effects.mutates & done)

    # -- the order, the report and the inline warnings --------------------------------------
    def order(self, force: bool = False) -> NotebookOrder:
        """The current order; ``force`` re-reads the notebook file's time stamp now."""
        notebook = None
        saved_at = None
        if self.notebook_file is not None:
            notebook = self.notebook_file.refresh(force)
            saved_at = self.notebook_file.mtime if notebook is not None else None
        key = (id(notebook), saved_at, len(self.state.deleted_cells))
        if self._order is None or key != self._order_key:
            self._order = NotebookOrder(self.state, notebook, saved_at, first_lines=self.first_lines)
            self._order_key = key
        else:
            self._order.refresh_runs()
        return self._order

    def available_kinds(self) -> frozenset[HazardKind]:
        """The hazard kinds this session can judge (no notebook file, no cell ids: fewer)."""
        mode = (self.notebook is not None, not self.without_cell_id)
        kinds = _KINDS.get(mode)
        if kinds is None:
            kinds = _KINDS[mode] = available_kinds(*mode)
        return kinds

    def report(self) -> TrackReport:
        path = str(self.notebook.path) if self.notebook else None
        return build_report(
            self.order(force=True), path, self.live_symbols, self.static_cache, self.shell.user_ns,
            self.available_kinds(),
        )

    def _warn(self, run: CellRun) -> None:
        order = self.order()
        hazards = execution_hazards(run, order, self.shell.user_ns)
        hazards += self._stale_after(run, order)
        if not any(h.kind in _EXPLAINED_BY for h in hazards):
            hazards += self._ran_on_stale_input(run, order)
        if run.event.files and run.runs > 1:
            warned = self._appends_warned
            again = [(p, w) for p, w in appended_again(run, self.state) if (run.key, p, w) not in warned]
            if again:
                # once per cell and file content: not again on every further run
                self._appends_warned.update((run.key, p, w) for p, w in again)
                hazards.append(append_hazard(order, run.key, [p for p, _ in again]))
        if order.notebook is not None:
            static = self.static_cache.of_cell(order, self.live_symbols, run.key)
            hazards += [h for h in static if h.kind is not HazardKind.UNSEEDED_RANDOM]
        kinds = self.available_kinds()
        hazards = [h for h in merge_duplicates(hazards) if h.kind in kinds]
        self.last_hazards = hazards
        # a cell whose own run is off: what reads its values later is suspect; a clean run
        # (nothing found above, and not on out-of-date input) is not
        slot = order.by_key.get(run.key)
        own = [h for h in hazards if slot is not None and h.cell_id == slot.cell_id and h.cell_index == slot.cell_index]
        if any(h.kind in _SUSPECT_KINDS for h in own):
            self._suspects.add(run.key)
        elif run.key not in self._stale_now:
            self._suspects.discard(run.key)
        for hazard in hazards:
            self._write(format_warning(hazard))

    def _ran_on_stale_input(self, run: CellRun, order: NotebookOrder) -> list[Hazard]:
        """``stale`` under a cell that just ran on an input that is out of date itself (its
        maker ran out of order, was edited, or is stale): re-running it alone does not help.

        The fresh-run check runs only when the cell read something a suspect cell made (one
        whose own run drew a hazard, or that a check found stale), or that an edited cell made.
        """
        self._stale_now = set()
        makers = {w[0] for writers in run.input_writers.values() for w in writers if w[0] != run.key}
        suspects = self._suspects
        if run.key not in suspects and not (makers & suspects) and not any(order.is_edited(k) for k in makers):
            return []
        fresh = simulate_fresh_run(self.state, order)
        self._suspects |= set(fresh.stale)
        if run.key not in fresh.stale:
            return []
        self._stale_now = {run.key}
        plan = plan_rerun(self.state, order, fresh)
        return list(stale_hazards(fresh, order, plan.rerun, only={run.key}))

    def _changed_since(self, reader: str, name: str) -> bool:
        """Whether ``name``'s value differs from the one ``reader``'s latest run read."""
        token = self.state.names.get(name)
        return token is None or self.state.runs[reader].inputs.get(name) != token.sig

    def _stale_after(self, run: CellRun, order: NotebookOrder) -> list[Hazard]:
        """Cells whose outputs this execution made out of date (a fresh-run check, when needed)."""
        readers = self.state.readers or {}
        touched = run.event.defines | run.event.mutates | run.event.generators | {
            "file:" + a.path for a in run.event.files if a.op not in ("read", "list")
        }
        suspects = set()
        for name in touched:
            token = self.state.names.get(name)
            for reader in readers.get(name, ()):
                if reader == run.key or not order.is_below(reader, run.key):
                    continue
                if token is None or self.state.runs[reader].inputs.get(name) != token.sig:
                    suspects.add(reader)
        if not suspects:
            return []
        fresh = simulate_fresh_run(self.state, order)
        self._suspects |= set(fresh.stale)
        stale = [k for k in fresh.stale if k in suspects]
        if not stale:
            return []
        plan = plan_rerun(self.state, order, fresh)
        names = sorted({
            n for k in stale for n in touched
            if n in self.state.runs[k].inputs and self._changed_since(k, n)
        })
        shown = [order.short_path(n.removeprefix("file:")) for n in names]
        cells = ", ".join(order.label(k) for k in stale)
        if plan.restart:
            todo, short_todo = "restart the kernel and run all cells (%track report says why)", "restart"
        else:
            first = f"remove {', '.join(order.short_path(p) for p, _ in plan.remove)}, then " if plan.remove else ""
            todo = first + "re-run " + ", ".join(order.label(k) for k in plan.rerun)
            short_todo = "re-run " + cell_places(order, plan.rerun) if not plan.remove else "remove files first"
        more = f" +{len(shown) - 3} more" if len(shown) > 3 else ""
        return [
            make_hazard(
                HazardKind.STALE, order, stale[0], names,
                f"{cells} now out of date: {order.label(run.key)} changed {', '.join(shown)}",
                todo,
                f"this cell changed {', '.join(shown[:3])}{more}: {cell_places(order, stale, 3)} "
                f"now out of date; {short_todo}",
            )
        ]
