"""Data read over HTTP(S) is recorded: pandas' reader (urllib), ``requests``, plain urllib; the
URL, its headers and a SHA-256 when the whole body was read; nobody else's requests."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

from nb2pipe_runtime.reading import read_record
from nb2pipe_runtime.record import RunRecord

from ..runs.conftest import invoke
from .conftest import WINE, WebSite, run_script


def records(folder: Path) -> list[RunRecord]:
    found = [read_record(path) for path in (folder / "runs").glob("*/run.json")]
    return sorted(found, key=lambda record: record.start)


def write_script(folder: Path, body: str, name: str = "reader.py") -> Path:
    """A script recorded by the runtime as an exported script is (``with Run(...)``)."""
    script = folder / name
    script.write_text(
        "import argparse\nfrom nb2pipe_runtime import Run, parse_args\n\n"
        "parser = argparse.ArgumentParser()\n"
        "parser.add_argument('--url', default='')\n"
        "params = parse_args(parser)\n"
        "with Run(params, __file__):\n" + textwrap.indent(textwrap.dedent(body), "    "),
        encoding="utf-8",
    )
    return script


def test_the_sample_classifier_over_http_records_url_size_date_and_hash(
    classifier: Path, web: WebSite
) -> None:
    url = f"{web.url}/wine.csv"
    done = run_script(classifier, "train_classifier.py", "--data-path", url)
    assert "178 rows" in done.stdout
    [record] = records(classifier)
    assert record.data == {}  # no local data file
    [source] = record.sources
    content = WINE.read_bytes()
    assert source.url == url and source.scheme == "http"
    assert source.size == len(content)
    assert source.sha256 == hashlib.sha256(content).hexdigest()
    assert source.last_modified and source.last_modified.endswith("GMT")
    assert source.parameter == "data_path"  # the parameter that named it
    assert source.identity == source.sha256 and not source.can_pin


def test_changed_content_at_the_same_url_shows_in_runs_and_diff(
    classifier: Path, web: WebSite
) -> None:
    url = f"{web.url}/wine.csv"
    run_script(classifier, "train_classifier.py", "--data-path", url)
    lines = WINE.read_bytes().splitlines(keepends=True)
    (web.folder / "wine.csv").write_bytes(b"".join(lines[:-20]))
    run_script(classifier, "train_classifier.py", "--data-path", url)
    first, second = records(classifier)
    assert first.sources[0].sha256 != second.sources[0].sha256
    table = invoke(str(classifier)).stdout
    assert "wine.csv@1" in table and "wine.csv@2" in table
    assert f"data differs: {url}: @1 = sha256 {first.sources[0].sha256[:12]} (runs 1); " \
        f"@2 = sha256 {second.sources[0].sha256[:12]} (runs 2)" in table
    diff = invoke(str(classifier), "--diff", "1", "2").stdout
    assert (
        f"{url}  sha256 {first.sources[0].sha256[:12]}  ->  "
        f"sha256 {second.sources[0].sha256[:12]}"
    ) in diff


def test_requests_and_urllib_reads_whole_streamed_and_partial(
    tmp_path: Path, web_with_etags: WebSite
) -> None:
    url = f"{web_with_etags.url}/wine.csv"
    write_script(tmp_path, """
        import urllib.request
        import requests
        whole = requests.get(params.url).content
        streamed = b"".join(requests.get(params.url + "?part=1", stream=True).iter_content(100))
        assert whole == streamed
        with urllib.request.urlopen(params.url + "?part=2") as response:
            header = response.readline()
        print(len(whole), header.decode().strip())
        requests.post(params.url + "?posted=1", data=b"x")  # not a read: http.server says 501
    """)
    done = run_script(tmp_path, "reader.py", "--url", url)
    assert done.stdout.startswith(f"{WINE.stat().st_size} alcohol,malic_acid,")
    [record] = records(tmp_path)
    by_url = {source.url: source for source in record.sources}
    assert list(by_url) == [url, url + "?part=1", url + "?part=2"]
    digest = hashlib.sha256(WINE.read_bytes()).hexdigest()
    assert by_url[url].sha256 == digest and by_url[url + "?part=1"].sha256 == digest
    partial = by_url[url + "?part=2"]
    assert partial.sha256 is None and partial.identity is None  # read one line of it
    assert partial.etag is not None and partial.etag.startswith('"')
    assert partial.checks == f"etag:{partial.etag} {partial.last_modified}"
    assert all(source.etag == partial.etag for source in record.sources)


def test_credentials_and_signatures_stay_out_of_the_record(
    tmp_path: Path, web: WebSite
) -> None:
    port = web.url.rsplit(":", 1)[1]
    url = f"http://user:secret@127.0.0.1:{port}/wine.csv?X-Amz-Signature=abc&token=t&part=3"
    write_script(tmp_path, """
        import requests
        requests.get(params.url).raise_for_status()
    """)
    run_script(tmp_path, "reader.py", "--url", url)
    [record] = records(tmp_path)
    assert [source.url for source in record.sources] == [f"{web.url}/wine.csv?part=3"]
    # (the parameter itself is recorded as given, in params and argv)
    assert "secret" not in json.dumps(record.to_json()["sources"])


def test_mlflows_own_requests_are_not_data_reads(tmp_path: Path, web: WebSite) -> None:
    """The notebook talks to a tracking server (here one that answers 404) and reads data:
    only the data is recorded."""
    write_script(tmp_path, """
        import mlflow
        import pandas as pd
        mlflow.set_tracking_uri(params.url.rsplit("/", 1)[0])
        try:
            mlflow.get_experiment_by_name("x")
        except Exception as exc:
            print("mlflow:", type(exc).__name__)
        print(len(pd.read_csv(params.url)))
    """)
    done = run_script(
        tmp_path, "reader.py", "--url", f"{web.url}/wine.csv",
        env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"},
    )
    assert "mlflow: " in done.stdout and done.stdout.rstrip().endswith("178")
    [record] = records(tmp_path)
    assert [source.url for source in record.sources] == [f"{web.url}/wine.csv"]
