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

from nb2pipe.verify.report import (
    MaskedCell,
    MaskedPair,
    Mismatch,
    NotebookReport,
    NotebookStatus,
    ScriptStatus,
    VerifyReport,
)
from nb2pipe.verify.text import diff_line_kind

_DIFF_STYLES = {"header": "bold", "add": "green", "del": "red", "hunk": "cyan", "": ""}

__all__ = ["TerminalProgress", "masked_lines", "render_notebook_report", "render_summary"]

#: At most this many lines of masked spans per cell in the terminal (the HTML report and the
#: JSON report have them all).
MAX_MASKED_LINES = 6
#: Masked text is cut to this many characters in the terminal.
_MASKED_WIDTH = 60

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


def render_notebook_report(
    console: Console, report: NotebookReport, quiet: bool = False, verbose: bool = False
) -> None:
    """Print one notebook's verdict; failures with their reason, cell and coloured diff.

    ``verbose``: also every compared cell whose outputs had spans masked before comparing,
    with the rule that masked each (a short list per cell).
    """
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
        masked = report.masked_cell(mismatch.cell_index) if verbose else None
        if masked is not None and mismatch is _first_for_cell(report, mismatch.cell_index):
            for entry in masked_lines(masked):
                console.print(Text(f"      {entry}", style="dim"), soft_wrap=True)
    if verbose:
        for cell in report.masked:
            if cell.differs:
                continue
            head = Text("    ")
            head.append(cell.cell_label, style="bold")
            head.append("  equal after masking", style="dim")
            console.print(head, soft_wrap=True)
            if cell.source:
                console.print(Text(f"      > {cell.source}", style="dim"), soft_wrap=True)
            for entry in masked_lines(cell):
                console.print(Text(f"      {entry}", style="dim"), soft_wrap=True)
    for note in report.notes:
        console.print(Text(f"    note: {note}", style="dim"), soft_wrap=True)


def _first_for_cell(report: NotebookReport, index: int | None) -> Mismatch | None:
    return next((m for m in report.mismatches if m.cell_index == index), None)


def _quote(text: str | None) -> str:
    if text is None:
        return "(nothing)"
    shown = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    shown = shown.replace("\x1b", "\\x1b").replace("\t", "\\t")
    if len(shown) > _MASKED_WIDTH:
        shown = shown[: _MASKED_WIDTH - 1] + "…"
    return f'"{shown}"'


def _masked_line(pair: MaskedPair) -> str:
    where = f"{pair.rule} in {pair.output}"
    times = f" (×{pair.count})" if pair.count > 1 else ""
    if pair.saved == pair.fresh:
        return f"masked {where}: {_quote(pair.saved)}{times}"
    return f"masked {where}: {_quote(pair.saved)} → {_quote(pair.fresh)}{times}"


def masked_lines(cell: MaskedCell, limit: int = MAX_MASKED_LINES) -> list[str]:
    """A short list of what was masked in a cell's outputs, saved next to fresh, one line each.

    Escape codes are counted, not quoted; past ``limit`` lines the rest is counted.
    """
    lines: list[str] = []
    escapes: dict[str, dict[str, int]] = {}  # output -> side -> count
    for pair in cell.pairs():
        if pair.rule != "ANSI codes":
            lines.append(_masked_line(pair))
            continue
        counts = escapes.setdefault(pair.output, {"saved": 0, "fresh": 0})
        counts["saved"] += pair.count if pair.saved is not None else 0
        counts["fresh"] += pair.count if pair.fresh is not None else 0
    lines += [
        f"masked ANSI codes in {output}: {n['saved']} escape sequence(s) saved, {n['fresh']} fresh"
        for output, n in escapes.items()
    ]
    if len(lines) > limit:
        hidden = len(lines) - (limit - 1)
        lines = lines[: limit - 1] + [f"… and {hidden} more (every one in --html and --json)"]
    return lines


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

    def __init__(self, console: Console, quiet: bool = False, verbose: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.verbose = verbose
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
            render_notebook_report(self._progress.console, report, self.quiet, self.verbose)
