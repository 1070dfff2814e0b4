"""Mask the volatile parts of outputs (timings, progress bars, log stamps, addresses, temp paths)
before comparing them, and say which spans were masked and by which rule.

A mask can hide a real change, so every rule takes only text whose *shape* shows it varies by
run, never a number because a unit-like word follows it:

- durations: the lines IPython's ``%time``/``%timeit`` print, and a number with a time unit on
  the same line after a word that makes it the run's timing (``took 3.2 s``, ``elapsed: 0.1s``,
  ``done in 4 min``, ``Training time: 2.5 s``);
- progress output: text a carriage return overwrote, tqdm and Keras progress lines (of a bar that
  finished, only the times, rates and bar glyphs: its counts and metrics are compared);
- timestamps: a log record's stamp at the start of a line, ``str(datetime.now())`` (with its
  microseconds), ``ctime()``, and the date and time statsmodels' ``summary()`` prints;
- memory addresses in reprs (``at 0x7f...``), temp dirs and the generated names in them,
  UUIDs.

Numbers in tables are data: durations, timestamps and UUIDs are never masked inside one (a
``describe()`` or ``DataFrame`` text repr, aligned text columns, an HTML table's cells).

Each rule reports the regions it replaced (:class:`MaskedRegion`: the span of the original text
and the rule's name), so reports can show them. Both sides of a comparison go through the same
rules, so two outputs that differ only in, say, a memory address compare equal while any
other difference survives.
"""

from __future__ import annotations

import bisect
import re
import tempfile
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Callable, Iterable, Iterator

__all__ = [
    "NORMALIZER_NAMES",
    "TIMING_LINE",
    "UUID_PATTERN",
    "Layout",
    "MaskedRegion",
    "NormalizedText",
    "Normalizer",
    "Rule",
    "normalize_text",
    "pattern_rule",
    "strip_timing_lines",
    "terminal_text",
]


@dataclass(frozen=True)
class MaskedRegion:
    """A span of the original text that a named rule replaced before comparing."""

    rule: str
    start: int
    end: int
    #: the original text of the span
    text: str
    #: where in the output, when the output has parts (``table 1, row 2, column 3``)
    where: str = ""


@dataclass(frozen=True)
class NormalizedText:
    """Text after normalization, and the regions of the original that were masked."""

    text: str
    masked: tuple[MaskedRegion, ...] = ()

    @property
    def applied(self) -> frozenset[str]:
        """The names of the rules that masked something."""
        return frozenset(region.rule for region in self.masked)


#: A span of the text a rule matched: start, end, placeholder.
Span = tuple[int, int, str]


class Layout:
    """What a rule may need to know about the text around a span: where its tables are.

    ``label`` is set when the text is one cell of an HTML table: then all of it is in a table,
    and ``label`` is the text of the cell before it in its row (``Date:``).
    """

    def __init__(self, text: str, label: str | None = None) -> None:
        self.text = text
        self.label = label

    @cached_property
    def tables(self) -> tuple[tuple[int, int], ...]:
        """Character ranges of the text's tables (computed on first use)."""
        if self.label is not None:
            return ((0, len(self.text)),)
        return _text_tables(self.text)

    def in_table(self, start: int, end: int) -> bool:
        tables = self.tables
        if not tables:
            return False
        index = bisect.bisect_right(tables, (end, end)) - 1
        while index >= 0:
            low, high = tables[index]
            if high <= start:
                return False
            if low < end:
                return True
            index -= 1
        return False


@dataclass(frozen=True)
class Rule:
    """A named way to find volatile spans of text."""

    name: str
    find: Callable[[str, Layout], Iterable[Span]] = field(repr=False)
    #: its shape proves volatility even inside a table (an address, a temp dir)
    in_tables: bool = False


#: A rule, under the name the comparison code has always used for it.
Normalizer = Rule


def pattern_rule(
    name: str, pattern: re.Pattern[str], placeholder: str, *, in_tables: bool = False,
    group: int | str = 0, needs: tuple[str, ...] = (),
) -> Rule:
    """A rule masking each match of ``pattern`` (or of its group ``group``).

    ``needs``: strings one of which every match contains; a text with none of them is not
    searched (a regex tried at every position of a megabyte of table costs seconds).
    """

    def find(text: str, layout: Layout) -> Iterator[Span]:
        if needs and not any(needle in text for needle in needs):
            return
        for match in pattern.finditer(text):
            if match.start(group) < match.end(group):
                yield match.start(group), match.end(group), placeholder

    return Rule(name, find, in_tables)


# ---------------------------------------------------------------------------------------------
# terminal control: line endings, ANSI escapes, carriage-return overwrites

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


class _Mapped:
    """A text cut out of an original one, with the way back to the original's offsets."""

    def __init__(self, text: str, starts: list[int], origins: list[int]) -> None:
        self.text = text
        self._starts = starts  # offsets in ``text`` where a contiguous piece of the original begins
        self._origins = origins  # where each piece begins in the original

    @classmethod
    def identity(cls, text: str) -> _Mapped:
        return cls(text, [0], [0])

    def origin(self, index: int) -> int:
        piece = bisect.bisect_right(self._starts, index) - 1
        return self._origins[piece] + index - self._starts[piece]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of ``text[start:end]`` (with anything cut out inside it)."""
        return self.origin(start), self.origin(end - 1) + 1

    def without(self, cuts: list[tuple[int, int]]) -> _Mapped:
        """This text with the sorted, disjoint spans ``cuts`` removed."""
        if not cuts:
            return self
        kept: list[tuple[int, int]] = []
        position = 0
        for start, end in cuts:
            if start > position:
                kept.append((position, start))
            position = max(position, end)
        if position < len(self.text):
            kept.append((position, len(self.text)))
        parts: list[str] = []
        starts: list[int] = []
        origins: list[int] = []
        length = 0
        for low, high in kept:
            # a kept run may cross the boundaries of this text's own pieces
            piece = bisect.bisect_right(self._starts, low) - 1
            cursor = low
            while cursor < high:
                piece_end = (
                    self._starts[piece + 1] if piece + 1 < len(self._starts) else len(self.text)
                )
                stop = min(high, piece_end)
                starts.append(length)
                origins.append(self._origins[piece] + cursor - self._starts[piece])
                parts.append(self.text[cursor:stop])
                length += stop - cursor
                cursor = stop
                piece += 1
        return _Mapped("".join(parts), starts or [0], origins or [0])


def _overwrites(text: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """What a terminal does not show because a carriage return overwrote it.

    On each line the text after the last ``\\r`` (that is followed by something) is what shows.
    Returns the cuts that hid text (reported) and those that only removed ``\\r`` (not).
    """
    masked: list[tuple[int, int]] = []
    silent: list[tuple[int, int]] = []
    line_start = 0
    for line in text.split("\n"):
        if "\r" in line:
            stripped = line.rstrip("\r")
            shown = stripped.rfind("\r") + 1  # 0: no \r before the shown part
            if shown and stripped[:shown].strip("\r"):
                masked.append((line_start, line_start + shown))
            elif shown:
                silent.append((line_start, line_start + shown))
            if len(stripped) < len(line):
                silent.append((line_start + len(stripped), line_start + len(line)))
        line_start += len(line) + 1
    return masked, silent


def _terminal(text: str) -> tuple[_Mapped, list[MaskedRegion]]:
    """What a terminal would show, the way back to ``text``, and the regions it hid."""
    mapped = _Mapped.identity(text)
    regions: list[MaskedRegion] = []
    if "\x1b" in text:
        cuts = [match.span() for match in _ANSI.finditer(text)]
        regions += [MaskedRegion("ANSI codes", s, e, text[s:e]) for s, e in cuts]
        mapped = mapped.without(cuts)
    if "\r" in mapped.text:
        # \r\n is a line ending, not an overwrite
        endings = [(m.start(), m.start() + 1) for m in re.finditer("\r\n", mapped.text)]
        mapped = mapped.without(endings)
        masked, silent = _overwrites(mapped.text)
        for start, end in masked:
            low, high = mapped.span(start, end)
            regions.append(MaskedRegion("progress output", low, high, text[low:high]))
        mapped = mapped.without(sorted(masked + silent))
    return mapped, regions


def terminal_text(text: str) -> str:
    """What a terminal would show: no escape codes, carriage-return overwrites applied."""
    if "\x1b" not in text and "\r" not in text:
        return text
    return _terminal(text)[0].text


# ---------------------------------------------------------------------------------------------
# tables: numbers in them are data

_GAP = re.compile(r"(?<=[^\s:=])(?: {2,}|\t[ \t]*)(?=\S)")
_BORDER = re.compile(r"^[ \t]*[-=+|:─━═┼┬┴╪╋]{3,}[-=+|: ─━═┼┬┴╪╋]*$")


def _expand_tabs(line: str) -> str:
    """Tabs to stops of 8 columns, each at least two spaces wide so that it separates fields."""
    out: list[str] = []
    column = 0
    for char in line:
        if char == "\t":
            width = 8 - column % 8
            width += 8 if width < 2 else 0
            out.append(" " * width)
            column += width
        else:
            out.append(char)
            column += 1
    return "".join(out)


def _fields(line: str) -> list[tuple[int, int]] | None:
    """The (start, end) columns of a line's fields (tabs expanded), when it has two or more.

    Fields are separated by two or more spaces or a tab, except after ``:`` or ``=``, where
    padding aligns a value to its key (``total time=   0.0s``).
    """
    cuts = list(_GAP.finditer(line))
    if not cuts:
        return None
    fields = []
    start = len(line) - len(line.lstrip())
    for cut in cuts:
        fields.append((start, cut.start()))
        start = cut.end()
    fields.append((start, len(line.rstrip())))
    return fields


def _aligned(a: str, fa: list[tuple[int, int]], b: str, fb: list[tuple[int, int]]) -> bool:
    """Whether two lines' fields share a column edge past the text the lines begin with."""
    prefix = 0
    for x, y in zip(a, b):
        if x != y:
            break
        prefix += 1
    edges_a = {s for s, _ in fa[1:]} | {e for _, e in fa}
    edges_b = {s for s, _ in fb[1:]} | {e for _, e in fb}
    return any(edge > prefix for edge in edges_a & edges_b)


def _text_tables(text: str) -> tuple[tuple[int, int], ...]:
    """Character ranges of the runs of lines laid out in aligned columns.

    ``describe()``, ``DataFrame`` and ``Series`` reprs, ``classification_report``, tabulate
    output and tab-separated rows all are. A row needs a neighbouring row (border lines such
    as ``-----`` may come between) whose columns line up with its own.
    """
    if "  " not in text and "\t" not in text:
        return ()
    tables: list[tuple[int, int]] = []
    previous: tuple[int, str, list[tuple[int, int]]] | None = None  # the last row: start, ...
    position = 0
    for line in text.split("\n"):
        start, end = position, position + len(line)
        position = end + 1
        columns = _expand_tabs(line) if "\t" in line else line
        fields = _fields(columns) if "  " in columns else None
        if fields is not None and len(fields) >= 2:
            if previous is not None and _aligned(previous[1], previous[2], columns, fields):
                low = previous[0]
                if tables and tables[-1][1] >= low:
                    low = tables.pop()[0]
                tables.append((low, end))
            previous = (start, columns, fields)
        elif previous is not None and _BORDER.match(line):
            continue  # a rule between rows ("-----"): the rows around it may still align
        else:
            previous = None
    return tuple(tables)


# ---------------------------------------------------------------------------------------------
# progress bars: tqdm and Keras

_SI = r"[kMGTPEZY]?"
_CLOCK = r"(?:\d+:)?\d{1,2}:\d{2}"
# tqdm: "Epoch 1:  45%|████▌     | 45/100 [00:01<00:02, 30.1it/s, loss=0.3]",
# "50it [00:01, 45.12it/s]", "1.20M/1.20M [00:01<00:00, 1.05MB/s]"
_TQDM = re.compile(
    r"^(?P<head>[^\n]*?)(?:(?P<percent>\d+)%\|(?P<bar>[^|\n]*)\|\s*)?"
    rf"(?P<n>\d+(?:\.\d+)?{_SI})(?:/(?P<total>\d+(?:\.\d+)?{_SI}|\?))?[A-Za-z]*\s?"
    rf"\[(?P<stats>{_CLOCK}(?:<(?:{_CLOCK}|\?))?,\s*"
    rf"(?:(?:\?|\d+(?:\.\d+)?{_SI})\s?[A-Za-z]*/s|\d+(?:\.\d+)?s/[A-Za-z]+))"
    r"(?P<postfix>[^\]\n]*)\][^\n]*$",
    re.MULTILINE,
)
# Keras: "12/100 [==>.......] - ETA: 3s - loss: 0.3", "100/100 ━━━━━━━━━━ 2s 15ms/step - loss: 0.3",
# "32/32 - 0s - loss: 0.6 - 151ms/epoch - 5ms/step"
_KERAS = re.compile(
    r"^[ \t]*(?P<n>\d+)/(?P<total>\d+)[ \t]+(?:\[[=>.]{5,}\]|━{5,}|(?=- \d+m?s(?:\s|$)))"
    r"(?P<rest>[^\n]*)$",
    re.MULTILINE,
)
_KERAS_TIME = re.compile(
    rf"(?<=\s)(?:ETA: (?:{_CLOCK}|\d+(?:\.\d+)?(?:s|ms|us|[µμ]s)))"
    r"|(?<=\s)\d+(?:\.\d+)?(?:s|ms|us|[µμ]s|min|h)(?:/(?:step|epoch|sample))?(?=\s|$)"
)


def _progress_line(line: str) -> tuple[bool, list[tuple[int, int]]] | None:
    """Whether ``line`` is a progress line: (finished, the spans to mask if finished)."""
    match = _TQDM.match(line)
    if match is not None:
        total = match["total"]
        if total is None or total == "?" or match["n"] != total:
            return False, []
        spans = [match.span("stats")]
        if match["bar"]:
            spans.insert(0, match.span("bar"))
        return True, spans
    match = _KERAS.match(line)
    if match is not None:
        if match["n"] != match["total"]:
            return False, []
        offset = match.start("rest")
        return True, [
            (offset + m.start(), offset + m.end()) for m in _KERAS_TIME.finditer(match["rest"])
        ]
    return None


def _find_progress(text: str, layout: Layout) -> Iterator[Span]:
    """Progress lines: of a finished bar, the times and glyphs; an unfinished one whole.

    How many unfinished states a bar leaves on separate lines depends on timing, so a run of
    them is one ``<PROGRESS>``, or nothing when the bar finishes right after.
    """
    if "/" not in text:
        return
    pending: tuple[int, int] | None = None  # a run of unfinished progress lines
    position = 0
    for line in text.split("\n"):
        start, end = position, position + len(line)
        position = end + 1
        found = _progress_line(line) if "/" in line else None
        if found is None:
            if pending is not None:
                yield pending[0], pending[1], "<PROGRESS>"
                pending = None
            continue
        finished, spans = found
        if not finished:
            pending = (pending[0] if pending else start, end)
            continue
        if pending is not None:  # the bar's earlier states, then its last one
            yield pending[0], start, ""
            pending = None
        for low, high in spans:
            if low < high:
                yield start + low, start + high, "<PROGRESS>"
    if pending is not None:
        yield pending[0], pending[1], "<PROGRESS>"


# ---------------------------------------------------------------------------------------------
# durations

_NUMBER = r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_UNIT = (
    r"(?:ns|nsec|[µμu]s|usec|ms|msec|milliseconds?|s|secs?|seconds?|mins?|minutes?"
    r"|h|hrs?|hours?|d|days?)"
)
#: "3.2 s", "1min 3s", "1 h 2 min", "2d 1h"
_AMOUNT = rf"{_NUMBER} ?{_UNIT}(?: {_NUMBER} ?{_UNIT})*(?![\w])"
#: str(timedelta), pandas' Timedelta, "00:01:23"
_SPAN = r"(?:\d+ days?,? )?\d+:\d{2}(?::\d{2})?(?:\.\d+)?(?![\w:]|\.\d)"

#: The lines IPython's timing magics print (``%time``, ``%%time``, ``%timeit``, ``%run -t``).
_TIMING_MAGIC = re.compile(
    r"^(?:"
    rf"CPU times: (?:user {_AMOUNT}, sys: {_AMOUNT}, )?total: {_AMOUNT}"
    rf"|Wall time: (?:{_AMOUNT}|\s*\d+\.\d\d s\.)"
    rf"|Compiler(?: time)? ?: {_AMOUNT}|Parser\s*: {_AMOUNT}"
    rf"|(?:<TimeitResult : )?{_AMOUNT} (?:±|\+-) {_AMOUNT} per loop "
    r"\(mean (?:±|\+-) std\. dev\. of \d+ runs?, [\d,]+ loops? each\)>?"
    r"|The slowest run took \d+(?:\.\d+)? times longer than the fastest\. This could mean "
    r"that an intermediate result is being cached\."
    rf"|[\d,]+ loops?, best of \d+: {_AMOUNT} per loop"
    r")[ \t]*$",
    re.MULTILINE,
)
#: Words that make the number and unit after them the run's own timing.
_TIMING_WORDS = (
    r"took|takes|taking|elapsed"
    r"|(?:done|finished|completed|ran|trained|fitted|fit|converged|executed|computed|processed"
    r"|loaded|built|solved)[ \t]+(?:in|after)"
    r"|(?:wall|cpu|execution|run|running|training|train|fit|fitting|inference|prediction"
    r"|total|compute|computation|processing|elapsed)[ _-]?times?|time[ \t]+(?:taken|elapsed)"
)
_TIMING_PHRASE = re.compile(
    rf"(?i:(?<![\w-])(?:{_TIMING_WORDS})(?![\w-]))[^\d\n]{{0,60}}?(?<![\w.])(?P<value>{_AMOUNT}|{_SPAN})"
    # "time: 3.2 s", "time=0.1s": a bare "time" names the value right after it
    rf"|(?i:(?<![\w-])time)[ \t]*[:=][ \t]*(?P<bare>{_AMOUNT}|{_SPAN})"
)


#: Lower-case strings one of which each timing phrase contains.
_TIMING_NEEDLES = (
    "took", "tak", "elapsed", "time", "done", "finished", "completed", "ran", "trained", "fit",
    "converged", "executed", "computed", "processed", "loaded", "built", "solved",
)


def _find_durations(text: str, layout: Layout) -> Iterator[Span]:
    lowered = text.lower()
    if not any(needle in lowered for needle in _TIMING_NEEDLES):
        return
    for match in _TIMING_PHRASE.finditer(text):
        group = "value" if match["value"] is not None else "bare"
        yield match.start(group), match.end(group), "<DURATION>"


# ---------------------------------------------------------------------------------------------
# timestamps

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME_OF_DAY = r"\d{1,2}:\d{2}:\d{2}"
_ZONE = r"(?:Z|[+-]\d{2}:?\d{2})"
#: A log record's stamp at the start of its line, followed by what a log format puts after it
#: ("- name - INFO -", "| INFO", " INFO", ": I tensorflow/...", "] Trial 0 finished"): never a
#: number (a CSV row, a table) or a plain word ("2020-01-01 09:30:00 sale" is data)
_LOG_STAMP = re.compile(
    r"^[ \t]*(?:\[(?:[A-Z][ \t])?)?"
    rf"(?P<stamp>(?:{_DATE}[T ])?{_TIME_OF_DAY}(?:[.,]\d{{1,9}})?{_ZONE}?)"
    r"(?=\][ \t:]|[ \t]+[-|][ \t]|:[ \t]+[A-Z][ \t]"
    r"|[ \t]+\[?(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\b)",
    re.MULTILINE,
)
#: ``str(datetime.now())``, ``.isoformat()``: a date and time with microseconds
_CLOCK_READING = re.compile(
    rf"(?<![\w.:-]){_DATE}[T ]\d{{2}}:\d{{2}}:\d{{2}}\.\d{{6}}{_ZONE}?(?![\w.:])"
)
#: ``ctime()``, ``date``; an HTTP date
_CTIME = re.compile(
    rf"\b{_DAY} {_MONTH} [ \d]?\d {_TIME_OF_DAY}(?: [A-Z]{{3,4}})?(?: \d{{4}})?\b"
    rf"|\b{_DAY}, \d{{2}} {_MONTH} \d{{4}} {_TIME_OF_DAY}(?: (?:GMT|UTC|[+-]\d{{4}}))?"
)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: statsmodels' ``summary()`` dates itself: ``Date: Wed, 02 Dec 2026``, ``Time: 04:46:36``
#: (``summary2()``: ``Date: 2026-12-02 04:46``)
_SUMMARY_DATE = rf"{_DAY}, \d{{2}} {_MONTH} \d{{4}}|{_DATE} \d{{2}}:\d{{2}}(?![\d:])"
_SUMMARY_STAMP = re.compile(
    rf"(?:^|(?<=\s))Date:[ \t]+(?P<date>{_SUMMARY_DATE})"
    rf"|(?:^|(?<=\s))Time:[ \t]+(?P<time>{_TIME_OF_DAY})(?![\d:.])",
    re.MULTILINE,
)
_SUMMARY_CELL = {
    "Date:": re.compile(rf"(?:{_SUMMARY_DATE})"),
    "Time:": re.compile(_TIME_OF_DAY),
}


def _find_summary_stamps(text: str, layout: Layout) -> Iterator[Span]:
    if layout.label is not None:  # an HTML table cell: its row's label says what it is
        pattern = _SUMMARY_CELL.get(layout.label.strip())
        if pattern is not None and pattern.fullmatch(text.strip()):
            start = len(text) - len(text.lstrip())
            yield start, start + len(text.strip()), "<TIMESTAMP>"
        return
    if "Date:" not in text and "Time:" not in text:
        return
    for match in _SUMMARY_STAMP.finditer(text):
        group = "date" if match["date"] is not None else "time"
        yield match.start(group), match.end(group), "<TIMESTAMP>"


# ---------------------------------------------------------------------------------------------
# memory addresses, temp paths, UUIDs

_ADDRESS = re.compile(
    # <function f at 0x7f3a2c1d5e50>, RandomState(MT19937) at 0x7FCDD5C8E840
    r"(?<=\bat )0x[0-9a-fA-F]{4,16}\b"
    r"|\b0x[0-9a-fA-F]{6,16}(?=>|&gt;)"
    # a repr shortened in the middle keeps the address's tail: scikit-learn's fitted-attribute
    # table shows `<sklearn.tree...x7ff7870d56f0>`
    r"|(?:(?<=\.\.\.)|(?<=…))"
    r"(?:0?x[0-9a-fA-F]{4,16}|(?=[0-9]*[a-fA-F])[0-9a-fA-F]{6,16})(?=>|&gt;)"
)

_TEMP_ROOTS = (
    r"/tmp",
    r"/var/tmp",
    r"(?:/private)?/var/folders/[^/\s]+/[^/\s]+/T",
    r"[A-Za-z]:\\Users\\[^\\\s]+\\AppData\\Local\\Temp",
)
#: Names generated inside a temp dir: mkdtemp/mkstemp's ``tmp`` and 8 random characters,
#: ipykernel's cell files, pytest's and joblib's and multiprocessing's folders
_TEMP_NAMES = (
    r"tmp[a-z0-9_]{8}(?![a-z0-9_])",
    r"ipykernel_\d+(?:[/\\]\d+\.py)?",
    r"pytest-of-[\w.-]+(?:[/\\]pytest-\d+)?",
    r"pymp-[a-z0-9_]{8}",
    r"joblib_memmapping_folder_[\w-]+",
)


@lru_cache(maxsize=1)
def _temp_roots() -> tuple[str, ...]:
    """A string each temp path holds."""
    return ("/tmp", "/var/", "\\Temp", tempfile.gettempdir())


@lru_cache(maxsize=1)
def _temp_path_pattern() -> re.Pattern[str]:
    # gettempdir() probes the file system, so it runs on first use, not at import
    roots = list(_TEMP_ROOTS)
    if tempfile.gettempdir() not in ("/tmp", "/var/tmp"):
        roots.insert(0, re.escape(tempfile.gettempdir()))
    names = "|".join(_TEMP_NAMES)
    return re.compile(
        r"(?<![\w./\\-])(?:" + "|".join(roots) + r")(?![\w.-])(?:[/\\](?:" + names + r"))*"
    )


def _find_temp_paths(text: str, layout: Layout) -> Iterator[Span]:
    if not any(root in text for root in _temp_roots()):
        return
    for match in _temp_path_pattern().finditer(text):
        yield match.start(), match.end(), "<TEMP-PATH>"


UUID_PATTERN = _UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)


# ---------------------------------------------------------------------------------------------
# the rules, in order: an earlier rule's span wins over a later one's that overlaps it

_RULES: tuple[Rule, ...] = (
    Rule("progress output", _find_progress, in_tables=True),
    pattern_rule(
        "durations", _TIMING_MAGIC, "<TIMING>", in_tables=True,
        needs=(" time", "per loop", "Compiler", "Parser"),
    ),
    Rule("timestamps", _find_summary_stamps, in_tables=True),
    pattern_rule("timestamps", _LOG_STAMP, "<TIMESTAMP>", group="stamp", needs=(":",)),
    pattern_rule("timestamps", _CLOCK_READING, "<TIMESTAMP>", needs=(":",)),
    pattern_rule("timestamps", _CTIME, "<TIMESTAMP>", needs=_DAYS),
    Rule("durations", _find_durations),
    Rule("temp paths", _find_temp_paths, in_tables=True),
    pattern_rule(
        "memory addresses", _ADDRESS, "0x<ADDRESS>", in_tables=True, needs=("0x", "...", "…")
    ),
    pattern_rule("UUIDs", _UUID, "<UUID>", needs=("-",)),
)

#: Every rule name a report can mention.
NORMALIZER_NAMES = tuple(
    dict.fromkeys(["ANSI codes", "progress output", *(rule.name for rule in _RULES)])
)


def normalize_text(
    text: str, extra: Iterable[Rule] = (), *, cell_label: str | None = None
) -> NormalizedText:
    """Mask the volatile spans of ``text`` (the built-in rules, then ``extra``).

    ``cell_label`` not None: ``text`` is a cell of an HTML table and ``cell_label`` the cell
    before it in its row; only the rules that may mask inside a table apply.
    """
    mapped, regions = _terminal(text)
    visible = mapped.text
    layout = Layout(visible, cell_label)
    taken: list[tuple[int, int, str, str]] = []  # start, end, placeholder, rule
    occupied = bytearray(len(visible))  # 1: a character an earlier span took
    for rule in (*_RULES, *extra):
        for start, end, placeholder in rule.find(visible, layout):
            if start >= end or occupied.find(1, start, end) != -1:
                continue
            if not rule.in_tables and layout.in_table(start, end):
                continue
            occupied[start:end] = b"\x01" * (end - start)
            taken.append((start, end, placeholder, rule.name))
    taken.sort()
    parts: list[str] = []
    position = 0
    for start, end, placeholder, name in taken:
        parts += [visible[position:start], placeholder]
        position = end
        low, high = mapped.span(start, end)
        regions.append(MaskedRegion(name, low, high, text[low:high]))
    parts.append(visible[position:])
    regions.sort(key=lambda region: (region.start, region.end))
    return NormalizedText("".join(parts), tuple(regions))


#: Lines that ``%time`` / ``%%time`` / ``%timeit`` print (an exported script runs the statement
#: without timing it, so it never prints them).
TIMING_LINE = re.compile(
    r"^(?:CPU times: .*|Wall time: .*|.*± .* per loop \(mean ± std\. dev\. of .*\)"
    r"|The slowest run took .* times longer than the fastest\..*|Compiler time: .*"
    r"|Parser\s*: .*)\n?",
    re.MULTILINE,
)


def strip_timing_lines(text: str) -> str:
    """Remove the lines IPython's timing magics print."""
    return TIMING_LINE.sub("", text)
