"""Assemble a notebook with ``step:`` cells as a pipeline: step functions and a ``main`` that
runs them in order (or one, with ``--step``) inside a recorded run.

The cells' code is the same as a flat script's (:mod:`nb2pipe.export.cells`); only where it
lands differs: each step's cells become the body of ``NAME(params, inputs...)``, which unpacks
the parameters it reads and returns its outputs. With ``--dvc`` the same parts are split into
modules (:mod:`nb2pipe.export.dvc` writes the stages).
"""

from __future__ import annotations

import re
from dataclasses import replace

from nb2pipe.export.cells import RenderedCell, indent_code, render_cells
from nb2pipe.export.magics import python_string
from nb2pipe.export.planned import PREPARE, ExportPlan, PipelinePlan, StepPlan
from nb2pipe.export.scaffold import GENERATED_MARKER, Scaffold, chunked_statement
from nb2pipe.export.script import (
    RenderedScript,
    body_of,
    chunked_global,
    keeps_display,
    notes_of,
)

__all__ = ["package_name", "render_pipeline"]

_WIDTH = 100


def package_name(stem: str) -> str:
    """The package a ``--dvc`` export puts the step modules in: ``<stem>_steps``."""
    name = re.sub(r"\W", "_", stem)
    if not name or name[0].isdigit():
        name = "nb_" + name
    return name + "_steps"


def render_pipeline(plan: ExportPlan) -> tuple[RenderedScript, PipelinePlan]:
    """The pipeline script (and, for ``--dvc``, its modules), and the steps as rendered (a
    ``prepare`` step whose code was all display-only is dropped)."""
    assert plan.pipeline is not None
    cells = render_cells(plan, pipeline=True)
    by_step: dict[str, list[RenderedCell]] = {}
    for cell in cells:
        step = plan.pipeline.step_of_cell.get(cell.plan.index)
        if step is not None:
            by_step.setdefault(step, []).append(cell)
    steps = tuple(
        step for step in plan.pipeline.steps
        if not (step.name == PREPARE and not body_of(by_step.get(step.name, [])) and not step.outputs)
    )
    pipeline = replace(plan.pipeline, steps=steps)
    builder = _Pipeline(plan, pipeline, cells, by_step)
    rendered = builder.render()
    return rendered, pipeline


class _Pipeline:
    def __init__(
        self,
        plan: ExportPlan,
        pipeline: PipelinePlan,
        cells: tuple[RenderedCell, ...],
        by_step: dict[str, list[RenderedCell]],
    ) -> None:
        self.plan = plan
        self.pipeline = pipeline
        self.by_step = by_step
        self.package = package_name(plan.script_path.stem)
        self.scaffold = Scaffold(
            plan, cells, steps=tuple(step.name for step in pipeline.steps),
            keeps_display=keeps_display(plan, cells),
        )

    def render(self) -> RenderedScript:
        code = self._script()
        notes = notes_of(self.plan, self.scaffold.cells)
        for step in self.pipeline.steps:
            inputs = ", ".join(name for name, _ in step.inputs) or "-"
            outputs = ", ".join(step.outputs) or "-"
            notes.insert(-1, f"step {step.name}: {inputs} -> {outputs}")
        rendered = RenderedScript(
            code=code,
            notes=notes,
            requirements=[str(requirement) for requirement in self.scaffold.requirements()],
            cell_count=len(self.plan.cells),
        )
        if self.plan.options.dvc:
            rendered.files = self._modules()
        return rendered

    # -- the entry script --------------------------------------------------------------------
    def _script(self) -> str:
        scaffold = self.scaffold
        if self.plan.options.dvc:
            sections = [scaffold.parse_params(), self._main()]
            imports = self._dvc_entry_imports()
        else:
            sections = [
                *(d for cell in scaffold.cells for d in cell.definitions),
                *(self._step_function(step) for step in self.pipeline.steps),
                scaffold.parse_params(),
                self._main(),
            ]
            if self.plan.options.standalone:
                from nb2pipe.export.standalone import inlined_runtime

                sections.append(inlined_runtime(scaffold.runtime_names(), self.plan))
            imports = scaffold.imports()
        return (
            scaffold.header(self._docstring_paragraph())
            + imports
            + "".join(f"\n\n{section.rstrip()}\n" for section in sections)
            + "\n\n"
            + scaffold.entry_point()
        )

    def _docstring_paragraph(self) -> str | None:
        if self.plan.options.dvc:
            return f"The steps' code is in {self.package}/; `dvc repro` runs the pipeline."
        return None

    def _dvc_entry_imports(self) -> str:
        scaffold = self.scaffold
        package = self.package
        lines = [f"from {package} import shared"] if self.pipeline.function_params else []
        lines += [
            f"from {package}.{self._module_of(step)} import {step.function}"
            for step in self.pipeline.steps
        ]
        script = ["import argparse", "import sys"]
        script += [f"import {m}" for m in scaffold.script_modules() if m not in ("argparse", "sys")
                   and m in ("json", "pathlib", "datetime")]
        runtime = Scaffold(self.plan, (), steps=scaffold.steps).runtime_import()
        return "".join(
            "\n" + "\n".join(group) + "\n" for group in (script, lines, runtime.splitlines())
        )

    def _main(self) -> str:
        plan, pipeline = self.plan, self.pipeline
        names = plan.names
        dvc = plan.options.dvc
        lines = [
            f"def {names.main}({names.argv}: list[str] | None = None) -> None:",
            '    """Run the pipeline\'s steps in order; with --step NAME, run only that step."""',
        ]
        if pipeline.function_params and not dvc:
            lines.append(chunked_global(pipeline.function_params))
        lines.append(f"    {names.params} = {names.parse_params}({names.argv})")
        for name in pipeline.function_params:
            target = f"shared.{name}" if dvc else name
            lines.append(f"    {target} = {names.params}.{name}  # notebook functions read it")
        notebook = python_string(plan.notebook_reference)
        lines.append(
            f"    with {names.of('Pipeline')}({names.params}, __file__, {notebook}) as {names.run}:"
        )
        for step in pipeline.steps:
            lines.append(_step_call(step, names.run))
        return "\n".join(lines) + "\n"

    # -- step functions ----------------------------------------------------------------------
    def _step_function(self, step: StepPlan) -> str:
        cells = self.by_step.get(step.name, [])
        body = body_of(cells)
        parameters = [name for name, _ in step.inputs]
        if step.params:
            parameters += ["*", *step.params]  # the run passes the parameters it reads
        header = f"def {step.function}({', '.join(parameters)}):"
        if len(header) > _WIDTH:
            header = f"def {step.function}(\n" + "".join(f"    {item},\n" for item in parameters) + "):"
        first, last = step.first_cell + 1, step.last_cell + 1
        span = f"cell {first}" if first == last else f"cells {first}-{last}"
        if step.name == PREPARE and not step.cells[0].parsed.cell.role.step:
            docstring = f'"""The notebook\'s cells before its first step ({span})."""'
        else:
            docstring = f'"""The notebook\'s step {step.name} ({span})."""'
        lines = [docstring, body] if body else [docstring]
        if step.rebinds_module_level:
            declared = chunked_global(step.rebinds_module_level).splitlines()
            lines.insert(1, "\n".join(line.strip() for line in declared))
        if step.outputs:
            statement = f"return {', '.join(step.outputs)}"
            if len(statement) + 4 > _WIDTH:
                statement = "return (\n" + "".join(f"    {name},\n" for name in step.outputs) + ")"
            lines.append(statement)
        return header + "\n" + indent_code("\n".join(lines), "    ") + "\n"

    # -- the modules of a --dvc export -------------------------------------------------------
    def _module_of(self, step: StepPlan) -> str:
        return step.name if step.name not in ("shared", "__init__") else step.name + "_step"

    def _modules(self) -> list[tuple[str, str]]:
        notebook = self.plan.notebook_reference
        marker = f"{GENERATED_MARKER}{notebook}: edit the notebook, then re-export.\n"
        package = self.package
        files = [
            (f"{package}/__init__.py", f'"""The steps of the pipeline exported from {notebook}."""\n{marker}')
        ]
        shared, shared_names = self._shared_module(marker)
        files.append((f"{package}/shared.py", shared))
        runtime_names = self.plan.names.runtime
        for step in self.pipeline.steps:
            function = self._step_function(step)
            free = self._free_names(step)
            from_shared = sorted(free & shared_names)
            runtime = sorted(
                name for name, alias in runtime_names.items() if alias in free and alias not in shared_names
            )
            parts = [f'"""Step {step.name} of the pipeline exported from {notebook}."""\n', marker]
            future = [
                line for cell in self.scaffold.cells for line in cell.imports
                if line.startswith("from __future__")
            ]
            if future:
                parts.append("\n" + "\n".join(dict.fromkeys(future)) + "\n")
            local = []
            if runtime:
                local.append(chunked_statement(
                    "from nb2pipe_runtime import",
                    [name if runtime_names[name] == name else f"{name} as {runtime_names[name]}"
                     for name in runtime],
                ))
            if from_shared:
                local.append(chunked_statement(f"from {package}.shared import", from_shared))
            if self.pipeline.star_import:
                local.append(f"from {package}.shared import *  # noqa: F403")
            if local:
                parts.append("\n" + "\n".join(local) + "\n")
            parts.append("\n\n" + function)
            files.append((f"{package}/{self._module_of(step)}.py", "".join(parts)))
        return files

    def _free_names(self, step: StepPlan) -> frozenset[str]:
        """The globals the step's function reads: the plan's, and those its rendered cells
        added (runtime functions by the script's names, modules of translated magics)."""
        names = self.plan.names
        added = {
            name for cell in self.by_step.get(step.name, [])
            for name in (*cell.body_reads, *(names.of(runtime) for runtime in cell.body_runtime))
        }
        return step.free_names | added

    def _shared_module(self, marker: str) -> tuple[str, frozenset[str]]:
        """The shared module's text, and the names it binds: the notebook's module-level names
        (the plan's) and the imports added here."""
        notebook = self.plan.notebook_reference
        parts = [
            (
                f'"""What the steps of the pipeline exported from {notebook} share: the notebook\'s\n'
                "imports and definitions. Notebook functions read the parameters as globals of\n"
                'this module, which the entry script sets."""\n'
            ),
            marker,
        ]
        future: list[str] = []
        imports: list[str] = []
        for cell in self.scaffold.cells:
            for line in cell.imports:
                target = future if line.startswith("from __future__") else imports
                if line not in target:
                    target.append(line)
        modules = sorted({m for cell in self.scaffold.cells for m in cell.stdlib})
        stdlib = [f"import {m}" for m in modules if f"import {m}" not in imports]
        added = {module.split(".", 1)[0] for module in modules}
        if self.scaffold.keeps_display:
            stdlib.append("from IPython.display import display")
            added.add("display")
        names = self.plan.names
        definitions_use_runtime = sorted(
            {name for cell in self.scaffold.cells for name in cell.definition_runtime}
        )
        for group in (future, stdlib, imports):
            if group:
                parts.append("\n" + "\n".join(group) + "\n")
        if definitions_use_runtime:
            imported = [
                name if names.of(name) == name else f"{name} as {names.of(name)}"
                for name in definitions_use_runtime
            ]
            parts.append("\n" + chunked_statement("from nb2pipe_runtime import", imported) + "\n")
        sections = [f"{name} = None  # set by main()" for name in self.pipeline.function_params]
        body = ["\n".join(sections) + "\n"] if sections else []
        body += [d for cell in self.scaffold.cells for d in cell.definitions]
        for section in body:
            parts.append("\n\n" + section.rstrip() + "\n")
        added |= {names.of(name) for name in definitions_use_runtime}
        return "".join(parts), self.pipeline.module_names | added


def _step_call(step: StepPlan, run: str) -> str:
    """``outputs = run.step("name", function, inputs..., outputs=(...))`` in ``main``."""
    args = [python_string(step.name), step.function, *(name for name, _ in step.inputs)]
    if step.outputs:
        items = ", ".join(python_string(name) for name in step.outputs)
        args.append(f"outputs=({items}{',' if len(step.outputs) == 1 else ''})")
    if step.setup:
        args.append("setup=True")
    targets = f"{', '.join(step.outputs)} = " if step.outputs else ""
    one = f"        {targets}{run}.step({', '.join(args)})"
    if len(one) <= _WIDTH:
        return one
    # the arguments packed onto their own lines: `x, y = run.step(` / `"name", f, a,` / `)`
    head = f"        {targets}{run}.step("
    if len(head) > _WIDTH:
        head = "        (\n" + "".join(f"            {n},\n" for n in step.outputs) + f"        ) = {run}.step("
    lines: list[str] = []
    current = ""
    for arg in args:
        piece = arg + ","
        if current and len(current) + 1 + len(piece) > _WIDTH:
            lines.append(current)
            current = ""
        current = f"{current} {piece}" if current else f"            {piece}"
    lines.append(current)
    return "\n".join([head, *lines, "        )"])
