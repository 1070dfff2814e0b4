"""Writing a file or a folder so that no reader sees half of it: the runtime's one atomic writer.

``run.json``, the metrics file and the hand-off file a task leaves for its engine go through
:func:`write_text_atomically`. The text is written to a temporary file in the target's folder
(a name no other writer uses: the process id and a random part), then renamed over the target;
on any failure the temporary file is removed. A step's saved outputs, a folder of files and
their manifest, are written into a temporary folder that then takes the old one's place
(:func:`replacing_folder`). Standard library only: the runtime cannot import nb2pipe (whose
own writer is ``nb2pipe.files``), and ``--standalone`` inlines this.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["replacing_folder", "write_json_atomically", "write_text_atomically"]


def _temporary_name(target: str, suffix: str) -> str:
    folder, name = os.path.split(os.path.abspath(target))
    return os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.{suffix}")


def write_text_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file beside it and a rename.

    A new file gets the permissions of the umask, as ``open(path, "w")`` gives them.

    Raises
    ------
    OSError
        The file cannot be written; ``path`` is left as it was.
    """
    target = os.fspath(path)
    temporary = _temporary_name(target, "tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def write_json_atomically(path: str | os.PathLike[str], value: Any) -> None:
    """Write ``value`` as JSON (indented by one space, a final newline; NaN refused)."""
    write_text_atomically(path, json.dumps(value, indent=1, allow_nan=False) + "\n")


@contextmanager
def replacing_folder(path: str | os.PathLike[str]) -> Iterator[str]:
    """A new, empty folder beside ``path`` to fill; when the block ends, it replaces ``path``.

    Readers see the old folder whole, then the new one whole (for the instant between the
    two renames, no folder): never some files of each. When the block raises, the new folder
    is removed and ``path`` is left as it was. A new folder gets the permissions of the umask,
    as ``os.makedirs`` gives them.

    Raises
    ------
    OSError
        The folder cannot be written or renamed; ``path`` is left as it was.
    """
    target = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temporary = _temporary_name(target, "tmp")
    os.mkdir(temporary, 0o777)
    try:
        yield temporary
        old = None
        if os.path.lexists(target):
            old = _temporary_name(target, "old")
            os.rename(target, old)
        try:
            os.rename(temporary, target)
        except BaseException:
            if old is not None:
                os.rename(old, target)
            raise
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
