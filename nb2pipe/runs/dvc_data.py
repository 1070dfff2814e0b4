"""Name DVC-tracked data files as DVC does: their path in the DVC project and their md5.

A run record holds the SHA-256 of each data file it read; DVC knows a file by the md5 in a
``.dvc`` file beside it (``data/wine.csv.dvc``, or ``data.dvc`` for a tracked folder) or in
``dvc.lock``. The md5 of a recorded version is known when its content is at hand: the file on
disk, or a copy in the DVC cache under an md5 those files name now or named in earlier
commits (``git log`` of the file: DVC's history of a data file is the history of its
``.dvc`` file).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

__all__ = ["DvcTracked", "find_dvc_tracked"]

#: files larger than this are not hashed again to match versions (a table must stay quick)
_MAX_HASHED = 256 * 1024 * 1024
#: how far back ``git log`` looks for earlier md5s of a tracked file
_HISTORY = 50
_LOCK_HISTORY = 20
_MD5 = re.compile(r"\bmd5: ['\"]?([0-9a-f]{32})\b")


@dataclass(frozen=True)
class DvcTracked:
    """A data file DVC tracks."""

    path: str  #: the file's path in the DVC project (from its root)
    source: str  #: where DVC records it: ``data/wine.csv.dvc`` or ``dvc.lock``
    md5: str  #: the md5 ``source`` records now
    #: SHA-256 of a recorded version -> its md5, where the content was found
    versions: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "source": self.source, "md5": self.md5,
                "versions": self.versions}


def find_dvc_tracked(project: Path, data: dict[str, set[str]]) -> dict[str, DvcTracked]:
    """The DVC-tracked files among the data files runs in ``project`` read.

    Parameters
    ----------
    project
        The folder the runs ran in (their data paths are relative to it).
    data
        Data file (as recorded) -> the SHA-256 versions runs read.

    Returns
    -------
    dict[str, DvcTracked]
        Recorded path -> how DVC knows it, for the files a ``.dvc`` file or ``dvc.lock`` names.
    """
    root = _dvc_root(project)
    if root is None:
        return {}
    locked = _locked_md5s(root)
    cache = _cache_dirs(root)
    found: dict[str, DvcTracked] = {}
    for recorded, versions in data.items():
        path = (project / recorded).resolve()
        try:
            in_project = path.relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
        tracked = _from_dvc_file(root, path) or locked.get(in_project)
        if tracked is None:
            continue
        source, md5s = tracked
        earlier = _earlier_md5s(root, source, in_project)
        known = md5s + [md5 for md5 in earlier if md5 not in md5s]
        found[recorded] = DvcTracked(
            path=in_project, source=source, md5=md5s[0],
            versions=_match_versions(path, versions, known, cache),
        )
    return found


def _dvc_root(start: Path) -> Path | None:
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / ".dvc").is_dir() or (folder / "dvc.lock").is_file():
            return folder
    return None


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _from_dvc_file(root: Path, path: Path) -> tuple[str, list[str]] | None:
    """``path``'s ``.dvc`` file (beside it, or of a tracked folder above it) and md5."""
    candidate = path
    while True:
        dvc_file = candidate.with_name(candidate.name + ".dvc")
        content = _read_yaml(dvc_file) if dvc_file.is_file() else None
        outs = content.get("outs") if isinstance(content, dict) else None
        for out in outs if isinstance(outs, list) else []:
            if not isinstance(out, dict) or not isinstance(out.get("md5"), str):
                continue
            if (dvc_file.parent / str(out.get("path", ""))).resolve() != candidate.resolve():
                continue
            source = dvc_file.relative_to(root.resolve()).as_posix()
            md5 = out["md5"]
            if candidate == path:
                return source, [md5]
            inner = _md5_in_folder(root, md5, path.relative_to(candidate).as_posix())
            return (source, [inner]) if inner else None
        if candidate.parent == candidate or candidate.parent == root.resolve():
            return None
        candidate = candidate.parent


def _locked_md5s(root: Path) -> dict[str, tuple[str, list[str]]]:
    """Files ``dvc.lock`` lists as a stage's dependency or output -> ("dvc.lock", md5s)."""
    entries = _lock_entries(_read_yaml(root / "dvc.lock"))
    return {path: ("dvc.lock", md5s) for path, md5s in entries.items()}


def _lock_entries(content: Any) -> dict[str, list[str]]:
    """A ``dvc.lock``'s files (stage dependencies and outputs) -> their md5s."""
    stages = content.get("stages") if isinstance(content, dict) else None
    found: dict[str, list[str]] = {}
    for stage in stages.values() if isinstance(stages, dict) else []:
        if not isinstance(stage, dict):
            continue
        for entry in [*(stage.get("deps") or []), *(stage.get("outs") or [])]:
            if not isinstance(entry, dict) or not entry.get("path"):
                continue
            md5 = entry.get("md5")
            if isinstance(md5, str) and not md5.endswith(".dir"):
                md5s = found.setdefault(Path(str(entry["path"])).as_posix(), [])
                if md5 not in md5s:
                    md5s.append(md5)
    return found


def _earlier_md5s(root: Path, source: str, path: str) -> list[str]:
    """The md5s ``source`` (a ``.dvc`` file or ``dvc.lock``) named for ``path`` in earlier
    commits, newest first."""
    if source.endswith(".dvc"):
        # a .dvc file is about its data only: every md5 in its history is one of its versions
        log = _git(root, "log", f"-n{_HISTORY}", "--format=", "-p", "--", source)
        return list(dict.fromkeys(_MD5.findall(log or "")))
    found: list[str] = []
    for commit in (_git(root, "log", f"-n{_LOCK_HISTORY}", "--format=%H", "--", source) or "").split():
        try:
            content = yaml.safe_load(_git(root, "show", f"{commit}:{source}") or "")
        except yaml.YAMLError:
            continue
        found += [md5 for md5 in _lock_entries(content).get(path, []) if md5 not in found]
    return found


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=30,
            stdin=subprocess.DEVNULL, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _cache_dirs(root: Path) -> list[Path]:
    cache = root / ".dvc" / "cache"
    return [cache / "files" / "md5", cache]  # DVC 3, then DVC 2's layout


def _cached(cache: list[Path], md5: str) -> Path | None:
    for folder in cache:
        candidate = folder / md5[:2] / md5[2:]
        if candidate.is_file():
            return candidate
    return None


def _md5_in_folder(root: Path, folder_md5: str, inside: str) -> str | None:
    """A file's md5 from the manifest DVC keeps in its cache for a tracked folder."""
    manifest = _cached(_cache_dirs(root), folder_md5)
    if manifest is None:
        return None
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("relpath") == inside:
            md5 = entry.get("md5")
            return md5 if isinstance(md5, str) else None
    return None


def _match_versions(
    path: Path, versions: Iterable[str], md5s: list[str], cache: list[Path]
) -> dict[str, str]:
    """SHA-256 -> md5 for the recorded versions whose content is on disk or in the cache."""
    wanted = set(versions)
    matched: dict[str, str] = {}
    candidates = [path, *(_cached(cache, md5) for md5 in md5s)]
    for candidate in candidates:
        if candidate is None:
            continue
        digests = _digests(candidate)
        if digests is not None and digests[0] in wanted:
            matched.setdefault(digests[0], digests[1])
            if len(matched) == len(wanted):
                break
    return matched


def _digests(path: Path) -> tuple[str, str] | None:
    """(SHA-256, md5) of a file, or ``None`` when it is missing or too large."""
    try:
        if not path.is_file() or path.stat().st_size > _MAX_HASHED:
            return None
        sha, md5 = hashlib.sha256(), hashlib.md5()  # DVC's content hash, not for security
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                sha.update(block)
                md5.update(block)
    except OSError:
        return None
    return sha.hexdigest(), md5.hexdigest()
