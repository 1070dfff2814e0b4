"""The ``nb2pipe sweep`` command: a search space in; runs, progress and the best run out."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from nb2pipe_runtime.record import Objective

from nb2pipe.errors import Nb2PipeError

__all__ = ["sweep"]

EXIT_INTERRUPTED = 130


@click.command()
@click.argument("script", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-p", "--param", "assignments", metavar="NAME=V1,V2", multiple=True,
    help="Values of a parameter (typed by the script); the grid is every combination.",
)
@click.option(
    "--config", "space_file", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False),
    help="YAML or JSON file of NAME: [values] or NAME: {uniform|log_uniform|int_uniform: [lo, hi]}.",
)
@click.option("--samples", type=click.IntRange(min=1), help="Run K random points instead of the grid.")
@click.option("--seed", type=int, help="With --samples: the random seed (a repeatable sweep).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs at a time.")
@click.option(
    "--sort", "sort", metavar="METRIC",
    help="Rank the runs by this metric (default: the first the notebook's metrics cell assigns).",
)
@click.option(
    "--ascending", is_flag=True,
    help="Lower is better (without it: lower for a loss, an error, a cost or a duration, by the "
    "metric's name; higher otherwise).",
)
@click.option(
    "--runs-dir", type=click.Path(path_type=Path, file_okay=False), default=Path("runs"),
    show_default=True, help="Where the runs are recorded (the script's --runs-dir).",
)
@click.option(
    "--python", "python", metavar="PATH", default=sys.executable,
    help="The interpreter that runs the script (default: this one).",
)
def sweep(
    script: Path, assignments: tuple[str, ...], space_file: Path | None, samples: int | None,
    seed: int | None, jobs: int, sort: str | None, ascending: bool, runs_dir: Path, python: str,
) -> None:
    """Run SCRIPT (exported by nb2pipe) over a grid of its parameters, or random points of it.

    Each point is a normal recorded run, in the same runs folder and experiment as the
    script's other runs; the values are checked by the script's own parser before anything
    runs. Failed points are reported and the others go on; Ctrl-C stops cleanly, keeping the
    finished runs. At the end, the runs ranked by a metric, the best one marked.
    """
    from nb2pipe.sweep.runner import run_sweep
    from nb2pipe.sweep.script import check_points
    from nb2pipe.sweep.space import parse_assignment, points, read_space_file

    try:
        if not script.is_file():
            raise Nb2PipeError(f"{script}: no such script")
        space = read_space_file(space_file) if space_file is not None else {}
        for text in assignments:
            name, choice = parse_assignment(text)
            space[name] = choice
        chosen = points(space, samples, seed)
        checked = check_points(script.resolve(), python, chosen)
    except Nb2PipeError as exc:
        click.echo(f"nb2pipe: error: {exc}", err=True)
        sys.exit(2)
    swept = [{name: effective[name] for name in point} for point, effective in zip(chosen, checked.effective)]
    click.echo(
        f"sweeping {script.name}: {len(swept)} run(s) of {', '.join(space)}, {jobs} at a time",
        err=True,
    )
    progress = _Progress(len(swept))
    objective = None
    if sort is not None or ascending:
        goal = "minimize" if ascending else Objective.goal_of(sort or "")
        objective = f"{sort or ''}:{goal}"
    result = run_sweep(script.resolve(), python, swept, jobs=jobs, runs_dir=runs_dir.resolve(),
                       objective=objective, on_change=progress.update)
    progress.close(result)
    for point in result.failed:
        click.echo(f"point {point.number} ({point.label}) failed: {point.error}", err=True)
    if result.interrupted:
        click.echo(
            f"interrupted: {sum(p.status == 'finished' for p in result.points)} run(s) finished "
            f"and kept; logs in {result.folder}", err=True,
        )
    _report(result, runs_dir, sort, ascending)
    if result.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(1 if result.failed else 0)


class _Progress:
    """A live bar on a terminal (runs done/failed, ETA); a line per finished run elsewhere."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.reported: set[int] = set()
        self.started = time.monotonic()
        self.bar = None
        if sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
            from rich.progress import TimeRemainingColumn

            self.bar = Progress(
                TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[failed]} failed"), TimeRemainingColumn(),
                transient=True,
            )
            self.task = self.bar.add_task("sweep", total=total, failed=0)
            self.bar.start()

    def update(self, result: object) -> None:
        from nb2pipe.sweep.runner import SweepRun

        assert isinstance(result, SweepRun)
        done = [p for p in result.points if p.status in ("finished", "failed")]
        failed = sum(p.status == "failed" for p in done)
        if self.bar is not None:
            self.bar.update(self.task, completed=len(done), failed=failed)
            return
        for point in done:
            if point.number in self.reported:
                continue
            self.reported.add(point.number)
            elapsed = time.monotonic() - self.started
            left = elapsed / len(self.reported) * (self.total - len(self.reported))
            click.echo(
                f"[{len(self.reported)}/{self.total}, {failed} failed, ~{left:.0f} s left] "
                f"point {point.number} ({point.label}): {point.status} in {point.seconds:.1f} s"
                + (f", run {point.run_id}" if point.run_id else ""),
                err=True,
            )

    def close(self, result: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _report(result: object, runs_dir: Path, sort: str | None, ascending: bool) -> None:
    """The sweep's runs as ``nb2pipe runs`` shows them, ranked, the best one named."""
    from nb2pipe.runs.compare import RunsQuery, compare_runs
    from nb2pipe.runs.records import RecordSet, read_records
    from nb2pipe.runs.table import format_table
    from nb2pipe.sweep.runner import SweepRun

    assert isinstance(result, SweepRun)
    ids = set(result.run_ids)
    if not ids:
        return
    found = read_records(runs_dir)
    records = RecordSet(runs_dir=found.runs_dir, records=tuple(
        stored for stored in found.records if stored.record.run_id in ids
    ))
    try:
        # the runs recorded the sweep's metric (or the notebook's first) as their objective
        comparison = compare_runs(records)
        primary = comparison.experiments[0].primary if comparison.experiments else None
        if sort is not None:
            lower = ascending or Objective.goal_of(sort) == "minimize"
            comparison = compare_runs(records, RunsQuery(sort=sort, ascending=lower))
        elif primary is not None:
            comparison = compare_runs(
                records, RunsQuery(sort=primary.metric, ascending=primary.goal == "minimize")
            )
    except Nb2PipeError as exc:  # --sort names no metric of these runs
        click.echo(f"nb2pipe: error: {exc}", err=True)
        sys.exit(2)
    click.echo(format_table(comparison))
    experiment = comparison.experiments[0] if comparison.experiments else None
    if experiment is None or experiment.best is None or experiment.primary is None:
        return
    best = experiment.best
    metric = experiment.primary.metric
    point = next(p for p in result.points if p.run_id in best.run_ids)
    click.echo(f"best: run {best.label}, {metric} {best.metrics[metric]:.6g} ({point.label})")
