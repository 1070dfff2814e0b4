"""docs/data-versions.md: its ``bash`` blocks, run exactly as written in one ``bash`` session,
against a web server and an S3-compatible server with versioning on this machine (the
``AWS_*`` variables point at it, as they would at a team's store), do what the text says."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from nb2pipe_runtime.reading import read_record

from ..conftest import ROOT, SAMPLES
from .conftest import S3, WINE

DOC = ROOT / "docs" / "data-versions.md"
MARK = "@@nb2pipe-walkthrough-command@@"


def doc_commands() -> list[str]:
    commands: list[str] = []
    fence: str | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fence = line[3:].strip() if fence is None else None
            continue
        if fence == "bash" and line.strip() and not line.lstrip().startswith("#"):
            commands.append(line)
    return commands


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_walkthrough(tmp_path: Path, s3: S3) -> None:
    s3.client.create_bucket(Bucket="team-data")
    s3.client.put_bucket_versioning(
        Bucket="team-data", VersioningConfiguration={"Status": "Enabled"}
    )
    first_version = s3.client.put_object(
        Bucket="team-data", Key="wine.csv", Body=WINE.read_bytes()
    )["VersionId"]
    shutil.copy(SAMPLES / "train_classifier.ipynb", tmp_path)
    (tmp_path / "data").mkdir()
    shutil.copy(WINE, tmp_path / "data")
    commands = doc_commands()
    script = "set -eu\n" + "".join(f"echo {MARK}{i}\n{line}\n" for i, line in enumerate(commands))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "NB2PIPE_"))}
    env.update(s3.env, PORT=str(port), MPLBACKEND="Agg")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=900, stdin=subprocess.DEVNULL, check=False,
    )
    assert done.returncode == 0, done.stdout[-5000:]
    pieces = re.split(rf"^{MARK}(\d+)\n", done.stdout, flags=re.MULTILINE)
    out = {commands[int(number)]: text for number, text in zip(pieces[1::2], pieces[2::2])}

    records = sorted(
        (read_record(path) for path in (tmp_path / "runs").glob("*/run.json")),
        key=lambda record: record.start,
    )
    assert [record.status for record in records] == ["finished"] * 5
    http, first, second, again, required = (record.sources[0] for record in records)
    assert http.url == f"http://127.0.0.1:{port}/wine.csv"
    assert http.sha256 == hashlib.sha256(WINE.read_bytes()).hexdigest()
    shown = next(text for command, text in out.items() if "json.dumps" in command)
    assert f'"url": "http://127.0.0.1:{port}/wine.csv"' in shown
    assert '"parameter": "data_path"' in shown

    assert first.version_id == first_version != second.version_id
    cleaned = (tmp_path / "wine-cleaned.csv").read_bytes()
    assert second.sha256 == hashlib.sha256(cleaned).hexdigest()
    table = out["nb2pipe runs"]
    assert "wine.csv@1" in table and "wine.csv@2" in table
    assert f"data differs: s3://team-data/wine.csv: @1 = versionId {first_version}" in table
    assert (
        f"s3://team-data/wine.csv  versionId {first_version}, sha256 {first.sha256[:12]}"  # type: ignore[index]
        f"  ->  versionId {second.version_id}" in out["nb2pipe runs --diff 2 3"]
    )
    config = yaml.safe_load((tmp_path / "params.yaml").read_text(encoding="utf-8"))
    assert config["data_path"] == f"s3://team-data/wine.csv?versionId={first_version}"
    assert "# data_path: pinned to the version the run read" in out["cat params.yaml"]
    assert "178 rows" in out["python train_classifier.py --config params.yaml"]
    assert (again.version_id, again.pinned, again.sha256) == (
        first_version, first_version, first.sha256
    )
    assert required.version_id == second.version_id  # versioned: the requirement holds
