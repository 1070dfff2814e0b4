"""What a cell's code touches, from its :class:`CellSymbols`: names, seeds and random draws.

The recorder starts from these static effects and corrects them with what the kernel showed;
the fresh-run simulation uses them as they are for cells that never ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from nb2pipe.analysis import CellSymbols, FunctionSymbols, ImportBinding, cell_effects
from nb2pipe.analysis.randomness import random_calls
from nb2pipe.tracking.folders import folder_effects
from nb2pipe.tracking.log import RandomUse
from nb2pipe.tracking.values import constant_fingerprints

__all__ = ["StaticEffects", "import_bindings", "static_effects"]

#: Line magics that clear the user namespace.
_RESET_MAGICS = frozenset({"reset"})


@dataclass(frozen=True)
class StaticEffects:
    defines: frozenset[str]
    reads: frozenset[str]
    mutates: frozenset[str]
    deletes: frozenset[str]
    rebinds: frozenset[str]
    seeds: tuple[str, ...]
    draws: tuple[RandomUse, ...]
    imports: Mapping[str, str]
    reset: bool
    opaque: bool
    #: may create, rename or remove paths (the recorder lists the folder around it)
    changes_paths: bool = False
    exclusive: bool = False  #: creates folders in a way that fails when they exist
    #: name -> fingerprint of the value the cell's own code fixes (a literal, an import)
    constants: Mapping[str, str] = field(default_factory=dict)


def import_bindings(imports: Mapping[str, str]) -> dict[str, ImportBinding]:
    """Import bindings rebuilt from ``name -> qualified name`` (what :func:`resolve_callee` needs)."""
    return {name: ImportBinding(name, qualified, None, 0) for name, qualified in imports.items()}


def static_effects(
    symbols: CellSymbols,
    functions: Mapping[str, FunctionSymbols],
    imports: Mapping[str, str],
) -> StaticEffects:
    """The effects of running a cell with ``symbols``, given the functions and imports in scope."""
    effects = cell_effects(symbols, functions)
    own_imports = {binding.name: binding.qualified_name.lstrip(".") for binding in symbols.imports}
    # only the names the cell's calls start with are ever resolved: not every import the
    # session made (this runs on every cell %track sees)
    heads = {call.callee.partition(".")[0] for call in symbols.calls}
    bindings = import_bindings({
        head: qualified for head in heads
        if (qualified := own_imports.get(head, imports.get(head))) is not None
    })
    seeds: list[str] = []
    draws: list[RandomUse] = []
    if symbols.calls:
        for scanned in random_calls(sorted(symbols.calls, key=lambda c: c.line), bindings):
            call, draw = scanned.call, scanned.draw
            if scanned.seeds is not None:
                if scanned.seeds not in seeds:
                    seeds.append(scanned.seeds)
            elif draw is not None and (draw.seeded_by is None or draw.seeded_by not in seeds):
                draws.append(RandomUse(call.callee, scanned.qualified, draw.seeded_by, call.line))
    reset = any(magic.name in _RESET_MAGICS for magic in symbols.magics)
    called = _called_functions(symbols, functions) if symbols.calls else []
    rebinds = symbols.rebinds | _function_rebinds(called)
    folders = folder_effects(symbols, bindings)
    constants = (
        constant_fingerprints(symbols.constants, _called_global_writes(called))
        if symbols.constants
        else {}
    )
    return StaticEffects(
        defines=effects.defines,
        reads=effects.reads,
        mutates=effects.mutates,
        deletes=effects.deletes,
        rebinds=rebinds,
        seeds=tuple(seeds),
        draws=tuple(draws),
        imports=own_imports,
        reset=reset,
        opaque=symbols.opaque_defines,
        changes_paths=folders.changes_paths,
        exclusive=folders.exclusive,
        constants=constants,
    )


def _function_rebinds(called: list[FunctionSymbols]) -> frozenset[str]:
    """Globals that the notebook functions the cell calls (``called``) rebind from their own
    value.

    ``def bump(): global n; n += 1`` called by the cell rebinds ``n`` from ``n``, as ``n += 1``
    in the cell would: running the cell again changes ``n`` again.
    """
    return frozenset(name for info in called for name in info.global_writes & info.free_globals)


def _called_global_writes(called: list[FunctionSymbols]) -> set[str]:
    """Globals that the notebook functions the cell calls may rebind (``global n``)."""
    return {name for info in called for name in info.global_writes}


def _called_functions(
    symbols: CellSymbols, functions: Mapping[str, FunctionSymbols]
) -> list[FunctionSymbols]:
    """The notebook functions the cell calls, and those they call in turn."""
    local = {info.name: info for info in symbols.functions}
    pending = [call.callee for call in symbols.calls if "." not in call.callee]
    out: list[FunctionSymbols] = []
    seen: set[str] = set()
    while pending:
        callee = pending.pop()
        if callee in seen:
            continue
        seen.add(callee)
        info = local.get(callee) or functions.get(callee)
        if info is None:
            continue
        out.append(info)
        pending.extend(name for name in info.free_globals if name in functions or name in local)
    return out
