"""The ``nb2pipe recover`` command: the path to a notebook's saved outputs, proven.

Only click is imported at module level (the command group is built by every ``nb2pipe``
call); the recovery code loads when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

__all__ = ["recover"]

_DEFAULT_RTOL = 1e-6
_DEFAULT_MAX_SIZE_MB = 256


@click.command("recover")
@click.argument("notebook", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
    help="The recovered notebook (default: NB.recovered.ipynb beside it).",
)
@click.option(
    "--script", type=click.Path(path_type=Path, dir_okay=False),
    help="Also export the recovered path as a parameterized script: the script of the result "
    "you actually got.",
)
@click.option(
    "--budget", type=click.FloatRange(min=1), default=None,
    help="Seconds the search and its proofs may take (default: 10x the estimated fresh run, "
    "from the %track history's durations or the saved timings; at least 60).",
)
@click.option("--force", is_flag=True, help="Overwrite the output notebook or script.")
@click.option("--kernel", "kernel_name", help="Kernel to prove the path with (default: the notebook's).")
@click.option(
    "--rtol", type=click.FloatRange(min=0), default=_DEFAULT_RTOL, show_default=True,
    help="Relative tolerance on numbers when comparing outputs (as nb2pipe verify).",
)
@click.option(
    "--no-history", is_flag=True,
    help="Ignore a %track history beside the notebook: search the current cells only.",
)
@click.option(
    "--max-size", "max_size_mb", type=click.FloatRange(min=0), default=_DEFAULT_MAX_SIZE_MB,
    show_default=True, help="Refuse a notebook larger than this many MB (0: no limit).",
)
def recover(
    notebook: Path, output: Path | None, script: Path | None, budget: float | None, force: bool,
    kernel_name: str | None, rtol: float, no_history: bool, max_size_mb: float,
) -> None:
    """Recover the path that produced NOTEBOOK's saved outputs, and prove it.

    Writes a notebook that, run top to bottom in a fresh kernel, gives back every saved
    output: from a %track history beside the notebook (the session's executions, each with
    the code it ran then), else by searching orders and repetitions of the current cells.
    The path is proven in a fresh kernel before anything is written.

    Exit codes: 0 recovered and proven, 1 no path within the budget (nothing written, each
    output that could not be given back named with why), 2 bad input, 130 interrupted.
    """
    from nb2pipe.errors import Nb2PipeError
    from nb2pipe.recover.api import RecoverOptions, recover_notebook
    from nb2pipe.verify.runner import kill_running

    options = RecoverOptions(
        output=output,
        script=script,
        budget=budget,
        force=force,
        kernel_name=kernel_name,
        rtol=rtol,
        use_history=not no_history,
        max_notebook_size=int(max_size_mb * 1024 * 1024) or None,
    )

    def progress(message: str) -> None:
        click.echo(f"  {message}", err=True)

    try:
        result = recover_notebook(notebook, options, progress)
    except OSError as exc:  # reported by the nb2pipe command, as every Nb2PipeError
        raise Nb2PipeError(f"{notebook}: {exc.strerror or exc}") from None
    except KeyboardInterrupt:
        kill_running()
        click.echo("nb2pipe: recover interrupted; nothing written", err=True)
        sys.exit(130)
    name = notebook.name
    if result.recovered and result.path is not None and result.proof is not None:
        origin = (
            "the %track history" if result.path.origin == "history"
            else f"a search of the current cells ({result.tried} cell runs tried)"
        )
        click.echo(
            f"✓ {name}: recovered from {origin}; proven in a fresh kernel "
            f"({result.proof.compared} saved output(s) given back, {result.proof.duration:.1f} s)"
        )
        for line in result.path.describe():
            click.echo(f"    {line}")
        for note in result.notes:
            click.echo(f"    note: {note}")
        click.echo(f"    wrote {result.output}" + (f" and {result.script}" if result.script else ""))
        sys.exit(0)
    click.echo(
        f"✗ {name}: no path within the {result.budget:.0f} s budget gives back the saved "
        "outputs; nothing written"
    )
    for problem in result.problems:
        click.echo(f"    {problem.line()}")
    for note in result.notes:
        click.echo(f"    note: {note}")
    sys.exit(1)
