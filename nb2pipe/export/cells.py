"""Turn each exported cell into the pieces a script is made of, following the plan.

A cell becomes module-level imports and definitions (what the plan moves there), the code that
stays in ``main`` or in its step's function, and comments from the Markdown above it. Cells
the plan marks as unchanged are copied as text; only cells with IPython syntax, display-only
lines and the like go through libcst (:class:`RewriteCellTransformer`), so their formatting is
kept too. Both flat scripts and pipelines are assembled from these pieces.
"""

from __future__ import annotations

import io
import textwrap
import tokenize
from dataclasses import dataclass, field

import libcst as cst

from nb2pipe.analysis.display import decision_notes
from nb2pipe.analysis.facts import assigned_names, statements_reading
from nb2pipe.errors import UnsupportedMagicError
from nb2pipe.export.planned import CellPlan, ExportPlan
from nb2pipe.export.transformers import MagicError, RewriteCellTransformer, apply_decisions

#: A statement of a module's body, as libcst types it.
Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement

__all__ = ["RenderedCell", "indent_code", "render_cells"]


@dataclass(frozen=True)
class RenderedCell:
    """One exported cell as script pieces."""

    plan: CellPlan
    #: ``# ...`` lines from the Markdown cells above it
    comments: tuple[str, ...]
    #: import statements moved to module level, one a line (``from __future__`` ones too)
    imports: tuple[str, ...]
    #: definitions moved to module level, each with the comments right above it
    definitions: tuple[str, ...]
    #: the code that stays in the body, not indented; empty when nothing stays
    body: str
    #: nb2pipe-runtime functions the code calls (by their runtime names)
    runtime: frozenset[str] = frozenset()
    #: those the moved definitions call (a ``--dvc`` export imports them in ``shared.py``)
    definition_runtime: frozenset[str] = frozenset()
    #: those the body calls (a ``--dvc`` step module imports them)
    body_runtime: frozenset[str] = frozenset()
    #: modules the rewritten code needs (``os`` for ``%cd``, ...)
    stdlib: frozenset[str] = frozenset()
    #: names the body reads that the notebook's code did not: the modules its translated
    #: magics need, ``get_ipython`` for a magic kept (runtime functions are in ``body_runtime``)
    body_reads: frozenset[str] = frozenset()
    #: requirements from ``%pip install`` lines
    requirements: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: a magic was kept as a ``get_ipython()`` call (``--allow-ipython``)
    ipython_kept: bool = False
    #: the code (moved definitions or body) reads ``display``
    reads_display: bool = False


def render_cells(plan: ExportPlan, *, pipeline: bool = False) -> tuple[RenderedCell, ...]:
    """Every exported cell of ``plan`` as script pieces.

    ``pipeline``: the parameters cell contributes no assignments (each step reads its
    parameters from ``params``).

    Raises
    ------
    UnsupportedMagicError
        A magic without a plain-Python translation (unless ``allow_ipython``).
    """
    return tuple(_render_cell(plan, cell, pipeline) for cell in plan.cells)


def _render_cell(plan: ExportPlan, cell: CellPlan, pipeline: bool) -> RenderedCell:
    comments = tuple(_markdown_comments(cell.markdown))
    if cell.is_parameters:
        return _parameters_cell(plan, cell, comments, pipeline)
    if cell.needs_rewrite:
        piece = _rewritten(plan, cell)
    else:
        piece = _copied(plan, cell)
    body = piece.body
    added: set[str] = set()  # runtime functions the lines added below call
    names = plan.names
    if body and cell.may_draw and plan.saves_figures and "save_figures" not in piece.figures:
        body += "\n" + figure_call(plan, cell)
        added.add("save_figures")
    metrics = _metric_names(cell)
    if body and cell.parsed.cell.role.metrics and metrics:
        body += "\n" + _call(names.of("record_metrics"), [f"{name}={name}" for name in metrics])
        added.add("record_metrics")
    definitions = list(piece.definitions)
    if comments and not body and definitions:
        definitions[0] = "\n".join(comments) + "\n" + definitions[0]
        comments = ()
    return RenderedCell(
        plan=cell,
        comments=comments,
        imports=piece.imports,
        definitions=tuple(definitions),
        body=body,
        runtime=piece.runtime | added,
        definition_runtime=piece.definition_runtime,
        body_runtime=piece.body_runtime | added,
        stdlib=piece.stdlib,
        body_reads=piece.body_reads,
        requirements=piece.requirements,
        notes=piece.notes,
        ipython_kept=piece.ipython_kept,
        reads_display=piece.reads_display,
    )


@dataclass
class _Piece:
    imports: tuple[str, ...] = ()
    definitions: tuple[str, ...] = ()
    body: str = ""
    runtime: frozenset[str] = frozenset()
    definition_runtime: frozenset[str] = frozenset()
    body_runtime: frozenset[str] = frozenset()
    stdlib: frozenset[str] = frozenset()
    body_reads: frozenset[str] = frozenset()
    requirements: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    ipython_kept: bool = False
    reads_display: bool = False
    #: runtime calls the rewrite itself placed (``plt.show()`` became ``save_figures``)
    figures: frozenset[str] = field(default_factory=frozenset)


def _parameters_cell(
    plan: ExportPlan, cell: CellPlan, comments: tuple[str, ...], pipeline: bool
) -> RenderedCell:
    source = cell.parsed.python_source
    imports = tuple(
        line for group in cell.groups if group.is_import for line in group.import_lines(source)
    )
    params = plan.names.params
    body = "" if pipeline else "\n".join(f"{p.name} = {params}.{p.name}" for p in plan.parameters)
    return RenderedCell(cell, comments if body else (), imports, (), body)


# -- cells copied as they are --------------------------------------------------------------------
def _copied(plan: ExportPlan, cell: CellPlan) -> _Piece:
    """The cell's text cut at statement boundaries: statements that only showed a value left
    out, ``plt.show()`` replaced; nothing else in it changes."""
    source = cell.parsed.python_source
    lines = source.splitlines()
    imports: list[str] = []
    definitions: list[str] = []
    body: list[str] = []
    held: list[str] = []  # comments above dropped lines: kept if a statement follows
    previous_end = 0
    for group in cell.groups:
        chunk = lines[previous_end : group.last_line]
        code_start = group.first_line - previous_end - 1  # the chunk's comments come first
        previous_end = group.last_line
        position = group.statements[0]
        if group.index in cell.hoisted_statements:
            if group.is_import:
                imports += group.import_lines(source)
            else:
                definitions.append("\n".join(_trim_blank_lines(chunk)))
        elif position in cell.dropped:
            held += chunk[:code_start]
        else:
            body += held
            held = []
            body += [*chunk[:code_start], figure_call(plan, cell)] if position in cell.shows else chunk
    footer = [line for line in lines[previous_end:] if line.strip().startswith("#")]
    figures = frozenset({"save_figures"}) if cell.shows else frozenset()
    return _Piece(
        imports=tuple(imports),
        definitions=tuple(definitions),
        body="\n".join(_trim_blank_lines(body + footer)),
        notes=tuple(decision_notes(
            cell.parsed.cell.label, source, cell.parsed.tree, cell.dropped, cell.shows
        )),
        runtime=figures,
        body_runtime=figures,
        figures=figures,
        reads_display=bool(statements_reading(cell.parsed, "display") - cell.dropped),
    )


def figure_call(plan: ExportPlan, cell: CellPlan) -> str:
    """``save_figures("<notebook>-cell<N>")``: what a cell that drew ends with."""
    name = plan.names.of("save_figures")
    return f'{name}("{plan.analysis.notebook.stem}-cell{cell.index + 1}")'


def _trim_blank_lines(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return [line.rstrip() if not line.strip() else line for line in lines[start:end]]


# -- cells rewritten with libcst -----------------------------------------------------------------
def _rewritten(plan: ExportPlan, cell: CellPlan) -> _Piece:
    parsed = cell.parsed
    notebook_cell = parsed.cell
    source = parsed.python_source
    module = cst.parse_module(source if source.endswith("\n") else source + "\n")
    body = list(module.body)
    header: list[cst.EmptyLine] = list(module.header)
    if body and header:
        body[0] = body[0].with_changes(leading_lines=[*header, *body[0].leading_lines])
        header = []
    transformer = RewriteCellTransformer(
        cell_label=notebook_cell.label,
        cell_number=notebook_cell.index + 1,
        is_variable=plan.notebook_defines.__contains__,
        pyplot_names=plan.pyplot_names,
        keep_display=notebook_cell.role.keep_display,
        allow_ipython=plan.options.allow_ipython,
        figure_call=(
            f'{plan.names.of("save_figures")}("{plan.analysis.notebook.stem}-cell{notebook_cell.index + 1}")\n'
            if plan.saves_figures else None
        ),
        cell_magics=parsed.symbols.magics,
        runtime=plan.names.of,
        global_names=frozenset(plan.global_names),
    )
    imports: list[str] = []
    definitions: list[str] = []
    staying: list[Statement] = []
    empty = cst.Module([])
    figure = cst.parse_statement(figure_call(plan, cell) + "\n")
    try:
        for index, statement in enumerate(body):
            if index not in cell.hoisted_statements:
                group = cell.groups[index]
                staying += apply_decisions(
                    [statement],
                    {p - group.statements[0] for p in cell.dropped if p in group.statements},
                    {p - group.statements[0] for p in cell.shows if p in group.statements},
                    figure,
                )
                continue
            statement = statement.visit(transformer)  # type: ignore[assignment]
            if isinstance(statement, cst.SimpleStatementLine) and all(
                isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
            ):
                imports += [empty.code_for_node(small).strip() for small in statement.body]
            else:
                lines = [line for line in statement.leading_lines if line.comment]
                statement = statement.with_changes(leading_lines=lines)
                definitions.append(cst.Module(body=[statement]).code.rstrip())
        # what the moved definitions need, then (afresh) what the body needs
        definition_runtime = frozenset(transformer.result.runtime)
        definition_imports = frozenset(transformer.result.imports)
        transformer.result.runtime, transformer.result.imports = set(), set()
        rewritten = cst.Module(body=staying).visit(transformer) if staying else None
    except MagicError as exc:
        hint = ""
        if (
            exc.keepable
            and not plan.options.allow_ipython
            and plan.options.allow_ipython_hint is not None
        ):
            hint = f"; use {plan.options.allow_ipython_hint} to keep it"
        raise UnsupportedMagicError(
            notebook_cell.location(plan.analysis.notebook.path, exc.magic.line), exc.reason + hint
        ) from None
    kept = [_unindent_blank_lines(s) for s in _fold_comment_placeholders(
        list(rewritten.body) if rewritten is not None else []
    )]
    footer = [
        line.comment.value for line in [*header, *module.footer] if line.comment is not None
    ]
    text = ""
    if kept:
        first = kept[0]
        kept[0] = first.with_changes(
            leading_lines=_trim_blank_edges(list(first.leading_lines))
        )
        text = cst.Module(body=kept).code.rstrip("\n")
    if footer:
        text = "\n".join([text, *footer]) if text else "\n".join(footer)
    result = transformer.result
    notes = decision_notes(notebook_cell.label, source, parsed.tree, cell.dropped, cell.shows)
    if cell.shows:
        result.saves_figures = True
        result.runtime.add("save_figures")
    body_runtime = frozenset(result.runtime)
    body_reads = frozenset(
        "get_ipython" if line == _KEPT_IPYTHON else line.split(".", 1)[0]
        for line in result.imports
    )
    result.runtime |= definition_runtime
    result.imports |= definition_imports
    return _Piece(
        imports=tuple(imports),
        definitions=tuple(definitions),
        body=text,
        runtime=frozenset(result.runtime),
        definition_runtime=definition_runtime,
        body_runtime=body_runtime,
        stdlib=frozenset(result.imports - {_KEPT_IPYTHON}),
        body_reads=body_reads,
        requirements=tuple(result.requirements),
        notes=tuple(notes + result.notes),
        ipython_kept=_KEPT_IPYTHON in result.imports,
        reads_display=result.reads_display,
        figures=frozenset({"save_figures"}) if result.saves_figures else frozenset(),
    )


#: what a magic kept as a ``get_ipython()`` call needs (among the modules a rewrite needs)
_KEPT_IPYTHON = "from IPython import get_ipython"


def _unindent_blank_lines(statement: Statement) -> Statement:
    """Blank lines above a statement get no indentation (no trailing whitespace)."""
    lines = statement.leading_lines
    if not any(line.comment is None and line.indent for line in lines):
        return statement
    return statement.with_changes(
        leading_lines=[
            line.with_changes(indent=False, whitespace=cst.SimpleWhitespace(""))
            if line.comment is None
            else line
            for line in lines
        ]
    )


def _trim_blank_edges(lines: list[cst.EmptyLine]) -> list[cst.EmptyLine]:
    while lines and lines[0].comment is None:
        lines = lines[1:]
    return lines


def _fold_comment_placeholders(statements: list[Statement]) -> list[Statement]:
    """Move the comments of dropped lines (kept on a ``pass``) onto the next statement; at the
    end of a cell they go with the dropped line."""
    out: list[Statement] = []
    carried: list[cst.EmptyLine] = []
    for statement in statements:
        if (
            isinstance(statement, cst.SimpleStatementLine)
            and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Pass)
        ):
            carried.extend(statement.leading_lines)
            continue
        if carried:
            statement = statement.with_changes(
                leading_lines=[*carried, *statement.leading_lines]
            )
            carried = []
        out.append(statement)
    return out


# -- metrics, comments and indentation ---------------------------------------------------------
def _metric_names(cell: CellPlan) -> tuple[str, ...]:
    """What a ``metrics`` cell assigns at top level and does not delete."""
    deleted = cell.parsed.symbols.deletes
    return tuple(name for name in assigned_names(cell.parsed) if name not in deleted)


_WIDTH = 92


def _call(callee: str, args: list[str]) -> str:
    """``callee(a, b)`` on one line when it fits, else one argument a line."""
    one = f"{callee}({', '.join(args)})"
    if len(one) <= _WIDTH:
        return one
    return f"{callee}(\n" + "".join(f"    {arg},\n" for arg in args) + ")"


def _markdown_comments(markdown: tuple[str, ...]) -> list[str]:
    """Short comments from the markdown cells above a code cell: each one's first paragraph."""
    lines: list[str] = []
    for text in markdown:
        paragraph: list[str] = []
        for raw in text.strip().splitlines():
            line = raw.strip()
            if not line:
                if paragraph:
                    break
                continue
            if line.startswith(("<", "![", "```", "---", "|")):
                continue
            if line.startswith("#"):
                # a heading is a block of its own, even with text right under it
                if not paragraph:
                    paragraph.append(line.lstrip("#").strip())
                break
            paragraph.append(line)
        if not paragraph:
            continue
        wrapped = textwrap.wrap(" ".join(paragraph), _WIDTH)
        if len(wrapped) > 3:
            wrapped = wrapped[:3]
            wrapped[-1] += " ..."
        lines += [f"# {line}".rstrip() for line in wrapped]
    return lines


def indent_code(code: str, prefix: str) -> str:
    """``code`` with ``prefix`` before each line, except blank lines and the lines inside a
    multi-line string (indenting those would change the string)."""
    lines = code.split("\n")
    inside = _string_continuation_lines(code) if ('"""' in code or "'''" in code or "\\\n" in code) else set()
    return "\n".join(
        line if (number in inside or not line.strip()) else prefix + line
        for number, line in enumerate(lines, 1)
    )


def _string_continuation_lines(code: str) -> set[int]:
    """1-based numbers of the lines that start inside a string literal."""
    inside: set[int] = set()
    fstring_starts: list[int] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            name = tokenize.tok_name[token.type]
            if name == "FSTRING_START":  # Python 3.12+: f-strings are several tokens
                fstring_starts.append(token.start[0])
            elif name == "FSTRING_END" and fstring_starts:
                inside.update(range(fstring_starts.pop() + 1, token.end[0] + 1))
            elif token.type == tokenize.STRING and token.end[0] > token.start[0]:
                inside.update(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return inside

