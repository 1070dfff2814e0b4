"""The ``%track`` history log: one JSON object a line, append-only, flushed per execution.

A log lives beside its notebook (``.nb2pipe/<stem>.history.jsonl``). Each kernel session starts
with a ``session`` line; then one ``execution`` line per tracked cell execution. Lines carry
names, hashes, timings and error names — never user data values — so the log can be read by the
server (``GET /nb2pipe/hazards``) without a kernel. A partial last line (a crash mid-write) is
skipped when reading.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping

from nb2pipe.analysis.symbols import FunctionSymbols
from nb2pipe.tracking.sources import SourceStore

__all__ = [
    "FileAccess",
    "HISTORY_DIR",
    "HistoryLog",
    "RandomUse",
    "RecordedSession",
    "ExecutionEvent",
    "SessionHeader",
    "history_path",
    "read_last_session",
    "read_sessions",
]

HISTORY_DIR = ".nb2pipe"
LOG_VERSION = 1


def history_path(notebook_path: str | os.PathLike[str]) -> Path:
    """Where the history log of ``notebook_path`` lives."""
    notebook = Path(notebook_path)
    return notebook.parent / HISTORY_DIR / f"{notebook.stem}.history.jsonl"


@dataclass(frozen=True)
class FileAccess:
    """A file a cell opened: ``op`` is ``read``, ``write`` (truncate/create), ``append`` or
    ``update``; or a path that appeared (``create``: a folder made, a file renamed to) or went
    away (``remove``) while the cell ran, seen by listing the folder around it."""

    path: str
    op: str
    #: ``(mtime_ns, size)`` right after the cell ran; ``None`` if the file was gone by then
    stamp: tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "op": self.op, "stamp": list(self.stamp) if self.stamp else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileAccess:
        stamp = data.get("stamp")
        return cls(str(data["path"]), str(data["op"]), (int(stamp[0]), int(stamp[1])) if stamp else None)


@dataclass(frozen=True)
class RandomUse:
    """A call that draws random numbers; ``family`` names the global seed that covers it.

    ``family`` is ``None`` for draws no global seed makes reproducible
    (``numpy.random.default_rng()`` without a seed).
    """

    callee: str
    qualified: str
    family: str | None
    line: int

    def to_json(self) -> dict[str, Any]:
        return {"callee": self.callee, "qualified": self.qualified, "family": self.family, "line": self.line}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RandomUse:
        return cls(
            str(data["callee"]), str(data.get("qualified", data["callee"])), data.get("family"),
            int(data.get("line", 0)),
        )


def _function_to_json(info: FunctionSymbols) -> dict[str, Any]:
    return {
        "name": info.name,
        "line": info.line,
        "free_globals": sorted(info.free_globals),
        "global_writes": sorted(info.global_writes),
        "global_mutations": sorted(info.global_mutations),
        "mutated_params": [list(pair) for pair in info.mutated_params],
        "is_class": info.is_class,
        "mutating_methods": sorted(info.mutating_methods),
        "params": list(info.params),
        "param_calls": [[callee, list(roots)] for callee, roots in info.param_calls],
        "receiver_calls": sorted([list(pair) for pair in info.receiver_calls]),
    }


def _function_from_json(data: Mapping[str, Any]) -> FunctionSymbols:
    return FunctionSymbols(
        name=str(data["name"]),
        line=int(data.get("line", 0)),
        free_globals=frozenset(data.get("free_globals", ())),
        global_writes=frozenset(data.get("global_writes", ())),
        global_mutations=frozenset(data.get("global_mutations", ())),
        mutated_params=tuple((int(p), str(n)) for p, n in data.get("mutated_params", ())),
        is_class=bool(data.get("is_class", False)),
        mutating_methods=frozenset(data.get("mutating_methods", ())),
        params=tuple(str(p) for p in data.get("params", ())),
        param_calls=tuple(
            (str(callee), tuple(r if r is None else str(r) for r in roots))
            for callee, roots in data.get("param_calls", ())
        ),
        receiver_calls=frozenset(
            (str(method), str(called)) for method, called in data.get("receiver_calls", ())
        ),
    )


@dataclass(frozen=True)
class ExecutionEvent:
    """One tracked cell execution: what it ran (by hash) and the names and files it touched.

    The name sets are the cell's effects as they happened: the static symbols with calls of
    notebook functions folded in, corrected by what the kernel showed (a ``+=`` on an int
    rebinds rather than mutates; a name bound by ``exec`` shows up in the namespace).
    """

    seq: int  #: 1-based execution number within the tracking session
    cell_key: str  #: the cell id, or ``src:<hash>`` when the frontend sent none
    source_hash: str
    cell_id: str | None = None
    execution_count: int | None = None
    started: float = 0.0  #: wall-clock start (seconds since the epoch)
    duration: float = 0.0  #: seconds
    error: str | None = None  #: exception class name
    interrupted: bool = False
    defines: frozenset[str] = frozenset()
    reads: frozenset[str] = frozenset()
    mutates: frozenset[str] = frozenset()
    deletes: frozenset[str] = frozenset()
    rebinds: frozenset[str] = frozenset()
    #: names rebound by design: ``for`` loop targets and ``with ... as`` targets
    loop_targets: frozenset[str] = frozenset()
    #: random generator objects whose state the cell advanced (``rng.normal()``): changes in
    #: place that matter for re-runs but are no ``mutation`` hazard
    generators: frozenset[str] = frozenset()
    #: name bound by this cell -> earlier name whose object it shares (``b = a``, ``row = rows[0]``)
    aliases: Mapping[str, str] = field(default_factory=dict)
    files: tuple[FileAccess, ...] = ()
    seeds: tuple[str, ...] = ()  #: seed families set (``random``, ``numpy``, ``torch``)
    draws: tuple[RandomUse, ...] = ()
    functions: tuple[FunctionSymbols, ...] = ()
    #: names bound by imports -> what they refer to (``np`` -> ``numpy``)
    imports: Mapping[str, str] = field(default_factory=dict)
    #: cell ids JupyterLab reported deleted since the previous execution
    deleted_cells: tuple[str, ...] = ()
    reset: bool = False  #: ``%reset`` cleared the namespace
    opaque: bool = False  #: may bind names no tree shows (``from m import *``, ``%run``)
    #: creates folders in a way that fails when they exist (``os.makedirs(p)``)
    exclusive: bool = False
    #: name bound -> fingerprint of its value, for values that have one (numbers, short
    #: strings, tuples of them; see :mod:`nb2pipe.tracking.values`): a hash, never the value
    values: Mapping[str, str] = field(default_factory=dict)
    #: names whose value the cell's own code fixes (a literal, an import), whatever it read
    constants: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        """One log line: the core fields always, the others only when they say something."""
        record: dict[str, Any] = {
            "event": "execution",
            "seq": self.seq,
            "cell_key": self.cell_key,
            "cell_id": self.cell_id,
            "execution_count": self.execution_count,
            "source_hash": self.source_hash,
            "started": round(self.started, 6),
            "duration": round(self.duration, 6),
            "error": self.error,
            "defines": sorted(self.defines),
            "reads": sorted(self.reads),
            "mutates": sorted(self.mutates),
        }
        # the others only when set (most are empty): no sorting or copying of empty fields
        if self.interrupted:
            record["interrupted"] = True
        for key in ("deletes", "rebinds", "loop_targets", "generators"):
            names = getattr(self, key)
            if names:
                record[key] = sorted(names)
        if self.aliases:
            record["aliases"] = dict(sorted(self.aliases.items()))
        if self.files:
            record["files"] = [access.to_json() for access in self.files]
        if self.seeds:
            record["seeds"] = list(self.seeds)
        if self.draws:
            record["draws"] = [draw.to_json() for draw in self.draws]
        if self.functions:
            record["functions"] = [_function_to_json(info) for info in self.functions]
        if self.imports:
            record["imports"] = dict(sorted(self.imports.items()))
        if self.deleted_cells:
            record["deleted_cells"] = list(self.deleted_cells)
        for key in ("reset", "opaque", "exclusive"):
            if getattr(self, key):
                record[key] = True
        if self.values:
            record["values"] = dict(sorted(self.values.items()))
        if self.constants:
            record["constants"] = sorted(self.constants)
        return record

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExecutionEvent:
        return cls(
            seq=int(data["seq"]),
            cell_key=str(data["cell_key"]),
            source_hash=str(data["source_hash"]),
            cell_id=data.get("cell_id"),
            execution_count=data.get("execution_count"),
            started=float(data.get("started", 0.0)),
            duration=float(data.get("duration", 0.0)),
            error=data.get("error"),
            interrupted=bool(data.get("interrupted", False)),
            defines=frozenset(data.get("defines", ())),
            reads=frozenset(data.get("reads", ())),
            mutates=frozenset(data.get("mutates", ())),
            deletes=frozenset(data.get("deletes", ())),
            rebinds=frozenset(data.get("rebinds", ())),
            loop_targets=frozenset(data.get("loop_targets", ())),
            generators=frozenset(data.get("generators", ())),
            aliases=dict(data.get("aliases", {})),
            files=tuple(FileAccess.from_json(item) for item in data.get("files", ())),
            seeds=tuple(data.get("seeds", ())),
            draws=tuple(RandomUse.from_json(item) for item in data.get("draws", ())),
            functions=tuple(_function_from_json(item) for item in data.get("functions", ())),
            imports=dict(data.get("imports", {})),
            deleted_cells=tuple(data.get("deleted_cells", ())),
            reset=bool(data.get("reset", False)),
            opaque=bool(data.get("opaque", False)),
            exclusive=bool(data.get("exclusive", False)),
            values={str(k): str(v) for k, v in dict(data.get("values", {})).items()},
            constants=frozenset(data.get("constants", ())),
        )


@dataclass(frozen=True)
class SessionHeader:
    """The first line of a tracking session: which notebook, and the names already bound."""

    notebook: str | None
    started: float
    #: user names bound before ``%track on`` (their history is unknown)
    baseline: frozenset[str] = frozenset()
    #: the kernel's execution count when tracking started
    execution_count: int = 0
    pid: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "session",
            "version": LOG_VERSION,
            "notebook": self.notebook,
            "started": round(self.started, 6),
            "baseline": sorted(self.baseline),
            "execution_count": self.execution_count,
            "pid": self.pid,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionHeader:
        return cls(
            notebook=data.get("notebook"),
            started=float(data.get("started", 0.0)),
            baseline=frozenset(data.get("baseline", ())),
            execution_count=int(data.get("execution_count", 0)),
            pid=int(data.get("pid", 0)),
        )


@dataclass(frozen=True)
class _SourceWrite:
    """A source for the code store, waiting to be written with the next lines."""

    digest: str
    source: str


class HistoryLog:
    """An open history log: each event passed to :meth:`append` becomes one line, flushed.

    Lines (and the code store's new sources) are written on the thread that appends them, at
    a moment :meth:`append`'s ``defer`` picks: the recorder passes the kernel's event loop, so
    the writing happens right after the cell's reply is sent, never on the way to it, and
    :meth:`drain` before the next cell runs writes whatever is still pending, so every
    execution's line is on disk (flushed to the OS) before any later code can crash the
    kernel. Without ``defer`` (no kernel: a terminal IPython) lines are written at once.

    No writer thread: a second thread wanting the GIL while the kernel sends a reply costs
    that reply a scheduler slice on a busy machine (the bench measured it).
    """

    def __init__(self, path: Path, store: SourceStore | None = None) -> None:
        self.path = path
        #: the code store the sources of new executions go to (see :meth:`append`)
        self.store = store
        self._file: IO[str] | None = None
        self._pending: list[ExecutionEvent | _SourceWrite] = []
        self._scheduled = False
        self.error: OSError | None = None  #: the write that failed, if one did
        self.store_error: OSError | None = None  #: the code store's write that failed

    def open(self, header: SessionHeader) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")
        self._write(header)

    def append(
        self,
        event: ExecutionEvent,
        source: str | None = None,
        defer: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        """Queue ``event``'s line and, when the store has not seen it, the ``source`` it ran
        (written first: a line on disk always has its code in the store).

        ``defer(callback)`` runs ``callback`` later on this thread (the kernel's event loop);
        without it, or when it fails, the line is written now.
        """
        if self._file is None:
            return
        store = self.store
        if source is not None and store is not None and store.add(event.source_hash, source):
            self._pending.append(_SourceWrite(event.source_hash, source))
        self._pending.append(event)
        if defer is None:
            self.drain()
        elif not self._scheduled:
            try:
                defer(self.drain)
            except Exception:  # noqa: BLE001 - a loop that is closing: write now
                self.drain()
                return
            self._scheduled = True

    def drain(self) -> None:
        """Write every pending line (and source), flushed."""
        self._scheduled = False
        pending, self._pending = self._pending, []
        if not pending:
            return
        lines = []
        for item in pending:
            if isinstance(item, _SourceWrite):
                if self.store is not None and self.store_error is None:
                    try:
                        self.store.write(item.digest, item.source)
                    except OSError as exc:
                        self.store_error = exc  # the log goes on: replaying this session may not
            else:
                lines.append(json.dumps(item.to_json(), separators=(",", ":")))
        if self._file is None or self.error is not None or not lines:
            return
        try:
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()
        except OSError as exc:
            self.error = exc

    def _write(self, record: ExecutionEvent | SessionHeader) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(record.to_json(), separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Write the lines still pending and a ``stop`` line (tracking ended), then close."""
        if self._file is not None:
            self.drain()
            try:
                if self.error is None:
                    self._file.write(json.dumps({"event": "stop", "at": round(time.time(), 6)}) + "\n")
                self._file.close()
            except OSError as exc:
                self.error = exc
            self._file = None


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if isinstance(record, dict):
                yield record


@dataclass(frozen=True)
class RecordedSession:
    """One tracking session as its log holds it."""

    header: SessionHeader
    events: tuple[ExecutionEvent, ...]
    #: tracking was turned off (or the kernel shut down) at the end of it
    stopped: bool = False

    def kernel_alive(self) -> bool:
        """Whether the kernel process that wrote the session still runs (on this machine)."""
        if self.header.pid <= 0:
            return False
        try:
            os.kill(self.header.pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True  # exists, owned by someone else
        return True


def read_sessions(path: Path) -> list[RecordedSession]:
    """Every session in the log at ``path``, oldest first (none: no log)."""
    if not path.is_file():
        return []
    sessions: list[RecordedSession] = []
    header: SessionHeader | None = None
    events: list[ExecutionEvent] = []
    stopped = False
    for record in _records(path):
        kind = record.get("event")
        try:
            if kind == "session":
                if header is not None:
                    sessions.append(RecordedSession(header, tuple(events), stopped))
                header, events, stopped = SessionHeader.from_json(record), [], False
            elif kind == "execution" and header is not None:
                events.append(ExecutionEvent.from_json(record))
            elif kind == "stop":
                stopped = True
        except (KeyError, TypeError, ValueError):
            continue
    if header is not None:
        sessions.append(RecordedSession(header, tuple(events), stopped))
    return sessions


def read_last_session(path: Path) -> RecordedSession | None:
    """The last session in the log at ``path`` (``None``: no log or no session in it)."""
    sessions = read_sessions(path)
    return sessions[-1] if sessions else None
