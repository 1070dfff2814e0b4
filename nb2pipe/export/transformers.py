"""libcst transformers that turn one cell's code into the statements of the script's ``main``."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Sequence, Union

import libcst as cst

from nb2pipe.analysis.display import code_display_decisions, shows_pyplot
from nb2pipe.analysis.magics import Magic, magic_from_code, mask_ipython
from nb2pipe.analysis.symbols import function_locals_of_code
from nb2pipe.export.magics import BrokenMagic, MagicTranslation, Untranslatable, translate_magic

#: A statement of a module's body, as libcst types it.
Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement

__all__ = ["CellRewrite", "RewriteCellTransformer", "apply_decisions"]

# libcst.matchers would read better here, but importing it costs 0.3 s of every export (more
# than the whole analysis of a 1,000-cell notebook): these two shapes are checked by hand.


def _is_get_ipython_call(node: cst.BaseExpression) -> bool:
    """``get_ipython().<method>(...)``."""
    if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
        return False
    receiver = node.func.value
    return (
        isinstance(receiver, cst.Call)
        and isinstance(receiver.func, cst.Name)
        and receiver.func.value == "get_ipython"
        and not receiver.args
    )


class MagicError(Exception):
    """A magic without translation; ``line`` is 1-based in the cell (for the error message)."""

    def __init__(self, magic: Magic, reason: str, *, keepable: bool = True) -> None:
        self.magic = magic
        self.reason = reason
        #: ``--allow-ipython`` would keep it (IPython can run it)
        self.keepable = keepable
        super().__init__(reason)


@dataclass
class CellRewrite:
    """What rewriting a cell found and needs: notes for the summary, imports, runtime names."""

    notes: list[str] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)
    #: functions of nb2pipe-runtime the rewritten code calls (by their runtime names)
    runtime: set[str] = field(default_factory=set)
    requirements: list[str] = field(default_factory=list)
    saves_figures: bool = False
    #: the rewritten code reads ``display`` (IPython's, unless the notebook defines one)
    reads_display: bool = False


def _magic_of(call: cst.Call) -> Magic | None:
    """The :class:`Magic` of a ``get_ipython()`` call node: one recogniser, shared with analysis."""
    return magic_from_code(cst.Module([]).code_for_node(call))


@lru_cache(maxsize=64)
def _locals_of(node: cst.FunctionDef) -> frozenset[str]:
    """The function's local names, from the one analysis."""
    return function_locals_of_code(cst.Module([]).code_for_node(node))


def _dotted(node: cst.BaseExpression) -> str | None:
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


class RewriteCellTransformer(cst.CSTTransformer):
    """Rewrites IPython syntax, drops display-only lines and saves figures instead of showing.

    Runs on the statements that stay in ``main`` and on hoisted definitions. Changes are made
    only where code runs in ``main``'s own scope (not inside function or class bodies), except
    magic rewriting, which applies everywhere.
    """

    def __init__(
        self,
        *,
        cell_label: str,
        cell_number: int,
        is_variable: Callable[[str], bool],
        pyplot_names: frozenset[str],
        keep_display: bool,
        allow_ipython: bool,
        figure_call: str | None,
        cell_magics: Sequence[Magic] = (),
        runtime: Callable[[str], str] = str,
        global_names: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__()
        self.cell_label = cell_label
        self.cell_number = cell_number
        self.is_variable = is_variable
        self.pyplot_names = pyplot_names
        self.keep_display = keep_display
        self.allow_ipython = allow_ipython
        self.figure_call = figure_call
        #: the script's name of each nb2pipe-runtime function
        self.runtime = runtime
        #: names the enclosing ``main`` declares ``global`` (annotating them is a SyntaxError)
        self.global_names = global_names
        #: the cell's magics as the analysis found them, with their lines in the cell
        self.cell_magics = list(cell_magics)
        self._placed: set[int] = set()
        self.result = CellRewrite()
        self._scope_depth = 0
        self._block_depth = 0
        self._functions: list[cst.FunctionDef] = []  # the functions being visited, innermost last

    def visit_Name(self, node: cst.Name) -> None:
        # every name the transformer meets stays in the code (dropped statements are removed
        # before it runs): ``display`` left in a block or a function needs IPython's
        if node.value == "display":
            self.result.reads_display = True

    # -- scopes ------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self._scope_depth += 1
        self._functions.append(node)
        return True

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self._scope_depth -= 1
        self._functions.pop()
        return updated_node

    def _is_variable(self, name: str) -> bool:
        """Whether ``$name``/``{name}`` in a magic names a variable: IPython expands them
        from the calling function's locals, then the notebook's globals."""
        if self._functions and name in _locals_of(self._functions[-1]):
            return True
        return self.is_variable(name)

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self._scope_depth += 1
        return True

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self._scope_depth -= 1
        return updated_node

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> bool:
        self._block_depth += 1
        return True

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        self._block_depth -= 1
        if not updated_node.body:  # every statement was dropped: keep the block valid
            return updated_node.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
        return updated_node

    # -- statements --------------------------------------------------------------------------
    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> Union[cst.BaseStatement, cst.FlattenSentinel[cst.BaseStatement], cst.RemovalSentinel]:
        last = updated_node.body[-1] if updated_node.body else None
        if last is not None and isinstance(last.semicolon, cst.Semicolon):
            # a trailing `;` only hid the cell's result in the notebook: noise in a script
            body = [*updated_node.body[:-1], last.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)]
            trailing = updated_node.trailing_whitespace
            if trailing.comment is not None and not trailing.whitespace.value:
                # `x;  # note`: the spaces before the comment belonged to the semicolon
                trailing = trailing.with_changes(whitespace=last.semicolon.whitespace_after)
            updated_node = updated_node.with_changes(body=body, trailing_whitespace=trailing)
        replacement: list[Statement] = []
        kept: list[cst.BaseSmallStatement] = []
        changed = False
        for small in updated_node.body:
            new = self._rewrite_small(small)
            if new is None:
                kept.append(small)
                continue
            changed = True
            if kept:
                replacement.append(updated_node.with_changes(body=kept, leading_lines=()))
                kept = []
            replacement.extend(new)
        if not changed:
            return updated_node
        if kept:
            replacement.append(updated_node.with_changes(body=kept, leading_lines=()))
        if not replacement:
            if any(line.comment for line in updated_node.leading_lines):
                # keep the comments that stood above the dropped line; the renderer moves
                # them onto the next statement and drops the `pass`
                return cst.SimpleStatementLine([cst.Pass()], leading_lines=updated_node.leading_lines)
            return cst.RemoveFromParent()
        first = replacement[0]
        replacement[0] = first.with_changes(
            leading_lines=[*updated_node.leading_lines, *first.leading_lines]
        )
        return cst.FlattenSentinel(replacement)

    def _rewrite_small(self, small: cst.BaseSmallStatement) -> list[Statement] | None:
        """Replacement statements for ``small``, or ``None`` to keep it as it is."""
        if isinstance(small, cst.Expr) and _is_get_ipython_call(small.value):
            magic = _magic_of(small.value)  # type: ignore[arg-type]
            if magic is not None:
                return self._translate(magic, None)
        if isinstance(small, cst.Assign) and _is_get_ipython_call(small.value):
            magic = _magic_of(small.value)  # type: ignore[arg-type]
            if magic is not None:
                return self._translate(magic, small)
        if self._scope_depth:
            return None
        if isinstance(small, cst.Global):
            # a no-op in a cell; in `main` it would clash with main's own declaration
            return []
        if (
            isinstance(small, cst.AnnAssign)
            and isinstance(small.target, cst.Name)
            and small.target.value in self.global_names
        ):
            # `main` declares this name `global`, and an annotated global is a SyntaxError
            # there: keep the assignment, drop the annotation
            if small.value is None:
                return []
            target = cst.AssignTarget(small.target)
            return [cst.SimpleStatementLine([cst.Assign([target], small.value)])]
        if isinstance(small, cst.Expr):
            return self._rewrite_expression_statement(small)
        return None

    def _rewrite_expression_statement(self, small: cst.Expr) -> list[Statement] | None:
        """``plt.show()`` inside a block saves the figures instead (top-level statements that
        only show something were dropped or replaced before, see :func:`apply_decisions`)."""
        value = small.value
        if self._block_depth == 0 or self.figure_call is None or not isinstance(value, cst.Call):
            return None
        callee = _dotted(value.func)
        if shows_pyplot(callee, self.pyplot_names):
            self.result.saves_figures = True
            self.result.runtime.add("save_figures")
            self.result.notes.append(f"{self.cell_label}: `{callee}()` saves figures instead")
            return [cst.parse_statement(self.figure_call)]
        return None

    # -- magics ------------------------------------------------------------------------------
    def _translate(self, magic: Magic, assign: cst.Assign | None) -> list[Statement] | None:
        magic = self._placed_in_cell(magic)
        try:
            translation = translate_magic(
                magic, self._is_variable, as_expression=assign is not None, runtime=self.runtime
            )
        except Untranslatable as exc:
            keepable = not isinstance(exc, BrokenMagic)
            if self.allow_ipython and keepable:
                self.result.notes.append(f"{self.cell_label}: kept {magic.display} (runs under IPython)")
                self.result.imports.add("from IPython import get_ipython")
                return None
            raise MagicError(magic, str(exc), keepable=keepable) from None
        self._collect(translation)
        if translation.inner_code is not None:
            statements = self._inner_statements(translation.inner_code, magic)
            if translation.capture:
                statements = [_captured(statements)]
            if assign is not None:
                return _assign_last_expression(assign, statements, magic)
            return statements
        if translation.code is None:
            return []
        if assign is not None:
            value = cst.parse_expression(translation.code)
            return [cst.SimpleStatementLine([assign.with_changes(value=value)])]
        return list(cst.parse_module(translation.code + "\n").body)

    def _placed_in_cell(self, magic: Magic) -> Magic:
        """``magic`` (parsed from its call alone, so on line 1) with its line in the cell: the
        analysis lists the cell's magics in the order this transformer meets them."""
        for index, known in enumerate(self.cell_magics):
            if index not in self._placed and (known.kind, known.name, known.args, known.body) == (
                magic.kind, magic.name, magic.args, magic.body
            ):
                self._placed.add(index)
                return known
        return magic

    def _collect(self, translation: MagicTranslation) -> None:
        self.result.notes.append(f"{self.cell_label}: {translation.note}")
        self.result.imports |= translation.imports
        self.result.runtime |= translation.runtime
        self.result.requirements += translation.requirements

    def _inner_statements(self, code: str, magic: Magic) -> list[Statement]:
        """The statements of a code magic's code, themselves rewritten."""
        python = mask_ipython(code)
        try:
            module = cst.parse_module(python if python.endswith("\n") else python + "\n")
        except cst.ParserSyntaxError as exc:
            raise MagicError(magic, f"the code of {magic.display} does not parse: {exc.message}") from None
        dropped, shows, notes = code_display_decisions(
            self.cell_label, python, keep_display=self.keep_display,
            pyplot_names=None if self.figure_call is None else self.pyplot_names,
        )
        self.result.notes += notes
        if shows:
            self.result.saves_figures = True
            self.result.runtime.add("save_figures")
        figure = cst.parse_statement(self.figure_call) if self.figure_call else None
        module = module.with_changes(body=apply_decisions(list(module.body), dropped, shows, figure))
        rewritten = module.visit(self)
        body: list[Statement] = list(rewritten.body)
        if body and module.header:
            body[0] = body[0].with_changes(leading_lines=[*module.header, *body[0].leading_lines])
        return body


def apply_decisions(
    body: list[Statement],
    dropped: set[int] | frozenset[int],
    shows: set[int] | frozenset[int],
    figure: Statement | None,
) -> list[Statement]:
    """A module's top-level statements without those at the ``dropped`` positions (as the
    standard-library tree counts them) and with ``figure`` in place of the ``shows``.

    A line left with no statement keeps its comments on a ``pass`` placeholder, which the
    renderer folds onto the next statement.
    """
    if not dropped and not shows:
        return body
    out: list[Statement] = []
    position = 0
    for statement in body:
        if not isinstance(statement, cst.SimpleStatementLine):
            out.append(statement)
            position += 1
            continue
        kept: list[cst.BaseSmallStatement] = []
        replaced = False
        for small in statement.body:
            if position in shows:
                replaced = True
            elif position not in dropped:
                kept.append(small)
            position += 1
        if replaced and figure is not None:
            if kept:
                out.append(statement.with_changes(body=kept))
                out.append(figure)
            else:
                out.append(figure.with_changes(leading_lines=statement.leading_lines))
        elif kept:
            last = kept[-1]
            if len(kept) < len(statement.body):
                kept[-1] = last.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            out.append(statement.with_changes(body=kept))
        elif any(line.comment for line in statement.leading_lines):
            out.append(cst.SimpleStatementLine([cst.Pass()], leading_lines=statement.leading_lines))
    return out


def _captured(statements: Sequence[Statement]) -> Statement:
    """``with redirect_stdout(StringIO()), redirect_stderr(StringIO()):`` around ``statements``."""
    template = cst.parse_statement(
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    pass\n"
    )
    assert isinstance(template, cst.With)
    body = list(statements) or [cst.SimpleStatementLine([cst.Pass()])]
    return template.with_changes(body=cst.IndentedBlock(body=body))


def _assign_last_expression(
    assign: cst.Assign, statements: list[Statement], magic: Magic
) -> list[Statement]:
    """``x = %time f()`` → ``x = f()``: the timed code must be one expression."""
    only = statements[0] if len(statements) == 1 else None
    if (
        isinstance(only, cst.SimpleStatementLine)
        and len(only.body) == 1
        and isinstance(only.body[0], cst.Expr)
    ):
        return [cst.SimpleStatementLine([assign.with_changes(value=only.body[0].value)])]
    raise MagicError(magic, f"the value of {magic.display} is not a single expression")
