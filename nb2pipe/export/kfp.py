"""``--kfp``: two Kubeflow Pipelines (v2) pipelines beside the script, written from the plan.

``pipeline`` runs the script's steps, one component per step (``--step NAME``): each step's
saved outputs are one ``Dataset`` artifact, the input artifacts of a step are those of the
steps it reads from, and a step with a ``metrics`` cell has a ``Metrics`` artifact, so KFP's
caching and lineage see what flows. Each component reads only the parameters its step reads
(and those of set-up steps and module-level functions), so a changed parameter re-runs only
the steps that read it and those after them. ``grid_pipeline`` runs the whole script once per
point of a grid (``dsl.ParallelFor``), then picks the best point by the ``metrics`` cell's
first metric (``dsl.Collected``). A flat notebook is a one-component pipeline.

The components call :func:`nb2pipe_runtime.engine.run_component`, and carry the script's code
as an input (the compiled YAML holds it, and so does each task's cache key). Parameters that
KFP cannot carry as they are travel as JSON text: ``None`` (``X | None``, ``msg = None``),
lists and dicts (KFP's protobuf values would turn their integers into floats), and so does the
grid and each of its points. The pieces every orchestrator renders alike are in
:mod:`nb2pipe.export.orchestration`.
"""

from __future__ import annotations

import itertools
import json
import re
import textwrap
from dataclasses import dataclass, replace

from nb2pipe.analysis.constants import module_constants
from nb2pipe.export.magics import python_string
from nb2pipe.export.orchestration import first_metric, grid_example, identifier, packed
from nb2pipe.export.parameters import Parameter, ParamType
from nb2pipe.export.planned import ExportPlan, PipelinePlan, StepPlan
from nb2pipe.export.scaffold import GENERATED_MARKER

__all__ = ["DEFAULT_IMAGE", "kfp_file_name", "kfp_settings", "render_kfp_pipeline"]

#: the components' image when the export names none (KFP's own default, said explicitly)
DEFAULT_IMAGE = "python:3.11"

_NATIVE = {
    ParamType.INT: "int",
    ParamType.FLOAT: "float",
    ParamType.STR: "str",
    ParamType.BOOL: "bool",
    ParamType.PATH: "str",
    ParamType.DATE: "str",
}
#: names the generated module binds itself (a step's component or a parameter must not
#: shadow them)
_MODULE_NAMES = frozenset({
    "argparse", "base64", "json", "os", "re", "sys", "Path", "compiler", "dsl", "local",
    "Dataset", "Input", "Metrics", "Output", "SCRIPT", "CODE", "IMAGE", "PACKAGES", "LOCAL",
    "PARAMETERS", "COMPONENT", "pipeline", "grid_pipeline", "expand_grid", "run_point",
    "best_point", "main", "_packages", "_Arguments", "_arguments", "_json_value",
})


def kfp_file_name(stem: str) -> str:
    """``<stem>_kfp.py``, beside the script."""
    return f"{stem}_kfp.py"


def kfp_settings(text: str) -> tuple[str | None, tuple[str, ...]]:
    """The image and the runtime's wheels a pipeline file names (``IMAGE``, ``PACKAGES``), as
    its export was given them (``--kfp-image``, ``--kfp-packages``)."""
    found = module_constants(text, frozenset({"IMAGE", "PACKAGES"}))
    image = found.get("IMAGE")
    packages = found.get("PACKAGES")
    return (
        image if isinstance(image, str) else None,
        tuple(str(p) for p in packages) if isinstance(packages, list) else (),
    )


@dataclass(frozen=True)
class _KfpParam:
    """A notebook parameter as the pipelines type it."""

    parameter: Parameter
    kind: str  #: the KFP type: int, float, str, bool (str for JSON text)
    default: str  #: the default as a Python literal
    as_json: bool  #: the value is JSON text (decoded in the component)
    #: its name in the file's functions: the parameter's, with ``_`` appended while that is a
    #: name the file's code uses there (``os``, ``json``, ``dsl``, a component's name ...)
    identifier: str = ""

    @property
    def name(self) -> str:
        return self.parameter.name

    @property
    def description(self) -> str:
        parameter = self.parameter
        parts = [parameter.help] if parameter.help else []
        if parameter.choices is not None:
            values = [*parameter.choices, *([None] if parameter.optional else [])]
            parts.append("one of: " + ", ".join(json.dumps(value) for value in values))
        if self.as_json:
            parts.append("as JSON")
        return "; ".join(parts)

    @property
    def value(self) -> str:
        """The expression a component's body reads the parameter's value with."""
        return f"json.loads({self.identifier})" if self.as_json else self.identifier


def _kfp_param(parameter: Parameter) -> _KfpParam:
    default = parameter.default
    if isinstance(default, tuple):
        default = list(default)
    as_json = (
        parameter.optional or default is None or parameter.type not in _NATIVE
    )
    if as_json:
        if parameter.type in (ParamType.PATH, ParamType.DATE) and default is not None:
            default = str(default)
        return _KfpParam(parameter, "str", python_string(json.dumps(default)), True)
    if parameter.type in (ParamType.STR, ParamType.PATH, ParamType.DATE):
        return _KfpParam(parameter, "str", python_string(str(default)), False)
    if parameter.type is ParamType.FLOAT:
        default = float(default)  # `ratio: float = 1`
    return _KfpParam(parameter, _NATIVE[parameter.type], repr(default), False)


def _with_identifiers(params: list[_KfpParam], reserved: frozenset[str]) -> list[_KfpParam]:
    """``params`` with their :attr:`_KfpParam.identifier`: none of ``reserved``, none another
    parameter's name."""
    names = {p.name for p in params}
    taken: set[str] = set()
    out = []
    for param in params:
        identifier = param.name
        while identifier in reserved or identifier in taken or (
            identifier != param.name and identifier in names
        ):
            identifier += "_"
        taken.add(identifier)
        out.append(replace(param, identifier=identifier))
    return out


def render_kfp_pipeline(plan: ExportPlan, pipeline: PipelinePlan | None) -> tuple[str, str]:
    """The pipeline file's name (relative to the script's folder) and text."""
    stem = plan.script_path.stem
    name = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "pipeline"
    steps = pipeline.steps if pipeline is not None else ()
    params = _with_identifiers(
        [_kfp_param(parameter) for parameter in plan.parameters],
        _SHADOWED | {_component_name(step) for step in steps},
    )
    metric = first_metric(plan)
    lines = _head(plan, name, steps, metric)
    names: dict[str, _StepNames] = {}
    if pipeline is not None:
        shared = _shared_params(pipeline)
        names = {step.name: _step_names(step, params, shared) for step in steps}
        for step in steps:
            lines += _step_component(plan, step, names[step.name])
    else:
        lines += _script_component(plan, params)
    lines += _pipeline(plan, name, steps, names, params)
    grid, grid_lines = _grid_pipeline(plan, name, params, metric)
    lines += grid_lines
    lines += _main(plan, params, grid)
    return kfp_file_name(stem), "\n".join(lines) + "\n"


def _head(
    plan: ExportPlan, name: str, steps: tuple[StepPlan, ...], metric: str | None
) -> list[str]:
    script = plan.script_path.name
    stem = plan.script_path.stem
    kfp_file = kfp_file_name(stem)
    summary = (
        f"Kubeflow Pipelines (v2) for {script}: `{name}` runs "
        + ("its steps as components, their outputs passed as Dataset artifacts" if steps
           else "it as one component")
        + f"; `{name}-grid` runs it once per point of a grid (ParallelFor) and reports the best"
        + (f" by {metric}." if metric else ".")
    )
    usage = (
        f"`python {kfp_file}` compiles them to {stem}_pipeline.yaml and "
        f"{stem}_grid_pipeline.yaml, for upload; `python {kfp_file} --local [--PARAM VALUE]... "
        f"[--grid JSON]` runs one on this machine (kfp.local, no cluster)."
    )
    first, *rest = textwrap.wrap(summary, 92)
    image = plan.options.kfp_image
    wheels = plan.options.kfp_packages
    return [
        f'"""{first}',
        *rest,
        "",
        *textwrap.wrap(usage, 92),
        "",
        "The compiled pipelines carry the script's code. A component runs it in its working",
        "directory (this folder with --local, the image's WORKDIR on a cluster), where the data",
        "files it reads by relative path must be; records go to NB2PIPE_RUNS_DIR, by default",
        'runs/ there."""',
        f"{GENERATED_MARKER}{plan.notebook_reference}: edit the notebook, then re-export.",
        "",
        "import argparse",
        "import base64",
        "import json",
        "import os",
        "import re",
        "import sys",
        "from pathlib import Path",
        "",
        "from kfp import compiler, dsl, local",
        "from kfp.dsl import Dataset, Input, Metrics, Output",
        "",
        f"SCRIPT = Path(__file__).with_name({python_string(script)})",
        "#: the script's code: the compiled pipelines carry it, and each task's cache key holds it",
        "#: (base64: kfp.local rewrites `python3` in a task's plain-text inputs)",
        'CODE = base64.b64encode(SCRIPT.read_bytes()).decode("ascii")',
        "#: the components' image (--kfp-image): it holds nb2pipe-runtime and the notebook's",
        "#: packages; None: a plain Python image that installs them (PACKAGES)",
        f"IMAGE = {python_string(image) if image else 'None'}",
        "#: nb2pipe-runtime's wheels for a cluster (--kfp-packages: files or URLs pip reads)",
        "PACKAGES = [" + ", ".join(python_string(wheel) for wheel in wheels) + "]",
        "#: a --local run uses this Python's packages (kfp.local would pip-install into it)",
        'LOCAL = __name__ == "__main__" and "--local" in sys.argv[1:]',
        "",
        "",
        "def _packages():",
        '    """What a component installs: nothing locally; PACKAGES on top of an image; else the',
        "    script's dependencies (its PEP 723 block), nb2pipe-runtime from PACKAGES when given.\"\"\"",
        "    if LOCAL or IMAGE:",
        "        return [] if LOCAL else list(PACKAGES)",
        "    try:",
        "        import tomllib",
        "    except ModuleNotFoundError:  # Python 3.10",
        "        try:",
        "            import tomli as tomllib",
        "        except ModuleNotFoundError:",
        "            sys.exit(f\"{Path(__file__).name}: error: reading {SCRIPT.name}'s dependencies \"",
        "                     \"needs Python 3.11 or tomli (pip install tomli), or export with \"",
        "                     \"--kfp-image\")",
        "",
        "    block = []",
        '    lines = SCRIPT.read_text(encoding="utf-8").splitlines()',
        '    if "# /// script" not in lines:',
        "        return list(PACKAGES)",
        '    for line in lines[lines.index("# /// script") + 1:]:',
        '        if line == "# ///":',
        "            break",
        '        block.append(line[2:] if line.startswith("# ") else line[1:])',
        '    wanted = tomllib.loads("\\n".join(block)).get("dependencies", [])',
        "    if PACKAGES:",
        '        wanted = [r for r in wanted if not r.startswith("nb2pipe-runtime")] + PACKAGES',
        "    return wanted",
        "",
        "",
        "COMPONENT = {",
        f'    "base_image": IMAGE or {python_string(DEFAULT_IMAGE)},',
        '    "packages_to_install": _packages(),',
        '    "install_kfp_package": not LOCAL,',
        "}",
    ]


def _free(name: str, taken: set[str]) -> str:
    """``name``, with ``_`` appended until no other name of its scope is the same."""
    while name in taken or name in _MODULE_NAMES:
        name += "_"
    taken.add(name)
    return name


def _component(
    function: str, docstring: str, inputs: list[str], body: list[str], returns: str = ""
) -> list[str]:
    lines = ["", "", "@dsl.component(**COMPONENT)"]
    head = f"def {function}(" + ", ".join(inputs) + f"){returns}:"
    if len(head) <= 100:
        lines.append(head)
    else:
        lines += [f"def {function}(", *packed(inputs, indent=4), f"){returns}:"]
    return [*lines, f'    """{docstring}"""', *body]


def _call(prefix: str, function: str, arguments: list[str]) -> list[str]:
    """``prefix + function(arguments)``: on one line when it fits, else packed below."""
    one = f"{prefix}{function}({', '.join(arguments)})"
    if len(one) <= 100:
        return [one]
    indent = len(prefix) - len(prefix.lstrip()) + 4
    return [f"{prefix}{function}(", *packed(arguments, indent=indent), " " * (indent - 4) + ")"]


def _run_call(plan: ExportPlan, code: str, params: str, extra: list[str]) -> list[str]:
    arguments = [
        python_string(plan.script_path.name), code, params, *extra,
        'runs_dir=os.environ.get("NB2PIPE_RUNS_DIR")',
    ]
    return ["    run = run_component(", *packed(arguments, indent=8), "    )"]


def _params_dict(params: list[_KfpParam], indent: int) -> list[str]:
    if not params:
        return [" " * indent + "params = {}"]
    return [
        " " * indent + "params = {",
        *(f"{' ' * (indent + 4)}{python_string(p.name)}: {p.value}," for p in params),
        " " * indent + "}",
    ]


def _log_metrics(metrics: str) -> list[str]:
    return [
        "    for name, value in run.metrics.items():",
        f"        {metrics}.log_metric(name, value)",
    ]


#: names a component's body binds itself
_BODY_NAMES = frozenset({"json", "os", "run", "run_component", "params", "name", "value"})
#: names the grid pipeline's ``expand_grid`` binds
_GRID_NAMES = frozenset({"base", "grid_points"})
#: what a function taking the parameters uses before (or without) binding it: a parameter of
#: that name is given another identifier (the imports of the components' bodies, the module
#: names the pipelines call); names a body binds only after it has read every parameter
#: (``run``, ``name``) keep the notebook's name, as KFP's UI shows it
_SHADOWED = frozenset({
    "json", "os", "run_component", "grid_points", "CODE", "dsl", "script_step", "expand_grid",
    "run_point", "best_point",
})


@dataclass(frozen=True)
class _StepNames:
    """What a step's component calls its inputs and outputs (free of its parameters' names)."""

    reads: tuple[_KfpParam, ...]
    code: str
    inputs: dict[str, str]  #: producing step -> its input artifact's name
    output: str | None
    metrics: str | None


def _step_names(step: StepPlan, params: list[_KfpParam], shared: frozenset[str]) -> _StepNames:
    reads = tuple(p for p in params if p.name in {*step.params, *shared})
    taken = {p.identifier for p in reads} | _BODY_NAMES
    code = _free("code", taken)
    producers = sorted({producer for _, producer in step.inputs})
    inputs = {producer: _free(identifier(producer), taken) for producer in producers}
    output = _free("outputs", taken) if step.outputs else None
    metrics = _free("metrics", taken) if step.metrics else None
    return _StepNames(reads, code, inputs, output, metrics)


def _shared_params(pipeline: PipelinePlan) -> frozenset[str]:
    """Parameters every step reads: those of set-up steps (they run before any step) and of
    module-level functions (``main`` sets them for every step)."""
    return frozenset(
        {*pipeline.function_params, *(p for s in pipeline.steps if s.setup for p in s.params)}
    )


def _step_component(plan: ExportPlan, step: StepPlan, names: _StepNames) -> list[str]:
    arguments = [f"{names.code}: str"]
    arguments += [f"{name}: Input[Dataset]" for name in names.inputs.values()]
    arguments += [f"{p.identifier}: {p.kind}" for p in names.reads]
    arguments += [f"{names.output}: Output[Dataset]"] if names.output else []
    arguments += [f"{names.metrics}: Output[Metrics]"] if names.metrics else []
    extra = [f"step={python_string(step.name)}"]
    if names.inputs:
        extra.append(
            "inputs={" + ", ".join(
                f"{python_string(producer)}: {name}.path" for producer, name in names.inputs.items()
            ) + "}"
        )
    if names.output:
        extra.append(f"output={names.output}.path")
    body = [
        *(["    import json"] if any(p.as_json for p in names.reads) else []),
        "    import os",
        "",
        "    from nb2pipe_runtime.engine import run_component",
        "",
        *_params_dict(list(names.reads), 4),
        *_run_call(plan, names.code, "params", extra),
    ]
    if names.output:
        body += [
            f'    {names.output}.metadata["nb2pipe_run_id"] = run.run_id',
            f'    {names.output}.metadata["nb2pipe_step"] = {python_string(step.name)}',
        ]
    if names.metrics:
        body += _log_metrics(names.metrics)
    docstring = f"Step {step.name} of {plan.script_path.name} (`--step {step.name}`)."
    return _component(_component_name(step), docstring, arguments, body)


def _component_name(step: StepPlan) -> str:
    name = f"{identifier(step.name)}_step"
    return name + "_" if name in _MODULE_NAMES else name


def _script_component(plan: ExportPlan, params: list[_KfpParam]) -> list[str]:
    taken = {p.identifier for p in params} | _BODY_NAMES
    code = _free("code", taken)
    metrics = _free("metrics", taken)
    arguments = [f"{code}: str", *(f"{p.identifier}: {p.kind}" for p in params),
                 f"{metrics}: Output[Metrics]"]
    body = [
        *(["    import json"] if any(p.as_json for p in params) else []),
        "    import os",
        "",
        "    from nb2pipe_runtime.engine import run_component",
        "",
        *_params_dict(params, 4),
        *_run_call(plan, code, "params", []),
        *_log_metrics(metrics),
    ]
    return _component("script_step", f"The whole of {plan.script_path.name}.", arguments, body)


def _signature(function: str, params: list[_KfpParam], first: list[str], returns: str) -> list[str]:
    arguments = [*first, *(f"{p.identifier}: {p.kind} = {p.default}" for p in params)]
    head = f"def {function}(" + ", ".join(arguments) + f"){returns}:"
    if len(head) <= 100:
        return [head]
    return [f"def {function}(", *(f"    {argument}," for argument in arguments), f"){returns}:"]


def _docstring(summary: str, params: list[_KfpParam], extra: list[tuple[str, str]]) -> list[str]:
    described = [*extra, *((p.identifier, p.description) for p in params if p.description)]
    lines = [f'    """{summary}']
    if described:
        lines += ["", "    Args:"]
        lines += [f"        {name}: {description}" for name, description in described]
        lines.append('    """')
    else:
        lines[-1] += '"""'
    return lines


def _pipeline(
    plan: ExportPlan,
    name: str,
    steps: tuple[StepPlan, ...],
    names: dict[str, _StepNames],
    params: list[_KfpParam],
) -> list[str]:
    lines = ["", "", f"@dsl.pipeline(name={python_string(name)})"]
    lines += _signature("pipeline", params, [], "")
    summary = (
        f"{plan.script_path.name}, one component per step." if steps
        else f"{plan.script_path.name} as one component."
    )
    lines += _docstring(summary, params, [])
    if not steps:
        call = ["code=CODE", *(f"{p.identifier}={p.identifier}" for p in params)]
        return [*lines, *_call("    ", "script_step", call)]
    taken = {p.identifier for p in params}
    tasks = {step.name: _free(f"{identifier(step.name)}_task", taken) for step in steps}
    for step in steps:
        step_names = names[step.name]
        call = [f"{step_names.code}=CODE"]
        for producer, argument in step_names.inputs.items():
            output = names[producer].output
            call.append(f'{argument}={tasks[producer]}.outputs["{output}"]')
        call += [f"{p.identifier}={p.identifier}" for p in step_names.reads]
        lines += _call(f"    {tasks[step.name]} = ", _component_name(step), call)
    # steps run in notebook order even where no value flows between them
    for before, after in itertools.pairwise(steps):
        if not any(producer == before.name for _, producer in after.inputs):
            lines.append(f"    {tasks[after.name]}.after({tasks[before.name]})")
    return lines


def _grid_pipeline(
    plan: ExportPlan, name: str, params: list[_KfpParam], metric: str | None
) -> tuple[str, list[str]]:
    """The grid pipeline's components and itself; the name of its grid parameter."""
    taken = {p.identifier for p in params} | {"json"} | _GRID_NAMES
    grid = _free("grid", taken)
    points, point, run = (_free(local, taken) for local in ("points", "point", "run"))
    lines = _component(
        "expand_grid",
        "Every point of the grid (JSON: parameter -> values), on top of the other parameters.",
        [f"{grid}: str", *(f"{p.identifier}: {p.kind}" for p in params)],
        [
            "    import json",
            "",
            "    from nb2pipe_runtime.engine import grid_points",
            "",
            *[line.replace("params = ", "base = ") for line in _params_dict(params, 4)],
            f"    return [json.dumps(point) for point in grid_points(json.loads({grid}), base)]",
        ],
        " -> list",
    )
    lines += _component(
        "run_point",
        f"The whole of {plan.script_path.name} with one point's parameters.",
        ["code: str", "point: str", "metrics: Output[Metrics]"],
        [
            "    import json",
            "    import os",
            "",
            "    from nb2pipe_runtime.engine import run_component",
            "",
            *_run_call(plan, "code", "json.loads(point)", []),
            *_log_metrics("metrics"),
            "    return json.dumps(run.to_json())",
        ],
        " -> str",
    )
    best = python_string(metric) if metric else "None"
    lines += _component(
        "best_point",
        "The finished run with the best " + (metric or "first metric") + ".",
        ["runs: list"],
        [
            "    import json",
            "",
            "    from nb2pipe_runtime.engine import best_run",
            "",
            f"    return json.dumps(best_run([json.loads(run) for run in runs], {best}))",
        ],
        " -> str",
    )
    lines += ["", "", f"@dsl.pipeline(name={python_string(name + '-grid')})"]
    lines += _signature("grid_pipeline", params, [f"{grid}: str"], " -> str")
    example = grid_example(plan.parameters)
    lines += _docstring(
        f"{plan.script_path.name} once per point of the grid (in parallel), then the best.",
        params,
        [(grid, f"JSON: parameter -> values to try, e.g. {example}; the other parameters hold "
          + "for every point")],
    )
    call = [f"{grid}={grid}", *(f"{p.identifier}={p.identifier}" for p in params)]
    lines += [
        *_call(f"    {points} = ", "expand_grid", call),
        f"    with dsl.ParallelFor(items={points}.output) as {point}:",
        f"        {run} = run_point(code=CODE, point={point})",
        f'    return best_point(runs=dsl.Collected({run}.outputs["Output"])).output',
    ]
    return grid, lines


def _argument(param: _KfpParam) -> str:
    parameter = param.parameter
    option = parameter.option
    if option in ("--local", "--grid", "--help"):  # the file's own options
        option += "-value"
    arguments = [python_string(option), f"dest={python_string(param.name)}"]
    if parameter.type is ParamType.BOOL and not param.as_json:
        arguments.append("action=argparse.BooleanOptionalAction")
    elif param.as_json:
        arguments.append("type=_json_value")
    elif param.kind in ("int", "float"):
        arguments.append(f"type={param.kind}")
    if parameter.choices is not None and not param.as_json:
        arguments.append(f"choices={list(parameter.choices)!r}")
    if param.description:
        arguments.append(f"help={python_string(param.description)}")
    return "    parser.add_argument(" + ", ".join(arguments) + ")"


def _main(plan: ExportPlan, params: list[_KfpParam], grid: str) -> list[str]:
    stem = plan.script_path.stem
    names = ", ".join(python_string(p.name) for p in params)
    trailing = "," if len(params) == 1 else ""
    renamed = ", ".join(
        f"{python_string(p.name)}: {python_string(p.identifier)}"
        for p in params if p.identifier != p.name
    )
    return [
        "",
        "",
        "#: the notebook's parameters",
        f"PARAMETERS = ({names}{trailing})",
        "#: the parameters the pipelines call otherwise (a name this file's code uses)",
        f"RENAMED = {{{renamed}}}",
        "",
        "",
        "class _Arguments(argparse.ArgumentParser):",
        '    """argparse, with a usage error on one line."""',
        "",
        "    def error(self, message):",
        '        self.exit(2, f"{self.prog}: error: {message}\\n")',
        "",
        "",
        "def _json_value(text):",
        '    """A value as JSON text: JSON as given, ``None`` as null, else the text as a string."""',
        "    try:",
        '        return json.dumps(json.loads("null" if text == "None" else text))',
        "    except ValueError:",
        "        return json.dumps(text)",
        "",
        "",
        "def _arguments(argv):",
        "    parser = _Arguments(",
        "        prog=Path(__file__).name,",
        '        description="Compile the pipelines for upload, or run one here with --local.",',
        "    )",
        "    # the file's own options keep names no parameter has (dests that are not identifiers)",
        '    parser.add_argument("--local", dest="--local", action="store_true",',
        '                        help="run on this machine with kfp.local (no cluster)")',
        '    parser.add_argument("--grid", dest="--grid", metavar="JSON",',
        '                        help="with --local: run the grid pipeline over these values, "',
        f"                        {python_string(grid_example(plan.parameters))})",
        *(_argument(p) for p in params),
        "    return parser, parser.parse_args(argv)",
        "",
        "",
        "def main(argv=None):",
        "    parser, args = _arguments(argv)",
        "    options = vars(args)",
        "    given = {name: options[name] for name in PARAMETERS if options[name] is not None}",
        "    arguments = {RENAMED.get(name, name): value for name, value in given.items()}",
        '    text = options["--grid"]',
        '    if not options["--local"]:',
        "        if given or text is not None:",
        "            parser.error(",
        '                "parameters and --grid are for --local runs (a cluster run takes them "',
        '                "when it starts)")',
        f'        compiler.Compiler().compile(pipeline, str(SCRIPT.with_name("{stem}_pipeline.yaml")))',
        "        compiler.Compiler().compile(",
        f'            grid_pipeline, str(SCRIPT.with_name("{stem}_grid_pipeline.yaml")))',
        f'        print("wrote {stem}_pipeline.yaml and {stem}_grid_pipeline.yaml")',
        "        if not (IMAGE or PACKAGES):",
        '            print("note: components will pip-install nb2pipe-runtime, which is not on the "',
        '                  "package index yet: export with --kfp-image or --kfp-packages",',
        "                  file=sys.stderr)",
        "        return",
        "    grid = None",
        "    if text is not None:",
        "        try:",
        "            grid = json.loads(text)",
        "        except ValueError as exc:",
        '            parser.error(f"--grid is not JSON ({exc})")',
        "        if not isinstance(grid, dict) or not grid:",
        "            parser.error('--grid maps parameter names to values: {\"C\": [0.05, 0.5]}')",
        "        unknown = sorted(set(grid) - set(PARAMETERS))",
        "        if unknown:",
        '            parser.error(f"--grid: no parameter named {\', \'.join(unknown)}")',
        "    os.chdir(SCRIPT.parent)",
        "    local.init(",
        "        runner=local.SubprocessRunner(use_venv=False),",
        '        pipeline_root=str(SCRIPT.with_name("outputs") / "kfp-local"),',
        "    )",
        "    try:",
        "        if grid is None:",
        "            pipeline(**arguments)",
        "        else:",
        f"            best = json.loads(grid_pipeline({grid}=json.dumps(grid), **arguments).output)",
        "            print(f\"best: run {best['run_id']}, {best['metric']} \"",
        "                  f\"{best['metrics'][best['metric']]:.6g}, params {best['params']}\")",
        "    except RuntimeError as exc:  # a task failed: its log is above",
        '        message = re.sub(r"\\x1b\\[[0-9;]*m", "", str(exc))  # without the colours',
        '        sys.exit(f"{parser.prog}: error: {message}")',
        "",
        "",
        'if __name__ == "__main__":',
        "    main()",
    ]
