"""What a cell did to the namespace: identities and stamps before it ran, compared after.

The static effects of a cell (from IPython's tree) say what it *may* do; the snapshot says what
it did: which names were really bound (an exception can stop a cell half way), whether ``+=``
changed an object in place or rebound the name, which objects changed under a library call,
which new names share an object with a name the cell read (aliases), and names bound by means
no tree shows (``exec``, ``globals()[...]``, ``%run``). Only ``id()`` values and stamps are
kept, never the objects.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from nb2pipe.analysis import CellSymbols
from nb2pipe.tracking.effects import StaticEffects
from nb2pipe.tracking.log import ExecutionEvent, FileAccess
from nb2pipe.tracking.runtime import (
    can_alias,
    class_stamp,
    find_alias,
    is_random_generator,
    is_user_name,
    is_value,
    object_stamp,
)
from nb2pipe.tracking.values import observed_fingerprints

__all__ = ["ExecutionCore", "NamespaceSnapshot", "ObservedEffects"]

_MISSING = 0  #: ``id()`` of an unbound name (no object has id 0)
_UNBOUND = object()
_EMPTY: frozenset[str] = frozenset()


def _frozen(items: set[str]) -> frozenset[str]:
    """``frozenset(items)``, one shared empty set for the many empty ones (events are kept)."""
    return frozenset(items) if items else _EMPTY
#: Line magics that may bind names no syntax tree shows.
_OPAQUE_MAGICS = frozenset({"run", "store", "load", "reset_selective", "macro", "autoreload"})


def _mro(cls: type) -> tuple[type, ...]:
    try:
        return type.__getattribute__(cls, "__mro__")  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001 - an odd metaclass
        return ()


@dataclass(frozen=True)
class ExecutionCore:
    """What the recorder knows of an execution without looking at its code."""

    seq: int
    cell_key: str
    source_hash: str
    cell_id: str | None
    execution_count: int | None
    started: float
    duration: float
    error: str | None
    interrupted: bool
    deleted_cells: tuple[str, ...]
    files: tuple[FileAccess, ...]

    def event(self, **effects: Any) -> ExecutionEvent:
        return ExecutionEvent(
            seq=self.seq,
            cell_key=self.cell_key,
            source_hash=self.source_hash,
            cell_id=self.cell_id,
            execution_count=self.execution_count,
            started=self.started,
            duration=self.duration,
            error=self.error,
            interrupted=self.interrupted,
            deleted_cells=self.deleted_cells,
            files=self.files,
            **effects,
        )


@dataclass(frozen=True)
class ObservedEffects:
    """A cell's effects as the namespace showed them."""

    defines: frozenset[str]
    reads: frozenset[str]
    mutates: frozenset[str]
    deletes: frozenset[str]
    generators: frozenset[str]
    aliases: Mapping[str, str]
    reset: bool
    opaque: bool
    #: fingerprints of the values of names bound (see :mod:`nb2pipe.tracking.values`)
    values: Mapping[str, str]
    constants: frozenset[str]

    def event(
        self, core: ExecutionCore, effects: StaticEffects, symbols: CellSymbols, succeeded: bool
    ) -> ExecutionEvent:
        return core.event(
            defines=self.defines,
            reads=self.reads,
            mutates=self.mutates,
            deletes=self.deletes,
            rebinds=effects.rebinds,
            # ``with ... as fh`` targets are rebound by design too (multiple-definitions skips both)
            loop_targets=(
                symbols.loop_targets | symbols.with_targets if symbols.with_targets else symbols.loop_targets
            ),
            generators=self.generators,
            aliases=dict(self.aliases),
            seeds=effects.seeds,
            draws=effects.draws,
            functions=symbols.functions if succeeded else (),
            imports=effects.imports,
            reset=self.reset,
            opaque=self.opaque,
            exclusive=effects.exclusive,
            values=dict(self.values),
            constants=self.constants,
        )


@dataclass
class NamespaceSnapshot:
    """Identities and stamps of the names a cell touches, taken right before it runs."""

    ids: dict[str, int]
    stamps: dict[str, Any]
    generators: set[str]
    #: every user name's identity, for cells that may bind names no tree shows
    namespace_ids: dict[str, int] | None
    namespace_size: int
    #: notebook classes whose body binds containers every instance shares: name ->
    #: (identity, stamp of those containers), for cells that call something
    class_stamps: dict[str, tuple[int, Any]] = field(default_factory=dict)
    #: name the cell reads -> those classes its object is an instance of (``b.counts``)
    class_reads: dict[str, set[str]] = field(default_factory=dict)
    #: class above -> the notebook's classes inheriting its shared containers
    subclasses: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def take(
        cls,
        namespace: Mapping[str, Any],
        symbols: CellSymbols,
        effects: StaticEffects,
        hidden: Any,
        classes: Iterable[str] = (),
    ) -> NamespaceSnapshot:
        """``classes``: the names the notebook's own classes were defined under."""
        watched = effects.reads | effects.defines | effects.mutates | effects.deletes
        ids = {name: id(namespace[name]) if name in namespace else _MISSING for name in watched}
        stamps = {name: object_stamp(namespace[name]) for name in effects.reads if name in namespace}
        generators = set()
        for call in symbols.calls:
            head, dot, _ = call.callee.partition(".")
            if dot and head in namespace and is_random_generator(namespace[head]):
                generators.add(head)
        namespace_ids = None
        if effects.opaque or effects.reset or any(m.name in _OPAQUE_MAGICS for m in symbols.magics):
            namespace_ids = {
                name: id(value) for name, value in namespace.items() if is_user_name(name, hidden)
            }
        snapshot = cls(ids, stamps, generators, namespace_ids, len(namespace))
        if classes:
            snapshot._shared_state(namespace, symbols, effects, classes)
        return snapshot

    def _shared_state(
        self, namespace: Mapping[str, Any], symbols: CellSymbols, effects: StaticEffects,
        classes: Iterable[str],
    ) -> None:
        """Stamp the classes holding shared containers, and note those the cell reads through
        an instance: a method changing ``self.store[k]`` where ``store = {}`` is in the class
        body changes the class, and every instance sees it."""
        shared: dict[int, str] = {}
        found: list[tuple[str, type]] = []
        for name in classes:
            value = namespace.get(name)
            if isinstance(value, type):
                found.append((name, value))
                stamp = class_stamp(value)
                if stamp is not None:
                    shared[id(value)] = name
                    if symbols.calls:  # only a call runs code that can change it
                        self.class_stamps[name] = (id(value), stamp)
        if not shared:
            return
        for name, value in found:
            for above in _mro(value)[1:]:
                if id(above) in shared:
                    self.subclasses.setdefault(shared[id(above)], set()).add(name)
        for name in effects.reads:
            value = namespace.get(name)
            if value is None or isinstance(value, type):
                continue
            owners = {shared[id(k)] for k in _mro(type(value)) if id(k) in shared}
            if owners:
                self.class_reads[name] = owners

    def observe(
        self,
        namespace: Mapping[str, Any],
        effects: StaticEffects,
        succeeded: bool,
        hidden: Any,
        tracked: Mapping[str, object],
        execution_count: int | None,
    ) -> ObservedEffects:
        """Compare the namespace after the cell with the snapshot; ``tracked``: names known.

        Costs grow with the names the cell touches, not with the namespace, unless the
        namespace changed in ways the cell's tree does not explain.
        """
        before = self.ids
        get = namespace.get

        def now(name: str) -> int:
            value = get(name, _UNBOUND)
            return id(value) if value is not _UNBOUND else _MISSING

        defines = set()
        for name in effects.defines:
            after = now(name)
            if after != _MISSING and (succeeded or after != before.get(name, _MISSING)):
                defines.add(name)
        deletes = (
            {n for n in effects.deletes if before.get(n, _MISSING) != _MISSING and now(n) == _MISSING}
            if effects.deletes else set()
        )
        # in place: the same object before and after (``x += 1`` on an int rebinds instead)
        mutates = {
            n for n in effects.mutates & effects.reads
            if before.get(n, _MISSING) != _MISSING and now(n) == before[n]
        } if effects.mutates else set()
        for name, stamp in self.stamps.items():
            if stamp is not None and now(name) == before.get(name) and object_stamp(namespace[name]) != stamp:
                mutates.add(name)
        for name, (identity, stamp) in self.class_stamps.items():
            if now(name) == identity and class_stamp(namespace[name]) != stamp:
                # a container in its body changed: so did what every instance and subclass
                # sees (a new instance of a re-run class does not share it)
                mutates.add(name)
                mutates.update(self.subclasses.get(name, ()))
                mutates.update(n for n, owners in self.class_reads.items() if name in owners)
        generators = {n for n in self.generators if now(n) == before.get(n)} if self.generators else set()
        if mutates:
            mutates -= generators
            # ``np.add(a, 1)`` looks like ``s.add(1)``: calling a module's functions changes no
            # module; and ``n += k`` in a function leaves the caller's number as it was
            mutates = {
                n for n in mutates
                if type(namespace[n]) is not types.ModuleType and not is_value(namespace[n])
            }
        reads = set(effects.reads) | mutates | generators
        for owners in self.class_reads.values():
            reads |= owners
        if self.namespace_ids is not None or self._unexpected_size(namespace, defines, deletes, execution_count):
            known = [n for n in tracked if ":" not in n]
            changed, removed = self._namespace_changes(namespace, hidden, known)
            defines |= changed
            deletes |= removed
        aliases = {}
        for name in sorted(defines - mutates - generators):
            if name in namespace and can_alias(namespace[name]):
                candidates = [(r, namespace[r]) for r in sorted(reads) if r != name and r in namespace]
                target = find_alias(namespace[name], candidates) if candidates else None
                if target is not None:
                    aliases[name] = target
        reset = effects.reset and succeeded and not any(
            n in namespace for n in tracked if ":" not in n
        )
        defines = {n for n in defines if is_user_name(n, hidden)}
        bound = defines - mutates - generators - aliases.keys()
        return ObservedEffects(
            defines=_frozen(defines),
            reads=_frozen({n for n in reads if is_user_name(n, hidden)}),
            mutates=_frozen(mutates),
            deletes=_frozen(deletes),
            generators=_frozen(generators),
            aliases=aliases,
            reset=reset,
            opaque=self.namespace_ids is not None or effects.opaque,
            values=observed_fingerprints(namespace, bound, effects.constants),
            constants=_frozen({n for n in effects.constants if n in bound}) if effects.constants else _EMPTY,
        )

    def _unexpected_size(
        self, namespace: Mapping[str, Any], defines: set[str], deletes: set[str], count: int | None
    ) -> bool:
        """Whether the namespace grew or shrank beyond what the cell's tree explains."""
        added = sum(1 for n in defines if self.ids.get(n, _MISSING) == _MISSING)
        if count is not None and f"_{count}" in namespace:
            added += 1  # the output cache entry IPython adds
        return len(namespace) != self.namespace_size + added - len(deletes)

    def _namespace_changes(
        self, namespace: Mapping[str, Any], hidden: Any, known: list[str]
    ) -> tuple[set[str], set[str]]:
        """Names bound or removed by means no tree shows."""
        previous = self.namespace_ids
        if previous is None:
            previous = {n: -1 for n in known}  # -1: bound before, identity not recorded
        changed = set()
        for name, value in namespace.items():
            if is_user_name(name, hidden) and previous.get(name, _MISSING) not in (id(value), -1):
                changed.add(name)
        removed = {n for n in previous if n not in namespace}
        return changed, removed
