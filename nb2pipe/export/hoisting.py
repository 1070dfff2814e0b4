"""Which statements of the exported cells move to module level: imports and definitions.

One pass over the cells, in order, with the notebook's own reasons to leave a statement where
it is (see :func:`hoisted_groups`). A pipeline's planning asks again with the definitions it
keeps inside their step (closures over a step's values); the cells' analysis is not repeated.
"""

from __future__ import annotations

import builtins

from nb2pipe.analysis import ParsedCell
from nb2pipe.analysis.magics import MagicKind
from nb2pipe.analysis.statements import IMPORT_BARRIER_WORDS

__all__ = ["BUILTIN_NAMES", "hoisted_groups"]

#: Magics after which moving an import to the top of the script could change what it imports.
_IMPORT_BARRIER_MAGICS = frozenset({"cd", "env", "run"})
#: Builtins a notebook may rebind (``input = 3``): then the notebook's variables.
BUILTIN_NAMES = frozenset(dir(builtins)) - {"__name__", "__doc__", "__file__"}


def hoisted_groups(exported: list[ParsedCell], keep: frozenset[str] = frozenset()) -> dict[int, frozenset[int]]:
    """Which statement groups of each cell move to module level.

    An import moves when it is absolute, its names are
    bound by nothing else in the exported cells, and no earlier code changed where imports
    come from (``os.chdir``, ``sys.path``, ``%cd``, ...). A ``def``/``class`` moves when its
    name is bound once and everything its definition evaluates (decorators, defaults,
    annotations, base classes, class bodies) is a builtin, a moved import or an earlier moved
    definition. Neither moves above code that reads its name before the notebook binds it
    (``try: helper except NameError``: the notebook has the NameError there). ``keep`` names
    definitions that stay in their step. Moving keeps behaviour:
    definitions still read the notebook's variables when called (see ``_global_names``).
    Whether a module is installed never matters.
    """
    cells = [parsed for parsed in exported if not parsed.cell.role.parameters]
    candidates: set[str] = set()
    import_texts: dict[str, set[str]] = {}
    for parsed in cells:
        for group in parsed.groups:
            if group.is_import:
                for identity in group.import_identities():
                    for name in group.bound:
                        import_texts.setdefault(name, set()).add(identity)
                candidates |= group.bound
            elif group.definition is not None:
                candidates.add(group.definition)
    # how many statements bind each candidate name (a name bound twice stays in place)
    binders: dict[str, int] = {}
    for parsed in cells:
        defined_here = (parsed.symbols.defines | parsed.symbols.deletes) & candidates
        if not defined_here:
            continue
        cell_groups = parsed.groups
        if len(cell_groups) == 1:
            for name in defined_here:
                binders[name] = binders.get(name, 0) + 1
            continue
        counted: set[str] = set()
        for group in cell_groups:
            for name in group.bound & defined_here:
                binders[name] = binders.get(name, 0) + 1
                counted.add(name)
        for name in defined_here - counted:  # bound only inside a magic's code
            binders[name] = binders.get(name, 0) + 1
    import_binds: dict[str, int] = {}
    for parsed in cells:
        for group in parsed.groups:
            if group.is_import:
                for name in group.bound:
                    import_binds[name] = import_binds.get(name, 0) + 1

    hoisted: dict[int, frozenset[int]] = {}
    # builtins the notebook rebinds (`input = 3`) are its variables, not safe to read early
    rebound_builtins: set[str] = set()
    for parsed in exported:
        rebound_builtins |= parsed.symbols.defines & BUILTIN_NAMES
    safe = set(dir(builtins)) - rebound_builtins
    barrier = False
    #: names read before the notebook binds them, by this cell and the cells above it (the
    #: notebook has a NameError there: a definition moved above the read would hide it)
    early: set[str] = set()
    bound: set[str] = set()  # names the cells above have bound (and not deleted)
    for parsed in exported:
        early |= parsed.symbols.reads - bound
        bound |= parsed.symbols.defines  # (in place: a 100,000-cell notebook binds as many)
        bound -= parsed.symbols.deletes
        if parsed.cell.role.parameters:
            continue
        moved: set[int] = set()
        # (a cheap look at the text first: most cells name none of these)
        might_move_imports = any(word in parsed.python_source for word in IMPORT_BARRIER_WORDS)
        for group in parsed.groups:
            if group.star_import:
                moved.add(group.index)  # `from m import *` is only legal at module level
                continue
            if barrier:
                continue
            if group.is_import:
                if group.absolute_imports and all(
                    len(import_texts.get(name, ())) == 1
                    and binders.get(name, 0) == import_binds.get(name, 0)
                    and name not in early
                    for name in group.bound
                ):
                    moved.add(group.index)
                    safe |= group.bound
                    continue
            elif group.definition is not None:
                name = group.definition
                if (
                    name not in keep
                    and binders.get(name, 0) == 1
                    and name not in early
                    and group.definition_reads <= safe
                    and not (rebound_builtins and group.definition_names & rebound_builtins)
                    and not (group.is_class and group.class_reads_before_binding - safe)
                ):
                    moved.add(group.index)
                    safe.add(name)
                    continue
            if might_move_imports and group.changes_import_path():
                barrier = True
        if any(
            magic.kind is MagicKind.LINE and magic.name in _IMPORT_BARRIER_MAGICS
            for magic in parsed.symbols.magics
        ):
            barrier = True
        hoisted[parsed.cell.index] = frozenset(moved)
    return hoisted
