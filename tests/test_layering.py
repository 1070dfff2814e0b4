"""The package's layers import one way, and only the analysis reads syntax trees.

Layers: ``model`` <- ``analysis`` <- ``export`` <- ``verify`` <- ``recover``; ``tracking``
uses ``model`` and ``analysis``; ``runs`` and ``sweep`` stand beside them; ``cli``,
``server`` and the package's entry points are leaves that nothing below imports. A module
outside ``nb2pipe/analysis/`` that imports ``ast`` or ``libcst`` must be listed in
``READS_SYNTAX`` with its reason. Every ``import`` counts, also one inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "nb2pipe"

#: What each part of the package may import from the others (``errors`` and ``files`` are
#: the floor).
ALLOWED: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "files": frozenset(),
    "model": frozenset({"errors"}),
    "runs": frozenset({"errors"}),
    "analysis": frozenset({"errors", "model"}),
    "tracking": frozenset({"errors", "model", "analysis"}),
    "export": frozenset({"errors", "model", "analysis"}),
    "sweep": frozenset({"errors", "runs", "analysis"}),
    "verify": frozenset({"errors", "model", "analysis", "tracking", "export"}),
    "recover": frozenset({"errors", "model", "analysis", "tracking", "export", "verify"}),
    # leaves: they wire the layers together, and nothing below imports them
    "server": frozenset({"errors", "model", "analysis", "tracking", "export", "verify", "recover"}),
    "cli": frozenset({"__init__", "errors", "export", "verify", "recover", "runs", "sweep"}),
    "__init__": frozenset({"errors", "model", "analysis", "tracking", "export", "server"}),
    "__main__": frozenset({"cli"}),
}
#: ``files`` (the atomic writer) stands on the floor beside ``errors``: every layer may use it.
ALLOWED = {
    part: allowed | {"files"} if part not in ("errors", "files", "__main__") else allowed
    for part, allowed in ALLOWED.items()
}

#: Modules outside nb2pipe/analysis/ that may read or rewrite syntax trees, and why.
READS_SYNTAX: dict[str, str] = {
    "export/transformers.py": "the libcst transformers that rewrite a cell's code (magics, `;`, "
    "display-only lines) keeping its formatting",
    "export/cells.py": "renders the cells that need a rewrite through libcst (the transformers "
    "above), keeping their comments and formatting",
    "export/standalone.py": "rewrites nb2pipe-runtime's own modules for --standalone (annotations "
    "to strings, docstrings out); it reads no notebook code",
    "tracking/recorder.py": "%track receives IPython's own tree of each cell on the kernel's hot "
    "path (ast_transformers) and must not parse the cell a second time",
}
_SYNTAX_MODULES = frozenset({"ast", "libcst"})


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _part(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every absolute import in the file, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _target(module: str) -> str | None:
    """The part of nb2pipe an imported module belongs to (``None``: not nb2pipe's)."""
    parts = module.split(".")
    if parts[0] != "nb2pipe":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_part_is_placed() -> None:
    assert {_part(path) for path in _modules()} <= set(ALLOWED)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_down_the_layers(path: Path) -> None:
    part = _part(path)
    upward = [
        f"line {line}: {module}"
        for line, module in _imports(path)
        if (target := _target(module)) is not None
        and target != part
        and target not in ALLOWED[part]
    ]
    assert upward == [], f"{part} may import only {sorted(ALLOWED[part])}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_analysis_reads_syntax_trees(path: Path) -> None:
    relative = path.relative_to(PACKAGE).as_posix()
    if relative.startswith("analysis/"):
        return
    syntax = sorted(
        {module.split(".")[0] for _, module in _imports(path)} & _SYNTAX_MODULES
    )
    if relative in READS_SYNTAX:
        assert syntax, f"{relative} no longer reads syntax trees: take it off READS_SYNTAX"
    else:
        assert syntax == [], (
            f"{relative} imports {', '.join(syntax)}: ask nb2pipe.analysis instead (or list it "
            "in READS_SYNTAX with the reason)"
        )


def test_plan_and_steps_read_no_syntax_and_not_each_other() -> None:
    """The export's planning asks the analysis; the plan and the steps build on the plan's
    types (export/planned.py), not on each other."""
    assert "export/plan.py" not in READS_SYNTAX and "export/steps.py" not in READS_SYNTAX
    steps_imports = {module for _, module in _imports(PACKAGE / "export" / "steps.py")}
    assert "nb2pipe.export.plan" not in steps_imports


def test_a_listed_module_exists() -> None:
    for relative in READS_SYNTAX:
        assert (PACKAGE / relative).is_file(), relative
