"""Writing a file so that no reader ever sees half of it: the one atomic writer.

Every file nb2pipe writes for its user (scripts, step modules, reports, recovered notebooks,
run pages) and the ``%track`` code store go through :func:`write_atomically`. It stands at the
floor of the package, beside :mod:`nb2pipe.errors`, so every layer may use it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomically"]

_TEMPORARY_SUFFIX = ".tmp"


def write_atomically(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it and a rename.

    The folder is created when missing. An existing file keeps its permission bits; a new one
    gets the umask's. Text is written as UTF-8 with ``\\n`` line ends.

    Raises
    ------
    OSError
        The file cannot be written. A failure on the temporary file names ``path``'s folder
        (what the user can act on), never the temporary name they did not choose.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    temporary: str | None = None
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=_TEMPORARY_SUFFIX, dir=path.parent
        )
        if isinstance(data, bytes):
            with os.fdopen(fd, "wb") as file:
                file.write(data)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
                file.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as exc:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError) and _is_temporary(exc.filename, path):
            raise OSError(exc.errno, exc.strerror, str(path.parent)) from exc
        raise


def _is_temporary(filename: object, path: Path) -> bool:
    if not isinstance(filename, (str, os.PathLike)):
        return False
    name = Path(filename)
    return name.parent == path.parent and name.name.endswith(_TEMPORARY_SUFFIX) and name != path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
