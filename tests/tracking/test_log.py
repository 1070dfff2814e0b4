"""The history log: JSON lines, append-only, flushed per execution, read back by session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from nb2pipe.analysis import FunctionSymbols
from nb2pipe.tracking.log import (
    ExecutionEvent,
    FileAccess,
    HistoryLog,
    RandomUse,
    SessionHeader,
    history_path,
    read_last_session,
    read_sessions,
)
from nb2pipe.tracking.sources import SourceStore


def _event(seq: int, **kw: object) -> ExecutionEvent:
    return ExecutionEvent(seq=seq, cell_key=f"c{seq}", source_hash="h", **kw)  # type: ignore[arg-type]


def test_history_path_is_beside_the_notebook(tmp_path: Path) -> None:
    assert history_path(tmp_path / "work" / "nb.ipynb") == tmp_path / "work" / ".nb2pipe" / "nb.history.jsonl"


def test_event_round_trips_through_json() -> None:
    event = ExecutionEvent(
        seq=3, cell_key="abc", source_hash="0123", cell_id="abc", execution_count=7, started=1.5,
        duration=0.25, error="ValueError", defines=frozenset({"x"}), reads=frozenset({"y"}),
        mutates=frozenset({"z"}), deletes=frozenset({"w"}), rebinds=frozenset({"x"}),
        loop_targets=frozenset({"i"}), generators=frozenset({"rng"}), aliases={"b": "a"},
        files=(FileAccess("/d/f.csv", "read", (1, 2)),), seeds=("numpy",),
        draws=(RandomUse("np.random.rand", "numpy.random.rand", "numpy", 2),),
        functions=(FunctionSymbols("f", 1, frozenset({"k"}), frozenset(), frozenset(), ((0, "a"),)),),
        imports={"np": "numpy"}, deleted_cells=("old",), reset=True, opaque=True,
        values={"x": "0123456789abcdef"}, constants=frozenset({"x"}),
    )
    assert ExecutionEvent.from_json(json.loads(json.dumps(event.to_json()))) == event


def test_log_lines_are_flushed_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / ".nb2pipe" / "nb.history.jsonl"
    log = HistoryLog(path)
    log.open(SessionHeader("nb.ipynb", 1.0, frozenset({"pre"})))
    log.append(_event(1))
    log.drain()  # the recorder drains before the next cell runs
    # readable while the log is still open: a crash now loses nothing
    session = read_last_session(path)
    assert session is not None and not session.stopped
    assert session.header.baseline == {"pre"} and [e.seq for e in session.events] == [1]
    log.append(_event(2))
    log.close()
    assert len(path.read_text().splitlines()) == 4  # the session, two executions, stop
    session = read_last_session(path)
    assert session is not None and session.stopped


def test_deferred_lines_are_written_when_the_loop_runs_them_or_before_the_next_cell(tmp_path: Path) -> None:
    """In a kernel the line (and the code store's new source) is written once the reply is
    sent, by the event loop; whatever the loop has not run yet, the next cell's drain writes."""
    path = tmp_path / ".nb2pipe" / "nb.history.jsonl"
    store = SourceStore(path.parent)
    log = HistoryLog(path, store)
    log.open(SessionHeader("nb.ipynb", 1.0))
    later: list[Callable[[], None]] = []

    def event(seq: int, digest: str) -> ExecutionEvent:
        return ExecutionEvent(seq=seq, cell_key="c", source_hash=digest)

    log.append(event(1, "ab01"), "x = 1", later.append)
    log.append(event(2, "ab01"), "x = 1", later.append)  # one callback for both, one source
    assert len(later) == 1 and len(path.read_text().splitlines()) == 1  # nothing written yet
    later.pop()()
    assert [e.seq for e in read_sessions(path)[-1].events] == [1, 2]
    assert store.read("ab01") == "x = 1"
    log.append(event(3, "ab02"), "y = 2", later.append)
    log.drain()  # the next cell starts before the loop got to it
    assert [e.seq for e in read_sessions(path)[-1].events] == [1, 2, 3]
    assert store.read("ab02") == "y = 2"
    later.pop()()  # the loop's late callback finds nothing left to write
    log.append(_event(4))  # no event loop (a terminal IPython): written at once
    assert [e.seq for e in read_sessions(path)[-1].events] == [1, 2, 3, 4]
    log.close()
    assert len(path.read_text().splitlines()) == 6


def test_reading_takes_the_last_session_and_skips_a_cut_line(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    first = HistoryLog(path)
    first.open(SessionHeader("nb.ipynb", 1.0))
    first.append(_event(1))
    first.close()
    second = HistoryLog(path)
    second.open(SessionHeader("nb.ipynb", 2.0))
    second.append(_event(1, error="KeyError"))
    second.close()
    with open(path, "a") as f:
        f.write('{"event": "execution", "seq": 2, "cell_')  # a crash mid-write
    session = read_last_session(path)
    assert session is not None
    assert session.header.started == 2.0 and [e.error for e in session.events] == ["KeyError"]


def test_no_log_reads_as_none(tmp_path: Path) -> None:
    assert read_last_session(tmp_path / "missing.jsonl") is None
