"""Runtime facts about the user's namespace: identities, cheap version stamps, aliases, file opens.

Rules that keep the user's kernel safe:

- only ``id()``, ``type()`` and attributes of known library types are used: no user-defined
  ``__eq__``/``__hash__``/``__repr__``/``__len__`` is ever called;
- no user object is referenced after a function returns (stamps are tuples of ints);
- no object is walked beyond a small, fixed number of elements.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
import types
from typing import Any, Iterable, Iterator

from nb2pipe.tracking.log import FileAccess

__all__ = [
    "FileAudit",
    "file_accesses",
    "can_alias",
    "find_alias",
    "is_random_generator",
    "is_user_name",
    "object_stamp",
]

#: Objects of these types are values, not shared state: aliasing and stamps mean nothing.
_VALUE_TYPES = frozenset(
    {
        int, float, complex, bool, str, bytes, type(None), range, tuple, frozenset,
        type(Ellipsis), type(NotImplemented), slice,
    }
)
_NOT_SHARED_TYPES = _VALUE_TYPES | frozenset(
    {
        types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
        types.LambdaType, property, staticmethod, classmethod,
    }
)
#: IPython's own names in ``user_ns``: input/output caches, ``_``, ``In``/``Out``, dunders.
_IPYTHON_NAME = re.compile(r"_+|_i{1,3}|_i?\d+|_[iod]h|_sh|_exit_code|__\w+__")
_SMALL = 64  #: elements a stamp looks at
_CONTAINMENT_LIMIT = 10_000  #: elements an alias search looks at per container


def is_user_name(name: str, hidden: Any = ()) -> bool:
    """Whether ``name`` in ``user_ns`` is the user's (not IPython's or a dunder)."""
    return not _IPYTHON_NAME.fullmatch(name) and name not in hidden


def _ids(values: Iterable[Any]) -> int:
    return hash(tuple(id(v) for v in values))


def object_stamp(obj: Any) -> Any:
    """A cheap fingerprint that changes when common in-place changes happen; ``None`` if unknown.

    Lists, dicts and sets: length and the identities of (at most 64) elements; numpy arrays:
    shape and data pointer; pandas objects: shape and block manager; other objects: their
    attribute dictionary's identities. Never calls code the object's class defines.
    """
    cls = type(obj)
    if cls in _NOT_SHARED_TYPES:
        return None
    try:
        if cls is list:
            return ("list", len(obj), _ids(obj[:_SMALL]), id(obj[-1]) if obj else 0)
        if cls is dict:
            if len(obj) <= _SMALL:
                return ("dict", len(obj), _ids(obj.keys()), _ids(obj.values()))
            return ("dict", len(obj))
        if cls in (set, bytearray):
            return (cls.__name__, len(obj))
        module = cls.__module__ or ""
        if module.startswith("numpy") and "numpy" in sys.modules:
            numpy = sys.modules["numpy"]
            if isinstance(obj, numpy.ndarray):
                return ("ndarray", obj.shape, obj.dtype.str, obj.__array_interface__["data"][0])
        if module.startswith("pandas"):
            return ("pandas", getattr(obj, "shape", None), id(getattr(obj, "_mgr", None)))
        attributes = object.__getattribute__(obj, "__dict__")
        if type(attributes) is dict:
            if len(attributes) <= _SMALL:
                return ("attrs", len(attributes), _ids(attributes.keys()), _ids(attributes.values()))
            return ("attrs", len(attributes))
    except Exception:
        return None
    return None


def can_alias(obj: Any) -> bool:
    """Whether sharing ``obj`` between names matters (it can change in place)."""
    cls = type(obj)
    return cls not in _NOT_SHARED_TYPES and not issubclass(cls, type)


def _array_bases(obj: Any) -> Iterator[int]:
    numpy = sys.modules.get("numpy")
    if numpy is None or not isinstance(obj, numpy.ndarray):
        return
    base = obj.base
    depth = 0
    while base is not None and depth < 8:
        yield id(base)
        base = getattr(base, "base", None) if isinstance(base, numpy.ndarray) else None
        depth += 1


def find_alias(obj: Any, candidates: Iterable[tuple[str, Any]]) -> str | None:
    """The candidate name whose object ``obj`` is, shares memory with, or sits directly in."""
    target = id(obj)
    pool = list(candidates)
    for name, other in pool:
        if id(other) == target:
            return name
    try:
        bases = set(_array_bases(obj))
        if bases:
            for name, other in pool:
                if id(other) in bases:
                    return name
        for name, other in pool:
            cls = type(other)
            if cls in (list, tuple) and len(other) <= _CONTAINMENT_LIMIT:
                if any(id(element) == target for element in other):
                    return name
            elif cls is dict and len(other) <= _CONTAINMENT_LIMIT:
                if any(id(value) == target for value in other.values()):
                    return name
    except Exception:
        return None
    return None


def is_random_generator(obj: Any) -> bool:
    """A random number generator object whose methods advance its state."""
    cls = type(obj)
    try:
        module = cls.__module__ or ""
        if module.startswith("numpy.random"):
            return cls.__name__ in ("Generator", "RandomState")
        return module == "random" and cls.__name__ in ("Random", "SystemRandom")
    except Exception:  # a metaclass with odd attributes
        return False


# -- file reads and writes -------------------------------------------------------------------
def _ignored_prefixes() -> tuple[str, ...]:
    home = os.path.expanduser("~")
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    prefixes |= {p for p in sys.path if p and "site-packages" in p}
    out = [os.path.join(p, "") for p in prefixes if p]
    out += ["/dev/", "/proc/", "/sys/", "/etc/", "/usr/"]
    # ipykernel keeps each cell's source there; tracebacks of failed cells read it
    out.append(os.path.join(tempfile.gettempdir(), f"ipykernel_{os.getpid()}", ""))
    out += [os.path.join(home, d, "") for d in (".ipython", ".cache", ".config", ".matplotlib", ".local", ".jupyter")]
    return tuple(out)


def _op_from_mode(mode: Any, flags: Any) -> str | None:
    if isinstance(mode, str):
        if "a" in mode:
            return "append"
        if "w" in mode or "x" in mode:
            return "write"
        if "+" in mode:
            return "update"
        return "read"
    if isinstance(flags, int):
        if flags & os.O_APPEND:
            return "append"
        if flags & os.O_TRUNC or (flags & os.O_CREAT and flags & os.O_WRONLY):
            return "write"
        if flags & os.O_RDWR:
            return "update"
        if flags & os.O_WRONLY:
            return "write"
        return "read"
    return None


class FileAudit:
    """Collects the files user code opens, through one ``sys.addaudithook`` per process.

    Audit hooks cannot be removed, so the hook is installed once and returns at once while no
    recorder listens (:attr:`active` false) or the event is not a file open.
    """

    def __init__(self) -> None:
        self.active = False
        self.thread = 0
        self.opened: list[tuple[str, str]] = []
        self.ignore: tuple[str, ...] = ()
        self._base_ignore: tuple[str, ...] | None = None
        self.limit = 10_000

    @classmethod
    def install(cls) -> FileAudit:
        global _AUDIT
        if _AUDIT is not None:
            return _AUDIT
        audit = _AUDIT = cls()

        def hook(event: str, args: tuple[Any, ...]) -> None:
            if not audit.active or event != "open":
                return
            try:
                audit.record(args)
            except BaseException:  # noqa: BLE001 - an audit hook must never raise
                pass

        sys.addaudithook(hook)
        return audit

    def ignore_also(self, folders: Iterable[str]) -> None:
        """Leave out files under ``folders`` too (nb2pipe's own history folder)."""
        if self._base_ignore is None:
            self._base_ignore = _ignored_prefixes()
        self.ignore = self._base_ignore + tuple(os.path.join(p, "") for p in folders)

    def begin(self) -> None:
        if self._base_ignore is None:
            self.ignore_also(())
        self.opened = []
        self.thread = threading.get_ident()
        self.active = True

    def end(self) -> list[tuple[str, str]]:
        self.active = False
        opened, self.opened = self.opened, []
        return opened

    def record(self, args: tuple[Any, ...]) -> None:
        if threading.get_ident() != self.thread or len(self.opened) >= self.limit:
            return
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return  # a file descriptor
        op = _op_from_mode(mode, flags)
        if op is None or path.endswith((".pyc", ".pyo")):
            return
        path = os.path.abspath(path)
        if path.startswith(self.ignore) or "__pycache__" in path:
            return
        self.opened.append((path, op))


def file_accesses(opened: list[tuple[str, str]]) -> tuple[FileAccess, ...]:
    """One access per file a cell opened (the strongest operation wins), stamped after the cell."""
    ops: dict[str, str] = {}
    for path, op in opened:
        current = ops.get(path)
        if current is None or (current == "read" and op != "read"):
            ops[path] = op
        elif current != op and op != "read":
            ops[path] = "update" if "append" not in (current, op) else "append"
    accesses = []
    for path, op in ops.items():
        try:
            info = os.stat(path)
            stamp: tuple[int, int] | None = (info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = None
        accesses.append(FileAccess(path, op, stamp))
    return tuple(accesses)


_AUDIT: FileAudit | None = None
