"""How parameter values, metrics and hashes print in ``nb2pipe runs``' table, diff and page."""

from __future__ import annotations

import json
import posixpath

from nb2pipe_runtime.record import DataSource

__all__ = ["data_name", "format_number", "format_value", "short_hash", "source_version"]


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


def source_version(source: DataSource) -> str:
    """The version of a source a run read, as a person names it: ``versionId 3HL4...,
    sha256 8baab0330389``; ``rev v1 = bbd3821, md5 e5ebd4c02cef``; ``sha256 ...`` for a whole
    HTTP read; ``etag "..."``/``modified ...`` when that is all there is."""
    parts = []
    if source.dvc is not None:
        full = source.dvc.commit
        commit = full[:7] if full else None
        rev = source.dvc.rev
        if rev and full and not full.startswith(rev):
            parts.append(f"rev {rev} = {commit}")
        elif commit or rev:
            parts.append(f"rev {commit or rev}")
        if source.dvc.md5:
            parts.append(f"md5 {short_hash(source.dvc.md5)}")
    else:
        if source.version_id:
            parts.append(f"versionId {source.version_id}")
        if source.sha256:
            parts.append(f"sha256 {short_hash(source.sha256)}")
        if not parts and source.etag:
            parts.append(f"etag {source.etag}")
        if not parts and source.last_modified:
            parts.append(f"modified {source.last_modified}")
    return ", ".join(parts) or "no version"


def data_name(path: str) -> str:
    """A data file's or source's short name in a table: its file name (``wine.csv`` of
    ``s3://bucket/data/wine.csv``, of ``dvc:///registry#data/wine.csv``)."""
    if "://" in path:
        path = path.partition("?")[0].rpartition("#")[2] or path
    return posixpath.basename(path.rstrip("/")) or path
