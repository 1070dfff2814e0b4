"""Read the run records exported pipelines write, group them and find where they differ.

Each run of an exported pipeline writes ``runs/<run id>/run.json``. Runs that belong to one DVC
experiment (a stage per step, each its own process) are merged into one :class:`RunRow`; other
records are a row each. Two rows *differ in data* when a file both read has different SHA-256
hashes, and *in code* when their git commits differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nb2pipe.errors import Nb2PipeError

__all__ = ["RunComparison", "RunRow", "compare_runs", "find_runs_dir", "read_records"]

RECORD_NAME = "run.json"


@dataclass(frozen=True)
class RunRow:
    """One run of a pipeline: a record, or the records of one DVC experiment's stages."""

    label: str  #: the run id, or the DVC experiment's name
    run_ids: tuple[str, ...]
    steps: tuple[str, ...]  #: steps run (empty: a whole-pipeline run)
    status: str
    start: str
    params: dict[str, Any]
    metrics: dict[str, float]
    #: data file (relative path) -> SHA-256
    data: dict[str, str]
    commit: str | None
    dirty: bool
    experiment: str | None = None
    errors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "run_ids": list(self.run_ids),
            "steps": list(self.steps),
            "status": self.status,
            "start": self.start,
            "experiment": self.experiment,
            "params": self.params,
            "metrics": self.metrics,
            "data": self.data,
            "git": {"commit": self.commit, "dirty": self.dirty} if self.commit else None,
            "errors": list(self.errors),
        }


@dataclass(frozen=True)
class RunComparison:
    """Rows of runs and where they differ."""

    rows: tuple[RunRow, ...]
    #: data file -> its distinct hashes in order of first use (only files with several)
    data_versions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: distinct commits in order of first use (when there are several)
    commits: tuple[str, ...] = ()
    #: records that could not be read: path -> reason
    unreadable: dict[str, str] = field(default_factory=dict)

    def data_version(self, row: RunRow, path: str) -> int | None:
        """1-based version of ``path`` that ``row`` read, if that file has several versions."""
        versions = self.data_versions.get(path)
        if versions is None or path not in row.data:
            return None
        return versions.index(row.data[path]) + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": [row.to_json() for row in self.rows],
            "data_versions": {path: list(hashes) for path, hashes in self.data_versions.items()},
            "commits": list(self.commits),
            "unreadable": self.unreadable,
        }


def find_runs_dir(path: Path, allow_empty: bool = False) -> Path:
    """The folder of run records for ``path``: ``path/runs`` or ``path`` itself.

    Raises
    ------
    Nb2PipeError
        Neither holds run records (unless ``allow_empty``: then ``path/runs``).
    """
    for candidate in (path / "runs", path):
        if candidate.is_dir() and any(candidate.glob(f"*/{RECORD_NAME}")):
            return candidate
    if allow_empty:
        return path / "runs"
    raise Nb2PipeError(f"{path}: no run records (runs/<run id>/{RECORD_NAME}) here")


def read_records(runs_dir: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The run records under ``runs_dir``, oldest first, and the unreadable ones."""
    records = []
    unreadable: dict[str, str] = {}
    for path in sorted(runs_dir.glob(f"*/{RECORD_NAME}")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            unreadable[str(path)] = str(exc)
            continue
        if not isinstance(record, dict) or "run_id" not in record:
            unreadable[str(path)] = "not a run record"
            continue
        records.append(record)
    records.sort(key=lambda record: (str(record.get("start") or ""), str(record["run_id"])))
    return records, unreadable


def compare_runs(
    records: Iterable[dict[str, Any]], sort: str | None = None, ascending: bool = False,
    unreadable: dict[str, str] | None = None, extra_rows: Iterable[RunRow] = (),
) -> RunComparison:
    """Group ``records`` into rows, sort them and find differing data and code.

    ``sort`` names a metric (or a parameter); rows without it come last. ``extra_rows`` (DVC
    experiments) are added unless a row of the records has their label.
    """
    rows = _group(list(records))
    labels = {row.label for row in rows}
    rows += [row for row in extra_rows if row.label not in labels]
    if sort is not None:
        present = [row for row in rows if _sort_value(row, sort) is not None]
        absent = [row for row in rows if _sort_value(row, sort) is None]
        present.sort(key=lambda row: _sort_value(row, sort) or (False, 0), reverse=not ascending)
        rows = present + absent
    versions: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda row: row.start):
        for path, digest in row.data.items():
            seen = versions.setdefault(path, [])
            if digest not in seen:
                seen.append(digest)
    commits: list[str] = []
    for row in sorted(rows, key=lambda row: row.start):
        if row.commit and row.commit not in commits:
            commits.append(row.commit)
    return RunComparison(
        rows=tuple(rows),
        data_versions={path: tuple(found) for path, found in versions.items() if len(found) > 1},
        commits=tuple(commits) if len(commits) > 1 else (),
        unreadable=dict(unreadable or {}),
    )


def _sort_value(row: RunRow, name: str) -> tuple[bool, Any] | None:
    """A sort key: numbers before text (parameters may be either), None when absent."""
    value = row.metrics.get(name, row.params.get(name))
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    return (isinstance(value, str), value)


def _group(records: list[dict[str, Any]]) -> list[RunRow]:
    groups: dict[str, list[dict[str, Any]]] = {}
    order: list[str] = []
    for record in records:
        experiment = (record.get("dvc") or {}).get("experiment")
        key = f"exp:{experiment}" if experiment else f"run:{record['run_id']}"
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(record)
    return [_row(groups[key]) for key in order]


def _row(records: list[dict[str, Any]]) -> RunRow:
    first, last = records[0], records[-1]
    experiment = (first.get("dvc") or {}).get("experiment")
    params: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    data: dict[str, str] = {}
    steps: list[str] = []
    errors: list[str] = []
    for record in records:
        params.update(record.get("params") or {})
        metrics.update(record.get("metrics") or {})
        data.update(record.get("data") or {})
        if record.get("step"):
            steps.append(record["step"])
        if record.get("error"):
            errors.append(str(record["error"]))
    failed = any(record.get("status") != "finished" for record in records)
    git = first.get("git") or {}
    return RunRow(
        label=experiment or str(first["run_id"]),
        run_ids=tuple(str(record["run_id"]) for record in records),
        steps=tuple(steps) if all(record.get("step") for record in records) else (),
        status="failed" if failed else str(last.get("status", "finished")),
        start=str(first.get("start") or ""),
        params=params,
        metrics=metrics,
        data=dict(sorted(data.items())),
        commit=git.get("commit"),
        dirty=bool(git.get("dirty")),
        experiment=experiment,
        errors=tuple(errors),
    )
