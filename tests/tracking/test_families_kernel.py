"""Issue 22's families, in a real kernel: the report's advice, followed, gives what a fresh run
of the edited notebook gives.

- shared class state: a container in a class body, changed through instances;
- in place through a parameter: ``+=`` on an argument, from a loop over a container;
- through the instance: a method reaching into an object the instance holds;
- folders and files a re-run does not undo: the report names the path to remove.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.kernel


def follow(nb: Any, report: dict[str, Any], folder: Path | None = None) -> None:
    """Do what the report says: remove its paths, then re-run its cells in order."""
    for name in report.get("remove", ()):
        path = (folder or Path.cwd()) / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    nb.run(*report["rerun"])


def printed(nb: Any, cell_id: str) -> str:
    return nb.run(cell_id).stdout.strip()


def test_shared_class_state_is_reset_by_the_class_cell_not_a_new_instance(session) -> None:
    nb = session(
        ("cls", "class Bag:\n    seen = []\n    def add(self, x):\n        self.seen.append(x)"),
        ("make", "bag = Bag()"),
        ("use", "bag.add('a')"),
        ("other", "twin = Bag()"),
        ("show", "print(twin.seen)"),
    )
    nb.run("cls", "make", "use", "other", "show")
    nb.edit("use", "bag.add('b')")
    nb.run("use")
    report = nb.report()
    assert report["restart"] is None
    # making a new instance does not empty the class's list: the class cell must run again
    assert report["rerun"][:1] == ["cls"] and "show" in report["rerun"], report["rerun"]
    follow(nb, report)
    assert printed(nb, "show") == "['b']"


def test_a_parameter_changed_with_augmented_assignment_from_a_loop(session) -> None:
    nb = session(
        ("fn", "def stretch(values, k):\n    values += [k]"),
        ("data", "rows = {'a': [1], 'b': [2]}"),
        ("loop", "for name in rows:\n    stretch(rows[name], 0)"),
        ("show", "print(rows)"),
        ("count", "n = 5\nprint(n)"),
    )
    nb.run("fn", "data", "loop", "show", "count")
    nb.edit("fn", "def stretch(values, k):\n    values += [k, k]")
    nb.run("fn")
    report = nb.report()
    # the lists were changed in place by the old function: they are made again first
    assert report["rerun"] == ["data", "loop", "show"], report["rerun"]
    follow(nb, report)
    assert printed(nb, "show") == "{'a': [1, 0, 0], 'b': [2, 0, 0]}"


def test_a_method_changing_an_object_the_instance_holds(session) -> None:
    nb = session(
        ("inner", "class Gauge:\n    def __init__(self):\n        self.level = 0\n    def set(self, v):\n        self.level = v"),
        ("outer", "class Panel:\n    def __init__(self):\n        self.gauge = Gauge()\n    def tune(self, v):\n        self.gauge.set(v)"),
        ("make", "panel = Panel()"),
        ("use", "panel.tune(3)"),
        ("show", "level = panel.gauge.level\nprint(level)"),
    )
    nb.run("inner", "outer", "make", "use", "show")
    nb.edit("show", "level = panel.gauge.level * 10\nprint(level)")
    nb.run("show")
    nb.edit("use", "panel.tune(4)")
    nb.run("use")
    report = nb.report()
    assert "show" in report["rerun"], report["rerun"]
    follow(nb, report)
    assert printed(nb, "show") == "40"


def test_a_folder_renamed_onto_is_named_for_removal_not_a_restart(session, tmp_path: Path) -> None:
    nb = session(
        ("imp", f"import os\nos.chdir({str(tmp_path)!r})"),
        ("make", "os.makedirs('incoming', exist_ok=True)\nopen('incoming/a.csv', 'w').write('1')"),
        ("move", "os.rename('incoming', 'archive')"),
        ("walk", "print(sorted(n for _, _, names in os.walk('archive') for n in names))"),
    )
    nb.run("imp", "make", "move", "walk")
    nb.edit("make", "os.makedirs('incoming', exist_ok=True)\nopen('incoming/b.csv', 'w').write('2')")
    nb.run("make")
    report = nb.report()
    assert report["restart"] is None, report["restart"]
    assert report["remove"] == ["archive"], report["remove"]
    [hazard] = [h for h in report["hazards"] if h["kind"] == "external-file" and "archive" in h["names"]]
    assert hazard["fix"].startswith("remove archive (or write to a fresh path), then re-run"), hazard
    assert "neither a re-run nor a restart" in hazard["message"], hazard
    follow(nb, report, tmp_path)
    assert printed(nb, "walk") == "['b.csv']"


def test_a_file_written_only_if_missing_is_named_for_removal(session, tmp_path: Path) -> None:
    nb = session(
        ("imp", f"import os\nos.chdir({str(tmp_path)!r})"),
        ("cache", "if not os.path.exists('model.txt'):\n    open('model.txt', 'w').write('v1')"),
        ("show", "print(open('model.txt').read())"),
    )
    nb.run("imp", "cache", "show")
    nb.edit("cache", "if not os.path.exists('model.txt'):\n    open('model.txt', 'w').write('v2')")
    nb.run("cache")
    report = nb.report()
    assert report["restart"] is None and report["remove"] == ["model.txt"], report
    assert report["rerun"] == ["cache", "show"], report["rerun"]
    text = nb.driver.execute("%track report", cell_id="scratch").stdout
    assert "Remove first (no re-run or restart undoes them): model.txt" in text, text
    assert "Restart the kernel" not in text, text
    follow(nb, report, tmp_path)
    assert printed(nb, "show") == "v2"
