"""The recorder inside an in-process IPython shell: hooks, the hot path, the history log, replay."""

from __future__ import annotations

import ast
import json
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import nb2pipe_runtime.audit as audit_module
import pytest
from IPython.core.interactiveshell import InteractiveShell

from nb2pipe.tracking import history_hazards
from nb2pipe.tracking.magics import TrackMagics
from tests.tracking.conftest import write_notebook


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("NB2PIPE_TRACK", raising=False)
    ip = InteractiveShell.instance()
    ip.user_ns.pop("__session__", None)
    ip.run_line_magic("load_ext", "nb2pipe")
    yield ip
    ip.run_line_magic("unload_ext", "nb2pipe")
    ip.run_line_magic("reset", "-f")


def recorder(ip: Any) -> Any:
    magics = ip.magics_manager.registry["TrackMagics"]
    assert isinstance(magics, TrackMagics)
    return magics.recorder


def run(ip: Any, source: str, cell_id: str | None = None) -> Any:
    return ip.run_cell(source, store_history=True, cell_id=cell_id)


def test_track_help_is_the_magic_docstring(shell: Any) -> None:
    doc = shell.find_line_magic("track").__doc__
    for command in ("%track on", "%track off", "%track status", "%track report", "--json", "--notebook"):
        assert command in doc


def test_trees_come_from_ipython_and_are_not_parsed_again(shell: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    run(shell, "%track on")
    calls = []
    real_parse = ast.parse
    monkeypatch.setattr(ast, "parse", lambda *a, **k: calls.append(a) or real_parse(*a, **k))
    for index in range(20):
        run(shell, f"a{index} = {index}\nb{index} = a{index} + 1", cell_id=f"c{index}")
    assert calls == []
    assert recorder(shell).state.executions == 20


def test_tree_is_returned_unchanged(shell: Any) -> None:
    run(shell, "%track on")
    transformer = recorder(shell)._transformer
    assert transformer in shell.ast_transformers
    result = run(shell, "x = [i * 2 for i in range(3)]\nx", cell_id="t")
    assert result.result == [0, 2, 4]


def test_off_means_inert(shell: Any) -> None:
    run(shell, "%track on")
    run(shell, "%track off")
    rec = recorder(shell)
    # no hooks at all: the kernel runs like a stock one
    assert rec._transformer not in shell.ast_transformers
    assert rec.post_run_cell not in shell.events.callbacks["post_run_cell"]
    before = rec.state.executions
    run(shell, "y = 1", cell_id="y")
    assert rec.state.executions == before and rec.pending is None


def test_audit_hook_returns_at_once_while_off(shell: Any, tmp_path: Path) -> None:
    run(shell, "%track on")
    run(shell, f"open({str(tmp_path / 'f.txt')!r}, 'w').close()", cell_id="w")  # installs the hook
    run(shell, "%track off")
    audit = recorder(shell).audit
    assert not audit.active and audit_module._HOOK
    open(tmp_path / "f.txt").close()
    assert audit.opened == []
    # cost of the installed hook for any audited event while tracking is off
    start = time.perf_counter()
    for _ in range(100_000):
        sys.audit("nb2pipe.test")
    per_event = (time.perf_counter() - start) / 100_000
    assert per_event < 5e-6


def test_file_reads_and_writes_are_recorded_while_on(shell: Any, tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "nb.ipynb", [("w", "open('out.txt', 'w').write('1')"), ("r", "open('out.txt').read()")])
    run(shell, f"%track --notebook {notebook}")
    run(shell, "open('out.txt', 'w').write('1')", cell_id="w")
    run(shell, "open('out.txt').read()", cell_id="r")
    runs = recorder(shell).state.runs
    assert [(a.path, a.op) for a in runs["w"].event.files] == [(str(tmp_path / "out.txt"), "write")]
    assert [(a.path, a.op) for a in runs["r"].event.files] == [(str(tmp_path / "out.txt"), "read")]
    # the history log itself is not a file the notebook reads or writes
    assert all(".nb2pipe" not in a.path for r in runs.values() for a in r.event.files)


def test_unload_removes_magic_and_hooks(shell: Any) -> None:
    run(shell, "%track on")
    rec = recorder(shell)
    assert rec._transformer in shell.ast_transformers
    shell.run_line_magic("unload_ext", "nb2pipe")
    assert shell.find_line_magic("track") is None
    assert rec._transformer not in shell.ast_transformers
    assert rec.pre_run_cell not in shell.events.callbacks["pre_run_cell"]
    shell.run_line_magic("load_ext", "nb2pipe")


def test_nested_run_cell_is_part_of_the_outer_execution(shell: Any) -> None:
    run(shell, "%track on")
    run(shell, "get_ipython().run_cell('inner = 1')\nouter = inner + 1", cell_id="o")
    rec = recorder(shell)
    assert rec.state.executions == 1 and "outer" in rec.state.runs["o"].event.defines


def test_history_hazards_replay_the_log_without_a_kernel(shell: Any, tmp_path: Path) -> None:
    cells = [("a", "x = 1"), ("b", "y = x + 1"), ("c", "x = 10"), ("d", "total = 0"), ("e", "total += 1")]
    notebook = write_notebook(tmp_path / "nb.ipynb", cells)
    run(shell, f"%track --notebook {notebook}")
    for cell_id in ["a", "b", "c", "b", "d", "e", "e"]:
        run(shell, dict(cells)[cell_id], cell_id=cell_id)
    live = recorder(shell).report()
    recorder(shell).log.drain()  # lines are written by a writer thread right after each cell
    replayed = history_hazards(notebook)
    assert {(h.kind.value, h.cell_id) for h in replayed} == {(h.kind.value, h.cell_id) for h in live.hazards}
    assert {("out-of-order", "b"), ("non-idempotent", "e"), ("multiple-definitions", "c")} <= {
        (h.kind.value, h.cell_id) for h in replayed
    }
    assert all(h.to_json()["kind"] for h in replayed)


def test_replayed_messages_quote_cells_run_after_the_last_save(shell: Any, tmp_path: Path) -> None:
    """The code store gives the log the code of a cell the saved notebook does not have yet:
    the server's messages quote it as the kernel's do."""
    notebook = write_notebook(tmp_path / "nb.ipynb", [("a", "x = 1"), ("b", "print(x)")])
    run(shell, f"%track --notebook {notebook}")
    run(shell, "x = 1", cell_id="a")
    run(shell, "x = 5  # tried", cell_id="new")  # a cell not saved yet
    run(shell, "print(x)", cell_id="b")
    live = recorder(shell).report()
    recorder(shell).log.drain()
    replayed = history_hazards(notebook)
    live_messages = sorted(h.message for h in live.hazards)
    assert any("`x = 5  # tried`" in m for m in live_messages), live_messages
    assert sorted(h.message for h in replayed) == live_messages


def test_history_hazards_without_a_log(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "nb.ipynb", ["x = 1"])
    assert history_hazards(notebook) == []


def test_report_json_is_json(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run(shell, "%track on")
    run(shell, "v = [1]", cell_id="v")
    capsys.readouterr()
    run(shell, "%track report --json")
    data = json.loads(capsys.readouterr().out)
    assert data["executions"] >= 1 and data["notebook"] is None


def test_usage_errors(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    for line in ("bogus", "on off", "status --json", "--notebook", "--notebook /no/such.ipynb"):
        shell.run_line_magic("track", line)
        out = capsys.readouterr().out
        assert "usage" in out or "no notebook" in out or "needs a path" in out or "--json goes" in out


def test_cell_metadata_falls_back_to_the_kernels_parent_header() -> None:
    """IPython 8 has no ``info.cell_meta``: cellId and deletedCells come from ipykernel."""
    from types import SimpleNamespace

    from nb2pipe.tracking.recorder import ExecutionRecorder

    parent = {"metadata": {"cellId": "abc", "deletedCells": ["old"]}}
    fake = SimpleNamespace(
        kernel=SimpleNamespace(get_parent=lambda: parent), user_ns={}, execution_count=1,
        events=None, ast_transformers=[],
    )
    rec = ExecutionRecorder(fake)
    rec.enabled = True
    rec.pre_run_cell(SimpleNamespace(raw_cell="x = 1", cell_id=None))
    assert rec.pending is not None
    assert (rec.pending.cell_id, rec.pending.deleted_cells) == ("abc", ("old",))


def test_the_log_gives_jupyterlab_each_cells_marker_while_tracking_runs(shell: Any, tmp_path: Path) -> None:
    from nb2pipe.tracking import history_state

    cells = [("a", "x = 1"), ("b", "y = x + 1"), ("c", "x = 10"), ("d", "total = 0"), ("e", "total += 1")]
    notebook = write_notebook(tmp_path / "nb.ipynb", cells)
    run(shell, f"%track --notebook {notebook}")
    for cell_id in ["a", "b", "c", "b", "d", "e", "e"]:
        run(shell, dict(cells)[cell_id], cell_id=cell_id)
    live = recorder(shell).report()
    recorder(shell).log.drain()
    state = history_state(notebook).lab_json()
    assert state is not None
    assert state["rerun"] == list(live.rerun) == ["a", "b", "c", "d", "e"]
    markers = {m["cell_id"]: m["state"] for m in state["cells"]}
    assert markers == {"a": "rerun", "b": "out-of-order", "c": "rerun", "d": "rerun", "e": "unsafe"}
    (b,) = [m for m in state["cells"] if m["cell_id"] == "b"]
    assert b["label"] == "cell 2 `y = x + 1`" and b["rerun"] and b["hazards"][0]["kind"] == "out-of-order"
    # re-running the suggested cells clears every marker
    for cell_id in state["rerun"]:
        run(shell, dict(cells)[cell_id], cell_id=cell_id)
    recorder(shell).log.drain()
    assert history_state(notebook).lab_json() == {
        "executions": 12, "rerun": [], "rerun_labels": [], "restart": None, "remove": [],
        "cells": [],
    }
    # tracking off: no session runs, so nothing to show (the hazards stay readable)
    run(shell, "%track off")
    assert history_state(notebook).lab_json() is None


def _counting_walks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every symbol walk the recorder makes of IPython's tree (by the cell's first line)."""
    from nb2pipe.tracking import recorder as recorder_module

    walks: list[str] = []
    real = recorder_module.gather_cell_symbols

    def counting(tree: ast.Module) -> Any:
        walks.append(ast.unparse(tree).splitlines()[0] if tree.body else "")
        return real(tree)

    monkeypatch.setattr(recorder_module, "gather_cell_symbols", counting)
    return walks


def test_a_cell_run_as_saved_is_not_walked_again(
    shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the saved notebook analysed its cells: running one as saved reuses that
    analysis, and the symbols are those IPython's tree gives. A cell not saved, or saved
    otherwise, or changed by IPython's transformations, is walked."""
    from nb2pipe.analysis import gather_cell_symbols

    saved = [
        ("a", "import random\nrows = [random.random() for _ in range(3)]"),
        ("b", "def scale(values, k):\n    values[:] = [v * k for v in values]\n    return values"),
        ("c", "total = sum(scale(rows, 2))\nprint(total)"),
        ("d", "%time big = total * 10"),
        ("e", "\n\nlate = f'{big}'.upper()"),
    ]
    notebook = write_notebook(tmp_path / "nb.ipynb", saved)
    run(shell, f"%track --notebook {notebook}")
    walks = _counting_walks(monkeypatch)
    for cell_id, source in saved:
        result = run(shell, source, cell_id=cell_id)
        assert result.success, (cell_id, result.error_in_exec)
    # the first cell ran before the notebook was read; %time and leading blank lines change
    # the code IPython parses (a magic call; other line numbers): those are walked
    assert walks == ["import random", "get_ipython().run_line_magic('time', 'big = total * 10')", "late = f'{big}'.upper()"]
    rec = recorder(shell)
    for cell_id, source in saved:
        _digest, symbols = rec.live_symbols[cell_id]
        tree = ast.parse(shell.transform_cell(source))
        assert symbols == gather_cell_symbols(tree), cell_id
    walks.clear()
    run(shell, "rows.append(total)", cell_id="new")
    run(shell, "total = sum(scale(rows, 3))\nprint(total)", cell_id="c")  # edited, not saved
    assert walks == ["rows.append(total)", "total = sum(scale(rows, 3))"]
    assert rec.state.runs["c"].event.mutates == frozenset({"rows"})


def test_another_ast_transformer_means_the_tree_is_walked(
    shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transformer ahead of ``%track``'s may change the tree: what runs is what it made."""

    class Rename(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.Name:
            return ast.copy_location(ast.Name("renamed" if node.id == "x" else node.id, node.ctx), node)

    notebook = write_notebook(tmp_path / "nb.ipynb", [("a", "y = 0"), ("b", "x = y + 1")])
    run(shell, f"%track --notebook {notebook}")
    run(shell, "y = 0", cell_id="a")
    shell.ast_transformers.insert(0, Rename())
    try:
        walks = _counting_walks(monkeypatch)
        run(shell, "x = y + 1", cell_id="b")
    finally:
        shell.ast_transformers[:] = [t for t in shell.ast_transformers if not isinstance(t, Rename)]
    assert walks == ["renamed = y + 1"]
    assert recorder(shell).state.runs["b"].event.defines == frozenset({"renamed"})


def test_a_new_cell_without_an_id_warns_of_its_own_static_hazards_only(
    shell: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A frontend that sends no cell ids (nbclient, a console): cells typed since the save
    are new cells with neither id nor place. Each one's warning is about that cell, not a
    repeat of every new cell's before it."""
    notebook = write_notebook(tmp_path / "nb.ipynb", ["alpha = 1", "beta = 2", "gamma = 3", "delta = 4"])
    run(shell, f"%track --notebook {notebook}")
    printed = []
    for source in ("alpha = 10", "beta = 20", "gamma = 30", "delta = 40"):
        capsys.readouterr()
        run(shell, source)
        printed.append(capsys.readouterr().err)  # warnings go to stderr
    for name, out in zip(("alpha", "beta", "gamma", "delta"), printed):
        lines = [line for line in out.splitlines() if "multiple-definitions" in line]
        assert len(lines) == 1 and f"'{name}'" in lines[0], out
