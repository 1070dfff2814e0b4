"""The ``nb2pipe runs`` command: options in, table or JSON out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from nb2pipe.errors import Nb2PipeError

__all__ = ["runs"]


@click.command()
@click.argument("directory", required=False, default=".", type=click.Path(path_type=Path))
@click.option("--sort", "sort", metavar="METRIC", help="Sort by a metric (or parameter), highest first.")
@click.option("--ascending", is_flag=True, help="With --sort: lowest first.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs and differences as JSON.")
@click.option(
    "--dvc", "with_dvc", is_flag=True,
    help="Also list DVC experiments that left no run record (`dvc exp show`).",
)
def runs(directory: Path, sort: str | None, ascending: bool, as_json: bool, with_dvc: bool) -> None:
    """List the recorded runs of exported pipelines in DIRECTORY (or DIRECTORY/runs).

    A table of parameters that vary, metrics, and which runs read different data (SHA-256 of
    the files they opened) or ran different code (git commit). The stages of one DVC
    experiment are one row.
    """
    from nb2pipe.runs import compare_runs, find_runs_dir, format_table, read_records

    try:
        runs_dir = find_runs_dir(directory, allow_empty=with_dvc)
        records, unreadable = read_records(runs_dir)
        extra = []
        if with_dvc:
            from nb2pipe.runs.dvc_experiments import read_dvc_experiments

            project = runs_dir.parent if runs_dir.name == "runs" else runs_dir
            extra = read_dvc_experiments(project)
    except Nb2PipeError as exc:
        click.echo(f"nb2pipe: error: {exc}", err=True)
        sys.exit(2)
    comparison = compare_runs(
        records, sort=sort, ascending=ascending, unreadable=unreadable, extra_rows=extra
    )
    if as_json:
        click.echo(json.dumps(comparison.to_json(), indent=1))
    else:
        click.echo(format_table(comparison))
