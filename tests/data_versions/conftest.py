"""Real servers on this machine for data read from elsewhere than a local file: a web server
(``http.server``), an S3-compatible server with versioning (moto's standalone server, as s3fs
tests itself) and a DVC data registry (git + DVC, with a local remote), each in a temp folder."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..runs.conftest import NOTEBOOKS, DATA
from nb2pipe.export import export_notebook

WINE = DATA / "wine.csv"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """``python -m http.server``'s handler, quiet; ``etag`` adds an ETag (as most servers do:
    http.server sends only Last-Modified)."""

    etag = False

    def end_headers(self) -> None:
        if self.etag and self.command == "GET":
            path = Path(self.translate_path(self.path))
            if path.is_file():
                stat = path.stat()
                self.send_header("ETag", f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"')
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@dataclass
class WebSite:
    """A folder served over HTTP on 127.0.0.1."""

    folder: Path
    url: str  #: ``http://127.0.0.1:PORT``


def _serve(folder: Path, etag: bool) -> Iterator[WebSite]:
    handler = type("Handler", (_Handler,), {"etag": etag})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WebSite(folder, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebSite]:
    """``python -m http.server`` on a folder holding the sample's ``wine.csv``."""
    folder = tmp_path / "site"
    folder.mkdir()
    shutil.copy(WINE, folder / "wine.csv")
    yield from _serve(folder, etag=False)


@pytest.fixture
def web_with_etags(tmp_path: Path) -> Iterator[WebSite]:
    folder = tmp_path / "site-etag"
    folder.mkdir()
    shutil.copy(WINE, folder / "wine.csv")
    yield from _serve(folder, etag=True)


@dataclass
class S3:
    """A bucket with versioning on an S3-compatible server on 127.0.0.1."""

    endpoint: str
    bucket: str
    env: dict[str, str]  #: what a script needs to reach it (credentials, endpoint)
    client: Any  #: boto3's client

    def put(self, key: str, content: bytes) -> str:
        """Upload ``content``; its version id."""
        done = self.client.put_object(Bucket=self.bucket, Key=key, Body=content)
        return str(done["VersionId"])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    # the test extras install both: a missing one fails here instead of skipping the S3 tests
    import s3fs  # noqa: F401
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


_BUCKETS = iter(range(1, 10_000))


@pytest.fixture
def s3(s3_server: str) -> S3:
    """A new bucket with versioning turned on."""
    import boto3

    env = {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3_server,
    }
    client = boto3.client(
        "s3", endpoint_url=s3_server, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    bucket = f"team-data-{next(_BUCKETS)}"
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    return S3(s3_server, bucket, env, client)


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=folder,
        check=True, capture_output=True, text=True, timeout=60,
    )
    return done.stdout.strip()


def dvc(folder: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=folder, capture_output=True, text=True,
        timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr


@dataclass
class Registry:
    """A DVC data registry: a git repository whose ``wine.csv`` DVC tracks, tagged ``v1`` and
    ``v2`` (v2 drops the last 10 rows), pushed to a local remote."""

    path: Path
    commits: dict[str, str]  #: tag -> commit
    contents: dict[str, bytes]  #: tag -> wine.csv's content


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    root = tmp_path_factory.mktemp("registry")
    path, remote = root / "registry", root / "remote"
    path.mkdir()
    remote.mkdir()
    git(path, "init", "-q")
    dvc(path, "init", "-q")
    dvc(path, "remote", "add", "-d", "store", str(remote))
    lines = WINE.read_bytes().splitlines(keepends=True)
    contents = {"v1": b"".join(lines), "v2": b"".join(lines[:-10])}
    commits = {}
    for tag, content in contents.items():
        (path / "wine.csv").write_bytes(content)
        dvc(path, "add", "-q", "wine.csv")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", f"wine {tag}")
        git(path, "tag", tag)
        commits[tag] = git(path, "rev-parse", "HEAD")
        dvc(path, "push", "-q")
    # the registry's working copy and cache are not where a reader gets the data from
    shutil.rmtree(path / ".dvc" / "cache")
    return Registry(path, commits, contents)


@pytest.fixture
def classifier(tmp_path: Path) -> Path:
    """A folder with the sample classifier's notebook and its exported script (no data: the
    data is elsewhere)."""
    folder = tmp_path / "project"
    folder.mkdir()
    notebook = NOTEBOOKS[0]
    shutil.copy(notebook, folder / notebook.name)
    export_notebook(folder / notebook.name)
    return folder


def run_script(folder: Path, *args: str, env: dict[str, str] | None = None,
               check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` in ``folder`` (headless matplotlib, no MLflow, no requirement
    from the environment unless ``env`` says so)."""
    environment = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "AWS_", "NB2PIPE_REQUIRE"))
    }
    environment.update({"MPLBACKEND": "Agg", **(env or {})})
    done = subprocess.run(
        [sys.executable, *args], cwd=folder, capture_output=True, text=True, timeout=300,
        env=environment, check=False,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done
