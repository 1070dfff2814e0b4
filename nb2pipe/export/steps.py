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

import ast
import builtins
import keyword
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nb2pipe.analysis import NotebookAnalysis, build_dataflow
from nb2pipe.analysis.statements import assigned_names
from nb2pipe.analysis.symbols import FunctionSymbols
from nb2pipe.errors import CellLocation, ExportError
from nb2pipe.export.parameters import Parameter
from nb2pipe.export.plan import CellPlan, ScriptNames

__all__ = ["PREPARE", "PipelinePlan", "StepPlan", "plan_steps"]

#: The step the cells before the first ``step:`` cell form.
PREPARE = "prepare"
_MAX_ROUNDS = 20


@dataclass(frozen=True)
class StepPlan:
    """One step of the pipeline and its interface."""

    name: str  #: the step's name (``--step NAME``, the DVC stage)
    function: str  #: its function's name in the script (the name, unless that clashes)
    cells: tuple[CellPlan, ...]
    #: parameters the step reads (unpacked from ``params`` at the top of its function)
    params: tuple[str, ...]
    #: (name, producing step) of each input, sorted by name
    inputs: tuple[tuple[str, str], ...]
    #: names later steps read, sorted
    outputs: tuple[str, ...]
    #: per ``metrics`` cell (its index): the names it assigns at top level
    metrics: dict[int, tuple[str, ...]] = field(default_factory=dict)
    #: files the step's code names in string literals (relative to the notebook's folder)
    data_files: tuple[str, ...] = ()
    #: parameters whose default value names a data file
    data_params: tuple[str, ...] = ()
    #: a ``prepare`` step without outputs: process set-up that also runs before ``--step X``
    setup: bool = False
    #: module-level names (moved imports) the step's own code binds again: declared
    #: ``global`` in its function, or its reads before that binding would find an unbound local
    rebinds_module_level: tuple[str, ...] = ()

    @property
    def first_cell(self) -> int:
        return self.cells[0].parsed.cell.index

    @property
    def last_cell(self) -> int:
        return self.cells[-1].parsed.cell.index


@dataclass(frozen=True)
class PipelinePlan:
    """The steps of a notebook with ``step:`` cells, in notebook order."""

    steps: tuple[StepPlan, ...]
    #: parameters module-level notebook functions read as globals (``main`` sets them)
    function_params: tuple[str, ...]
    #: definitions kept inside their step (closures over the step's values)
    kept_in_steps: frozenset[str]
    #: which step each exported cell (by index) belongs to; parameters cell and module-level
    #: cells are absent
    step_of_cell: dict[int, str]

    def step(self, name: str) -> StepPlan:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)


def plan_steps(
    cell_plans: Callable[[frozenset[str]], tuple[CellPlan, ...]],
    analysis: NotebookAnalysis,
    parameters: tuple[Parameter, ...],
    names: ScriptNames,
    notebook_names: set[str],
) -> tuple[tuple[CellPlan, ...], PipelinePlan | None]:
    """The exported cells and, when the notebook has ``step:`` cells, its steps.

    ``cell_plans(keep)`` plans the cells with the definitions named in ``keep`` left in their
    step (closures over the step's values): definitions that read a step's values are kept
    until nothing more needs to be (a few rounds of cheap planning; the analysis is not
    repeated).

    Raises
    ------
    ExportError
        A step tag used twice, a notebook function that reads a step's value from outside
        that step, or a step output that is a function, class or module.
    """
    kept: frozenset[str] = frozenset()
    cells = cell_plans(kept)
    if not any(cell.parsed.cell.role.step for cell in cells):
        return cells, None
    for _ in range(_MAX_ROUNDS):
        planner = _StepPlanner(cells, analysis, parameters, names, notebook_names, kept)
        more = planner.definitions_to_keep()
        if more <= kept:
            return cells, planner.finish()
        kept |= more
        cells = cell_plans(kept)
    raise ExportError(CellLocation(analysis.notebook.path), "could not plan the steps")  # pragma: no cover


class _StepPlanner:
    def __init__(
        self,
        cells: tuple[CellPlan, ...],
        analysis: NotebookAnalysis,
        parameters: tuple[Parameter, ...],
        names: ScriptNames,
        notebook_names: set[str],
        kept: frozenset[str],
    ) -> None:
        self.cells = cells
        self.analysis = analysis
        self.parameters = parameters
        self.names = names
        self.notebook_names = notebook_names
        self.kept = kept
        self.path = analysis.notebook.path
        self.groups = self._group_cells()
        self.step_of_cell = {
            cell.parsed.cell.index: name for name, cells in self.groups for cell in cells
        }
        self.parameter_names = {p.name for p in parameters}
        self.parameters_cell = next(
            (cell.parsed.cell.index for cell in cells if cell.is_parameters), None
        )
        # names bound by code that stays in a step's function (not moved to module level)
        self.bound_in_step: dict[int, frozenset[str]] = {
            cell.parsed.cell.index: cell.bound_in_body()
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
    def _group_cells(self) -> list[tuple[str, list[CellPlan]]]:
        groups: list[tuple[str, list[CellPlan]]] = []
        seen: dict[str, CellPlan] = {}
        pending: list[CellPlan] = []  # cells before the first step
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
    def _module_functions(self) -> dict[str, tuple[FunctionSymbols, CellPlan]]:
        """Notebook functions and classes that the export moves to module level."""
        out: dict[str, tuple[FunctionSymbols, CellPlan]] = {}
        for cell in self.cells:
            if cell.is_parameters:
                continue
            staying = self.bound_in_step.get(cell.parsed.cell.index, frozenset())
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
            index = cell.parsed.cell.index
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
    def finish(self) -> PipelinePlan:
        flow = build_dataflow([cell.parsed for cell in self.cells])
        order = [name for name, _ in self.groups]
        reads: dict[str, dict[str, str]] = {name: {} for name in order}  # name -> producer step
        params: dict[str, set[str]] = {name: set() for name in order}
        outputs: dict[str, set[str]] = {name: set() for name in order}
        first_use: dict[tuple[str, str], int] = {}
        for name, cells in self.groups:
            for cell in cells:
                index = cell.parsed.cell.index
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
        script_names = self.names
        taken = (
            set(self.notebook_names) | set(script_names.runtime.values())
            | {script_names.main, script_names.parse_params, script_names.params,
               script_names.argv, script_names.run}
            | set(dir(builtins)) | set(keyword.softkwlist)
        )
        folder = self.path.parent if self.path is not None else None
        steps = []
        written: set[str] = set()  # files a step so far writes: outputs, not input data
        for name, cells in self.groups:
            for cell in cells:
                written |= _written_files(cell.parsed.tree)
            function = name
            while function in taken:
                function += "_step"
            taken.add(function)
            step_params = params[name] | kept_reads.get(name, set())
            data_files, data_params = _data_files(
                cells, step_params, self.parameters, folder, written
            )
            steps.append(
                StepPlan(
                    name=name,
                    function=function,
                    cells=tuple(cells),
                    params=tuple(p.name for p in self.parameters if p.name in step_params),
                    inputs=tuple(sorted(reads[name].items())),
                    outputs=tuple(sorted(outputs[name])),
                    metrics={
                        cell.parsed.cell.index: assigned_names(cell.parsed.tree)
                        for cell in cells
                        if cell.parsed.cell.role.metrics
                    },
                    data_files=data_files,
                    data_params=data_params,
                    setup=name == PREPARE and not outputs[name],
                    rebinds_module_level=tuple(sorted(
                        {n for cell in cells for n in self.bound_in_step.get(
                            cell.parsed.cell.index, frozenset())}
                        & self.module_level - step_params - set(reads[name])
                    )),
                )
            )
        function_params: set[str] = set()
        for info, _cell in self.module_functions.values():
            function_params |= (info.free_globals | info.global_mutations) & self.parameter_names
        return PipelinePlan(
            steps=tuple(steps),
            function_params=tuple(p.name for p in self.parameters if p.name in function_params),
            kept_in_steps=self.kept,
            step_of_cell=dict(self.step_of_cell),
        )

    def _kept_function_params(self) -> dict[str, set[str]]:
        """Parameters read by definitions kept in a step (the dataflow sees them only where the
        function is called, which may be nowhere)."""
        out: dict[str, set[str]] = {}
        for cell in self.cells:
            step = self.step_of_cell.get(cell.parsed.cell.index)
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
                for statement in cell.parsed.tree.body:
                    kind = _definition_kind(statement)
                    if kind is None:
                        continue
                    for bound in _statement_names(statement):
                        if bound in outputs[name] and bound in self.bound_in_step[cell.parsed.cell.index]:
                            user = self.analysis.notebook.cells[first_use[(name, bound)]]
                            raise ExportError(
                                cell.parsed.cell.location(self.path, statement.lineno),
                                f"step {name!r} {kind} {bound!r}, which {user.label} of a later step "
                                "uses; a step can only pass data to later steps: move it before "
                                "the first step, or into the step that uses it",
                            )


def _definition_kind(statement: ast.stmt) -> str | None:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "defines function"
    if isinstance(statement, ast.ClassDef):
        return "defines class"
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return "imports"
    return None


def _statement_names(statement: ast.stmt) -> set[str]:
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {alias.asname or alias.name.split(".", 1)[0] for alias in statement.names}
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {statement.name}
    return set()


def _data_files(
    cells: list[CellPlan],
    params: set[str],
    parameters: tuple[Parameter, ...],
    folder: Path | None,
    written: set[str] = frozenset(),  # type: ignore[assignment]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Files a step names: string literals and parameter defaults that are existing files.

    ``written`` holds the literals and parameter names this step or an earlier one writes to
    (``df.to_csv("out.csv")``): they name outputs, which a fresh clone does not have.
    """
    if folder is None:
        return (), ()
    literals: set[str] = set()
    for cell in cells:
        for node in ast.walk(cell.parsed.tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and _is_data_file(folder, node.value)
                and node.value not in written
            ):
                literals.add(Path(node.value).as_posix())
    data_params = tuple(
        p.name for p in parameters
        if p.name in params and p.name not in written and _is_data_file(folder, p.default)
    )
    return tuple(sorted(literals)), data_params


#: methods whose first argument is the file they write: ``df.to_csv(path)``, ``fig.savefig(path)``
_WRITING_METHODS = frozenset({
    "to_csv", "to_parquet", "to_json", "to_excel", "to_pickle", "to_feather", "to_hdf",
    "to_html", "to_latex", "to_markdown", "to_stata", "to_orc", "to_xml", "to_netcdf",
    "to_file", "savefig", "save", "savetxt", "savez", "savez_compressed", "save_model",
})
#: functions whose second argument is the file they write: ``joblib.dump(model, path)``
_DUMPING_FUNCTIONS = frozenset({"dump", "save"})


def _path_name(node: ast.AST | None) -> str | None:
    """The string literal or plain name a path expression is built on (``Path("a.csv")``)."""
    while isinstance(node, ast.Call) and node.args and not node.keywords:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name != "Path":
            return None
        node = node.args[0]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return node.id
    return None


def _opens_for_writing(call: ast.Call, mode_index: int) -> bool:
    mode = call.args[mode_index] if len(call.args) > mode_index else None
    for keyword_arg in call.keywords:
        if keyword_arg.arg == "mode":
            mode = keyword_arg.value
    return (
        isinstance(mode, ast.Constant)
        and isinstance(mode.value, str)
        and any(flag in mode.value for flag in "wax+")
    )


def _written_files(tree: ast.AST) -> set[str]:
    """String literals and names that a cell's code writes a file to."""
    written: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        target: ast.AST | None = None
        if isinstance(func, ast.Name) and func.id == "open":
            if node.args and _opens_for_writing(node, 1):
                target = node.args[0]
        elif isinstance(func, ast.Attribute):
            if func.attr in ("write_text", "write_bytes"):
                target = func.value
            elif func.attr == "open" and _opens_for_writing(node, 0):
                target = func.value
            elif func.attr in _WRITING_METHODS and node.args:
                target = node.args[0]
            if func.attr in _DUMPING_FUNCTIONS and len(node.args) >= 2:
                second = _path_name(node.args[1])
                if second is not None:
                    written.add(second)
        name = _path_name(target)
        if name is not None:
            written.add(name)
    return written


def _is_data_file(folder: Path, value: object) -> bool:
    text = str(value) if isinstance(value, (str, Path)) else None
    if not text or "\n" in text or len(text) > 500 or Path(text).is_absolute():
        return False
    try:
        return (folder / text).is_file()
    except (OSError, ValueError):
        return False
