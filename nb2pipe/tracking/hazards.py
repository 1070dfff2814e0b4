"""Runtime hazards: what the live state and a cell's last execution say is wrong, as :class:`Hazard`.

Each builder returns hazards of one kind for one cell, with a one-line message naming the cells
(``[n] id``) and names involved, and a one-line fix. The same builders serve the inline warnings
after a cell runs and ``%track report``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Collection, Iterable, Iterator, Mapping, Sequence

from nb2pipe.analysis import Hazard, HazardKind
from nb2pipe.analysis.hazards import fit_summary, short_labels, tracker_warning
from nb2pipe.tracking.order import CellSlot, NotebookOrder
from nb2pipe.tracking.rerun import DISK_KEY, FreshRun, RerunPlan, disk_tokens
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
    "cell_places",
    "edited_hazard",
    "execution_hazards",
    "file_change_hazards",
    "format_warning",
    "leftover_hazards",
    "make_hazard",
    "merge_duplicates",
    "removal_hazards",
    "stale_hazards",
]

#: what the short line of a ``hidden-state`` hazard says (a fresh kernel's NameError replaces it)
_NO_CELL_MAKES = "no cell makes it now"


def _names(names: Iterable[str], order: NotebookOrder | None = None, limit: int | None = None) -> str:
    """The names, sorted; past ``limit`` cut, saying how many more (the report lists all)."""
    shown = [_display_name(n, order) for n in sorted(set(names))]
    if limit is not None and len(shown) > limit:
        return ", ".join(shown[:limit]) + f" +{len(shown) - limit} more"
    return ", ".join(shown)


def cell_places(order: NotebookOrder, keys: Iterable[str], limit: int = 6) -> str:
    """Cells by their place only (``cell 3``, ``cells 2, 3, 5``), for the short line under a
    cell; past ``limit``, how many more."""
    labels = [short_labels(order.label(k)) for k in dict.fromkeys(keys)]
    more = f" +{len(labels) - limit} more" if len(labels) > limit else ""
    labels = labels[:limit]
    numbers = [label[len("cell "):] for label in labels if label.startswith("cell ") and label[5:].isdigit()]
    if len(labels) > 1 and len(numbers) == len(labels):
        return "cells " + ", ".join(numbers) + more
    return ", ".join(labels) + more


def _display_name(name: str, order: NotebookOrder | None = None) -> str:
    if name.startswith(FILE_PREFIX):
        path = name[len(FILE_PREFIX):]
        return order.short_path(path) if order is not None else path
    if name.startswith(RANDOM_PREFIX):
        return f"the {name[len(RANDOM_PREFIX):]} random generator"
    return name


def _cells(order: NotebookOrder, keys: Iterable[str]) -> str:
    return ", ".join(order.label(k) for k in dict.fromkeys(keys))


def make_hazard(
    kind: HazardKind,
    order: NotebookOrder,
    key: str,
    names: Iterable[str],
    message: str,
    fix: str,
    summary: str = "",
) -> Hazard:
    """A hazard of cell ``key``; ``summary``: its short line under the cell (see Hazard)."""
    slot = order.by_key.get(key)
    run = order.state.runs.get(key)
    cell_id = slot.cell_id if slot is not None else (run.event.cell_id if run is not None else None)
    index = slot.cell_index if slot is not None else None
    shown = tuple(sorted({_display_name(n, order) for n in names}))
    return Hazard(kind, index, cell_id, shown, message, fix, summary=fit_summary(kind, summary))


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
            noted[id(hidden)] = replace(
                hidden,
                message=hidden.message + "; a fresh kernel raises NameError here",
                summary=hidden.summary.replace(_NO_CELL_MAKES, "a fresh kernel raises NameError here"),
            )
        late = kinds.get(HazardKind.OUT_OF_ORDER)
        if late is not None and set(late.names) <= set(undefined.names):
            dropped.add(id(late))
    return [noted.get(id(h), h) for h in hazards if id(h) not in dropped]


def format_warning(hazard: Hazard) -> str:
    """The one-line inline warning printed under a cell (every message starts with its cell)."""
    return tracker_warning(hazard.kind, hazard.message, hazard.fix, hazard.summary)


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
                f"unseeded draws ({_names(callees, limit=2)}, line {first.line}): seed it "
                "(a restart does not make them the same)",
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
            f"ran {run.runs} times: draws from {_names(names, limit=2)} differ from a fresh run's; "
            "re-seed first",
        )
    return make_hazard(
        HazardKind.NON_IDEMPOTENT, order, key, names,
        f"{order.label(key)} ran {run.runs} times and changes {_names(names)} again each "
        "time (it reads and rebinds or mutates it)",
        f"re-run the cells that create {_names(names)} first, or write the result to a new name",
        f"ran {run.runs} times and changes {_names(names, limit=3)} again each time: re-run the "
        "cells that create it first",
    )


def _seed_fix(qualified: str, family: str | None) -> str:
    """How to seed a draw: the fix (a restart draws other numbers again)."""
    if family is None:
        how = "pass a seed: numpy.random.default_rng(<int>)"
    elif qualified.startswith("sklearn"):
        how = "pass random_state=<int> (or call numpy.random.seed(<int>) in an earlier cell)"
    elif family == "torch":
        how = "call torch.manual_seed(<int>) in an earlier cell"
    elif family == "numpy":
        how = "use rng = numpy.random.default_rng(<int>), or call numpy.random.seed(<int>) first"
    else:
        how = "call random.seed(<int>) in an earlier cell"
    return f"seed it: {how}"


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
            f"read {_names(hidden, limit=3)} ({short_labels(hidden[min(hidden)])}): {_NO_CELL_MAKES}; "
            "define it again above, or restart",
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
            f"read {_names(variables, limit=3)}, {how} {cell_places(order, setters, 2)} below it: move "
            "that cell up, or re-run in notebook order",
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
            f"{order.label(key)} read {_names(files, order)}, which {_cells(order, [k for ks in files.values() for k in ks])} "
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
        f"changes {_names(names, limit=3)} in place (made by {cell_places(order, [f.creator[0] for f in facts], 2)}): "
        "work on a copy, or change it where it is made",
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
    shown = ", ".join(order.short_path(p) for p in paths)
    return make_hazard(
        HazardKind.EXTERNAL_FILE, order, key, [FILE_PREFIX + p for p in paths],
        f"{order.label(key)} appends to {shown}: re-running it appends again",
        f"remove {shown} before re-running it (or write it in one go, mode 'w')",
    )


# -- hazards of the whole state ----------------------------------------------------------------
def edited_hazard(slot: CellSlot, order: NotebookOrder) -> Hazard | None:
    if not order.is_edited(slot.key):
        return None
    return make_hazard(
        HazardKind.EDITED, order, slot.key, (),
        f"{order.label(slot.key)} was edited after it last ran: its output is from older code",
        "re-run it (and the cells %track report lists)",
        "edited after it last ran: its output is from older code; re-run it",
    )


def stale_hazards(
    fresh: FreshRun,
    order: NotebookOrder,
    rerun: Sequence[str],
    skip: Iterable[str] = (),
    only: Collection[str] | None = None,
) -> Iterator[Hazard]:
    """``stale`` for each cell a fresh run would show otherwise (and nothing else explains).

    Each says why: an input that changed after the cell ran (and which cell changed it), or an
    input that has not changed since but is out of date itself (the cell that makes it in a
    fresh run has to run again first: it ran out of order, was edited, or read what changed).
    ``only``: just these cells, as just re-run (the warning under a cell run on stale input).
    """
    state = order.state
    skipped = set(skip)
    fix = "re-run " + (_cells(order, rerun) if rerun else "it")
    for key in fresh.stale:
        if key in skipped or (only is not None and key not in only):
            continue
        run, wanted = state.runs[key], fresh.runs[key]
        changed = sorted(n for n in run.inputs if run.inputs.get(n) != wanted.inputs.get(n))
        if not changed:
            continue
        since = [n for n in changed if (t := state.names.get(n)) is None or t.sig != run.inputs[n]]
        behind = [n for n in changed if n not in since]
        parts, short = [], []
        if since:
            sources = []
            for name in since:
                token = state.names.get(name)
                if token is not None and token.writers[-1][0] != key:
                    sources.append(token.writers[-1][0])
            by = f" (changed by {_cells(order, sources)})" if sources else ""
            parts.append(f"{_names(since, order)} changed after it ran{by}")
            short.append(f"{_names(since, order, 3)} changed after it ran"
                         + (f" (by {cell_places(order, sources, 2)})" if sources else ""))
        if behind:
            makers = []
            for name in behind:
                makers += [w[0] for w in wanted.input_writers.get(name, ()) if w[0] in order.by_key and w[0] != key][:1]
            inputs = "its input" if len(behind) == 1 else "its inputs"
            verb = "is" if len(behind) == 1 else "are"
            made = f": {_cells(order, makers)} must run again first" if makers else ""
            parts.append(f"{inputs} {_names(behind, order)} {verb} out of date{made}")
            short.append(f"input {_names(behind, order, 3)} {verb} out of date"
                         + (f" ({cell_places(order, makers, 2)} must run first)" if makers else ""))
        if only is not None:
            head = f"{order.label(key)} ran on out-of-date input"
        else:
            head = f"{order.label(key)} is out of date"
        todo = f"; re-run {cell_places(order, rerun)}" if rerun else ""
        yield make_hazard(
            HazardKind.STALE, order, key, changed,
            f"{head}: {'; '.join(parts)}",
            fix,
            f"{'; '.join(short)}{todo}",
        )


def leftover_hazards(plan: RerunPlan, order: NotebookOrder) -> Iterator[Hazard]:
    """What no re-run removes: names still bound that an earlier version of a cell (or a
    deleted one) made and a fresh run does not (paths: :func:`removal_hazards`)."""
    by_cell: dict[str, list[str]] = {}
    for creator, name in plan.leftovers:
        if not name.startswith((RANDOM_PREFIX, FILE_PREFIX)):
            by_cell.setdefault(creator, []).append(name)
    for creator, variables in by_cell.items():
        who = order.label(creator) if order.is_gone(creator) else f"an earlier run of {order.label(creator)}"
        if variables:
            shown = _names(variables)
            yield make_hazard(
                HazardKind.HIDDEN_STATE, order, creator, variables,
                f"{order.label(creator)}: {shown} is still bound from {who}, and a fresh run does "
                "not define it",
                f"del {', '.join(sorted(variables))}, or restart the kernel and run all cells",
            )


def removal_hazards(plan: RerunPlan, order: NotebookOrder) -> Iterator[Hazard]:
    """``external-file`` for each path to remove: an earlier run left it, and neither a
    re-run nor a restart undoes it (a restart leaves the disk as it is)."""
    by_cell: dict[str, list[str]] = {}
    for path, maker in plan.remove:
        by_cell.setdefault(maker, []).append(path)
    then = f", then re-run {_cells(order, plan.rerun)}" if plan.rerun else ""
    for maker, paths in by_cell.items():
        shown = ", ".join(order.short_path(p) for p in paths)
        run = order.state.runs.get(maker)
        appended = run is not None and any(
            a.path in paths and a.op in ("append", "update") for a in run.event.files
        )
        if appended:
            what = (f"{order.label(maker)} appends to {shown}, which already holds what earlier runs "
                    "appended: re-running it (or restarting) appends again")
        else:
            who = order.label(maker) if order.is_gone(maker) else f"an earlier run of {order.label(maker)}"
            what = (f"{order.label(maker)}: {shown} on disk came from {who}; a fresh run does not "
                    "find it there, and neither a re-run nor a restart removes it")
        yield make_hazard(
            HazardKind.EXTERNAL_FILE, order, maker, [FILE_PREFIX + p for p in paths], what,
            f"remove {shown} (or write to a fresh path){then}",
        )


def file_change_hazards(state: TrackerState, order: NotebookOrder, fresh: FreshRun) -> Iterator[Hazard]:
    """``external-file`` for cells that read a file whose content changed since they read it.

    Only when the file on disk now differs from what the cell read: a file a fresh run would
    make otherwise, but that has not changed since, is an out-of-date input (``stale``).
    """
    disk = disk_tokens(state)

    def changed_since(run: CellRun, name: str) -> bool:
        now = disk.get(name)
        return (now.sig if now is not None else None) != run.inputs.get(name)

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
            and changed_since(run, FILE_PREFIX + a.path)
        ]
        if changed:
            yield make_hazard(
                HazardKind.EXTERNAL_FILE, order, slot.key, [FILE_PREFIX + p for p in changed],
                f"{order.label(slot.key)} read {_names([FILE_PREFIX + p for p in changed], order)}, "
                "which changed after it read it",
                "re-run it so it reads the current file (and check which cell should write it)",
            )
