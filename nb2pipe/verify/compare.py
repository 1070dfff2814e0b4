"""Compare a cell's saved outputs with its fresh outputs, MIME type by MIME type.

Streams are coalesced first: a run may split stdout into several stream outputs at different
places, and the interleaving of stdout and stderr depends on timing, so the streams between
two rich outputs count as one stdout text and one stderr text. Rich outputs are compared per
MIME type: images by pixels, HTML tables by value, everything else as normalized text with a
float tolerance. Errors compare by name and message (tracebacks hold line numbers and paths).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from nb2pipe.analysis.hazards import is_tracker_line
from nb2pipe.model import Output
from nb2pipe.verify.images import DEFAULT_IMAGE_TOLERANCE, compare_images
from nb2pipe.verify.normalize import UUID_PATTERN, Normalizer, pattern_rule
from nb2pipe.verify.report import MaskedText
from nb2pipe.verify.tables import compare_html_tables, has_table
from nb2pipe.verify.text import TextComparison, compare_text, unified_diff

__all__ = [
    "CellComparison",
    "CompareOptions",
    "OutputDifference",
    "compare_outputs",
]

IMAGE_MIME_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})
#: Widget views point at comm models whose ids are new in every kernel; they carry no value.
VOLATILE_MIME_TYPES = frozenset(
    {"application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json"}
)
_MARKUP_MIME_TYPES = frozenset({"text/html", "image/svg+xml", "application/javascript"})

# Markup ids that libraries draw at random per render (matplotlib SVG clip paths, altair and
# plotly divs, pandas Styler tables); only applied to markup, never to plain text.
_MARKUP_ID = re.compile(
    r"(?<=id=\")[^\"]+|(?<=href=\"#)[^\"]+|(?<=url\(#)[^)]+|(?<=#)T_[0-9a-f]{5}\w*"
)
_HEX_ID = re.compile(r"\b[0-9a-f]{16,}\b")


#: Ids in markup are drawn per render; inside a table's markup too (a table's cells are
#: compared by value, without markup, anyway).
_MARKUP_NORMALIZERS: tuple[Normalizer, ...] = (
    pattern_rule("markup ids", _MARKUP_ID, "<ID>", in_tables=True),
    pattern_rule("markup ids", _HEX_ID, "<ID>", in_tables=True),
    # plotly and bokeh name their divs with UUIDs
    pattern_rule("markup ids", UUID_PATTERN, "<ID>", in_tables=True),
)


@dataclass(frozen=True)
class CompareOptions:
    """How strictly outputs must match."""

    #: relative tolerance on numbers in text
    rtol: float = 1e-6
    #: largest mean absolute pixel difference, as a fraction of the value range
    image_tolerance: float = DEFAULT_IMAGE_TOLERANCE


@dataclass(frozen=True)
class OutputDifference:
    """One way a cell's fresh outputs differ from its saved ones."""

    #: what differs: "stdout", "stderr", a MIME type, "error" or "outputs" (their number/kinds)
    what: str
    message: str
    diff: str = ""
    #: the outputs differ only in numbers: the largest relative difference
    drift: float | None = None


@dataclass(frozen=True)
class CellComparison:
    """All differences between a cell's saved and fresh outputs."""

    differences: tuple[OutputDifference, ...] = ()
    #: normalizers that changed some output of the cell (and "float tolerance" if it was used)
    normalizers: frozenset[str] = frozenset()
    #: every span of the cell's outputs a rule masked before comparing
    masked: tuple[MaskedText, ...] = ()

    @property
    def equal(self) -> bool:
        return not self.differences

    @property
    def drift(self) -> float | None:
        """The outputs differ only in numbers: the largest relative difference of them."""
        drifts = [d.drift for d in self.differences]
        if not drifts or any(d is None for d in drifts):
            return None
        return max(d for d in drifts if d is not None)


@dataclass(frozen=True)
class _Item:
    """A comparable unit: a run of streams, a rich output, or an error."""

    kind: str  #: "streams", "display" or "error"
    streams: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, str] = field(default_factory=dict)
    ename: str = ""
    evalue: str = ""

    def describe(self) -> str:
        if self.kind == "streams":
            return "+".join(name for name, text in sorted(self.streams.items()) if text)
        if self.kind == "error":
            return f"error {self.ename}"
        return "display (" + ", ".join(sorted(self.data)) + ")"


def _items(outputs: Sequence[Output]) -> list[_Item]:
    items: list[_Item] = []
    pending: dict[str, str] = {}

    def flush() -> None:
        if any(pending.values()):
            items.append(_Item("streams", streams=dict(pending)))
        pending.clear()

    for output in outputs:
        if output.output_type == "stream":
            name = output.name or "stdout"
            pending[name] = pending.get(name, "") + _without_tracker_lines(output.text or "")
            continue
        if output.output_type == "error":
            flush()
            items.append(_Item("error", ename=output.ename or "", evalue=output.evalue or ""))
        elif output.output_type in ("execute_result", "display_data"):
            data = {m: v for m, v in output.data.items() if m not in VOLATILE_MIME_TYPES}
            if not data:
                continue  # a widget view alone: nothing stable to compare
            flush()
            items.append(_Item("display", data=data))
    flush()
    return items


def _without_tracker_lines(text: str) -> str:
    """A stream's text without ``%track``'s own lines (saved while it ran; a fresh run
    prints none)."""
    if "nb2pipe " not in text and "%track " not in text:
        return text
    return "".join(
        line for line in text.splitlines(keepends=True) if not is_tracker_line(line)
    )


def compare_outputs(
    saved: Sequence[Output], fresh: Sequence[Output], options: CompareOptions = CompareOptions()
) -> CellComparison:
    """Compare one cell's outputs.

    ``update_display_data`` messages are already folded into the outputs by nbclient, and
    ``clear_output`` has removed what it cleared, so the lists compare as they are.
    """
    left, right = _items(saved), _items(fresh)
    if [item.kind for item in left] != [item.kind for item in right]:
        summary_a = "\n".join(item.describe() for item in left)
        summary_b = "\n".join(item.describe() for item in right)
        message = (
            f"{len(left)} saved output(s) [{', '.join(i.describe() for i in left) or 'none'}], "
            f"{len(right)} fresh [{', '.join(i.describe() for i in right) or 'none'}]"
        )
        differences = [OutputDifference("outputs", message, unified_diff(summary_a, summary_b))]
        # still show how the texts differ where the two runs agree on the output kinds
        comparison = _compare_aligned(left, right, options)
        return CellComparison(
            tuple(differences) + comparison.differences, comparison.normalizers, comparison.masked
        )
    return _compare_aligned(left, right, options)


def _compare_aligned(
    left: list[_Item], right: list[_Item], options: CompareOptions
) -> CellComparison:
    differences: list[OutputDifference] = []
    applied: set[str] = set()
    masked: list[MaskedText] = []
    for saved, fresh in zip(left, right):
        if saved.kind != fresh.kind:
            continue
        for what, outcome, detail in _compare_item(saved, fresh, options):
            applied |= outcome.normalizers
            if outcome.within_tolerance:
                applied.add("float tolerance")
            if not outcome.equal:
                differences.append(OutputDifference(what, detail, outcome.diff, outcome.drift))
            for side, regions in (("saved", outcome.saved_masked), ("fresh", outcome.fresh_masked)):
                masked += [
                    MaskedText(
                        r.rule, side, f"{what} {r.where}" if r.where else what, r.start, r.end,
                        r.text,
                    )
                    for r in regions
                ]
    return CellComparison(tuple(differences), frozenset(applied), tuple(masked))


def _compare_item(
    saved: _Item, fresh: _Item, options: CompareOptions
) -> list[tuple[str, TextComparison, str]]:
    results: list[tuple[str, TextComparison, str]] = []
    if saved.kind == "streams":
        for name in sorted(set(saved.streams) | set(fresh.streams)):
            outcome = compare_text(
                saved.streams.get(name, ""), fresh.streams.get(name, ""), options.rtol
            )
            results.append((name, outcome, f"{name} differs"))
    elif saved.kind == "error":
        outcome = compare_text(
            f"{saved.ename}: {saved.evalue}", f"{fresh.ename}: {fresh.evalue}", options.rtol
        )
        results.append(("error", outcome, "the error differs"))
    else:
        for mime, value in saved.data.items():
            if mime not in fresh.data:
                outcome = TextComparison(False, frozenset(), diff=f"- {mime}\n+ (missing)")
                results.append((mime, outcome, f"the fresh output has no {mime}"))
                continue
            results.append((mime, *_compare_mime(mime, value, fresh.data[mime], options)))
    return results


def _compare_mime(
    mime: str, saved: str, fresh: str, options: CompareOptions
) -> tuple[TextComparison, str]:
    if mime in IMAGE_MIME_TYPES:
        image = compare_images(saved, fresh, options.image_tolerance)
        applied = (
            frozenset() if image.message == "identical bytes" else frozenset({"images by pixels"})
        )
        return TextComparison(
            image.equal, applied, diff=image.message if not image.equal else ""
        ), (f"{mime} differs: {image.message}")
    if mime == "text/html" and (has_table(saved) or has_table(fresh)):
        return compare_html_tables(saved, fresh, options.rtol), "an HTML table differs"
    extra = _MARKUP_NORMALIZERS if mime in _MARKUP_MIME_TYPES else ()
    return compare_text(saved, fresh, options.rtol, extra), f"{mime} differs"
