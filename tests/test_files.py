"""The one atomic writer: permissions, folders, no leftovers, errors that name the folder."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nb2pipe.files import write_atomically


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_umask_bits_and_its_folder(tmp_path: Path) -> None:
    mask = os.umask(0o027)
    try:
        target = tmp_path / "new" / "deeper" / "script.py"
        write_atomically(target, "print('hi')\n")
    finally:
        os.umask(mask)
    assert target.read_text() == "print('hi')\n"
    assert _mode(target) == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["script.py"]


def test_an_existing_file_keeps_its_bits_and_text_is_utf8_with_newlines(tmp_path: Path) -> None:
    target = tmp_path / "run.sh"
    target.write_text("old")
    target.chmod(0o755)
    write_atomically(target, "echo é\r\nnext\n")
    assert _mode(target) == 0o755
    assert target.read_bytes() == "echo é\r\nnext\n".encode()
    write_atomically(target, b"\x00bytes")
    assert target.read_bytes() == b"\x00bytes" and _mode(target) == 0o755


def test_many_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    for index in range(50):
        write_atomically(tmp_path / f"s{index % 7}.py", f"x = {index}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"s{i}.py" for i in range(7)]
    assert (tmp_path / "s0.py").read_text() == "x = 49\n"


def test_a_leftover_temporary_name_is_skipped_not_followed(tmp_path: Path) -> None:
    """A file (or a link) already under the next temporary name is never written through."""
    from nb2pipe import files

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    upcoming = next(files._COUNTER) + 1
    planted = tmp_path / f".out.txt.{os.getpid()}.{upcoming}.tmp"
    planted.symlink_to(victim)
    write_atomically(tmp_path / "out.txt", "fresh")
    assert (tmp_path / "out.txt").read_text() == "fresh"
    assert victim.read_text() == "keep me"
    assert planted.is_symlink()


def test_an_unwritable_folder_is_named_not_the_temporary_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OSError) as raised:
            write_atomically(folder / "report.html", "<p>")
    finally:
        folder.chmod(0o700)
    assert raised.value.filename == str(folder)
    assert list(folder.iterdir()) == []


def test_a_file_where_the_folder_should_be_names_that_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("a file, not a folder")
    with pytest.raises(OSError) as raised:
        write_atomically(blocker / "script.py", "x = 1\n")
    assert raised.value.filename == str(blocker)
    assert blocker.read_text() == "a file, not a folder"
