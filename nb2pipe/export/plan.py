"""Plan an export once: which cells go where, what moves to module level, the script's names.

Every decision is made here, from the one notebook analysis (each cell parsed once, its
symbols gathered once), into a frozen :class:`ExportPlan`; the renderers only carry it out.
A notebook with ``step:`` cells also gets its :class:`~nb2pipe.export.steps.PipelinePlan` here.
Nothing here depends on which packages are installed.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nb2pipe.analysis import ImportBinding, NotebookAnalysis, ParsedCell, build_dataflow
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
from nb2pipe.analysis.statements import IMPORT_BARRIER_WORDS, StatementGroup
from nb2pipe.errors import CellLocation, ExportError, ParameterError, UnsupportedMagicError
from nb2pipe.export.options import ExportOptions
from nb2pipe.export.parameters import Parameter, read_parameters
from nb2pipe.model import Output

if TYPE_CHECKING:
    from nb2pipe.export.steps import PipelinePlan

__all__ = ["RUNTIME_API", "SCRIPT_OPTIONS", "CellPlan", "ExportPlan", "ScriptNames", "plan_export"]

#: What scripts import from nb2pipe-runtime (each under another name if the notebook uses it).
RUNTIME_API = (
    "Pipeline", "Run", "json_or_text", "optional", "parse_args", "record_metrics", "save_figures",
    "shell", "shell_output", "shell_script", "write_file",
)
#: Options every script has (``dest`` names); a parameter may not take them. Kept equal to
#: nb2pipe_runtime.cli's RUN_OPTIONS and STEP_OPTIONS (a test checks).
SCRIPT_OPTIONS = (
    "config", "dump_config", "runs_dir", "experiment", "tracking_uri", "metrics_file", "step",
    "outputs_dir",
)
#: Magics after which moving an import to the top of the script could change what it imports.
_IMPORT_BARRIER_MAGICS = frozenset({"cd", "env", "run"})
#: Calls that give code access to its scope's variables by name: ``main`` must then keep every
#: notebook variable global, as the notebook had them.
_DYNAMIC_SCOPE_CALLS = frozenset({"globals", "locals", "vars", "exec", "eval"})
#: Calls that draw or show a figure (names of methods of axes, frames and plotting modules).
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
    run: str = "run"
    #: nb2pipe-runtime's names -> the script's names for them
    runtime: dict[str, str] = field(default_factory=lambda: {name: name for name in RUNTIME_API})

    def of(self, runtime_name: str) -> str:
        """The script's name for ``runtime_name`` (``shell`` -> ``shell_`` when taken)."""
        return self.runtime[runtime_name]


@dataclass(frozen=True)
class CellPlan:
    """An exported code cell and what happens to its top-level statements."""

    parsed: ParsedCell
    #: markdown cells right above it (their text becomes comments)
    markdown: tuple[str, ...]
    #: the cell's top-level statements, grouped as libcst lines
    groups: tuple[StatementGroup, ...]
    #: indices of the groups moved to module level
    hoisted_statements: frozenset[int]
    is_parameters: bool
    may_draw: bool
    #: top-level statements (positions in the cell's ``ast.Module.body``) dropped because they
    #: only showed a value, and ``plt.show()`` statements that save the figures instead
    dropped: frozenset[int] = frozenset()
    shows: frozenset[int] = frozenset()
    #: the code must be rewritten with libcst (magics, ``;``, ...) rather than copied as text
    needs_rewrite: bool = False

    @property
    def index(self) -> int:
        return self.parsed.cell.index

    def bound_in_body(self) -> frozenset[str]:
        """Names the statements that stay in the body (``main`` or a step) bind."""
        if not self.hoisted_statements:
            symbols = self.parsed.symbols
            return frozenset(symbols.defines | symbols.deletes)
        return frozenset(
            name
            for group in self.groups
            if group.index not in self.hoisted_statements
            for name in group.bound
        )

    def module_level_names(self) -> frozenset[str]:
        """Names the statements moved to module level bind."""
        return frozenset(
            name for group in self.groups if group.index in self.hoisted_statements
            for name in group.bound
        )

    def moved_positions(self) -> frozenset[int]:
        """Positions (in the cell's top-level statements) of the statements moved to module
        level."""
        return frozenset(
            position for group in self.groups if group.index in self.hoisted_statements
            for position in group.statements
        )

    @property
    def has_body(self) -> bool:
        """Whether statements stay in the body (not everything moves to module level)."""
        return len(self.hoisted_statements) < len(self.groups)


@dataclass(frozen=True)
class ExportPlan:
    """Everything the renderers need to write the script (and a pipeline's modules)."""

    analysis: NotebookAnalysis
    options: ExportOptions
    script_path: Path
    cells: tuple[CellPlan, ...]
    parameters: tuple[Parameter, ...]
    #: names ``main`` of a flat script declares ``global``: the ones module-level notebook
    #: functions read or rebind (every variable when the code reaches its scope by name)
    global_names: tuple[str, ...]
    names: ScriptNames
    pyplot_names: frozenset[str]
    #: some cell may draw a figure, which the script then saves
    saves_figures: bool
    #: names defined or read anywhere in the notebook (``$name`` in a shell escape expands
    #: only these)
    notebook_names: frozenset[str]
    #: names some cell of the notebook binds
    notebook_defines: frozenset[str]
    #: the steps, when the notebook has ``step:`` cells
    pipeline: PipelinePlan | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: some cell awaits at top level (IPython's autoawait): ``main`` is ``async``, run by
    #: ``asyncio.run``
    awaits: bool = False

    @property
    def notebook_reference(self) -> str:
        """The notebook's path relative to the script's folder (POSIX form)."""
        import os

        notebook = self.analysis.notebook
        if notebook.path is None:
            return notebook.name
        try:
            relative = os.path.relpath(notebook.path.resolve(), self.script_path.resolve().parent)
        except ValueError:  # another drive on Windows
            relative = notebook.path.name
        return Path(relative).as_posix()


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
    from nb2pipe.export.steps import plan_steps  # steps.py builds on this module

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
    groups = {parsed.cell.index: parsed.groups for parsed in exported}
    all_names: set[str] = set()
    for parsed in analysis.cells:
        all_names |= parsed.symbols.defines | parsed.symbols.reads
    names = _script_names(all_names)

    may_draw = {
        parsed.cell.index: uses_matplotlib and _may_draw(parsed, imports) for parsed in exported
    }

    def cell_plans(keep: frozenset[str]) -> tuple[CellPlan, ...]:
        hoisted = _hoisted_groups(exported, groups, keep)
        plans = []
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
            plans.append(
                CellPlan(
                    parsed=parsed,
                    markdown=tuple(markdown),
                    groups=groups[cell.index],
                    hoisted_statements=hoisted.get(cell.index, frozenset()),
                    is_parameters=cell.role.parameters,
                    may_draw=may_draw[cell.index],
                )
            )
            markdown = []
        return tuple(plans)

    cells, pipeline = plan_steps(cell_plans, analysis, parameters, names, all_names)
    if pipeline is not None and awaiting:
        parsed, line = awaiting[0]
        raise ExportError(
            parsed.cell.location(path, line),
            "top-level await in a notebook with steps: a step cannot await; wrap the code in "
            "an async function and call it with asyncio.run(...)",
        )
    global_names = _global_names(cells, parameters) if pipeline is None else ()
    own_methods = _notebook_methods(analysis)
    cells = tuple(
        _with_rewrites(cell, frozenset(global_names), pyplot_names, uses_matplotlib, own_methods)
        for cell in cells
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
        saves_figures=uses_matplotlib and any(cell.may_draw for cell in cells),
        notebook_names=frozenset(all_names),
        notebook_defines=frozenset(
            name for parsed in analysis.cells for name in parsed.symbols.defines
        ),
        pipeline=pipeline,
        notes=tuple(notes),
        awaits=bool(awaiting),
    )


# -- checks ------------------------------------------------------------------------------------
def _check_skipped_inputs(analysis: NotebookAnalysis, flow: object) -> None:
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
    for cell_flow in flow.flows:  # type: ignore[attr-defined]
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
    analysis: NotebookAnalysis, flow: object, options: ExportOptions
) -> None:
    if options.allow_ipython:
        return
    for cell_flow in flow.flows:  # type: ignore[attr-defined]
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
    needed_builtins = bound & _BUILTIN_NAMES
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


_BUILTIN_NAMES = frozenset(dir(builtins)) - {"__name__", "__doc__", "__file__"}


def _reaches_scope_by_name(parsed: ParsedCell) -> bool:
    if any(
        magic.kind is MagicKind.LINE and magic.name == "run" for magic in parsed.symbols.magics
    ):
        return True
    return any(call.callee in _DYNAMIC_SCOPE_CALLS for call in parsed.symbols.calls)


# -- what moves to module level ------------------------------------------------------------------
def _hoisted_groups(
    exported: list[ParsedCell],
    groups: dict[int, tuple[StatementGroup, ...]],
    keep: frozenset[str],
) -> dict[int, frozenset[int]]:
    """Which statement groups of each cell move to module level.

    An import moves when it is absolute, its names are
    bound by nothing else in the exported cells, and no earlier code changed where imports
    come from (``os.chdir``, ``sys.path``, ``%cd``, ...). A ``def``/``class`` moves when its
    name is bound once and everything its definition evaluates (decorators, defaults,
    annotations, base classes, class bodies) is a builtin, a moved import or an earlier moved
    definition. Neither moves above code that reads its name before the notebook binds it
    (``try: helper except NameError``: the notebook has the NameError there). ``keep`` names
    definitions that stay in their step. Moving keeps behaviour:
    definitions still read the notebook's variables when called (see ``_global_names``).
    Whether a module is installed never matters.
    """
    cells = [parsed for parsed in exported if not parsed.cell.role.parameters]
    candidates: set[str] = set()
    import_texts: dict[str, set[str]] = {}
    for parsed in cells:
        for group in groups[parsed.cell.index]:
            if group.is_import:
                for identity in group.import_identities():
                    for name in group.bound:
                        import_texts.setdefault(name, set()).add(identity)
                candidates |= group.bound
            elif group.definition is not None:
                candidates.add(group.definition)
    # how many statements bind each candidate name (a name bound twice stays in place)
    binders: dict[str, int] = {}
    for parsed in cells:
        defined_here = (parsed.symbols.defines | parsed.symbols.deletes) & candidates
        if not defined_here:
            continue
        cell_groups = groups[parsed.cell.index]
        if len(cell_groups) == 1:
            for name in defined_here:
                binders[name] = binders.get(name, 0) + 1
            continue
        counted: set[str] = set()
        for group in cell_groups:
            for name in group.bound & defined_here:
                binders[name] = binders.get(name, 0) + 1
                counted.add(name)
        for name in defined_here - counted:  # bound only inside a magic's code
            binders[name] = binders.get(name, 0) + 1
    import_binds: dict[str, int] = {}
    for parsed in cells:
        for group in groups[parsed.cell.index]:
            if group.is_import:
                for name in group.bound:
                    import_binds[name] = import_binds.get(name, 0) + 1

    hoisted: dict[int, frozenset[int]] = {}
    # builtins the notebook rebinds (`input = 3`) are its variables, not safe to read early
    rebound_builtins: set[str] = set()
    for parsed in exported:
        rebound_builtins |= parsed.symbols.defines & _BUILTIN_NAMES
    safe = set(dir(builtins)) - rebound_builtins
    barrier = False
    #: names read before the notebook binds them, by this cell and the cells above it (the
    #: notebook has a NameError there: a definition moved above the read would hide it)
    early: set[str] = set()
    bound: set[str] = set()  # names the cells above have bound (and not deleted)
    for parsed in exported:
        early |= parsed.symbols.reads - bound
        bound |= parsed.symbols.defines  # (in place: a 100,000-cell notebook binds as many)
        bound -= parsed.symbols.deletes
        if parsed.cell.role.parameters:
            continue
        moved: set[int] = set()
        # (a cheap look at the text first: most cells name none of these)
        might_move_imports = any(word in parsed.python_source for word in IMPORT_BARRIER_WORDS)
        for group in groups[parsed.cell.index]:
            if group.star_import:
                moved.add(group.index)  # `from m import *` is only legal at module level
                continue
            if barrier:
                continue
            if group.is_import:
                if group.absolute_imports and all(
                    len(import_texts.get(name, ())) == 1
                    and binders.get(name, 0) == import_binds.get(name, 0)
                    and name not in early
                    for name in group.bound
                ):
                    moved.add(group.index)
                    safe |= group.bound
                    continue
            elif group.definition is not None:
                name = group.definition
                if (
                    name not in keep
                    and binders.get(name, 0) == 1
                    and name not in early
                    and group.definition_reads <= safe
                    and not (rebound_builtins and group.definition_names & rebound_builtins)
                    and not (group.is_class and group.class_reads_before_binding - safe)
                ):
                    moved.add(group.index)
                    safe.add(name)
                    continue
            if might_move_imports and group.changes_import_path():
                barrier = True
        if any(
            magic.kind is MagicKind.LINE and magic.name in _IMPORT_BARRIER_MAGICS
            for magic in parsed.symbols.magics
        ):
            barrier = True
        hoisted[parsed.cell.index] = frozenset(moved)
    return hoisted


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
