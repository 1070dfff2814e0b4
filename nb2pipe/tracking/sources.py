"""``%track``'s code store: every source a tracked kernel ran, once, addressed by its hash.

The history log names each execution's code by :func:`nb2pipe.model.source_digest`; the
store keeps the text, so a session can be replayed (``nb2pipe recover``) and a cell run after
the last save can be quoted. It lives beside the history logs, one file a source::

    .nb2pipe/sources/<digest>.py

Code only: never outputs, values or data. Files are written atomically (a temporary file,
then a rename), so a reader never sees half a source, and a source is never written twice.
The store is shared by the notebooks of one folder (a cell copied between them is kept once)
and capped (:data:`DEFAULT_CAP_BYTES`, ``NB2PIPE_TRACK_STORE_MB``): past the cap the oldest
sources go first, but never one that the newest session of a notebook in the folder ran.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from nb2pipe.files import write_atomically

__all__ = [
    "DEFAULT_CAP_BYTES",
    "SOURCES_DIR",
    "SourceStore",
    "StoreUsage",
    "store_cap",
]

#: The store's folder inside a notebook folder's ``.nb2pipe/``.
SOURCES_DIR = "sources"
#: Bytes of code kept per folder unless ``NB2PIPE_TRACK_STORE_MB`` says otherwise: a
#: notebook's cells run in thousands of versions fit in a few megabytes.
DEFAULT_CAP_BYTES = 20 * 1024 * 1024
_SUFFIX = ".py"
_HEX = frozenset("0123456789abcdef")


def store_cap() -> int:
    """The store's cap in bytes: ``NB2PIPE_TRACK_STORE_MB`` (a number of megabytes), else
    the default; 0 or less keeps every source."""
    value = os.environ.get("NB2PIPE_TRACK_STORE_MB", "").strip()
    if not value:
        return DEFAULT_CAP_BYTES
    try:
        return int(float(value) * 1024 * 1024)
    except ValueError:
        return DEFAULT_CAP_BYTES


@dataclass(frozen=True)
class StoreUsage:
    """How much the store keeps."""

    sources: int
    bytes: int
    cap: int

    def describe(self) -> str:
        cap = "no cap" if self.cap <= 0 else f"cap {_size(self.cap)}"
        return f"{self.sources} source{'s' if self.sources != 1 else ''}, {_size(self.bytes)} ({cap})"


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KB"
    return f"{count / 1024 / 1024:.1f} MB"


class SourceStore:
    """The code store of one folder's ``.nb2pipe/`` (see the module's docstring).

    :meth:`add` is cheap enough for the tracker's hot path: it looks the digest up in memory
    and only a source not seen before is written (by the history log, after the reply, through
    :meth:`write`).
    """

    def __init__(self, history_dir: Path, cap: int | None = None) -> None:
        self.folder = history_dir / SOURCES_DIR
        self.cap = store_cap() if cap is None else cap
        self._known: set[str] | None = None
        self._bytes = 0

    @classmethod
    def beside(cls, notebook: Path, cap: int | None = None) -> SourceStore:
        """The store beside ``notebook`` (in its folder's ``.nb2pipe/``)."""
        from nb2pipe.tracking.log import HISTORY_DIR

        return cls(notebook.parent / HISTORY_DIR, cap)

    # -- reading -----------------------------------------------------------------------------
    def path_of(self, digest: str) -> Path:
        return self.folder / f"{digest}{_SUFFIX}"

    def read(self, digest: str) -> str | None:
        """The source whose digest is ``digest``, if the store holds it."""
        if not digest or not set(digest) <= _HEX:
            return None
        try:
            return self.path_of(digest).read_text(encoding="utf-8", errors="surrogatepass")
        except (OSError, UnicodeDecodeError):
            return None

    def __contains__(self, digest: str) -> bool:
        return digest in self._load()

    def usage(self) -> StoreUsage:
        known = self._load()
        return StoreUsage(len(known), self._bytes, self.cap)

    def _load(self) -> set[str]:
        if self._known is None:
            known: set[str] = set()
            total = 0
            try:
                entries = list(os.scandir(self.folder))
            except OSError:
                entries = []
            for entry in entries:
                name = entry.name
                if name.endswith(_SUFFIX) and not name.startswith("."):
                    try:
                        total += entry.stat().st_size
                    except OSError:
                        continue
                    known.add(name[: -len(_SUFFIX)])
            self._known, self._bytes = known, total
        return self._known

    # -- writing -----------------------------------------------------------------------------
    def add(self, digest: str, source: str) -> bool:
        """Note ``source`` as stored; ``True`` when it is new and must be written."""
        known = self._load()
        if digest in known:
            return False
        known.add(digest)
        return True

    def write(self, digest: str, source: str) -> None:
        """Write one source (atomically). Raises ``OSError`` when the disk refuses."""
        data = source.encode("utf-8", "surrogatepass")
        target = self.path_of(digest)
        if os.path.exists(target):
            return  # another kernel of the folder wrote it since the store was listed
        write_atomically(target, data)  # (it makes the folder the first time)
        self._bytes += len(data)
        if 0 < self.cap < self._bytes:
            self.prune()

    def prune(self, protected: set[str] | None = None) -> int:
        """Remove the oldest sources until the store is within its cap; returns how many.

        ``protected`` (default: every source the newest session of each notebook in the folder
        ran, read from the history logs) is never removed, even past the cap.
        """
        if self.cap <= 0:
            return 0
        if protected is None:
            protected = newest_session_sources(self.folder.parent)
        entries = []
        total = 0
        try:
            scanned = list(os.scandir(self.folder))
        except OSError:
            return 0
        for entry in scanned:
            if not entry.name.endswith(_SUFFIX) or entry.name.startswith("."):
                continue
            try:
                stat = entry.stat()
            except OSError:
                continue
            total += stat.st_size
            entries.append((stat.st_mtime_ns, entry.name, stat.st_size))
        removed = 0
        for _, name, size in sorted(entries):
            if total <= self.cap:
                break
            digest = name[: -len(_SUFFIX)]
            if digest in protected:
                continue
            try:
                os.unlink(self.folder / name)
            except OSError:
                continue
            total -= size
            removed += 1
            if self._known is not None:
                self._known.discard(digest)
        self._bytes = total
        return removed


def newest_session_sources(history_dir: Path) -> set[str]:
    """The digests of every source the newest session of each notebook's log ran."""
    protected: set[str] = set()
    try:
        logs = sorted(history_dir.glob("*.history.jsonl"))
    except OSError:
        return protected
    for log in logs:
        newest: set[str] = set()
        try:
            with open(log, encoding="utf-8") as lines:
                for line in lines:
                    if '"event":"session"' in line or '"event": "session"' in line:
                        newest = set()
                        continue
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(record, dict) and record.get("event") == "execution":
                        digest = record.get("source_hash")
                        if isinstance(digest, str):
                            newest.add(digest)
        except OSError:
            continue
        protected |= newest
    return protected
