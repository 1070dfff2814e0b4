"""verify's probe log: a version line first, and a log of another version refused.

The log is written by a real kernel (the probe installed as ``verify`` installs it), then read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nb2pipe.verify.probe import PROBE_LOG_VERSION, ProbeLogError, read_probe_log
from nb2pipe.verify.runner import kernel_start_arguments


def test_a_real_kernel_writes_a_versioned_log_that_reads_back(tmp_path: Path) -> None:
    """A kernel started with the probe, as verify starts it, runs a cell that reads and writes
    files and sets a metric."""
    from jupyter_client.manager import start_new_kernel

    log = tmp_path / "probe.log"
    log.write_bytes(b"")
    (tmp_path / "in.txt").write_text("data")
    manager, client = start_new_kernel(
        kernel_name="python3", cwd=str(tmp_path),
        extra_arguments=kernel_start_arguments(log, tmp_path, ["score"]),
    )
    try:
        reply = client.execute_interactive(
            "text = open('in.txt').read()\nopen('out.txt', 'w').write(text)\nscore = 0.5",
            timeout=60,
        )
        assert reply["content"]["status"] == "ok"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert log.read_text().splitlines()[0] == f"nb2pipe-probe-log\t{PROBE_LOG_VERSION}"
    probe = read_probe_log(log)
    reads = {(access.path.name, access.write) for access in probe.accesses}
    assert {("in.txt", False), ("out.txt", True)} <= reads
    assert probe.metric_at("score", 1) == 0.5


def test_an_empty_or_missing_log_is_an_empty_probe(tmp_path: Path) -> None:
    (tmp_path / "empty.log").write_bytes(b"")
    assert read_probe_log(tmp_path / "empty.log").accesses == ()
    assert read_probe_log(tmp_path / "missing.log").accesses == ()


def test_another_version_is_refused_in_one_line(tmp_path: Path) -> None:
    log = tmp_path / "probe.log"
    log.write_text("nb2pipe-probe-log\t2\nr\t1\tdata.csv\n")
    with pytest.raises(ProbeLogError) as refused:
        read_probe_log(log)
    assert str(refused.value) == (
        f"{log}: probe log version 2; this nb2pipe reads version {PROBE_LOG_VERSION}"
    )


def test_a_log_without_its_version_line_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "probe.log"
    log.write_text("r\t1\tdata.csv\n")  # the unversioned format before version 1
    with pytest.raises(ProbeLogError, match="its first line names no version"):
        read_probe_log(log)
