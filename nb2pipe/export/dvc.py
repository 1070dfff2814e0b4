"""Write the DVC side of a ``--dvc`` export: ``dvc.yaml`` (a stage per step) and ``params.yaml``.

Each stage runs ``python SCRIPT --config params.yaml --step NAME``. Its ``deps`` are the entry
script, the shared module, the step's own module, the data files it names (a parameter whose
default names a file becomes ``${name}``, so ``-S data_path=...`` follows the parameter) and the
saved outputs of the steps it reads from; ``params`` the parameters it reads; ``outs`` its
saved outputs; ``metrics`` a JSON file for steps with ``metrics`` cells. A ``prepare`` step
without outputs only sets up the process: it has no stage, and every stage depends on it.
"""

from __future__ import annotations

import datetime
import json
import re
import shlex
from pathlib import Path
from typing import Any

from nb2pipe.errors import CellLocation, ExportError
from nb2pipe.export.parameters import Parameter
from nb2pipe.export.pipeline import package_name
from nb2pipe.export.planned import ExportPlan, PipelinePlan, StepPlan
from nb2pipe.export.scaffold import GENERATED_MARKER
from nb2pipe.export.script import RenderedScript

__all__ = ["OUTPUTS_DIR", "PARAMS_FILE", "metrics_file", "render_dvc_files"]

PARAMS_FILE = "params.yaml"
OUTPUTS_DIR = "outputs"
#: Lines ``--dvc`` makes sure ``.gitignore`` has: run records are not versioned with the code,
#: and step outputs are DVC's (outputs an earlier plain run left must not go into git).
GITIGNORE_LINES = ("/runs/", "/outputs/")
_PLAIN = re.compile(r"^[A-Za-z0-9_./${}][A-Za-z0-9_./${}-]*$")


def metrics_file(step: StepPlan) -> str:
    return f"metrics/{step.name}.json"


def render_dvc_files(
    plan: ExportPlan, pipeline: PipelinePlan, rendered: RenderedScript
) -> list[tuple[str, str]]:
    """``dvc.yaml``, ``params.yaml`` and ``.gitignore`` (paths relative to the script's folder).

    Raises
    ------
    ExportError
        The script is not beside the notebook (the stages run in the notebook's folder).
    """
    notebook_path = plan.analysis.notebook.path
    folder = plan.script_path.parent
    if notebook_path is not None and notebook_path.parent.resolve() != folder.resolve():
        raise ExportError(
            CellLocation(notebook_path),
            "with --dvc the script goes beside the notebook (the stages run in its folder); "
            "drop -o or point it at the notebook's folder",
        )
    reference = notebook_path.name if notebook_path is not None else plan.analysis.notebook.name
    files = [("dvc.yaml", _dvc_yaml(plan, pipeline, rendered, reference))]
    if plan.parameters:
        files.append((PARAMS_FILE, _params_yaml(plan.parameters, reference, folder / PARAMS_FILE)))
    files.append((".gitignore", _gitignore(folder / ".gitignore")))
    return files


def _dvc_yaml(
    plan: ExportPlan, pipeline: PipelinePlan, rendered: RenderedScript, reference: str
) -> str:
    script = plan.script_path.name
    package = package_name(plan.script_path.stem)
    modules = {Path(path).stem: path for path, _ in rendered.files if path.endswith(".py")}
    setup = [step for step in pipeline.steps if step.setup]
    lines = [
        f"{GENERATED_MARKER}{reference}: edit the notebook, then re-export.",
        "# A stage per step: `dvc repro` re-runs the steps whose code, data or parameters changed;",
        "# `dvc exp run -S name=value` tries a parameter value.",
        "stages:",
    ]
    for step in pipeline.steps:
        if step.setup:
            continue
        command = ["python", script]
        if plan.parameters:
            command += ["--config", PARAMS_FILE]
        command += ["--step", step.name]
        if step.metrics:
            command += ["--metrics-file", metrics_file(step)]
        deps = [script, f"{package}/shared.py"]
        for needed in [*setup, step]:
            module = modules.get(needed.name) or modules.get(needed.name + "_step")
            deps.append(module or f"{package}/{needed.name}.py")
        data: list[str] = []
        params: list[str] = []
        for needed in [*setup, step]:
            data += [f"${{{name}}}" for name in needed.data_params]
            data += list(needed.data_files)
            params += list(needed.params)
        deps += _unique(data)
        deps += _unique(f"{OUTPUTS_DIR}/{source}" for source in _unique(s for _, s in step.inputs))
        lines += [f"  {step.name}:", f"    cmd: {_scalar(shlex.join(command))}", "    deps:"]
        lines += [f"      - {_scalar(dep)}" for dep in _unique(deps)]
        if params:
            lines.append("    params:")
            lines += [f"      - {_scalar(name)}" for name in _unique(params)]
        if step.outputs:
            lines += ["    outs:", f"      - {_scalar(f'{OUTPUTS_DIR}/{step.name}')}"]
        if step.metrics:
            lines += [
                "    metrics:",
                f"      - {_scalar(metrics_file(step))}:",
                "          cache: false",
            ]
    return "\n".join(lines) + "\n"


def _params_yaml(parameters: tuple[Parameter, ...], reference: str, existing_path: Path) -> str:
    """The parameters' defaults, keeping the values of an earlier ``params.yaml`` nb2pipe wrote
    (users edit it, and ``dvc exp run -S`` changes it)."""
    kept: dict[str, Any] = {}
    if existing_path.is_file():
        text = existing_path.read_text(encoding="utf-8")
        if any(line.startswith(GENERATED_MARKER) for line in text.splitlines()[:5]):
            import yaml  # type: ignore[import-untyped]

            try:
                loaded = yaml.safe_load(text)
            except yaml.YAMLError:
                loaded = None
            if isinstance(loaded, dict):
                kept = loaded
    lines = [
        f"{GENERATED_MARKER}{reference}: the parameters cell's defaults.",
        "# Edit values here (re-exporting keeps them) or try some with `dvc exp run -S name=value`.",
    ]
    for parameter in parameters:
        value = kept.get(parameter.name, parameter.default)
        text = json.dumps(_plain(value), ensure_ascii=True)
        notes = [parameter.help] if parameter.help else []
        if parameter.choices is not None:
            notes.append("one of: " + ", ".join(str(choice) for choice in parameter.choices))
        comment = f"  # {'; '.join(notes)}" if notes else ""
        lines.append(f"{parameter.name}: {text}{comment}")
    return "\n".join(lines) + "\n"


def _gitignore(path: Path) -> str:
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    present = {line.strip() for line in text.splitlines()}
    missing = [line for line in GITIGNORE_LINES if line not in present]
    if not missing:
        return text
    if text and not text.endswith("\n"):
        text += "\n"
    return text + "# run records and step outputs of the exported pipeline (nb2pipe)\n" + "\n".join(missing) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, (Path, datetime.date)):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def _scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when that is unambiguous, else double-quoted."""
    if _PLAIN.match(text) and text not in ("null", "true", "false", "~", "yes", "no"):
        return text
    if re.match(r"^[A-Za-z0-9_./${}=-][A-Za-z0-9_./${}= -]*[A-Za-z0-9_./${}=-]$", text) and ": " not in text:
        return text  # a command line: spaces are fine in a plain scalar
    return json.dumps(text)


def _unique(items: Any) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out
