"""IPython syntax in cells: turn it into Python with ``get_ipython()`` calls, and find those calls.

Like black's ``handle_ipynb_magics``, a cell is first tried as plain Python; only when that fails
does IPython's own ``TransformerManager`` rewrite magics, shell escapes and ``?`` help into
``get_ipython().run_line_magic(...)`` / ``run_cell_magic`` / ``system`` / ``getoutput`` calls.
Every later stage (symbols, export, tracking) then works on one Python syntax tree, and the
calls are recognised structurally (:func:`magic_from_call`), never by matching text.
"""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass
from functools import lru_cache

from nb2pipe.analysis import syntax

__all__ = [
    "CODE_MAGICS",
    "EXTENSION_MAGICS",
    "KERNEL_LINE_MAGICS",
    "Automagic",
    "Magic",
    "MagicKind",
    "automagic_of",
    "magic_from_call",
    "mask_ipython",
]


class MagicKind(str, enum.Enum):
    LINE = "line"  #: ``%name args``
    CELL = "cell"  #: ``%%name args`` + body
    SYSTEM = "system"  #: ``!command``
    GETOUTPUT = "getoutput"  #: ``x = !command``


#: Magics whose argument (line magics) or body (cell magics) is Python code that runs in the
#: user's namespace; analysis looks into that code and export keeps it as plain Python
#: (the profilers of line_profiler and memory_profiler too: ``%lprun -f f main()`` runs
#: ``main()``).
CODE_MAGICS = frozenset({"time", "timeit", "prun", "capture", "lprun", "memit", "mprun"})

#: The line magics of a fresh IPython kernel (IPython 9 with ipykernel 7), with IPython's
#: POSIX shell aliases (``ls``, ``cat``, ``mkdir``, ... are line magics there too): the names
#: IPython's automagic runs without ``%``. A test keeps this equal to IPython's own list.
KERNEL_LINE_MAGICS = frozenset(
    {
        "alias", "alias_magic", "autoawait", "autocall", "automagic", "autosave", "bookmark",
        "cat", "cd", "clear", "code_wrap", "colors", "conda", "config", "connect_info", "cp",
        "debug", "dhist", "dirs", "doctest_mode", "ed", "edit", "env", "gui", "hist",
        "history", "killbgscripts", "ldir", "less", "lf", "lk", "ll", "load", "load_ext",
        "loadpy", "logoff", "logon", "logstart", "logstate", "logstop", "ls", "lsmagic", "lx",
        "macro", "magic", "mamba", "man", "matplotlib", "micromamba", "mkdir", "more", "mv",
        "notebook", "page", "pastebin", "pdb", "pdef", "pdoc", "pfile", "pinfo", "pinfo2",
        "pip", "popd", "pprint", "precision", "prun", "psearch", "psource", "pushd", "pwd",
        "pycat", "pylab", "qtconsole", "quickref", "recall", "rehashx", "reload_ext", "rep",
        "rerun", "reset", "reset_selective", "rm", "rmdir", "run", "save", "sc", "set_env",
        "subshell", "sx", "system", "tb", "time", "timeit", "unalias", "unload_ext", "uv",
        "who", "who_ls", "whos", "xdel", "xmode",
    }
)
#: Line magics that ``%load_ext <extension>`` adds (automagic runs them too, once loaded).
EXTENSION_MAGICS: dict[str, frozenset[str]] = {
    "autoreload": frozenset({"autoreload", "aimport"}),
    "line_profiler": frozenset({"lprun"}),
    "memory_profiler": frozenset({"memit", "mprun"}),
    "watermark": frozenset({"watermark"}),
    "version_information": frozenset({"version_information"}),
}


@dataclass(frozen=True)
class Magic:
    """One use of IPython syntax in a cell, as IPython itself understood it."""

    kind: MagicKind
    name: str  #: magic name without ``%``; ``""`` for shell escapes
    args: str  #: the magic's line (for cell magics, the text after ``%%name``) or the command
    body: str | None  #: the cell magic's body
    line: int  #: 1-based line in the cell's source

    @property
    def display(self) -> str:
        if self.kind is MagicKind.LINE:
            return f"%{self.name}"
        if self.kind is MagicKind.CELL:
            return f"%%{self.name}"
        return "!" + self.args.split(" ", 1)[0]


@lru_cache(maxsize=1)
def _transformer_manager() -> object:
    # IPython is imported only for cells that are not plain Python: most cells never need it.
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def mask_ipython(source: str) -> str:
    """Return ``source`` as Python: IPython syntax becomes ``get_ipython()`` calls.

    Plain Python comes back unchanged. The result may still not parse (a real syntax error);
    the caller reports that.
    """
    try:
        syntax.parse(source)
    except SyntaxError:
        pass
    else:
        return source
    manager = _transformer_manager()
    try:
        return manager.transform_cell(source)  # type: ignore[attr-defined,no-any-return]
    except Exception:  # IPython raises assorted errors on malformed escapes
        return source


@dataclass(frozen=True)
class Automagic:
    """A one-line cell that IPython runs as a line magic typed without ``%`` (automagic)."""

    name: str  #: the magic (or shell alias) the line's first word names
    #: the line as IPython runs it: ``get_ipython().run_line_magic(name, args)``
    python_source: str


def automagic_of(source: str) -> Automagic | None:
    """How IPython's automagic would read the cell ``source``; ``None`` when it would not.

    IPython applies automagic (``InteractiveShell.transform_cell``) only to cells of one line
    after its static transformations; the line's first word (as IPython's ``LineInfo``
    splits it: no escape character, no dot) must name a line magic, and an assignment
    (``ls = [1]``, ``ls, x = ...``) is always Python. Whether a variable shadows the magic
    depends on the kernel's namespace: the caller decides that.
    """
    try:
        masked = _transformer_manager().transform_cell(source)  # type: ignore[attr-defined]
    except Exception:  # IPython raises assorted errors on malformed escapes
        return None
    lines = masked.splitlines()
    if len(lines) != 1:
        return None
    from IPython.core.splitinput import LineInfo

    info = LineInfo(lines[0])
    if info.esc or info.pre:
        return None
    if info.ifun not in KERNEL_LINE_MAGICS and not any(
        info.ifun in names for names in EXTENSION_MAGICS.values()
    ):
        return None
    if info.the_rest[:1] in ("=", ","):
        return None
    # IPython's MagicHandler: the magic's name, then the rest of the line as its argument
    name, _, args = f"{info.ifun} {info.the_rest}".partition(" ")
    return Automagic(name, f"get_ipython().run_line_magic({name!r}, {args!r})")


def _string_args(call: ast.Call) -> list[str] | None:
    values = []
    for arg in call.args:
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            return None
        values.append(arg.value)
    return values


def magic_from_call(node: ast.AST) -> Magic | None:
    """The :class:`Magic` that ``node`` is, if it is a ``get_ipython().<method>(...)`` call."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    receiver = node.func.value
    if not (
        isinstance(receiver, ast.Call)
        and isinstance(receiver.func, ast.Name)
        and receiver.func.id == "get_ipython"
        and not receiver.args
    ):
        return None
    args = _string_args(node)
    if args is None:
        return None
    method = node.func.attr
    if method == "run_line_magic" and len(args) >= 2:
        return Magic(MagicKind.LINE, args[0], args[1], None, node.lineno)
    if method == "run_cell_magic" and len(args) == 3:
        return Magic(MagicKind.CELL, args[0], args[1], args[2], node.lineno)
    if method == "system" and len(args) == 1:
        return Magic(MagicKind.SYSTEM, "", args[0], None, node.lineno)
    if method == "getoutput" and len(args) == 1:
        return Magic(MagicKind.GETOUTPUT, "", args[0], None, node.lineno)
    return None


def magic_from_code(code: str) -> Magic | None:
    """The :class:`Magic` a ``get_ipython()`` call's code (one expression) runs, else ``None``:
    the rewrite of a cell asks this of the calls it meets."""
    try:
        tree = syntax.parse(code, mode="eval")
    except SyntaxError:
        return None
    return magic_from_call(tree.body)
