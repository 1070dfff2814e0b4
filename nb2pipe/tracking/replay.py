"""Rebuild a ``%track`` report from a notebook's history log, without a kernel."""

from __future__ import annotations

from pathlib import Path

from nb2pipe.errors import Nb2PipeError
from nb2pipe.model import load_notebook
from nb2pipe.tracking.history import HistoryState
from nb2pipe.tracking.log import RecordedSession, history_path, read_last_session
from nb2pipe.tracking.order import NotebookOrder
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
    return HistoryState(report.hazards, report.to_lab_json() if running else None)


def _report(session: RecordedSession, notebook_path: Path) -> TrackReport:
    state = TrackerState.start(session.header.baseline)
    for event in session.events:
        state.apply(event)
    try:
        notebook = load_notebook(notebook_path)
        saved_at = notebook_path.stat().st_mtime
    except (Nb2PipeError, OSError):
        notebook, saved_at = None, None
    order = NotebookOrder(state, notebook, saved_at)
    return build_report(order, str(notebook_path))
