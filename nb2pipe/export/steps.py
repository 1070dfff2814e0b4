"""Plan a notebook's pipeline steps from its dataflow: cells, parameters, inputs and outputs.

``step:NAME`` cells and the untagged cells after them form step ``NAME``; the cells before the
first step form ``prepare`` unless everything in them moves to module level (imports and
definitions). A step's inputs are the names it reads that an earlier step produced; its
outputs are the names it binds or mutates in place that a later step reads, so a step that
only reads a value does not output it. Parameters are read from ``params`` by each step that
uses them (also through the notebook functions it calls).

Module-level notebook functions read globals. A function that reads a value a step computes
(not a parameter) cannot stay at module level: when it is defined in that step it stays there
as a nested function (a closure over the step's variables, planned again with
``keep_in_body``); otherwise the export is refused, naming the function, the name and the cell.
"""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from nb2pipe.analysis import Dataflow, NotebookAnalysis, ParsedCell
from nb2pipe.analysis.facts import assigned_names, step_free_names, top_level_definitions
from nb2pipe.analysis.files import file_literals, written_files
from nb2pipe.analysis.symbols import FunctionSymbols
from nb2pipe.errors import CellLocation, ExportError
from nb2pipe.export.hoisting import hoisted_groups
from nb2pipe.export.parameters import Parameter
from nb2pipe.export.planned import (
    PREPARE,
    CellPlan,
    PipelinePlan,
    ScriptNames,
    StepPlan,
    body_names,
)

__all__ = ["PREPARE", "PipelinePlan", "StepPlan", "data_files_of", "keep_in_steps", "plan_pipeline"]

_MAX_ROUNDS = 20


@dataclass(frozen=True)
class _Cell:
    """An exported cell as the step planning sees it: which of its groups move out."""

    parsed: ParsedCell
    moved: frozenset[int]

    @property
    def index(self) -> int:
        return self.parsed.cell.index

    @property
    def is_parameters(self) -> bool:
        return self.parsed.cell.role.parameters

    @property
    def has_body(self) -> bool:
        return len(self.moved) < len(self.parsed.groups)

    def bound_in_body(self) -> frozenset[str]:
        return body_names(self.parsed, self.moved)

    def module_level_names(self) -> frozenset[str]:
        return frozenset(
            name for group in self.parsed.groups if group.index in self.moved for name in group.bound
        )


def keep_in_steps(
    exported: list[ParsedCell], analysis: NotebookAnalysis, parameters: tuple[Parameter, ...]
) -> tuple[dict[int, frozenset[int]], frozenset[str]]:
    """What moves to module level in a notebook with ``step:`` cells, and the definitions kept
    in their step instead (closures over the step's values).

    A definition that reads a step's values is kept; keeping it may keep more (a definition
    whose decorator or base class it is no longer moves, and binds a step value in turn), so
    the cheap hoisting pass is asked again until nothing more needs keeping (the cells'
    analysis is not repeated, and the cells are planned once, after).

    Raises
    ------
    ExportError
        A step tag used twice, or a notebook function that reads a step's value from outside
        that step.
    """
    kept: frozenset[str] = frozenset()
    hoisted = hoisted_groups(exported)
    for _ in range(_MAX_ROUNDS):
        cells = tuple(_Cell(parsed, hoisted.get(parsed.cell.index, frozenset())) for parsed in exported)
        planner = _StepPlanner(cells, analysis, parameters, kept)
        more = planner.definitions_to_keep()
        if more <= kept:
            return hoisted, kept
        kept |= more
        hoisted = hoisted_groups(exported, kept)
    raise ExportError(CellLocation(analysis.notebook.path), "could not plan the steps")  # pragma: no cover


def plan_pipeline(
    cells: tuple[CellPlan, ...],
    analysis: NotebookAnalysis,
    flow: Dataflow,
    parameters: tuple[Parameter, ...],
    names: ScriptNames,
    notebook_names: set[str],
    kept: frozenset[str],
    replaced_shows: frozenset[str] | None = None,
) -> PipelinePlan:
    """The steps of the planned ``cells``: their cells, parameters, inputs and outputs.

    ``flow`` is the dataflow over the exported cells (the one the plan checked them with).
    ``replaced_shows``: the pyplot names whose ``show()`` inside a block the script replaces
    by saving the figures (``None`` when it saves none).

    Raises
    ------
    ExportError
        A step output that is a function, class or module.
    """
    views = tuple(_Cell(cell.parsed, cell.hoisted_statements) for cell in cells)
    planner = _StepPlanner(views, analysis, parameters, kept)
    return planner.finish(cells, flow, names, notebook_names, replaced_shows)


class _StepPlanner:
    def __init__(
        self,
        cells: tuple[_Cell, ...],
        analysis: NotebookAnalysis,
        parameters: tuple[Parameter, ...],
        kept: frozenset[str],
    ) -> None:
        self.cells = cells
        self.analysis = analysis
        self.parameters = parameters
        self.kept = kept
        self.path = analysis.notebook.path
        self.groups = self._group_cells()
        self.step_of_cell = {
            cell.index: name for name, cells in self.groups for cell in cells
        }
        self.parameter_names = {p.name for p in parameters}
        self.parameters_cell = next((cell.index for cell in cells if cell.is_parameters), None)
        # names bound by code that stays in a step's function (not moved to module level)
        self.bound_in_step: dict[int, frozenset[str]] = {
            cell.index: cell.bound_in_body()
            for cell in cells
            if not cell.is_parameters
        }
        self.step_scoped = {
            name for index, names in self.bound_in_step.items() if index in self.step_of_cell
            for name in names
        }
        self.module_level = {name for cell in cells for name in cell.module_level_names()}
        self.module_functions = self._module_functions()

    # -- cells into steps --------------------------------------------------------------------
    def _group_cells(self) -> list[tuple[str, list[_Cell]]]:
        groups: list[tuple[str, list[_Cell]]] = []
        seen: dict[str, _Cell] = {}
        pending: list[_Cell] = []  # cells before the first step
        current: str | None = None
        for cell in self.cells:
            if cell.is_parameters:
                continue
            tag = cell.parsed.cell.role.step
            if tag is not None and tag != current:
                if tag in seen:
                    first = seen[tag].parsed.cell
                    raise ExportError(
                        cell.parsed.cell.location(self.path),
                        f"step {tag!r} is tagged again (it starts at {first.label}); "
                        "give each step one run of cells",
                    )
                seen[tag] = cell
                current = tag
                groups.append((tag, []))
            if current is None:
                pending.append(cell)
            else:
                groups[-1][1].append(cell)
        prepare = [cell for cell in pending if cell.has_body]
        if prepare:
            if groups and groups[0][0] == PREPARE:
                groups[0] = (PREPARE, [*pending, *groups[0][1]])
            elif PREPARE in seen:
                raise ExportError(
                    seen[PREPARE].parsed.cell.location(self.path),
                    f"the cells before the first step form step {PREPARE!r}, and this cell is "
                    f"tagged step:{PREPARE} too; tag the first cell step:{PREPARE} instead",
                )
            else:
                groups.insert(0, (PREPARE, pending))
        return groups

    # -- module-level functions that read step values ----------------------------------------
    def _module_functions(self) -> dict[str, tuple[FunctionSymbols, _Cell]]:
        """Notebook functions and classes that the export moves to module level."""
        out: dict[str, tuple[FunctionSymbols, _Cell]] = {}
        for cell in self.cells:
            if cell.is_parameters:
                continue
            staying = self.bound_in_step.get(cell.index, frozenset())
            for info in cell.parsed.symbols.functions:
                if info.name not in staying:
                    out[info.name] = (info, cell)
        return out

    def definitions_to_keep(self) -> frozenset[str]:
        """Module-level definitions reading step values that can stay in their step instead."""
        keep: set[str] = set()
        for name, (info, cell) in sorted(self.module_functions.items()):
            problem = self._step_values_used(info)
            if not problem:
                continue
            index = cell.index
            if index in self.step_of_cell:
                keep.add(name)
                continue
            value = min(problem)
            raise ExportError(
                cell.parsed.cell.location(self.path, info.line),
                f"function {name!r} reads {value!r}, a value a pipeline step computes, as a "
                f"global; pass {value!r} to it as an argument (or define {name!r} in the step "
                "that uses it)",
            )
        return frozenset(keep)

    def _step_values_used(self, info: FunctionSymbols) -> set[str]:
        """Step-computed names ``info`` reads or rebinds as globals (parameters excluded,
        unless a step rebinds them)."""
        used = info.free_globals | info.global_writes | info.global_mutations
        return set(used & self.step_scoped)

    # -- the steps' interfaces ---------------------------------------------------------------
    def finish(
        self,
        plans: tuple[CellPlan, ...],
        flow: Dataflow,
        script_names: ScriptNames,
        notebook_names: set[str],
        replaced_shows: frozenset[str] | None,
    ) -> PipelinePlan:
        plan_of = {plan.index: plan for plan in plans}
        order = [name for name, _ in self.groups]
        reads: dict[str, dict[str, str]] = {name: {} for name in order}  # name -> producer step
        params: dict[str, set[str]] = {name: set() for name in order}
        outputs: dict[str, set[str]] = {name: set() for name in order}
        first_use: dict[tuple[str, str], int] = {}
        for name, cells in self.groups:
            for cell in cells:
                index = cell.index
                cell_flow = flow.flow(index)
                assert cell_flow is not None
                for value, producer in sorted(cell_flow.inputs.items()):
                    if producer == self.parameters_cell and value in self.parameter_names:
                        params[name].add(value)
                        continue
                    if value in self.module_level:
                        continue  # bound at module level (an import or definition)
                    source = self.step_of_cell.get(producer)
                    if source is None or source == name:
                        continue
                    reads[name].setdefault(value, source)
                    outputs[source].add(value)
                    first_use.setdefault((source, value), index)
        self._refuse_unsaveable(outputs, first_use)
        kept_reads = self._kept_function_params()
        taken = (
            set(notebook_names) | set(script_names.runtime.values())
            | {script_names.main, script_names.parse_params, script_names.params,
               script_names.argv, script_names.run}
            | set(dir(builtins)) | set(keyword.softkwlist)
        )
        folder = self.path.parent if self.path is not None else None
        steps = []
        written: set[str] = set()  # files a step so far writes: outputs, not input data
        for name, cells in self.groups:
            for cell in cells:
                written |= written_files(cell.parsed)
            function = name
            while function in taken:
                function += "_step"
            taken.add(function)
            step_params = params[name] | kept_reads.get(name, set())
            data_files, data_params = data_files_of(
                [cell.parsed for cell in cells], step_params, self.parameters, folder, written
            )
            step_cells = tuple(plan_of[cell.index] for cell in cells)
            rebinds = tuple(sorted(
                {n for cell in cells for n in self.bound_in_step.get(cell.index, frozenset())}
                & self.module_level - step_params - set(reads[name])
            ))
            steps.append(
                StepPlan(
                    name=name,
                    function=function,
                    cells=step_cells,
                    params=tuple(p.name for p in self.parameters if p.name in step_params),
                    inputs=tuple(sorted(reads[name].items())),
                    outputs=tuple(sorted(outputs[name])),
                    metrics={
                        cell.index: assigned_names(cell.parsed)
                        for cell in cells
                        if cell.parsed.cell.role.metrics
                    },
                    data_files=data_files,
                    data_params=data_params,
                    setup=name == PREPARE and not outputs[name],
                    rebinds_module_level=rebinds,
                    free_names=_free_names(
                        step_cells, [*reads[name], *step_params], rebinds, outputs[name],
                        replaced_shows,
                    ),
                )
            )
        function_params: set[str] = set()
        for info, _cell in self.module_functions.values():
            function_params |= (info.free_globals | info.global_mutations) & self.parameter_names
        ordered_params = tuple(p.name for p in self.parameters if p.name in function_params)
        module_groups = [
            group for plan in plans for group in plan.groups
            if (group.is_import if plan.is_parameters else group.index in plan.hoisted_statements)
        ]
        return PipelinePlan(
            steps=tuple(steps),
            function_params=ordered_params,
            kept_in_steps=self.kept,
            step_of_cell=dict(self.step_of_cell),
            module_names=frozenset(
                {name for group in module_groups for name in group.bound} | set(ordered_params)
            ),
            star_import=any(group.star_import for group in module_groups),
        )

    def _kept_function_params(self) -> dict[str, set[str]]:
        """Parameters read by definitions kept in a step (the dataflow sees them only where the
        function is called, which may be nowhere)."""
        out: dict[str, set[str]] = {}
        for cell in self.cells:
            step = self.step_of_cell.get(cell.index)
            if step is None:
                continue
            for info in cell.parsed.symbols.functions:
                if info.name in self.kept:
                    out.setdefault(step, set()).update(info.free_globals & self.parameter_names)
        return out

    def _refuse_unsaveable(
        self, outputs: dict[str, set[str]], first_use: dict[tuple[str, str], int]
    ) -> None:
        """Functions, classes and modules cannot be saved between steps."""
        for name, cells in self.groups:
            for cell in cells:
                for kind, bound_names, line in top_level_definitions(cell.parsed):
                    for bound in sorted(bound_names):
                        if bound in outputs[name] and bound in self.bound_in_step[cell.index]:
                            user = self.analysis.notebook.cells[first_use[(name, bound)]]
                            raise ExportError(
                                cell.parsed.cell.location(self.path, line),
                                f"step {name!r} {kind} {bound!r}, which {user.label} of a later step "
                                "uses; a step can only pass data to later steps: move it before "
                                "the first step, or into the step that uses it",
                            )


def _free_names(
    cells: tuple[CellPlan, ...],
    parameters: Collection[str],
    declared_global: Collection[str],
    outputs: Collection[str],
    replaced_shows: frozenset[str] | None,
) -> frozenset[str]:
    """The globals the step's function reads or changes: its cells' code that stays in it
    (not moved, dropped or replaced), its ``return`` and its ``record_metrics`` calls."""
    metrics = [
        name for cell in cells if cell.parsed.cell.role.metrics
        for name in assigned_names(cell.parsed) if name not in cell.parsed.symbols.deletes
    ]
    return step_free_names(
        ((cell.parsed, cell.moved_positions() | cell.dropped | cell.shows) for cell in cells),
        parameters, declared_global, [*outputs, *metrics], replaced_shows,
    )


def data_files_of(
    cells: Collection[ParsedCell],
    params: Collection[str],
    parameters: tuple[Parameter, ...],
    folder: Path | None,
    written: Collection[str] = frozenset(),
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Files the cells name: string literals and parameter defaults that are existing files
    (a step's data, and a flat notebook's for ``--prefect``'s cache keys).

    ``written`` holds the literals and parameter names this step or an earlier one writes to
    (``df.to_csv("out.csv")``): they name outputs, which a fresh clone does not have.
    """
    if folder is None:
        return (), ()
    literals: set[str] = set()
    for cell in cells:
        for text in file_literals(cell):
            if _is_data_file(folder, text) and text not in written:
                literals.add(Path(text).as_posix())
    data_params = tuple(
        p.name for p in parameters
        if p.name in params and p.name not in written and _is_data_file(folder, p.default)
    )
    return tuple(sorted(literals)), data_params


def _is_data_file(folder: Path, value: object) -> bool:
    text = str(value) if isinstance(value, (str, Path)) else None
    if not text or "\n" in text or len(text) > 500 or Path(text).is_absolute():
        return False
    try:
        return (folder / text).is_file()
    except (OSError, ValueError):
        return False
