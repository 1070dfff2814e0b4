"""``nb2pipe recover``: the path that produced a notebook's saved outputs, recovered and proven."""

from __future__ import annotations

from nb2pipe.recover.api import RecoverOptions, RecoveryResult, default_output, recover_notebook
from nb2pipe.recover.path import CellProblem, RecoveredPath, Replay

__all__ = [
    "CellProblem",
    "RecoverOptions",
    "RecoveredPath",
    "RecoveryResult",
    "Replay",
    "default_output",
    "recover_notebook",
]
