"""IPython's expansion of Python values into shell escapes: ``!ls {path}``, ``!echo $name``.

IPython formats the command with the user's namespace (``InteractiveShell.var_expand`` with its
``DollarFormatter``), and this module reads that small template language, not Python source,
into pieces the exporter turns into an f-string and the analysis reads names from:

- the braces of :meth:`str.format`: ``{expr}`` is evaluated (a format spec is put back as a
  slice, ``{x[1:3]}``), ``{expr!r}`` converted, ``{{``/``}}`` are braces;
- in the text between them, ``$name`` (letters, digits, ``_`` and ``.``: ``$df.shape``) is
  evaluated too, unless it stands inside single quotes; ``$$name`` is a literal ``$name``;
- **all or nothing**: when any part fails (a name that is not a variable, ``$HOME``; text that
  is not Python, ``{print $1}``), the whole command runs as written and the shell sees every
  ``$`` and brace.
"""

from __future__ import annotations

import ast
import string
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Callable

from nb2pipe.analysis import syntax

__all__ = ["ShellPiece", "split_shell_command"]

_CONVERSIONS = frozenset({"r", "s", "a"})


@dataclass(frozen=True)
class ShellPiece:
    text: str  #: literal text, or the Python expression's source
    is_expression: bool
    #: ``r``, ``s`` or ``a``: the expression's ``!r``-style conversion, if any
    conversion: str | None = None


def split_shell_command(
    command: str, is_variable: Callable[[str], bool] = lambda name: False
) -> tuple[ShellPiece, ...]:
    """Split ``command`` into literal text and Python expressions, as IPython expands it.

    ``is_variable(name)`` tells whether ``name`` will be a variable of the notebook when the
    command runs; builtins always are. An expression reading any other name fails in IPython,
    so the command is then one literal piece, as it is when any part is not Python.
    """
    pieces: list[ShellPiece] = []
    try:
        fields = list(string.Formatter().parse(command))
    except ValueError:  # a lone brace: str.format refuses the command
        return (ShellPiece(command, False),)
    for literal, field, spec, conversion in fields:
        for text, dollar_field in _dollar_fields(literal):
            _add_literal(pieces, text)
            if dollar_field is not None:
                piece = _expression(dollar_field, None, is_variable)
                if piece is None:
                    return (ShellPiece(command, False),)
                pieces.append(piece)
        if field is None:
            continue
        piece = _expression(f"{field}:{spec}" if spec else field, conversion, is_variable)
        if piece is None:
            return (ShellPiece(command, False),)
        pieces.append(piece)
    return tuple(pieces)


def _add_literal(pieces: list[ShellPiece], text: str) -> None:
    if not text:
        return
    if pieces and not pieces[-1].is_expression:
        pieces[-1] = ShellPiece(pieces[-1].text + text, False)
    else:
        pieces.append(ShellPiece(text, False))


def _dollar_fields(literal: str) -> Iterator[tuple[str, str | None]]:
    """``(text, field)`` pairs of a literal run of ``command``, as ``DollarFormatter.parse``
    finds them: ``$name`` outside single quotes is a field, ``$$name`` the text ``$name``; the
    last pair's field is ``None``."""
    text: list[str] = []
    start = index = 0
    length = len(literal)
    while True:
        index = literal.find("$", index)
        if index < 0:
            break
        first = index + 1
        escaped = first < length and literal[first] == "$"
        end = first + 1 if escaped else first
        while end < length and (literal[end].isalnum() or literal[end] in "_."):
            end += 1
        word = literal[first + 1 if escaped else first : end]
        if not word or literal.count("'", end) % 2:  # no name, or inside single quotes
            index += 1
            continue
        text.append(literal[start:index])
        if escaped:
            text.append("$" + word)
        else:
            yield "".join(text), word
            text = []
        start = index = end
    text.append(literal[start:])
    yield "".join(text), None


def _expression(
    source: str, conversion: str | None, is_variable: Callable[[str], bool]
) -> ShellPiece | None:
    """The piece IPython evaluates ``source`` to, or ``None`` when that must fail."""
    if conversion is not None and conversion not in _CONVERSIONS:
        return None
    source = source.lstrip(" \t")  # as eval() strips it
    try:
        tree = syntax.parse(source, mode="eval")
    except SyntaxError:
        return None
    from nb2pipe.analysis.symbols import BUILTIN_NAMES, body_free_names

    free = body_free_names([ast.Expr(tree.body)]) - BUILTIN_NAMES
    if not all(is_variable(name) for name in free):
        return None
    return ShellPiece(source.strip(), True, conversion)
