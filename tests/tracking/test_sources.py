"""``%track``'s code store: each executed source kept once by its hash, capped, pruned oldest
first but never below what the newest session of a notebook ran."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from nb2pipe.model import source_digest
from nb2pipe.tracking.log import history_path
from nb2pipe.tracking.sources import SourceStore, newest_session_sources
from tests.tracking.conftest import write_notebook
from tests.tracking.test_recorder_shell import recorder, run, shell  # noqa: F401 - the fixture


def test_a_source_is_written_once_and_read_back(tmp_path: Path) -> None:
    store = SourceStore(tmp_path / ".nb2pipe", cap=0)
    source = "x = 1\n%time y = x + 1  # é, and a lone surrogate \udcff"
    digest = source_digest(source)
    assert store.add(digest, source) is True
    store.write(digest, source)
    assert store.add(digest, source) is False  # known: not written again
    assert store.read(digest) == source
    assert digest in SourceStore(tmp_path / ".nb2pipe")  # a new reader lists the folder
    assert store.usage().sources == 1 and store.usage().bytes > 0
    assert [p.name for p in store.folder.iterdir()] == [f"{digest}.py"]  # no temporary left
    assert store.read("../../etc/passwd") is None and store.read("0" * 16) is None


def _session_log(folder: Path, stem: str, sessions: list[list[str]]) -> None:
    lines = []
    for digests in sessions:
        lines.append(json.dumps({"event": "session", "version": 1, "notebook": stem}))
        lines += [
            json.dumps({"event": "execution", "seq": i, "cell_key": "c", "source_hash": d})
            for i, d in enumerate(digests, 1)
        ]
    log = history_path(folder / f"{stem}.ipynb")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("\n".join(lines) + "\n")


def test_prune_removes_the_oldest_first_but_never_what_a_newest_session_ran(tmp_path: Path) -> None:
    history = tmp_path / ".nb2pipe"
    store = SourceStore(history, cap=0)
    sources = [f"v = {i}\n" + "#" * 1000 for i in range(6)]
    digests = [source_digest(s) for s in sources]
    for age, (digest, source) in enumerate(zip(digests, sources)):
        store.write(digest, source)
        os.utime(store.path_of(digest), ns=(age * 10**9, age * 10**9))  # oldest first
    # a.ipynb's newest session ran sources 0 and 1 (its older one ran 2); b.ipynb's ran 3
    _session_log(tmp_path, "a", [[digests[2]], [digests[0], digests[1]]])
    _session_log(tmp_path, "b", [[digests[3]]])
    assert newest_session_sources(history) == {digests[0], digests[1], digests[3]}
    capped = SourceStore(history, cap=4 * 1010)
    removed = capped.prune()
    kept = {p.stem for p in history.joinpath("sources").iterdir()}
    # 2 (old, unprotected) goes first, then 4; 5 is the newest and fits under the cap
    assert removed == 2 and kept == {digests[0], digests[1], digests[3], digests[5]}
    # protected sources stay even past the cap
    assert SourceStore(history, cap=1).prune() == 1
    assert {p.stem for p in history.joinpath("sources").iterdir()} == {
        digests[0], digests[1], digests[3]
    }


def test_the_store_keeps_every_source_a_tracked_shell_ran(shell: Any, tmp_path: Path) -> None:  # noqa: F811
    notebook = write_notebook(tmp_path / "nb.ipynb", [("a", "x = 1"), ("b", "print(x)")])
    run(shell, f"%track --notebook {notebook}")
    for source, cell in [("x = 1", "a"), ("print(x)", "b"), ("x = 2", "a"), ("print(x)", "b"),
                         ("%time z = x * 2", "c")]:
        run(shell, source, cell_id=cell)
    log = recorder(shell).log
    assert log is not None
    log.drain()
    lines = [json.loads(line) for line in history_path(notebook).read_text().splitlines()]
    executions = [line for line in lines if line.get("event") == "execution"]
    assert len(executions) == 5
    store = SourceStore.beside(notebook)
    ran = [store.read(line["source_hash"]) for line in executions]
    assert ran == ["x = 1", "print(x)", "x = 2", "print(x)", "%time z = x * 2"]
    assert store.usage().sources == 4  # print(x) is kept once
    out = "\n".join(recorder_status(shell))
    assert "code store:" in out and "4 sources" in out and "never outputs or data" in out


def recorder_status(ip: Any) -> list[str]:
    from nb2pipe.tracking.magics import status_lines

    return status_lines(recorder(ip))


def test_an_unwritable_store_leaves_the_log_and_the_cell_alone(
    shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    notebook = write_notebook(tmp_path / "nb.ipynb", [("a", "x = 1")])

    def refuse(self: SourceStore, digest: str, source: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(SourceStore, "write", refuse)
    run(shell, f"%track --notebook {notebook}")
    result = run(shell, "x = 1", cell_id="a")
    assert result.success
    rec = recorder(shell)
    assert rec.log is not None
    rec.log.drain()
    assert rec.enabled and rec.log.error is None
    assert '"event":"execution"' in history_path(notebook).read_text()
    assert "off (Permission denied)" in "\n".join(recorder_status(shell))
