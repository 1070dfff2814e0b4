"""What a run ran with besides its parameters: the git commit, package versions, DVC's context."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
from collections.abc import Iterable

from nb2pipe_runtime.record import DvcContext, GitState

__all__ = ["changed_files", "dvc_context", "git_state", "package_versions", "sha256_of"]


def sha256_of(path: str) -> str:
    """The SHA-256 of a file's content (read in blocks: data files can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_state(folder: str, read: Iterable[str] = ()) -> GitState | None:
    """The commit checked out in ``folder``'s repository and the files that differ from it;
    ``None`` outside a repository or without git.

    A file differs from the commit when git has an uncommitted change of it (staged or not;
    deleted files, and renamed ones under their new name, included), or when it is untracked
    and the run read it (``read``: absolute paths of the modules it imported and the files it
    opened). Untracked files the run did not read are left out: its own ``runs/`` folder, the
    files earlier runs wrote and a scratch file beside the script change nothing the run
    depended on, while an untracked module or data file beside the script does. Ignored files
    (``.gitignore``, DVC's data) are never listed. Paths are relative to the repository's top
    folder, as git writes them (not quoted).
    """
    try:
        commit = _git(folder, "rev-parse", "HEAD")
        top = _git(folder, "rev-parse", "--show-toplevel")
        if commit is None or top is None:
            return None
        status = _git(folder, "status", "--porcelain=v1", "-z", "--untracked-files=no")
        if status is None:
            return None
        files = set(changed_files(status))
        files.update(_untracked(os.fsdecode(top).strip(), read))
    except (OSError, subprocess.SubprocessError):
        return None
    ordered = sorted(files)
    return GitState(
        commit=os.fsdecode(commit).strip(), dirty=bool(ordered),
        changed=tuple(ordered[:_MAX_CHANGED]),
    )


_MAX_CHANGED = 50
#: paths given to one ``git ls-files`` (a command line has a length limit)
_CHUNK = 200


def _git(folder: str, *args: str) -> bytes | None:
    """git's output in ``folder`` as bytes (names are bytes to git), ``None`` when it fails."""
    done = subprocess.run(
        ["git", *args], cwd=folder, capture_output=True,
        timeout=30, check=False, stdin=subprocess.DEVNULL,
    )
    return done.stdout if done.returncode == 0 else None


def changed_files(status: bytes) -> list[str]:
    """The paths of ``git status --porcelain=v1 -z`` output: one per entry, a renamed or
    copied file under its new name.

    Each entry is ``XY PATH`` ended by NUL, where X and Y are the index's and the working
    tree's status and either may be a space; a rename or copy (R or C in either column) is
    followed by the original path as one more NUL-ended field. Nothing is quoted.
    """
    fields = status.split(b"\0")
    paths: list[str] = []
    index = 0
    while index < len(fields):
        entry = fields[index]
        index += 1
        if len(entry) < 4 or entry[2:3] != b" ":
            continue  # the empty field after the last NUL
        paths.append(os.fsdecode(entry[3:]))
        if b"R" in entry[:2] or b"C" in entry[:2]:
            index += 1  # the original path
    return paths


def _untracked(top: str, read: Iterable[str]) -> list[str]:
    """The files of ``read`` (absolute paths) that lie in the repository at ``top`` and are
    untracked and not ignored, relative to ``top``."""
    real_top = os.path.join(os.path.realpath(top), "")
    inside = sorted({
        real[len(real_top):]
        for real in (os.path.realpath(path) for path in read)
        if real.startswith(real_top) and os.path.isfile(real)
    })
    found: list[str] = []
    for start in range(0, len(inside), _CHUNK):
        listed = _git(
            top, "--literal-pathspecs", "ls-files", "-z", "--others", "--exclude-standard",
            "--full-name", "--", *inside[start:start + _CHUNK],
        )
        if listed:
            found += [os.fsdecode(name) for name in listed.split(b"\0") if name]
    return found


def package_versions() -> dict[str, str]:
    """Versions of the distributions whose modules this process imported (not the stdlib)."""
    stdlib: frozenset[str] = getattr(sys, "stdlib_module_names", frozenset())
    tops = {name for name in list(sys.modules) if "." not in name and not name.startswith("_")}
    try:
        distributions = importlib.metadata.packages_distributions()
    except Exception:  # noqa: BLE001 - broken metadata of one package must not fail the run
        return {}
    versions: dict[str, str] = {}
    for top in sorted(tops - set(stdlib)):
        for distribution in distributions.get(top, ()):
            try:
                versions[distribution] = importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                pass
    return dict(sorted(versions.items(), key=lambda item: item[0].lower()))


def dvc_context() -> DvcContext | None:
    """DVC's environment variables, when DVC runs this process (``dvc repro``/``exp run``)."""
    found = DvcContext(
        experiment=os.environ.get("DVC_EXP_NAME"),
        stage=os.environ.get("DVC_STAGE"),
        baseline=os.environ.get("DVC_EXP_BASELINE_REV"),
    )
    return found if (found.experiment or found.stage or found.baseline) else None
