"""A cell's top-level statements as the script places them: one group per source line run.

libcst calls ``a = 1; b = 2`` one statement line; the exporter moves or keeps such a line as a
whole. A group spans from its first decorator to its last line; the comments and blank lines
above it belong to it (they travel with a hoisted definition).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property

from nb2pipe.analysis.symbols import gather_cell_symbols

__all__ = ["StatementGroup", "assigned_names", "statement_groups"]


@dataclass(frozen=True)
class StatementGroup:
    """Top-level statements of a cell that share source lines."""

    index: int  #: position among the cell's groups (libcst's ``Module.body`` index)
    first_line: int  #: 1-based, the first decorator's line for a decorated definition
    last_line: int
    #: positions of the group's statements in the cell's ``ast.Module.body``
    statements: tuple[int, ...]
    nodes: tuple[ast.stmt, ...] = field(repr=False, compare=False)
    #: an ``import`` (or several) only
    is_import: bool
    #: a ``def``/``class`` statement alone on its lines
    definition: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None

    @cached_property
    def bound(self) -> frozenset[str]:
        """Names the group binds (computed when asked: most groups are never asked)."""
        return frozenset(name for node in self.nodes for name in bound_names(node))


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
            head
            if len(nodes) == 1 and isinstance(head, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            else None
        )
        groups.append(
            StatementGroup(
                index=index,
                first_line=_first_line(nodes[0]),
                last_line=max(node.end_lineno or node.lineno for node in nodes),
                statements=tuple(positions),
                nodes=tuple(nodes),
                is_import=imports,
                definition=definition,
            )
        )
    return tuple(groups)


def bound_names(statement: ast.stmt) -> frozenset[str]:
    """Names one top-level statement binds (imports and definitions at a glance; anything
    else through the cell-symbol analysis)."""
    if isinstance(statement, ast.Import):
        return frozenset(alias.asname or alias.name.split(".", 1)[0] for alias in statement.names)
    if isinstance(statement, ast.ImportFrom):
        return frozenset(alias.asname or alias.name for alias in statement.names if alias.name != "*")
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return frozenset({statement.name})
    symbols = gather_cell_symbols(ast.Module(body=[statement], type_ignores=[]))
    return frozenset(symbols.defines | symbols.deletes)


def _first_line(statement: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(statement, "decorator_list", None) or []
    return min([statement.lineno, *(decorator.lineno for decorator in decorators)])


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
