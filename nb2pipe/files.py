"""Writing a file so that no reader ever sees half of it: the one atomic writer.

Every file nb2pipe writes for its user (scripts, step modules, reports, recovered notebooks,
run pages) and the ``%track`` code store go through :func:`write_atomically`. It stands at the
floor of the package, beside :mod:`nb2pipe.errors`, so every layer may use it.
"""

from __future__ import annotations

import errno
import itertools
import os
import tempfile
from pathlib import Path

__all__ = ["write_atomically"]

_TEMPORARY_SUFFIX = ".tmp"
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_COUNTER = itertools.count()


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
    try:
        mode: int | None = os.stat(path).st_mode & 0o777
    except (FileNotFoundError, NotADirectoryError):
        mode = None  # a new file: created with the umask's bits, as ``open`` makes one
    temporary: str | None = None
    try:
        fd, temporary = _create_temporary(path)
        if isinstance(data, bytes):
            with os.fdopen(fd, "wb") as file:
                file.write(data)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
                file.write(data)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as exc:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError) and _is_temporary(exc.filename, path):
            raise OSError(exc.errno, exc.strerror, str(path.parent)) from exc
        raise


def _create_temporary(path: Path) -> tuple[int, str]:
    """A new file beside ``path``, open for writing (``O_EXCL``: never one that exists, nor
    a link planted under its name). Its name is the process's and a counter's: no random
    names, no ``chmod`` for a new file (the code store writes one per new cell source, on the
    kernel's event loop). The folder is created when missing."""
    folder = path.parent
    for attempt in range(2):
        for _ in range(100):
            name = f".{path.name}.{os.getpid()}.{next(_COUNTER)}{_TEMPORARY_SUFFIX}"
            temporary = os.path.join(folder, name)
            try:
                return os.open(temporary, _FLAGS, 0o666), temporary
            except FileExistsError:
                continue
            except FileNotFoundError:
                if attempt:
                    raise
                folder.mkdir(parents=True, exist_ok=True)
                break
        else:
            # a hundred leftovers of this process id: let the library pick a random name
            fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMPORARY_SUFFIX, dir=folder)
            os.chmod(temporary, 0o666 & ~_umask())
            return fd, temporary
    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(folder))


def _is_temporary(filename: object, path: Path) -> bool:
    if not isinstance(filename, (str, os.PathLike)):
        return False
    name = Path(filename)
    return name.parent == path.parent and name.name.endswith(_TEMPORARY_SUFFIX) and name != path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
