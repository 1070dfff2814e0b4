"""Export a notebook to a script file: render, compare, write atomically."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nb2pipe.analysis import NotebookAnalysis, analyze_notebook, syntax
from nb2pipe.errors import CellLocation, ExportError, Nb2PipeError, OutputExistsError
from nb2pipe.export.dependencies import missing_import_notes, normalized_name
from nb2pipe.export.dvc import PARAMS_FILE, render_dvc_files
from nb2pipe.export.options import ExportOptions
from nb2pipe.export.parameters import Parameter
from nb2pipe.export.pipeline import render_pipeline
from nb2pipe.export.plan import plan_export
from nb2pipe.export.scaffold import GENERATED_MARKER
from nb2pipe.export.script import render_script
from nb2pipe.files import write_atomically
from nb2pipe.model import Notebook, load_notebook

__all__ = [
    "CheckStatus",
    "ExportResult",
    "ExportSummary",
    "check_notebook",
    "export_notebook",
    "render_notebook",
]


@dataclass(frozen=True)
class ExportSummary:
    """What an export did, for people (``lines``) and programs (``to_json``)."""

    notebook: str
    script: str
    cells: int
    parameters: tuple[Parameter, ...]
    requirements: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def lines(self) -> list[str]:
        out = [f"{self.notebook} -> {self.script}"]
        out += [f"  {note}" for note in self.notes]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "script": self.script,
            "cells": self.cells,
            "parameters": [p.to_json() for p in self.parameters],
            "requirements": list(self.requirements),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ExportResult:
    """A rendered script, where it belongs, and whether it was written."""

    notebook_path: Path | None
    script_path: Path
    code: str
    summary: ExportSummary
    written: bool = False
    #: further files of a ``--dvc`` export (step modules, ``dvc.yaml``, ``params.yaml``, ...)
    files: tuple[tuple[Path, str], ...] = ()
    #: the one analysis the script was planned from (a caller showing the notebook's hazards
    #: reads them here instead of loading and analysing the notebook again)
    analysis: NotebookAnalysis | None = field(default=None, repr=False, compare=False)


class CheckStatus(str, enum.Enum):
    IN_SYNC = "in sync"
    STALE = "stale"
    MISSING = "missing"


def default_script_path(notebook_path: Path, options: ExportOptions) -> Path:
    if options.output is None:
        return notebook_path.with_suffix(".py")
    if options.output_is_folder or options.output.is_dir():
        return options.output / (notebook_path.stem + ".py")
    return options.output


def render_notebook(
    notebook: Notebook, options: ExportOptions = ExportOptions(), script_path: Path | None = None
) -> ExportResult:
    """Render ``notebook`` as a script without writing anything.

    Raises
    ------
    Nb2PipeError
        The notebook cannot be exported; the message names the cell and line.
    """
    if script_path is None:
        base = notebook.path if notebook.path is not None else Path(notebook.name)
        script_path = default_script_path(base, options)
    analysis = analyze_notebook(notebook)
    plan = plan_export(analysis, options, script_path)
    if plan.pipeline is None:
        if options.dvc:
            raise ExportError(
                CellLocation(notebook.path),
                "--dvc needs pipeline steps: tag the first cell of each step step:NAME",
            )
        rendered = render_script(plan)
        pipeline = None
    else:
        rendered, pipeline = render_pipeline(plan)
        if options.dvc:
            rendered.files += render_dvc_files(plan, pipeline, rendered)
    if options.airflow:
        from nb2pipe.export.airflow import render_airflow_dag

        rendered.files.append(render_airflow_dag(plan, pipeline))
    if options.kfp:
        from nb2pipe.export.kfp import render_kfp_pipeline

        rendered.files.append(render_kfp_pipeline(plan, pipeline))
    if options.prefect:
        from nb2pipe.export.prefect import render_prefect_flow

        rendered.files.append(render_prefect_flow(plan, pipeline))
    files = tuple((script_path.parent / relative, text) for relative, text in rendered.files)
    modules = [text for relative, text in rendered.files if relative.endswith(".py")]
    for code in (rendered.code, *modules):
        _check_python(code, notebook)
    notes = list(notebook.warnings) + list(rendered.notes)
    notes += missing_import_notes(
        (cell.parsed for cell in plan.cells), notebook.path.parent if notebook.path else None
    )
    if files:
        notes.append("also wrote " + ", ".join(relative for relative, _ in rendered.files))
    summary = ExportSummary(
        notebook=notebook.name,
        script=script_path.name,
        cells=rendered.cell_count,
        parameters=plan.parameters,
        requirements=tuple(rendered.requirements),
        notes=tuple(notes),
    )
    return ExportResult(
        notebook.path, script_path, rendered.code, summary, files=files, analysis=analysis
    )


def _check_python(code: str, notebook: Notebook) -> None:
    """Refuse to hand out code that does not parse: a bug in nb2pipe must not write a broken
    file (the one look at the rendered code; the renderers never read their output).

    Raises
    ------
    ExportError
        The code does not parse (reported as nb2pipe's bug, with the notebook).
    """
    try:
        syntax.parse(code)
    except SyntaxError as exc:  # pragma: no cover - a bug in nb2pipe, reported as such
        raise ExportError(
            CellLocation(notebook.path),
            f"nb2pipe produced invalid Python (line {exc.lineno}: {exc.msg}); "
            "please report this with the notebook",
        ) from None


def export_notebook(notebook_path: str | Path, options: ExportOptions = ExportOptions()) -> ExportResult:
    """Export the notebook at ``notebook_path`` and write the script.

    The script is written atomically; an existing file that nb2pipe did not generate is
    refused unless ``options.force``.

    Raises
    ------
    Nb2PipeError
        Bad notebook (names the file, cell and line).
    OutputExistsError
        The output exists and was not generated by nb2pipe.
    """
    notebook_path = Path(notebook_path)
    notebook = load_notebook(notebook_path, max_size=options.max_notebook_size)
    script_path = default_script_path(notebook_path, options)
    if script_path.resolve() == notebook_path.resolve():
        raise Nb2PipeError(f"{script_path}: the output would overwrite the notebook")
    _refuse_foreign_file(script_path, options.force)
    result = render_notebook(notebook, options, script_path)
    for path, _text in result.files:
        if path.name not in _MERGED_FILES:
            _refuse_foreign_file(path, options.force)
    for path, text in ((script_path, result.code), *result.files):
        if not (path.exists() and path.read_text(encoding="utf-8") == text):
            write_atomically(path, text)
    return ExportResult(
        result.notebook_path, script_path, result.code, result.summary, written=True,
        files=result.files, analysis=result.analysis,
    )


def check_notebook(notebook_path: str | Path, options: ExportOptions = ExportOptions()) -> CheckStatus:
    """Compare the script on disk with a fresh export, ignoring pinned versions only."""
    notebook_path = Path(notebook_path)
    notebook = load_notebook(notebook_path, max_size=options.max_notebook_size)
    script_path = default_script_path(notebook_path, options)
    from nb2pipe.export.airflow import dag_file_name
    from nb2pipe.export.kfp import kfp_file_name, kfp_settings

    if is_generated(script_path.with_name(dag_file_name(script_path))):
        # the DAGs an --airflow export wrote are checked too (a pre-commit hook passes no flag)
        options = replace(options, airflow=True)
    kfp_file = script_path.with_name(kfp_file_name(script_path.stem))
    if not options.kfp and is_generated(kfp_file):
        # so is the pipeline file of --kfp, with the image and wheels that export named
        image, packages = kfp_settings(kfp_file.read_text(encoding="utf-8"))
        options = replace(options, kfp=True, kfp_image=image, kfp_packages=packages)
    from nb2pipe.export.prefect import flow_file_name

    if is_generated(script_path.with_name(flow_file_name(script_path))):
        options = replace(options, prefect=True)  # and the flows of --prefect
    status = _check_rendered(notebook, options, script_path)
    if status is CheckStatus.STALE and not options.dvc:
        # a script exported with --dvc is checked as one (a pre-commit hook passes no --dvc)
        try:
            dvc_status = _check_rendered(notebook, replace(options, dvc=True), script_path)
        except Nb2PipeError:
            return status
        if dvc_status is CheckStatus.IN_SYNC:
            return dvc_status
    return status


def _check_rendered(notebook: Notebook, options: ExportOptions, script_path: Path) -> CheckStatus:
    result = render_notebook(notebook, options, script_path)
    if not script_path.exists() or not all(path.exists() for path, _ in result.files):
        return CheckStatus.MISSING
    current = script_path.read_text(encoding="utf-8")
    if _without_versions(current) != _without_versions(result.code):
        return CheckStatus.STALE
    for path, text in result.files:
        current = path.read_text(encoding="utf-8")
        if path.name == PARAMS_FILE:
            # users and `dvc exp run -S` edit the values, and DVC re-formats the file: compare
            # the parameters it holds, not its text
            if _yaml_keys(current) != _yaml_keys(text):
                return CheckStatus.STALE
        elif current != text:
            return CheckStatus.STALE
    return CheckStatus.IN_SYNC


def _yaml_keys(text: str) -> set[str] | None:
    import yaml  # type: ignore[import-untyped]

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return set(data) if isinstance(data, dict) else None


#: Files an export merges its lines into instead of owning them.
_MERGED_FILES = frozenset({".gitignore"})


def _without_versions(code: str) -> str:
    """``code`` with the versions in its PEP 723 block blanked (they differ across machines).

    This reads the block's TOML lines (``#     "pandas==2.2.3",``), not Python source.
    """
    out = []
    in_block = False
    for line in code.splitlines(keepends=True):
        if line.startswith("# /// script"):
            in_block = True
        elif line.startswith("# ///"):
            in_block = False
        elif in_block and line.startswith("# requires-python"):
            line = "# requires-python\n"
        elif in_block and line.startswith('#     "'):
            requirement = line.split('"')[1]
            for separator in "=<>!~;[ ":
                requirement = requirement.split(separator, 1)[0]
            line = f'#     "{normalized_name(requirement)}",\n'
        out.append(line)
    return "".join(out)


def is_generated(path: Path) -> bool:
    """Whether the file at ``path`` carries nb2pipe's generated-file marker."""
    try:
        with path.open(encoding="utf-8") as file:
            head = [next(file, "") for _ in range(60)]
    except (OSError, UnicodeDecodeError):
        return False
    return any(line.startswith(GENERATED_MARKER) for line in head)


def _refuse_foreign_file(path: Path, force: bool) -> None:
    if path.is_dir():
        raise Nb2PipeError(f"{path}: is a directory; give a file name with -o")
    if path.exists() and not force and not is_generated(path):
        raise OutputExistsError(path)
