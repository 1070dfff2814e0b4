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
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import nb2pipe_runtime

from nb2pipe.analysis import syntax
from nb2pipe.analysis.statements import bound_names
from nb2pipe.errors import CellLocation, ExportError
from nb2pipe.export.planned import ExportPlan

__all__ = ["inlined_runtime", "runtime_modules"]

_PACKAGE = "nb2pipe_runtime"


def inlined_runtime(names: list[str], plan: ExportPlan) -> str:
    """The runtime's definitions that ``names`` need, transitively, in dependency order.

    Raises
    ------
    ExportError
        A notebook name clashes with a name the inlined code defines.
    """
    definitions = _needed_definitions(names)
    defined = {name for definition in definitions for name in definition.defines}
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
    for module in runtime_modules():
        if any(definition.module == module.name for definition in definitions):
            for line in module.imports:
                if line not in imports and _import_needed(line, definitions):
                    imports.append(line)
    version = nb2pipe_runtime.__version__
    parts = [
        f"# nb2pipe-runtime {version}: the parts this script uses, inlined by "
        "`nb2pipe export --standalone`.\n",
        "\n".join(imports) + "\n",
    ]
    previous: _Definition | None = None
    for definition in definitions:
        if previous is not None and previous.module == definition.module and not (
            definition.is_block or previous.is_block
        ):
            parts.append("\n" + definition.code)
        else:
            parts.append("\n\n\n" + definition.code)
        previous = definition
    return "".join(parts) + "\n"


@dataclass(frozen=True)
class _Definition:
    """A top-level statement of a runtime module (with the comments right above it)."""

    module: str
    code: str
    defines: frozenset[str]
    #: every name the statement reads, at any depth (a superset of what it needs)
    reads: frozenset[str]
    is_block: bool  #: a ``def`` or ``class`` (two blank lines around it)


class _Module:
    """One runtime module, split into what can be inlined."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        tree = syntax.parse(source)
        lines = source.splitlines()
        #: standard-library imports, with the names they bind
        self.imports: list[str] = []
        self.import_names: dict[str, frozenset[str]] = {}
        #: other runtime modules this one imports
        self.requires: set[str] = set()
        self.definitions: list[_Definition] = []
        previous_end = 0
        for position, statement in enumerate(tree.body):
            first = min(
                [statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", []))]
            )
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
                text = "\n".join(lines[first - 1 : statement.end_lineno])
                self.imports.append(text)
                self.import_names[text] = bound_names(statement)
                continue
            if isinstance(statement, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "__all__" for target in statement.targets
            ):
                continue
            offset = statement.end_lineno - len(chunk) if statement.end_lineno else 0
            self.definitions.append(
                _Definition(
                    module=name,
                    code="\n".join(_inlinable(chunk, statement, offset)).strip("\n"),
                    defines=bound_names(statement),
                    reads=frozenset(
                        node.id for node in ast.walk(statement) if isinstance(node, ast.Name)
                    ),
                    is_block=isinstance(
                        statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
                    ),
                )
            )


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
    seen: dict[str, str] = {}
    for module in ordered:  # inlined, the modules share one namespace
        for definition in module.definitions:
            for bound in definition.defines:
                if seen.setdefault(bound, module.name) != module.name:
                    raise RuntimeError(  # pragma: no cover - tests/export keeps the names apart
                        f"nb2pipe_runtime: {bound!r} is defined in {seen[bound]}.py and "
                        f"{module.name}.py; --standalone needs one name for one thing"
                    )
    return tuple(ordered)


def _inlinable(chunk: list[str], statement: ast.stmt, offset: int) -> list[str]:
    """``chunk`` (the statement's lines; line ``offset + 1`` is its first) ready to inline.

    Annotations become strings: the runtime's modules postpone their evaluation (``from
    __future__ import annotations``), which an inlined copy cannot do without changing how the
    notebook's own code runs. Docstrings of functions and classes are left out (the runtime
    package documents them); comments stay.
    """
    edits: list[tuple[int, int, int, int, str]] = []  # (line, col, end line, end col, text)
    for node in ast.walk(statement):
        annotations: list[ast.expr] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotations += [a.annotation for a in _arguments(node.args) if a.annotation is not None]
            if node.returns is not None:
                annotations.append(node.returns)
            if _has_docstring(node):
                edits.append(_docstring_edit(node))
        elif isinstance(node, ast.ClassDef) and _has_docstring(node):
            edits.append(_docstring_edit(node))
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(_PACKAGE):
            # a runtime module imported where it is used: inlined, its names are already here
            edits.append((node.lineno, 0, node.end_lineno or node.lineno, 0, ""))
        for annotation in annotations:
            if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
                continue
            text = " ".join(ast.unparse(annotation).split())
            edits.append((
                annotation.lineno, annotation.col_offset, annotation.end_lineno or annotation.lineno,
                annotation.end_col_offset or 0, repr(text),
            ))
    lines = list(chunk)
    for line, col, end_line, end_col, text in sorted(edits, reverse=True):
        first, last = line - offset - 1, end_line - offset - 1
        if text == "":  # a docstring or an import of the runtime itself: drop its lines
            del lines[first : last + 1]
            continue
        lines[first : last + 1] = [lines[first][:col] + text + lines[last][end_col:]]
    return lines


def _arguments(args: ast.arguments) -> list[ast.arg]:
    found = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    return found + [arg for arg in (args.vararg, args.kwarg) if arg is not None]


def _has_docstring(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> bool:
    first = node.body[0]
    return (
        len(node.body) > 1
        and isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )


def _docstring_edit(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> tuple[int, int, int, int, str]:
    first = node.body[0]
    return (first.lineno, 0, first.end_lineno or first.lineno, 0, "")


def _needed_definitions(names: list[str]) -> list[_Definition]:
    """The definitions ``names`` need, transitively, in module dependency and source order."""
    modules = runtime_modules()
    by_name: dict[str, _Definition] = {}
    for module in modules:
        for definition in module.definitions:
            for name in definition.defines:
                by_name[name] = definition
    needed: set[int] = set()
    pending = [by_name[name] for name in names]
    while pending:
        definition = pending.pop()
        if id(definition) in needed:
            continue
        needed.add(id(definition))
        pending += [by_name[name] for name in sorted(definition.reads) if name in by_name]
    return [
        definition
        for module in modules
        for definition in module.definitions
        if id(definition) in needed
    ]


def _import_needed(line: str, definitions: list[_Definition]) -> bool:
    bound = next(
        (module.import_names[line] for module in runtime_modules() if line in module.import_names),
        frozenset(),
    )
    return any(bound & definition.reads for definition in definitions)
