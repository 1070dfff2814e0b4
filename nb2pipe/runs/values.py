"""How parameter values, metrics and hashes print in ``nb2pipe runs``' table, diff and page."""

from __future__ import annotations

import json

__all__ = ["format_number", "format_value", "short_hash"]


def format_value(value: object) -> str:
    """A parameter value as the user typed it: text as is, numbers short, the rest as JSON."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return format_number(value)
    return json.dumps(value)


def format_number(value: object) -> str:
    """A metric with at most 4 decimals (``0.9556``, ``1``, ``2.5e-05``); ``-`` when absent."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-4):
            return f"{value:.4g}"
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return "0" if text in ("", "-0") else text
    return str(value)


def short_hash(digest: str) -> str:
    """The first 12 hex digits of a SHA-256 or md5, as the table shows them."""
    return digest[:12]
