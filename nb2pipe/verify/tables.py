"""Compare HTML outputs that hold tables (pandas ``DataFrame`` reprs) by value, not by markup.

The markup of a pandas table changes with pandas versions and options (a ``<style>`` block,
``Styler`` ids that are random per render, attribute order) while the values do not. So a
table is read into rows of cell texts with the standard library's HTML parser (no lxml or
html5lib needed) and compared cell by cell with the same normalization and float tolerance as
text; the text outside the tables (pandas' "442 rows × 11 columns") is compared too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from html.parser import HTMLParser

from nb2pipe.verify.normalize import MaskedRegion
from nb2pipe.verify.text import TextComparison, compare_text, unified_diff

__all__ = ["HtmlTables", "compare_html_tables", "has_table", "read_html_tables"]

_IGNORED_ELEMENTS = frozenset({"style", "script"})


@dataclass
class HtmlTables:
    """The tables of an HTML document (rows of cell texts) and the text around them."""

    tables: list[list[list[str]]] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


class _TableReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.result = HtmlTables()
        self._stack: list[list[list[str]]] = []  # nested tables
        self._cell: list[str] | None = None
        self._ignored = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _IGNORED_ELEMENTS:
            self._ignored += 1
        elif tag == "table":
            self._stack.append([])
        elif tag == "tr" and self._stack:
            self._stack[-1].append([])
        elif tag in ("td", "th") and self._stack:
            if not self._stack[-1]:
                self._stack[-1].append([])
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in _IGNORED_ELEMENTS:
            self._ignored = max(0, self._ignored - 1)
        elif tag in ("td", "th") and self._cell is not None and self._stack:
            self._stack[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._stack:
            self.result.tables.append(self._stack.pop())

    def handle_data(self, data: str) -> None:
        if self._ignored:
            return
        if self._cell is not None:
            self._cell.append(data)
        elif not self._stack and data.strip():
            self.result.outside.append(" ".join(data.split()))


def has_table(html: str) -> bool:
    return "<table" in html.lower()


def read_html_tables(html: str) -> HtmlTables:
    """Read every table of ``html`` (unclosed tables at the end are kept)."""
    reader = _TableReader()
    reader.feed(html)
    reader.close()
    while reader._stack:  # tolerate truncated markup
        reader.result.tables.append(reader._stack.pop())
    return reader.result


def _render(tables: HtmlTables) -> str:
    lines = []
    for number, table in enumerate(tables.tables, 1):
        lines.append(f"table {number}:")
        lines += ["  | " + " | ".join(row) for row in table if row]
    lines += tables.outside
    return "\n".join(lines)


def compare_html_tables(saved: str, fresh: str, rtol: float) -> TextComparison:
    """Compare the tables of two HTML outputs cell by cell, then the text around them.

    A cell is a value: only the rules that may mask inside a table apply to it, knowing the
    cell before it in its row (statsmodels' summary puts its date after a ``Date:`` cell).
    """
    left, right = read_html_tables(saved), read_html_tables(fresh)
    applied: set[str] = set()
    tolerated = False
    masked_saved: list[MaskedRegion] = []
    masked_fresh: list[MaskedRegion] = []

    def collect(outcome: TextComparison, where: str) -> None:
        nonlocal tolerated
        applied.update(outcome.normalizers)
        tolerated |= outcome.within_tolerance
        masked_saved.extend(replace(region, where=where) for region in outcome.saved_masked)
        masked_fresh.extend(replace(region, where=where) for region in outcome.fresh_masked)

    equal = shaped = len(left.tables) == len(right.tables)
    #: the unequal parts, when each differs only in numbers: their largest relative difference
    drifts: list[float | None] = []
    for number, (table_a, table_b) in enumerate(zip(left.tables, right.tables), 1):
        rows_a = [row for row in table_a if row]
        rows_b = [row for row in table_b if row]
        if len(rows_a) != len(rows_b) or any(len(a) != len(b) for a, b in zip(rows_a, rows_b)):
            equal = shaped = False
            break
        for row, (row_a, row_b) in enumerate(zip(rows_a, rows_b), 1):
            for column, (cell_a, cell_b) in enumerate(zip(row_a, row_b), 1):
                labels = (row_a[column - 2], row_b[column - 2]) if column > 1 else ("", "")
                outcome = compare_text(cell_a, cell_b, rtol, cell_labels=labels)
                collect(outcome, f"table {number}, row {row}, column {column}")
                equal &= outcome.equal
                if not outcome.equal:
                    drifts.append(outcome.drift)
    outside = compare_text("\n".join(left.outside), "\n".join(right.outside), rtol)
    collect(outside, "text around the tables")
    equal &= outside.equal
    if not outside.equal:
        drifts.append(outside.drift)
    applied.add("HTML tables by value")
    saved_masked, fresh_masked = tuple(masked_saved), tuple(masked_fresh)
    if equal:
        return TextComparison(
            True, frozenset(applied), within_tolerance=tolerated, saved_masked=saved_masked,
            fresh_masked=fresh_masked,
        )
    numeric = [d for d in drifts if d is not None]
    drift = max(numeric) if shaped and numeric and len(numeric) == len(drifts) else None
    return TextComparison(
        False, frozenset(applied), diff=unified_diff(_render(left), _render(right)), drift=drift,
        saved_masked=saved_masked, fresh_masked=fresh_masked,
    )
