"""What a notebook's ``%track`` history log says without a kernel: the typed result of a replay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nb2pipe.analysis import Hazard

if TYPE_CHECKING:
    from nb2pipe.tracking.report import TrackReport

__all__ = ["HistoryState"]


@dataclass(frozen=True)
class HistoryState:
    """The last session of a history log, replayed."""

    #: hazards of the last session (also once tracking stopped); empty without a log
    hazards: tuple[Hazard, ...] = ()
    #: the running session's report, whose cell markers JupyterLab shows (``None``: no
    #: session runs: no log, ``%track off``, or its kernel is gone)
    live: TrackReport | None = None

    def lab_json(self) -> dict[str, Any] | None:
        """The running session's cell markers as ``GET /nb2pipe/hazards`` sends them (its
        ``track``), or ``None``: the wire shape is made here, at the edge."""
        return self.live.to_lab_json() if self.live is not None else None
