"""Writing a file so that no reader sees half of it: the runtime's one atomic writer.

``run.json``, the metrics file and the hand-off file a task leaves for its engine go through
:func:`write_text_atomically`. The text is written to a temporary file in the target's folder
(a name no other writer uses: the process id and a random part), then renamed over the target;
on any failure the temporary file is removed. Standard library only: the runtime cannot
import nb2pipe (whose own writer is ``nb2pipe.files``), and ``--standalone`` inlines this.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

__all__ = ["write_json_atomically", "write_text_atomically"]


def write_text_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file beside it and a rename.

    A new file gets the permissions of the umask, as ``open(path, "w")`` gives them.

    Raises
    ------
    OSError
        The file cannot be written; ``path`` is left as it was.
    """
    target = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(target))
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
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
