"""Assemble a flat script: the notebook's cells, top to bottom, in ``main`` inside a recorded run."""

from __future__ import annotations

from dataclasses import dataclass, field

from nb2pipe.export.cells import RenderedCell, indent_code, render_cells
from nb2pipe.export.magics import python_string
from nb2pipe.export.planned import ExportPlan
from nb2pipe.export.scaffold import Scaffold

__all__ = ["RenderedScript", "keeps_display", "render_script"]


@dataclass
class RenderedScript:
    """The script's text and what rendering it did (for the export summary)."""

    code: str
    notes: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    cell_count: int = 0
    #: further files (a pipeline's step modules, ``dvc.yaml``, ...): path relative to the
    #: script's folder, and text
    files: list[tuple[str, str]] = field(default_factory=list)


def render_script(plan: ExportPlan) -> RenderedScript:
    """The flat script for ``plan``.

    Raises
    ------
    UnsupportedMagicError
        A magic without a plain-Python translation (unless ``allow_ipython``).
    """
    cells = render_cells(plan)
    scaffold = Scaffold(plan, cells, keeps_display=keeps_display(plan, cells))
    code = _assemble(scaffold)
    return RenderedScript(
        code=code,
        notes=notes_of(plan, cells),
        requirements=[str(requirement) for requirement in scaffold.requirements()],
        cell_count=len(plan.cells),
    )


def _assemble(scaffold: Scaffold) -> str:
    from nb2pipe.export.standalone import inlined_runtime

    plan = scaffold.plan
    sections = [
        *(definition for cell in scaffold.cells for definition in cell.definitions),
        scaffold.parse_params(),
        _main(scaffold),
    ]
    if plan.options.standalone:
        sections.append(inlined_runtime(scaffold.runtime_names(), plan))
    return (
        scaffold.header()
        + scaffold.imports()
        + "".join(f"\n\n{section.rstrip()}\n" for section in sections)
        + "\n\n"
        + scaffold.entry_point()
    )


def _main(scaffold: Scaffold) -> str:
    plan = scaffold.plan
    names = plan.names
    prefix = "async " if plan.awaits else ""
    lines = [
        f"{prefix}def {names.main}({names.argv}: list[str] | None = None) -> None:",
        '    """Run the notebook\'s cells, top to bottom."""',
    ]
    if plan.global_names:
        lines.append(chunked_global(plan.global_names))
    lines.append(f"    {names.params} = {names.parse_params}({names.argv})")
    notebook = python_string(plan.notebook_reference)
    lines.append(f"    with {names.of('Run')}({names.params}, __file__, {notebook}):")
    body = body_of(scaffold.cells) or "pass"
    return "\n".join(lines) + "\n" + indent_code(body, " " * 8) + "\n"


def chunked_global(names: tuple[str, ...]) -> str:
    """``global a, b`` lines of at most 100 characters."""
    lines: list[str] = []
    current: list[str] = []
    for name in names:
        if current and len("    global " + ", ".join([*current, name])) > 100:
            lines.append("    global " + ", ".join(current))
            current = []
        current.append(name)
    lines.append("    global " + ", ".join(current))
    return "\n".join(lines)


def body_of(cells: tuple[RenderedCell, ...] | list[RenderedCell]) -> str:
    """The cells' code that stays in the body, each under its Markdown comments, a blank line
    between cells."""
    parts = []
    for cell in cells:
        if not cell.body:
            continue
        parts.append("\n".join([*cell.comments, cell.body]))
    return "\n\n".join(parts)


def notes_of(plan: ExportPlan, cells: tuple[RenderedCell, ...]) -> list[str]:
    notes = list(plan.notes)
    for cell in cells:
        notes += cell.notes
    notebook = plan.analysis.notebook
    notes.append(
        f"exported {len(plan.cells)} code cells of {len(notebook.code_cells)}"
        + (f", {len(plan.parameters)} parameters" if plan.parameters else "")
    )
    return notes


def keeps_display(plan: ExportPlan, cells: tuple[RenderedCell, ...]) -> bool:
    """Whether ``display(...)`` stayed in the code (in a block or a function), so the script
    needs IPython's (it prints a value's repr outside a kernel)."""
    if "display" in plan.notebook_defines:
        return False
    return any(cell.reads_display for cell in cells)
