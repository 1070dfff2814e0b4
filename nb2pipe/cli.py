"""The ``nb2pipe`` command: parse options, call the public API, map outcomes to exit codes.

Exit codes: 0 success, 1 a check failed (stale script, verification differences), 2 bad input
or usage. Every error is one line naming the file (and cell and line), never a traceback: a
command (its own module's too: ``sweep``, ``recover``, ``runs``) raises
:class:`~nb2pipe.errors.Nb2PipeError`, and the group reports it here (:func:`report_error`).
Scripts cannot import nb2pipe: the import guard they carry prints its one line itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from nb2pipe import __version__
from nb2pipe.errors import Nb2PipeError
from nb2pipe.runs.command import runs
from nb2pipe.sweep.command import sweep

__all__ = ["main"]

EXIT_OK = 0
EXIT_DIFFERS = 1
EXIT_BAD_INPUT = 2

MEGABYTE = 1024 * 1024
#: ``--max-size`` by default: nb2pipe.model.DEFAULT_MAX_SIZE in MB (kept literal, so that
#: building the command imports no model code; a test keeps the two equal)
DEFAULT_MAX_SIZE_MB = 256


def report_error(error: Nb2PipeError | str) -> None:
    """The one form of an error: ``nb2pipe: error: <message>``, one line on stderr."""
    click.echo(f"nb2pipe: error: {error}", err=True)


class _Commands(click.Group):
    """The ``nb2pipe`` group: any command's :class:`Nb2PipeError` is reported in one line
    (:func:`report_error`) and exits with the error's status (2, bad input, unless it says
    otherwise)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Nb2PipeError as exc:
            report_error(exc)
            ctx.exit(exc.exit_code)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nb2pipe")
def cli() -> None:
    """Make notebook work reproducible: export notebooks to scripts, verify they reproduce."""


@cli.command()
@click.argument("notebooks", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(),
    help="Script path (one notebook) or a folder (existing, or ending in /: created); "
    "default: NOTEBOOK.py beside it.",
)
@click.option("--force", is_flag=True, help="Overwrite an output file nb2pipe did not generate.")
@click.option(
    "--check", is_flag=True,
    help="Write nothing; exit 1 if a script is missing or out of date (for pre-commit).",
)
@click.option(
    "--allow-ipython", is_flag=True,
    help="Keep magics without a Python translation; the script then runs under `ipython`.",
)
@click.option(
    "--dvc", is_flag=True,
    help="Also write a DVC pipeline: a module per step, dvc.yaml and params.yaml.",
)
@click.option(
    "--airflow", is_flag=True,
    help="Also write NOTEBOOK_dag.py: the pipeline and a sweep of it as Airflow 3 DAGs.",
)
@click.option(
    "--kfp", is_flag=True,
    help="Also write NOTEBOOK_kfp.py: the pipeline and a grid of it for Kubeflow Pipelines v2.",
)
@click.option(
    "--kfp-image", metavar="IMAGE",
    help="The Kubeflow components' image, holding nb2pipe-runtime and the notebook's packages "
    "(implies --kfp).",
)
@click.option(
    "--kfp-packages", metavar="WHEEL", multiple=True,
    help="A wheel file or URL the Kubeflow components pip-install nb2pipe-runtime from "
    "(repeatable; implies --kfp).",
)
@click.option(
    "--prefect", is_flag=True,
    help="Also write NOTEBOOK_flow.py: the pipeline and a sweep of it as Prefect 3 flows, "
    "each step cached.",
)
@click.option(
    "--standalone", is_flag=True,
    help="Inline the parts of nb2pipe-runtime the script uses, so it needs nothing but the "
    "notebook's own packages.",
)
@click.option(
    "--strict-errors", is_flag=True,
    help="Refuse a cell whose saved output is an error, instead of dropping it like a "
    "raises-exception cell.",
)
@click.option(
    "--max-size", type=click.IntRange(min=0), default=DEFAULT_MAX_SIZE_MB, show_default=True,
    metavar="MB", help="Refuse notebooks larger than this, before reading them (0: no limit).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
def export(
    notebooks: tuple[Path, ...],
    output: str | None,
    force: bool,
    check: bool,
    allow_ipython: bool,
    dvc: bool,
    airflow: bool,
    kfp: bool,
    kfp_image: str | None,
    kfp_packages: tuple[str, ...],
    prefect: bool,
    standalone: bool,
    strict_errors: bool,
    max_size: int,
    quiet: bool,
) -> None:
    """Export tagged NOTEBOOKS to clean, parameterized Python scripts.

    Each notebook is exported on its own: a bad one is reported in one line and the others
    are still written; the exit status is then 2, and the last line counts both.
    """
    from nb2pipe.export import CheckStatus, ExportOptions, check_notebook, export_notebook
    from nb2pipe.export.options import ExportUsageError, export_target

    try:
        target = export_target(output, len(notebooks))
    except ExportUsageError as exc:
        raise click.UsageError(str(exc)) from None
    options = ExportOptions(
        output=target.output,
        output_is_folder=target.is_folder,
        force=force,
        allow_ipython=allow_ipython,
        dvc=dvc,
        airflow=airflow,
        kfp=kfp or bool(kfp_image or kfp_packages),
        kfp_image=kfp_image,
        kfp_packages=kfp_packages,
        prefect=prefect,
        standalone=standalone,
        strict_errors=strict_errors,
        max_notebook_size=max_size * MEGABYTE or None,
    )
    exit_code = EXIT_OK
    done = refused = 0  # scripts written (or, with --check, in sync); notebooks refused
    for notebook in notebooks:
        try:
            if check:
                status = check_notebook(notebook, options)
                if status is not CheckStatus.IN_SYNC:
                    click.echo(
                        f"{notebook}: the script is {status.value}; run `nb2pipe export {notebook}`",
                        err=True,
                    )
                    exit_code = max(exit_code, EXIT_DIFFERS)
                else:
                    done += 1
                continue
            result = export_notebook(notebook, options)
        except Nb2PipeError as exc:  # the other notebooks are still exported
            report_error(exc)
            exit_code = EXIT_BAD_INPUT
            refused += 1
            continue
        except OSError as exc:  # the output cannot be written (a file where a folder is, ...)
            where = Path(exc.filename) if exc.filename else None
            report_error(
                f"{notebook}: cannot write the script"
                + (f" ({where})" if where is not None else "")
                + f": {exc.strerror or exc}"
            )
            exit_code = EXIT_BAD_INPUT
            refused += 1
            continue
        done += 1
        if not quiet:
            for line in result.summary.lines():
                click.echo(line)
    if len(notebooks) > 1 and not quiet:
        click.echo(_tally(check, done, len(notebooks) - done - refused, refused), err=True)
    sys.exit(exit_code)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _tally(check: bool, done: int, stale: int, refused: int) -> str:
    """The last line of a batch: ``2 scripts written, 1 notebook refused``."""
    if check:
        parts = [_plural(done, "script") + " up to date"]
        if stale:
            parts.append(f"{stale} missing or out of date")
    else:
        parts = [_plural(done, "script") + " written"]
    if refused:
        parts.append(_plural(refused, "notebook") + " refused")
    return ", ".join(parts)


cli.add_command(runs)
cli.add_command(sweep)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``nb2pipe`` command and ``python -m nb2pipe``."""
    cli.main(args=argv, prog_name="nb2pipe")


from nb2pipe.verify.cli import verify  # noqa: E402  (registered last: it imports only click)

cli.add_command(verify)

from nb2pipe.recover.cli import recover  # noqa: E402  (it imports only click)

cli.add_command(recover)
