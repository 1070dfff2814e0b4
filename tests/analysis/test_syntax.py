"""Every syntax tree nb2pipe builds goes through :mod:`nb2pipe.analysis.syntax` (thread-safe)."""

from __future__ import annotations

import ast
from pathlib import Path

import nb2pipe

PACKAGE = Path(nb2pipe.__file__).parent


def test_no_module_builds_syntax_trees_around_the_lock() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "syntax.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "parse"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "ast"
            ) or (isinstance(node, ast.Attribute) and node.attr == "PyCF_ONLY_AST"):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == [], "use nb2pipe.analysis.syntax.parse: " + ", ".join(offenders)
