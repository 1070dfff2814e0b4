"""Turn run records into table rows: one per run, or one per DVC experiment (its stages merged).

A row shows what its results were computed with: the *effective* parameters (the run's own and
those of the runs that produced the inputs a ``--step`` run loaded) and the data files along
that lineage. When no single value describes the results, the row says why instead of
pretending: a parameter whose value differs along the lineage (:class:`MixedParam`), or an
input computed from another version of a data file than this run, or the latest run, read
(:class:`StaleInput`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nb2pipe_runtime.record import DataSource, JSONValue, Objective, RunRecord

from nb2pipe.runs.records import StoredRecord, moment

__all__ = [
    "MixedParam", "RunError", "RunRow", "StaleInput", "build_rows", "source_json", "value_key",
]

_FIGURE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif")


@dataclass(frozen=True)
class MixedParam:
    """A parameter whose value differs along a row's lineage."""

    name: str
    #: each distinct value, with the runs that computed with it (this row's own value first)
    values: tuple[tuple[JSONValue, tuple[str, ...]], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "values": [{"value": value, "runs": list(runs)} for value, runs in self.values],
        }


@dataclass(frozen=True)
class StaleInput:
    """An input a ``--step`` run loaded that was computed from another version of a data file
    than the one this run, or the latest run, read."""

    input: str  #: the variable
    step: str  #: the step that produced it
    run_id: str | None  #: the run that produced it
    path: str  #: the data file
    computed_from: str  #: SHA-256 of the version the input was computed from
    newer: str  #: SHA-256 this run or the latest run read
    newer_run: str  #: the run that read ``newer``
    by_this_run: bool  #: ``newer`` is what this row's own run read (else: the latest run)

    def to_json(self) -> dict[str, Any]:
        return {
            "input": self.input, "step": self.step, "run_id": self.run_id, "path": self.path,
            "computed_from": self.computed_from, "newer": self.newer,
            "newer_run": self.newer_run, "by_this_run": self.by_this_run,
        }


@dataclass(frozen=True)
class RunError:
    """The error line of a failed run (a stage of a DVC experiment names its step)."""

    run_id: str
    step: str | None
    message: str


@dataclass(frozen=True)
class RunRow:
    """One run: a record, or the records of one DVC experiment's stages."""

    label: str  #: the run id, or the DVC experiment's name
    experiment: str  #: the nb2pipe experiment (the notebook's stem unless ``--experiment``)
    run_ids: tuple[str, ...]
    steps: tuple[str, ...]  #: steps run (empty: a whole-pipeline run)
    status: str
    start: str
    #: effective parameters: what the row's results were computed with
    params: dict[str, JSONValue]
    #: the parameters the row's own runs read
    own_params: dict[str, JSONValue]
    metrics: dict[str, float]
    #: data along the lineage (path -> SHA-256, URL -> version identity); the row's own reads
    #: win
    data: dict[str, str]
    commit: str | None
    dirty: bool
    python: str = ""
    packages: dict[str, str] = field(default_factory=dict)
    scripts: tuple[str, ...] = ()
    notebook: str | None = None
    dvc_experiment: str | None = None
    errors: tuple[RunError, ...] = ()
    mixed: tuple[MixedParam, ...] = ()
    stale: tuple[StaleInput, ...] = ()
    figures: tuple[Path, ...] = ()  #: the runs' figure artifacts
    #: the primary metric the row's (latest) run recorded
    objective: Objective | None = None
    #: what the row's runs recorded of the data they read from URLs and DVC registries
    sources: dict[str, DataSource] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        """No single set of values describes this row's metrics."""
        return bool(self.mixed or self.stale)

    def value(self, name: str) -> JSONValue:
        """A metric, else an effective parameter, else ``None``."""
        if name in self.metrics:
            return self.metrics[name]
        return self.params.get(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "experiment": self.experiment,
            "run_ids": list(self.run_ids),
            "steps": list(self.steps),
            "status": self.status,
            "start": self.start,
            "dvc_experiment": self.dvc_experiment,
            "scripts": list(self.scripts),
            "notebook": self.notebook,
            "params": self.params,
            "own_params": self.own_params,
            "mixed_params": [mixed.to_json() for mixed in self.mixed],
            "stale_inputs": [stale.to_json() for stale in self.stale],
            "metrics": self.metrics,
            "data": self.data,
            "sources": {url: source_json(source) for url, source in self.sources.items()},
            "git": {"commit": self.commit, "dirty": self.dirty} if self.commit else None,
            "errors": [
                {"run_id": error.run_id, "step": error.step, "error": error.message}
                for error in self.errors
            ],
            "figures": [path.name for path in self.figures],
        }


def source_json(source: DataSource) -> dict[str, Any]:
    """A source as the record has it, with the identity runs are compared by."""
    return {**asdict(source), "identity": source.identity}


def value_key(value: Any) -> str:
    """A value as comparable text (JSON values may be lists and dicts)."""
    return json.dumps(value, sort_keys=True)


def build_rows(records: Sequence[StoredRecord]) -> list[RunRow]:
    """Group ``records`` (oldest first) into rows, in order of their first record.

    Parameters
    ----------
    records
        Every record of the folder: the latest read of each data file is taken over all of
        them, so a row whose inputs came from an older version is marked.

    Returns
    -------
    list[RunRow]
        A row per record, except that the stages of one DVC experiment share one.
    """
    latest = _latest_reads(records)
    groups: dict[tuple[str, str], list[StoredRecord]] = {}
    for stored in records:
        record = stored.record
        dvc_name = record.dvc.experiment if record.dvc is not None else None
        key = (record.experiment, f"exp:{dvc_name}" if dvc_name else f"run:{record.run_id}")
        groups.setdefault(key, []).append(stored)
    return [_row(group, latest) for group in groups.values()]


def _latest_reads(records: Sequence[StoredRecord]) -> dict[str, tuple[str, str]]:
    """Data file -> (SHA-256, run id) of the latest run that read it."""
    latest: dict[str, tuple[str, str]] = {}
    for stored in sorted(records, key=lambda stored: moment(stored.record.start)):
        for path, digest in stored.record.data_versions().items():
            latest[path] = (digest, stored.record.run_id)
    return latest


def _row(group: list[StoredRecord], latest: dict[str, tuple[str, str]]) -> RunRow:
    records = [stored.record for stored in group]
    first, last = records[0], records[-1]
    dvc_name = first.dvc.experiment if first.dvc is not None else None
    params: dict[str, JSONValue] = {}
    own: dict[str, JSONValue] = {}
    metrics: dict[str, float] = {}
    data: dict[str, str] = {}
    read: dict[str, tuple[str, str]] = {}  # what the row's own runs read: path -> (hash, run)
    packages: dict[str, str] = {}
    sources: dict[str, DataSource] = {}
    for record in records:
        params.update(record.effective_params or record.params)
        own.update(record.params)
        metrics.update(record.metrics)
        for entry in record.lineage:
            data.update(entry.data)
        versions = record.data_versions()
        data.update(versions)
        read.update({path: (digest, record.run_id) for path, digest in versions.items()})
        packages.update(record.packages)
        sources.update({source.url: source for source in record.sources})
    errors = tuple(
        RunError(record.run_id, record.step, record.error) for record in records if record.error
    )
    failed = any(record.status != "finished" for record in records)
    dirty = any(record.git is not None and record.git.dirty for record in records)
    return RunRow(
        label=dvc_name or first.run_id,
        experiment=first.experiment,
        run_ids=tuple(record.run_id for record in records),
        steps=tuple(str(r.step) for r in records) if all(r.step for r in records) else (),
        status="failed" if failed else last.status,
        start=first.start,
        params=params,
        own_params=own,
        metrics=dict(metrics),
        data=dict(sorted(data.items())),
        commit=first.git.commit if first.git is not None else None,
        dirty=dirty,
        python=last.python,
        packages=dict(sorted(packages.items())),
        scripts=tuple(dict.fromkeys(record.script for record in records)),
        notebook=first.notebook,
        dvc_experiment=dvc_name,
        errors=errors,
        mixed=_mixed(records),
        stale=_stale(records, read, latest),
        figures=tuple(path for stored in group for path in _figures(stored)),
        objective=next(
            (record.objective for record in reversed(records) if record.objective), None
        ),
        sources=sources,
    )


def _mixed(records: list[RunRecord]) -> tuple[MixedParam, ...]:
    """Parameters whose value differs along the lineage of ``records`` (or between them)."""
    names: list[str] = []
    for record in records:
        names += [name for name in record.mixed_params if name not in names]
    for name in sorted({name for record in records for name in record.effective_params}):
        values = {
            value_key(record.effective_params[name])
            for record in records if name in record.effective_params
        }
        if len(values) > 1 and name not in names:
            names.append(name)
    mixed = []
    for name in names:
        found: dict[str, tuple[JSONValue, list[str]]] = {}
        for record in records:
            sources: list[tuple[Any, str]] = []
            if name in record.params:
                sources.append((record.params[name], record.run_id))
            elif name in record.effective_params and not record.lineage:
                sources.append((record.effective_params[name], record.run_id))
            sources += [
                (entry.params[name], entry.run_id or "?")
                for entry in record.lineage if name in entry.params
            ]
            for value, run_id in sources:
                runs = found.setdefault(value_key(value), (value, []))[1]
                if run_id not in runs:
                    runs.append(run_id)
        if len(found) > 1:
            mixed.append(
                MixedParam(name, tuple((value, tuple(runs)) for value, runs in found.values()))
            )
    return tuple(mixed)


def _stale(
    records: list[RunRecord],
    read: dict[str, tuple[str, str]],
    latest: dict[str, tuple[str, str]],
) -> tuple[StaleInput, ...]:
    """Inputs computed from another version of a data file than this row's runs, or the
    latest run, read."""
    stale = []
    for record in records:
        for entry in record.lineage:
            for path, digest in sorted(entry.data.items()):
                by_this_run = path in read
                newer, newer_run = read[path] if by_this_run else latest.get(path, (digest, ""))
                if newer != digest:
                    stale.append(
                        StaleInput(
                            input=entry.name, step=entry.step, run_id=entry.run_id, path=path,
                            computed_from=digest, newer=newer, newer_run=newer_run,
                            by_this_run=by_this_run,
                        )
                    )
    return tuple(stale)


def _figures(stored: StoredRecord) -> list[Path]:
    base = stored.run_dir / "artifacts"
    return [
        base / name for name in stored.record.artifacts
        if name.startswith("figures/") and name.lower().endswith(_FIGURE_SUFFIXES)
        and (base / name).is_file()
    ]
