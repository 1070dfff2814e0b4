"""What an export decided, as frozen values: the plan the renderers carry out.

:mod:`nb2pipe.export.plan` makes an :class:`ExportPlan` once, with its
:class:`PipelinePlan` from :mod:`nb2pipe.export.steps` when the notebook has ``step:`` cells;
both build on these types and not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nb2pipe.analysis import NotebookAnalysis, ParsedCell
from nb2pipe.analysis.statements import StatementGroup
from nb2pipe.export.options import ExportOptions
from nb2pipe.export.parameters import Parameter

__all__ = [
    "PREPARE",
    "RUNTIME_API",
    "CellPlan",
    "ExportPlan",
    "PipelinePlan",
    "ScriptNames",
    "StepPlan",
    "body_names",
]

#: What scripts import from nb2pipe-runtime (each under another name if the notebook uses it).
RUNTIME_API = (
    "Pipeline", "Run", "json_or_text", "optional", "parse_args", "record_metrics", "save_figures",
    "shell", "shell_output", "shell_script", "write_file",
)
#: The step the cells before the first ``step:`` cell form.
PREPARE = "prepare"


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
        return body_names(self.parsed, self.hoisted_statements)

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
    #: globals the step's function reads or changes in place (builtins left out), as the
    #: analysis finds them in the code it holds: a ``--dvc`` step module imports those the
    #: shared module binds. Names the rendering adds (runtime functions, modules a translated
    #: magic needs) are not here: the rendered cells carry them
    free_names: frozenset[str] = frozenset()

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
    #: names the notebook's code binds at module level (moved imports and definitions, the
    #: parameters cell's imports) and the parameters notebook functions read: what a
    #: ``--dvc`` export's shared module binds, besides the imports the rendering adds
    module_names: frozenset[str] = frozenset()
    #: a ``from m import *`` moves to module level (each step module star-imports the shared
    #: module too)
    star_import: bool = False

    def step(self, name: str) -> StepPlan:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)


def body_names(parsed: ParsedCell, moved: frozenset[int]) -> frozenset[str]:
    """Names the statements of ``parsed`` that stay in the body (``main`` or a step) bind,
    when the groups at ``moved`` go to module level."""
    if not moved:
        symbols = parsed.symbols
        return frozenset(symbols.defines | symbols.deletes)
    return frozenset(
        name for group in parsed.groups if group.index not in moved for name in group.bound
    )
