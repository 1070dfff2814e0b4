"""Plain-Python translations of IPython magics and shell escapes (PRODUCT.md §3 table)."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Callable

from nb2pipe.analysis.magic_args import split_magic_options
from nb2pipe.analysis.magics import Magic, MagicKind
from nb2pipe.analysis.shell import ShellPiece, split_shell_command

__all__ = ["BrokenMagic", "MagicTranslation", "Untranslatable", "python_string", "translate_magic"]

#: Magics that only configure the interactive session or display information.
DROPPED_LINE_MAGICS = frozenset(
    {
        "matplotlib", "load_ext", "reload_ext", "unload_ext", "autoreload", "aimport", "config",
        "track", "who", "whos", "who_ls", "pinfo", "pinfo2", "psearch", "pdoc", "pdef",
        "psource", "pfile", "xmode", "pdb", "lsmagic", "magic", "precision", "colors",
        "automagic", "autocall", "doctest_mode", "pprint", "pwd", "env_list", "history",
    }
)
#: Extension magics that only print the versions of Python and packages (the script's PEP 723
#: block records them).
VERSION_MAGICS = frozenset({"watermark", "version_information"})
#: Magics that run code to time or profile it: the script runs the code itself.
PROFILING_MAGICS = frozenset({"time", "timeit", "prun", "lprun", "memit", "mprun"})
#: Cell magics that only render their body in the notebook.
DISPLAY_CELL_MAGICS = frozenset({"html", "markdown", "latex", "javascript", "js", "svg"})
#: Cell magics whose body is another language, and what it is.
FOREIGN_CELL_MAGICS = {
    "cython": "Cython", "fortran": "Fortran", "R": "R", "julia": "Julia", "octave": "Octave",
    "matlab": "MATLAB", "sql": "SQL", "spark": "Spark", "scala": "Scala", "perl": "Perl",
    "ruby": "Ruby", "pypy": "PyPy", "python2": "Python 2", "java": "Java", "rust": "Rust",
    "cpp": "C++", "C": "C", "stata": "Stata", "sas": "SAS",
}
#: Cell magics that pipe their body into a program (``%%python3`` runs ``python3``).
_SCRIPT_SHELLS = frozenset({"bash", "sh", "python", "python3"})
_SCRIPT_ARGS = [[shell] for shell in sorted(_SCRIPT_SHELLS)]
#: How each foreign cell magic's code can live in a script instead.
_FOREIGN_FIXES = {
    "cython": "move it into a .pyx module built with cythonize",
    "fortran": "build it with f2py and import the module",
    "R": "run it with Rscript (%%bash), or port it",
    "sql": "run the query with the database's Python client",
}
#: IPython's shell aliases on POSIX systems: ``%ls -l`` runs ``ls -l``.
SHELL_ALIASES = frozenset({"ls", "mkdir", "rmdir", "cp", "mv", "rm", "cat", "ll", "lf", "lk", "lx", "ldir"})
#: what IPython's aliases run (its ``ls`` adds ``--color`` too: the same text without the colours)
_ALIAS_COMMANDS = {"ls": "ls -F", "ll": "ls -F -l", "lf": "ls -F -l", "lk": "ls -F -l", "lx": "ls -F -l", "ldir": "ls -F -d"}


@dataclass
class MagicTranslation:
    """What one magic becomes in the script."""

    #: Python statements (a statement magic) or an expression (``x = !ls``); ``None``: dropped
    code: str | None
    #: what the export summary says about it
    note: str
    #: standard-library modules the code needs (``os``, ``runpy``, ...)
    imports: set[str] = field(default_factory=set)
    #: names of nb2pipe-runtime the code calls (``shell``, ``write_file``, ...)
    runtime: set[str] = field(default_factory=set)
    requirements: list[str] = field(default_factory=list)
    #: for code magics: the Python code that runs (to be translated recursively)
    inner_code: str | None = None
    #: ``%%capture``: wrap ``inner_code`` so its output is swallowed
    capture: bool = False


class Untranslatable(Exception):
    """The magic has no faithful plain-Python form."""


class BrokenMagic(Untranslatable):
    """IPython itself cannot run the magic: keeping it (``--allow-ipython``) would not help."""


def python_string(text: str) -> str:
    """A Python string literal for ``text`` (double quotes, like most notebook code)."""
    return json.dumps(text, ensure_ascii=False)


def _fstring(command: str, is_variable: Callable[[str], bool]) -> str:
    """The Python expression that builds ``command`` the way IPython expands it."""
    pieces = split_shell_command(command, is_variable)
    if not any(piece.is_expression for piece in pieces):
        return python_string(command if len(pieces) != 1 else pieces[0].text)
    if any(set(p.text) & set('"\\#') for p in pieces if p.is_expression):
        # an f-string's expression may hold none of these before Python 3.12
        return " + ".join(
            f"{_CONVERTERS[p.conversion or 's']}({p.text})" if p.is_expression
            else python_string(p.text)
            for p in pieces
        )
    body = "".join(
        _replacement_field(p)
        if p.is_expression
        else python_string(p.text)[1:-1].replace("{", "{{").replace("}", "}}")
        for p in pieces
    )
    return f'f"{body}"'


_CONVERTERS = {"s": "str", "r": "repr", "a": "ascii"}


def _replacement_field(piece: ShellPiece) -> str:
    """``{expr}`` (``{expr!r}``) in an f-string; in parentheses when a ``:`` outside brackets
    would start a format spec (``lambda x: x``) or the expression starts with a brace."""
    text = piece.text
    if ":" in text or text.startswith("{"):
        text = f"({text})"
    return "{" + text + (f"!{piece.conversion}" if piece.conversion else "") + "}"


def _pip_requirements(args: str) -> list[str]:
    """Requirement strings of a ``pip install`` argument line (options left out)."""
    try:
        words = shlex.split(args)
    except ValueError:
        words = args.split()
    if not words or words[0] != "install":
        return []
    requirements = []
    skip_next = False
    for word in words[1:]:
        if skip_next:
            skip_next = False
            continue
        if word.startswith("-"):
            skip_next = word in ("-r", "--requirement", "-c", "--constraint", "-i", "--index-url",
                                 "--extra-index-url", "-f", "--find-links", "-t", "--target")
            continue
        requirements.append(word)
    return requirements


def _pip_command(command: str) -> str | None:
    """``install x`` for ``pip install x`` / ``python -m pip install x``, else ``None``."""
    words = command.split(None, 3)
    if words[:1] in (["pip"], ["pip3"]):
        return command.split(None, 1)[1] if len(words) > 1 else ""
    if len(words) >= 3 and words[1:3] == ["-m", "pip"]:
        return command.split(None, 3)[3] if len(words) > 3 else ""
    return None


def translate_magic(
    magic: Magic,
    is_variable: Callable[[str], bool],
    as_expression: bool = False,
    runtime: Callable[[str], str] = str,
) -> MagicTranslation:
    """Translate ``magic``; ``as_expression`` when its value is used (``x = %time f()``).

    ``runtime`` gives the script's name for a function of nb2pipe-runtime (``shell`` ...),
    which differs when the notebook uses that name itself.

    Raises
    ------
    Untranslatable
        No faithful translation exists (the caller reports the cell and line).
    """
    kind, name = magic.kind, magic.name
    if kind is MagicKind.SYSTEM or kind is MagicKind.GETOUTPUT or (
        kind is MagicKind.LINE and name in ("sx", "system")
    ):
        return _translate_shell(magic, is_variable, as_expression, runtime)
    if kind is MagicKind.LINE:
        return _translate_line(magic, is_variable, as_expression, runtime)
    return _translate_cell(magic, is_variable, as_expression, runtime)


def _translate_shell(
    magic: Magic, is_variable: Callable[[str], bool], as_expression: bool,
    runtime: Callable[[str], str],
) -> MagicTranslation:
    command = magic.args
    pip_args = _pip_command(command.strip())
    if pip_args is not None and not as_expression:
        requirements = _pip_requirements(pip_args)
        return MagicTranslation(
            None, f"`!{command.strip()}` became script dependencies", requirements=requirements
        )
    expression = _fstring(command, is_variable)
    if magic.kind is MagicKind.GETOUTPUT or as_expression:
        return MagicTranslation(
            f"{runtime('shell_output')}({expression})",
            f"`!{command.strip()}` became shell_output(...)",
            runtime={"shell_output"},
        )
    return MagicTranslation(
        f"{runtime('shell')}({expression})",
        f"`!{command.strip()}` became shell(...)",
        runtime={"shell"},
    )


def _translate_line(
    magic: Magic, is_variable: Callable[[str], bool], as_expression: bool,
    runtime: Callable[[str], str],
) -> MagicTranslation:
    name, args = magic.name, magic.args
    if name.startswith("%"):
        # IPython reads `%%name` below a cell's first line as a line magic named `%name`,
        # and fails there too
        raise Untranslatable(f"%{name} is a cell magic: it must be the cell's first line")
    if name == "":
        # `% matplotlib inline`: IPython 7 and later read a magic with no name, and fail
        raise BrokenMagic(
            f"`% {args.strip()}` names no magic: IPython reads no space after `%`"
            + (f"; write %{args.strip()}" if args.strip() else "")
        )
    if name in PROFILING_MAGICS:
        options, code = split_magic_options(name, args)
        if as_expression and ("-o" in options or name != "time"):
            raise Untranslatable(f"the value of %{name} has no plain-Python equivalent")
        verb = "timed" if name in ("time", "timeit") else "profiled"
        return MagicTranslation(None, f"%{name} became the statement it {verb}", inner_code=code)
    if as_expression:
        if name == "pwd":
            return MagicTranslation("os.getcwd()", "%pwd became os.getcwd()", imports={"os"})
        if name == "env" and args.strip() and "=" not in args and " " not in args.strip():
            return MagicTranslation(
                f"os.environ[{python_string(args.strip())}]", "%env became os.environ", imports={"os"}
            )
        raise Untranslatable(f"the value of %{name} has no plain-Python equivalent")
    if name in DROPPED_LINE_MAGICS:
        return MagicTranslation(None, f"dropped %{name} (interactive only)")
    if name in VERSION_MAGICS:
        return MagicTranslation(
            None, f"dropped %{name} (it prints versions; the dependency block pins them)"
        )
    if name in ("pip", "conda"):
        requirements = _pip_requirements(args) if name == "pip" else []
        note = f"%{name} {args.strip()}: " + (
            "became script dependencies" if requirements else "dropped (not a pip dependency)"
        )
        return MagicTranslation(None, note, requirements=requirements)
    if name == "cd":
        options, target = split_magic_options("cd", args)
        if target.startswith("-") or "-b" in options:
            raise Untranslatable("%cd with history or bookmarks has no plain-Python equivalent")
        path = _fstring(target.strip() or "~", is_variable)
        code = f"os.chdir(os.path.expanduser({path}))"
        if "-q" not in options:
            code += "\nprint(os.getcwd())"  # IPython's %cd prints the new directory
        return MagicTranslation(code, "%cd became os.chdir(...)", imports={"os"})
    if name == "env":
        text = args.strip()
        if not text or ("=" not in text and " " not in text):
            return MagicTranslation(None, "dropped %env (display only)")
        key, _, value = text.partition("=") if "=" in text else text.partition(" ")
        key, value = key.strip(), value.strip()
        value_code = _fstring(value, is_variable)
        key_code = python_string(key)
        # IPython's %env says what it set
        code = f"os.environ[{key_code}] = {value_code}\nprint({python_string('env: ' + key + '=')} + os.environ[{key_code}])"
        return MagicTranslation(code, f"%env {key}=... became os.environ", imports={"os"})
    if name == "run":
        options, rest = split_magic_options("run", args)
        target = rest.strip()
        if options not in ([], ["-i"]) or " " in target or not target.endswith(".py"):
            raise Untranslatable("%run of anything but a .py file without arguments")
        init = ", init_globals=globals()" if options == ["-i"] else ""
        code = (
            f"globals().update(runpy.run_path({_fstring(target, is_variable)}{init}, "
            'run_name="__main__"))'
        )
        return MagicTranslation(code, f"%run {target} became runpy.run_path(...)", imports={"runpy"})
    if name in SHELL_ALIASES:
        command = _ALIAS_COMMANDS.get(name, name) + (" " + args if args.strip() else "")
        return MagicTranslation(
            f"{runtime('shell')}({_fstring(command, is_variable)})",
            f"%{name} became shell(...)",
            runtime={"shell"},
        )
    raise Untranslatable(f"unknown magic %{name}")


def _translate_cell(
    magic: Magic, is_variable: Callable[[str], bool], as_expression: bool,
    runtime: Callable[[str], str],
) -> MagicTranslation:
    name, args, body = magic.name, magic.args, magic.body or ""
    if as_expression:
        raise Untranslatable(f"the value of %%{name} has no plain-Python equivalent")
    if name in PROFILING_MAGICS:
        _options, setup = split_magic_options(name, args)
        code = (setup + "\n" + body) if name == "timeit" and setup.strip() else body
        verb = "timed" if name in ("time", "timeit") else "profiled"
        return MagicTranslation(None, f"%%{name} became the code it {verb}", inner_code=code)
    if name == "capture":
        options, variable = split_magic_options("capture", args)
        if variable.strip():
            raise Untranslatable("%%capture into a variable has no plain-Python equivalent")
        return MagicTranslation(
            None, "%%capture became contextlib.redirect_stdout", inner_code=body, capture=True,
            imports={"contextlib", "io"},
        )
    if name in _SCRIPT_SHELLS or (name == "script" and args.split()[:1] in _SCRIPT_ARGS):
        shell = name if name != "script" else args.split()[0]
        return MagicTranslation(
            f"{runtime('shell_script')}({python_string(shell)}, {python_string(body)})",
            f"%%{name} became shell_script(...)",
            runtime={"shell_script"},
        )
    if name in ("writefile", "file"):  # %%file is IPython's alias of %%writefile
        options, target = split_magic_options("writefile", args)
        append = "-a" in options or "--append" in options
        code = (
            f"{runtime('write_file')}({_fstring(target.strip(), is_variable)}, {python_string(body)}"
            + (", append=True)" if append else ")")
        )
        return MagicTranslation(
            code, f"%%{name} {target.strip()} became write_file(...)",
            runtime={"write_file"},
        )
    if name in DISPLAY_CELL_MAGICS:
        return MagicTranslation(None, f"dropped %%{name} cell (display only)")
    if name in FOREIGN_CELL_MAGICS:
        fix = _FOREIGN_FIXES.get(name, "move it into a file of its own and run that")
        raise Untranslatable(
            f"%%{name} runs the cell as {FOREIGN_CELL_MAGICS[name]} code, which a Python script "
            f"cannot hold; {fix}"
        )
    raise Untranslatable(f"unknown cell magic %%{name}")

