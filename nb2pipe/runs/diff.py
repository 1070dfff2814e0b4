"""``nb2pipe runs --diff A B``: what differs between two runs.

Effective parameters, data files (by SHA-256, and DVC's md5 where known), git commit and
uncommitted changes, Python and the versions of packages both runs imported (a package only one
of them imported is not a difference of versions: a ``--config`` file imports PyYAML, a
``--step`` run only its step's packages), metrics (with the change) and status. A run is named
by its table number, its run id, a DVC experiment's name, or any part of them that no other run
has (the end of an id: ids begin with the time the run started).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nb2pipe.errors import Nb2PipeError
from nb2pipe.runs.compare import RunComparison
from nb2pipe.runs.rows import RunRow
from nb2pipe.runs.table import mixed_note, param_cell, stale_notes
from nb2pipe.runs.values import format_number, short_hash, source_version

__all__ = ["Change", "RunDiff", "diff_runs", "format_diff", "resolve_run", "run_title"]

ABSENT = "(none)"


@dataclass(frozen=True)
class Change:
    """One thing that differs: its name, both values as shown, and the change of a metric."""

    name: str
    before: str
    after: str
    delta: str = ""

    def to_json(self) -> dict[str, str]:
        out = {"name": self.name, "before": self.before, "after": self.after}
        if self.delta:
            out["delta"] = self.delta
        return out


@dataclass(frozen=True)
class RunDiff:
    """The differences between two rows, by section, and a summary of what is the same."""

    before: RunRow
    after: RunRow
    before_title: str
    after_title: str
    #: section name -> its changes, in a fixed order (empty sections left out)
    sections: tuple[tuple[str, tuple[Change, ...]], ...]
    same: tuple[str, ...]
    #: lineage notes (mixed parameters, stale inputs) of either run
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": [self.before.to_json(), self.after.to_json()],
            "differences": {
                name: [change.to_json() for change in changes] for name, changes in self.sections
            },
            "same": list(self.same),
            "notes": list(self.notes),
        }


def resolve_run(comparison: RunComparison, token: str, option: str = "--diff") -> RunRow:
    """The row ``token`` names: a table number, a run id or unique prefix, a DVC experiment.

    Raises
    ------
    Nb2PipeError
        No row, or several, match.
    """
    rows = comparison.rows
    if token.isdigit() and 1 <= int(token) <= len(rows):
        return rows[int(token) - 1]
    exact = [row for row in rows if token == row.label or token in row.run_ids]
    if len(exact) == 1:
        return exact[0]
    # ids begin with the time they started: their distinctive part is the end (7e8c93), but
    # any part that only one run's id (or DVC experiment name) holds names it
    for matches in (
        [row for row in rows if any(name.startswith(token) for name in _names(row))],
        [row for row in rows if any(token in name for name in _names(row))],
    ):
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = ", ".join(row.label for row in matches[:5])
            names += ", ..." if len(matches) > 5 else ""
            raise Nb2PipeError(
                f"{option} {token}: several runs match ({names}); give more of the id"
            )
    raise Nb2PipeError(
        f"{option} {token}: no run with that number (1-{len(rows)}) or with that in its id"
        if rows else f"{option} {token}: no runs to compare"
    )


def _names(row: RunRow) -> tuple[str, ...]:
    """What names ``row``: its run ids and its label (a DVC experiment's name)."""
    return (row.label, *row.run_ids)


def diff_runs(comparison: RunComparison, before: RunRow, after: RunRow) -> RunDiff:
    """Compare two rows of ``comparison``.

    Parameters
    ----------
    comparison
        The table the rows are in (for their numbers and the DVC names of data files).
    before, after
        The rows, as the user named them.

    Returns
    -------
    RunDiff
        What differs, section by section.
    """
    sections: list[tuple[str, tuple[Change, ...]]] = []
    same: list[str] = []

    def section(name: str, changes: list[Change], unchanged: str | None) -> None:
        if changes:
            sections.append((name, tuple(changes)))
        if unchanged:
            same.append(unchanged)

    params = _changes(before.params, after.params, param_cell, before, after)
    section("parameters", params, _count(before.params, after.params, params, "parameter"))
    data = _data_changes(comparison, before, after)
    section("data", data, _count(before.data, after.data, data, "data file"))
    code = []
    if before.commit != after.commit:
        code.append(Change("commit", before.commit or ABSENT, after.commit or ABSENT))
    if before.dirty != after.dirty:
        code.append(Change("uncommitted changes", _yes(before.dirty), _yes(after.dirty)))
    section("code", code, "commit" if not code and before.commit else None)
    packages = []
    if before.python != after.python:
        packages.append(Change("python", before.python or ABSENT, after.python or ABSENT))
    # versions of the packages both runs imported; a package only one run imported is noise
    # (a --config file imports PyYAML, a --step run imports only its step's packages): what
    # made the runs take other paths shows as parameters, code or options
    before_packages, after_packages = before.packages, after.packages
    both = sorted(set(before_packages) & set(after_packages))
    packages += [
        Change(name, before_packages[name], after_packages[name])
        for name in both if before_packages[name] != after_packages[name]
    ]
    unchanged = [f"python {before.python}"] if before.python == after.python != "" else []
    count = sum(1 for name in both if before_packages[name] == after_packages[name])
    unchanged += [f"{count} package{'s' if count != 1 else ''}"] if count else []
    one_only = len(set(before_packages) ^ set(after_packages))
    if unchanged and one_only:
        unchanged[-1] += f" (and {one_only} imported by one run only)"
    section("packages", packages, ", ".join(unchanged) or None)
    metrics = _metric_changes(before, after)
    section("metrics", metrics, _count(before.metrics, after.metrics, metrics, "metric"))
    status = []
    if before.status != after.status:
        status.append(Change("status", before.status, after.status))
    old_error, new_error = _error(before), _error(after)
    if old_error != new_error:
        status.append(Change("error", old_error or ABSENT, new_error or ABSENT))
    section("status", status, f"status {before.status}" if not status else None)
    notes = []
    for row in (before, after):
        experiment = comparison.experiment_of(row)
        name = f"run {_number(comparison, row)}"
        notes += [f"{name}: {mixed_note(experiment, mixed)}" for mixed in row.mixed]
        notes += [f"{name}: {note}" for note in stale_notes(experiment, row)]
    return RunDiff(
        before=before, after=after,
        before_title=_title(comparison, before), after_title=_title(comparison, after),
        sections=tuple(sections), same=tuple(same),
        notes=tuple(notes),
    )


def format_diff(diff: RunDiff) -> str:
    """The diff as text: the two runs, each section's changes aligned, what is the same."""
    lines = [f"--- {diff.before_title}", f"+++ {diff.after_title}"]
    for name, changes in diff.sections:
        lines.append(f"{name}:")
        width = [max(len(getattr(c, part)) for c in changes) for part in ("name", "before")]
        for change in changes:
            line = f"  {change.name.ljust(width[0])}  {change.before.ljust(width[1])}  ->  {change.after}"
            lines.append(line + (f"  ({change.delta})" if change.delta else ""))
    if not diff.sections:
        lines.append("no differences")
    if diff.same:
        lines.append("same: " + ", ".join(diff.same))
    lines += [f"! {note}" for note in diff.notes]
    return "\n".join(lines)


def _number(comparison: RunComparison, row: RunRow) -> int:
    return next(i for i, found in enumerate(comparison.rows, 1) if found is row)


def run_title(comparison: RunComparison, row: RunRow) -> str:
    """``run 3: <run id> (experiment train, 2026-12-01T10:00:00)``."""
    return _title(comparison, row)


def _title(comparison: RunComparison, row: RunRow) -> str:
    number = _number(comparison, row)
    steps = f", steps {'+'.join(row.steps)}" if row.steps else ""
    return f"run {number}: {row.label} (experiment {row.experiment}{steps}, {row.start[:19]})"


def _changes(
    before: Mapping[str, Any], after: Mapping[str, Any],
    show: Callable[[RunRow, str], str], before_row: RunRow, after_row: RunRow,
) -> list[Change]:
    changes = []
    for name in dict.fromkeys([*before, *after]):
        if name in before and name in after and show(before_row, name) == show(after_row, name):
            continue  # the same value (a value mixed along a lineage shows all of them)
        changes.append(Change(
            name,
            show(before_row, name) if name in before else ABSENT,
            show(after_row, name) if name in after else ABSENT,
        ))
    return changes


def _data_changes(comparison: RunComparison, before: RunRow, after: RunRow) -> list[Change]:
    tracked = {
        path: found for experiment in (comparison.experiment_of(before),
                                       comparison.experiment_of(after))
        for path, found in experiment.dvc_files.items()
    }
    def shown(row: RunRow, path: str) -> str:
        if path not in row.data:
            return ABSENT
        digest = row.data[path]
        md5 = tracked[path].versions.get(digest) if path in tracked else None
        mark = "!" if any(found.path == path for found in row.stale) else ""
        source = row.sources.get(path)
        if source is not None and (source.identity or source.checks or "unversioned") == digest:
            return source_version(source) + mark
        return short_hash(digest) + (f" (md5 {short_hash(md5)})" if md5 else "") + mark

    changes = []
    for path in sorted(set(before.data) | set(after.data)):
        if before.data.get(path) != after.data.get(path):
            name = path if path not in tracked else f"{path} (DVC {tracked[path].path})"
            changes.append(Change(name, shown(before, path), shown(after, path)))
    return changes


def _metric_changes(before: RunRow, after: RunRow) -> list[Change]:
    changes = []
    for name in dict.fromkeys([*before.metrics, *after.metrics]):
        old, new = before.metrics.get(name), after.metrics.get(name)
        if old == new:
            continue
        delta = ""
        if old is not None and new is not None:
            change = new - old
            delta = ("+" if change >= 0 else "-") + format_number(abs(change))
            if old != 0:
                delta += f", {change / abs(old):+.1%}"
        changes.append(Change(
            name, format_number(old) if old is not None else ABSENT,
            format_number(new) if new is not None else ABSENT, delta,
        ))
    return changes


def _count(before: Mapping[str, Any], after: Mapping[str, Any], changes: list[Change],
           noun: str) -> str | None:
    changed = {change.name.split(" (DVC ")[0] for change in changes}
    unchanged = sum(1 for name in before if name in after and name not in changed)
    if not unchanged:
        return None
    return f"{unchanged} {noun}{'s' if unchanged != 1 else ''}"


def _error(row: RunRow) -> str | None:
    lines = [(error.message.strip().splitlines() or [""])[0] for error in row.errors]
    return "; ".join(lines) or None


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"

