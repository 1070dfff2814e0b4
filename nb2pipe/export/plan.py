"""Plan an export once: which cells go where, what moves to module level, the script's names.

Every decision is made here, from the one notebook analysis (each cell parsed once, its
symbols gathered once), into a frozen :class:`ExportPlan`; the renderers only carry it out.
A notebook with ``step:`` cells also gets its :class:`~nb2pipe.export.steps.PipelinePlan` here.
Nothing here depends on which packages are installed.
"""

from __future__ import annotations

import builtins
from pathlib import Path

from nb2pipe_runtime.cli import RUN_OPTIONS, STEP_OPTIONS

from nb2pipe.analysis import Dataflow, ImportBinding, NotebookAnalysis, ParsedCell, build_dataflow
from nb2pipe.analysis.display import display_decisions
from nb2pipe.analysis.facts import (
    class_reads_in_body,
    declared_globals,
    defined_methods,
    first_await,
    first_use,
    plots_with_pandas,
    rewrite_needed,
)
from nb2pipe.analysis.magics import MagicKind
from nb2pipe.analysis.randomness import resolve_callee
from nb2pipe.errors import CellLocation, ExportError, ParameterError, UnsupportedMagicError
from nb2pipe.export.hoisting import BUILTIN_NAMES, hoisted_groups
from nb2pipe.export.options import ExportOptions
from nb2pipe.export.parameters import Parameter, read_parameters
from nb2pipe.export.planned import RUNTIME_API, CellPlan, ExportPlan, ScriptNames
from nb2pipe.export.steps import keep_in_steps, plan_pipeline
from nb2pipe.model import Output

__all__ = ["RUNTIME_API", "SCRIPT_OPTIONS", "CellPlan", "ExportPlan", "ScriptNames", "plan_export"]

#: Options every script has (``dest`` names); a parameter may not take them. The runtime's CLI
#: adds them, so they are its lists (tests/export/test_script_cli.py checks its parser).
SCRIPT_OPTIONS = RUN_OPTIONS + STEP_OPTIONS
#: Calls that give code access to its scope's variables by name: ``main`` must then keep every
#: notebook variable global, as the notebook had them.
_DYNAMIC_SCOPE_CALLS = frozenset({"globals", "locals", "vars", "exec", "eval"})
#: Calls that draw or show a figure (names of methods of axes, frames and plotting modules).
_PLOT_METHODS = frozenset(
    {"plot", "hist", "scatter", "bar", "barh", "boxplot", "imshow", "pie", "heatmap", "subplots",
     "figure", "pairplot", "histplot", "lineplot", "scatterplot", "countplot", "barplot",
     "violinplot", "kdeplot", "displot", "catplot", "relplot", "matshow", "contour",
     "contourf", "hexbin", "area", "kde", "fill_between", "errorbar", "stem", "step", "show",
     "plot_tree", "from_estimator", "from_predictions", "regplot", "lmplot", "jointplot"}
)


def plan_export(analysis: NotebookAnalysis, options: ExportOptions, script_path: Path) -> ExportPlan:
    """Decide the script's shape, refusing what cannot be exported faithfully.

    Raises
    ------
    ParameterError, ExportError
        Two parameters cells, an unreadable parameter, an exported cell that reads a name only
        a ``skip`` or ``raises-exception`` cell defines, a cell saved with an error output
        (``strict_errors``), top-level ``await`` in a pipeline, a name that clashes with the
        script's options, or a pipeline that cannot be planned.
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
            parameter_cells[0], path, analysis.cells[: analysis.cells.index(parameter_cells[0])]
        )
        if parameter_cells
        else ()
    )
    exported: list[ParsedCell] = []
    for parsed in analysis.cells:
        role = parsed.cell.role
        saved_error = parsed.cell.saved_error
        if role.skip:
            notes.append(f"{parsed.cell.label}: skipped (tagged skip)")
        elif role.raises_exception:
            notes.append(f"{parsed.cell.label}: dropped (tagged raises-exception)")
        elif saved_error is not None:
            if options.strict_errors:
                raise ExportError(
                    parsed.cell.location(path),
                    f"its saved output is an error ({_error_text(saved_error)}); fix the cell, "
                    "or tag it raises-exception to leave it out of the script",
                )
            notes.append(
                f"{parsed.cell.label}: dropped: its saved output is an error "
                f"({saved_error.ename}), so it counts as raises-exception "
                "(--strict-errors refuses instead)"
            )
        elif role.injected_parameters:
            notes.append(f"{parsed.cell.label}: dropped papermill's injected-parameters cell")
        elif parsed.python_source.strip():
            exported.append(parsed)
            if parsed.automagic is not None:
                notes.append(
                    f"{parsed.cell.label}: `{parsed.cell.source.strip()}` runs as "
                    f"%{parsed.automagic} (IPython's automagic)"
                )
    flow = build_dataflow(exported)
    _check_skipped_inputs(analysis, flow)
    _check_ipython_only_names(analysis, flow, options)
    awaiting = [(parsed, line) for parsed in exported if (line := first_await(parsed)) is not None]
    if awaiting:
        notes.append(
            "main() is async, run by asyncio.run: "
            + ", ".join(parsed.cell.label for parsed, _ in awaiting)
            + " await at top level (IPython's autoawait)"
        )
    _check_option_clashes(parameters, parameter_cells[0] if parameter_cells else None, path)

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
    all_names: set[str] = set()
    for parsed in analysis.cells:
        all_names |= parsed.symbols.defines | parsed.symbols.reads
    names = _script_names(all_names)

    may_draw = {
        parsed.cell.index: uses_matplotlib and _may_draw(parsed, imports) for parsed in exported
    }

    has_steps = any(parsed.cell.role.step for parsed in exported)
    hoisted, kept = (
        keep_in_steps(exported, analysis, parameters) if has_steps else (hoisted_groups(exported), frozenset())
    )
    cells = _cell_plans(analysis, exported, hoisted, may_draw)
    global_names = _global_names(cells, parameters) if not has_steps else ()
    own_methods = _notebook_methods(analysis)
    cells = tuple(
        _with_rewrites(cell, frozenset(global_names), pyplot_names, uses_matplotlib, own_methods)
        for cell in cells
    )
    saves_figures = uses_matplotlib and any(cell.may_draw for cell in cells)
    pipeline = (
        plan_pipeline(
            cells, analysis, flow, parameters, names, all_names, kept,
            replaced_shows=pyplot_names if saves_figures else None,
        )
        if has_steps else None
    )
    if pipeline is not None and awaiting:
        parsed, line = awaiting[0]
        raise ExportError(
            parsed.cell.location(path, line),
            "top-level await in a notebook with steps: a step cannot await; wrap the code in "
            "an async function and call it with asyncio.run(...)",
        )
    return ExportPlan(
        analysis=analysis,
        options=options,
        script_path=script_path,
        cells=cells,
        parameters=parameters,
        global_names=global_names,
        names=names,
        pyplot_names=pyplot_names,
        saves_figures=saves_figures,
        notebook_names=frozenset(all_names),
        notebook_defines=frozenset(
            name for parsed in analysis.cells for name in parsed.symbols.defines
        ),
        pipeline=pipeline,
        notes=tuple(notes),
        awaits=bool(awaiting),
    )


def _cell_plans(
    analysis: NotebookAnalysis,
    exported: list[ParsedCell],
    hoisted: dict[int, frozenset[int]],
    may_draw: dict[int, bool],
) -> tuple[CellPlan, ...]:
    """The exported cells in order, each with the Markdown above it and what moves out of it."""
    plans = []
    markdown: list[str] = []
    exported_indices = {parsed.cell.index for parsed in exported}
    for cell in analysis.notebook.cells:
        if cell.kind.value == "markdown":
            markdown.append(cell.source)
            continue
        if cell.index not in exported_indices:
            continue
        parsed = analysis.parsed(cell.index)
        assert parsed is not None
        plans.append(
            CellPlan(
                parsed=parsed,
                markdown=tuple(markdown),
                groups=parsed.groups,
                hoisted_statements=hoisted.get(cell.index, frozenset()),
                is_parameters=cell.role.parameters,
                may_draw=may_draw[cell.index],
            )
        )
        markdown = []
    return tuple(plans)


# -- checks ------------------------------------------------------------------------------------
def _check_skipped_inputs(analysis: NotebookAnalysis, flow: Dataflow) -> None:
    """Refuse when an exported cell reads a name that only a dropped cell defines.

    Dropped: tagged ``skip`` or ``raises-exception`` (neither is in the script).
    """
    skipped_defines: dict[str, ParsedCell] = {}
    for parsed in analysis.cells:
        if parsed.cell.role.skip or parsed.cell.expects_error():
            for name in parsed.symbols.defines:
                skipped_defines.setdefault(name, parsed)
    if not skipped_defines:
        return
    for cell_flow in flow.flows:
        for name in sorted(cell_flow.undefined):
            source = skipped_defines.get(name)
            if source is None or source.cell.index > cell_flow.cell_index:
                continue
            user = analysis.parsed(cell_flow.cell_index)
            assert user is not None
            fix = "untag that cell"
            if source.cell.role.skip:
                dropped = f"the skipped {source.cell.label}"
            elif source.cell.role.raises_exception:
                dropped = f"{source.cell.label}, dropped as tagged raises-exception,"
            else:
                dropped = f"{source.cell.label}, dropped because its saved output is an error,"
                fix = "re-run that cell without the error"
            raise ExportError(
                user.cell.location(analysis.notebook.path, first_use(user, name)),
                f"reads {name!r}, which only {dropped} defines; "
                f"{fix} or define the name in an exported cell",
            )


#: IPython's namespace names with no plain-Python meaning (``display`` gets an import instead).
_IPYTHON_ONLY = ("get_ipython", "In", "Out", "_", "__", "___", "_ih", "_oh", "_i", "_ii")


def _check_ipython_only_names(
    analysis: NotebookAnalysis, flow: Dataflow, options: ExportOptions
) -> None:
    if options.allow_ipython:
        return
    for cell_flow in flow.flows:
        for name in _IPYTHON_ONLY:
            if name in cell_flow.undefined:
                parsed = analysis.parsed(cell_flow.cell_index)
                assert parsed is not None
                raise UnsupportedMagicError(
                    parsed.cell.location(analysis.notebook.path, first_use(parsed, name)),
                    f"uses IPython's {name!r}, which a plain script does not have; "
                    "use --allow-ipython to keep it",
                )


def _check_option_clashes(
    parameters: tuple[Parameter, ...], cell: ParsedCell | None, path: Path | None
) -> None:
    for parameter in parameters:
        if parameter.name in SCRIPT_OPTIONS:
            where = cell.cell.location(path, parameter.line) if cell else CellLocation(path)
            raise ExportError(
                where,
                f"parameter {parameter.name!r} clashes with the script's option "
                f"{parameter.option}; rename it",
            )


def _error_text(output: Output) -> str:
    """``TypeError: unsupported operand ...``, shortened to fit a one-line message."""
    text = f"{output.ename}: {output.evalue}".rstrip(": ") if output.evalue else f"{output.ename}"
    first = text.splitlines()[0] if text else "an error"
    return first if len(first) <= 80 else first[:77] + "..."


# -- names ---------------------------------------------------------------------------------------
def _script_names(taken: set[str]) -> ScriptNames:
    used = set(taken) | set(dir(builtins))

    def fresh(base: str) -> str:
        name = base
        while name in used:
            name += "_"
        used.add(name)
        return name

    defaults = ScriptNames()
    return ScriptNames(
        main=fresh(defaults.main),
        parse_params=fresh(defaults.parse_params),
        params=fresh(defaults.params),
        argv=fresh(defaults.argv),
        run=fresh(defaults.run),
        runtime={name: fresh(name) for name in RUNTIME_API},
    )


def _global_names(cells: tuple[CellPlan, ...], parameters: tuple[Parameter, ...]) -> tuple[str, ...]:
    """What a flat script's ``main`` declares ``global``.

    ``main`` runs the notebook's code in its own scope, so its variables are locals unless
    declared: functions moved to module level see them only as globals, and ``global x``
    inside any notebook function names the module's ``x``. Code that reaches its scope by
    name (``globals()``, ``exec``, ``%run``) gets every variable global, as in the notebook.
    """
    bound: set[str] = {parameter.name for parameter in parameters}
    for cell in cells:
        if not cell.is_parameters:
            bound |= cell.bound_in_body()
    # main's variables named like builtins: a function kept in main closes over them, and
    # finds nothing before they are bound or after `del`, where the notebook finds the builtin
    needed_builtins = bound & BUILTIN_NAMES
    if any(_reaches_scope_by_name(cell.parsed) for cell in cells):
        return tuple(sorted(bound))
    # a name bound both at module level (a moved import or definition) and in main: were it
    # main's local, main's reads before its own binding would fail (UnboundLocalError) where
    # the notebook read the module-level value
    needed: set[str] = {name for cell in cells for name in cell.module_level_names()}
    defined: set[str] = set()
    for cell in cells:
        symbols = cell.parsed.symbols
        # a read where the notebook has not bound the name yet finds a builtin or a star
        # import there; in main, a name it binds is an unbound local until then
        needed |= symbols.reads - defined
        defined |= symbols.defines
        module_level = cell.module_level_names()
        for info in cell.parsed.symbols.functions:
            needed |= info.global_writes
            if info.name in module_level:
                needed |= info.free_globals | info.global_mutations
        # `global x` anywhere (read only, nested, ...) names the notebook's variable, which
        # main then keeps global too
        needed |= declared_globals(cell.parsed)
        needed |= class_reads_in_body(cell.parsed, cell.moved_positions())
    return tuple(sorted((bound & needed) | needed_builtins))




def _reaches_scope_by_name(parsed: ParsedCell) -> bool:
    if any(
        magic.kind is MagicKind.LINE and magic.name == "run" for magic in parsed.symbols.magics
    ):
        return True
    return any(call.callee in _DYNAMIC_SCOPE_CALLS for call in parsed.symbols.calls)


# -- figures and rewrites ------------------------------------------------------------------------
def _may_draw(parsed: ParsedCell, imports: dict[str, ImportBinding]) -> bool:
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
    return plots_with_pandas(parsed)


def _notebook_methods(analysis: NotebookAnalysis) -> frozenset[str]:
    """Names of the methods the notebook's classes define (a bare call of one may have
    effects, whatever pandas means by the name)."""
    return frozenset(name for parsed in analysis.cells for name in defined_methods(parsed))


def _with_rewrites(
    cell: CellPlan,
    global_names: frozenset[str],
    pyplot_names: frozenset[str],
    figures: bool,
    own_methods: frozenset[str] = frozenset(),
) -> CellPlan:
    """``cell`` with the statements the script drops or replaces, and whether its code must go
    through libcst."""
    from dataclasses import replace

    if cell.is_parameters:
        return cell
    parsed = cell.parsed
    dropped, shows = display_decisions(
        parsed.tree,
        keep_display=parsed.cell.role.keep_display,
        pyplot_names=pyplot_names if figures else None,
        own_methods=own_methods,
    )
    # a statement dropped or replaced shares its line with another (`x = 1; df.head()`): libcst
    # cuts the line apart
    changed = dropped | shows
    shared = any(
        len(group.statements) > 1 and changed & set(group.statements) for group in cell.groups
    )
    return replace(
        cell,
        dropped=dropped,
        shows=shows,
        needs_rewrite=shared or rewrite_needed(parsed, global_names, pyplot_names),
    )
