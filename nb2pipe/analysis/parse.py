"""Parse a code cell once: IPython syntax masked, a syntax tree, and the cell's symbols."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from nb2pipe.analysis import syntax
from nb2pipe.analysis.magics import mask_ipython
from nb2pipe.analysis.symbols import CellSymbols, gather_cell_symbols
from nb2pipe.errors import CellParseError
from nb2pipe.model import Cell

__all__ = ["ParsedCell", "parse_cell"]


@dataclass(frozen=True)
class ParsedCell:
    """A code cell as Python: the masked source, its tree and its symbols."""

    cell: Cell
    #: the cell's source with IPython syntax turned into ``get_ipython()`` calls
    python_source: str
    tree: ast.Module
    symbols: CellSymbols


#: Parsed cells by source text: re-analysing a notebook after one edit re-parses one cell.
_CACHE: dict[str, tuple[str, ast.Module, CellSymbols]] = {}
_CACHE_LIMIT = 20_000


def parse_cell(cell: Cell, path: Path | None = None) -> ParsedCell:
    """Parse and analyse ``cell``; the result is cached by source text.

    Raises
    ------
    CellParseError
        The cell is not Python even after IPython syntax is masked.
    """
    cached = _CACHE.get(cell.source)
    if cached is None:
        try:  # most cells are plain Python: parse them once
            python_source, tree = cell.source, syntax.parse(cell.source)
        except SyntaxError:
            python_source = mask_ipython(cell.source)
            try:
                tree = syntax.parse(python_source)
            except SyntaxError as exc:
                # IPython's masking keeps line magics on their lines, so the line is the user's
                raise CellParseError(
                    cell.location(path, exc.lineno), f"not valid Python: {exc.msg}"
                ) from None
        cached = (python_source, tree, gather_cell_symbols(tree))
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[cell.source] = cached
    python_source, tree, symbols = cached
    return ParsedCell(cell, python_source, tree, symbols)
