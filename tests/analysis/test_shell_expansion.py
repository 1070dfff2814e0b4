"""``!cmd {expr} $name``: the pieces of a shell command agree with IPython's own expansion.

The oracle is IPython's ``DollarFormatter``, called as ``InteractiveShell.var_expand`` calls it
(any exception: the command runs as written). Ours must agree on every command built from the
template language's tricky parts: all-or-nothing expansion, ``$name`` inside single quotes,
``$$``, dotted names, conversions, format specs, lone braces.
"""

from __future__ import annotations

import ast
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.utils.text import DollarFormatter

from nb2pipe.analysis import gather_cell_symbols, mask_ipython
from nb2pipe.analysis.shell import ShellPiece, split_shell_command

NAMESPACE: dict[str, Any] = {"x": 3, "label": "why", "s": "hello", "files": ["a b", "c"]}
TOKENS = [
    "echo ", " ", "a", ".", "'", "$x", "$label", "$$label", "$HOME", "$nope", "$x.real",
    "$s.upper", "$", "$$", "$1", "{x}", "{x + 1}", "{nope}", "{x!r}", "{s[1:3]}", "{x:>3}",
    "{len(files)}", "{[c for c in s]}", "{{", "}}", "{", "}", "{}", "{label!z}", "{files[0]!a}",
]


def ipython_expands(command: str) -> str:
    """What ``InteractiveShell.var_expand`` makes of ``command`` in :data:`NAMESPACE`."""
    try:
        return DollarFormatter().vformat(command, args=[], kwargs=dict(NAMESPACE))
    except Exception:
        return command


def our_expansion(pieces: tuple[ShellPiece, ...]) -> str:
    converters = {None: str, "s": str, "r": repr, "a": ascii}
    return "".join(
        format(converters[p.conversion](eval(p.text, dict(NAMESPACE))), "")  # noqa: S307
        if p.is_expression else p.text
        for p in pieces
    )


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=7).map("".join))
def test_the_pieces_expand_as_ipython_expands(command: str) -> None:
    pieces = split_shell_command(command, NAMESPACE.__contains__)
    try:
        ours = our_expansion(pieces)
    except (AttributeError, TypeError, IndexError, KeyError):
        # a value without that attribute (``$x.realecho``): no reading of the text tells it,
        # and the script stops where IPython ran the command as written
        assert ipython_expands(command) == command
        return
    assert ours == ipython_expands(command)


def test_one_name_that_is_no_variable_leaves_the_whole_command_as_written() -> None:
    assert split_shell_command("echo $label $HOME {x + 1}", NAMESPACE.__contains__) == (
        ShellPiece("echo $label $HOME {x + 1}", False),
    )
    assert ipython_expands("echo $label $HOME {x + 1}") == "echo $label $HOME {x + 1}"


def reads(source: str) -> set[str]:
    return set(gather_cell_symbols(ast.parse(mask_ipython(source))).reads)


def test_every_name_a_part_may_expand_is_a_read() -> None:
    """The analysis counts ``$name`` as it counts ``{expr}``: a step whose shell escape names
    an earlier step's value gets it as an input. A name no cell binds (``$HOME``) is read too,
    and the dataflow finds no definition for it."""
    assert {"label", "x", "HOME"} <= reads("!echo $label {x + 1} $HOME")
    assert {"folder"} <= reads("files = !ls $folder")
    assert {"folder"} <= reads("%cd $folder")
    assert {"path"} <= reads("%%writefile {path}/note.txt\ntext\n")
    assert "label" not in reads("!echo '$label'")  # single quotes: the shell's, not Python's
    assert "label" not in reads("!echo $$label")
    assert {"df"} <= reads("!echo $df.shape")
