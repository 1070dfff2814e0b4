"""Python source to standard-library syntax trees, safe to call from several threads.

CPython (3.11 here) keeps one recursion counter per interpreter while it turns a parsed
tree into ``ast`` objects; two threads doing that at once can fail with ``SystemError: AST
constructor recursion depth mismatch`` (python/cpython#106905). ``nb2pipe verify -j`` exports
and judges notebooks in threads, and the server exports in worker threads, so every tree
nb2pipe builds is built here, one at a time. The lock costs nothing measurable: parsing holds
the GIL anyway.
"""

from __future__ import annotations

import ast
import threading
from typing import Literal, overload

__all__ = ["MAX_DEPTH", "NestedTooDeeply", "parse"]

_LOCK = threading.Lock()

#: How deeply a cell's syntax tree may nest (``a + b + ... `` of 200 terms, 200 nested
#: lambdas). nb2pipe's analysis and libcst walk trees recursively, and a few hundred levels
#: reach Python's recursion limit (1,000 frames); past this depth a cell is refused with its
#: line rather than failing somewhere with ``RecursionError``. Real code nests a few dozen.
MAX_DEPTH = 200


class NestedTooDeeply(SyntaxError):
    """The source parses (or would) but nests deeper than :data:`MAX_DEPTH`."""


@overload
def parse(
    source: str, mode: Literal["exec"] = "exec", *, max_depth: int | None = None
) -> ast.Module: ...
@overload
def parse(
    source: str, mode: Literal["eval"], *, max_depth: int | None = None
) -> ast.Expression: ...


def parse(
    source: str, mode: Literal["exec", "eval"] = "exec", *, max_depth: int | None = None
) -> ast.Module | ast.Expression:
    """``ast.parse(source, mode=mode)``, one thread at a time.

    ``max_depth``: refuse trees that nest deeper (cells are parsed with :data:`MAX_DEPTH`; the
    script nb2pipe writes nests a few levels deeper than its cells, in ``main``).

    Raises
    ------
    SyntaxError
        The source is not Python; :class:`NestedTooDeeply` when it nests deeper than
        ``max_depth`` (or than CPython's parser itself goes).
    """
    with _LOCK:
        try:
            tree = ast.parse(source, mode=mode)
        except (RecursionError, MemoryError):
            # CPython's parser gives up on deep nesting with these (3.11: MemoryError for a
            # parser stack overflow, RecursionError while building the tree)
            raise NestedTooDeeply(
                f"nested too deeply for Python's parser (more than {MAX_DEPTH} levels that "
                "nb2pipe reads); split the expression with intermediate variables"
            ) from None
    line = _too_deep(tree, max_depth) if max_depth is not None else None
    if line is not None:
        error = NestedTooDeeply(
            f"nested too deeply (more than {MAX_DEPTH} levels of syntax, which nb2pipe "
            "reads); split the expression with intermediate variables"
        )
        error.lineno = line
        raise error
    return tree  # type: ignore[return-value]


def _too_deep(tree: ast.AST, max_depth: int) -> int | None:
    """The line of a node nested deeper than ``max_depth``, or ``None``.

    Every cell goes through here, so: a one-line statement of n characters nests at most
    about n levels (each level of syntax takes a token of its own, but for a wrapper such as
    ``arguments`` or a context), so one of at most ``(max_depth - 2) // 2`` is not walked;
    the rest is walked a level at a time over ``_fields`` (twice as fast as a stack of
    ``ast.iter_child_nodes``); the line is looked for only when the tree is too deep.
    """
    node_type = ast.AST
    level: list[ast.AST] = [tree]
    depth = 0
    body = getattr(tree, "body", None)
    if isinstance(body, list):
        short = (max_depth - 2) // 2
        level = [
            statement
            for statement in body
            if statement.lineno != statement.end_lineno
            or (statement.end_col_offset or 0) - statement.col_offset > short
        ]
        depth = 1
        if not level:
            return None
    for _ in range(max_depth - depth):
        below: list[ast.AST] = []
        for node in level:
            for name in node._fields:
                value = getattr(node, name, None)
                if type(value) is list:
                    below.extend([item for item in value if isinstance(item, node_type)])
                elif isinstance(value, node_type):
                    below.append(value)
        if not below:
            return None
        level = below
    deepest = [node for node in level if any(True for _ in ast.iter_child_nodes(node))]
    if not deepest:  # only contexts (Load, Store) and operators below: no deeper
        return None
    return _line_of(tree, deepest[0])


def _line_of(tree: ast.AST, target: ast.AST) -> int:
    """The line of ``target``, or of its nearest ancestor that has one."""
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, line = stack.pop()
        line = getattr(node, "lineno", line)
        if node is target:
            return line
        stack.extend((child, line) for child in ast.iter_child_nodes(node))
    return 1
