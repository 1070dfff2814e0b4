"""Plan an export: which cells go where, what is hoisted, what ``main`` declares ``global``.

All decisions are made here from the notebook analysis (the standard-library trees of the
cells); :mod:`nb2pipe.export.render` then only carries them out on libcst trees.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field
from pathlib import Path

from nb2pipe.analysis import NotebookAnalysis, ParsedCell, build_dataflow
from nb2pipe.analysis.magics import MagicKind
from nb2pipe.analysis.randomness import resolve_callee
from nb2pipe.analysis.symbols import definition_time_reads, gather_cell_symbols
from nb2pipe.errors import ExportError, ParameterError, UnsupportedMagicError
from nb2pipe.export.dependencies import ModuleOrigin, classify_module
from nb2pipe.export.options import ExportOptions
from nb2pipe.export.parameters import Parameter, read_parameters

__all__ = ["CellPlan", "ExportPlan", "ScriptNames", "names_bound_in_main", "plan_export"]

#: Calls after which moving an import to the top of the script could change what it imports.
_IMPORT_BARRIER_CALLS = ("os.chdir", "sys.path.", "matplotlib.use", "site.addsitedir", "os.environ")
_IMPORT_BARRIER_MAGICS = frozenset({"cd", "env", "run"})
#: Calls that draw or show a figure (names of methods of axes, frames and plotting modules).
#: pandas' plotting entry points (DataFrame/Series/GroupBy methods)
_PANDAS_PLOTTING = frozenset({"plot", "hist", "boxplot"})
_PLOT_METHODS = frozenset(
    {"plot", "hist", "scatter", "bar", "barh", "boxplot", "imshow", "pie", "heatmap", "subplots",
     "figure", "pairplot", "histplot", "lineplot", "scatterplot", "countplot", "barplot",
     "boxplot", "violinplot", "kdeplot", "displot", "catplot", "relplot", "matshow", "contour",
     "contourf", "hexbin", "area", "kde", "fill_between", "errorbar", "stem", "step", "show",
     "plot_tree", "from_estimator", "from_predictions", "regplot", "lmplot", "jointplot"}
)


@dataclass(frozen=True)
class ScriptNames:
    """Names the script itself introduces, chosen not to clash with the notebook's."""

    main: str = "main"
    parse_params: str = "parse_params"
    params: str = "params"
    argv: str = "argv"
    save_figures: str = "save_figures"
    figures_dir: str = "FIGURES_DIR"
    run: str = "run"


@dataclass(frozen=True)
class CellPlan:
    """An exported code cell and what happens to its top-level statements."""

    parsed: ParsedCell
    #: markdown cells right above it (their text becomes comments)
    markdown: tuple[str, ...]
    #: indices into the cell's top-level statements (libcst lines) moved to module level
    hoisted_statements: frozenset[int]
    is_parameters: bool
    may_draw: bool


@dataclass(frozen=True)
class ExportPlan:
    """Everything the renderer needs to write the script."""

    analysis: NotebookAnalysis
    options: ExportOptions
    script_path: Path
    cells: tuple[CellPlan, ...]
    parameters: tuple[Parameter, ...]
    #: names ``main`` binds: it declares them ``global`` so the notebook's code keeps
    #: module-level semantics (functions see them, parameters reach them)
    global_names: tuple[str, ...]
    names: ScriptNames
    pyplot_names: frozenset[str]
    uses_matplotlib: bool
    #: names defined or read anywhere in the notebook (``$name`` in a shell escape expands
    #: only these)
    notebook_names: frozenset[str]
    #: names some cell of the notebook binds
    notebook_defines: frozenset[str]
    notes: tuple[str, ...] = field(default_factory=tuple)


def plan_export(
    analysis: NotebookAnalysis,
    options: ExportOptions,
    script_path: Path,
    keep_in_body: frozenset[str] = frozenset(),
) -> ExportPlan:
    """Decide the script's shape, refusing what cannot be exported faithfully.

    ``keep_in_body`` names definitions that stay where the notebook has them instead of
    moving to module level (a pipeline step's helper that reads the step's values).

    Raises
    ------
    ParameterError, ExportError
        Two parameters cells, an unreadable parameter, an exported cell that reads a name only
        a ``skip`` or ``raises-exception`` cell defines, or top-level ``await``.
    """
    notebook = analysis.notebook
    path = notebook.path
    notes: list[str] = []
    parameter_cells = [p for p in analysis.cells if p.cell.role.parameters]
    if len(parameter_cells) > 1:
        first, second = parameter_cells[:2]
        raise ParameterError(
            second.cell.location(path),
            f"a second parameters cell (the first is {first.cell.label}); keep one",
        )
    parameters = (
        read_parameters(
            parameter_cells[0],
            path,
            analysis.cells[: analysis.cells.index(parameter_cells[0])],
        )
        if parameter_cells
        else ()
    )

    exported: list[ParsedCell] = []
    for parsed in analysis.cells:
        role = parsed.cell.role
        if role.skip:
            notes.append(f"{parsed.cell.label}: skipped (tagged skip)")
        elif role.raises_exception:
            notes.append(f"{parsed.cell.label}: dropped (tagged raises-exception)")
        elif role.injected_parameters:
            notes.append(f"{parsed.cell.label}: dropped papermill's injected-parameters cell")
        elif parsed.python_source.strip():
            exported.append(parsed)
    _check_skipped_inputs(analysis, exported)
    for parsed in exported:
        if parsed.symbols.top_level_awaits:
            raise ExportError(
                parsed.cell.location(path, parsed.symbols.top_level_awaits[0]),
                "top-level await has no plain-script equivalent; wrap the code in a function "
                "and call it with asyncio.run(...)",
            )

    _check_ipython_only_names(analysis, exported, options)
    imports = analysis.import_bindings()
    pyplot_names = frozenset(
        name for name, binding in imports.items() if binding.qualified_name == "matplotlib.pyplot"
    )
    # pandas plots through matplotlib, and `%matplotlib inline` shows figures of any library
    uses_matplotlib = any(
        binding.top_level_module in ("matplotlib", "seaborn", "pandas")
        for binding in imports.values()
    ) or any(
        magic.kind is MagicKind.LINE and magic.name == "matplotlib"
        for parsed in exported
        for magic in parsed.symbols.magics
    )
    hoisting = _Hoisting(analysis, exported, path.parent if path else None, keep_in_body)
    cells = []
    markdown: list[str] = []
    exported_indices = {parsed.cell.index for parsed in exported}
    for cell in notebook.cells:
        if cell.kind.value == "markdown":
            markdown.append(cell.source)
            continue
        if cell.index not in exported_indices:
            continue
        parsed = analysis.parsed(cell.index)
        assert parsed is not None
        cells.append(
            CellPlan(
                parsed=parsed,
                markdown=tuple(markdown),
                hoisted_statements=hoisting.hoisted.get(cell.index, frozenset()),
                is_parameters=cell.role.parameters,
                may_draw=uses_matplotlib and _may_draw(parsed, imports),
            )
        )
        markdown = []

    bound_in_main: set[str] = {p.name for p in parameters}
    for plan in cells:
        if not plan.is_parameters:
            bound_in_main |= names_bound_in_main(plan)
    all_names = set()
    for parsed in analysis.cells:
        all_names |= parsed.symbols.defines | parsed.symbols.reads
    names = _script_names(all_names)
    return ExportPlan(
        analysis=analysis,
        options=options,
        script_path=script_path,
        cells=tuple(cells),
        parameters=parameters,
        global_names=tuple(sorted(bound_in_main)),
        names=names,
        pyplot_names=pyplot_names,
        uses_matplotlib=uses_matplotlib and any(plan.may_draw for plan in cells),
        notebook_names=frozenset(all_names),
        notebook_defines=frozenset(
            name for parsed in analysis.cells for name in parsed.symbols.defines
        ),
        notes=tuple(notes),
    )


def names_bound_in_main(plan: CellPlan) -> set[str]:
    """Names the statements left in ``main`` bind (hoisted ones bind at module level)."""
    tree = plan.parsed.tree
    if plan.hoisted_statements:
        lines = _statement_lines(tree)
        body = [s for i, s in enumerate(tree.body) if lines[i] not in plan.hoisted_statements]
        symbols = gather_cell_symbols(ast.Module(body=body, type_ignores=[]))
    else:
        symbols = plan.parsed.symbols
    return set(symbols.defines | symbols.deletes)


def _script_names(taken: set[str]) -> ScriptNames:
    def fresh(base: str) -> str:
        name = base
        while name in taken:
            name += "_"
        return name

    defaults = ScriptNames()
    return ScriptNames(**{key: fresh(value) for key, value in vars(defaults).items()})


def _check_skipped_inputs(analysis: NotebookAnalysis, exported: list[ParsedCell]) -> None:
    """Refuse when an exported cell reads a name that only a dropped cell defines.

    Dropped: tagged ``skip`` or ``raises-exception`` (neither is in the script).
    """
    skipped_defines: dict[str, ParsedCell] = {}
    for parsed in analysis.cells:
        if parsed.cell.role.skip or parsed.cell.role.raises_exception:
            for name in parsed.symbols.defines:
                skipped_defines.setdefault(name, parsed)
    if not skipped_defines:
        return
    flow = build_dataflow(exported)
    for cell_flow in flow.flows:
        for name in sorted(cell_flow.undefined):
            source = skipped_defines.get(name)
            if source is None or source.cell.index > cell_flow.cell_index:
                continue
            parsed = analysis.parsed(cell_flow.cell_index)
            assert parsed is not None
            dropped = (
                f"the skipped {source.cell.label}" if source.cell.role.skip
                else f"{source.cell.label}, dropped as tagged raises-exception,"
            )
            raise ExportError(
                parsed.cell.location(analysis.notebook.path, _first_use(parsed.tree, name)),
                f"reads {name!r}, which only {dropped} defines; "
                "untag that cell or define the name in an exported cell",
            )


#: IPython's namespace names with no plain-Python meaning (``display`` gets an import instead).
_IPYTHON_ONLY = ("get_ipython", "In", "Out", "_", "__", "___", "_ih", "_oh", "_i", "_ii")


def _check_ipython_only_names(
    analysis: NotebookAnalysis, exported: list[ParsedCell], options: ExportOptions
) -> None:
    if options.allow_ipython:
        return
    flow = build_dataflow(exported)
    for cell_flow in flow.flows:
        for name in _IPYTHON_ONLY:
            if name in cell_flow.undefined:
                parsed = analysis.parsed(cell_flow.cell_index)
                assert parsed is not None
                raise UnsupportedMagicError(
                    parsed.cell.location(analysis.notebook.path, _first_use(parsed.tree, name)),
                    f"uses IPython's {name!r}, which a plain script does not have; "
                    "use --allow-ipython to keep it",
                )


def _first_use(tree: ast.Module, name: str) -> int | None:
    lines = [
        node.lineno for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id == name
    ]
    return min(lines) if lines else None


def _may_draw(parsed: ParsedCell, imports: dict) -> bool:  # type: ignore[type-arg]
    if any(
        "image/png" in output.data or "image/svg+xml" in output.data
        for output in parsed.cell.outputs
    ):
        return True
    for call in parsed.symbols.calls:
        qualified = resolve_callee(call.callee, imports)
        if qualified.startswith(("matplotlib", "seaborn")):
            return True
        if call.callee.rsplit(".", 1)[-1] in _PLOT_METHODS and "." in call.callee:
            return True
    # pandas' plotting on any value: `pd.Series(x).plot()`, `df.groupby(k).y.hist()`,
    # `df.plot.bar()` (a call's receiver need not be a name)
    for node in ast.walk(parsed.tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if node.func.attr in _PANDAS_PLOTTING or (
                isinstance(receiver, ast.Attribute) and receiver.attr == "plot"
            ):
                return True
    return False


class _Hoisting:
    """Which top-level imports and definitions move to module level.

    An import is hoisted when it imports an installed or standard module, its names are bound
    by nothing else in the exported cells, and no earlier code changed where imports come from
    (``os.chdir``, ``sys.path``, ``%cd``, ...). A ``def``/``class`` is hoisted when its name is
    bound once and everything its definition evaluates (decorators, defaults, annotations, base
    classes, class bodies) is a builtin, a hoisted import or an earlier hoisted definition.
    Hoisting keeps behaviour: the definitions still read the notebook's globals at call time.
    """

    def __init__(
        self,
        analysis: NotebookAnalysis,
        exported: list[ParsedCell],
        folder: Path | None,
        keep: frozenset[str] = frozenset(),
    ):
        self.hoisted: dict[int, frozenset[int]] = {}
        binders: dict[str, int] = {}
        import_texts: dict[str, set[str]] = {}
        for parsed in exported:
            if parsed.cell.role.parameters:
                continue
            for statement in parsed.tree.body:
                for name in _bound_names(statement):
                    binders[name] = binders.get(name, 0) + 1
                if isinstance(statement, (ast.Import, ast.ImportFrom)):
                    for name in _bound_names(statement):
                        import_texts.setdefault(name, set()).add(ast.dump(statement))
            # names bound inside compound statements, comprehensions or magics count too
            for name in parsed.symbols.defines:
                binders.setdefault(name, 1)
        safe = set(dir(builtins))
        barrier = False
        for parsed in exported:
            if parsed.cell.role.parameters:
                continue
            hoisted_lines: set[int] = set()
            line_of = _statement_lines(parsed.tree)
            blocked_lines: set[int] = set()
            for index, statement in enumerate(parsed.tree.body):
                line = line_of[index]
                if isinstance(statement, ast.ImportFrom) and any(a.name == "*" for a in statement.names):
                    # `from m import *` is only legal at module level: it always moves there
                    hoisted_lines.add(line)
                    continue
                if barrier:
                    blocked_lines.add(line)
                    continue
                if isinstance(statement, (ast.Import, ast.ImportFrom)):
                    names = _bound_names(statement)
                    if self._hoistable_import(statement, folder) and all(
                        len(import_texts.get(name, ())) == 1
                        and binders.get(name, 0) == _count_import_binds(exported, name)
                        for name in names
                    ):
                        hoisted_lines.add(line)
                        safe |= names
                        continue
                    blocked_lines.add(line)
                elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    if (
                        statement.name not in keep
                        and binders.get(statement.name, 0) == 1
                        and definition_time_reads(statement) <= safe
                    ):
                        hoisted_lines.add(line)
                        safe.add(statement.name)
                        continue
                    blocked_lines.add(line)
                else:
                    blocked_lines.add(line)
                if _is_barrier(statement, parsed):
                    barrier = True
            if any(m.kind is MagicKind.LINE and m.name in _IMPORT_BARRIER_MAGICS for m in parsed.symbols.magics):
                barrier = True
            # a libcst line with several statements moves only if all of them move
            self.hoisted[parsed.cell.index] = frozenset(hoisted_lines - blocked_lines)

    @staticmethod
    def _hoistable_import(statement: ast.Import | ast.ImportFrom, folder: Path | None) -> bool:
        if isinstance(statement, ast.ImportFrom):
            if statement.level:
                return False
            modules = [statement.module or ""]
            if modules[0] == "__future__":
                return True
        else:
            modules = [alias.name for alias in statement.names]
        return all(
            classify_module(module.split(".", 1)[0], folder)
            in (ModuleOrigin.STDLIB, ModuleOrigin.INSTALLED)
            for module in modules
        )


def _count_import_binds(exported: list[ParsedCell], name: str) -> int:
    count = 0
    for parsed in exported:
        if parsed.cell.role.parameters:
            continue
        for statement in parsed.tree.body:
            if isinstance(statement, (ast.Import, ast.ImportFrom)) and name in _bound_names(statement):
                count += 1
    return count


def _bound_names(statement: ast.stmt) -> set[str]:
    """Names one top-level statement binds, from the cell-symbol analysis."""
    return set(gather_cell_symbols(ast.Module(body=[statement], type_ignores=[])).defines)


def _statement_lines(tree: ast.Module) -> list[int]:
    """For each top-level statement, the index of the libcst line (``a; b`` is one line)."""
    out: list[int] = []
    index = -1
    previous_end = -1
    for statement in tree.body:
        if statement.lineno > previous_end:
            index += 1
        out.append(index)
        previous_end = statement.end_lineno or statement.lineno
    return out


def _is_barrier(statement: ast.stmt, parsed: ParsedCell) -> bool:
    for node in ast.walk(statement):
        if isinstance(node, ast.Call):
            text = ast.unparse(node.func)
            if text.startswith(_IMPORT_BARRIER_CALLS):
                return True
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, ast.Store):
            if ast.unparse(node).startswith(("os.environ", "sys.path")):
                return True
    return False
