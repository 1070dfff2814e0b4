"""Errors of ``nb2pipe verify``: bad usage, and failed verification carrying its report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nb2pipe.errors import Nb2PipeError

if TYPE_CHECKING:
    from nb2pipe.verify.report import VerifyReport

__all__ = ["VerificationFailed", "VerifyInterrupted", "VerifyUsageError"]


class VerifyUsageError(Nb2PipeError):
    """Options that cannot work together or do not fit the notebooks (exit code 2)."""


class VerificationFailed(Nb2PipeError):
    """Some notebook did not reproduce; ``report`` says which, where and why.

    Raised only by :func:`nb2pipe.verify.raise_for_mismatches`: verifying returns a report,
    it does not raise for a difference.
    """

    def __init__(self, report: VerifyReport) -> None:
        self.report = report
        failing = [r for r in report.notebooks if not r.ok]
        names = ", ".join(r.path.name for r in failing[:3]) + (", ..." if len(failing) > 3 else "")
        super().__init__(
            f"{len(failing)} of {len(report.notebooks)} notebooks do not reproduce: {names}"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.report,))


class VerifyInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM through the command) stopped a verify; the kernels and scripts it
    started are ended. ``report`` holds the notebooks that finished before it
    (``report.interrupted`` is the exit status: 130 for Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, report: VerifyReport) -> None:
        self.report = report
        super().__init__(report.summary_line())
