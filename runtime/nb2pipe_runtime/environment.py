"""What a run ran with besides its parameters: the git commit, package versions, DVC's context."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys

from nb2pipe_runtime.record import DvcContext, GitState

__all__ = ["dvc_context", "git_state", "package_versions", "sha256_of"]


def sha256_of(path: str) -> str:
    """The SHA-256 of a file's content (read in blocks: data files can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_state(folder: str) -> GitState | None:
    """The commit checked out in ``folder``'s repository and its uncommitted changes to
    tracked files; ``None`` outside a repository or without git."""

    def git(*args: str) -> str | None:
        done = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=30, check=False,
            stdin=subprocess.DEVNULL,
        )
        return done.stdout.strip() if done.returncode == 0 else None

    try:
        commit = git("rev-parse", "HEAD")
        if commit is None:
            return None
        changed = git("status", "--porcelain", "--untracked-files=no") or ""
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line[3:] for line in changed.splitlines() if line.strip())
    return GitState(commit=commit, dirty=bool(files), changed=tuple(files[:50]))


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
