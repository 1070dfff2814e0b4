"""The notebook's dataflow: for each code cell, which earlier cell produced each name it reads.

Calls of functions the notebook defines count at the call site: calling ``train(df)`` reads the
globals ``train`` reads, rebinds the globals it declares ``global`` and mutates what it mutates
(its mutated parameters are mapped to the arguments passed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from nb2pipe.analysis.parse import ParsedCell
from nb2pipe.analysis.symbols import BUILTIN_NAMES, CellSymbols, FunctionSymbols

__all__ = ["CellEffects", "CellFlow", "Dataflow", "build_dataflow", "cell_effects"]


@dataclass(frozen=True)
class CellEffects:
    """A cell's symbols with the effects of the notebook functions it calls folded in."""

    reads: frozenset[str]
    defines: frozenset[str]
    mutates: frozenset[str]
    deletes: frozenset[str]


@dataclass(frozen=True)
class CellFlow:
    """Where the names a cell reads come from, in top-to-bottom order."""

    cell_index: int
    effects: CellEffects
    #: name -> index of the cell whose definition (or mutation) reaches this cell
    inputs: Mapping[str, int]
    #: names read that no earlier cell defines. A fresh kernel raises NameError for those that
    #: are not kernel-provided (``symbols.NOTEBOOK_NAMES``: ``display``, ``get_ipython``, ...)
    undefined: frozenset[str]


@dataclass(frozen=True)
class Dataflow:
    """Per-cell flows over a sequence of cells (all code cells, or only the exported ones)."""

    flows: tuple[CellFlow, ...]

    def flow(self, cell_index: int) -> CellFlow | None:
        for flow in self.flows:
            if flow.cell_index == cell_index:
                return flow
        return None

    def producers(self) -> dict[str, list[int]]:
        """Name -> indices of every cell that binds it, in order."""
        out: dict[str, list[int]] = {}
        for flow in self.flows:
            for name in flow.effects.defines:
                out.setdefault(name, []).append(flow.cell_index)
        return out


def cell_effects(
    symbols: CellSymbols,
    functions: Mapping[str, FunctionSymbols],
    modules: frozenset[str] | set[str] = frozenset(),
) -> CellEffects:
    """Fold the effects of called notebook functions (``functions``: visible definitions) in.

    ``modules`` are names bound to imported modules (``np``): never counted as mutated.
    """
    reads = set(symbols.reads)
    defines = set(symbols.defines)
    mutates = set(symbols.mutates)
    local_functions = {info.name: info for info in symbols.functions}
    seen: set[str] = set()
    pending: list[tuple[str, tuple[str | None, ...], tuple[tuple[str, str], ...]]] = [
        (call.callee, call.arg_roots, call.keyword_roots) for call in symbols.calls if "." not in call.callee
    ]
    while pending:
        callee, arg_roots, keyword_roots = pending.pop()
        info = local_functions.get(callee) or functions.get(callee)
        if info is None:
            continue
        for position, name in _param_mutations(info, functions, local_functions):
            if 0 <= position < len(arg_roots) and arg_roots[position] is not None:
                mutates.add(arg_roots[position])  # type: ignore[arg-type]
            mutates.update(root for keyword, root in keyword_roots if keyword == name)
        if callee in seen:
            continue
        seen.add(callee)
        # globals read by the function are read now, unless this cell bound them before
        reads |= info.free_globals - symbols.defines
        defines |= info.global_writes
        mutates |= info.global_mutations
        # functions calling notebook functions: follow free names that are known functions
        pending.extend((name, (), ()) for name in info.free_globals if name in functions)
    if symbols.method_calls:
        # ``log.write("a")`` where a notebook class's ``write`` changes ``self``
        methods = _mutating_methods(functions, local_functions)
        mutates.update(root for root, method in symbols.method_calls if method in methods)
    if symbols.parts:
        # ``for row in data: extend(row, 0)``: changing an element changes what holds it
        wholes: dict[str, set[str]] = {}
        for part, whole in symbols.parts:
            wholes.setdefault(part, set()).add(whole)
        pending_parts = list(mutates)
        while pending_parts:
            for whole in wholes.get(pending_parts.pop(), ()):
                if whole not in mutates:
                    mutates.add(whole)
                    reads.add(whole)
                    pending_parts.append(whole)
    reads -= BUILTIN_NAMES
    # ``np.add(a, b)`` looks like ``s.add(x)``: modules are not mutated by calling their functions
    mutates -= modules
    return CellEffects(frozenset(reads), frozenset(defines), frozenset(mutates), symbols.deletes)


def _param_mutations(
    info: FunctionSymbols,
    functions: Mapping[str, FunctionSymbols],
    local: Mapping[str, FunctionSymbols],
    depth: int = 0,
) -> set[tuple[int, str]]:
    """``info``'s changed parameters, with those it passes to notebook functions that change them."""
    out = set(info.mutated_params)
    if not info.param_calls or depth > 4:
        return out
    positions = {name: index for index, name in enumerate(info.params)}
    for callee, roots in info.param_calls:
        inner = local.get(callee) or functions.get(callee)
        if inner is None or inner is info:
            continue
        for position, _name in _param_mutations(inner, functions, local, depth + 1):
            if 0 <= position < len(roots) and roots[position] in positions:
                root = roots[position]
                out.add((positions[root], root))  # type: ignore[index,arg-type]
    return out


def _mutating_methods(*scopes: Mapping[str, FunctionSymbols]) -> set[str]:
    """Methods of the notebook's classes (in ``scopes``) that change their instance: their
    own, and those calling such a method of any class on an object the instance holds."""
    out: set[str] = set()
    calls: set[tuple[str, str]] = set()
    for scope in scopes:
        for info in scope.values():
            if info.is_class:
                out |= info.mutating_methods
                calls |= info.receiver_calls
    grown = True
    while grown:
        grown = False
        for method, called in calls:
            if called in out and method not in out:
                out.add(method)
                grown = True
    return out


def build_dataflow(cells: Sequence[ParsedCell], ignore: Iterable[str] = ()) -> Dataflow:
    """Follow ``cells`` top to bottom and link each read to the cell that last bound the name.

    ``ignore`` names are taken as always defined (e.g. the parameters the CLI provides).
    """
    last_writer: dict[str, int] = {name: -1 for name in ignore}
    functions: dict[str, FunctionSymbols] = {}
    modules: set[str] = set()
    opaque_seen = False
    flows = []
    for parsed in cells:
        symbols = parsed.symbols
        modules.update(b.name for b in symbols.imports if b.attribute is None)
        effects = cell_effects(symbols, functions, modules)
        inputs = {name: last_writer[name] for name in effects.reads if name in last_writer}
        undefined = frozenset()
        if not opaque_seen:
            undefined = frozenset(name for name in effects.reads if name not in last_writer)
        flows.append(CellFlow(parsed.cell.index, effects, inputs, undefined))
        for name in effects.defines | effects.mutates:
            last_writer[name] = parsed.cell.index
        for name in effects.deletes:
            last_writer.pop(name, None)
        for info in symbols.functions:
            functions[info.name] = info
        opaque_seen = opaque_seen or symbols.opaque_defines
    return Dataflow(tuple(flows))
