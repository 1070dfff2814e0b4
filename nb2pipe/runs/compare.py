"""Group run rows by experiment, filter and sort them, and find where an experiment's runs differ.

Rows are numbered once across all experiments (the numbers ``--diff`` accepts). Within an
experiment, two rows *differ in data* when a file both read has different SHA-256 hashes, and
*in code* when their git commits differ; the *best* row is the finished one whose primary
metric (``--sort``'s, the sweep's or the notebook's first metric) is highest, or lowest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nb2pipe_runtime.record import Goal, Objective

from nb2pipe.errors import Nb2PipeError
from nb2pipe.runs.dvc_data import DvcTracked, find_dvc_tracked
from nb2pipe.runs.filters import RunFilter
from nb2pipe.runs.records import RecordSet, moment
from nb2pipe.runs.rows import RunRow, build_rows

__all__ = [
    "Experiment",
    "PrimaryMetric",
    "RunComparison",
    "RunsQuery",
    "best_row",
    "compare_runs",
    "known_names",
    "primary_metric",
]


@dataclass(frozen=True)
class RunsQuery:
    """What to show: one experiment or all, the filters, the order."""

    experiment: str | None = None
    #: a metric (or parameter) to sort by, highest first unless ``ascending``
    sort: str | None = None
    ascending: bool = False
    filter: RunFilter = field(default_factory=RunFilter)


@dataclass(frozen=True)
class PrimaryMetric:
    """What the best run of an experiment is best at, and who said so."""

    metric: str
    goal: Goal
    #: ``--sort`` (this command's), ``sweep`` (the metric ``nb2pipe sweep`` ranked the runs by)
    #: or ``metrics`` (the first metric the notebook's metrics cell assigns)
    source: str

    def to_json(self) -> dict[str, str]:
        return {"metric": self.metric, "goal": self.goal, "source": self.source}


@dataclass(frozen=True)
class Experiment:
    """The shown runs of one experiment and where they differ."""

    name: str
    rows: tuple[RunRow, ...]
    first_number: int  #: the table number of ``rows[0]``
    total: int  #: runs of the experiment before filtering
    scripts: tuple[str, ...] = ()
    notebooks: tuple[str, ...] = ()
    #: data file -> its distinct hashes in order of first use (only files with several)
    data_versions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: distinct commits in order of first use (when there are several)
    commits: tuple[str, ...] = ()
    #: data files DVC tracks (recorded path -> DVC's name and md5)
    dvc_files: dict[str, DvcTracked] = field(default_factory=dict)
    primary: PrimaryMetric | None = None
    #: the finished, unflagged row whose primary metric is best (the oldest of equals);
    #: ``None`` when no shown row has it
    best: RunRow | None = None

    def is_best(self, row: RunRow) -> bool:
        return self.best is row

    def number(self, row: RunRow) -> int:
        """The table number of ``row``."""
        return self.first_number + next(i for i, found in enumerate(self.rows) if found is row)

    def data_version(self, row: RunRow, path: str) -> int | None:
        """1-based version of ``path`` that ``row`` read, if that file has several versions."""
        versions = self.data_versions.get(path)
        if versions is None or path not in row.data:
            return None
        return versions.index(row.data[path]) + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scripts": list(self.scripts),
            "notebooks": list(self.notebooks),
            "total": self.total,
            "primary_metric": self.primary.to_json() if self.primary is not None else None,
            "best": self.number(self.best) if self.best is not None else None,
            "runs": [
                {"number": self.number(row), "best": self.is_best(row), **row.to_json()}
                for row in self.rows
            ],
            "data_versions": {path: list(hashes) for path, hashes in self.data_versions.items()},
            "commits": list(self.commits),
            "dvc_files": {path: tracked.to_json() for path, tracked in self.dvc_files.items()},
        }


@dataclass(frozen=True)
class RunComparison:
    """The experiments to show, and the records that could not be read."""

    experiments: tuple[Experiment, ...]
    #: ``run.json`` path -> why it cannot be read
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> tuple[RunRow, ...]:
        """Every shown row, in table order."""
        return tuple(row for experiment in self.experiments for row in experiment.rows)

    def experiment_of(self, row: RunRow) -> Experiment:
        """The experiment section ``row`` is shown in."""
        return next(e for e in self.experiments if any(found is row for found in e.rows))

    def to_json(self) -> dict[str, Any]:
        return {
            "experiments": [experiment.to_json() for experiment in self.experiments],
            "runs": [
                {"number": number, "best": self.experiment_of(row).is_best(row), **row.to_json()}
                for number, row in enumerate(self.rows, 1)
            ],
            "unreadable": self.unreadable,
        }


def compare_runs(
    records: RecordSet, query: RunsQuery | None = None, extra_rows: Iterable[RunRow] = ()
) -> RunComparison:
    """Group ``records`` into experiments and rows, filter and sort them.

    Parameters
    ----------
    records
        The records of a runs folder.
    query
        The experiment, filters and order to show.
    extra_rows
        Rows from elsewhere (DVC experiments without records); a row whose label a record's
        row has is left out.

    Returns
    -------
    RunComparison
        The experiments in order of their first run, rows numbered across them.

    Raises
    ------
    Nb2PipeError
        An unknown experiment, or a ``--sort``/``--where`` name no run has.
    """
    query = query or RunsQuery()
    rows = build_rows(records.records)
    labels = {row.label for row in rows}
    rows += [row for row in extra_rows if row.label not in labels]
    by_name: dict[str, list[RunRow]] = {}
    for row in sorted(rows, key=lambda row: moment(row.start)):
        by_name.setdefault(row.experiment, []).append(row)
    if query.experiment is not None:
        if query.experiment not in by_name:
            raise Nb2PipeError(
                f"--experiment {query.experiment}: no such experiment; known: "
                + (", ".join(sorted(by_name)) or "none")
            )
        by_name = {query.experiment: by_name[query.experiment]}
    every = [row for found in by_name.values() for row in found]
    _check_names(every, query)
    experiments = []
    number = 1
    for name, found in by_name.items():
        shown = _sorted(query.filter.apply(found), query)
        experiments.append(_experiment(name, found, shown, number, records, query))
        number += len(shown)
    return RunComparison(experiments=tuple(experiments), unreadable=dict(records.unreadable))


def known_names(rows: Sequence[RunRow]) -> tuple[list[str], list[str]]:
    """The metric names and the parameter names of ``rows``, in order of first use."""
    metrics: dict[str, None] = {}
    params: dict[str, None] = {}
    for row in rows:
        metrics.update(dict.fromkeys(row.metrics))
        params.update(dict.fromkeys(row.params))
    return list(metrics), [name for name in params if name not in metrics]


def _check_names(rows: Sequence[RunRow], query: RunsQuery) -> None:
    metrics, params = known_names(rows)
    asked = [("--sort", query.sort)] if query.sort is not None else []
    asked += [("--where", condition.name) for condition in query.filter.where]
    for option, name in asked:
        if name not in metrics and name not in params:
            raise Nb2PipeError(
                f"{option} {name}: no metric or parameter of that name; metrics: "
                f"{', '.join(metrics) or 'none'}; parameters: {', '.join(params) or 'none'}"
            )


def _sorted(rows: list[RunRow], query: RunsQuery) -> list[RunRow]:
    name = query.sort
    if name is None:
        return rows
    present = [row for row in rows if _sort_value(row, name) is not None]
    absent = [row for row in rows if _sort_value(row, name) is None]
    present.sort(key=lambda row: _sort_value(row, name) or (False, 0), reverse=not query.ascending)
    return present + absent


def _sort_value(row: RunRow, name: str) -> tuple[bool, Any] | None:
    """A sort key: numbers before text (parameters may be either), None when absent."""
    value = row.value(name)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    return (isinstance(value, str), value)


def primary_metric(rows: Sequence[RunRow], query: RunsQuery | None = None) -> PrimaryMetric | None:
    """The metric that makes a run of ``rows`` (one experiment's, oldest first) the best.

    ``--sort`` on a metric wins (highest first unless ``--ascending``). Else the runs' own
    objectives whose metric some run has: the one a sweep ranked by before the notebook's first
    metric, the latest run's before older ones. Records without one (written before format 2):
    the first metric, better higher or lower by its name.
    """
    metrics, _params = known_names(rows)
    if query is not None and query.sort is not None and query.sort in metrics:
        goal: Goal = "minimize" if query.ascending else "maximize"
        return PrimaryMetric(query.sort, goal, "--sort")
    chosen = [row.objective for row in rows if row.objective and row.objective.metric in metrics]
    for source in ("sweep", "metrics"):
        found = [objective for objective in chosen if objective.source == source]
        if found:
            return PrimaryMetric(found[-1].metric, found[-1].goal, source)
    if metrics:
        return PrimaryMetric(metrics[0], Objective.goal_of(metrics[0]), "metrics")
    return None


def best_row(rows: Sequence[RunRow], primary: PrimaryMetric | None) -> RunRow | None:
    """The finished row of ``rows`` whose primary metric is best; the oldest of equals.

    A row no single set of values describes (marked ``!``: its inputs were computed with other
    parameters or from another version of the data) is never the best: nobody could run it
    again. One candidate alone is not marked: there is nothing to be better than.
    """
    if primary is None:
        return None
    candidates = [
        row for row in sorted(rows, key=lambda row: moment(row.start))
        if row.status == "finished" and not row.flagged and primary.metric in row.metrics
    ]
    if len(candidates) < 2:
        return None
    sign = -1.0 if primary.goal == "maximize" else 1.0
    return min(candidates, key=lambda row: sign * row.metrics[primary.metric])


def _experiment(
    name: str, every: list[RunRow], rows: list[RunRow], first_number: int, records: RecordSet,
    query: RunsQuery,
) -> Experiment:
    by_start = sorted(rows, key=lambda row: moment(row.start))
    versions: dict[str, list[str]] = {}
    for row in by_start:
        for path, digest in row.data.items():
            seen = versions.setdefault(path, [])
            if digest not in seen:
                seen.append(digest)
    commits: list[str] = []
    for row in by_start:
        if row.commit and row.commit not in commits:
            commits.append(row.commit)
    primary = primary_metric(every, query)
    return Experiment(
        name=name,
        rows=tuple(rows),
        first_number=first_number,
        total=len(every),
        scripts=tuple(dict.fromkeys(script for row in every for script in row.scripts)),
        notebooks=tuple(dict.fromkeys(row.notebook for row in every if row.notebook)),
        data_versions={path: tuple(found) for path, found in versions.items() if len(found) > 1},
        commits=tuple(commits) if len(commits) > 1 else (),
        dvc_files=find_dvc_tracked(
            records.project, {path: set(found) for path, found in versions.items()}
        ),
        primary=primary,
        best=best_row(rows, primary),
    )
