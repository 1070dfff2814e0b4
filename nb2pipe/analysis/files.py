"""Which files a cell's code names: string literals, and those it writes to.

A pipeline step's data files are the literals that name existing files, less the ones an
earlier step (or the step itself) writes.
"""

from __future__ import annotations

import ast

from nb2pipe.analysis.parse import ParsedCell

__all__ = ["file_literals", "written_files"]


def file_literals(parsed: ParsedCell) -> set[str]:
    """The string literals of the cell that could name a file (one line, not too long)."""
    return {
        node.value for node in ast.walk(parsed.tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and node.value and "\n" not in node.value and len(node.value) <= 500
    }


#: methods whose first argument is the file they write: ``df.to_csv(path)``, ``fig.savefig(path)``
_WRITING_METHODS = frozenset({
    "to_csv", "to_parquet", "to_json", "to_excel", "to_pickle", "to_feather", "to_hdf",
    "to_html", "to_latex", "to_markdown", "to_stata", "to_orc", "to_xml", "to_netcdf",
    "to_file", "savefig", "save", "savetxt", "savez", "savez_compressed", "save_model",
})
#: functions whose second argument is the file they write: ``joblib.dump(model, path)``
_DUMPING_FUNCTIONS = frozenset({"dump", "save"})


def _path_name(node: ast.AST | None) -> str | None:
    """The string literal or plain name a path expression is built on (``Path("a.csv")``)."""
    while isinstance(node, ast.Call) and node.args and not node.keywords:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name != "Path":
            return None
        node = node.args[0]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return node.id
    return None


def _opens_for_writing(call: ast.Call, mode_index: int) -> bool:
    mode = call.args[mode_index] if len(call.args) > mode_index else None
    for keyword_arg in call.keywords:
        if keyword_arg.arg == "mode":
            mode = keyword_arg.value
    return (
        isinstance(mode, ast.Constant)
        and isinstance(mode.value, str)
        and any(flag in mode.value for flag in "wax+")
    )


def written_files(parsed: ParsedCell) -> set[str]:
    """String literals and names that a cell's code writes a file to (``df.to_csv("out.csv")``,
    ``open(path, "w")``, ``joblib.dump(model, "m.pkl")``): outputs, not input data."""
    written: set[str] = set()
    for node in ast.walk(parsed.tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        target: ast.AST | None = None
        if isinstance(func, ast.Name) and func.id == "open":
            if node.args and _opens_for_writing(node, 1):
                target = node.args[0]
        elif isinstance(func, ast.Attribute):
            if func.attr in ("write_text", "write_bytes"):
                target = func.value
            elif func.attr == "open" and _opens_for_writing(node, 0):
                target = func.value
            elif func.attr in _WRITING_METHODS and node.args:
                target = node.args[0]
            if func.attr in _DUMPING_FUNCTIONS and len(node.args) >= 2:
                second = _path_name(node.args[1])
                if second is not None:
                    written.add(second)
        name = _path_name(target)
        if name is not None:
            written.add(name)
    return written
