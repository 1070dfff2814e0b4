"""The ``nb2pipe runs`` command: options in; tables, a diff, JSON or an HTML page out."""

from __future__ import annotations

import json
from pathlib import Path

import click

from nb2pipe.errors import Nb2PipeError

__all__ = ["runs"]


@click.command()
@click.argument("directory", required=False, default=".", type=click.Path(path_type=Path))
@click.option("--experiment", metavar="NAME", help="Show only this experiment.")
@click.option("--sort", "sort", metavar="NAME", help="Sort by a metric (or parameter), highest first.")
@click.option("--ascending", is_flag=True, help="With --sort: lowest first.")
@click.option(
    "--since", metavar="DATE|DURATION",
    help="Only runs started since a date (2026-12-01) or in the last 3d, 12h, 30m, 2w.",
)
@click.option("--last", "last", metavar="N", help="Only the N most recent runs of each experiment.")
@click.option(
    "--where", "where", metavar="EXPR", multiple=True,
    help="Only runs where a metric or parameter compares so: 'accuracy>0.9' (<, <=, >, >=, ==, "
    "!=); several are all required.",
)
@click.option(
    "--diff", "diff", nargs=2, metavar="A B",
    help="Show what differs between two runs (table numbers, run ids or unique id prefixes).",
)
@click.option(
    "--config", "config_of", metavar="RUN",
    help="Print a finished run's effective parameters as a --config file (YAML), with the data "
    "versions it read pinned: nb2pipe runs --config 3 > params.yaml.",
)
@click.option(
    "--html", "html", metavar="FILE", type=click.Path(path_type=Path),
    help="Write a static page: per experiment a sortable table, plots and figures.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the runs (or the --diff) as JSON.")
@click.option(
    "--to-mlflow", "to_mlflow", metavar="URI",
    help="Copy the runs (those the filters show) into an MLflow store, e.g. sqlite:///mlflow.db; "
    "runs already there are left alone.",
)
@click.option(
    "--dvc", "with_dvc", is_flag=True,
    help="Also list DVC experiments that left no run record (`dvc exp show`).",
)
def runs(
    directory: Path, experiment: str | None, sort: str | None, ascending: bool,
    since: str | None, last: str | None, where: tuple[str, ...], diff: tuple[str, str] | None,
    config_of: str | None, html: Path | None, as_json: bool, to_mlflow: str | None, with_dvc: bool,
) -> None:
    """List and compare the recorded runs of exported scripts in DIRECTORY (or DIRECTORY/runs).

    One table per experiment (the notebook a script came from, or --experiment of the run):
    the parameters that vary (effective ones: for a --step run, also those of the runs that
    produced its inputs), metrics, which runs read different data (SHA-256 of the files they
    opened; DVC's md5 for files DVC tracks) or ran different code (git commit). A value marked
    ! belongs to no single run's settings: a note below the table says why. The stages of one
    DVC experiment are one row. The best run of each experiment by its primary metric is
    marked >.

    Data read from URLs and DVC registries is compared by its version (S3 versionId, DVC
    md5, SHA-256 of the content); --diff names both versions; --config RUN writes a run's
    parameters with the versions it read pinned.

    --to-mlflow URI copies the runs shown into an MLflow store (then `mlflow ui
    --backend-store-uri URI` shows them); a run already there is not copied again.
    """
    from nb2pipe.runs.compare import RunsQuery, compare_runs
    from nb2pipe.runs.filters import RunFilter, parse_since, parse_where
    from nb2pipe.runs.records import find_runs_dir, read_records

    # an Nb2PipeError is reported by the nb2pipe command: one line, exit 2 (1 for MLflow's)
    query = RunsQuery(
        experiment=experiment, sort=sort, ascending=ascending,
        filter=RunFilter(
            since=parse_since(since) if since is not None else None,
            where=tuple(parse_where(text) for text in where),
            last=_count(last) if last is not None else None,
        ),
    )
    runs_dir = find_runs_dir(directory, allow_empty=with_dvc)
    records = read_records(runs_dir)
    extra = []
    if with_dvc:
        from nb2pipe.runs.dvc_experiments import read_dvc_experiments

        extra = read_dvc_experiments(records.project)
    comparison = compare_runs(records, query, extra_rows=extra)
    if diff is not None:
        from nb2pipe.runs.diff import diff_runs, format_diff, resolve_run

        found = diff_runs(
            comparison, resolve_run(comparison, diff[0]), resolve_run(comparison, diff[1])
        )
    if config_of is not None:
        from nb2pipe.runs.config import pinned_config
        from nb2pipe.runs.diff import resolve_run, run_title

        row = resolve_run(comparison, config_of, option="--config")
        pinned = pinned_config(row, f"parameters of {run_title(comparison, row)}")
    if html is not None:
        from nb2pipe.runs.html import write_page

        write_page(comparison, html)
    if to_mlflow is not None:
        from nb2pipe.runs.to_mlflow import copy_to_mlflow

        listed = {run_id for row in comparison.rows for run_id in row.run_ids}
        copied = copy_to_mlflow(
            [stored for stored in records.records if stored.record.run_id in listed], to_mlflow
        )
    if to_mlflow is not None:
        click.echo(copied.summary())
        return
    if config_of is not None:
        click.echo(pinned.to_yaml(), nl=False)
        for note in pinned.notes:
            click.echo(f"nb2pipe: note: {note}", err=True)
        return
    if diff is not None:
        click.echo(json.dumps(found.to_json(), indent=1) if as_json else format_diff(found))
    elif as_json:
        click.echo(json.dumps(comparison.to_json(), indent=1))
    elif html is not None:
        shown = len(comparison.rows)
        count = len(comparison.experiments)
        click.echo(
            f"wrote {html}: {count} experiment{'s' if count != 1 else ''}, "
            f"{shown} run{'s' if shown != 1 else ''}"
        )
    else:
        from nb2pipe.runs.table import format_table

        click.echo(format_table(comparison))


def _count(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise Nb2PipeError(f"--last {text}: expected a whole number of runs (1 or more)")
    return int(text)
