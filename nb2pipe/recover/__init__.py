"""``nb2pipe recover``: the path that produced a notebook's saved outputs, recovered and proven,
and the fork server of IPython shells its search runs on."""

from __future__ import annotations

from nb2pipe.recover.api import RecoverOptions, RecoveryResult, default_output, recover_notebook
from nb2pipe.recover.path import CellProblem, RecoveredPath, Replay
from nb2pipe.recover.shell import CellResult, Checkpoint, ForkUnsafe, ShellError, ShellServer

__all__ = [
    "CellProblem",
    "CellResult",
    "Checkpoint",
    "ForkUnsafe",
    "RecoverOptions",
    "RecoveredPath",
    "RecoveryResult",
    "Replay",
    "ShellError",
    "ShellServer",
    "default_output",
    "recover_notebook",
]
