"""``--airflow``: two Airflow 3 DAGs beside the script, written from the plan.

``<stem>`` runs the pipeline, one task per step (``--step NAME``) with the dependencies of
the step graph; ``<stem>_sweep`` runs the whole script once per point of a grid given when the
DAG is triggered (dynamic task mapping), then reports the best point by the ``metrics``
cell's first metric. A flat notebook is a one-task pipeline. The DAG params are typed from the
parameters cell (Airflow ``Param`` with JSON-schema types, the help text as description). The
tasks call :mod:`nb2pipe_runtime.engine`, so a worker needs the script, nb2pipe-runtime and
the notebook's packages. Each engine is a module like this one; the pieces they share are in
:mod:`nb2pipe.export.orchestration`.
"""

from __future__ import annotations

import itertools
import json
import re
import textwrap
from pathlib import Path

from nb2pipe.export.magics import python_string
from nb2pipe.export.orchestration import (
    first_metric,
    grid_example,
    identifier,
    packed,
    python_tuple,
)
from nb2pipe.export.parameters import Parameter, ParamType
from nb2pipe.export.planned import ExportPlan, PipelinePlan
from nb2pipe.export.scaffold import GENERATED_MARKER

__all__ = ["dag_file_name", "render_airflow_dag"]

_JSON_TYPES = {
    ParamType.INT: "integer",
    ParamType.FLOAT: "number",
    ParamType.STR: "string",
    ParamType.BOOL: "boolean",
    ParamType.PATH: "string",
    ParamType.DATE: "string",
}


def dag_file_name(script: Path) -> str:
    """``<stem>_dag.py``, beside the script."""
    return f"{script.stem}_dag.py"


def render_airflow_dag(plan: ExportPlan, pipeline: PipelinePlan | None) -> tuple[str, str]:
    """The DAG file's name (relative to the script's folder) and text."""
    stem = plan.script_path.stem
    dag_id = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)
    notebook = plan.notebook_reference
    metric = first_metric(plan)
    steps = pipeline.steps if pipeline is not None else ()
    summary = (
        f"Airflow DAGs for {plan.script_path.name}: `{dag_id}` runs "
        + ("its steps as tasks" if steps else "it as one task")
        + f"; `{dag_id}_sweep` runs it once per point of a grid given when triggered "
        + '(`{"grid": {"name": [value, ...]}}`) and reports the best.'
    )
    first, *rest = textwrap.wrap(summary, 92)
    lines = [
        f'"""{first}',
        *rest,
        "",
        "Workers need this folder's script, nb2pipe-runtime and the notebook's packages; the step",
        "outputs and run records go to NB2PIPE_OUTPUTS_DIR / NB2PIPE_RUNS_DIR (folders, or an",
        'fsspec URL for the outputs), by default beside the script."""',
        f"{GENERATED_MARKER}{notebook}: edit the notebook, then re-export.",
        "",
        "from __future__ import annotations",
        "",
        "import os",
        "from pathlib import Path",
        "",
        "from airflow.sdk import Param, dag, task",
        "from nb2pipe_runtime.engine import best_run, grid_points, point_outputs, run_script"
        if steps
        else "from nb2pipe_runtime.engine import best_run, grid_points, run_script",
        "",
        f"SCRIPT = str(Path(__file__).with_name({python_string(plan.script_path.name)}))",
        'OUTPUTS = os.environ.get("NB2PIPE_OUTPUTS_DIR", str(Path(SCRIPT).with_name("outputs")))',
        'RUNS = os.environ.get("NB2PIPE_RUNS_DIR", str(Path(SCRIPT).with_name("runs")))',
        "#: the notebook's parameters, typed as its parameters cell has them",
        "PARAMS = {",
        *(f"    {python_string(p.name)}: {_param(p)}," for p in plan.parameters),
        "}",
        "",
        "",
        f'@dag(dag_id={python_string(dag_id)}, schedule=None, params=PARAMS, tags=["nb2pipe"])',
        f"def {identifier(dag_id)}():",
        '    """The pipeline, one task per step."""',
    ]
    if steps:
        for step in steps:
            producers = sorted({producer for _, producer in step.inputs})
            arguments = [
                "SCRIPT", 'dict(context["params"])', f"step={python_string(step.name)}",
                f"inputs_from={python_tuple(producers)}", "outputs=OUTPUTS", "runs_dir=RUNS",
            ]
            lines += [
                "",
                f"    @task(task_id={python_string(step.name)})",
                f"    def {identifier(step.name)}_task(**context):",
                "        return run_script(",
                *packed(arguments, indent=12),
                "        ).to_json()",
            ]
        lines.append("")
        tasks = {step.name: f"{identifier(step.name)}_task()" for step in steps}
        lines += [f"    {identifier(step.name)} = {tasks[step.name]}" for step in steps]
        for step in steps:
            for producer in sorted({producer for _, producer in step.inputs}):
                lines.append(f"    {identifier(producer)} >> {identifier(step.name)}")
        # steps run in notebook order even where no value flows between them
        for before, after in itertools.pairwise(steps):
            if not any(producer == before.name for _, producer in after.inputs):
                lines.append(f"    {identifier(before.name)} >> {identifier(after.name)}")
    else:
        lines += [
            "",
            '    @task(task_id="run")',
            "    def run_task(**context):",
            '        return run_script(SCRIPT, dict(context["params"]), runs_dir=RUNS).to_json()',
            "",
            "    run_task()",
        ]
    lines += [
        "",
        "",
        f"{identifier(dag_id)}()",
        "",
        "",
        "@dag(",
        f"    dag_id={python_string(dag_id + '_sweep')},",
        "    schedule=None,",
        '    params={',
        '        "grid": Param({}, type="object", description="parameter -> values to try: "',
        f"                      {python_string(grid_example(plan.parameters))}),",
        "    },",
        '    tags=["nb2pipe"],',
        ")",
        f"def {identifier(dag_id)}_sweep():",
        '    """The whole pipeline once per point of the grid (in parallel), then the best point."""',
        "",
        "    @task",
        "    def points(**context):",
        '        defaults = {name: param.value for name, param in PARAMS.items()}',
        '        return grid_points(context["params"]["grid"], defaults)',
        "",
        "    @task",
        "    def run_point(point):",
        *(
            [
                "        outputs = point_outputs(OUTPUTS, point)  # its own: points run side by side",
                "        return run_script(SCRIPT, point, outputs=outputs, runs_dir=RUNS).to_json()",
            ]
            if steps
            else ["        return run_script(SCRIPT, point, runs_dir=RUNS).to_json()"]
        ),
        "",
        "    @task",
        "    def best(runs):",
        f"        return best_run(list(runs), {python_string(metric) if metric else 'None'})",
        "",
        "    best(run_point.expand(point=points()))",
        "",
        "",
        f"{identifier(dag_id)}_sweep()",
    ]
    return dag_file_name(plan.script_path), "\n".join(lines) + "\n"


def _param(parameter: Parameter) -> str:
    """``Param(default, type=..., description=...)`` for one parameter."""
    default = parameter.default
    if isinstance(default, tuple):
        default = list(default)
    if parameter.type in (ParamType.PATH, ParamType.DATE) and default is not None:
        default = str(default)
    arguments = [repr(default)]
    if parameter.type is not ParamType.ANY:  # `msg = None`: any JSON value (a schema with no type)
        if parameter.type is ParamType.JSON:
            kind: str | list[str] = "object" if isinstance(parameter.default, dict) else "array"
        else:
            kind = _JSON_TYPES[parameter.type]
        if parameter.optional:
            kind = [kind, "null"] if isinstance(kind, str) else kind
        arguments.append(f"type={json.dumps(kind)}")
    if parameter.choices is not None:
        values = [*parameter.choices, *([None] if parameter.optional else [])]
        arguments.append(f"enum={values!r}")
    if parameter.help:
        arguments.append(f"description={python_string(parameter.help)}")
    return f"Param({', '.join(arguments)})"
