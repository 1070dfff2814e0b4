"""Which files code running in this process opens: the one file audit of nb2pipe.

Exported scripts use it for their run records (the data files a run read, the files it wrote),
``nb2pipe verify`` runs this module's source inside the fresh kernel to see what a notebook
reads, and ``%track`` uses it for its file hazards. So all three agree on what a file access is
and on which files are the environment's rather than the user's data.

Python's audit hooks (``sys.addaudithook``) see every ``open`` event: ``open()``,
``io.open_code``, ``os.open``, ``pathlib`` and the libraries built on them (``pandas.read_csv``
...). A hook cannot be removed, so this module installs one per process and it returns at once
while no audit listens. Readers that open files in C (pyarrow) are not seen.

The module is self-contained (standard library only, no other module of the package): verify
executes its source in kernels that may not have the package installed.
"""

from __future__ import annotations

import os
import site
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = [
    "APPEND", "LIST", "READ", "UPDATE", "WRITE", "FileAudit", "FileOpen", "is_environment_file",
]

READ = "read"
LIST = "list"  #: a folder's entries listed (``os.listdir``, ``os.scandir``, ``os.walk``, globs)
WRITE = "write"  #: created or truncated
APPEND = "append"
UPDATE = "update"  #: opened for reading and writing without truncating

#: Home folders of tools, not of the user's data.
_HOME_TOOL_FOLDERS = (".ipython", ".cache", ".config", ".matplotlib", ".local", ".jupyter")
_PSEUDO_FOLDERS = ("/dev", "/proc", "/sys", "/usr", "/lib", "/etc", "/tmp", "/var/tmp")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


class FileOpen(NamedTuple):
    """One file opened: its absolute path and how (:data:`READ`, :data:`WRITE`, ...)."""

    path: str
    mode: str

    @property
    def writes(self) -> bool:
        return self.mode not in (READ, LIST)


def open_mode(mode: Any, flags: Any) -> str | None:
    """How an ``open`` audit event opens its file, from ``open()``'s mode or ``os.open`` flags."""
    if isinstance(mode, str):
        if "a" in mode:
            return APPEND
        if "w" in mode or "x" in mode:
            return WRITE
        return UPDATE if "+" in mode else READ
    if isinstance(flags, int):
        if not flags & _WRITE_FLAGS:
            return READ
        if flags & os.O_APPEND:
            return APPEND
        created = flags & os.O_CREAT and flags & (os.O_WRONLY | os.O_EXCL)
        if flags & os.O_TRUNC or created:
            return WRITE
        return UPDATE if flags & os.O_RDWR else WRITE
    return None


def _environment_prefixes() -> tuple[str, ...]:
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, tempfile.gettempdir()}
    try:
        prefixes.update(site.getsitepackages())
    except AttributeError:  # virtualenvs of old Pythons have no getsitepackages
        pass
    prefixes.add(site.getusersitepackages() or "")
    prefixes.update(path for path in sys.path if "site-packages" in path)
    prefixes.update(_PSEUDO_FOLDERS)
    home = os.path.expanduser("~")
    prefixes.update(os.path.join(home, folder) for folder in _HOME_TOOL_FOLDERS)
    return tuple(sorted(os.path.join(os.path.abspath(p), "") for p in prefixes if p))


_PREFIXES: list[tuple[str, ...]] = []


def environment_prefixes() -> tuple[str, ...]:
    """The folders of the environment's files (computed once: finding the temp folder opens
    files itself, so the audit computes this before it listens)."""
    if not _PREFIXES:
        _PREFIXES.append(_environment_prefixes())
    return _PREFIXES[0]


#: root folder (with a trailing separator) -> the environment's folders strictly below it
_NESTED: dict[str, tuple[str, ...]] = {}


def _environment_prefixes_below(inside: str) -> tuple[str, ...]:
    nested = _NESTED.get(inside)
    if nested is None:
        nested = tuple(p for p in environment_prefixes() if p.startswith(inside) and p != inside)
        if len(_NESTED) < 64:  # roots are few (one a run, one a notebook): a bound, not an LRU
            _NESTED[inside] = nested
    return nested


def is_environment_file(path: str, root: str | None = None) -> bool:
    """Whether ``path`` (absolute) belongs to the environment rather than to the user's data.

    The Python installation, site-packages, temp folders, pseudo file systems, tools' home
    folders, hidden folders, ``__pycache__`` and compiled files are the environment's. Files
    under ``root`` (the project: a run's working folder, the notebook's folder) are the
    user's wherever ``root`` lies (tests and CI often work under a temp folder), unless they
    sit in a hidden folder or ``__pycache__`` below it, or in one of the environment's folders
    that lies below ``root`` (a ``venv/`` inside the project, a conda install in the home
    folder that holds the notebook; all of them when ``root`` is ``/``).
    """
    if path.endswith((".pyc", ".pyo")):
        return True
    if root is not None:
        inside = os.path.join(root, "")
        if path.startswith(inside):
            folders = path[len(inside):].split(os.sep)[:-1]
            if any(part.startswith(".") or part == "__pycache__" for part in folders):
                return True
            return path.startswith(_environment_prefixes_below(inside))
    if path.startswith(environment_prefixes()):
        return True
    return os.sep + "." in path or os.sep + "__pycache__" + os.sep in path


class FileAudit:
    """Collects the files opened while it is started, outside the environment's files.

    ``root`` is the project folder (see :func:`is_environment_file`). ``thread``: only opens
    made by that thread count (``%track`` listens to the kernel's executing thread only);
    ``None`` counts every thread. ``on_open`` is called with each new :class:`FileOpen` as it
    happens (verify's kernel probe logs each one at once, so a dying kernel loses nothing);
    it must not raise. At most ``limit`` opens are kept.
    """

    def __init__(
        self,
        root: str | None = None,
        *,
        thread: int | None = None,
        limit: int = 100_000,
        on_open: Callable[[FileOpen], None] | None = None,
        listings: bool = False,
    ) -> None:
        self.root = os.path.abspath(root) if root is not None else None
        #: also note folders listed (mode :data:`LIST`): ``%track`` follows what a walk saw
        self.listings = listings
        self.thread = thread
        self.limit = limit
        self.on_open = on_open
        self.opened: list[FileOpen] = []
        self._seen: set[FileOpen] = set()

    # -- starting and stopping -------------------------------------------------------------
    def start(self) -> FileAudit:
        """Start collecting (again: what was collected before is kept)."""
        environment_prefixes()
        _install_hook()
        if self not in _ACTIVE:
            _ACTIVE.append(self)
        return self

    def stop(self) -> list[FileOpen]:
        """Stop collecting; the opens seen so far, in order, each (path, mode) once."""
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        return list(self.opened)

    def take(self) -> list[FileOpen]:
        """The opens seen since the last ``take`` (or start), forgetting them."""
        opened, self.opened = self.opened, []
        self._seen.clear()
        return opened

    @property
    def active(self) -> bool:
        return self in _ACTIVE

    # -- what the hook reports -------------------------------------------------------------
    def saw(self, path: Any, mode: Any = None, flags: Any = None) -> None:
        """Note one open (the hook calls this; so may code that reads files in C)."""
        if self.thread is not None and threading.get_ident() != self.thread:
            return
        if isinstance(path, (bytes, os.PathLike)):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return  # a file descriptor, or a path-like the event did not convert
        how = open_mode(mode, flags)
        if how is None:
            return
        path = os.path.abspath(path)
        if is_environment_file(path, self.root):
            return
        entry = FileOpen(path, how)
        if entry in self._seen or len(self.opened) >= self.limit:
            return
        if os.path.isdir(path):
            # a folder: opened to list or sync it, or an ``open(folder, opener=...)`` whose
            # opener creates the real file (``NamedTemporaryFile``), which is seen on its own
            return
        self._seen.add(entry)
        self.opened.append(entry)
        if self.on_open is not None:
            self.on_open(entry)

    def saw_listing(self, folder: Any) -> None:
        """Note one folder listed (the hook calls this for audits started with ``listings``)."""
        if self.thread is not None and threading.get_ident() != self.thread:
            return
        if isinstance(folder, (bytes, os.PathLike)):
            folder = os.fsdecode(folder)
        if not isinstance(folder, str):
            return  # listed through a file descriptor
        path = os.path.abspath(folder)
        if is_environment_file(os.path.join(path, "x"), self.root):
            return
        entry = FileOpen(path, LIST)
        if entry in self._seen or len(self.opened) >= self.limit:
            return
        self._seen.add(entry)
        self.opened.append(entry)

    # -- summaries ---------------------------------------------------------------------------
    def reads(self) -> list[str]:
        """Files read and never written while audited, in the order first read."""
        written = set(self.writes())
        return list(dict.fromkeys(
            entry.path for entry in self.opened if entry.mode == READ and entry.path not in written
        ))

    def writes(self) -> list[str]:
        """Files written (created, truncated, appended to or updated), in order."""
        return list(dict.fromkeys(entry.path for entry in self.opened if entry.writes))


#: The audits collecting now; the hook returns at once while it is empty.
_ACTIVE: list[FileAudit] = []
#: Audit events of a folder listing (``os.walk``, ``glob`` and ``pathlib`` use these).
_LISTING_EVENTS = frozenset({"os.listdir", "os.scandir"})
#: Code file names of the import system's frames (``FileFinder`` fills its cache by listing).
_IMPORT_SYSTEM = ("<frozen importlib", "<frozen zipimport")
#: ... and of the modules finding packages and their metadata on ``sys.path``.
_IMPORT_MODULES = (
    os.sep + "importlib" + os.sep, os.sep + "pkgutil.py", os.sep + "pkg_resources" + os.sep,
)


def _import_system(code_file: str) -> bool:
    """Whether code in ``code_file`` (the caller of a listing) is the import system's."""
    return code_file.startswith(_IMPORT_SYSTEM) or any(m in code_file for m in _IMPORT_MODULES)
_HOOK: list[Callable[[str, tuple[Any, ...]], None]] = []


def _install_hook() -> None:
    if _HOOK:
        return

    busy = threading.local()

    def hook(event: str, args: tuple[Any, ...]) -> None:
        # called for every audit event of the process: two cheap tests decide almost all
        if not _ACTIVE or (event != "open" and event not in _LISTING_EVENTS):
            return
        if getattr(busy, "on", False):
            return
        busy.on = True  # what an audit does must not be audited (nor recurse)
        try:
            if event == "open":
                path, mode, flags = (tuple(args) + (None, None, None))[:3]
                for audit in tuple(_ACTIVE):
                    audit.saw(path, mode, flags)
            elif not _import_system(sys._getframe(1).f_code.co_filename):
                # the import system lists every folder on ``sys.path`` it searches, the
                # notebook's among them: not a listing the user's code made
                folder = args[0] if args else None
                for audit in tuple(_ACTIVE):
                    if audit.listings:
                        audit.saw_listing("." if folder is None else folder)
        except Exception:  # noqa: BLE001, S110 - an audit hook must never break the user's open()
            pass
        finally:
            busy.on = False

    _HOOK.append(hook)
    sys.addaudithook(hook)
