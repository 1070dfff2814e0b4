"""``pytest --nb2pipe``: each notebook collected is one test, passed when ``nb2pipe verify``
says it reproduces (the pytest11 entry point ``nb2pipe``).

The habits of nbmake users carry over: ``pytest --nb2pipe -n auto notebooks/`` runs the
notebooks on every core with pytest-xdist, ``--nb2pipe-timeout`` and ``--nb2pipe-kernel`` are
``--nbmake-timeout`` and ``--nbmake-kernel``. What differs is the verdict: the outputs are
compared with the saved ones, and the exported script's with the notebook's (unless
``--nb2pipe-no-script``). Each item calls :func:`nb2pipe.verify.verify_notebook`, the code
behind ``nb2pipe verify``, and a failure prints what ``nb2pipe verify`` prints: each differing
cell with its reason, first line and diff.

pytest imports this module in every session once nb2pipe is installed, ``--nb2pipe`` or not:
it imports pytest only; verify's modules load when a notebook is verified.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest._io import TerminalWriter

    from nb2pipe.verify.options import VerifyOptions
    from nb2pipe.verify.report import NotebookReport

__all__ = ["NotebookFailed", "NotebookFile", "NotebookItem"]

#: ``nb2pipe verify``'s defaults (``nb2pipe.verify.options``), kept in sync by a test: this
#: module must not import verify's code to define its options.
_DEFAULT_TIMEOUT = 600.0
_DEFAULT_RTOL = 1e-6
_OPTIONS: pytest.StashKey[VerifyOptions] = pytest.StashKey()


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:  # NaN too
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nb2pipe", "notebook verification (nb2pipe verify)")
    group.addoption(
        "--nb2pipe",
        action="store_true",
        default=False,
        help="Verify each .ipynb collected: run it in a fresh kernel and compare its outputs "
        "with the saved ones, and its exported script's (nb2pipe verify).",
    )
    group.addoption(
        "--nb2pipe-timeout",
        type=_non_negative,
        default=_DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="Seconds one cell may run (0: no limit; default %(default)g).",
    )
    group.addoption(
        "--nb2pipe-kernel",
        metavar="NAME",
        help="Run every notebook with this kernel instead of the one its metadata names.",
    )
    group.addoption(
        "--nb2pipe-no-script",
        action="store_true",
        default=False,
        help="Skip script equivalence (export the notebook and run the script).",
    )
    group.addoption(
        "--nb2pipe-rtol",
        type=_non_negative,
        default=_DEFAULT_RTOL,
        metavar="RTOL",
        help="Relative tolerance for numbers in text outputs (default %(default)g).",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("nb2pipe"):
        return
    from nb2pipe.verify.errors import VerifyUsageError
    from nb2pipe.verify.options import VerifyOptions
    from nb2pipe.verify.runner import check_kernel

    kernel: str | None = config.getoption("nb2pipe_kernel")
    if kernel is not None:
        try:
            check_kernel(kernel)
        except VerifyUsageError as exc:
            raise pytest.UsageError(f"--nb2pipe-kernel: {exc}") from None
    timeout: float = config.getoption("nb2pipe_timeout")
    config.stash[_OPTIONS] = VerifyOptions(
        # under pytest-xdist -n N, N notebooks run at once: their kernels share the cores
        jobs=_xdist_workers(),
        timeout=timeout or None,
        script=not config.getoption("nb2pipe_no_script"),
        rtol=config.getoption("nb2pipe_rtol"),
        kernel=kernel,
    )
    # papermill, nbclient and jupyter_client log each failure they hand back; the item's
    # report says it once, with its cell (as the nb2pipe command does)
    for logger in ("papermill", "traitlets", "nbclient"):
        logging.getLogger(logger).setLevel(logging.CRITICAL)


def _xdist_workers() -> int:
    """How many pytest-xdist workers run at once (1 without xdist)."""
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    return int(count) if count.isdigit() and int(count) > 0 else 1


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if (
        file_path.suffix == ".ipynb"
        and parent.config.getoption("nb2pipe")
        and ".ipynb_checkpoints" not in file_path.parts
    ):
        collector: NotebookFile = NotebookFile.from_parent(parent, path=file_path)
        return collector
    return None


class NotebookFile(pytest.File):
    """A notebook: one item, the whole notebook (verify judges a notebook as one run)."""

    def collect(self) -> list[pytest.Item]:
        item: NotebookItem = NotebookItem.from_parent(self, name=self.path.name)
        return [item]


class NotebookFailed(Exception):
    """The notebook does not reproduce; ``report`` is verify's report of it."""

    def __init__(self, report: NotebookReport) -> None:
        super().__init__(_headline(report))
        self.report = report


class NotebookItem(pytest.Item):
    """Verify one notebook in a fresh kernel (with its script, unless --nb2pipe-no-script)."""

    def runtest(self) -> None:
        from nb2pipe.verify.api import verify_notebook

        report = verify_notebook(self.path, self.config.stash[_OPTIONS])
        if not report.ok:
            raise NotebookFailed(report)

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> Any:
        if isinstance(excinfo.value, NotebookFailed):
            return _VerifyFailureRepr(excinfo.value.report)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # the failure's header: the notebook as the node id names it
        return self.path, None, self.nodeid.split("::", 1)[0]


@dataclass(frozen=True)
class _Crash:
    """What pytest's short summary line shows after ``FAILED <item> - ``."""

    path: str
    lineno: int
    message: str


class _VerifyFailureRepr:
    """The failure as ``nb2pipe verify`` prints it (in colour on a colour terminal)."""

    def __init__(self, report: NotebookReport) -> None:
        self.report = report
        self.reprcrash = _Crash(str(report.path), 0, _headline(report))
        self.sections: list[tuple[str, str, str]] = []

    def toterminal(self, tw: TerminalWriter) -> None:
        tw.write(render_report(self.report, tw.fullwidth, colour=tw.hasmarkup))

    def addsection(self, name: str, content: str, sep: str = "-") -> None:
        self.sections.append((name, content, sep))

    def __str__(self) -> str:
        return render_report(self.report, 100, colour=False)


def render_report(report: NotebookReport, width: int, colour: bool) -> str:
    """``nb2pipe verify``'s terminal report of one notebook, as text."""
    from rich.console import Console

    from nb2pipe.verify.terminal import render_notebook_report

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=max(width, 40),
        force_terminal=colour,
        no_color=not colour,
        color_system="standard" if colour else None,
        highlight=False,
        emoji=False,
    )
    render_notebook_report(console, report)
    return buffer.getvalue()


def _headline(report: NotebookReport) -> str:
    """One line: the first finding (``cell 3 (id x): output-differs: ...``), and how many."""
    if report.error is not None:
        return f"invalid: {report.error}"
    if not report.mismatches:
        return report.status.value
    first = report.mismatches[0]
    more = len(report.mismatches) - 1
    return f"{first.cell_label}: {first.reason.value}: {first.message}" + (
        f" (and {more} more)" if more else ""
    )
