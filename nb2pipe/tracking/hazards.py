"""Runtime hazards: what the live state and a cell's last execution say is wrong, as :class:`Hazard`.

Each builder returns hazards of one kind for one cell, with a one-line message naming the cells
(``[n] id``) and names involved, and a one-line fix. The same builders serve the inline warnings
after a cell runs and ``%track report``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Collection, Iterable, Iterator, Mapping, Sequence

from nb2pipe.analysis import Hazard, HazardKind
from nb2pipe.analysis.hazards import tracker_warning
from nb2pipe.tracking.order import CellSlot, NotebookOrder
from nb2pipe.tracking.rerun import DISK_KEY, FreshRun, RerunPlan
from nb2pipe.tracking.state import (
    BASELINE_KEY,
    FILE_PREFIX,
    RANDOM_PREFIX,
    CellRun,
    MutationFact,
    TrackerState,
    Writer,
)

__all__ = [
    "append_hazard",
    "appended_again",
    "edited_hazard",
    "execution_hazards",
    "file_change_hazards",
    "format_warning",
    "leftover_hazards",
    "make_hazard",
    "merge_duplicates",
    "stale_hazards",
]

def _names(names: Iterable[str]) -> str:
    return ", ".join(_display_name(n) for n in sorted(set(names)))


def _display_name(name: str) -> str:
    if name.startswith(FILE_PREFIX):
        return name[len(FILE_PREFIX):]
    if name.startswith(RANDOM_PREFIX):
        return f"the {name[len(RANDOM_PREFIX):]} random generator"
    return name


def _cells(order: NotebookOrder, keys: Iterable[str]) -> str:
    return ", ".join(order.label(k) for k in dict.fromkeys(keys))


def make_hazard(
    kind: HazardKind, order: NotebookOrder, key: str, names: Iterable[str], message: str, fix: str
) -> Hazard:
    slot = order.by_key.get(key)
    run = order.state.runs.get(key)
    cell_id = slot.cell_id if slot is not None else (run.event.cell_id if run is not None else None)
    index = slot.cell_index if slot is not None else None
    shown = tuple(sorted({_display_name(n) for n in names}))
    return Hazard(kind, index, cell_id, shown, message, fix)


def merge_duplicates(hazards: Iterable[Hazard]) -> list[Hazard]:
    """One hazard per cause, where two kinds describe the same reads of a cell.

    ``undefined-in-fresh-kernel`` for names the cell's ``hidden-state`` hazard names becomes a
    note in that hazard (the deleted cell is the cause); an ``out-of-order`` read of names a
    fresh kernel does not have at all is the ``undefined-in-fresh-kernel`` hazard alone.
    """
    hazards = list(hazards)
    by_cell: dict[tuple[str | None, int | None], dict[HazardKind, Hazard]] = {}
    for hazard in hazards:
        by_cell.setdefault((hazard.cell_id, hazard.cell_index), {}).setdefault(hazard.kind, hazard)
    dropped: set[int] = set()
    noted: dict[int, Hazard] = {}
    for kinds in by_cell.values():
        undefined = kinds.get(HazardKind.UNDEFINED_IN_FRESH_KERNEL)
        if undefined is None:
            continue
        hidden = kinds.get(HazardKind.HIDDEN_STATE)
        if hidden is not None and set(undefined.names) <= set(hidden.names):
            dropped.add(id(undefined))
            noted[id(hidden)] = replace(hidden, message=hidden.message + "; a fresh kernel raises NameError here")
        late = kinds.get(HazardKind.OUT_OF_ORDER)
        if late is not None and set(late.names) <= set(undefined.names):
            dropped.add(id(late))
    return [noted.get(id(h), h) for h in hazards if id(h) not in dropped]


def format_warning(hazard: Hazard) -> str:
    """The one-line inline warning printed under a cell (every message starts with its cell)."""
    return tracker_warning(hazard.kind, hazard.message, hazard.fix)


# -- hazards of one execution --------------------------------------------------------------------
def execution_hazards(
    run: CellRun,
    order: NotebookOrder,
    namespace: Mapping[str, Any] | None = None,
    rerun: Collection[str] = (),
) -> list[Hazard]:
    """Hazards of a cell's latest execution, judged against the current notebook order.

    ``namespace`` (the kernel's ``user_ns``, when there is one) lets fixes fit the live objects;
    ``rerun`` is the cells to re-run (a change in place made by one of them matters).
    """
    key = run.key
    if order.is_gone(key):
        return []
    hazards: list[Hazard] = []
    hazards += _read_hazards(run, order)
    hazards += _mutation_hazards(run, order, namespace, rerun)
    if run.repeated and run.runs > 1:
        hazards.append(_repeated_hazard(run, order))
    if run.unseeded:
        first = run.unseeded[0]
        callees = sorted({draw.callee for draw in run.unseeded})
        hazards.append(
            make_hazard(
                HazardKind.UNSEEDED_RANDOM, order, key, callees,
                f"{order.label(key)} draws random numbers with no seed set: {', '.join(callees)} "
                f"(line {first.line})",
                _seed_fix(first.qualified, first.family),
            )
        )
    return hazards


def _repeated_hazard(run: CellRun, order: NotebookOrder) -> Hazard:
    """``non-idempotent``: the cell changed again what an earlier run of it had changed."""
    key, names = run.key, run.repeated
    if all(n.startswith(RANDOM_PREFIX) or n in run.event.generators for n in names):
        # only random generators advanced: the same code draws other numbers
        return make_hazard(
            HazardKind.NON_IDEMPOTENT, order, key, names,
            f"{order.label(key)} ran {run.runs} times and draws from {_names(names)} again each "
            "time: its numbers differ from a fresh run's",
            "re-run the cell that seeds it first, or seed a generator in this cell "
            "(rng = numpy.random.default_rng(<int>))",
        )
    return make_hazard(
        HazardKind.NON_IDEMPOTENT, order, key, names,
        f"{order.label(key)} ran {run.runs} times and changes {_names(names)} again each "
        "time (it reads and rebinds or mutates it)",
        f"re-run the cells that create {_names(names)} first, or write the result to a new name",
    )


def _seed_fix(qualified: str, family: str | None) -> str:
    if family is None:
        return "pass a seed: numpy.random.default_rng(<int>)"
    if qualified.startswith("sklearn"):
        return "pass random_state=<int> (or call numpy.random.seed(<int>) in an earlier cell)"
    if family == "torch":
        return "call torch.manual_seed(<int>) in an earlier cell"
    if family == "numpy":
        return "use rng = numpy.random.default_rng(<int>), or call numpy.random.seed(<int>) first"
    return "call random.seed(<int>) in an earlier cell"


def _creator_still_defines(order: NotebookOrder, name: str, creator: Writer) -> bool:
    """Whether the cell that created ``name``'s value still binds it (as of its latest run)."""
    latest = order.state.runs.get(creator[0])
    if latest is None or latest.seq == creator[1]:
        return True
    event = latest.event
    if event.error is not None:
        return True  # it raised before binding everything: that says nothing about its code
    return name in event.defines or name in event.mutates


def _read_hazards(run: CellRun, order: NotebookOrder) -> Iterator[Hazard]:
    key = run.key
    below: dict[str, list[str]] = {}
    hidden: dict[str, str] = {}
    for name, writers in run.input_writers.items():
        others = [w for w in writers if w[0] != key and w[0] not in (DISK_KEY,)]
        if not others:
            continue
        creator = writers[0]
        if not name.startswith(FILE_PREFIX) and creator[0] != BASELINE_KEY:
            if order.is_gone(creator[0]):
                hidden[name] = f"only {order.label(creator[0])} defined it"
                continue
            if not _creator_still_defines(order, name, creator):
                hidden[name] = f"it came from code no longer in {order.label(creator[0])}"
                continue
        later = [w[0] for w in others if order.is_below(w[0], key)]
        if later:
            below[name] = later
    if hidden:
        reasons = "; ".join(f"{_display_name(n)}: {why}" for n, why in sorted(hidden.items()))
        yield make_hazard(
            HazardKind.HIDDEN_STATE, order, key, hidden,
            f"{order.label(key)} read {_names(hidden)}, whose value no cell in the notebook makes "
            f"now ({reasons})",
            "define it again in a cell above, or restart the kernel and run all cells",
        )
    variables = {n: ks for n, ks in below.items() if ":" not in n}
    if variables:
        setters = [k for ks in variables.values() for k in ks]
        created_below = any(run.input_writers[n][0][0] in ks for n, ks in variables.items())
        how = "last set by" if created_below else "changed in place by"
        yield make_hazard(
            HazardKind.OUT_OF_ORDER, order, key, variables,
            f"{order.label(key)} read {_names(variables)}, {how} {_cells(order, setters)} "
            "placed below it",
            "move that cell above this one, or re-run the cells in notebook order "
            "(%track report lists them)",
        )
    seeds = {n: ks for n, ks in below.items() if n.startswith(RANDOM_PREFIX)}
    if seeds:
        yield make_hazard(
            HazardKind.UNSEEDED_RANDOM, order, key, seeds,
            f"{order.label(key)} drew random numbers seeded by {_cells(order, [k for ks in seeds.values() for k in ks])} "
            "below it: a fresh run draws them unseeded",
            "move the seed call into a cell above this one",
        )
    files = {n: ks for n, ks in below.items() if n.startswith(FILE_PREFIX)}
    if files:
        yield make_hazard(
            HazardKind.EXTERNAL_FILE, order, key, files,
            f"{order.label(key)} read {_names(files)}, which {_cells(order, [k for ks in files.values() for k in ks])} "
            "below it writes",
            "move the cell that writes the file above this one",
        )


def _copy_expression(name: str, namespace: Mapping[str, Any] | None) -> str:
    """How to copy the object bound to ``name``, judged by its type (default ``name.copy()``)."""
    obj = namespace.get(name, namespace) if namespace is not None else namespace
    if obj is namespace:
        return f"{name}.copy()"
    try:
        kind = type(obj)
        if any(c.__name__ == "BaseEstimator" and c.__module__ == "sklearn.base" for c in kind.__mro__):
            return f"sklearn.base.clone({name})"  # estimators have no .copy()
        if getattr(kind, "copy", None) is None:
            return f"copy.deepcopy({name})"
    except Exception:  # noqa: BLE001 - an odd metaclass: fall back to the usual advice
        pass
    return f"{name}.copy()"


def _read_after(run: CellRun, fact: MutationFact, order: NotebookOrder) -> str | None:
    """A cell above ``run``'s that read the object ``run`` changed, after the change."""
    change = (run.key, run.seq)
    names = (fact.name, *fact.aliases)
    for other in order.state.runs.values():
        if other.seq <= run.seq or not order.is_below(run.key, other.key):
            continue
        if any(change in other.input_writers.get(name, ()) for name in names):
            return other.key
    return None


def _mutation_matters(run: CellRun, fact: MutationFact, order: NotebookOrder, rerun: Collection[str]) -> bool:
    """Whether changing another cell's object in place is a hazard here.

    Adding a column in a later cell is the most common pandas pattern: a change made once, in
    notebook order, that no cell above read afterwards, is what a fresh run does too. It
    matters when a cell above read the object after the change (a fresh run shows it
    unchanged there), or when the cell has to run again (its change has to be redone on a
    re-created object). A cell that ran again on its own change is ``non-idempotent`` instead.
    """
    if fact.creator[0] == run.key or fact.name in run.repeated:
        return False
    return run.key in rerun or _read_after(run, fact, order) is not None


def _mutation_hazards(
    run: CellRun,
    order: NotebookOrder,
    namespace: Mapping[str, Any] | None = None,
    rerun: Collection[str] = (),
) -> Iterator[Hazard]:
    facts = [f for f in run.mutated if _mutation_matters(run, f, order, rerun)]
    if not facts:
        return
    parts = []
    for fact in facts:
        via = f", also bound to {', '.join(fact.aliases)}" if fact.aliases else ""
        reader = _read_after(run, fact, order)
        seen = f"; {order.label(reader)}, above it, read it after the change" if reader else ""
        parts.append(f"{fact.name} (created by {order.label(fact.creator[0])}{via}{seen})")
    names = [fact.name for fact in facts]
    yield make_hazard(
        HazardKind.MUTATION, order, run.key, names,
        f"{order.label(run.key)} changes in place {'; '.join(parts)}",
        f"work on a copy ({facts[0].name} = {_copy_expression(facts[0].name, namespace)}) or "
        "make the change in the cell that creates it",
    )


def appended_again(run: CellRun, state: TrackerState) -> list[tuple[str, Writer]]:
    """Files ``run`` appended to that an earlier run of the same cell appended to already.

    Each comes with the writer that created the file's current content, so that a rewrite
    (``"w"``) starts a new count.
    """
    out = []
    for access in run.event.files:
        if access.op not in ("append", "update"):
            continue
        token = state.names.get(FILE_PREFIX + access.path)
        if token is not None and any(w[0] == run.key and w[1] < run.seq for w in token.writers):
            out.append((access.path, token.creator))
    return out


def append_hazard(order: NotebookOrder, key: str, paths: Sequence[str]) -> Hazard:
    """``external-file`` for a cell that appends to files: running it again appends again."""
    return make_hazard(
        HazardKind.EXTERNAL_FILE, order, key, [FILE_PREFIX + p for p in paths],
        f"{order.label(key)} appends to {', '.join(paths)}: re-running it appends again",
        "write the file in one go (mode 'w'), or restart and run all cells",
    )


# -- hazards of the whole state ----------------------------------------------------------------
def edited_hazard(slot: CellSlot, order: NotebookOrder) -> Hazard | None:
    if not order.is_edited(slot.key):
        return None
    return make_hazard(
        HazardKind.EDITED, order, slot.key, (),
        f"{order.label(slot.key)} was edited after it last ran: its output is from older code",
        "re-run it (and the cells %track report lists)",
    )


def stale_hazards(
    fresh: FreshRun, order: NotebookOrder, rerun: Sequence[str], skip: Iterable[str] = ()
) -> Iterator[Hazard]:
    """``stale`` for each cell whose inputs changed after it ran (and nothing else explains it)."""
    state = order.state
    skipped = set(skip)
    fix = "re-run " + (_cells(order, rerun) if rerun else "it")
    for key in fresh.stale:
        if key in skipped:
            continue
        run, wanted = state.runs[key], fresh.runs[key]
        changed = sorted(n for n in run.inputs if run.inputs.get(n) != wanted.inputs.get(n))
        if not changed:
            continue
        sources = []
        for name in changed:
            token = state.names.get(name)
            if token is not None and token.writers[-1][0] != key:
                sources.append(token.writers[-1][0])
        by = f" since (changed by {_cells(order, sources)})" if sources else " since"
        yield make_hazard(
            HazardKind.STALE, order, key, changed,
            f"{order.label(key)} is out of date: {_names(changed)} changed{by}",
            fix,
        )


def leftover_hazards(plan: RerunPlan, order: NotebookOrder) -> Iterator[Hazard]:
    """What no re-run removes: names still bound, and paths still on disk, that an earlier
    version of a cell (or a deleted one) made and a fresh run does not."""
    by_cell: dict[str, list[str]] = {}
    for creator, name in plan.leftovers:
        if not name.startswith(RANDOM_PREFIX):
            by_cell.setdefault(creator, []).append(name)
    for creator, names in by_cell.items():
        files = [n for n in names if n.startswith(FILE_PREFIX)]
        variables = [n for n in names if not n.startswith(FILE_PREFIX)]
        who = order.label(creator) if order.is_gone(creator) else f"an earlier run of {order.label(creator)}"
        if files:
            shown = _names(files)
            yield make_hazard(
                HazardKind.EXTERNAL_FILE, order, creator, files,
                f"{order.label(creator)}: {shown} on disk came from {who}, and a fresh run does "
                "not find it there",
                f"delete {shown}, then restart the kernel and run all cells",
            )
        if variables:
            shown = _names(variables)
            yield make_hazard(
                HazardKind.HIDDEN_STATE, order, creator, variables,
                f"{order.label(creator)}: {shown} is still bound from {who}, and a fresh run does "
                "not define it",
                f"del {', '.join(sorted(variables))}, or restart the kernel and run all cells",
            )


def file_change_hazards(state: TrackerState, order: NotebookOrder, fresh: FreshRun) -> Iterator[Hazard]:
    """``external-file`` for cells that read a file whose content changed since they read it."""
    for slot in order.slots:
        run = state.runs.get(slot.key)
        if run is None:
            continue
        wanted = fresh.runs.get(slot.key)
        changed = [
            a.path
            for a in run.event.files
            if a.op == "read"
            and wanted is not None
            and run.inputs.get(FILE_PREFIX + a.path) != wanted.inputs.get(FILE_PREFIX + a.path)
        ]
        if changed:
            yield make_hazard(
                HazardKind.EXTERNAL_FILE, order, slot.key, [FILE_PREFIX + p for p in changed],
                f"{order.label(slot.key)} read {_names(changed)}, which changed after it read it",
                "re-run it so it reads the current file (and check which cell should write it)",
            )
