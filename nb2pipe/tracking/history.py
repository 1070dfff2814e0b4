"""What a notebook's ``%track`` history log says without a kernel: the typed result of a replay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nb2pipe.analysis import Hazard

__all__ = ["HistoryState"]


@dataclass(frozen=True)
class HistoryState:
    """The last session of a history log, replayed."""

    #: hazards of the last session (also once tracking stopped); empty without a log
    hazards: tuple[Hazard, ...] = ()
    #: the running session's state for JupyterLab's cell markers (``None``: no session runs:
    #: no log, ``%track off``, or its kernel is gone)
    live: dict[str, Any] | None = None
