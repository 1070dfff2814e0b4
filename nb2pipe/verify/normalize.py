"""Normalize volatile text in outputs (addresses, times, progress, temp paths) before comparing.

Each normalizer has a stable name; a comparison reports the names of those that changed either
side, so a reader of a report knows what was ignored. Normalizers only ever replace volatile
text with a placeholder, and both sides go through the same ones, so two outputs that differ
only in, say, a memory address compare equal while any other difference survives.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable

__all__ = [
    "NORMALIZER_NAMES",
    "TIMING_LINE",
    "NormalizedText",
    "Normalizer",
    "normalize_text",
    "strip_timing_lines",
    "terminal_text",
]


@dataclass(frozen=True)
class NormalizedText:
    """Text after normalization and the names of the normalizers that changed it."""

    text: str
    applied: frozenset[str]


# ---------------------------------------------------------------------------------------------
# terminal control: line endings, ANSI escapes, carriage-return overwrites (progress bars)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def _line_endings(text: str) -> str:
    return text.replace("\r\n", "\n")


def _ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _carriage_returns(text: str) -> str:
    """What a terminal shows: on each line, text after the last ``\\r`` overwrites the rest."""
    if "\r" not in text:
        return text
    lines = []
    for line in text.split("\n"):
        if "\r" in line:
            parts = [part for part in line.split("\r") if part]
            line = parts[-1] if parts else ""
        lines.append(line)
    return "\n".join(lines)


def terminal_text(text: str) -> str:
    """What a terminal would show: no escape codes, carriage-return overwrites applied."""
    return _carriage_returns(_ansi(_line_endings(text)))


# tqdm: " 45%|████▌     | 45/100 [00:01<00:02, 30.1it/s]" (also the notebook widget's text);
# keras: "12/100 [==>...........] - ETA: 3s - loss: 0.3"
_TQDM = re.compile(
    r"^.*?(?:\d+%\|[^|\n]*\|\s*)?\d+(?:\.\d+)?[kMG]?/(?:\d+(?:\.\d+)?[kMG]?|\?)"
    r"\s*\[[^\]\n]*(?:it/s|s/it|\?it/s|B/s|<)[^\]\n]*\].*$",
    re.M,
)
_BAR = re.compile(r"^.*\d+/\d+\s*\[[=>.\-]+\].*$", re.M)
_PROGRESS_RUN = re.compile(r"<PROGRESS>(?:\n<PROGRESS>)+")


def _progress(text: str) -> str:
    text = _TQDM.sub("<PROGRESS>", text)
    text = _BAR.sub("<PROGRESS>", text)
    # the number of updates a bar prints depends on timing; keep one placeholder per run
    return _PROGRESS_RUN.sub("<PROGRESS>", text)


# ---------------------------------------------------------------------------------------------
# volatile values

_ADDRESS = re.compile(
    r"\b0x[0-9a-fA-F]{6,16}\b"
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


@lru_cache(maxsize=1)
def _temp_path_pattern() -> re.Pattern[str]:
    # gettempdir() probes the file system, so it runs on first use, not at import
    roots = list(_TEMP_ROOTS)
    if tempfile.gettempdir() not in ("/tmp", "/var/tmp"):
        roots.insert(0, re.escape(tempfile.gettempdir()))
    return re.compile(r"(?<![\w./\\-])(?:" + "|".join(roots) + r")(?:[/\\][^\s'\"<>),;:\]]*)?")


_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_TIMESTAMP = re.compile(
    # ISO 8601 / str(datetime) / pandas Timestamp: 2024-05-01 12:34:56.789+02:00
    r"\b\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?(?![\d:])"
    # ctime / logging: Wed May  1 12:34:56 2024, 01/May/2024:12:34:56
    rf"|\b{_DAY},? {_MONTH} [ \d]?\d \d{{2}}:\d{{2}}:\d{{2}}(?: \d{{4}})?"
    rf"|\b\d{{1,2}} {_MONTH} \d{{4}} \d{{2}}:\d{{2}}:\d{{2}}"
    # the date a report was made (statsmodels' summary(): "Date: Wed, 02 Dec 2026")
    rf"|\b{_DAY}, \d{{1,2}} {_MONTH} \d{{4}}\b"
)
# a time of day or a str(timedelta): 12:34:56, 0:00:01.234567
_TIME_OF_DAY = re.compile(r"(?<![\d:.])\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?![\d:])")

_UNITS = (
    r"ns|nsec|µs|μs|us|usec|ms|msec|s|sec|secs|second|seconds|min|mins|minute|minutes"
    r"|h|hr|hrs|hour|hours"
)
_DURATION = re.compile(rf"(?<![\w.])\d+(?:\.\d+)?(?:e[-+]?\d+)?\s?(?:{_UNITS})(?![A-Za-z0-9_])")
# %timeit: "1.23 ms ± 45.6 µs per loop (mean ± std. dev. of 7 runs, 1,000 loops each)"
_TIMEIT_LINE = re.compile(r"^.*± .* per loop \(mean ± std\. dev\. of .*\)$", re.M)
_TIMEIT_SLOWEST = re.compile(r"^The slowest run took .* times longer than the fastest\..*$", re.M)

_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)


def _addresses(text: str) -> str:
    return _ADDRESS.sub("0x<ADDRESS>", text)


def _temp_paths(text: str) -> str:
    return _temp_path_pattern().sub("<TEMP-PATH>", text)


def _timestamps(text: str) -> str:
    return _TIME_OF_DAY.sub("<TIME>", _TIMESTAMP.sub("<TIMESTAMP>", text))


def _durations(text: str) -> str:
    text = _TIMEIT_LINE.sub("<TIMEIT>", text)
    text = _TIMEIT_SLOWEST.sub("<TIMEIT>", text)
    return _DURATION.sub("<DURATION>", text)


def _uuids(text: str) -> str:
    return _UUID.sub("<UUID>", text)


Normalizer = tuple[str, Callable[[str], str]]

#: Applied in this order. Terminal control first: escapes and overwrites hide the values.
_NORMALIZERS: tuple[Normalizer, ...] = (
    ("line endings", _line_endings),
    ("ANSI codes", _ansi),
    ("progress output", _carriage_returns),
    ("progress output", _progress),
    ("temp paths", _temp_paths),
    ("timestamps", _timestamps),
    ("durations", _durations),
    ("memory addresses", _addresses),
    ("UUIDs", _uuids),
)

#: Every normalizer name a report can mention.
NORMALIZER_NAMES = tuple(dict.fromkeys(name for name, _ in _NORMALIZERS))


def normalize_text(text: str, extra: Iterable[Normalizer] = ()) -> NormalizedText:
    """Apply every normalizer (then ``extra``) to ``text``."""
    applied = set()
    for name, normalize in (*_NORMALIZERS, *extra):
        changed = normalize(text)
        if changed != text:
            applied.add(name)
            text = changed
    return NormalizedText(text, frozenset(applied))


#: Lines that ``%time`` / ``%%time`` / ``%timeit`` print (an exported script runs the statement
#: without timing it, so it never prints them).
TIMING_LINE = re.compile(
    r"^(?:CPU times: .*|Wall time: .*|.*± .* per loop \(mean ± std\. dev\. of .*\)"
    r"|The slowest run took .* times longer than the fastest\..*|Compiler time: .*"
    r"|Parser\s*: .*)\n?",
    re.M,
)


def strip_timing_lines(text: str) -> str:
    """Remove the lines IPython's timing magics print."""
    return TIMING_LINE.sub("", text)
