"""Format a :class:`RunComparison` as a terminal table with notes on differing data and code."""

from __future__ import annotations

import json
import posixpath
from typing import Any

from nb2pipe.runs.records import RunComparison, RunRow

__all__ = ["format_table"]


def format_table(comparison: RunComparison) -> str:
    """The runs as a table: parameters that vary, metrics, data versions and commits."""
    rows = comparison.rows
    param_names = _names(row.params for row in rows)
    varying = [name for name in param_names if len({_text(row.params.get(name)) for row in rows}) > 1]
    constant = [name for name in param_names if name not in varying]
    metric_names = _names(row.metrics for row in rows)
    header = ["#", "run", "steps", "status", *varying, *metric_names, "data", "commit"]
    table = [header]
    for number, row in enumerate(rows, 1):
        table.append(
            [
                str(number),
                row.label,
                "+".join(row.steps) if row.steps else "all",
                row.status,
                *(_text(row.params.get(name)) for name in varying),
                *(_number(row.metrics.get(name)) for name in metric_names),
                _data_cell(comparison, row),
                (row.commit[:7] + ("*" if row.dirty else "")) if row.commit else "-",
            ]
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    numeric = {0, *range(4, 4 + len(varying) + len(metric_names))}
    lines = []
    for line in table:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        lines.append("  ".join(cells).rstrip())
    if constant and rows:
        first = rows[0]
        same = ", ".join(f"{name}={_text(first.params.get(name))}" for name in constant)
        lines.append(f"same in every run: {same}")
    lines += _differences(comparison)
    for path, reason in comparison.unreadable.items():
        lines.append(f"unreadable record {path}: {reason}")
    return "\n".join(lines)


def _differences(comparison: RunComparison) -> list[str]:
    lines = []
    for path, versions in comparison.data_versions.items():
        parts = []
        for number, digest in enumerate(versions, 1):
            users = [
                str(index) for index, row in enumerate(comparison.rows, 1)
                if row.data.get(path) == digest
            ]
            parts.append(f"@{number} = {digest[:12]} (runs {', '.join(users)})")
        lines.append(f"data differs: {path}: " + "; ".join(parts))
    if comparison.commits:
        parts = []
        for commit in comparison.commits:
            users = [
                str(index) for index, row in enumerate(comparison.rows, 1) if row.commit == commit
            ]
            parts.append(f"{commit[:7]} (runs {', '.join(users)})")
        lines.append("code differs: " + "; ".join(parts))
    dirty = [str(index) for index, row in enumerate(comparison.rows, 1) if row.dirty]
    if dirty:
        lines.append(f"* uncommitted changes to tracked files in runs {', '.join(dirty)}")
    return lines


def _data_cell(comparison: RunComparison, row: RunRow) -> str:
    marks = []
    for path in row.data:
        version = comparison.data_version(row, path)
        if version is not None:
            marks.append(f"{posixpath.basename(path)}@{version}")
    if marks:
        return ", ".join(marks)
    return "same" if row.data else "-"


def _names(mappings: Any) -> list[str]:
    names: list[str] = []
    for mapping in mappings:
        for name in mapping:
            if name not in names:
                names.append(name)
    return names


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return _number(value)
    return json.dumps(value)


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-4):
            return f"{value:.4g}"
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return text or "0"
    return str(value)
