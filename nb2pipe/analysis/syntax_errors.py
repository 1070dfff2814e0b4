"""Why a cell is not Python, said so a person can act on it.

Python's own message ("invalid syntax") names no cause. Most cells of real notebooks that do
not parse are one of a few things: Python 2 code, a shell command typed without ``!``, an
IPython magic typed without ``%`` where IPython's automagic does not apply (a cell of more
than one line, or a variable of the magic's name), or a line magic whose arguments were meant
to go on over the next lines. This module recognises those from the ``SyntaxError`` and the
tokens of the failing line, and says which one it is.
"""

from __future__ import annotations

import ast
import io
import keyword
import shutil
import tokenize
from typing import TYPE_CHECKING

from nb2pipe.analysis import syntax
from nb2pipe.analysis.magics import (
    EXTENSION_MAGICS,
    KERNEL_LINE_MAGICS,
    Magic,
    MagicKind,
    magic_from_call,
)
from nb2pipe.analysis.syntax import NestedTooDeeply

if TYPE_CHECKING:
    from nb2pipe.analysis.parse import KernelNamespace

__all__ = ["SHELL_COMMANDS", "explain_syntax_error"]

#: Programs people run from notebooks with ``!``; typed without it, the line is not Python.
#: Whether they are installed here does not matter (a notebook comes from another machine);
#: any other executable on the PATH counts too.
SHELL_COMMANDS = frozenset(
    {
        "apt", "apt-get", "aws", "az", "bash", "black", "brew", "bunzip2", "cargo", "chmod",
        "cmake", "conda", "cp", "curl", "docker", "du", "dvc", "echo", "export", "find",
        "flake8", "gcc", "gcloud", "gdown", "git", "go", "grep", "gsutil", "gunzip", "gzip",
        "head", "hdfs", "ipython", "ipython3", "java", "jupyter", "jupyter-lab",
        "jupyter-notebook", "jupytext", "kaggle", "kubectl", "ls", "make", "mamba",
        "micromamba", "mkdir", "mlflow", "mv", "node", "npm", "nvidia", "nvidia-smi",
        "papermill", "pip", "pip3", "pipenv", "poetry", "pytest", "python", "python3", "rm",
        "rsync", "ruff", "scp", "sh", "source", "spark-submit", "ssh", "streamlit", "sudo",
        "tail", "tar", "tensorboard", "touch", "unzip", "uv", "virtualenv", "wc", "wget",
        "which", "yarn", "yum", "zip",
    }
)
#: Python's messages for Python 2 statements, and what to call them.
_PYTHON2_MESSAGES = (
    ("Missing parentheses in call to 'print'", "print statement (Python 3: print(...))"),
    ("Missing parentheses in call to 'exec'", "exec statement (Python 3: exec(...))"),
    ("multiple exception types must be parenthesized", "`except E, name:` (Python 3: `except E as name:`)"),
    ("leading zeros in decimal integer literals", "octal literal like 0777 (Python 3: 0o777)"),
    ("Lambda expression parameters cannot be parenthesized", "tuple parameters in a lambda"),
    ("Function parameters cannot be parenthesized", "tuple parameters in a def"),
)


def explain_syntax_error(
    python_source: str,
    error: SyntaxError,
    namespace: KernelNamespace | None = None,
    *,
    cell_lines: int = 1,
) -> str:
    """The reason a cell whose masked source is ``python_source`` failed to parse."""
    if isinstance(error, NestedTooDeeply):
        return error.msg
    message = error.msg or "invalid syntax"
    for known, what in _PYTHON2_MESSAGES:
        if message.startswith(known):
            return f"Python 2 syntax: {what}; nb2pipe exports Python 3 code"
    lines = python_source.splitlines()
    line = lines[error.lineno - 1] if error.lineno and 0 < error.lineno <= len(lines) else ""
    cut = _magic_cut_at_its_line(lines, error.lineno or 0)
    if cut is not None:
        return cut
    python2 = _python2_tokens(line)
    if python2 is not None:
        return f"Python 2 syntax: {python2}; nb2pipe exports Python 3 code"
    shell = _shell_reason(line, namespace, cell_lines)
    if shell is not None:
        return shell
    return f"not valid Python: {message}"


def _magic_cut_at_its_line(lines: list[str], error_line: int) -> str | None:
    """A line magic (or shell escape) above the failing line that left brackets open.

    IPython's input transformers end a ``%magic`` or ``!command`` at the end of its line, or
    after the lines it continues with a trailing ``\\`` (``find_end_of_continued_line`` in
    ``IPython.core.inputtransformer2``, and the line-based transformers before it); never
    while brackets are open. So ``%timeit f(a,`` + ``    b)`` is the magic ``timeit f(a,``
    followed by a line of Python that does not parse, and the cell fails in a kernel too. The
    masked source holds that magic as a ``get_ipython()`` call on its own line; the lines
    after it up to the failing one are what the writer meant as its arguments.
    """
    for number in range(error_line - 1, 0, -1):
        magic = _magic_on_line(lines[number - 1])
        if magic is None:
            continue
        # the magic's own line opens a bracket, and each line up to the failing one leaves
        # one open: what the writer meant as the magic's arguments
        if not _open_at_each_line_end([magic.args, *lines[number : error_line - 1]]):
            return None
        typed = f"!{magic.args}" if magic.kind is not MagicKind.LINE else (
            f"%{magic.name} {magic.args}".rstrip()
        )
        return (
            f"`{typed}` (line {number}) ends with its line: IPython joins the lines of a magic "
            "or `!` command only after a `\\`, not inside brackets, so the cell fails in "
            f"Jupyter too; end line {number} with `\\`, or put the call on one line"
        )
    return None


def _magic_on_line(line: str) -> Magic | None:
    """The magic a line of masked source runs (``get_ipython().run_line_magic(...)``, alone
    or assigned), or ``None``."""
    text = line.strip()
    if "get_ipython()" not in text:  # cheap: most lines are plain Python
        return None
    try:
        tree = syntax.parse(text)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], (ast.Expr, ast.Assign)):
        return None
    magic = magic_from_call(tree.body[0].value)
    if magic is None or magic.kind not in (MagicKind.LINE, MagicKind.SYSTEM, MagicKind.GETOUTPUT):
        return None
    return magic


def _open_at_each_line_end(lines: list[str]) -> bool:
    """Whether a bracket is open at the end of each of ``lines``, as Python's tokenizer counts
    them (brackets in strings and comments do not count)."""
    depth = 0
    depth_after_row: dict[int, int] = {}  # 1-based row -> depth after its last token
    try:
        for token in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
            if token.type == tokenize.OP and token.string in ("(", "[", "{"):
                depth += 1
            elif token.type == tokenize.OP and token.string in (")", "]", "}"):
                depth -= 1
            depth_after_row[token.end[0]] = depth
    except tokenize.TokenError:
        pass  # the text ends inside an open bracket: what this looks for
    except (IndentationError, SyntaxError):
        return False
    level = 0
    for row in range(1, len(lines) + 1):
        level = depth_after_row.get(row, level)  # a line with no tokens keeps the depth
        if level <= 0:
            return False
    return True


def _tokens(line: str) -> list[tokenize.TokenInfo]:
    out: list[tokenize.TokenInfo] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline):
            out.append(token)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def _python2_tokens(line: str) -> str | None:
    """Python 2 constructs Python 3 reports only as "invalid syntax"."""
    tokens = [t for t in _tokens(line) if t.type not in (tokenize.NEWLINE, tokenize.ENDMARKER)]
    strings = [t.string for t in tokens]
    if "`" in strings:
        return "backticks (Python 3: repr(...))"
    for first, second in zip(tokens, tokens[1:]):
        adjacent = first.end == second.start
        if first.string == "<" and second.string == ">" and adjacent:
            return "the <> operator (Python 3: !=)"
        if (
            adjacent
            and first.type == tokenize.NUMBER
            and second.type == tokenize.NAME
            and second.string in ("L", "l")
        ):
            return "long integer literal like 10L (Python 3: 10)"
        if (
            adjacent
            and first.type == tokenize.NAME
            and first.string.lower() in ("ur", "ru")
            and second.type == tokenize.STRING
        ):
            return "ur'...' string prefix (Python 3: r'...')"
    if strings[:1] == ["raise"]:
        depth = 0
        for text in strings[1:]:
            depth += text in "([{" and len(text) == 1
            depth -= text in ")]}" and len(text) == 1
            if text == "," and depth == 0:
                return "`raise E, message` (Python 3: raise E(message))"
    return None


def _shell_reason(line: str, namespace: KernelNamespace | None, cell_lines: int) -> str | None:
    """A magic or shell command typed without ``%`` or ``!``."""
    text = line.strip()
    magic = _magic_reason(text, namespace, cell_lines)
    if magic is not None:
        return magic
    if _is_shell_command(text):
        return f"`{text}` is a shell command typed without `!`; write `!{text}`"
    return None


def _magic_reason(text: str, namespace: KernelNamespace | None, cell_lines: int) -> str | None:
    """A line magic typed without ``%``, its first word read as IPython's ``LineInfo`` reads
    it (the way automagic does)."""
    from IPython.core.splitinput import LineInfo

    info = LineInfo(text)
    if info.esc or not info.ifun or "." in info.ifun:
        return None
    word = info.ifun
    if info.the_rest[:1] in _PYTHON_AFTER_A_NAME:
        return None
    loaded = word in KERNEL_LINE_MAGICS or (namespace is not None and word in namespace.magics)
    extension = next((name for name, magics in EXTENSION_MAGICS.items() if word in magics), None)
    if (loaded or extension) and cell_lines > 1:
        return (
            f"`{text}` is IPython's %{word} typed without `%`: IPython runs that only in a "
            f"cell of one line (automagic); write `%{text}`"
        )
    if loaded:
        return (
            f"`{text}` is not Python, and IPython runs it as Python here: a variable "
            f"{word!r} hides the magic %{word}; write `%{text}`"
        )
    if extension is not None:
        return (
            f"`{text}` is the magic %{word}, which no earlier cell loads "
            f"(%load_ext {extension}); load it and write `%{text}`"
        )
    return None


#: What follows a name in the Python people mistype (``x = ...``, ``f(...``, ``a.b``): a
#: line that goes on so is no command.
_PYTHON_AFTER_A_NAME = ("=", ",", "(", "[", ".", ":")


def _is_shell_command(text: str) -> bool:
    """Whether ``text``, a line that is not Python, is a shell command: its first word (as
    the shell splits it) is a program people run from notebooks (:data:`SHELL_COMMANDS`) or an
    executable on the PATH, and the line is not Python on its own either (the failing line
    of a cell may be Python that an earlier line broke)."""
    word, _, rest = text.partition(" ")
    rest = rest.lstrip()
    if (
        not word
        or not all(character.isalnum() or character in "._+-" for character in word)
        or word[0] in ".-"
        or keyword.iskeyword(word)
        or rest[:1] in _PYTHON_AFTER_A_NAME
        or _compiles(text)
    ):
        return False
    return word in SHELL_COMMANDS or shutil.which(word) is not None


def _compiles(text: str) -> bool:
    """Whether ``text`` alone is Python (compiled, not parsed: no syntax tree is built)."""
    try:
        compile(text, "<line>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True
