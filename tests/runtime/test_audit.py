"""The file audit: which files the code of a run reads and writes."""

from __future__ import annotations

import io
import os
import site
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nb2pipe_runtime import audit as audit_module
from nb2pipe_runtime.audit import (
    APPEND,
    READ,
    UPDATE,
    WRITE,
    FileAudit,
    FileOpen,
    is_environment_file,
)

AUDIT_SOURCE = Path(audit_module.__file__).read_text(encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder (under the temp folder, as in CI) with a data file."""
    folder = (tmp_path / "project").resolve()
    folder.mkdir()
    (folder / "data.csv").write_text("a\n1\n")
    return folder


@pytest.fixture
def audit(project: Path) -> Iterator[FileAudit]:
    started = FileAudit(root=str(project)).start()
    yield started
    started.stop()


def _close(fd: int) -> None:
    os.close(fd)


def _create(path: Path, flags: int) -> None:
    path.unlink()
    os.close(os.open(path, flags))


OPENS: list[tuple[str, Callable[[Path], object], str]] = [
    ("open r", lambda p: open(p).close(), READ),
    ("open rb", lambda p: open(p, "rb").close(), READ),
    ("open w", lambda p: open(p, "w").close(), WRITE),
    ("open w+", lambda p: open(p, "w+").close(), WRITE),
    ("open a", lambda p: open(p, "a").close(), APPEND),
    ("open r+", lambda p: open(p, "r+").close(), UPDATE),
    ("pathlib read_text", lambda p: p.read_text(), READ),
    ("pathlib write_text", lambda p: p.write_text("x"), WRITE),
    ("io.open_code", lambda p: io.open_code(str(p)).close(), READ),
    ("os.open read", lambda p: _close(os.open(p, os.O_RDONLY)), READ),
    ("os.open write", lambda p: _close(os.open(p, os.O_WRONLY | os.O_TRUNC)), WRITE),
    ("os.open append", lambda p: _close(os.open(p, os.O_WRONLY | os.O_APPEND)), APPEND),
    ("os.open update", lambda p: _close(os.open(p, os.O_RDWR)), UPDATE),
    ("os.open create", lambda p: _create(p, os.O_RDWR | os.O_CREAT | os.O_EXCL), WRITE),
    ("os.open bytes path", lambda p: _close(os.open(os.fsencode(p), os.O_RDONLY)), READ),
]


@pytest.mark.parametrize(("how", "opener", "mode"), OPENS, ids=[row[0] for row in OPENS])
def test_each_way_of_opening_a_file_is_seen(
    project: Path, audit: FileAudit, how: str, opener: Callable[[Path], object], mode: str
) -> None:
    opener(project / "data.csv")
    assert audit.stop() == [FileOpen(str(project / "data.csv"), mode)]


def test_reads_are_files_read_and_never_written(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    (project / "other.csv").write_text("b\n")
    (project / "log.txt").write_text("")
    audit = FileAudit(str(project)).start()
    try:
        Path("data.csv").read_text()  # relative to the working folder
        (project / "out.txt").write_text("x")
        (project / "out.txt").read_text()  # read back what the run wrote: not data
        (project / "log.txt").read_text()
        with open(project / "log.txt", "a") as log:  # read, then appended to: not data
            log.write("x")
        (project / "other.csv").read_text()
    finally:
        audit.stop()
    assert audit.reads() == [str(project / "data.csv"), str(project / "other.csv")]
    assert audit.writes() == [str(project / "out.txt"), str(project / "log.txt")]


def test_each_open_is_kept_once(project: Path, audit: FileAudit) -> None:
    for _ in range(3):
        (project / "data.csv").read_text()
    assert audit.stop() == [FileOpen(str(project / "data.csv"), READ)]


def test_take_returns_the_opens_since_the_last_take(project: Path, audit: FileAudit) -> None:
    (project / "data.csv").read_text()
    assert [entry.path for entry in audit.take()] == [str(project / "data.csv")]
    assert audit.take() == []
    (project / "data.csv").read_text()  # seen again after a take
    assert [entry.path for entry in audit.take()] == [str(project / "data.csv")]


def test_environment_files_are_not_the_users(project: Path, audit: FileAudit) -> None:
    Path(pytest.__file__).read_bytes()  # site-packages
    Path(os.__file__).read_bytes()  # the Python installation
    with tempfile.NamedTemporaryFile() as temporary:  # the temp folder, outside the project
        Path(temporary.name).read_bytes()
    with tempfile.TemporaryFile():  # O_TMPFILE: the temp folder itself is opened
        pass
    (project.parent / "beside.txt").write_text("x")  # temp folder, beside the project
    for folder in (".hidden", "__pycache__"):
        (project / folder).mkdir()
        (project / folder / "x.txt").write_text("x")
        (project / folder / "x.txt").read_text()
    (project / "module.pyc").write_bytes(b"")
    (project / "data.csv").read_text()
    assert audit.stop() == [FileOpen(str(project / "data.csv"), READ)]


def test_folders_are_not_files(project: Path, audit: FileAudit) -> None:
    with tempfile.NamedTemporaryFile(dir=project) as temporary:  # open(folder, opener=...)
        Path(temporary.name).write_text("x")
    os.close(os.open(project, os.O_RDONLY))
    assert audit.stop() == [FileOpen(temporary.name, WRITE)]


def test_files_under_the_root_are_kept_in_the_temp_folder(project: Path) -> None:
    assert str(project).startswith(os.path.realpath(tempfile.gettempdir()))
    assert is_environment_file(str(project / "data.csv"))  # without a root: a temp file
    assert not is_environment_file(str(project / "data.csv"), str(project))
    assert not is_environment_file(str(project / "sub" / "data.csv"), str(project))
    assert not is_environment_file(str(project / ".data.csv"), str(project))  # a hidden file


@pytest.mark.parametrize(
    ("path", "root", "environment"),
    [
        ("/srv/project/data.csv", None, False),
        ("/srv/project/data.csv", "/srv/project", False),
        ("/srv/project/.git/config", "/srv/project", True),
        ("/srv/project/.dvc/cache/ab", "/srv/project", True),
        ("/srv/project/sub/__pycache__/m.py", "/srv/project", True),
        ("/srv/project/m.cpython-311.pyc", "/srv/project", True),
        ("/srv/other/.cache/x", "/srv/project", True),
        ("/srv/project-old/data.csv", "/srv/project", False),
        ("/proc/self/status", None, True),
        ("/etc/hosts", "/srv/project", True),
        (os.path.join(sys.prefix, "lib", "x.txt"), None, True),
        (os.path.join(site.getusersitepackages(), "x.txt"), None, True),
        (os.path.join(os.path.expanduser("~"), ".config", "x.toml"), None, True),
        (os.path.join(os.path.expanduser("~"), "work", "data.csv"), None, False),
    ],
)
def test_is_environment_file(path: str, root: str | None, environment: bool) -> None:
    assert is_environment_file(path, root) is environment


def test_thread_filter(project: Path) -> None:
    def read_in_a_thread() -> None:
        worker = threading.Thread(target=(project / "data.csv").read_text)
        worker.start()
        worker.join()

    this_thread = FileAudit(str(project), thread=threading.get_ident()).start()
    every_thread = FileAudit(str(project)).start()
    try:
        read_in_a_thread()
    finally:
        this_thread.stop()
        every_thread.stop()
    assert this_thread.opened == []
    assert every_thread.opened == [FileOpen(str(project / "data.csv"), READ)]


def test_on_open_is_called_with_each_new_open(project: Path) -> None:
    seen: list[FileOpen] = []
    audit = FileAudit(str(project), on_open=seen.append).start()
    try:
        (project / "data.csv").read_text()
        (project / "data.csv").read_text()
        (project / "out.txt").write_text("x")
        assert seen == [
            FileOpen(str(project / "data.csv"), READ), FileOpen(str(project / "out.txt"), WRITE)
        ]
    finally:
        audit.stop()


def test_on_open_that_opens_files_is_not_audited(project: Path) -> None:
    """verify's kernel probe logs each open to a file as it happens."""
    log = project / "opens.log"

    def log_open(entry: FileOpen) -> None:
        with open(log, "a") as file:
            file.write(f"{entry.mode} {entry.path}\n")

    audit = FileAudit(str(project), on_open=log_open).start()
    try:
        (project / "data.csv").read_text()
    finally:
        audit.stop()
    assert audit.opened == [FileOpen(str(project / "data.csv"), READ)]
    assert log.read_text() == f"read {project / 'data.csv'}\n"


def test_an_on_open_that_raises_does_not_break_the_users_open(project: Path) -> None:
    def fail(entry: FileOpen) -> None:
        raise RuntimeError("the probe broke")

    audit = FileAudit(str(project), on_open=fail).start()
    try:
        assert (project / "data.csv").read_text() == "a\n1\n"
    finally:
        audit.stop()


def test_an_inactive_audit_records_nothing(project: Path) -> None:
    never_started = FileAudit(str(project))
    stopped = FileAudit(str(project)).start()
    stopped.stop()
    (project / "data.csv").read_text()
    assert never_started.opened == [] and stopped.opened == []
    assert not never_started.active and not stopped.active


def test_a_restarted_audit_keeps_what_it_saw(project: Path) -> None:
    (project / "other.csv").write_text("b\n")
    audit = FileAudit(str(project)).start()
    try:
        (project / "data.csv").read_text()
        audit.stop()
        (project / "unseen.csv").write_text("not seen while stopped")
        audit.start()
        (project / "other.csv").read_text()
    finally:
        audit.stop()
    assert audit.reads() == [str(project / "data.csv"), str(project / "other.csv")]


def test_limit(project: Path) -> None:
    audit = FileAudit(str(project), limit=2).start()
    try:
        for index in range(4):
            (project / f"f{index}.txt").write_text("x")
    finally:
        audit.stop()
    assert [Path(entry.path).name for entry in audit.opened] == ["f0.txt", "f1.txt"]


def test_finding_the_environment_inside_the_hook_does_not_recurse(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: tempfile.gettempdir() opens files to find a usable temp folder, so the
    hook computing the environment's folders used to audit itself without end."""
    calls: list[str] = []
    real_gettempdir = tempfile.gettempdir

    def counting_gettempdir() -> str:
        calls.append("gettempdir")
        return real_gettempdir()

    monkeypatch.setattr(tempfile, "gettempdir", counting_gettempdir)
    (project.parent / "outside.txt").write_text("x")
    audit = FileAudit(str(project)).start()
    try:
        # as on the first open a process audits: nothing computed, no temp folder known yet
        monkeypatch.setattr(audit_module, "_PREFIXES", [])
        monkeypatch.setattr(tempfile, "tempdir", None)
        (project.parent / "outside.txt").read_text()  # outside the root: needs the prefixes
        (project / "data.csv").read_text()
    finally:
        audit.stop()
    assert calls == ["gettempdir"]  # once, not once more for each file it opens
    assert audit.opened == [FileOpen(str(project / "data.csv"), READ)]


def test_audit_module_imports_no_other_module_of_the_package() -> None:
    assert "nb2pipe_runtime" not in AUDIT_SOURCE.replace("nb2pipe_runtime.audit", "")


def test_audit_source_runs_standalone(project: Path) -> None:
    """verify executes the module's source in kernels that may not have the package."""
    program = AUDIT_SOURCE + f"""
audit = FileAudit({str(project)!r}).start()
open({str(project / "data.csv")!r}).read()
open({str(project / "out.txt")!r}, "w").close()
audit.stop()
print((audit.reads(), audit.writes()))
"""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", program], capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(([str(project / "data.csv")], [str(project / "out.txt")]))
