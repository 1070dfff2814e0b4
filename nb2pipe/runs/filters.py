"""The filters of ``nb2pipe runs`` for long histories: ``--since``, ``--last``, ``--where``.

``--where`` takes ``NAME OP VALUE`` (``accuracy>0.9``, ``model == "rf"``) with ``OP`` one of
``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``; it is read by a small scanner, never evaluated.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from nb2pipe_runtime.record import JSONValue

from nb2pipe.errors import Nb2PipeError
from nb2pipe.runs.records import moment
from nb2pipe.runs.rows import RunRow, value_key

__all__ = ["Condition", "RunFilter", "parse_since", "parse_where"]

Operator = Literal["<", "<=", ">", ">=", "==", "!="]
_OPERATORS: tuple[Operator, ...] = ("<=", ">=", "==", "!=", "<", ">")  # longest first
_NAME = re.compile(r"[A-Za-z_][\w.\-]*")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class Condition:
    """One ``--where`` condition: a metric or parameter compared with a value."""

    name: str
    operator: Operator
    value: JSONValue
    text: str  #: as the user wrote it

    def holds(self, row: RunRow) -> bool:
        """Whether ``row``'s metric (or effective parameter) ``name`` satisfies the condition;
        a row without it does not."""
        if self.name not in row.metrics and self.name not in row.params:
            return False
        actual = row.value(self.name)
        if _is_number(actual) and _is_number(self.value):
            return _compare(float(actual), float(self.value), self.operator)  # type: ignore[arg-type]
        if self.operator in ("==", "!="):
            same = value_key(actual) == value_key(self.value)
            return same if self.operator == "==" else not same
        if isinstance(actual, str) and isinstance(self.value, str):
            return _compare(actual, self.value, self.operator)
        return False


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _compare(left: float | str, right: float | str, operator: Operator) -> bool:
    if operator == "<":
        return left < right  # type: ignore[operator]
    if operator == "<=":
        return left <= right  # type: ignore[operator]
    if operator == ">":
        return left > right  # type: ignore[operator]
    if operator == ">=":
        return left >= right  # type: ignore[operator]
    if operator == "==":
        return left == right
    return left != right


def parse_where(text: str) -> Condition:
    """Read ``NAME OP VALUE``.

    ``VALUE`` is a number, ``true``/``false``/``null``, a quoted string, a JSON list or
    object, or else taken as text (``model==rf``).

    Raises
    ------
    Nb2PipeError
        Not of that form.
    """
    stripped = text.strip()
    name_match = _NAME.match(stripped)
    hint = "expected NAME OP VALUE with OP one of <, <=, >, >=, ==, != (e.g. 'accuracy>0.9')"
    if name_match is None:
        raise Nb2PipeError(f"--where {text!r}: {hint}")
    rest = stripped[name_match.end():].lstrip()
    operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
    if operator is None:
        raise Nb2PipeError(f"--where {text!r}: {hint}")
    raw = rest[len(operator):].strip()
    if not raw or raw[0] in "<>=!":
        raise Nb2PipeError(f"--where {text!r}: {hint}")
    return Condition(name_match.group(), operator, _literal(raw, text), stripped)


def _literal(raw: str, text: str) -> JSONValue:
    if raw[0] in "\"'":
        if len(raw) < 2 or raw[-1] != raw[0]:
            raise Nb2PipeError(f"--where {text!r}: unterminated string {raw}")
        return raw[1:-1]
    try:
        value: JSONValue = json.loads(raw)
    except ValueError:
        return raw  # bare text: model==rf
    if isinstance(value, float) and not math.isfinite(value):
        raise Nb2PipeError(f"--where {text!r}: {raw} is not a finite number")
    return value


def parse_since(text: str, now: datetime.datetime | None = None) -> datetime.datetime:
    """``--since``: a date or date and time (``2026-12-01``, ``2026-12-01T09:30``, local time
    unless it names a zone) or a duration back from now (``3d``, ``12h``, ``1w2d``, ``30m``).

    Raises
    ------
    Nb2PipeError
        Neither a date nor a duration.
    """
    stripped = text.strip()
    now = now or datetime.datetime.now(datetime.timezone.utc)
    parts = _DURATION.findall(stripped)
    if parts and _DURATION.sub("", stripped).strip() == "":
        seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
        return now - datetime.timedelta(seconds=seconds)
    try:
        when = datetime.datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise Nb2PipeError(
            f"--since {text!r}: expected a date (2026-12-01, 2026-12-01T09:30) or a duration "
            "(3d, 12h, 30m, 2w)"
        ) from None
    return when.astimezone() if when.tzinfo is None else when


@dataclass(frozen=True)
class RunFilter:
    """Which rows to show: started since a moment, matching every condition, the last N."""

    since: datetime.datetime | None = None
    where: tuple[Condition, ...] = ()
    last: int | None = None

    def apply(self, rows: Sequence[RunRow]) -> list[RunRow]:
        """The rows that pass, in their order; ``last`` keeps the most recent N of them."""
        kept = [
            row for row in rows
            if (self.since is None or moment(row.start) >= self.since)
            and all(condition.holds(row) for condition in self.where)
        ]
        if self.last is not None:
            recent = sorted(kept, key=lambda row: moment(row.start))[-self.last:] if self.last else []
            keep = {id(row) for row in recent}
            kept = [row for row in kept if id(row) in keep]
        return kept
