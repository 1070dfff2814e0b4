"""IPython's expansion of Python values into shell escapes: ``!ls {path}``, ``!echo $name``.

IPython formats the command with the user's namespace: ``{expr}`` is evaluated, ``$name`` is
replaced when ``name`` is a variable, ``$$`` is a literal ``$``; when any part fails to expand,
the whole command runs as written. This module reads that small template language (not Python
source) into pieces the exporter turns into an f-string and the analysis reads names from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from nb2pipe.analysis import syntax

__all__ = ["ShellPiece", "split_shell_command"]


@dataclass(frozen=True)
class ShellPiece:
    text: str  #: literal text, or the Python expression's source
    is_expression: bool


def split_shell_command(
    command: str, is_variable: Callable[[str], bool] = lambda name: False
) -> tuple[ShellPiece, ...]:
    """Split ``command`` into literal text and Python expressions, as IPython expands it.

    ``is_variable(name)`` tells whether ``$name`` names a notebook variable (otherwise the
    shell sees ``$name``). A command whose braces are not Python expressions stays literal.
    """
    pieces: list[ShellPiece] = []
    literal: list[str] = []
    i, n = 0, len(command)

    def flush() -> None:
        if literal:
            pieces.append(ShellPiece("".join(literal), False))
            literal.clear()

    while i < n:
        char = command[i]
        if char == "{" and command.startswith("{{", i):
            literal.append("{")
            i += 2
        elif char == "}" and command.startswith("}}", i):
            literal.append("}")
            i += 2
        elif char == "{":
            end = _matching_brace(command, i)
            expression = command[i + 1 : end].strip() if end is not None else ""
            if end is None or not _is_expression(expression):
                return (ShellPiece(command, False),)  # IPython runs it unexpanded
            flush()
            pieces.append(ShellPiece(expression, True))
            i = end + 1
        elif char == "$" and command.startswith("$$", i):
            literal.append("$")
            i += 2
        elif char == "$":
            j = i + 1
            while j < n and (command[j].isalnum() or command[j] == "_"):
                j += 1
            name = command[i + 1 : j]
            if name.isidentifier() and is_variable(name):
                flush()
                pieces.append(ShellPiece(name, True))
            else:
                literal.append(command[i:j] or "$")
            i = max(j, i + 1)
        else:
            literal.append(char)
            i += 1
    flush()
    return tuple(pieces)


def _matching_brace(text: str, start: int) -> int | None:
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    return None


def _is_expression(source: str) -> bool:
    if not source:
        return False
    try:
        syntax.parse(source, mode="eval")
    except SyntaxError:
        return False
    return True
