"""Options of a verification, as one typed value."""

from __future__ import annotations

from dataclasses import dataclass

from nb2pipe.model import DEFAULT_MAX_SIZE
from nb2pipe.verify.compare import CompareOptions
from nb2pipe.verify.images import DEFAULT_IMAGE_TOLERANCE
from nb2pipe.verify.threads import threads_per_process

__all__ = ["DEFAULT_TIMEOUT", "VerifyOptions"]

#: Seconds a cell may run by default (nbmake uses 300; training cells in CI can be slow).
DEFAULT_TIMEOUT = 600


@dataclass(frozen=True)
class VerifyOptions:
    """What the user asked of ``nb2pipe verify``."""

    #: notebooks verified at once, each in its own kernel
    jobs: int = 1
    #: seconds one cell may run; None: no limit
    timeout: float | None = DEFAULT_TIMEOUT
    #: ``-p NAME VALUE`` pairs, in the order given
    parameters: tuple[tuple[str, str], ...] = ()
    #: run the exported script and compare its stdout
    script: bool = True
    #: relative tolerance on numbers in text outputs
    rtol: float = 1e-6
    #: largest mean absolute pixel difference of images, as a fraction of the value range
    image_tolerance: float = DEFAULT_IMAGE_TOLERANCE
    #: write the fresh outputs (and data-file hashes) back into the notebooks
    update: bool = False
    #: a cell saved with an error output must run cleanly (else it is expected to raise, as
    #: if tagged ``raises-exception``)
    strict_errors: bool = False
    #: when a cell differs for no reason the evidence shows, run the notebook a second time
    #: to tell whether its output varies by run
    second_run: bool = True
    #: refuse notebooks larger than this many bytes before reading them (``None``: no limit)
    max_notebook_size: int | None = DEFAULT_MAX_SIZE
    #: run every notebook with this kernel instead of the one its metadata names
    kernel: str | None = None
    #: BLAS/OpenMP threads each kernel and script may use; None: the cores divided among the
    #: kernels and scripts running at once (see :mod:`nb2pipe.verify.threads`)
    threads: int | None = None

    @property
    def compare(self) -> CompareOptions:
        return CompareOptions(rtol=self.rtol, image_tolerance=self.image_tolerance)

    @property
    def process_threads(self) -> int | None:
        """The thread limit of each kernel and script (None: no limit needed)."""
        if self.threads is not None:
            return self.threads
        return threads_per_process(self.jobs * (2 if self.script else 1))

    @property
    def cell_timeout(self) -> int | None:
        """The per-cell timeout as nbclient takes it (whole seconds, at least one)."""
        if self.timeout is None or self.timeout <= 0:
            return None
        return max(1, int(-(-self.timeout // 1)))
