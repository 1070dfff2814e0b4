"""Data versions: which runs of an experiment read which version of a file, and DVC's names
(path and md5, from a ``.dvc`` file or ``dvc.lock``) for the files DVC tracks."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import RunScript, invoke, make_record, write_records

OLD, NEW = b"a,b\n1,2\n", b"a,b\n1,3\n"


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def md5(content: bytes) -> str:
    return hashlib.md5(content).hexdigest()


def cache(project: Path, content: bytes) -> None:
    """Put ``content`` in the DVC 3 cache as DVC does."""
    digest = md5(content)
    path = project / ".dvc" / "cache" / "files" / "md5" / digest[:2] / digest[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def two_versions(project: Path, path: str = "data/x.csv") -> None:
    """Runs 1 and 2 read the old and the new content of ``path``; the new one is on disk."""
    (project / path).parent.mkdir(parents=True, exist_ok=True)
    (project / path).write_bytes(NEW)
    write_records(
        project / "runs",
        make_record("r01", data={path: sha256(OLD)}, metrics={"accuracy": 0.9}),
        make_record("r02", data={path: sha256(NEW)}, metrics={"accuracy": 0.8}),
    )


def data_line(project: Path, *args: str) -> str:
    lines = invoke(str(project), *args).stdout.splitlines()
    return next(line for line in lines if line.startswith("data differs: "))


def test_data_versions_are_per_experiment(tmp_path: Path) -> None:
    write_records(
        tmp_path / "runs",
        make_record("r01", data={"data/x.csv": "a" * 64}),
        make_record("r02", data={"data/x.csv": "b" * 64}),
        make_record("r03", experiment="other", data={"data/x.csv": "b" * 64}),
        make_record("r04", experiment="other", data={"data/x.csv": "b" * 64}),
    )
    lines = invoke(str(tmp_path)).stdout.splitlines()
    assert [line for line in lines if line.startswith("data differs")] == [
        f"data differs: data/x.csv: @1 = {'a' * 12} (runs 1); @2 = {'b' * 12} (runs 2)",
    ]
    other = lines[lines.index("experiment other"):]
    assert [line.split()[-2] for line in other[3:5]] == ["same", "same"]


def git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=project,
        check=True, capture_output=True, timeout=60,
    )


def dvc_file(content: bytes) -> str:
    return f"outs:\n- md5: {md5(content)}\n  size: {len(content)}\n  hash: md5\n  path: x.csv\n"


def test_a_file_with_a_dvc_file_beside_it_is_named_by_dvc(tmp_path: Path) -> None:
    two_versions(tmp_path)
    git(tmp_path, "init", "-q")
    (tmp_path / "data" / "x.csv.dvc").write_text(dvc_file(OLD))
    git(tmp_path, "add", "data/x.csv.dvc")
    git(tmp_path, "commit", "-q", "-m", "data v1")
    (tmp_path / "data" / "x.csv.dvc").write_text(dvc_file(NEW))
    git(tmp_path, "commit", "-q", "-am", "data v2")
    cache(tmp_path, OLD)  # the version an earlier commit tracked, still in DVC's cache
    assert data_line(tmp_path) == (
        f"data differs: data/x.csv (DVC data/x.csv, md5 {md5(NEW)[:12]} in data/x.csv.dvc): "
        f"@1 = {sha256(OLD)[:12]} = md5 {md5(OLD)[:12]} (runs 1); "
        f"@2 = {sha256(NEW)[:12]} = md5 {md5(NEW)[:12]} (runs 2)"
    )
    # without its content (gc'ed from the cache) an old version's md5 cannot be told
    shutil.rmtree(tmp_path / ".dvc" / "cache")
    assert data_line(tmp_path).endswith(
        f"@1 = {sha256(OLD)[:12]} (runs 1); @2 = {sha256(NEW)[:12]} = md5 {md5(NEW)[:12]} (runs 2)"
    )
    data = json.loads(invoke(str(tmp_path), "--json").stdout)
    assert data["experiments"][0]["dvc_files"] == {"data/x.csv": {
        "path": "data/x.csv", "source": "data/x.csv.dvc", "md5": md5(NEW),
        "versions": {sha256(NEW): md5(NEW)},
    }}


def test_a_file_in_dvc_lock_is_named_by_dvc(tmp_path: Path) -> None:
    two_versions(tmp_path, "data/y.csv")
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  load:\n    cmd: python load.py\n    deps:\n"
        f"    - path: data/y.csv\n      hash: md5\n      md5: {md5(NEW)}\n      size: 8\n"
    )
    assert data_line(tmp_path) == (
        f"data differs: data/y.csv (DVC data/y.csv, md5 {md5(NEW)[:12]} in dvc.lock): "
        f"@1 = {sha256(OLD)[:12]} (runs 1); @2 = {sha256(NEW)[:12]} = md5 {md5(NEW)[:12]} (runs 2)"
    )
    lines = invoke(str(tmp_path), "--diff", "1", "2").stdout.splitlines()
    assert lines[2:4] == [
        "data:",
        (f"  data/y.csv (DVC data/y.csv)  {sha256(OLD)[:12]}  ->  {sha256(NEW)[:12]} "
        f"(md5 {md5(NEW)[:12]})"),
    ]


def test_a_file_in_a_folder_dvc_tracks(tmp_path: Path) -> None:
    two_versions(tmp_path)
    manifest = json.dumps([{"md5": md5(NEW), "relpath": "x.csv"}]).encode()
    folder_md5 = md5(manifest) + ".dir"
    path = tmp_path / ".dvc" / "cache" / "files" / "md5" / folder_md5[:2] / folder_md5[2:]
    path.parent.mkdir(parents=True)
    path.write_bytes(manifest)
    (tmp_path / "data.dvc").write_text(f"outs:\n- md5: {folder_md5}\n  path: data\n")
    assert data_line(tmp_path).startswith(
        f"data differs: data/x.csv (DVC data/x.csv, md5 {md5(NEW)[:12]} in data.dvc): "
    )


def test_an_untracked_file_has_no_dvc_name(tmp_path: Path) -> None:
    two_versions(tmp_path)
    (tmp_path / ".dvc").mkdir()
    (tmp_path / "data" / "other.csv.dvc").write_text(f"outs:\n- md5: {md5(NEW)}\n  path: other.csv\n")
    assert data_line(tmp_path) == (
        f"data differs: data/x.csv: @1 = {sha256(OLD)[:12]} (runs 1); @2 = {sha256(NEW)[:12]} (runs 2)"
    )


@pytest.mark.slow
def test_real_dvc_add_between_two_runs(project: Path, run: RunScript) -> None:
    dvc = shutil.which("dvc", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if dvc is None:
        pytest.skip("dvc is not installed")

    def sh(*args: str) -> None:
        subprocess.run([dvc, *args], cwd=project, check=True, capture_output=True, timeout=300)

    git(project, "init", "-q")
    sh("init", "-q")
    sh("add", "-q", "data/wine.csv")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "wine data")
    run("train_classifier.py", "--n-estimators", "5")
    data = project / "data" / "wine.csv"
    old = data.read_bytes()
    data.write_bytes(old + b"\n")
    sh("add", "-q", "data/wine.csv")
    git(project, "commit", "-q", "-am", "wine data, one more line")
    run("train_classifier.py", "--n-estimators", "5")
    new = data.read_bytes()
    commits = invoke(str(project), "--json")
    assert data_line(project) == (
        f"data differs: data/wine.csv (DVC data/wine.csv, md5 {md5(new)[:12]} in "
        f"data/wine.csv.dvc): @1 = {sha256(old)[:12]} = md5 {md5(old)[:12]} (runs 1); "
        f"@2 = {sha256(new)[:12]} = md5 {md5(new)[:12]} (runs 2)"
    )
    assert len(json.loads(commits.stdout)["experiments"][0]["commits"]) == 2
