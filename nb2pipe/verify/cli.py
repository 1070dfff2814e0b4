"""The ``nb2pipe verify`` command: parse options, call :func:`verify_paths`, write the reports.

Only click is imported at module level: ``nb2pipe export`` loads this module to build the
command group and must not pay for papermill, rich or the comparison code.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

import click

__all__ = ["verify"]

_DEFAULT_TIMEOUT = 600  # nb2pipe.verify.options.DEFAULT_TIMEOUT, kept in sync by a test
_DEFAULT_RTOL = 1e-6
_DEFAULT_IMAGE_TOLERANCE = 0.01  # nb2pipe.verify.images.DEFAULT_IMAGE_TOLERANCE
_DEFAULT_MAX_SIZE_MB = 256  # nb2pipe.model.DEFAULT_MAX_SIZE in MB

_REPORT_PATH = click.Path(path_type=Path, dir_okay=False, writable=True)


def _exit_on_sigterm() -> None:
    """CI cancels a job with SIGTERM: leave through SystemExit, so that verify ends the kernels
    and scripts it started (they run in their own sessions) instead of orphaning them."""

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, leave)


@click.command("verify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Verify N notebooks at once, each in its own fresh kernel.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=_DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds one cell may run before it fails with reason `timeout` (0: no limit). The "
    "exported script may run this long per code cell once the notebook's run ended (then "
    "`script-failed`: timed out).",
)
@click.option(
    "-p",
    "--parameter",
    "parameters",
    type=(str, str),
    multiple=True,
    metavar="NAME VALUE",
    help="Run with parameter NAME set to VALUE (typed like the notebook's parameters cell); "
    "the script gets the same value. Repeatable.",
)
@click.option(
    "--kernel",
    metavar="NAME",
    help="Run every notebook with kernel NAME instead of the one its metadata names.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    metavar="N",
    help="BLAS/OpenMP threads each kernel and script may use. Default: the cores divided "
    "among the kernels and scripts running at once (with -j 2 on 2 cores, 1 each), so that "
    "two notebooks doing linear algebra do not fight for the cores; OMP_NUM_THREADS and the "
    "like, if set, win.",
)
@click.option(
    "--no-script", is_flag=True, help="Skip script equivalence (export and run the script)."
)
@click.option(
    "--rtol",
    type=click.FloatRange(min=0),
    default=_DEFAULT_RTOL,
    show_default=True,
    help="Relative tolerance for numbers in text outputs.",
)
@click.option(
    "--image-tolerance",
    type=click.FloatRange(min=0, max=1),
    default=_DEFAULT_IMAGE_TOLERANCE,
    show_default=True,
    help="Largest mean absolute pixel difference of images, over the whole image and over "
    "each 32x32 tile, as a fraction of the value range.",
)
@click.option(
    "--update",
    is_flag=True,
    help="Write the fresh outputs and the hashes of the data files read back into each notebook.",
)
@click.option(
    "--strict-errors",
    is_flag=True,
    help="A cell saved with an error output must run cleanly (by default it is expected to "
    "raise, like a raises-exception cell).",
)
@click.option(
    "--json", "json_path", type=_REPORT_PATH, help="Write the report as JSON to this file."
)
@click.option(
    "--junit", "junit_path", type=_REPORT_PATH, help="Write the report as JUnit XML to this file."
)
@click.option(
    "--html", "html_path", type=_REPORT_PATH, help="Write the report as one static HTML page."
)
@click.option(
    "--max-size", type=click.IntRange(min=0), default=_DEFAULT_MAX_SIZE_MB, show_default=True,
    metavar="MB", help="Refuse notebooks larger than this, before reading them (0: no limit).",
)
@click.option(
    "--github-annotations",
    is_flag=True,
    help="Also print a GitHub Actions workflow command for each failing cell "
    "(`::error file=NB,line=L::...`, L the line of the cell's source in the .ipynb file), "
    "so that GitHub shows it on the notebook.",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Print only the notebooks that fail, and the summary."
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also list, for each compared cell, what was masked in its outputs before comparing "
    "(timings, progress bars, log stamps, addresses, temp paths) and the rule that masked it.",
)
def verify(
    paths: tuple[Path, ...],
    jobs: int,
    timeout: float,
    parameters: tuple[tuple[str, str], ...],
    kernel: str | None,
    threads: int | None,
    no_script: bool,
    rtol: float,
    image_tolerance: float,
    update: bool,
    strict_errors: bool,
    json_path: Path | None,
    junit_path: Path | None,
    html_path: Path | None,
    max_size: int,
    github_annotations: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Verify that notebooks reproduce from a fresh kernel, and that their scripts do too.

    Each notebook in PATHS (directories are searched) is checked statically, run top to bottom
    in a fresh kernel in its own folder, and its outputs compared with the saved ones; then it
    is exported and the script's output compared with the notebook's. The notebook file is
    never modified unless --update. Exit status: 0 all reproduce, 1 something differs or fails,
    2 bad input or usage.
    """
    from rich.console import Console
    from rich.text import Text

    from nb2pipe.files import write_atomically
    from nb2pipe.verify.api import verify_paths
    from nb2pipe.verify.errors import VerifyInterrupted, VerifyUsageError
    from nb2pipe.verify.html_report import write_html
    from nb2pipe.verify.junit import write_junit
    from nb2pipe.verify.options import VerifyOptions
    from nb2pipe.verify.terminal import TerminalProgress, render_summary

    options = VerifyOptions(
        jobs=jobs,
        timeout=timeout or None,
        parameters=tuple(parameters),
        script=not no_script,
        rtol=rtol,
        image_tolerance=image_tolerance,
        update=update,
        strict_errors=strict_errors,
        max_notebook_size=max_size * 1024 * 1024 or None,
        kernel=kernel,
        threads=threads,
    )
    # papermill, nbclient and jupyter_client log each failure they hand back to us; verify
    # reports it once, with its cell, so their log lines would only repeat it
    for logger in ("papermill", "traitlets", "nbclient"):
        logging.getLogger(logger).setLevel(logging.CRITICAL)
    _exit_on_sigterm()
    console = Console(highlight=False)
    try:
        with TerminalProgress(console, quiet=quiet, verbose=verbose) as progress:
            report = verify_paths(list(paths), options, progress)
    except VerifyUsageError as exc:
        raise click.UsageError(str(exc)) from None
    except VerifyInterrupted as exc:
        # Ctrl-C or SIGTERM: the kernels and scripts are ended; the reports still say what
        # the notebooks that finished found (exit 130, or 143)
        report = exc.report
    except KeyboardInterrupt:  # before any kernel started (loading, imports)
        console.print(Text("interrupted", style="bold red"))
        sys.exit(130)
    render_summary(console, report)
    if github_annotations:
        from nb2pipe.verify.github import annotation_commands

        workspace = os.environ.get("GITHUB_WORKSPACE")
        for line in annotation_commands(report, Path(workspace) if workspace else None):
            click.echo(line)
    if json_path is not None:
        write_atomically(json_path, json.dumps(report.to_json(), indent=2) + "\n")
    if junit_path is not None:
        write_junit(report, junit_path)
    if html_path is not None:
        write_html(report, html_path)
    sys.exit(report.exit_code)
