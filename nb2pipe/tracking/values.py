"""Value fingerprints: when a name is bound again to an equal value, nothing that read it changed.

A cell that binds ``alpha = 0.5`` again after an edit of its other lines makes the same
``alpha``: the cells reading ``alpha`` are as fresh as before. The tracker's signatures follow
how values came about (the cell, its source, its inputs), so an edit anywhere in the cell
would otherwise mark every reader of every name it binds out of date.

A fingerprint stands for the value of an object whose value cannot change and is cheap to
read exactly: numbers, strings and bytes (up to :data:`_MAX_TEXT` long), ``None``, booleans,
and tuples and frozensets of those (up to :data:`_MAX_ITEMS` elements). Two objects with the
same fingerprint are equal to every piece of code (``0.0`` and ``-0.0``, ``1`` and ``True``
differ). Everything else has none: its signature stays the symbolic one (a list's equality
says nothing of what shares it, and calling a user class's ``__eq__`` is never done).

A name bound by an import, or once at cell level to a literal, has a fingerprint the cell's
code alone fixes (:func:`constant_fingerprints`): the same from the source as from the
running kernel, so a fresh-run simulation of a cell that never ran agrees with the kernel.

Fingerprints are 16 hex digits of BLAKE2b over a canonical encoding: the same in every
process (the history log keeps them, never the values).
"""

from __future__ import annotations

import hashlib
import types
from collections.abc import Iterable, Mapping

from nb2pipe.analysis.symbols import ConstantBinding

__all__ = ["constant_fingerprints", "observed_fingerprints", "value_fingerprint"]

_MAX_TEXT = 4096  #: characters (or bytes) of a string a fingerprint covers; longer: none
_MAX_ITEMS = 64  #: elements of a tuple or frozenset; more: none
_MAX_DEPTH = 3  #: nesting of tuples
_MAX_INT_BITS = 4096
_NONE, _TRUE, _FALSE, _ELLIPSIS = b"n", b"b1", b"b0", b"e"


def _encode(obj: object, depth: int) -> bytes | None:
    """A canonical encoding of ``obj``'s value, ``None`` when it has none (see the module).

    Exact types only: a subclass (``numpy.float64`` is a ``float``) may print otherwise.
    """
    if type(obj) is int:
        return b"i" + str(obj).encode() if obj.bit_length() <= _MAX_INT_BITS else None
    if type(obj) is float:
        return b"f" + obj.hex().encode()
    if type(obj) is str:
        return b"s" + obj.encode("utf-8", "surrogatepass") if len(obj) <= _MAX_TEXT else None
    if type(obj) is bool:
        return _TRUE if obj else _FALSE
    if obj is None:
        return _NONE
    if type(obj) is bytes:
        return b"y" + obj if len(obj) <= _MAX_TEXT else None
    if type(obj) is complex:
        return b"c" + obj.real.hex().encode() + b"," + obj.imag.hex().encode()
    if type(obj) is tuple or type(obj) is frozenset:
        return _encode_items(obj, depth, b"t" if type(obj) is tuple else b"F")
    if obj is Ellipsis:
        return _ELLIPSIS
    return None


def _encode_items(items: tuple[object, ...] | frozenset[object], depth: int, tag: bytes) -> bytes | None:
    if depth >= _MAX_DEPTH or len(items) > _MAX_ITEMS:
        return None
    parts = []
    for item in items:
        encoded = _encode(item, depth + 1)
        if encoded is None:
            return None
        parts.append(len(encoded).to_bytes(4, "little") + encoded)
    if tag == b"F":
        parts.sort()  # a frozenset's order is no part of its value
    return tag + b"".join(parts)


def _digest(data: bytes) -> str:
    digest = _BLAKE2B.copy()  # a copy of a ready hash: cheaper than a new one per value
    digest.update(data)
    return digest.hexdigest()


_BLAKE2B = hashlib.blake2b(digest_size=8)


def value_fingerprint(obj: object) -> str | None:
    """The fingerprint of ``obj``'s value, or ``None`` (see the module). Runs no user code."""
    try:
        encoded = _encode(obj, 0)
    except Exception:  # noqa: BLE001 - an exotic subclass trick: no fingerprint
        return None
    return _digest(encoded) if encoded is not None else None


def _import_fingerprint(imported: str) -> str:
    return _digest(b"import:" + imported.encode("utf-8", "surrogatepass"))


def constant_fingerprints(
    constants: Iterable[ConstantBinding], excluded: Iterable[str] = ()
) -> dict[str, str]:
    """Fingerprints of the names a cell's own code fixes (``excluded``: names something else
    in the cell may bind as well, such as a notebook function with ``global``)."""
    left_out = set(excluded)
    out: dict[str, str] = {}
    for constant in constants:
        if constant.name in left_out:
            continue
        if constant.imported is not None:
            out[constant.name] = _import_fingerprint(constant.imported)
            continue
        fingerprint = value_fingerprint(constant.literal)  # as the kernel finds it
        if fingerprint is not None:
            out[constant.name] = fingerprint
    return out


def observed_fingerprints(
    namespace: Mapping[str, object], names: Iterable[str], constants: Mapping[str, str]
) -> dict[str, str]:
    """Fingerprints of ``names`` as bound in ``namespace`` after a cell (constants as fixed by
    the code: an imported module's fingerprint is its import, not the module object)."""
    out: dict[str, str] = {}
    for name in names:
        fingerprint = constants.get(name)
        if fingerprint is None:
            value = namespace.get(name, _UNBOUND)
            if value is _UNBOUND or type(value) is types.ModuleType:
                continue
            fingerprint = value_fingerprint(value)
        if fingerprint is not None:
            out[name] = fingerprint
    return out


_UNBOUND = object()
