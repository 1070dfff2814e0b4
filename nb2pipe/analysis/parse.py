"""Parse a code cell once: IPython syntax masked, a syntax tree, and the cell's symbols."""

from __future__ import annotations

import ast
import keyword
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from nb2pipe.analysis import syntax
from nb2pipe.analysis.magics import (
    EXTENSION_MAGICS,
    KERNEL_LINE_MAGICS,
    Automagic,
    MagicKind,
    automagic_of,
    mask_ipython,
)
from nb2pipe.analysis.statements import StatementGroup, statement_groups
from nb2pipe.analysis.symbols import BUILTIN_NAMES, NOTEBOOK_NAMES, CellSymbols, gather_cell_symbols
from nb2pipe.analysis.syntax_errors import explain_syntax_error
from nb2pipe.errors import CellParseError, NestedTooDeeplyError
from nb2pipe.model import Cell

__all__ = ["KernelNamespace", "ParsedCell", "parse_cell", "symbols_only"]


@dataclass(frozen=True)
class ParsedCell:
    """A code cell as Python: the masked source, its tree and its symbols."""

    cell: Cell
    #: the cell's source with IPython syntax turned into ``get_ipython()`` calls
    python_source: str
    tree: ast.Module
    symbols: CellSymbols
    #: the magic a one-line cell runs without ``%`` (IPython's automagic: ``ls data/``)
    automagic: str | None = None
    #: the cell is not Python, and its saved outputs (or its ``raises-exception`` tag) say it
    #: raises: it is kept as an empty tree, with the reason (no consumer runs its code)
    syntax_error: str | None = None

    @cached_property
    def groups(self) -> tuple[StatementGroup, ...]:
        """The cell's top-level statements grouped by the source lines they share."""
        return statement_groups(self.tree)


def symbols_only(cell: Cell, symbols: CellSymbols) -> ParsedCell:
    """``cell`` with symbols known from elsewhere (``%track``'s record of what ran) and no
    tree: for the analyses that read symbols only (static hazards, the dataflow)."""
    return ParsedCell(cell, cell.source, ast.Module(body=[], type_ignores=[]), symbols)


@dataclass
class KernelNamespace:
    """What a fresh kernel running the notebook top to bottom has when it reaches a cell:
    the names bound so far (a variable shadows a magic of its name: ``ls = [1]`` then
    ``ls[0]`` is Python) and the line magics extensions added (``%load_ext autoreload``)."""

    names: set[str] = field(default_factory=set)
    magics: set[str] = field(default_factory=set)

    def runs_as_magic(self, name: str) -> bool:
        """Whether IPython's automagic runs ``name ...`` as the magic ``%name`` here."""
        if name not in KERNEL_LINE_MAGICS and name not in self.magics:
            return False
        return not (
            name in self.names
            or name in BUILTIN_NAMES
            or name in NOTEBOOK_NAMES
            or keyword.iskeyword(name)
        )

    def record(self, parsed: ParsedCell) -> None:
        """Take in what ``parsed`` binds and which extensions it loads."""
        self.names |= parsed.symbols.defines
        for magic in parsed.symbols.magics:
            if magic.kind is MagicKind.LINE and magic.name == "load_ext":
                for extension in magic.args.split():
                    self.magics |= EXTENSION_MAGICS.get(extension, frozenset())


@dataclass(frozen=True)
class _Parse:
    """A source's parse, cached by source text."""

    python_source: str
    tree: ast.Module | None
    symbols: CellSymbols | None
    error: SyntaxError | None
    automagic: Automagic | None


#: Parses by source text: re-analysing a notebook after one edit re-parses one cell.
_CACHE: dict[str, _Parse] = {}
_CACHE_LIMIT = 20_000


def _parse(source: str) -> _Parse:
    cached = _CACHE.get(source)
    if cached is not None:
        return cached
    python_source = source
    tree: ast.Module | None = None
    error: SyntaxError | None = None
    try:  # most cells are plain Python: parse them once
        tree = syntax.parse(source, max_depth=syntax.MAX_DEPTH)
    except syntax.NestedTooDeeply as exc:
        error = exc
    except SyntaxError:
        python_source = mask_ipython(source)
        try:
            tree = syntax.parse(python_source, max_depth=syntax.MAX_DEPTH)
        except SyntaxError as exc:
            error = exc
    symbols = gather_cell_symbols(tree) if tree is not None else None
    automagic = None
    # automagic needs a one-line cell; a valid one only matters if it reads a magic's name
    # (``ls``, ``pwd``, ``ls[0]``): most cells are neither
    if "\n" not in source.strip() and (
        symbols is None
        or any(name in KERNEL_LINE_MAGICS or _extension_magic(name) for name in symbols.reads)
    ):
        automagic = automagic_of(source)
    result = _Parse(python_source, tree, symbols, error, automagic)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[source] = result
    return result


def analysed_symbols(source: str) -> CellSymbols | None:
    """The symbols of ``source`` when it was already parsed here as plain Python (no IPython
    syntax): the tree IPython makes of it is the same, so ``%track`` need not walk it again.
    ``None`` when it was not parsed yet, or holds IPython syntax."""
    cached = _CACHE.get(source)
    if cached is None or cached.symbols is None or cached.python_source != source:
        return None
    return cached.symbols


def _extension_magic(name: str) -> bool:
    return any(name in names for names in EXTENSION_MAGICS.values())


def parse_cell(
    cell: Cell,
    path: Path | None = None,
    namespace: KernelNamespace | None = None,
    *,
    may_fail: bool = False,
) -> ParsedCell:
    """Parse and analyse ``cell``; the result is cached by source text.

    ``namespace`` is what a fresh kernel has bound when it reaches the cell: with it, a
    one-line cell is read as IPython's automagic reads it (``cd data`` is ``%cd data``, and
    so is ``pwd`` unless a variable ``pwd`` exists). Without it, only lines that are not
    Python are. ``may_fail``: a cell that is not Python becomes an empty tree with its
    :attr:`ParsedCell.syntax_error` (for cells expected to raise) instead of an error.

    Raises
    ------
    CellParseError
        The cell is not Python even after IPython syntax is masked.
    """
    parsed = _parse(cell.source)
    automagic = parsed.automagic
    if automagic is not None:
        name = automagic.name
        as_magic = (
            namespace.runs_as_magic(name)
            if namespace is not None
            else parsed.tree is None and name in KERNEL_LINE_MAGICS
        )
        if as_magic:
            magic = _parse(automagic.python_source)
            assert magic.tree is not None and magic.symbols is not None
            return ParsedCell(cell, magic.python_source, magic.tree, magic.symbols, automagic=name)
    if parsed.tree is None:
        assert parsed.error is not None
        reason = explain_syntax_error(
            parsed.python_source, parsed.error, namespace, cell_lines=cell.source.count("\n") + 1
        )
        if may_fail:
            empty = ast.Module(body=[], type_ignores=[])
            return ParsedCell(cell, "", empty, CellSymbols(), syntax_error=reason)
        too_deep = isinstance(parsed.error, syntax.NestedTooDeeply)
        error = NestedTooDeeplyError if too_deep else CellParseError
        raise error(cell.location(path, parsed.error.lineno), reason) from None
    assert parsed.symbols is not None
    return ParsedCell(cell, parsed.python_source, parsed.tree, parsed.symbols)
