"""Runtime facts about the user's namespace: identities, cheap version stamps, aliases, file opens.

Rules that keep the user's kernel safe:

- only ``id()``, ``type()`` and attributes of known library types are used: no user-defined
  ``__eq__``/``__hash__``/``__repr__``/``__len__`` is ever called;
- no user object is referenced after a function returns (stamps are tuples of ints);
- no object is walked beyond a small, fixed number of elements.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import types
from typing import Any, Iterable, Iterator

from nb2pipe_runtime.audit import FileOpen

from nb2pipe.tracking.log import FileAccess

__all__ = [
    "can_alias",
    "class_stamp",
    "file_accesses",
    "is_value",
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


def _sizes(values: Iterable[Any]) -> int:
    """The lengths of the plain lists, dicts and sets among ``values``: an attribute list that
    grew (``self.items.append(v)``) changes its owner's stamp."""
    return hash(tuple(len(v) if type(v) in _SIZED else -1 for v in values))


_SIZED = (list, dict, set)
_ARRAY_SAMPLE = 32  #: elements of an array a stamp hashes (all of a small one)


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
            head = obj[:_SMALL]
            # the sizes of the lists it holds: ``for row in data: row += [0]``
            return ("list", len(obj), _ids(head), id(obj[-1]) if obj else 0, _sizes(head))
        if cls is dict:
            if len(obj) <= _SMALL:
                values = obj.values()
                return ("dict", len(obj), _ids(obj.keys()), _ids(values), _sizes(values))
            return ("dict", len(obj))
        if cls in (set, bytearray):
            return (cls.__name__, len(obj))
        module = cls.__module__ or ""
        if module.startswith("numpy") and "numpy" in sys.modules:
            numpy = sys.modules["numpy"]
            if cls is numpy.ndarray:
                # shape, memory and a sample of the values: ``np.copyto(a, b)`` writes in place
                return ("ndarray", obj.shape, obj.dtype.str, obj.__array_interface__["data"][0],
                        _array_sample(obj, numpy))
            if isinstance(obj, numpy.ndarray):
                return ("ndarray", obj.shape, obj.dtype.str, obj.__array_interface__["data"][0])
        if module.startswith("pandas"):
            return ("pandas", getattr(obj, "shape", None), id(getattr(obj, "_mgr", None)))
        attributes = object.__getattribute__(obj, "__dict__")
        if type(attributes) is dict:
            if len(attributes) <= _SMALL:
                values = attributes.values()
                return ("attrs", len(attributes), _ids(attributes.keys()), _ids(values), _sizes(values))
            return ("attrs", len(attributes))
    except Exception:
        return None
    return None


def _array_sample(array: Any, numpy: Any) -> int | None:
    """A hash of (a sample of) an array's values; ``None`` for object arrays."""
    if array.dtype.hasobject:
        return None
    if array.size <= 2 * _ARRAY_SAMPLE:
        return hash(array.tobytes())
    flat = array.flat
    return hash((flat[:_ARRAY_SAMPLE].tobytes(), flat[-_ARRAY_SAMPLE:].tobytes()))


def is_value(obj: Any) -> bool:
    """Whether ``obj`` is a value no code changes in place (a number, a string, a tuple...)."""
    return type(obj) in _VALUE_TYPES


def class_stamp(cls: Any) -> Any:
    """A stamp of the containers a notebook class's body binds (``store = {}``): state every
    instance shares, which making a new instance does not reset. ``None``: it has none."""
    try:
        attributes = type.__getattribute__(cls, "__dict__")
        stamps = tuple(
            (name, stamp)
            for name, value in itertools.islice(attributes.items(), _SMALL)
            if (stamp := _container_stamp(value)) is not None
        )
    except Exception:  # noqa: BLE001 - an odd metaclass, a container whose len raises
        return None
    return stamps or None


def _container_stamp(value: Any) -> Any:
    """A stamp of a standard container (``list``, ``dict``, ``set``, ``collections``' ones)."""
    cls = type(value)
    if cls in _SIZED:
        return object_stamp(value)
    if cls.__module__ != "collections":
        return None
    if isinstance(value, dict):  # defaultdict, Counter, OrderedDict
        if len(value) > _SMALL:
            return ("dict", len(value))
        return ("dict", len(value), _ids(value.keys()), _ids(value.values()), _sizes(value.values()))
    if hasattr(value, "__len__") and hasattr(value, "__iter__"):  # deque
        return (cls.__name__, len(value), _ids(itertools.islice(value, _SMALL)))
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


def _parts(obj: Any, limit: int) -> list[Any] | None:
    """The objects ``obj`` holds directly: a list's or tuple's elements, a dict's values, an
    instance's attributes (``None``: not a plain container, or bigger than ``limit``)."""
    cls = type(obj)
    if cls in (list, tuple):
        return list(obj) if len(obj) <= limit else None
    if cls is dict:
        return list(obj.values()) if len(obj) <= limit else None
    try:
        if cls.__module__ == "__main__":  # an instance of a notebook class
            attributes = object.__getattribute__(obj, "__dict__")
            if type(attributes) is dict and len(attributes) <= limit:
                return list(attributes.values())
    except Exception:  # noqa: BLE001 - no __dict__ (slots), an odd metaclass
        pass
    return None


def find_alias(obj: Any, candidates: Iterable[tuple[str, Any]]) -> str | None:
    """The candidate name whose object ``obj`` shares state with: the same object, shared
    memory (numpy views), one holding the other (``row = rows[0]``, ``outer = [inner]``), or
    both holding the same mutable object (shallow copies: ``list(x)``, ``x[:]``, ``dict(d)``,
    ``copy.copy(obj)``). Changing one in place can then change what the other holds."""
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
        mine = _parts(obj, _SMALL)
        shared = {id(part) for part in mine if can_alias(part)} if mine else set()
        for name, other in pool:
            parts = _parts(other, _CONTAINMENT_LIMIT)
            if parts is None:
                continue
            if any(id(part) == target for part in parts):
                return name
            if shared and any(id(part) in shared for part in parts):
                return name
        if mine:
            held = {id(part) for part in mine}
            for name, other in pool:
                if id(other) in held and can_alias(other):
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
# Which opens count (and which files are the environment's) is nb2pipe_runtime.audit's one rule;
# the recorder runs its FileAudit. What tracking adds is the per-cell summary below.
def file_accesses(opened: Iterable[FileOpen]) -> tuple[FileAccess, ...]:
    """One access per file a cell opened (the strongest operation wins), stamped after the cell.

    ``opened`` is what the cell's :class:`~nb2pipe_runtime.audit.FileAudit` saw; its modes
    (read, write, append, update) are the ops of :class:`FileAccess`.
    """
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

