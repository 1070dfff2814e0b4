"""``--require-data-version`` (or ``NB2PIPE_REQUIRE_DATA_VERSION=1``): a run that read data
without a version identity ends with one line naming that input and exits non-zero; its record
is still written and says so. Data with an identity passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import S3, WebSite, run_script
from .test_http import records, write_script

PARTIAL = """
    import urllib.request
    with urllib.request.urlopen(params.url) as response:
        print(response.readline().decode().split(",")[0])
"""


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_an_unversioned_read_fails_the_run_in_one_line(
    tmp_path: Path, web: WebSite, how: str
) -> None:
    write_script(tmp_path, PARTIAL)
    url = f"{web.url}/wine.csv"
    args = ["reader.py", "--url", url] + (["--require-data-version"] if how == "flag" else [])
    env = {"NB2PIPE_REQUIRE_DATA_VERSION": "1"} if how == "environment" else {}
    done = run_script(tmp_path, *args, env=env, check=False)
    assert done.stdout == "alcohol\n"  # the code ran
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"nb2pipe: error: read data without a version identity: {url}: ")
    assert "(--require-data-version); the run is recorded in runs/" in last
    assert "Traceback" not in done.stderr
    [record] = records(tmp_path)
    assert record.status == "failed"
    assert record.error is not None and url in record.error
    assert record.sources[0].identity is None


def test_without_the_requirement_the_same_run_finishes(tmp_path: Path, web: WebSite) -> None:
    write_script(tmp_path, PARTIAL)
    done = run_script(
        tmp_path, "reader.py", "--url", f"{web.url}/wine.csv",
        env={"NB2PIPE_REQUIRE_DATA_VERSION": "0"},
    )
    assert "finished" in done.stderr
    assert records(tmp_path)[0].status == "finished"


def test_an_unversioned_bucket_read_in_part_fails_and_a_whole_read_passes(
    tmp_path: Path, s3: S3
) -> None:
    s3.client.put_bucket_versioning(
        Bucket=s3.bucket, VersioningConfiguration={"Status": "Suspended"}
    )
    s3.client.put_object(Bucket=s3.bucket, Key="x.csv", Body=b"a\n1\n2\n")
    for name, size in (("whole.py", -1), ("part.py", 2)):
        write_script(tmp_path, f"""
            import fsspec
            with fsspec.open(params.url) as file:
                print(file.read({size}))
        """, name=name)
    url = f"s3://{s3.bucket}/x.csv"
    run_script(tmp_path, "whole.py", "--url", url, "--require-data-version", env=s3.env)
    whole = records(tmp_path)[0].sources[0]
    assert whole.version_id is None and whole.sha256 is not None  # the hash is its identity
    done = run_script(
        tmp_path, "part.py", "--url", url, "--require-data-version", env=s3.env, check=False,
    )
    assert done.returncode == 1
    assert f"read data without a version identity: {url}: " in done.stderr.splitlines()[-1]
