"""What a script's code says about one of its calls, for the layers that read scripts rather
than notebooks (the sweep)."""

from __future__ import annotations

import ast

from nb2pipe.analysis.syntax import parse

__all__ = ["first_keyword"]


def first_keyword(source: str, function: str) -> str | None:
    """The first keyword argument of the first call of ``function`` (a name, or an attribute
    ``x.function``) in ``source``, in reading order; ``None`` when there is none or the source
    does not parse."""
    try:
        tree = parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return None
    calls = [
        node for node in ast.walk(tree)
        if isinstance(node, ast.Call) and (
            (isinstance(node.func, ast.Name) and node.func.id == function)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == function)
        )
    ]
    for call in sorted(calls, key=lambda node: (node.lineno, node.col_offset)):
        for keyword in call.keywords:
            if keyword.arg is not None:
                return keyword.arg
    return None
