"""Which top-level statements of a cell only showed a value in the notebook.

A notebook shows the value of a cell's last expression, and ``display(...)`` shows any; a
script shows nothing, so those statements are dropped (and listed in the export summary):
bare names, attributes, subscripts and tuples of them; ``display(...)`` and ``help(...)``; and
calls of well-known methods that return a value to look at (``df.head()``,
``s.value_counts().sort_index()``) on a plain name, with plain arguments and no
``inplace=``. Calls of anything else are kept: their side effects may matter. The one rule
for the whole exporter: the plan asks it (:func:`display_decisions`), and so does the rewrite
of a code magic's code (:func:`code_display_decisions`); the renderers carry the answer out.
"""

from __future__ import annotations

import ast
from collections.abc import Collection

from nb2pipe.analysis import syntax
from nb2pipe.analysis.symbols import dotted_name

__all__ = [
    "DISPLAY_METHODS",
    "code_display_decisions",
    "decision_notes",
    "display_decisions",
    "displayed_code",
    "is_pyplot_show",
    "only_displays",
    "prints_help",
    "shows_pyplot",
]

#: Methods whose bare call only returns a value to show (no ``inplace=``).
DISPLAY_METHODS = frozenset(
    {"head", "tail", "describe", "value_counts", "sample", "nunique", "unique", "sort_values",
     "sort_index", "isna", "isnull", "notna", "corr", "count", "mean", "median", "min", "max",
     "std", "var", "sum", "round", "to_frame", "memory_usage", "nlargest", "nsmallest",
     "select_dtypes", "agg", "aggregate", "groupby", "size", "dropna", "fillna", "astype",
     "reset_index", "rename", "drop", "query", "filter", "transpose", "pivot_table", "quantile",
     "mode", "cumsum", "diff", "pct_change", "rolling", "resample", "sem", "skew", "kurt"}
)
_DISPLAY_FUNCTIONS = frozenset({"display", "IPython.display.display", "help"})


def only_displays(statement: ast.stmt, own_methods: frozenset[str] = frozenset()) -> bool:
    """Whether ``statement`` (top level in a cell) only shows a value.

    ``own_methods``: methods the notebook's classes define; a call of one may do anything
    (``tally.count()`` adding to a total), so it is never display-only.
    """
    if not isinstance(statement, ast.Expr):
        return False
    value = statement.value
    if _is_plain_value(value):
        return True
    if isinstance(value, ast.Call):
        if dotted_name(value.func) in _DISPLAY_FUNCTIONS:
            return True
        return _is_display_chain(value, own_methods)
    return False


def prints_help(statement: ast.stmt) -> bool:
    """``help(x)`` as a statement: dropped like the others, but what it printed went to stdout
    (verify does not expect it from the script)."""
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and dotted_name(statement.value.func) == "help"
    )


def is_pyplot_show(statement: ast.stmt, pyplot_names: frozenset[str]) -> bool:
    """``plt.show()`` (any name bound to ``matplotlib.pyplot``) as a statement."""
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return False
    return shows_pyplot(dotted_name(statement.value.func), pyplot_names)


def shows_pyplot(callee: str | None, pyplot_names: Collection[str]) -> bool:
    """Whether a call of ``callee`` (dotted) is ``plt.show``: the one rule, for the top-level
    statements decided here and the ones in blocks that the rewrite replaces."""
    return callee is not None and callee.count(".") == 1 and (
        callee.split(".")[0] in pyplot_names and callee.endswith(".show")
    )


def displayed_code(source: str, statement: ast.stmt) -> str:
    """How the summary quotes a dropped statement (shortened)."""
    value = statement.value if isinstance(statement, ast.Expr) else statement
    text = " ".join((ast.get_source_segment(source, value) or ast.unparse(value)).split())
    if isinstance(value, ast.Call) and dotted_name(value.func) in ("display", "IPython.display.display"):
        return "display(...)"
    return text if len(text) <= 60 else text[:57] + "..."


def _is_plain_value(node: ast.expr) -> bool:
    if isinstance(node, ast.Tuple):
        return all(_is_plain_value(element) for element in node.elts)
    if not isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
        return False
    return not any(isinstance(child, (ast.Call, ast.NamedExpr, ast.Await)) for child in ast.walk(node))


def _is_display_chain(call: ast.Call, own_methods: frozenset[str] = frozenset()) -> bool:
    """``df.head()``, ``s.value_counts().sort_index()``, ``df.groupby(k)["y"].mean()``.

    ``sample`` counts only with a ``random_state`` (else it advances the global random state).
    """
    node: ast.expr = call
    while isinstance(node, (ast.Call, ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Call):
            func = node.func
            if (
                not isinstance(func, ast.Attribute)
                or func.attr not in DISPLAY_METHODS
                or func.attr in own_methods
            ):
                return False
            keywords = {keyword.arg for keyword in node.keywords}
            if "inplace" in keywords or None in keywords:
                return False
            if func.attr == "sample" and "random_state" not in keywords:
                return False
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
            if any(_has_effects(argument) for argument in arguments):
                return False
            node = func.value
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            if _has_effects(node.slice):
                return False
            node = node.value
    return isinstance(node, ast.Name)


def _has_effects(node: ast.AST) -> bool:
    return any(isinstance(child, (ast.Call, ast.NamedExpr, ast.Await)) for child in ast.walk(node))


def display_decisions(
    tree: ast.Module,
    *,
    keep_display: bool,
    pyplot_names: frozenset[str] | None,
    own_methods: frozenset[str] = frozenset(),
) -> tuple[frozenset[int], frozenset[int]]:
    """Positions of the top-level statements a script drops (they only showed a value) and of
    the ``plt.show()`` statements it replaces by saving the figures.

    ``keep_display``: the cell is tagged to keep them; ``pyplot_names``: the names bound to
    ``matplotlib.pyplot`` when the script saves figures, else ``None``.
    """
    body = tree.body
    dropped: frozenset[int] = frozenset()
    shows: frozenset[int] = frozenset()
    if not keep_display:
        dropped = frozenset(
            position for position, node in enumerate(body) if only_displays(node, own_methods)
        )
    if pyplot_names is not None:
        shows = frozenset(
            position for position, node in enumerate(body) if is_pyplot_show(node, pyplot_names)
        )
    return dropped, shows


def code_display_decisions(
    label: str, code: str, *, keep_display: bool, pyplot_names: frozenset[str] | None
) -> tuple[frozenset[int], frozenset[int], list[str]]:
    """:func:`display_decisions` for a code magic's code (``%time df.head()``), with the
    summary's notes about them."""
    tree = syntax.parse(code)
    dropped, shows = display_decisions(tree, keep_display=keep_display, pyplot_names=pyplot_names)
    return dropped, shows, decision_notes(label, code, tree, dropped, shows)


def decision_notes(
    label: str, source: str, tree: ast.Module, dropped: Collection[int], shows: Collection[int]
) -> list[str]:
    """What the export summary says about the statements dropped or replaced."""
    notes = []
    for position in sorted(set(dropped) | set(shows)):
        node = tree.body[position]
        if position in shows:
            notes.append(f"{label}: `{ast.get_source_segment(source, node)}` saves figures instead")
        else:
            notes.append(f"{label}: dropped display-only `{displayed_code(source, node)}`")
    return notes
