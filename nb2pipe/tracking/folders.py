"""Paths a cell creates, renames or removes: a listing of the notebook's folder before and after.

The file audit sees files opened; folders made (``os.makedirs``), renames (``os.rename``) and
removals open nothing. A cell whose code calls such a function (or a shell command that may
change files) gets its folder listed right before and right after it runs; the difference says
which paths appeared and which went away. Listing is bounded (entries and depth) and skips
hidden folders, ``__pycache__`` and the environment's folders, so it costs a few milliseconds,
and only those cells pay it.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from typing import Iterable, Mapping

from nb2pipe_runtime.audit import is_environment_file

from nb2pipe.analysis import CellSymbols, ImportBinding, MagicKind
from nb2pipe.analysis.randomness import resolve_callee

__all__ = ["FolderEffects", "Listing", "folder_effects", "list_folder", "listing_changes"]

#: Functions that create, rename or remove paths without opening a file.
_CHANGING_FUNCTIONS = frozenset(
    {
        "os.mkdir", "os.makedirs", "os.rename", "os.renames", "os.replace", "os.remove",
        "os.unlink", "os.rmdir", "os.removedirs", "os.link", "os.symlink", "shutil.copy",
        "shutil.copy2", "shutil.copyfile", "shutil.copytree", "shutil.move", "shutil.rmtree",
        "shutil.make_archive", "shutil.unpack_archive",
    }
)
#: ``pathlib.Path`` methods that do the same (``out.mkdir()``, ``Path("a").rename("b")``).
_CHANGING_METHODS = frozenset({"mkdir", "rmdir", "unlink", "touch", "rename", "symlink_to", "hardlink_to"})
#: Calls that fail when their target exists: re-running them fails once the path is there
#: (a rename or a move onto a folder that is there fails, or lands inside it).
_EXCLUSIVE = {
    "os.mkdir": None, "os.makedirs": "exist_ok", "shutil.copytree": "dirs_exist_ok",
    "os.rename": None, "os.renames": None, "os.replace": None, "shutil.move": None,
}
_EXCLUSIVE_METHODS = {"mkdir": "exist_ok", "rename": None, "replace": None}
#: Shell commands that change files; cell magics that run a shell script.
_SHELL_COMMANDS = frozenset({"mkdir", "rm", "rmdir", "mv", "cp", "touch", "ln", "unzip", "tar", "git", "wget", "curl"})
_SHELL_CELL_MAGICS = frozenset({"bash", "sh", "script"})
_LISTING_LIMIT = 5_000  #: entries listed at most; past it, the listing gives up (``None``)
_LISTING_DEPTH = 6

#: path -> ``(mtime_ns, size, is_folder)``
Listing = dict[str, tuple[int, int, bool]]


@dataclass(frozen=True)
class FolderEffects:
    """What a cell's code may do to folders (judged from its calls)."""

    changes_paths: bool  #: may create, rename or remove paths: list the folder around it
    exclusive: bool  #: creates a folder in a way that fails if it exists (``os.makedirs(p)``)


_NONE = FolderEffects(False, False)


def folder_effects(symbols: CellSymbols, bindings: Mapping[str, ImportBinding]) -> FolderEffects:
    if not symbols.calls and not symbols.called_methods and not symbols.magics:
        return _NONE  # most cells of a notebook: nothing that could touch a folder
    changes = exclusive = False
    for call in symbols.calls:
        qualified = resolve_callee(call.callee, bindings)
        method = call.callee.rpartition(".")[2]
        if qualified in _CHANGING_FUNCTIONS or (method in _CHANGING_METHODS and qualified == call.callee):
            changes = True
            flag = _EXCLUSIVE.get(qualified, _EXCLUSIVE_METHODS.get(method, ""))
            if flag != "" and (flag is None or flag not in call.keywords):
                exclusive = True
    for method in symbols.called_methods & _CHANGING_METHODS:
        # ``Path("out").mkdir()``: the receiver is no plain name (``mkdir`` with ``exist_ok``
        # written anywhere in the cell counts as safe)
        changes = True
        flag = _EXCLUSIVE_METHODS.get(method, "")
        if flag is None:
            exclusive = True
    if not changes:
        changes = any(_shell_changes(magic.kind, magic.name, magic.args) for magic in symbols.magics)
    return FolderEffects(changes, exclusive)


def _shell_changes(kind: MagicKind, name: str, args: str) -> bool:
    if kind is MagicKind.CELL:
        return name in _SHELL_CELL_MAGICS
    if kind is MagicKind.LINE:
        return name in _SHELL_COMMANDS
    if ">" in args:
        return True
    try:
        words = shlex.split(args)
    except ValueError:
        return True
    return bool(words) and os.path.basename(words[0]) in _SHELL_COMMANDS


def list_folder(root: str) -> Listing | None:
    """The user's paths under ``root`` (``None`` if there are more than the limit)."""
    out: Listing = {}
    pending = [(root, 0)]
    while pending:
        folder, depth = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name == "__pycache__":
                continue
            try:
                is_folder = entry.is_dir(follow_symlinks=False)
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if is_environment_file(os.path.join(entry.path, "x") if is_folder else entry.path, root):
                continue
            out[entry.path] = (info.st_mtime_ns, info.st_size, is_folder)
            if len(out) > _LISTING_LIMIT:
                return None
            if is_folder and depth < _LISTING_DEPTH:
                pending.append((entry.path, depth + 1))
    return out


def listing_changes(before: Listing, after: Listing, opened: Iterable[str]) -> tuple[list[str], list[str], list[str]]:
    """``(created, changed, removed)`` paths between two listings; ``opened`` (paths the file
    audit saw) are left to the audit."""
    seen = set(opened)
    created = [p for p in after if p not in before and p not in seen]
    removed = [p for p in before if p not in after and p not in seen]
    changed = [
        p for p, stamp in after.items()
        if p in before and p not in seen and not stamp[2] and stamp[:2] != before[p][:2]
    ]
    return sorted(created), sorted(changed), sorted(removed)
