"""Literal values a Python module assigns at top level (``IMAGE = "repo/img:1"``).

An export reads back the settings it wrote into a generated file of its own (the image a
``--kfp`` file names), so that ``nb2pipe export --check`` without the export's flags renders the
same file again.
"""

from __future__ import annotations

import ast
from typing import Any

from nb2pipe.analysis import syntax

__all__ = ["module_constants"]


def module_constants(source: str, names: frozenset[str]) -> dict[str, Any]:
    """The literal values ``source`` assigns to ``names`` at top level (``NAME = literal``);
    a name assigned anything else, or not at all, is absent. Source that does not parse has
    none."""
    try:
        tree = syntax.parse(source)
    except SyntaxError:
        return {}
    found: dict[str, Any] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name) and node.targets[0].id in names
        ):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                found.pop(node.targets[0].id, None)
    return found
