"""Reading a notebook that JupyterLab may be saving at that moment.

jupyter_server's contents manager saves a notebook *in place*: it copies the old file to an
intermediate ``.~NAME`` beside it, rewrites ``NAME``, then removes the copy
(``jupyter_server.services.contents.fileio.atomic_writing``). A handler that reads ``NAME``
meanwhile may see it half-written, and the loader rightly refuses that as invalid JSON. Lab
polls the hazards endpoint right after every save, so without this a save would now and then
show the user an error for a notebook that is fine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from jupyter_server.services.contents.fileio import path_to_intermediate

from nb2pipe.errors import Nb2PipeError

__all__ = ["SAVE_WAIT", "while_not_saving"]

T = TypeVar("T")

#: The longest a read waits for a save in progress (s). A ``.~NAME`` left by a server that
#: died mid-save never goes away: past this, the notebook is read as it is.
SAVE_WAIT = 2.0
ATTEMPTS = 3
POLL = 0.02


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _saving(path: Path) -> bool:
    return os.path.lexists(path_to_intermediate(str(path)))  # type: ignore[no-untyped-call]


def _wait_for_save(path: Path, deadline: float) -> None:
    while _saving(path) and time.monotonic() < deadline:
        time.sleep(POLL)


def while_not_saving(path: Path, read: Callable[[], T]) -> T:
    """``read()`` (which reads the notebook at ``path``) once no save of it is in progress.

    A read that fails with an :class:`Nb2PipeError` while the file changed under it, or a save
    began meanwhile, is tried again (up to ``ATTEMPTS`` times), so the answer is about one whole
    saved version; a failure of an unchanged file is the notebook's own and is raised at once.
    """
    deadline = time.monotonic() + SAVE_WAIT
    for attempt in range(1, ATTEMPTS + 1):
        _wait_for_save(path, deadline)
        before = _stamp(path)
        try:
            return read()
        except Nb2PipeError:
            changed = _stamp(path) != before or _saving(path)
            if attempt == ATTEMPTS or not changed:
                raise
        deadline = max(deadline, time.monotonic() + POLL * 5)
    raise AssertionError("unreachable")  # pragma: no cover
