"""The source audit in one process: fsspec's in-memory filesystem (real fsspec file objects)
for how reads are hashed, the import hooks, and URLs made public. Real stores and servers are
in ``tests/data_versions``."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator

import pytest
from nb2pipe_runtime.sources import SourceAudit, public_url

CONTENT = b"".join(b"%d,%d\n" % (i, i * i) for i in range(5000))


@pytest.fixture
def memory_file() -> Iterator[str]:
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    fs.pipe_file("/data/squares.csv", CONTENT)
    yield "memory://data/squares.csv"
    fs.rm_file("/data/squares.csv")


def audited(action: object) -> list[object]:
    audit = SourceAudit().start()
    try:
        action()  # type: ignore[operator]
    finally:
        audit.stop()
    return list(audit.reads)


def test_lines_blocks_and_seeks_back_hash_the_whole_object(memory_file: str) -> None:
    import fsspec

    def by_lines() -> None:
        with fsspec.open(memory_file, "rt") as file:
            assert sum(1 for _ in file) == 5000

    def with_seek_back() -> None:
        with fsspec.open(memory_file, "rb") as file:
            file.read(100)
            file.seek(10)
            file.read(1000)
            file.read()

    for action in (by_lines, with_seek_back):
        [read] = audited(action)
        assert read.sha256 == hashlib.sha256(CONTENT).hexdigest(), action  # type: ignore[attr-defined]
        # fsspec names it so (its own spelling of the URL)
        assert read.url == "memory:///data/squares.csv"  # type: ignore[attr-defined]
        assert read.size == len(CONTENT)  # type: ignore[attr-defined]


def test_a_partial_or_skipping_read_has_no_hash(memory_file: str) -> None:
    import fsspec

    def part() -> None:
        with fsspec.open(memory_file, "rb") as file:
            file.read(10)

    def skip() -> None:
        with fsspec.open(memory_file, "rb") as file:
            file.seek(100)
            file.read()

    for action in (part, skip):
        [read] = audited(action)
        assert read.sha256 is None  # type: ignore[attr-defined]


def test_writes_and_reads_outside_an_audit_are_not_recorded(memory_file: str) -> None:
    import fsspec

    with fsspec.open("memory://data/out.csv", "wb") as file:
        file.write(b"x")
    with fsspec.open(memory_file, "rb") as file:
        file.read()
    assert audited(lambda: fsspec.open("memory://data/new.csv", "wb").open().close()) == []


def test_the_runtime_imports_none_of_the_readers_and_hooks_them_on_import() -> None:
    code = (
        "import sys\n"
        "from nb2pipe_runtime.sources import SourceAudit\n"
        "SourceAudit().start()\n"
        "print(sorted(m for m in ('fsspec', 'requests', 'dvc', 'urllib.request') if m in sys.modules))\n"
        "import fsspec.spec, requests.sessions, urllib.request\n"
        "print(all(getattr(f, '_nb2pipe_sources', False) for f in (\n"
        "    fsspec.spec.AbstractFileSystem.open, requests.sessions.Session.send,\n"
        "    urllib.request.OpenerDirector.open)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split("\n")[:2] == ["[]", "True"]


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("s3://bucket/key.csv?versionId=abc", "s3://bucket/key.csv"),
        ("https://user:pw@example.com/a.csv?X-Amz-Signature=s&X-Amz-Credential=c&part=2",
         "https://example.com/a.csv?part=2"),
        ("https://example.com/a.csv?token=t&sig=x&se=2026&sp=r&dataset=wine",
         "https://example.com/a.csv?dataset=wine"),
        ("gs://bucket/data/train.parquet", "gs://bucket/data/train.parquet"),
    ],
)
def test_urls_are_recorded_without_credentials(url: str, public: str) -> None:
    assert public_url(url) == public
