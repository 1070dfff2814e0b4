"""What the exporter asks about a cell's code, answered from its syntax tree.

Each function reads one parsed cell and returns names, lines or a yes/no: the exporter plans
from these answers and never walks a tree itself. Cheap looks at the text come first where
most cells cannot match (few cells declare ``global``, define a class or await).
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterable
from functools import partial

from nb2pipe.analysis import statements
from nb2pipe.analysis.display import is_pyplot_show
from nb2pipe.analysis.parse import ParsedCell
from nb2pipe.analysis.statements import class_reads_before_binding
from nb2pipe.analysis.symbols import body_free_names

__all__ = [
    "assigned_names",
    "class_reads_in_body",
    "declared_globals",
    "defined_methods",
    "first_await",
    "first_use",
    "plots_with_pandas",
    "rewrite_needed",
    "statements_reading",
    "step_free_names",
    "top_level_definitions",
]

#: pandas' plotting entry points (DataFrame/Series/GroupBy methods)
PANDAS_PLOTTING = frozenset({"plot", "hist", "boxplot"})


def assigned_names(parsed: ParsedCell) -> tuple[str, ...]:
    """Names the cell assigns at top level, in order: a ``metrics`` cell's candidate metrics."""
    return statements.assigned_names(parsed.tree)


def top_level_definitions(parsed: ParsedCell) -> list[tuple[str, frozenset[str], int]]:
    """``(kind, names, line)`` of each top-level ``def``, ``class`` and ``import`` of the cell
    (``kind``: ``defines function``, ``defines class``, ``imports``)."""
    return list(statements.top_level_definitions(parsed.tree))


def statements_reading(parsed: ParsedCell, name: str) -> frozenset[int]:
    """Positions of the cell's top-level statements that read ``name`` anywhere inside them
    (``display`` kept in a block or a function needs an import in a script)."""
    if name not in parsed.python_source:
        return frozenset()
    return frozenset(
        position for position, statement in enumerate(parsed.tree.body)
        if any(
            isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)
            for node in ast.walk(statement)
        )
    )


def first_use(parsed: ParsedCell, name: str) -> int | None:
    """The first line of the cell that names ``name`` (for an error message), else ``None``."""
    lines = [
        node.lineno for node in ast.walk(parsed.tree)
        if isinstance(node, ast.Name) and node.id == name
    ]
    return min(lines) if lines else None


def first_await(parsed: ParsedCell) -> int | None:
    """The line of the cell's first top-level ``await``, ``async for`` or ``async with``
    (IPython runs such a cell in its event loop), else ``None``.

    A list, set or dict comprehension that awaits (``[await f(x) for x in xs]``) counts: it
    runs at once, awaited by the cell; a generator expression that awaits is an async
    generator, created without awaiting anything.
    """
    lines = list(parsed.symbols.top_level_awaits)
    source = parsed.python_source
    if "async" in source or "await" in source:  # most cells have neither: no walk
        pending: list[ast.AST] = list(parsed.tree.body)
        while pending:
            node = pending.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if isinstance(node, ast.GeneratorExp):  # only its first iterable runs here
                pending.append(node.generators[0].iter)
                continue
            if isinstance(node, (ast.AsyncFor, ast.AsyncWith, ast.Await)):
                lines.append(node.lineno)
            elif isinstance(node, ast.comprehension) and node.is_async:
                lines.append(node.target.lineno)
            pending.extend(ast.iter_child_nodes(node))
    return min(lines) if lines else None


def declared_globals(parsed: ParsedCell) -> frozenset[str]:
    """Names any ``global`` statement of the cell declares (at any depth)."""
    if "global" not in parsed.python_source:
        return frozenset()
    return frozenset(
        name for node in ast.walk(parsed.tree) if isinstance(node, ast.Global)
        for name in node.names
    )


def class_reads_in_body(parsed: ParsedCell, left_out: Collection[int] = ()) -> frozenset[str]:
    """Names the classes the cell defines outside functions may read before their bodies
    bind them (see :func:`~nb2pipe.analysis.statements.class_reads_before_binding`).

    ``left_out``: positions of top-level statements not to look at (moved elsewhere).
    """
    if "class" not in parsed.python_source:  # most cells define no class: no walk
        return frozenset()
    found: set[str] = set()
    pending: list[ast.AST] = [
        node for position, node in enumerate(parsed.tree.body) if position not in left_out
    ]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.ClassDef):
            found |= class_reads_before_binding(node)
        pending.extend(ast.iter_child_nodes(node))
    return frozenset(found)


def defined_methods(parsed: ParsedCell) -> frozenset[str]:
    """Names of the methods the cell's classes define (at any depth)."""
    if "class" not in parsed.python_source:  # most cells define no class: no walk
        return frozenset()
    methods: set[str] = set()
    for node in ast.walk(parsed.tree):
        if isinstance(node, ast.ClassDef):
            methods |= {
                statement.name for statement in node.body
                if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef))
            }
    return frozenset(methods)


def plots_with_pandas(parsed: ParsedCell) -> bool:
    """pandas' plotting on any value: ``pd.Series(x).plot()``, ``df.groupby(k).y.hist()``,
    ``df.plot.bar()`` (a call's receiver need not be a name)."""
    if not any(word in parsed.python_source for word in (*PANDAS_PLOTTING, "plot")):
        return False  # most cells name none of these
    for node in ast.walk(parsed.tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if node.func.attr in PANDAS_PLOTTING or (
                isinstance(receiver, ast.Attribute) and receiver.attr == "plot"
            ):
                return True
    return False


def rewrite_needed(
    parsed: ParsedCell, global_names: frozenset[str], pyplot_names: frozenset[str]
) -> bool:
    """Whether the cell's code must be rewritten (else the exporter copies it as text).

    Magics, ``;``, ``global`` statements and annotated globals in the body, and ``plt.show()``
    inside a block of the body (top-level ones are replaced as text).
    """
    if parsed.symbols.magics or ";" in parsed.python_source:
        return True
    pending: list[tuple[ast.AST, bool]] = [(node, True) for node in parsed.tree.body]
    while pending:
        node, top = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Global):
            return True
        if isinstance(node, ast.AnnAssign) and (
            isinstance(node.target, ast.Name) and node.target.id in global_names
        ):
            return True
        if not top and isinstance(node, ast.stmt) and is_pyplot_show(node, pyplot_names):
            return True
        if isinstance(node, ast.stmt):
            pending.extend((child, False) for child in ast.iter_child_nodes(node))
    return False


def step_free_names(
    cells: Iterable[tuple[ParsedCell, Collection[int]]],
    parameters: Iterable[str],
    declared_global: Iterable[str],
    reads: Iterable[str],
    replaced_shows: frozenset[str] | None,
) -> frozenset[str]:
    """Globals a pipeline step's function reads or changes in place.

    ``cells``: each cell of the step with the positions of its top-level statements the
    function does not hold (moved to module level, dropped, or replaced by a figure call).
    The function takes ``parameters``, declares ``declared_global`` and reads ``reads`` in
    lines of its own (``return``, ``record_metrics``). ``replaced_shows``: the pyplot names
    whose ``show()`` inside a block the script replaces (``None``: it keeps them).
    """
    statements = [
        statement
        for parsed, left_out in cells
        for position, statement in enumerate(parsed.tree.body)
        if position not in left_out
    ]
    replaced = (
        None if replaced_shows is None else partial(is_pyplot_show, pyplot_names=replaced_shows)
    )
    return body_free_names(statements, parameters, declared_global, reads, replaced)
