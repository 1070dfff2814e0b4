"""The ``%track`` IPython extension: live kernel-state hazards (wiring only)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nb2pipe.analysis import Hazard
from nb2pipe.tracking.history import HistoryState

__all__ = [
    "HistoryState",
    "history_hazards",
    "history_state",
    "load_ipython_extension",
    "unload_ipython_extension",
]

_AUTOSTART_ENV = "NB2PIPE_TRACK"


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%track`` (``%load_ext nb2pipe``); ``NB2PIPE_TRACK=1`` also starts recording."""
    from nb2pipe.tracking.magics import TrackMagics
    from nb2pipe.tracking.recorder import ExecutionRecorder

    magics = ipython.magics_manager.registry.get("TrackMagics")
    if magics is None:
        recorder = ExecutionRecorder(ipython)
        magics = TrackMagics(ipython, recorder)
        ipython.register_magics(magics)
    if os.environ.get(_AUTOSTART_ENV, "").lower() in ("1", "on", "true", "yes"):
        magics.recorder.start()


def unload_ipython_extension(ipython: Any) -> None:
    """Stop recording and remove the hooks (``%unload_ext nb2pipe``)."""
    magics = ipython.magics_manager.registry.pop("TrackMagics", None)
    if magics is None:
        return
    magics.recorder.unregister()
    line_magics = ipython.magics_manager.magics.get("line", {})
    line_magics.pop("track", None)


def history_hazards(notebook_path: str | os.PathLike[str]) -> list[Hazard]:
    """Hazards of the last ``%track`` session recorded for ``notebook_path``, without a kernel."""
    return list(history_state(notebook_path).hazards)


def history_state(notebook_path: str | os.PathLike[str]) -> HistoryState:
    """The last ``%track`` session of ``notebook_path``, read from its history log.

    Its hazards (also once tracking stopped), and for JupyterLab's cell markers
    (:meth:`HistoryState.lab_json`) the running session's state: each cell's marker,
    ``rerun`` and ``restart`` (read from the log, so it survives reloads of the page).
    Without a log it is empty, and the replay is not even imported (the server asks this on
    every request).
    """
    from nb2pipe.tracking.log import history_path

    if not history_path(notebook_path).is_file():
        return HistoryState()
    from nb2pipe.tracking.replay import read_history

    return read_history(Path(notebook_path))
