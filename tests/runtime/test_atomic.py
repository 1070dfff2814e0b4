"""The runtime's one atomic writer: a reader sees the old file or the new one, never half, and
a failed write leaves no temporary file behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from nb2pipe_runtime import atomic
from nb2pipe_runtime.atomic import write_json_atomically, write_text_atomically


def test_writes_the_text_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "handoff"
    write_text_atomically(target, "first")
    write_text_atomically(str(target), "second é")
    assert target.read_text(encoding="utf-8") == "second é"
    assert [p.name for p in tmp_path.iterdir()] == ["handoff"]


def test_a_new_file_gets_the_umask_s_permissions(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("x")
    write_text_atomically(tmp_path / "atomic", "x")
    assert (tmp_path / "atomic").stat().st_mode == plain.stat().st_mode


def test_json_as_run_json_has_it(tmp_path: Path) -> None:
    write_json_atomically(tmp_path / "metrics.json", {"accuracy": 0.5})
    assert (tmp_path / "metrics.json").read_text() == '{\n "accuracy": 0.5\n}\n'
    with pytest.raises(ValueError):
        write_json_atomically(tmp_path / "metrics.json", {"accuracy": float("nan")})
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"accuracy": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "run.json"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):  # fails half-way through writing
        write_text_atomically(target, "new \ud800")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["run.json"]

    def refuse(source: str, destination: str) -> None:
        raise PermissionError(13, "Permission denied", destination)

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(PermissionError):
        write_text_atomically(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_writers_at_once_use_their_own_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes (a sweep's trials) writing one file never share a temporary name."""
    names: list[str] = []
    real_open = os.open

    def recording_open(path: str, flags: int, mode: int = 0o777) -> int:
        names.append(os.path.basename(path))
        return real_open(path, flags, mode)

    monkeypatch.setattr(atomic.os, "open", recording_open)
    write_text_atomically(tmp_path / "x", "1")
    write_text_atomically(tmp_path / "x", "2")
    assert len(set(names)) == 2 and all(name.startswith(".x.") for name in names)


def test_a_folder_replaces_the_old_one_whole(tmp_path: Path) -> None:
    target = tmp_path / "outputs" / "train"
    with atomic.replacing_folder(target) as folder:
        Path(folder, "a.json").write_text("1")
        Path(folder, "stale.pkl").write_text("old")
        assert not target.exists()  # nothing shows until the block ends
    with atomic.replacing_folder(str(target)) as folder:
        Path(folder, "a.json").write_text("2")
        assert sorted(p.name for p in target.iterdir()) == ["a.json", "stale.pkl"]
    assert sorted(p.name for p in target.iterdir()) == ["a.json"]  # no file of the old one
    assert (target / "a.json").read_text() == "2"
    assert [p.name for p in target.parent.iterdir()] == ["train"]
    plain = tmp_path / "plain"
    plain.mkdir()
    assert target.stat().st_mode == plain.stat().st_mode  # the umask's, as os.makedirs


def test_a_failed_folder_keeps_the_old_one_and_removes_the_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "train"
    target.mkdir()
    (target / "model.joblib").write_text("old")
    with pytest.raises(KeyboardInterrupt):  # the user stops the run while it saves
        with atomic.replacing_folder(target) as folder:
            Path(folder, "model.joblib").write_text("ne")
            raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["train"]
    assert (target / "model.joblib").read_text() == "old"

    real_rename = os.rename

    def refuse_the_new(source: str, destination: str) -> None:
        if ".tmp" in os.path.basename(source):
            raise PermissionError(13, "Permission denied", destination)
        real_rename(source, destination)

    monkeypatch.setattr(atomic.os, "rename", refuse_the_new)
    with pytest.raises(PermissionError):
        with atomic.replacing_folder(target) as folder:
            Path(folder, "model.joblib").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["train"]
    assert (target / "model.joblib").read_text() == "old"
