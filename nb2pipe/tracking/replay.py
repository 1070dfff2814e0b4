"""Rebuild a ``%track`` report from a notebook's history log, without a kernel."""

from __future__ import annotations

from pathlib import Path

from nb2pipe.errors import Nb2PipeError
from nb2pipe.model import load_notebook
from nb2pipe.tracking.history import HistoryState
from nb2pipe.tracking.log import RecordedSession, history_path, read_last_session
from nb2pipe.tracking.order import NotebookOrder, first_code_line
from nb2pipe.tracking.sources import SourceStore
from nb2pipe.tracking.report import TrackReport, build_report
from nb2pipe.tracking.state import TrackerState

__all__ = ["read_history", "replay_history"]


def replay_history(notebook_path: Path) -> TrackReport | None:
    """The report of the last session in ``notebook_path``'s history log (``None``: no log).

    The notebook as saved now gives the order and sources; executions are replayed in the
    order they were logged.
    """
    session = read_last_session(history_path(notebook_path))
    return _report(session, notebook_path) if session is not None else None


def read_history(notebook_path: Path) -> HistoryState:
    """The last session of ``notebook_path``'s log: its hazards, and (while it runs: not
    stopped, its kernel alive) the state JupyterLab shows on the cells."""
    session = read_last_session(history_path(notebook_path))
    if session is None:
        return HistoryState()
    report = _report(session, notebook_path)
    running = not session.stopped and session.kernel_alive()
    return HistoryState(report.hazards, report if running else None)


def _report(session: RecordedSession, notebook_path: Path) -> TrackReport:
    state = TrackerState.start(session.header.baseline)
    for event in session.events:
        state.apply(event)
    try:
        notebook = load_notebook(notebook_path)
        saved_at = notebook_path.stat().st_mtime
    except (Nb2PipeError, OSError):
        notebook, saved_at = None, None
    order = NotebookOrder(state, notebook, saved_at, first_lines=_first_lines(session, notebook_path))
    return build_report(order, str(notebook_path))


def _first_lines(session: RecordedSession, notebook_path: Path) -> dict[str, str]:
    """Each cell's first line of code as it last ran, from the code store: a cell run after
    the last save is quoted as the kernel quotes it."""
    store = SourceStore.beside(notebook_path)
    lines: dict[str, str] = {}
    for event in session.events:
        source = store.read(event.source_hash)
        line = first_code_line(source) if source is not None else None
        if line is not None:
            lines[event.cell_key] = line
    return lines
