"""An S3 bucket with versioning (moto's standalone server): runs record the version they read,
``nb2pipe runs`` tells versions apart, ``--config`` pins the version a run read, and a pinned
version is the one read, or the run ends with one line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from nb2pipe_runtime.reading import read_record

from ..runs.conftest import invoke
from .conftest import S3, WINE, run_script
from .test_http import records, write_script


def test_overwritten_object_two_versions_diff_and_a_rerun_on_the_old_one(
    classifier: Path, s3: S3
) -> None:
    old = WINE.read_bytes()
    new = b"".join(old.splitlines(keepends=True)[:-30])
    url = f"s3://{s3.bucket}/wine.csv"
    first_version = s3.put("wine.csv", old)
    done = run_script(classifier, "train_classifier.py", "--data-path", url, env=s3.env)
    assert "178 rows" in done.stdout
    second_version = s3.put("wine.csv", new)
    done = run_script(classifier, "train_classifier.py", "--data-path", url, env=s3.env)
    assert "148 rows" in done.stdout
    first, second = (record.sources[0] for record in records(classifier))
    assert (first.url, first.scheme, first.parameter) == (url, "s3", "data_path")
    assert (first.version_id, second.version_id) == (first_version, second_version)
    assert first.sha256 == hashlib.sha256(old).hexdigest() and first.size == len(old)
    assert second.sha256 == hashlib.sha256(new).hexdigest()
    assert first.etag == f'"{hashlib.md5(old).hexdigest()}"' and first.last_modified
    assert first.pinned is None and first.can_pin

    table = invoke(str(classifier)).stdout
    assert "wine.csv@1" in table and "wine.csv@2" in table
    assert f"@1 = versionId {first_version}, sha256 {first.sha256[:12]} (runs 1)" in table
    diff = invoke(str(classifier), "--diff", "1", "2").stdout
    assert (
        f"{url}  versionId {first_version}, sha256 {first.sha256[:12]}  ->  "
        f"versionId {second_version}, sha256 {second.sha256[:12]}"
    ) in diff

    # a colleague re-runs run 1 on the data run 1 read
    config = invoke(str(classifier), "--config", "1")
    assert config.exit_code == 0, config.output
    values = yaml.safe_load(config.stdout)
    assert values["data_path"] == f"{url}?versionId={first_version}"
    assert values["n_estimators"] == 100
    assert "# data_path: pinned to the version the run read" in config.stdout
    (classifier / "params.yaml").write_text(config.stdout, encoding="utf-8")
    done = run_script(
        classifier, "train_classifier.py", "--config", "params.yaml", env=s3.env
    )
    assert "178 rows" in done.stdout  # the old version, not the latest
    third = records(classifier)[-1].sources[0]
    assert (third.url, third.version_id, third.pinned) == (url, first_version, first_version)
    assert third.sha256 == first.sha256
    table = invoke(str(classifier)).stdout
    rows = {
        cells[0]: cells for cells in (line.lstrip("> ").split() for line in table.splitlines())
        if cells[:1] in (["1"], ["2"], ["3"])
    }
    assert [rows[number][-2] for number in "123"] == ["wine.csv@1", "wine.csv@2", "wine.csv@1"]


def test_a_version_that_is_not_there_is_refused_in_one_line(classifier: Path, s3: S3) -> None:
    s3.put("wine.csv", WINE.read_bytes())
    url = f"s3://{s3.bucket}/wine.csv?versionId=no-such-version"
    done = run_script(
        classifier, "train_classifier.py", "--data-path", url, env=s3.env, check=False
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"nb2pipe: error: s3://{s3.bucket}/wine.csv: cannot read version no-such-version: "
    )
    [path] = (classifier / "runs").glob("*/run.json")
    record = read_record(path)
    assert record.status == "failed" and "cannot read version no-such-version" in str(record.error)


def test_a_pinned_url_is_read_at_its_version_by_fsspec_itself(tmp_path: Path, s3: S3) -> None:
    """Not only pandas: ``fsspec.open`` and a filesystem made without ``version_aware``."""
    old_version = s3.put("x.csv", b"a\n1\n")
    s3.put("x.csv", b"a\n2\n")
    write_script(tmp_path, """
        import fsspec
        import s3fs
        with fsspec.open(params.url, "rt") as file:
            print(file.read().split()[-1])
        print(s3fs.S3FileSystem().cat_file(params.url.split("?")[0]).split()[-1].decode())
        with s3fs.S3FileSystem().open(params.url) as file:
            print(file.read().split()[-1].decode())
    """)
    url = f"s3://{s3.bucket}/x.csv?versionId={old_version}"
    done = run_script(tmp_path, "reader.py", "--url", url, env=s3.env)
    assert done.stdout.split() == ["1", "2", "1"]
    [record] = records(tmp_path)
    assert [(s.version_id, s.pinned) for s in record.sources] == [(old_version, old_version)]
