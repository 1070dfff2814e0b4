"""Which top-level statements of a cell only showed a value in the notebook.

A notebook shows the value of a cell's last expression, and ``display(...)`` shows any; a
script shows nothing, so those statements are dropped (and listed in the export summary):
bare names, attributes, subscripts and tuples of them; ``display(...)`` and ``help(...)``; and
calls of well-known methods that return a value to look at (``df.head()``,
``s.value_counts().sort_index()``) on a plain name, with plain arguments and no
``inplace=``. Calls of anything else are kept: their side effects may matter. The one rule
for the whole exporter: the plan asks it, the renderers carry the answer out.
"""

from __future__ import annotations

import ast

from nb2pipe.analysis.symbols import dotted_name

__all__ = ["DISPLAY_METHODS", "displayed_code", "is_pyplot_show", "only_displays", "prints_help"]

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
    callee = dotted_name(statement.value.func)
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
