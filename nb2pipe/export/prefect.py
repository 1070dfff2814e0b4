"""``--prefect``: two Prefect 3 flows beside the script, written from the plan.

``<stem>`` runs the pipeline, one task per step (``--step NAME``) in notebook order, each
given the runs of the steps whose outputs it reads; ``<stem>_sweep`` runs the whole script once
per point of a grid (``.map``), then reports the best point by the ``metrics`` cell's first
metric. A flat notebook is a one-task pipeline. The flow's parameters are the notebook's,
typed as its parameters cell has them, with its comments as their descriptions.

Task results are persisted under cache keys of what each step depends on (its code's digest,
written here from the plan; the parameters it reads; the hashes of its inputs and data:
:class:`nb2pipe_runtime.flows.CachedStep`), so a second run with nothing changed skips every
step and a changed parameter re-runs only the steps downstream of it. The tasks call
:mod:`nb2pipe_runtime.engine`; the pieces the engines' files share are in
:mod:`nb2pipe.export.orchestration`.
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path
from typing import Any

from nb2pipe.analysis.files import written_files
from nb2pipe.export.magics import python_string
from nb2pipe.export.orchestration import (
    first_metric,
    grid_example,
    identifier,
    packed,
    python_tuple,
)
from nb2pipe.export.parameters import Parameter, ParamType
from nb2pipe.export.planned import CellPlan, ExportPlan, PipelinePlan, StepPlan
from nb2pipe.export.scaffold import GENERATED_MARKER
from nb2pipe.export.steps import data_files_of

__all__ = ["flow_file_name", "render_prefect_flow"]

_ANNOTATIONS = {
    ParamType.INT: "int",
    ParamType.FLOAT: "float",
    ParamType.STR: "str",
    ParamType.BOOL: "bool",
    ParamType.PATH: "str",  # the script reads the text (JSON has no paths)
    ParamType.DATE: "str",
    ParamType.ANY: "Any",
}


def flow_file_name(script: Path) -> str:
    """``<stem>_flow.py``, beside the script."""
    return f"{script.stem}_flow.py"


def render_prefect_flow(plan: ExportPlan, pipeline: PipelinePlan | None) -> tuple[str, str]:
    """The flow file's name (relative to the script's folder) and text."""
    stem = plan.script_path.stem
    name = identifier(stem)
    metric = first_metric(plan)
    steps = tuple(step for step in pipeline.steps if not step.setup) if pipeline else ()
    grid = grid_example(plan.parameters)
    summary = (
        f"Prefect flows for {plan.script_path.name}: `{name}` runs "
        + ("its steps as tasks, each skipped while nothing it depends on changed"
           if steps else "it as one task, skipped while nothing it depends on changed")
        + f"; `{name}_sweep` runs it once per point of a grid and reports the best."
    )
    first, *rest = textwrap.wrap(summary, 92, break_on_hyphens=False)
    lines = [
        f'"""{first}',
        *rest,
        "",
        *textwrap.wrap(
            f"`python {flow_file_name(plan.script_path)} [--PARAM VALUE]...` (the script's "
            f"options) runs the pipeline here, `--grid '{_docstring(grid)}'` the sweep, on "
            "Prefect's ephemeral API or on the server PREFECT_API_URL names; "
            "`pipeline.serve(...)` or `pipeline.deploy(...)` deploys it. Workers need this "
            "folder's script, nb2pipe-runtime and the notebook's packages; the step outputs and "
            "run records go to NB2PIPE_OUTPUTS_DIR / NB2PIPE_RUNS_DIR (folders, or an fsspec URL "
            'for the outputs), by default beside the script."""',
            92, break_long_words=False, break_on_hyphens=False,
        ),
        f"{GENERATED_MARKER}{plan.notebook_reference}: edit the notebook, then re-export.",
        "",
        "from __future__ import annotations",
        "",
        "import os",
        "from pathlib import Path",
        "from typing import Any" + (", Literal" if _uses_literal(plan.parameters) else ""),
        "",
        "from nb2pipe_runtime.engine import best_run, grid_points",
        "from nb2pipe_runtime.flows import CachedStep, run_flows",
        "from prefect import flow, task",
        "from prefect.context import TaskRunContext",
        "",
        f"SCRIPT = str(Path(__file__).with_name({python_string(plan.script_path.name)}))",
        'OUTPUTS = os.environ.get("NB2PIPE_OUTPUTS_DIR", str(Path(SCRIPT).with_name("outputs")))',
        'RUNS = os.environ.get("NB2PIPE_RUNS_DIR", str(Path(SCRIPT).with_name("runs")))',
    ]
    if steps:
        assert pipeline is not None
        lines += [
            "#: each step as its cache sees it: a digest of its code, the parameters it reads, the",
            "#: steps whose outputs it reads, whether it saves outputs, the data files it names",
            "STEPS = {",
        ]
        for step in steps:
            lines += _cached_step(plan, pipeline, step)
        lines.append("}")
    lines += [
        "#: the whole script as its cache sees it (each point of a sweep"
        + (")" if steps else "; the pipeline's one task)"),
        *_whole(plan, pipeline),
        "#: the notebook's parameters and their defaults, where a sweep's points start",
        "DEFAULTS = {",
        *(f"    {python_string(p.name)}: {_literal(_plain(p.default))}," for p in plan.parameters),
        "}",
        "",
        "",
    ]
    if steps:
        lines += [
            "def step_key(context: TaskRunContext, arguments: dict[str, Any]) -> str:",
            '    """A step\'s cache key: its code, the parameters it reads, the hashes of its inputs."""',
            '    return STEPS[context.task.name].key(SCRIPT, arguments["params"], OUTPUTS)',
            "",
            "",
        ]
    lines += [
        "def whole_key(context: TaskRunContext, arguments: dict[str, Any]) -> str:",
        '    """The whole script\'s cache key: its code, the parameters, the hashes of its data."""',
        '    return WHOLE.key(SCRIPT, arguments["params"], OUTPUTS)',
        "",
        "",
    ]
    helper = _free_name("run_pipeline", plan.parameters)
    if steps:
        lines += _step_tasks(plan, steps, helper)
    else:
        lines += [
            '@task(name="run", cache_key_fn=whole_key, persist_result=True)',
            "def run_task(params: dict[str, Any]) -> dict[str, Any]:",
            f'    """The whole script: `{plan.script_path.name}`."""',
            "    return WHOLE.run(SCRIPT, params, OUTPUTS, RUNS).to_json()",
            "",
            "",
            f"def {helper}(params: dict[str, Any]) -> dict[str, dict[str, Any]]:",
            '    """The script as one task."""',
            '    return {"run": run_task(params)}',
            "",
            "",
        ]
    lines += _pipeline_flow(plan, name, helper, bool(steps))
    lines += [
        "",
        "",
        '@task(name="point", cache_key_fn=whole_key, persist_result=True)',
        "def point_task(params: dict[str, Any]) -> dict[str, Any]:",
        '    """The whole script at one point of the grid."""',
        "    return WHOLE.run(SCRIPT, params, OUTPUTS, RUNS).to_json()",
        "",
        "",
        f"@flow(name={python_string(name + '_sweep')})",
        "def sweep(grid: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:",
        '    """The whole script once per point of the grid (side by side), then the best point',
        f"    by {_docstring(metric)}." if metric else "    by the first metric the runs have.",
        "",
        "    Args:",
        f"        grid: parameter -> values to try: {_docstring(grid)}",
        "        params: the other parameters' values (default: the notebook's)",
        '    """',
        "    points = grid_points(grid, {**DEFAULTS, **(params or {})})",
        f"    return best_run(point_task.map(points).result(), {_literal(metric)})",
        "",
        "",
        'if __name__ == "__main__":',
        "    raise SystemExit(run_flows(SCRIPT, pipeline, sweep))",
    ]
    return flow_file_name(plan.script_path), "\n".join(lines) + "\n"


def _step_tasks(plan: ExportPlan, steps: tuple[StepPlan, ...], helper: str) -> list[str]:
    """One task per step, and the function that runs them in notebook order."""
    lines: list[str] = []
    for step in steps:
        first, last = step.first_cell + 1, step.last_cell + 1
        cells = f"cell {first}" if first == last else f"cells {first}-{last}"
        signature = "params: dict[str, Any], after: tuple[dict[str, Any], ...] = ()"
        header = f"def {identifier(step.name)}_task({signature}) -> dict[str, Any]:"
        if len(header) > 100:
            header = f"def {identifier(step.name)}_task(\n    {signature}\n) -> dict[str, Any]:"
        docstring = (
            f'    """The notebook\'s step {_docstring(step.name)} ({cells}): '
            f'`{plan.script_path.name} --step {_docstring(step.name)}`."""'
        )
        if len(docstring) > 100:
            docstring = (
                f'    """The notebook\'s step {_docstring(step.name)} ({cells}):\n'
                f'    `{plan.script_path.name} --step {_docstring(step.name)}`."""'
            )
        lines += [
            f"@task(name={python_string(step.name)}, cache_key_fn=step_key, persist_result=True)",
            header,
            docstring,
            f"    return STEPS[{python_string(step.name)}].run(SCRIPT, params, OUTPUTS, RUNS).to_json()",
            "",
            "",
        ]
    lines += [
        "def run_step(step_task: Any, params: dict[str, Any], *after: dict[str, Any]) -> dict[str, Any]:",
        '    """Run a step\'s task; one whose saved outputs are not those its cache entry made (another',
        '    run replaced them since) runs again and refreshes the entry."""',
        "    if not STEPS[step_task.name].current(SCRIPT, params, OUTPUTS):",
        "        step_task = step_task.with_options(refresh_cache=True)",
        "    return step_task(params, after)",
        "",
        "",
        f"def {helper}(params: dict[str, Any]) -> dict[str, dict[str, Any]]:",
        '    """The steps in notebook order, each given the runs of the steps whose outputs it reads."""',
        "    runs: dict[str, dict[str, Any]] = {}",
    ]
    for step in steps:
        producers = sorted({producer for _, producer in step.inputs})
        arguments = [f"{identifier(step.name)}_task", "params"]
        arguments += [f"runs[{python_string(producer)}]" for producer in producers]
        call = f"    runs[{python_string(step.name)}] = run_step({', '.join(arguments)})"
        if len(call) > 100:
            call = "\n".join([
                f"    runs[{python_string(step.name)}] = run_step(",
                *packed(arguments, indent=8),
                "    )",
            ])
        lines.append(call)
    lines += ["    return runs", "", ""]
    return lines


def _pipeline_flow(plan: ExportPlan, name: str, helper: str, steps: bool) -> list[str]:
    """The pipeline flow: the notebook's parameters as typed flow parameters."""
    notebook = plan.analysis.notebook
    title = notebook.title or notebook.stem.replace("_", " ")
    signature = [
        f"{p.name}: {_annotation(p)} = {_literal(_plain(p.default))}" for p in plan.parameters
    ]
    lines = [f"@flow(name={python_string(name)})"]
    one = f"def pipeline({', '.join(signature)}) -> dict[str, dict[str, Any]]:"
    if len(one) <= 100:
        lines.append(one)
    else:
        lines += ["def pipeline(", *(f"    {item}," for item in signature),
                  ") -> dict[str, dict[str, Any]]:"]
    what = "one task per step" if steps else "the script as one task"
    lines.append(f'    """{_docstring(title)}: {what}.')
    described = [p for p in plan.parameters if p.help]
    if described:
        lines += ["", "    Args:"]
        for parameter in described:
            text = f"{parameter.name}: {_docstring(parameter.help or '')}"
            lines += textwrap.wrap(text, 100, initial_indent=" " * 8,
                                   subsequent_indent=" " * 12, break_long_words=False)
        lines.append('    """')
    else:
        lines[-1] += '"""'
    values = [f"{python_string(p.name)}: {p.name}" for p in plan.parameters]
    call = f"    return {helper}({{{', '.join(values)}}})"
    if len(call) <= 100:
        lines.append(call)
    else:
        lines += [f"    return {helper}({{", *(f"        {value}," for value in values), "    })"]
    return lines


def _cached_step(plan: ExportPlan, pipeline: PipelinePlan, step: StepPlan) -> list[str]:
    """``"name": CachedStep(...)``: what a step's results depend on, its set-up steps' too
    (a ``prepare`` step without outputs runs before every step)."""
    needed = [s for s in pipeline.steps if s.setup] + [step]
    reads = {name for s in needed for name in s.params}
    data = sorted({path for s in needed for path in s.data_files})
    data_params = {name for s in needed for name in s.data_params}
    arguments = [
        python_string(step.name), python_string(_step_code(plan, pipeline, step)),
        f"reads={python_tuple([p.name for p in plan.parameters if p.name in reads])}",
        f"inputs_from={python_tuple(sorted({producer for _, producer in step.inputs}))}",
        f"saves={bool(step.outputs)}",
    ]
    if data:
        arguments.append(f"data_files={python_tuple(data)}")
    if data_params:
        names = [p.name for p in plan.parameters if p.name in data_params]
        arguments.append(f"data_params={python_tuple(names)}")
    return [f"    {python_string(step.name)}: CachedStep(", *packed(arguments, indent=8), "    ),"]


def _whole(plan: ExportPlan, pipeline: PipelinePlan | None) -> list[str]:
    """``WHOLE = CachedStep(None, ...)``: the whole script's code, parameters and data."""
    cells = [cell for cell in plan.cells if not cell.is_parameters]
    if pipeline is not None:
        data = sorted({path for step in pipeline.steps for path in step.data_files})
        data_params = [
            p.name for p in plan.parameters
            if any(p.name in step.data_params for step in pipeline.steps)
        ]
    else:
        notebook = plan.analysis.notebook
        folder = notebook.path.parent if notebook.path is not None else None
        written = {text for cell in cells for text in written_files(cell.parsed)}
        files, params = data_files_of(
            [cell.parsed for cell in cells], [p.name for p in plan.parameters],
            plan.parameters, folder, written,
        )
        data, data_params = list(files), list(params)
    arguments = [
        "None", python_string(_digest(cells)),
        f"reads={python_tuple([p.name for p in plan.parameters])}",
        f"saves={pipeline is not None}",
    ]
    if data:
        arguments.append(f"data_files={python_tuple(data)}")
    if data_params:
        arguments.append(f"data_params={python_tuple(data_params)}")
    return ["WHOLE = CachedStep(", *packed(arguments, indent=4), ")"]


def _step_code(plan: ExportPlan, pipeline: PipelinePlan, step: StepPlan) -> str:
    """A digest of the code a step runs: the notebook's module-level cells (imports, functions),
    the set-up steps that run before every step, and its own cells."""
    setup = {s.name for s in pipeline.steps if s.setup}
    cells = [
        cell for cell in plan.cells
        if not cell.is_parameters
        and pipeline.step_of_cell.get(cell.index, None) in (None, step.name, *setup)
    ]
    return _digest(cells)


def _digest(cells: list[CellPlan]) -> str:
    digest = hashlib.sha256()
    for cell in cells:
        digest.update(cell.parsed.python_source.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _annotation(parameter: Parameter) -> str:
    if parameter.choices is not None:
        kind = "Literal[" + ", ".join(_literal(choice) for choice in parameter.choices) + "]"
    elif parameter.type is ParamType.JSON:
        kind = "dict[str, Any]" if isinstance(parameter.default, dict) else "list[Any]"
    else:
        kind = _ANNOTATIONS[parameter.type]
    if parameter.optional and kind != "Any":
        kind += " | None"
    return kind


def _uses_literal(parameters: tuple[Parameter, ...]) -> bool:
    return any(parameter.choices is not None for parameter in parameters)


def _plain(value: Any) -> Any:
    """A default as the script's ``--config`` takes it: paths and dates as text, lists."""
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _literal(value: Any) -> str:
    return python_string(value) if isinstance(value, str) else repr(value)


def _docstring(text: str) -> str:
    """``text`` safe inside a triple-quoted docstring."""
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _free_name(name: str, parameters: tuple[Parameter, ...]) -> str:
    """``name``, or ``_name``..., whichever no parameter shadows in the flow's body."""
    taken = {parameter.name for parameter in parameters}
    while name in taken:
        name = "_" + name
    return name
