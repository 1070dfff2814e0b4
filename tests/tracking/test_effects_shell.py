"""What the recorder learns about a cell at run time, in an in-process IPython shell: objects
changed in place through numpy functions, containers, shallow copies and the notebook's own
classes; paths made, renamed and removed; and a ``rerun`` that restores the namespace."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell

from nb2pipe.tracking.magics import TrackMagics
from tests.tracking.conftest import write_notebook


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("NB2PIPE_TRACK", raising=False)
    ip = InteractiveShell.instance()
    ip.user_ns.pop("__session__", None)
    ip.run_line_magic("reset", "-f")
    ip.run_line_magic("load_ext", "nb2pipe")
    yield ip
    ip.run_line_magic("track", "off")
    ip.run_line_magic("unload_ext", "nb2pipe")
    ip.run_line_magic("reset", "-f")


class Notebook:
    """A saved notebook whose cells run, by id, in a tracked shell."""

    def __init__(self, ip: Any, folder: Path, cells: list[str]) -> None:
        self.ip, self.folder = ip, folder
        self.cells = {f"c{i}": source for i, source in enumerate(cells)}
        self.path = write_notebook(folder / "nb.ipynb", list(self.cells.items()))
        ip.run_line_magic("track", f"--notebook {self.path}")

    @property
    def recorder(self) -> Any:
        magics = self.ip.magics_manager.registry["TrackMagics"]
        assert isinstance(magics, TrackMagics)
        return magics.recorder

    def run(self, *indices: int) -> None:
        for index in indices:
            self.ip.run_cell(self.cells[f"c{index}"], store_history=True, cell_id=f"c{index}")

    def edit(self, index: int, source: str) -> None:
        self.cells[f"c{index}"] = source
        write_notebook(self.path, list(self.cells.items()))
        self.run(index)

    def event(self, index: int) -> Any:
        return self.recorder.state.runs[f"c{index}"].event

    def report(self) -> Any:
        return self.recorder.report()


@pytest.mark.parametrize("cells, changed", [
    (["import numpy as np\na = np.zeros(3)", "np.copyto(a, [1, 2, 3])"], "a"),
    (["import numpy as np\na = np.arange(6)", "np.place(a, a > 2, [0])"], "a"),
    (["import numpy as np\nm = np.zeros((2, 2))", "np.fill_diagonal(m, 5)"], "m"),
    (["import numpy as np\nc = np.zeros(3, dtype=int)", "np.add.at(c, [0, 0], 1)"], "c"),
    # not seen in the code: the values a stamp samples changed
    (["import numpy as np\na = np.ones(3)", "np.add(a, 1, a)"], "a"),
    (["class Log:\n    def __init__(self):\n        self.lines = []\n    def write(self, s):\n"
      "        self.lines.append(s)\nlog = Log()", "log.write('a')"], "log"),
    (["rows = [[1], [2]]", "for r in rows:\n    r.append(0)"], "rows"),
])
def test_changes_in_place_are_seen(shell: Any, tmp_path: Path, cells: list[str], changed: str) -> None:
    nb = Notebook(shell, tmp_path, cells)
    nb.run(0, 1)
    assert changed in nb.event(1).mutates
    assert [f.name for f in nb.recorder.state.runs["c1"].mutated] == [changed]


def test_calling_a_modules_functions_changes_no_module(shell: Any, tmp_path: Path) -> None:
    nb = Notebook(shell, tmp_path, ["import numpy as np\na = np.zeros(2)", "b = np.add(a, 1)\ns = set()"])
    nb.run(0, 1)
    assert nb.event(1).mutates == set()
    assert not nb.report().hazards


@pytest.mark.parametrize("copy", ["list(a)", "a[:]", "copy.copy(a)"])
def test_a_shallow_copy_shares_its_inner_objects(shell: Any, tmp_path: Path, copy: str) -> None:
    nb = Notebook(shell, tmp_path, ["import copy\na = [[1], [2]]", f"b = {copy}", "b[0].append(9)", "print(a)"])
    nb.run(0, 1, 2, 3)
    assert nb.event(1).aliases == {"b": "a"}
    nb.edit(2, "b[1].append(8)")
    assert nb.report().rerun == ("c0", "c1", "c2", "c3")


def test_a_copy_of_plain_values_is_independent(shell: Any, tmp_path: Path) -> None:
    nb = Notebook(shell, tmp_path, ["a = [1, 2]", "b = list(a)", "b.append(3)", "print(a)"])
    nb.run(0, 1, 2, 3)
    assert nb.event(1).aliases == {}
    report = nb.report()
    assert report.rerun == () and not report.hazards


def test_folders_made_and_files_renamed_are_recorded(shell: Any, tmp_path: Path) -> None:
    nb = Notebook(shell, tmp_path, [
        "import os\nos.makedirs('out')",
        "open('out/raw.txt', 'w').write('abc')",
        "os.rename('out/raw.txt', 'out/data.txt')",
        "print(open('out/data.txt').read())",
    ])
    nb.run(0, 1, 2, 3)
    out = str(tmp_path / "out")
    assert [(a.path, a.op) for a in nb.event(0).files] == [(out, "create")] and nb.event(0).exclusive
    assert sorted((a.path, a.op) for a in nb.event(2).files) == [
        (out + "/data.txt", "create"), (out + "/raw.txt", "remove")
    ]
    nb.edit(1, "open('out/raw.txt', 'w').write('abcd')")
    report = nb.report()
    assert report.rerun == ("c2", "c3") and report.restart is None


def test_cells_that_change_no_paths_are_not_listed(shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nb2pipe.tracking.recorder as recorder_module

    listed = []
    monkeypatch.setattr(recorder_module, "list_folder", lambda root: listed.append(root) or {})
    nb = Notebook(shell, tmp_path, ["x = 1", "open('f.txt', 'w').write('1')", "import shutil\nshutil.rmtree('gone', ignore_errors=True)"])
    nb.run(0, 1)
    assert listed == []
    nb.run(2)
    assert listed == [str(tmp_path), str(tmp_path)]


def test_a_file_an_earlier_version_of_a_cell_wrote_is_named_for_removal(shell: Any, tmp_path: Path) -> None:
    """A restart leaves the disk as it is: the advice is to remove the file, then re-run."""
    nb = Notebook(shell, tmp_path, [
        "import os\nif not os.path.exists('cache.txt'):\n    open('cache.txt', 'w').write('v1')",
        "print(open('cache.txt').read())",
    ])
    nb.run(0, 1)
    nb.edit(0, "import os\nif not os.path.exists('cache.txt'):\n    open('cache.txt', 'w').write('v2')")
    report = nb.report()
    assert report.restart is None and report.remove == ("cache.txt",), report
    assert report.rerun == ("c0", "c1"), report.rerun
    # the file has not changed since cell 2 read it: it is out of date, not changed
    [hazard] = [h for h in report.hazards if h.kind.value == "external-file"]
    assert hazard.fix.startswith("remove cache.txt (or write to a fresh path), then re-run cell 1"), hazard


def test_rerun_restores_the_namespace_not_only_the_outputs(shell: Any, tmp_path: Path) -> None:
    """The issue's session: cells 1, 2, 4, 3, 5, where 4 appends to the list 3 sums."""
    nb = Notebook(shell, tmp_path, ["n = 3", "data = [1, 2]", "total = sum(data)\nprint(total)",
                                    "data.append(n)", "print('done')"])
    nb.run(0, 1, 3, 2, 4)
    # re-running 2 and 3 fixes the output of 3, but leaves data without 4's append
    assert nb.report().rerun == ("c1", "c2", "c3")


def test_a_name_left_from_an_earlier_version_of_a_cell_needs_a_restart(shell: Any, tmp_path: Path) -> None:
    nb = Notebook(shell, tmp_path, ["x = 1", "print('hi')"])
    nb.run(0, 1)
    nb.edit(0, "y = 1")
    report = nb.report()
    assert report.restart and "'x' is still bound from an earlier version of" in report.restart
    assert "(del x)" in report.restart
    # the report says how to keep the result before restarting loses the path to it
    lines = report.lines()
    restart_at = next(i for i, line in enumerate(lines) if line.startswith("Restart the kernel"))
    assert lines[restart_at + 1].startswith("To keep the result you have, recover it first")
    assert "nb2pipe recover " in lines[restart_at + 1]
    (hidden,) = [h for h in report.hazards if h.kind.value == "hidden-state"]
    assert hidden.cell_id == "c0" and hidden.names == ("x",) and hidden.fix.startswith("del x")


def test_a_leftover_name_read_below_is_one_restart_reason(shell: Any, tmp_path: Path) -> None:
    """`a = 1` edited to `b = 1` while a cell below reads `a`: one cause, said once."""
    nb = Notebook(shell, tmp_path, ["a = 1", "print(a + 1)"])
    nb.run(0, 1)
    nb.edit(0, "b = 1")
    restart = nb.report().restart
    assert restart is not None and restart.count("'a' is still bound from an earlier version of") == 1
    assert "(del a)" in restart
