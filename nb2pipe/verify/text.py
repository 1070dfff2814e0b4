"""Compare two texts after normalization, with a relative tolerance on the numbers in them."""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Iterable

from nb2pipe.verify.normalize import MaskedRegion, Normalizer, normalize_text

__all__ = ["TextComparison", "compare_text", "number_drift", "numbers_close", "unified_diff"]

#: A number as printed by Python, numpy or pandas (``nan``/``inf`` included). Not a part of
#: an id or a date, which compare exactly: a dash between word characters joins them
#: (``a456-426614174000``, ``123e4567-e89b``, ``2019-05-31``), it is no minus sign.
_NUMBER = re.compile(
    r"(?<![\w.])(?<![\w.]-)[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.]|-\w)"
    r"|(?<!\w)[-+]?(?:nan|inf)(?!\w)",
    re.IGNORECASE,
)
#: At most this many diff lines go into a report.
MAX_DIFF_LINES = 40


@dataclass(frozen=True)
class TextComparison:
    """The outcome of comparing a saved and a fresh text."""

    equal: bool
    #: normalizers that changed either side
    normalizers: frozenset[str]
    #: equal only thanks to the float tolerance
    within_tolerance: bool = False
    #: a compact unified diff of the normalized texts (empty when equal)
    diff: str = ""
    #: unequal texts that differ only in (finite) numbers: the largest relative difference
    drift: float | None = None
    #: the spans of each text a rule masked before comparing (none when the texts are equal)
    saved_masked: tuple[MaskedRegion, ...] = ()
    fresh_masked: tuple[MaskedRegion, ...] = ()


def numbers_close(saved: str, fresh: str, rtol: float) -> bool:
    """Whether two number tokens are equal within ``rtol`` (``nan`` equals ``nan``)."""
    if saved == fresh:
        return True
    try:
        a, b = float(saved), float(fresh)
    except ValueError:
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        # digits that overflow a float ("1e999") are not infinity: they differ as written
        return a == b and not any(char.isdigit() for char in saved + fresh)
    return abs(a - b) <= rtol * max(abs(a), abs(b))


def _number_pairs(saved: str, fresh: str) -> list[tuple[str, str]] | None:
    """The number tokens of two texts, pairwise, when the texts are the same but for them."""
    saved_numbers = _NUMBER.findall(saved)
    fresh_numbers = _NUMBER.findall(fresh)
    if len(saved_numbers) != len(fresh_numbers) or not saved_numbers:
        return None
    if _NUMBER.sub("<N>", saved) != _NUMBER.sub("<N>", fresh):
        return None
    return list(zip(saved_numbers, fresh_numbers))


def _within_tolerance(saved: str, fresh: str, rtol: float) -> bool:
    pairs = _number_pairs(saved, fresh)
    return pairs is not None and all(numbers_close(a, b, rtol) for a, b in pairs)


def number_drift(saved: str, fresh: str) -> float | None:
    """The largest relative difference of the numbers of two texts that are the same but for
    finite numbers (``None`` when anything else differs)."""
    pairs = _number_pairs(saved, fresh)
    if pairs is None:
        return None
    drift = 0.0
    for a, b in pairs:
        if a == b:
            continue
        x, y = float(a), float(b)
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        drift = max(drift, abs(x - y) / max(abs(x), abs(y)))
    return drift or None


def compare_text(
    saved: str,
    fresh: str,
    rtol: float,
    extra: Iterable[Normalizer] = (),
    *,
    cell_labels: tuple[str, str] | None = None,
) -> TextComparison:
    """Normalize both texts, then compare them exactly or, failing that, number by number.

    ``cell_labels``: the texts are cells of HTML tables, after cells with these texts in
    their rows (see :func:`normalize_text`).
    """
    if saved == fresh:
        return TextComparison(True, frozenset())
    extra = tuple(extra)
    saved_label, fresh_label = cell_labels if cell_labels is not None else (None, None)
    left = normalize_text(saved, extra, cell_label=saved_label)
    right = normalize_text(fresh, extra, cell_label=fresh_label)
    applied = left.applied | right.applied
    masked = left.masked, right.masked
    if left.text == right.text:
        return TextComparison(True, applied, saved_masked=masked[0], fresh_masked=masked[1])
    if rtol > 0 and _within_tolerance(left.text, right.text, rtol):
        return TextComparison(
            True, applied, within_tolerance=True, saved_masked=masked[0], fresh_masked=masked[1]
        )
    return TextComparison(
        False, applied, diff=unified_diff(left.text, right.text),
        drift=number_drift(left.text, right.text), saved_masked=masked[0], fresh_masked=masked[1],
    )


def unified_diff(saved: str, fresh: str, labels: tuple[str, str] = ("saved", "fresh")) -> str:
    """A unified diff of two texts, cut to :data:`MAX_DIFF_LINES` lines."""
    lines = list(
        difflib.unified_diff(
            saved.splitlines(), fresh.splitlines(), labels[0], labels[1], n=1, lineterm=""
        )
    )
    if not lines and saved != fresh:  # differ only in a trailing newline or whitespace
        lines = [f"--- {labels[0]}", f"+++ {labels[1]}", f"-{saved!r}", f"+{fresh!r}"]
    if len(lines) > MAX_DIFF_LINES:
        hidden = len(lines) - MAX_DIFF_LINES
        lines = lines[:MAX_DIFF_LINES] + [f"... ({hidden} more diff lines)"]
    return "\n".join(lines)


def diff_line_kind(line: str) -> str:
    """What one line of :func:`unified_diff` is: ``header``, ``add``, ``del``, ``hunk`` or ``""``
    (context); the terminal and HTML reports colour it by this."""
    if line.startswith(("+++", "---")):
        return "header"
    if line.startswith("+"):
        return "add"
    if line.startswith("-"):
        return "del"
    if line.startswith("@@"):
        return "hunk"
    return ""
