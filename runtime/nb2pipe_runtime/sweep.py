"""``report(value, step)``: a script's intermediate values, for ``nb2pipe sweep``'s pruner.

Outside a sweep :func:`report` does nothing. In a trial of ``nb2pipe sweep``, the sweep
process hands the script two pipe ends in :data:`REPORT_VARIABLE` (``PID:WRITE_FD:READ_FD``):
each report is one JSON line to the sweep, which asks its pruner and answers ``go`` or
``prune``; on ``prune`` :func:`report` raises :class:`Pruned`, which ends the script and
records its run as ``pruned`` with the value reported last. The answer is awaited, so a trial
stops at the report the pruner judged, as an Optuna objective would. Only the process the
sweep started reports (a forked worker that inherited the variable does nothing).

Standard library only: an exported script depends on nothing but its notebook's packages and
this package.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from typing import IO, Any

__all__ = ["REPORT_VARIABLE", "Pruned", "report"]

#: Set by ``nb2pipe sweep`` for each trial: ``PID:WRITE_FD:READ_FD``.
REPORT_VARIABLE = "NB2PIPE_SWEEP_REPORT"


class Pruned(SystemExit):
    """The sweep's pruner stopped this trial: the script ends here (exit status 0) and its
    run is recorded as ``pruned`` with ``value``, the value reported last."""

    #: how :class:`~nb2pipe_runtime.run.Run` knows it (without importing this module)
    pruned_by_sweep = True

    def __init__(self, value: float, step: int) -> None:
        super().__init__(0)
        self.value = value
        self.step = step


class _Channel:
    """The two pipe ends to the sweep process, opened on the first report."""

    def __init__(self) -> None:
        self.opened = False
        self.writer: IO[str] | None = None
        self.reader: IO[str] | None = None
        self.next_step = 0

    def open(self) -> bool:
        """Whether this process reports to a sweep (opens the pipes once)."""
        if self.opened:
            return self.writer is not None
        self.opened = True
        pid, _, fds = os.environ.get(REPORT_VARIABLE, "").partition(":")
        write_fd, _, read_fd = fds.partition(":")
        if not (pid.isdigit() and write_fd.isdigit() and read_fd.isdigit()):
            return False
        if int(pid) != os.getpid():
            return False  # a child of the trial: only the trial itself reports
        try:
            self.writer = os.fdopen(int(write_fd), "w", encoding="utf-8")
            self.reader = os.fdopen(int(read_fd), "r", encoding="utf-8")
        except OSError:
            self.writer = self.reader = None
        return self.writer is not None

    def ask(self, value: float, step: int) -> bool:
        """Send one report; whether the sweep said to prune."""
        assert self.writer is not None and self.reader is not None
        try:
            self.writer.write(json.dumps({"value": value, "step": step}) + "\n")
            self.writer.flush()
            answer = self.reader.readline().strip()
        except OSError:  # the sweep is gone (and this process with it, soon): carry on
            self.writer = self.reader = None
            return False
        return answer == "prune"


_CHANNEL = _Channel()


def report(value: Any, step: int | None = None) -> None:
    """Report an intermediate value of the sweep's metric (an epoch's validation loss, the
    score after ``step`` trees) so that ``nb2pipe sweep`` can stop a hopeless trial early.

    ``step`` counts up from 0 when not given. Does nothing outside a sweep, and for a value
    that is not a finite number.

    Raises
    ------
    Pruned
        The sweep's pruner judged this trial hopeless: the script ends, its run is recorded
        as ``pruned``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return
    number = float(value)
    if not math.isfinite(number) or not _CHANNEL.open():
        return
    at = _CHANNEL.next_step if step is None else int(step)
    _CHANNEL.next_step = at + 1
    if _CHANNEL.ask(number, at):
        raise Pruned(number, at)
