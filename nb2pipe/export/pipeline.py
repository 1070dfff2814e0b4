"""Render a notebook with ``step:`` cells as a pipeline: step functions and a ``main`` that
runs them in order (or one, with ``--step``) inside a recorded run.

The cells' code is rewritten exactly as for a flat script (:mod:`nb2pipe.export.render`); only
where it lands differs: each step's cells become the body of ``NAME(params, inputs...)``, which
unpacks the parameters it reads and returns its outputs. With ``--dvc`` the same code is split
into modules (:mod:`nb2pipe.export.dvc` writes the stages).
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import replace

import libcst as cst

from nb2pipe.analysis import syntax
from nb2pipe.export.dependencies import pinned_requirement
from nb2pipe.export.magics import python_string
from nb2pipe.export.plan import CellPlan, ExportPlan
from nb2pipe.export.render import (
    GENERATED_MARKER,
    RenderedScript,
    _comment_lines,
    _runs_runtime_code,
    _ScriptBuilder,
)
from nb2pipe.export.steps import PREPARE, PipelinePlan, StepPlan

__all__ = ["package_name", "render_pipeline"]

_WIDTH = 100
_RUNS_HEADER = (
    "# nb2pipe's run records and step outputs: the same code in every exported pipeline.\n\n"
)


def render_pipeline(plan: ExportPlan, pipeline: PipelinePlan) -> tuple[RenderedScript, PipelinePlan]:
    """The pipeline script (and, for ``--dvc``, its modules), and the steps as rendered (a
    ``prepare`` step whose code was all display-only is dropped)."""
    builder = _PipelineBuilder(plan, pipeline)
    for cell_plan in plan.cells:
        builder.add_cell(cell_plan)
    rendered = builder.finish()
    return rendered, builder.pipeline


def package_name(stem: str) -> str:
    """The package a ``--dvc`` export puts the step modules in: ``<stem>_steps``."""
    name = re.sub(r"\W", "_", stem)
    if not name or name[0].isdigit():
        name = "nb_" + name
    return name + "_steps"


class _PipelineBuilder(_ScriptBuilder):
    records_metrics = False  # per step, in add_cell

    def __init__(self, plan: ExportPlan, pipeline: PipelinePlan) -> None:
        super().__init__(plan)
        self.pipeline = pipeline
        self.bodies: dict[str, tuple[list[cst.BaseStatement], list[cst.EmptyLine]]] = {}
        self.current: str | None = None
        self.package = package_name(plan.script_path.stem)

    # -- cells into step bodies --------------------------------------------------------------
    def add_cell(self, cell_plan: CellPlan) -> None:
        index = cell_plan.parsed.cell.index
        if cell_plan.is_parameters:
            # the steps read their parameters from `params`; only the cell's imports remain
            for statement in cst.parse_module(cell_plan.parsed.python_source).body:
                if isinstance(statement, cst.SimpleStatementLine) and all(
                    isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
                ):
                    self._hoist(statement, [])
            return
        self._switch_to(self.pipeline.step_of_cell.get(index, ""))
        super().add_cell(cell_plan)
        step = self.pipeline.step_of_cell.get(index)
        if step is not None:
            names = self.pipeline.step(step).metrics.get(index)
            deleted = cell_plan.parsed.symbols.deletes
            names = tuple(name for name in names or () if name not in deleted)
            if names:
                call = _call("record_metrics", [f"{name}={name}" for name in names], indent=0)
                self.main_body.append(cst.parse_statement(call + "\n"))

    def _switch_to(self, step: str) -> None:
        if self.current is not None:
            self.bodies[self.current] = (self.main_body, self.pending_lines)
        self.main_body, self.pending_lines = self.bodies.get(step, ([], []))
        self.current = step

    # -- the whole script --------------------------------------------------------------------
    def finish(self) -> RenderedScript:
        self._switch_to("")
        steps = [
            step for step in self.pipeline.steps
            if not (step.name == PREPARE and not self._body(step.name)[0] and not step.outputs)
        ]
        self.pipeline = replace(self.pipeline, steps=tuple(steps))
        for step in steps:
            inputs = ", ".join(name for name, _ in step.inputs) or "-"
            outputs = ", ".join(step.outputs) or "-"
            self.notes.append(f"step {step.name}: {inputs} -> {outputs}")
        if self.plan.options.dvc:
            self.rewrite.requirements.append(pinned_requirement("yaml") or "pyyaml")
        rendered = super().finish()
        if self.plan.options.dvc:
            rendered.files = self._modules()
        return rendered

    def _uses_display(self, code: str) -> bool:
        if self.plan.options.dvc:
            # the entry script holds no notebook code: look at the step modules' code
            super()._uses_display(code)  # still checks that the entry script parses
            code = "\n".join(
                [*self.definitions, *(self._step_function(step) for step in self.pipeline.steps)]
            )
        return super()._uses_display(code)

    def _body(self, step: str) -> tuple[list[cst.BaseStatement], list[cst.EmptyLine]]:
        return self.bodies.get(step, ([], []))

    def _import_groups(self) -> list[list[str]]:
        if not self.plan.options.dvc:
            return super()._import_groups()
        package = self.package
        lines = [
            f"from {package} import shared",
            f"from {package}.shared import RunRecorder, _help_formatter",
        ]
        lines += [
            f"from {package}.{self._module_of(step)} import {step.function}"
            for step in self.pipeline.steps
        ]
        return [self.future_imports, ["import argparse"], lines]

    def _sections(self) -> list[str]:
        if self.plan.options.dvc:
            runtime = [super()._helpers()[-1]] if self.plan.parameters else []
            return [*runtime, self._parse_params(), self._main()]
        steps = [self._step_function(step) for step in self.pipeline.steps]
        return [
            *self.definitions, *self._helpers(), *steps, self._parse_params(), self._main(),
            _RUNS_HEADER + _runs_runtime_code(),
        ]

    def _docstring(self) -> str:
        text = super()._docstring()
        names = ", ".join(step.name for step in self.pipeline.steps)
        script = self.plan.script_path.name
        paragraph = (
            f"Steps, in order: {names}. `python {script} --step NAME` runs one step, loading its "
            "inputs from the outputs earlier steps saved in --outputs-dir. Every run is recorded "
            "in runs/<run id>/run.json (and in MLflow with --tracking-uri)."
        )
        if self.plan.options.dvc:
            paragraph += f" The steps' code is in {self.package}/; `dvc repro` runs the pipeline."
        extra = "\n" + "\n".join(textwrap.wrap(paragraph, 92)) + "\n"
        extra = extra.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
        return text[: -len('"""\n')] + extra + '"""\n'

    def _runner_arguments(self) -> list[str]:
        choices = ", ".join(f'"{step.name}"' for step in self.pipeline.steps)
        return [
            f'    parser.add_argument("--step", choices=[{choices}],',
            '                        help="run only this step, loading its inputs from --outputs-dir")',
            '    parser.add_argument("--outputs-dir", metavar="DIR", default="outputs",',
            '                        help="where steps save their outputs for later steps")',
            '    parser.add_argument("--runs-dir", metavar="DIR", default="runs",',
            '                        help="where each run writes <run id>/run.json and its artifacts")',
            '    parser.add_argument("--tracking-uri", metavar="URI", default=None,',
            '                        help="also log the run to MLflow (default: $MLFLOW_TRACKING_URI)")',
            '    parser.add_argument("--metrics-file", metavar="FILE", default=None,',
            '                        help="also write the run\'s metrics to this JSON file")',
        ]

    # -- step functions ----------------------------------------------------------------------
    def _step_function(self, step: StepPlan) -> str:
        names = self.names
        body, pending = self._body(step.name)
        body = list(body)
        signature = ", ".join(
            [f"{names.params}: argparse.Namespace", *(name for name, _ in step.inputs)]
        )
        header = f"def {step.function}({signature}):"
        if len(header) > _WIDTH:
            items = [f"{names.params}: argparse.Namespace", *(name for name, _ in step.inputs)]
            header = f"def {step.function}(\n" + "".join(f"    {item},\n" for item in items) + "):"
        first, last = step.first_cell + 1, step.last_cell + 1
        cells = f"cell {first}" if first == last else f"cells {first}-{last}"
        if step.name == PREPARE and not step.cells[0].parsed.cell.role.step:
            docstring = f'"""The notebook\'s cells before its first step ({cells})."""'
        else:
            docstring = f'"""The notebook\'s step {step.name} ({cells})."""'
        head: list[cst.BaseStatement] = [cst.parse_statement(docstring + "\n")]
        unpack = [
            cst.parse_statement(f"{name} = {names.params}.{name}\n") for name in step.params
        ]
        head += unpack
        if unpack and body:
            opening = body[0]
            assert isinstance(opening, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
            body[0] = opening.with_changes(
                leading_lines=[cst.EmptyLine(indent=False), *opening.leading_lines]
            )
        tail: list[cst.BaseStatement] = []
        if step.outputs:
            values = ", ".join(step.outputs)
            statement = f"return {values}"
            if len(statement) + 4 > _WIDTH:
                statement = "return (\n" + "".join(f"    {name},\n" for name in step.outputs) + ")"
            returned = cst.parse_statement(statement + "\n")
            tail.append(returned.with_changes(leading_lines=[cst.EmptyLine(indent=False)]))
        function = cst.parse_statement(f"{header}\n    pass\n")
        assert isinstance(function, cst.FunctionDef)
        function = function.with_changes(
            body=cst.IndentedBlock(body=[*head, *body, *tail], footer=_comment_lines(pending))
        )
        return cst.Module(body=[function]).code

    # -- main --------------------------------------------------------------------------------
    def _main(self) -> str:
        names = self.names
        plan, pipeline = self.plan, self.pipeline
        dvc = plan.options.dvc
        lines = [
            f"def {names.main}({names.argv}: list[str] | None = None) -> None:",
            '    """Run the pipeline\'s steps in order; with --step NAME, run only that step."""',
        ]
        global_names = [] if dvc else list(pipeline.function_params)
        if plan.uses_matplotlib and not dvc:
            global_names.append(names.figures_dir)
        if global_names:
            lines.append(f"    global {', '.join(global_names)}")
        lines.append(f"    {names.params} = {names.parse_params}({names.argv})")
        for name in pipeline.function_params:
            target = f"shared.{name}" if dvc else name
            lines.append(f"    {target} = {names.params}.{name}  # notebook functions read it")
        notebook = self._notebook_reference()
        recorder_args = [names.params, "__file__", python_string(notebook)]
        opening = _call("RunRecorder", recorder_args, indent=4)
        lines.append(f"    with {opening.strip()} as {names.run}:")
        if plan.uses_matplotlib:
            target = f"shared.{names.figures_dir}" if dvc else names.figures_dir
            lines.append(f'        {target} = {names.run}.artifact_dir("figures")')
        for step in pipeline.steps:
            args = [f'"{step.name}"', step.function, names.params, *(name for name, _ in step.inputs)]
            if step.outputs:
                tuple_text = "(" + ", ".join(f'"{name}"' for name in step.outputs) + (",)" if len(step.outputs) == 1 else ")")
                args.append(f"outputs={tuple_text}")
            if step.setup:
                args.append("setup=True")
            targets = ""
            if step.outputs:
                targets = ", ".join(step.outputs) + " = "
                if len(targets) + len(names.run) + 16 > _WIDTH:
                    targets = "(\n" + "".join(f"            {n},\n" for n in step.outputs) + "        ) = "
            lines.append("        " + _call(f"{targets}{names.run}.step", args, indent=8).lstrip())
        code = "\n".join(lines) + "\n"
        syntax.parse(code)
        return code

    # -- the modules of a --dvc export -------------------------------------------------------
    def _module_of(self, step: StepPlan) -> str:
        return step.name if step.name not in ("shared", "__init__") else step.name + "_step"

    def _modules(self) -> list[tuple[str, str]]:
        notebook = self._notebook_reference()
        marker = f"{GENERATED_MARKER}{notebook}: edit the notebook, then re-export.\n"
        package = self.package
        files = [
            (
                f"{package}/__init__.py",
                f'"""The steps of the pipeline exported from {notebook}."""\n{marker}',
            )
        ]
        shared = self._shared_module(marker)
        files.append((f"{package}/shared.py", shared))
        shared_names = _module_bindings(shared)
        star = any(line.startswith("from ") and line.endswith("import *") for line in self.imports)
        for step in self.pipeline.steps:
            function = self._step_function(step)
            free = sorted(_free_names(function) & shared_names)
            parts = [
                f'"""Step {step.name} of the pipeline exported from {notebook}."""\n',
                marker,
            ]
            if self.future_imports:
                parts.append("\n" + "\n".join(self.future_imports) + "\n")
            local = []
            if free:
                local.append(_call(f"from {package}.shared import", free, indent=0, bare=True))
            if star:
                local.append(f"from {package}.shared import *  # noqa: F403")
            parts.append("\nimport argparse\n")
            if local:
                parts.append("\n" + "\n".join(local) + "\n")
            parts.append("\n\n" + function)
            files.append((f"{package}/{self._module_of(step)}.py", "".join(parts)))
        return files

    def _shared_module(self, marker: str) -> str:
        notebook = self._notebook_reference()
        parts = [
            (
                f'"""What the steps of the pipeline exported from {notebook} share: the notebook\'s\n'
                "imports and definitions, and the run-record runtime. Notebook functions read the\n"
                'parameters as globals of this module, which the entry script sets."""\n'
            ),
            marker,
        ]
        for group in (self.future_imports, [*self._script_imports()], self.imports):
            if group:
                parts.append("\n" + "\n".join(group) + "\n")
        globals_ = [f"{name} = None  # set by main()" for name in self.pipeline.function_params]
        sections = [*self.definitions, *self._shared_helpers()]
        if globals_:
            sections.insert(0, "\n".join(globals_) + "\n")
        for section in sections:
            parts.append("\n\n" + section)
        return "".join(parts)

    def _shared_helpers(self) -> list[str]:
        helpers = super()._helpers()
        if self.plan.parameters:
            helpers = helpers[:-1]  # the CLI runtime stays in the entry script
        return [*helpers, _RUNS_HEADER + _runs_runtime_code()]


def _call(callee: str, args: list[str], indent: int, bare: bool = False) -> str:
    """``callee(a, b)`` on one line when it fits, else one argument a line."""
    pad = " " * indent
    if bare:  # an import list: `from m import a, b`
        one = f"{callee} {', '.join(args)}"
        if len(one) <= _WIDTH:
            return one
        return f"{callee} (\n" + "".join(f"    {arg},\n" for arg in args) + ")"
    one = f"{pad}{callee}({', '.join(args)})"
    if len(one) <= _WIDTH:
        return one
    inner = "".join(f"{pad}    {arg},\n" for arg in args)
    return f"{pad}{callee}(\n{inner}{pad})"


def _module_bindings(code: str) -> set[str]:
    """Names a module binds at top level."""
    tree = syntax.parse(code)
    names: set[str] = set()
    for statement in tree.body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            names |= {
                alias.asname or alias.name.split(".", 1)[0]
                for alias in statement.names if alias.name != "*"
            }
        elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(statement.name)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                names |= {node.id for node in ast.walk(target) if isinstance(node, ast.Name)}
    return names


def _free_names(function_code: str) -> set[str]:
    """Globals a function's code reads."""
    from nb2pipe.analysis.symbols import gather_cell_symbols

    symbols = gather_cell_symbols(syntax.parse(function_code))
    info = symbols.functions[0]
    return set(info.free_globals | info.global_mutations) - {"argparse"}
