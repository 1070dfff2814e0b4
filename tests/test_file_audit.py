"""One file audit: verify's kernel probe and ``%track`` see the files ``nb2pipe_runtime.audit`` sees."""

from __future__ import annotations

import ast
import json
import os
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from nb2pipe_runtime.audit import FileAudit, is_environment_file

from nb2pipe.tracking.magics import TrackMagics
from tests.conftest import ROOT, notebook_json

#: (path relative to the notebook's folder, whether written) -> index of the cell that opened it
Seen = dict[tuple[str, bool], int]


def _cells(outside: Path) -> list[str]:
    return [
        'rows = open("data.csv").read().splitlines()',  # a data file in the notebook's folder
        'from pathlib import Path\nlookup = Path("sub/lookup.txt").read_text()',  # a subfolder
        'secret = open(".hidden/secret.txt").read()',  # a hidden folder: not the user's data
        f"outside = open({str(outside)!r}).read()",  # the temp folder, outside the notebook's
        "import colorsys",  # the Python installation's file, if not imported yet
        'with open("out.txt", "w") as f:\n    f.write(str(len(rows)))',
        'with open("out.txt", "a") as f:\n    f.write("!")',  # written again: no new write
        'check = open("out.txt").read()',
        "print(sorted(globals()))",  # verify's probe leaves no name in the user's namespace
    ]


#: what every audit must see, for the cells above
EXPECTED: Seen = {
    ("data.csv", False): 0,
    (os.path.join("sub", "lookup.txt"), False): 1,
    ("out.txt", True): 5,
    ("out.txt", False): 7,
}


@pytest.fixture
def project(tmp_path: Path) -> dict[str, Any]:
    folder = (tmp_path / "project").resolve()
    (folder / "sub").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    (folder / "data.csv").write_text("a\n1\n2\n")
    (folder / "sub" / "lookup.txt").write_text("x")
    (folder / ".hidden" / "secret.txt").write_text("s")
    outside = tmp_path / "outside.txt"
    outside.write_text("o")
    cells = _cells(outside)
    notebook = folder / "audit.ipynb"
    notebook.write_text(json.dumps(notebook_json(*cells)), encoding="utf-8")
    return {"folder": folder, "notebook": notebook, "cells": cells}


def _relative(path: str | Path, folder: Path) -> str:
    return os.path.relpath(path, folder)


def _first_seen(entries: list[tuple[str | Path, bool, int]], folder: Path) -> Seen:
    seen: Seen = {}
    for path, writes, cell in entries:
        seen.setdefault((_relative(path, folder), writes), cell)
    return seen


def _runtime_audit(project: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Seen:
    """The runtime's own audit around the same code, run in this process."""
    folder = project["folder"]
    monkeypatch.chdir(folder)
    namespace: dict[str, Any] = {}
    entries: list[tuple[str | Path, bool, int]] = []
    audit = FileAudit(str(folder)).start()
    try:
        for index, source in enumerate(project["cells"]):
            exec(compile(source, f"<cell {index}>", "exec"), namespace)  # noqa: S102
            entries += [(entry.path, entry.writes, index) for entry in audit.take()]
    finally:
        audit.stop()
    return _first_seen(entries, folder)


@pytest.fixture
def shell(project: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(project["folder"])
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("NB2PIPE_TRACK", raising=False)
    ip = InteractiveShell.instance()
    ip.user_ns.pop("__session__", None)
    ip.run_line_magic("load_ext", "nb2pipe")
    yield ip
    ip.run_line_magic("unload_ext", "nb2pipe")
    ip.run_line_magic("reset", "-f")


def test_runtime_audit_keeps_the_notebook_folders_files_only(
    project: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _runtime_audit(project, monkeypatch) == EXPECTED


def test_track_sees_what_the_runtime_audit_sees(
    project: dict[str, Any], shell: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _runtime_audit(project, monkeypatch)
    shell.run_line_magic("track", f"--notebook {project['notebook']}")
    for index, source in enumerate(project["cells"]):
        shell.run_cell(source, store_history=True, cell_id=f"c{index}")
    magics = shell.magics_manager.registry["TrackMagics"]
    assert isinstance(magics, TrackMagics)
    runs = magics.recorder.state.runs
    assert magics.recorder.failure is None
    entries: list[tuple[str | Path, bool, int]] = [
        (access.path, access.op != "read", index)
        for index in range(len(project["cells"]))
        for access in runs[f"c{index}"].event.files
    ]
    # %track merges a cell's opens into one access per file: cell 6 appends to out.txt
    assert [(a.path, a.op) for a in runs["c6"].event.files] == [
        (str(project["folder"] / "out.txt"), "append")
    ]
    seen = _first_seen(entries, project["folder"])
    assert seen == expected == EXPECTED


@pytest.mark.kernel
def test_verify_probe_sees_what_the_runtime_audit_sees(
    project: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nb2pipe.verify.probe import data_files_read
    from nb2pipe.verify.runner import run_notebook

    expected = _runtime_audit(project, monkeypatch)
    run = run_notebook(project["notebook"], kernel_name="python3", timeout=120)
    assert run.failure is None, run.failure
    # the probe's ordinal counts cells from 1 (0 is kernel start-up)
    entries: list[tuple[str | Path, bool, int]] = [
        (access.path, access.write, access.ordinal - 1) for access in run.accesses
    ]
    assert _first_seen(entries, project["folder"]) == expected == EXPECTED
    folder = project["folder"]
    assert data_files_read(run.accesses) == {folder / "data.csv": 1, folder / "sub" / "lookup.txt": 2}
    names = "".join(run.cells_json[-1]["outputs"][0]["text"])
    assert "rows" in names and not any(word in names for word in ("nb2pipe", "audit", "install"))


def test_environment_folders_below_the_root_stay_the_environments() -> None:
    """A notebook in the home folder holding a conda install, a kernel started in ``/``: the
    Python installation below the root is not the user's data."""
    installed = os.path.abspath(os.__file__)  # the standard library's os.py
    above = os.path.dirname(os.path.abspath(sys.base_prefix))
    assert is_environment_file(installed, root=os.sep)
    assert is_environment_file(installed, root=above)
    assert not is_environment_file(os.path.join(above, "data.csv"), root=above)
    # the root itself inside the temp folder (tests, CI): its files are the user's
    assert not is_environment_file(os.path.join(tempfile.gettempdir(), "p", "d.csv"),
                                   root=os.path.join(tempfile.gettempdir(), "p"))


# -- one audit hook ----------------------------------------------------------------------------
def _audit_hook_calls(tree: ast.AST) -> list[int]:
    """Lines that call ``addaudithook``, also in strings holding code that runs elsewhere (the
    kernel probe's source was such a string)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name == "addaudithook":
                lines.append(node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "addaudithook" not in node.value:
                continue
            try:
                code = ast.parse(textwrap.dedent(node.value))
            except SyntaxError:
                continue  # prose (a docstring), not code
            lines += [node.lineno] * len(_audit_hook_calls(code))
    return lines


def _audit_hook_uses(folder: Path) -> dict[str, list[int]]:
    found = {}
    for path in sorted(folder.rglob("*.py")):
        lines = _audit_hook_calls(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        if lines:
            found[path.relative_to(ROOT).as_posix()] = lines
    return found


def test_no_audit_hook_in_nb2pipe_but_the_runtimes() -> None:
    found = _audit_hook_uses(ROOT / "nb2pipe")
    assert found == {}, found
    runtime = _audit_hook_uses(ROOT / "runtime" / "nb2pipe_runtime")
    assert list(runtime) == ["runtime/nb2pipe_runtime/audit.py"], runtime
    assert len(runtime["runtime/nb2pipe_runtime/audit.py"]) == 1, runtime
