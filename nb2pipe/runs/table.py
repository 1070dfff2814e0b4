"""Format a :class:`RunComparison` as terminal tables, one per experiment, with notes below each.

A value no single run describes ends in ``!`` (a parameter that differs along a run's lineage,
the metrics computed from it, an input computed from another version of a data file); a note
under the table says which parameter or file and which runs. The best run of an experiment
by its primary metric is marked ``>``, and a note says by which metric and why that one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from nb2pipe.runs.compare import Experiment, RunComparison
from nb2pipe.runs.rows import MixedParam, RunRow, value_key
from nb2pipe.runs.values import (
    data_name,
    format_number,
    format_value,
    short_hash,
    source_version,
)

__all__ = [
    "BEST",
    "best_note",
    "data_cell",
    "experiment_notes",
    "format_table",
    "heading",
    "metric_cell",
    "mixed_note",
    "param_cell",
    "run_reference",
    "stale_notes",
    "varying_names",
]

MARK = "!"
#: marks the best row of an experiment (by its primary metric)
BEST = ">"


def format_table(comparison: RunComparison) -> str:
    """Every experiment's table and notes, a blank line between them, then the records that
    could not be read."""
    blocks = [_experiment_block(experiment) for experiment in comparison.experiments]
    lines = "\n\n".join(blocks).splitlines()
    for path, reason in comparison.unreadable.items():
        lines.append(f"unreadable record {path}: {reason}")
    return "\n".join(lines)


def heading(experiment: Experiment) -> list[str]:
    """The experiment's name, and the scripts and notebooks its runs came from."""
    parts = []
    if experiment.scripts:
        noun = "script" if len(experiment.scripts) == 1 else "scripts"
        parts.append(f"{noun} {', '.join(experiment.scripts)}")
    if experiment.notebooks:
        noun = "notebook" if len(experiment.notebooks) == 1 else "notebooks"
        parts.append(f"{noun} {', '.join(experiment.notebooks)}")
    count = len(experiment.rows)
    runs = f"{count} run{'s' if count != 1 else ''}"
    if count != experiment.total:
        runs = f"{count} of {experiment.total} runs shown"
    return [f"experiment {experiment.name}", ", ".join([*parts, runs])]


def varying_names(rows: Iterable[RunRow]) -> tuple[list[str], list[str]]:
    """The parameters whose (effective) value differs between rows, and those that do not."""
    rows = list(rows)
    names = _names(row.params for row in rows)
    varying = [
        name for name in names
        if len({value_key(row.params.get(name)) for row in rows}) > 1
        or any(mixed.name == name for row in rows for mixed in row.mixed)
    ]
    return varying, [name for name in names if name not in varying]


def param_cell(row: RunRow, name: str) -> str:
    """A parameter's value in ``row``; every value along the lineage, marked, when mixed."""
    mixed = next((found for found in row.mixed if found.name == name), None)
    if mixed is not None:
        return "|".join(format_value(value) for value, _runs in mixed.values) + MARK
    return format_value(row.params.get(name))


def metric_cell(row: RunRow, name: str) -> str:
    """A metric of ``row``, marked when no single set of values describes the row."""
    value = row.metrics.get(name)
    text = format_number(value)
    return text + MARK if value is not None and row.flagged else text


def data_cell(experiment: Experiment, row: RunRow) -> str:
    """Which version of each file with several versions ``row`` read (``wine.csv@2``), ``!``
    after a file one of its inputs was computed from another version of."""
    stale = {found.path for found in row.stale}
    marks = []
    for path in row.data:
        version = experiment.data_version(row, path)
        name = data_name(path)
        if version is not None:
            marks.append(f"{name}@{version}" + (MARK if path in stale else ""))
        elif path in stale:
            marks.append(name + MARK)
    if marks:
        return ", ".join(marks)
    return "same" if row.data else "-"


def run_reference(experiment: Experiment, run_id: str | None) -> str:
    """``run 3`` for a run shown in the table, else ``run <run id>``."""
    if run_id is None:
        return "a run without a record"
    for row in experiment.rows:
        if run_id in row.run_ids:
            return f"run {experiment.number(row)}"
    return f"run {run_id}"


def _experiment_block(experiment: Experiment) -> str:
    rows = experiment.rows
    lines = heading(experiment)
    if not rows:
        lines.append("no runs match the filters")
        return "\n".join(lines)
    varying, _constant = varying_names(rows)
    metric_names = _names(row.metrics for row in rows)
    marked = experiment.best is not None
    header = ["#", "run", "steps", "status", *varying, *metric_names, "data", "commit"]
    table = [[""] * marked + header]
    for row in rows:
        marker = [BEST if experiment.is_best(row) else ""] if marked else []
        table.append(
            [
                *marker,
                str(experiment.number(row)),
                row.label,
                "+".join(row.steps) if row.steps else "all",
                row.status,
                *(param_cell(row, name) for name in varying),
                *(metric_cell(row, name) for name in metric_names),
                data_cell(experiment, row),
                (row.commit[:7] + ("*" if row.dirty else "")) if row.commit else "-",
            ]
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    numeric = {marked + i for i in (0, *range(4, 4 + len(varying) + len(metric_names)))}
    for line in table:
        cells = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        lines.append("  ".join(cells).rstrip())
    lines += experiment_notes(experiment)
    return "\n".join(lines)


def experiment_notes(experiment: Experiment) -> list[str]:
    """The lines under an experiment's table: the best run (marked ``>``), parameters every
    run shares, differing data and code, values no single run describes (``!``), failed runs'
    errors."""
    lines = []
    best = best_note(experiment)
    if best is not None:
        lines.append(best)
    _varying, constant = varying_names(experiment.rows)
    if constant:
        first = experiment.rows[0]
        same = ", ".join(f"{name}={format_value(first.params.get(name))}" for name in constant)
        lines.append(f"same in every run: {same}")
    lines += _differences(experiment)
    lines += _lineage_notes(experiment)
    lines += _failures(experiment)
    return lines


def best_note(experiment: Experiment) -> str | None:
    """``> best: run 4, accuracy 0.97 (highest; the first metric of the metrics cell)``."""
    row, primary = experiment.best, experiment.primary
    if row is None or primary is None:
        return None
    value = format_number(row.metrics[primary.metric])
    most = "highest" if primary.goal == "maximize" else "lowest"
    why = {
        "--sort": "as --sort --ascending asks" if primary.goal == "minimize" else "as --sort asks",
        "sweep": "the metric its sweep ranked by",
        "metrics": "the first metric of the metrics cell",
    }.get(primary.source, primary.source)
    return f"{BEST} best: run {experiment.number(row)}, {primary.metric} {value} ({most}; {why})"


def _differences(experiment: Experiment) -> list[str]:
    lines = []
    for path, versions in experiment.data_versions.items():
        tracked = experiment.dvc_files.get(path)
        name = path
        if tracked is not None:
            name = f"{path} (DVC {tracked.path}, md5 {short_hash(tracked.md5)} in {tracked.source})"
        parts = []
        for number, digest in enumerate(versions, 1):
            users = [
                str(experiment.number(row)) for row in experiment.rows
                if row.data.get(path) == digest
            ]
            md5 = tracked.versions.get(digest) if tracked is not None else None
            shown = short_hash(digest) + (f" = md5 {short_hash(md5)}" if md5 else "")
            source = next(
                (row.sources[path] for row in experiment.rows
                 if path in row.sources and row.data.get(path) == digest), None,
            )
            if source is not None:
                shown = source_version(source)
            parts.append(f"@{number} = {shown} (runs {', '.join(users)})")
        lines.append(f"data differs: {name}: " + "; ".join(parts))
    if experiment.commits:
        parts = []
        for commit in experiment.commits:
            users = [str(experiment.number(row)) for row in experiment.rows if row.commit == commit]
            parts.append(f"{commit[:7]} (runs {', '.join(users)})")
        lines.append("code differs: " + "; ".join(parts))
    dirty = [str(experiment.number(row)) for row in experiment.rows if row.dirty]
    if dirty:
        lines.append(f"* uncommitted changes to tracked files in runs {', '.join(dirty)}")
    return lines


def mixed_note(experiment: Experiment, mixed: MixedParam) -> str:
    """``alpha differs along its lineage: 5 (run 3), 10 (run 2)``."""
    values = ", ".join(
        f"{format_value(value)} ({', '.join(run_reference(experiment, run) for run in runs)})"
        for value, runs in mixed.values
    )
    return f"{mixed.name} differs along its lineage: {values}"


def stale_notes(experiment: Experiment, row: RunRow) -> list[str]:
    """``inputs model, X_test (step train, run 2) were computed from data/x.csv 79e0..., but
    the latest run (run 4) read 4c1d...``: one line per producing run and data version."""
    groups: dict[tuple[str, str | None, str, str, str, str, bool], list[str]] = {}
    for found in row.stale:
        key = (found.step, found.run_id, found.path, found.computed_from, found.newer,
               found.newer_run, found.by_this_run)
        groups.setdefault(key, []).append(found.input)
    notes = []
    for (step, run_id, path, computed_from, newer, newer_run, by_this_run), names in groups.items():
        reader = (
            "this run" if by_this_run
            else f"{run_reference(experiment, newer_run)}, the latest to read it,"
        )
        what = f"input {names[0]} was" if len(names) == 1 else f"inputs {', '.join(names)} were"
        notes.append(
            f"{what} computed (step {step}, {run_reference(experiment, run_id)}) from {path} "
            f"{short_hash(computed_from)}, but {reader} read {short_hash(newer)}"
        )
    return notes


def _lineage_notes(experiment: Experiment) -> list[str]:
    lines = []
    for row in experiment.rows:
        notes = [mixed_note(experiment, mixed) for mixed in row.mixed]
        notes += stale_notes(experiment, row)
        if notes:
            advice = "no single set of values describes its results: run the pipeline again"
            lines.append(f"{MARK} run {experiment.number(row)}: " + "; ".join(notes) + f"; {advice}")
    return lines


def _failures(experiment: Experiment) -> list[str]:
    lines = []
    for row in experiment.rows:
        for error in row.errors:
            where = f" in step {error.step}" if error.step and len(row.run_ids) > 1 else ""
            message = (error.message.strip().splitlines() or [""])[0]
            lines.append(f"run {experiment.number(row)} failed{where}: {message}")
    return lines


def _names(mappings: Iterable[Mapping[str, object]]) -> list[str]:
    names: dict[str, None] = {}
    for mapping in mappings:
        names.update(dict.fromkeys(mapping))
    return list(names)
