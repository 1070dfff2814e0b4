"""The runtime stays typed, linted and standard-library only (scripts import it anywhere)."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import nb2pipe_runtime
import pytest

PACKAGE = Path(nb2pipe_runtime.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
ALLOWED = set(sys.stdlib_module_names) | {"__future__", "nb2pipe_runtime"}


@pytest.mark.parametrize(
    "command",
    [
        ["mypy", "--strict", str(PACKAGE)],
        ["ruff", "check", str(PACKAGE)],
    ],
    ids=["mypy", "ruff"],
)
def test_static_checks_pass(command: list[str]) -> None:
    if importlib.util.find_spec(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed")
    done = subprocess.run(
        [sys.executable, "-m", *command], capture_output=True, text=True, timeout=600,
        check=False, cwd=PACKAGE.parent.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _module_level_imports(path: Path) -> list[str]:
    """The top-level packages a module imports when it is imported: its imports outside
    functions (conditional ones included)."""
    names: list[str] = []
    pending: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            names += [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}, line {node.lineno}: a relative import"
            names.append((node.module or "").split(".")[0])
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            pending += ast.iter_child_nodes(node)
    return names


@pytest.mark.parametrize("path", MODULES, ids=[path.name for path in MODULES])
def test_modules_import_only_the_standard_library(path: Path) -> None:
    assert set(_module_level_imports(path)) <= ALLOWED


def test_every_module_is_checked() -> None:
    assert {path.stem for path in MODULES} >= {
        "__init__", "atomic", "audit", "cli", "config", "environment", "figures", "mlflow_log",
        "outputs", "record", "run", "shell", "sources",
    }


@pytest.mark.parametrize("name", ["audit.py", "sources.py"])
def test_audit_imports_no_other_module_of_the_package(name: str) -> None:
    """verify executes audit.py's and sources.py's source standalone, in kernels without the
    package."""
    tree = ast.parse((PACKAGE / name).read_text(encoding="utf-8"))
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    ]
    assert not [name for name in imported if name and name.startswith("nb2pipe")]
