"""What a fresh kernel run shows beyond its outputs: the files it opens, the metrics it sets.

A probe is installed by one ``IPKernelApp.exec_lines`` entry, so no cell is added to the
notebook and no name lands in the user's namespace. It runs the source of
:mod:`nb2pipe_runtime.audit` (the file audit of exported scripts and ``%track``) inside the
kernel, as a private module: the kernel's environment need not have nb2pipe installed, and
all three agree on which files a run reads and writes. Its :class:`FileAudit`, rooted at the
notebook's folder, keeps the first read and first write of each of the user's files with the
cell that did it. The source of :mod:`nb2pipe_runtime.sources` runs beside it, so data the
notebook reads from URLs and DVC registries is logged with its version, as exported scripts
record it. After each cell, a ``post_run_cell`` callback notes the numeric values of the
names ``metrics`` cells assign, for comparison with the exported script's run record. Every
entry is one line appended to a log file, flushed at once, so a kernel that dies loses nothing.

The log is tab-separated text. Its first line, written by the probe into an empty log, says
which format the lines have (``nb2pipe-probe-log<TAB>1``); :func:`read_probe_log` refuses a
log of another version, or one without that line, instead of misreading it.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import nb2pipe_runtime.audit
import nb2pipe_runtime.sources
from nb2pipe_runtime.record import DataSource, DvcSource

from nb2pipe.errors import Nb2PipeError

__all__ = [
    "PROBE_LOG_VERSION",
    "FileAccess",
    "MetricValue",
    "ProbeLog",
    "ProbeLogError",
    "SourceAccess",
    "data_files_read",
    "probe_exec_line",
    "read_probe_log",
    "sha256_of",
]

#: The name the kernel's copy of the audit module has in its ``sys.modules`` (private: the
#: user's own ``import nb2pipe_runtime``, if any, gets the installed package, untouched).
_AUDIT_MODULE = "_nb2pipe_verify_audit"
_SOURCES_MODULE = "_nb2pipe_verify_sources"
#: The format of the probe's log lines; the first line of a log names it (see the docstring).
PROBE_LOG_VERSION = 1
_HEADER = "nb2pipe-probe-log"
_HEADER_LINE = f"{_HEADER}\t{PROBE_LOG_VERSION}"


class ProbeLogError(Nb2PipeError):
    """A probe log this nb2pipe cannot read: another version, or no version line."""

# Runs inside the kernel. It must never raise into user code; the audit hook's cost is the
# runtime's (one list test and one string test decide most events).
_PROBE_SOURCE = """
def _install(log_path, root, metric_names, audit_source, module_name, sources_source,
             sources_name, header):
    import math, numbers, sys, types
    audit_module = types.ModuleType(module_name)
    sys.modules[module_name] = audit_module  # what the module defines may look itself up there
    exec(compile(audit_source, "<nb2pipe_runtime/audit.py>", "exec"), audit_module.__dict__)
    sources_module = types.ModuleType(sources_name)
    sys.modules[sources_name] = sources_module
    exec(compile(sources_source, "<nb2pipe_runtime/sources.py>", "exec"),
         sources_module.__dict__)
    log = open(log_path, "a", buffering=1, encoding="utf-8")
    if log.tell() == 0:  # a kernel started again appends to the log it began
        log.write(header + "\\n")
    cells = [0]  # ordinal of the running cell: 1 for the first cell the notebook runs
    metrics = {}
    logged = set()

    def count_cell(info=None):
        if getattr(info, "store_history", True):
            cells[0] += 1

    def note_metrics(result=None):
        try:
            for name in metric_names:
                value = shell.user_ns.get(name)
                if isinstance(value, bool) or not isinstance(value, numbers.Real):
                    continue
                value = float(value)
                if math.isfinite(value) and metrics.get(name) != value:
                    metrics[name] = value
                    log.write("m\\t" + str(cells[0]) + "\\t" + name + "\\t" + repr(value) + "\\n")
        except Exception:
            pass

    def on_open(entry):
        try:
            key = (entry.path, entry.writes)  # the first read and the first write of a file
            if key not in logged:
                logged.add(key)
                kind = "w" if entry.writes else "r"
                log.write(kind + "\\t" + str(cells[0]) + "\\t" + entry.path + "\\n")
        except Exception:
            pass

    def on_source(read):
        try:
            fields = (read.url, read.scheme, read.sha256, read.version_id, read.etag,
                      read.last_modified, read.dvc_path, read.dvc_commit, read.dvc_md5)
            text = "\\t".join("" if f is None else " ".join(str(f).split()) for f in fields)
            log.write("u\\t" + str(cells[0]) + "\\t" + text + "\\n")
        except Exception:
            pass

    try:
        from IPython import get_ipython
        shell = get_ipython()
        shell.events.register("pre_run_cell", count_cell)
        if metric_names:
            shell.events.register("post_run_cell", note_metrics)
    except Exception:
        pass
    audit_module.FileAudit(root, on_open=on_open).start()
    sources_module.SourceAudit(on_read=on_source).start()
"""


@dataclass(frozen=True)
class MetricValue:
    """A number a metrics name held after a cell ran (logged when it changed)."""

    name: str
    value: float
    ordinal: int  #: the cell after which it held this value (see :attr:`FileAccess.ordinal`)


@dataclass(frozen=True)
class SourceAccess:
    """Data the run read from a URL or a DVC registry, as last logged (its hash is logged when
    the read completes)."""

    source: DataSource
    ordinal: int  #: the cell that read it (see :attr:`FileAccess.ordinal`)


@dataclass(frozen=True)
class ProbeLog:
    """Everything the probe logged during one run."""

    accesses: tuple[FileAccess, ...] = ()
    metrics: tuple[MetricValue, ...] = ()
    #: one per URL: the first cell that read it, with what the last read of it showed
    sources: tuple[SourceAccess, ...] = ()

    def metric_at(self, name: str, ordinal: int) -> float | None:
        """The value of ``name`` right after the ``ordinal``-th cell ran."""
        value = None
        for entry in self.metrics:
            if entry.name == name and entry.ordinal <= ordinal:
                value = entry.value
        return value


@dataclass(frozen=True)
class FileAccess:
    """A file opened during the run: the first read or write of it."""

    path: Path
    write: bool
    #: which cell opened it: 1 for the first cell the run executed, 2 for the next, ...;
    #: 0 for kernel start-up (IPython 9 bumps ``execution_count`` before a cell runs, so
    #: the hook counts ``pre_run_cell`` events itself)
    ordinal: int


def probe_exec_line(log_path: Path, notebook_dir: Path, metric_names: Iterable[str] = ()) -> str:
    """The one line of Python, for ``--IPKernelApp.exec_lines``, that installs the probe."""
    audit_source = inspect.getsource(nb2pipe_runtime.audit)
    sources_source = inspect.getsource(nb2pipe_runtime.sources)
    call = (
        f"{_PROBE_SOURCE}\n_install({str(log_path)!r}, {str(notebook_dir.resolve())!r}, "
        f"{tuple(sorted(metric_names))!r}, {audit_source!r}, {_AUDIT_MODULE!r}, "
        f"{sources_source!r}, {_SOURCES_MODULE!r}, {_HEADER_LINE!r})\n"
    )
    encoded = base64.b64encode(call.encode()).decode()
    # the namespace is a fresh dict: nothing is left in the user's globals
    return f"exec(__import__('base64').b64decode('{encoded}').decode(), {{}})"


def read_probe_log(log_path: Path) -> ProbeLog:
    """The file accesses and metric values the probe logged, in the order they happened.

    A missing or empty log (the kernel never started the probe) is an empty :class:`ProbeLog`.

    Raises
    ------
    ProbeLogError
        The log is of another version than :data:`PROBE_LOG_VERSION`, or has no version line.
    """
    try:
        text = log_path.read_text(encoding="utf-8")
    except OSError:
        return ProbeLog()
    if not text:
        return ProbeLog()
    version_line, _, text = text.partition("\n")
    header, _, version = version_line.partition("\t")
    if header != _HEADER:
        raise ProbeLogError(
            f"{log_path}: not a probe log of nb2pipe verify (its first line names no version)"
        )
    if version != str(PROBE_LOG_VERSION):
        raise ProbeLogError(
            f"{log_path}: probe log version {version or '(none)'}; this nb2pipe reads version "
            f"{PROBE_LOG_VERSION}"
        )
    accesses = []
    metrics = []
    sources: dict[str, SourceAccess] = {}
    for line in text.splitlines():
        kind, _, rest = line.partition("\t")
        count, _, rest = rest.partition("\t")
        if not count.isdigit() or not rest:
            continue
        if kind in ("r", "w"):
            accesses.append(FileAccess(Path(rest), kind == "w", int(count)))
        elif kind == "u":
            source = _logged_source(rest)
            if source is not None:
                first = sources.get(source.url)
                sources[source.url] = SourceAccess(
                    source, first.ordinal if first is not None else int(count)
                )
        elif kind == "m":
            name, _, value = rest.partition("\t")
            try:
                metrics.append(MetricValue(name, float(value), int(count)))
            except ValueError:
                continue
    return ProbeLog(tuple(accesses), tuple(metrics), tuple(sources.values()))


def _logged_source(text: str) -> DataSource | None:
    fields = [field or None for field in text.split("\t")]
    if len(fields) != 9 or not text.split("\t")[0]:
        return None
    url = text.split("\t")[0]
    _url, scheme, sha256, version_id, etag, modified, dvc_path, commit, md5 = fields
    dvc = DvcSource("", dvc_path, commit=commit, md5=md5) if dvc_path is not None else None
    return DataSource(
        url=url, scheme=scheme or "", sha256=sha256, version_id=version_id, etag=etag,
        last_modified=modified, dvc=dvc,
    )


def data_files_read(accesses: Iterable[FileAccess]) -> dict[Path, int]:
    """Files read and never written during the run (inputs, not outputs): path -> ordinal of
    the first cell that read it."""
    accesses = list(accesses)
    written = {access.path for access in accesses if access.write}
    out: dict[Path, int] = {}
    for access in accesses:
        if access.write or access.path in written or access.path in out:
            continue
        if access.path.is_file():
            out[access.path] = access.ordinal
    return out


def sha256_of(path: Path) -> str | None:
    """SHA-256 of a file's content, or None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()
