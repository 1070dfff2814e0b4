"""The terminal face of verify: a rich progress bar while kernels run, coloured results after."""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from nb2pipe.verify.report import NotebookReport, NotebookStatus, ScriptStatus, VerifyReport
from nb2pipe.verify.text import diff_line_kind

_DIFF_STYLES = {"header": "bold", "add": "green", "del": "red", "hunk": "cyan", "": ""}

__all__ = ["TerminalProgress", "render_notebook_report", "render_summary"]

_MARKS = {
    NotebookStatus.REPRODUCES: ("✓", "green"),
    NotebookStatus.DIFFERS: ("✗", "red"),
    NotebookStatus.INVALID: ("✗", "magenta"),
}


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def render_notebook_report(console: Console, report: NotebookReport, quiet: bool = False) -> None:
    """Print one notebook's verdict; failures with their reason, cell and coloured diff."""
    if quiet and report.ok:
        return
    mark, colour = _MARKS[report.status]
    line = Text()
    line.append(f"{mark} ", style=f"bold {colour}")
    line.append(_display_path(report.path), style="bold")
    if report.status is NotebookStatus.INVALID:
        line.append(f"  invalid: {report.error}", style=colour)
        console.print(line, soft_wrap=True)
        return
    details = [f"{report.cells_compared} cells compared"]
    if report.cells_ignored:
        details.append(f"{report.cells_ignored} ignored")
    if report.script.status is not ScriptStatus.SKIPPED:
        details.append(f"script {report.script.status.value}")
    if report.updated:
        details.append("outputs updated")
    line.append(f"  {report.status.value}", style=colour)
    line.append(f" ({', '.join(details)}; {report.duration:.1f} s)", style="dim")
    console.print(line, soft_wrap=True)
    for hazard in report.hazards:
        console.print(
            Text(
                f"    static {hazard.kind.value}: {hazard.cell_label}: {hazard.message}",
                style="yellow",
            ),
            soft_wrap=True,
        )
    for mismatch in report.mismatches:
        head = Text("    ")
        head.append(mismatch.cell_label, style="bold")
        head.append(f"  {mismatch.reason.value}", style=f"bold {colour}")
        head.append(f"  {mismatch.message}")
        console.print(head, soft_wrap=True)
        if mismatch.source:
            console.print(Text(f"      > {mismatch.source}", style="dim"), soft_wrap=True)
        if mismatch.diff:
            console.print(_coloured_diff(mismatch.diff), soft_wrap=True)
        if mismatch.normalizers:
            console.print(
                Text(f"      normalized: {', '.join(mismatch.normalizers)}", style="dim"),
                soft_wrap=True,
            )
        if mismatch.hint:
            console.print(Text(f"      hint: {mismatch.hint}", style="yellow"), soft_wrap=True)
    for note in report.notes:
        console.print(Text(f"    note: {note}", style="dim"), soft_wrap=True)


def _coloured_diff(diff: str) -> Text:
    text = Text()
    for line in diff.splitlines():
        style = _DIFF_STYLES[diff_line_kind(line)]
        text.append("      " + line + "\n", style=style)
    text.rstrip()
    return text


def render_summary(console: Console, report: VerifyReport) -> None:
    colour = "green" if report.ok else ("magenta" if report.exit_code == 2 else "red")
    console.print(Text(report.summary_line(), style=f"bold {colour}"))


class TerminalProgress:
    """A :class:`~nb2pipe.verify.api.VerifyProgress` drawing one bar per running notebook and
    printing each verdict as it comes. Without a terminal it only prints the verdicts."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("cells"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self._tasks: dict[Path, TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> TerminalProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def notebook_started(self, path: Path, cells: int) -> None:
        with self._lock:
            self._tasks[path] = self._progress.add_task(_display_path(path), total=cells)

    def cell_executed(self, path: Path) -> None:
        task = self._tasks.get(path)
        if task is not None:
            self._progress.advance(task)

    def notebook_finished(self, report: NotebookReport) -> None:
        with self._lock:
            task = self._tasks.pop(report.path, None)
            if task is not None:
                self._progress.remove_task(task)
            render_notebook_report(self._progress.console, report, self.quiet)
