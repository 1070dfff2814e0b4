"""``--standalone``: the parts of nb2pipe-runtime a script uses, inlined into the script.

For scripts that must run with nothing but the notebook's own packages. The runtime's modules
are ordinary code; each imports only the standard library and (at module level, by name) other
runtime modules, so inlining is: take the modules the used names need, in dependency order,
drop their docstrings, ``__all__`` lists and imports of each other, and put their standard-
library imports first. The inlined names share the script's module namespace, so a notebook
name that clashes with one of them is refused.
"""

from __future__ import annotations

import ast
import importlib
from functools import lru_cache
from pathlib import Path

import nb2pipe_runtime
from nb2pipe.analysis import syntax
from nb2pipe.errors import CellLocation, ExportError
from nb2pipe.export.plan import ExportPlan

__all__ = ["inlined_runtime", "runtime_modules"]

_PACKAGE = "nb2pipe_runtime"


def inlined_runtime(names: list[str], plan: ExportPlan) -> str:
    """The code of the runtime modules that define ``names`` (and what they need).

    Raises
    ------
    ExportError
        A notebook name clashes with a name the inlined code defines.
    """
    needed = _modules_for(names)
    modules = [module for module in runtime_modules() if module.name in needed]
    defined = {name for module in modules for name in module.defines}
    notebook_names = set(plan.global_names)
    for cell in plan.cells:
        notebook_names |= cell.module_level_names()
    clashes = sorted(defined & notebook_names)
    if clashes:
        raise ExportError(
            CellLocation(plan.analysis.notebook.path),
            f"the notebook's {clashes[0]!r} clashes with nb2pipe-runtime's, which "
            "--standalone inlines; rename it, or export without --standalone",
        )
    imports: list[str] = []
    for module in modules:
        for line in module.imports:
            if line not in imports:
                imports.append(line)
    version = nb2pipe_runtime.__version__
    parts = [
        f"# nb2pipe-runtime {version}: the parts this script uses, inlined by "
        "`nb2pipe export --standalone`.\n",
        "\n".join(imports) + "\n",
    ]
    for module in modules:
        parts.append(f"\n\n# -- nb2pipe_runtime/{module.name}.py\n\n" + module.code)
    return "".join(parts)


class _Module:
    """One runtime module, ready to inline."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        tree = syntax.parse(source)
        lines = source.splitlines()
        self.imports: list[str] = []
        self.requires: set[str] = set()
        self.defines: set[str] = set()
        kept: list[tuple[str, bool]] = []  # code, and whether it is a def/class
        previous_end = 0
        for position, statement in enumerate(tree.body):
            first = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", []))])
            chunk = lines[previous_end : statement.end_lineno]
            previous_end = statement.end_lineno or statement.lineno
            if position == 0 and isinstance(statement, ast.Expr) and isinstance(
                statement.value, ast.Constant
            ):
                continue  # the module docstring
            if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
                continue
            if isinstance(statement, ast.ImportFrom) and (statement.module or "").startswith(_PACKAGE):
                self.requires.add((statement.module or "").split(".")[-1])
                continue
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                self.imports.append("\n".join(lines[first - 1 : statement.end_lineno]))
                continue
            if isinstance(statement, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "__all__" for target in statement.targets
            ):
                continue
            self.defines |= _bound(statement)
            definition = isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            kept.append(("\n".join(chunk).strip("\n"), definition))
        code = ""
        for index, (text, definition) in enumerate(kept):
            if index:
                code += "\n\n\n" if definition or kept[index - 1][1] else "\n"
            code += text
        self.code = code + "\n"


def _bound(statement: ast.stmt) -> set[str]:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = list(statement.targets)
    elif isinstance(statement, ast.AnnAssign):
        targets = [statement.target]
    return {node.id for target in targets for node in ast.walk(target) if isinstance(node, ast.Name)}


@lru_cache(maxsize=1)
def runtime_modules() -> tuple[_Module, ...]:
    """The runtime's modules in dependency order (each after the modules it imports)."""
    folder = Path(nb2pipe_runtime.__file__).parent
    found = {
        path.stem: _Module(path.stem, path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("*.py"))
        if path.stem != "__init__"
    }
    ordered: list[_Module] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if any(module.name == name for module in ordered):
            return
        if name in visiting:  # pragma: no cover - the runtime's imports form no cycle
            raise RuntimeError(f"import cycle in nb2pipe_runtime at {name}")
        visiting.add(name)
        for required in sorted(found[name].requires):
            visit(required)
        ordered.append(found[name])

    for name in sorted(found):
        visit(name)
    return tuple(ordered)


def _modules_for(names: list[str]) -> set[str]:
    """The modules defining ``names`` (as ``nb2pipe_runtime`` exports them) and their needs."""
    by_name = {module.name: module for module in runtime_modules()}
    needed: set[str] = set()
    pending = [importlib.import_module(_PACKAGE).__dict__[name].__module__.split(".")[-1] for name in names]
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending += sorted(by_name[name].requires)
    return needed
