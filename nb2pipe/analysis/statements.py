"""A cell's top-level statements, one group per source line run, and what each one binds.

libcst calls ``a = 1; b = 2`` one statement line; the exporter moves or keeps such a line as a
whole. A group spans from its first decorator to its last line; the comments and blank lines
above it belong to it (they travel with a hoisted definition).

This is the one place that says which names a statement binds (:func:`bound_names`); the
exporter asks the groups its questions (is it an import that may move, which globals does a
definition read when it runs, ...) instead of reading their syntax trees itself.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable

from nb2pipe.analysis.symbols import (
    definition_time_exprs,
    definition_time_reads,
    gather_cell_symbols,
)

__all__ = [
    "StatementGroup",
    "assigned_names",
    "bound_names",
    "class_reads_before_binding",
    "statement_groups",
    "top_level_definitions",
]

#: Calls after which moving an import to the top of the script could change what it imports.
_IMPORT_BARRIER_CALLS = ("os.chdir", "sys.path.", "matplotlib.use", "site.addsitedir", "os.environ")
#: Words one of those calls (or assignments) has in its text: most cells name none of them.
IMPORT_BARRIER_WORDS = ("chdir", "sys", "matplotlib", "addsitedir", "environ")
_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclass(frozen=True)
class StatementGroup:
    """Top-level statements of a cell that share source lines."""

    index: int  #: position among the cell's groups (libcst's ``Module.body`` index)
    first_line: int  #: 1-based, the first decorator's line for a decorated definition
    last_line: int
    #: positions of the group's statements in the cell's ``ast.Module.body``
    statements: tuple[int, ...]
    #: an ``import`` (or several) only
    is_import: bool
    #: the name a ``def``/``class`` statement alone on its lines defines
    definition: str | None
    #: that definition is a ``class``
    is_class: bool = False
    _nodes: tuple[ast.stmt, ...] = field(default=(), repr=False, compare=False)

    @cached_property
    def bound(self) -> frozenset[str]:
        """Names the group binds (computed when asked: most groups are never asked)."""
        return frozenset(name for node in self._nodes for name in bound_names(node))

    # -- imports -----------------------------------------------------------------------------
    @property
    def star_import(self) -> bool:
        """``from m import *``: only legal at module level."""
        return any(
            isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names)
            for node in self._nodes
        )

    @property
    def absolute_imports(self) -> bool:
        """Every import is absolute (a relative one stays where the notebook has it)."""
        return not any(isinstance(node, ast.ImportFrom) and node.level for node in self._nodes)

    def import_identities(self) -> tuple[str, ...]:
        """One text per import statement, equal for equal imports (``import x`` twice)."""
        return tuple(ast.dump(node) for node in self._nodes)

    def import_lines(self, source: str) -> tuple[str, ...]:
        """The text of each import statement of the group, as ``source`` has it."""
        return tuple(_segment(source, node) for node in self._nodes)

    # -- definitions -------------------------------------------------------------------------
    @cached_property
    def definition_reads(self) -> frozenset[str]:
        """Globals the ``def``/``class`` statement itself evaluates (not its function bodies)."""
        node = self._definition()
        return frozenset(definition_time_reads(node)) if node is not None else frozenset()

    @cached_property
    def definition_names(self) -> frozenset[str]:
        """Every name the ``def``/``class`` statement may read when it runs, builtins included
        (decorators, defaults, annotations; a class's bases and body): a superset."""
        node = self._definition()
        return frozenset(_definition_names(node)) if node is not None else frozenset()

    @cached_property
    def class_reads_before_binding(self) -> frozenset[str]:
        """For a ``class``: names its body binds and may read before binding them."""
        node = self._definition()
        if not isinstance(node, ast.ClassDef):
            return frozenset()
        return frozenset(class_reads_before_binding(node))

    def _definition(self) -> _Definition | None:
        if self.definition is None:
            return None
        node = self._nodes[0]
        assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        return node

    # -- effects on the rest of the script -----------------------------------------------------
    def changes_import_path(self) -> bool:
        """Whether the group changes where later imports come from (``os.chdir``, ``sys.path``,
        ``matplotlib.use``, ``os.environ[...] = ...``)."""
        return any(_is_barrier(node) for node in self._nodes)


def statement_groups(tree: ast.Module) -> tuple[StatementGroup, ...]:
    """The cell's top-level statements grouped by shared lines, in order."""
    spans: list[list[int]] = []
    previous_end = -1
    for position, statement in enumerate(tree.body):
        first = _first_line(statement)
        if spans and first <= previous_end:
            spans[-1].append(position)
        else:
            spans.append([position])
        previous_end = max(previous_end, statement.end_lineno or statement.lineno)
    groups = []
    for index, positions in enumerate(spans):
        nodes = [tree.body[p] for p in positions]
        imports = all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in nodes)
        head = nodes[0]
        definition = (
            head if len(nodes) == 1 and isinstance(head, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            else None
        )
        groups.append(
            StatementGroup(
                index=index,
                first_line=_first_line(nodes[0]),
                last_line=max(node.end_lineno or node.lineno for node in nodes),
                statements=tuple(positions),
                is_import=imports,
                definition=definition.name if definition is not None else None,
                is_class=isinstance(definition, ast.ClassDef),
                _nodes=tuple(nodes),
            )
        )
    return tuple(groups)


def bound_names(statement: ast.stmt) -> frozenset[str]:
    """Names one statement binds in the scope it runs in: the one answer to that question.

    Imports and definitions at a glance; anything else through the cell-symbol analysis
    (assignment targets, ``for``/``with``/``except`` targets, walrus, ``del``).
    """
    if isinstance(statement, ast.Import):
        return frozenset(alias.asname or alias.name.split(".", 1)[0] for alias in statement.names)
    if isinstance(statement, ast.ImportFrom):
        return frozenset(alias.asname or alias.name for alias in statement.names if alias.name != "*")
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return frozenset({statement.name})
    symbols = gather_cell_symbols(ast.Module(body=[statement], type_ignores=[]))
    return frozenset(symbols.defines | symbols.deletes)


def top_level_definitions(tree: ast.Module) -> Iterable[tuple[str, frozenset[str], int]]:
    """``(kind, names, line)`` of each top-level statement that binds a function, a class or a
    module (``kind``: ``defines function``, ``defines class``, ``imports``)."""
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield "defines function", frozenset({statement.name}), statement.lineno
        elif isinstance(statement, ast.ClassDef):
            yield "defines class", frozenset({statement.name}), statement.lineno
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            yield "imports", bound_names(statement), statement.lineno


def _first_line(statement: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(statement, "decorator_list", None) or []
    return min([statement.lineno, *(decorator.lineno for decorator in decorators)])


def _segment(source: str, node: ast.stmt) -> str:
    text = ast.get_source_segment(source, node)
    assert text is not None
    return text


def assigned_names(tree: ast.Module) -> tuple[str, ...]:
    """Names a cell assigns at top level, in order: a ``metrics`` cell's candidate metrics."""
    names: list[str] = []

    def add(target: ast.AST) -> None:
        if isinstance(target, ast.Name):
            if target.id not in names:
                names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                add(element)

    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                add(target)
        elif isinstance(statement, (ast.AnnAssign, ast.AugAssign)) and (
            not isinstance(statement, ast.AnnAssign) or statement.value is not None
        ):
            add(statement.target)
    return tuple(names)


# -- what a definition reads when it runs --------------------------------------------------------
def _definition_names(node: _Definition) -> set[str]:
    names: set[str] = set()
    pending: list[ast.AST] = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pending += definition_time_exprs(current)
            continue
        if isinstance(current, ast.Lambda):
            pending += _argument_defaults(current.args)
            continue
        if isinstance(current, ast.Name) and isinstance(current.ctx, ast.Load):
            names.add(current.id)
        pending.extend(ast.iter_child_nodes(current))
    return names


#: Class-body statements after which the names they bind are bound for the rest of the body.
_DEFINITE_BINDERS = (
    ast.Assign, ast.AnnAssign, ast.AugAssign, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
    ast.Import, ast.ImportFrom,
)


def class_reads_before_binding(node: ast.ClassDef) -> set[str]:
    """Names a class body binds and may read before it binds them (``alpha = alpha + 1``).

    Python looks such a name up in the class's namespace, then in the module's globals,
    skipping the variables of an enclosing function: inside ``main`` the read finds a
    notebook variable only if it is global, and a class moved to module level reads it
    when the script starts.
    """
    bound: set[str] = set()
    binds: set[str] = set()
    early: set[str] = set()
    for statement in node.body:
        loads, stores = _class_scope_names(statement)
        early |= loads - bound
        binds |= stores
        if isinstance(statement, _DEFINITE_BINDERS):
            bound |= stores
    return early & binds


def _class_scope_names(statement: ast.stmt) -> tuple[set[str], set[str]]:
    """Names one class-body statement loads and binds in the class's own scope."""
    loads: set[str] = set()
    stores: set[str] = set()
    pending: list[ast.AST] = [statement]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stores.add(node.name)
            pending += node.decorator_list
            if isinstance(node, ast.ClassDef):
                pending += [*node.bases, *(keyword.value for keyword in node.keywords)]
            else:
                pending += _argument_defaults(node.args)
            continue
        if isinstance(node, ast.Lambda):
            pending += _argument_defaults(node.args)
            continue
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            pending.append(node.generators[0].iter)  # the rest runs in its own scope
            continue
        if isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else stores).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            stores |= {
                (alias.asname or alias.name).split(".", 1)[0] for alias in node.names
                if alias.name != "*"
            }
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            stores.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            stores.add(node.rest)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            loads.add(node.target.id)
        pending.extend(ast.iter_child_nodes(node))
    return loads, stores


def _argument_defaults(arguments: ast.arguments) -> list[ast.expr]:
    return [*arguments.defaults, *(d for d in arguments.kw_defaults if d is not None)]


def _is_barrier(statement: ast.stmt) -> bool:
    for node in ast.walk(statement):
        if isinstance(node, ast.Call):
            text = ast.unparse(node.func)
            if text.startswith(_IMPORT_BARRIER_CALLS):
                return True
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, ast.Store):
            if ast.unparse(node).startswith(("os.environ", "sys.path")):
                return True
    return False
