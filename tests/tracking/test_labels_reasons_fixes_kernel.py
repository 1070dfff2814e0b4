"""Cell labels, restart reasons, suggested fixes and noise, as a user sees them under cells
and in `%track report`.

Every test drives a real kernel the way JupyterLab (or nbclient, without cell ids) does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from tests.tracking.conftest import SCHEMA

pytestmark = pytest.mark.kernel

_LABEL = re.compile(r"cell \d+ `[^`]+`|new cell `[^`]+` \(In \[\d+\]\)")


def hazard_lines(text: str) -> list[str]:
    """The hazard lines of a ``%track report`` (severity, kind, message)."""
    return [
        line.strip()
        for line in text.splitlines()
        if line.startswith("  ") and line.split()[0] in ("error", "warning", "info")
    ]


def by_kind(report: dict, kind: str) -> list[dict]:
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    return [h for h in report["hazards"] if h["kind"] == kind]


# -- 1. one way to name a cell, with cells not in the saved file around ---------------------------
def test_cells_not_in_the_saved_file_do_not_shift_positions(session) -> None:
    nb = session(
        ("a", "x = 1"), ("b", "print(x)"), ("c", "x = 10"), ("d", "print(w)"), ("e", "w = 2")
    )
    nb.run("a")
    # typed into a new cell right below [1], not saved yet
    nb.driver.execute("%track status", cell_id="scratch")
    nb.run("b", "c", "e")
    result = nb.run("d")
    [undefined] = [w for w in result.warnings if w.startswith("nb2pipe undefined-in-fresh-kernel")]
    assert "no earlier cell defines w (below: cell 5)" in undefined, undefined
    text = nb.driver.execute("%track report", cell_id="scratch2").stdout
    report = nb.report()
    [multiple] = by_kind(report, "multiple-definitions")
    assert multiple["cell_id"] == "c" and multiple["cell_index"] == 2
    assert "cell 1 `x = 1`, cell 3 `x = 10`" in multiple["message"], multiple["message"]
    [undefined_json] = by_kind(report, "undefined-in-fresh-kernel")
    assert "defined below in cell 5 `w = 2`" in undefined_json["message"], undefined_json["message"]
    lines = hazard_lines(text)
    assert any("cell 1 `x = 1`, cell 3 `x = 10`" in line for line in lines), text
    assert any("defined below in cell 5 `w = 2`" in line for line in lines), text
    # no position counts the unsaved cells: there are five saved cells
    for message in [*lines, *(h["message"] for h in report["hazards"])]:
        assert not re.search(r"cell [6-9]", message), message


def test_degraded_mode_labels_match_the_saved_notebook(session) -> None:
    """nbclient/papermill send no cell id: cells are matched by source, unsaved ones added."""
    nb = session(("a", "print(z)"), ("b", "z = 5"), ("c", "z = 6"))
    driver = nb.driver
    driver.execute("z = 5")
    driver.execute("%track status")  # matches no saved cell: placed after [2]
    result = driver.execute("print(z)")
    [undefined] = [w for w in result.warnings if w.startswith("nb2pipe undefined-in-fresh-kernel")]
    assert "no earlier cell defines z (below: cell 2)" in undefined, undefined
    text = driver.execute("%track report").stdout
    lines = hazard_lines(text)
    [undefined_line] = [line for line in lines if "undefined-in-fresh-kernel" in line]
    assert "cell 1 `print(z)`" in undefined_line and "defined below in cell 2 `z = 5`" in undefined_line, text
    [multiple_line] = [line for line in lines if "multiple-definitions" in line]
    assert "cell 2 `z = 5`, cell 3 `z = 6`" in multiple_line, text
    assert "cell 4" not in text, text


# -- 2. every report line names its cell ----------------------------------------------------------
def test_every_report_line_names_its_cell(session) -> None:
    nb = session(("a", "y = w + 1"), ("b", "w = 2"), ("c", "w = 3"))
    nb.run("b", "a")
    text = nb.driver.execute("%track report").stdout
    lines = hazard_lines(text)
    assert lines, text
    for line in lines:
        message = line.split(":", 1)[1].strip()
        assert _LABEL.match(message), line
    [undefined] = by_kind(nb.report(), "undefined-in-fresh-kernel")
    assert undefined["message"].startswith("cell 1 `"), undefined["message"]
    [undefined_line] = [line for line in lines if "undefined-in-fresh-kernel" in line]
    assert "undefined-in-fresh-kernel: cell 1 `y = w + 1`" in undefined_line, undefined_line


# -- 3. the restart reason of an out-of-order read -------------------------------------------------
def test_restart_reason_of_an_out_of_order_read(session) -> None:
    nb = session(("a", "x = 1"), ("b", "print(z)"), ("c", "z = 5"))
    nb.run("a", "c")
    assert nb.run("b").stdout == "5\n"
    restart = nb.report()["restart"]
    assert restart is not None
    assert "earlier version" not in restart, restart
    assert "cell 2 `" in restart and "'z'" in restart and "cell 3 `" in restart and "below" in restart, restart


# -- 4. with-targets are not competing definitions --------------------------------------------------
def test_with_targets_in_several_cells_are_not_multiple_definitions(session, tmp_path: Path) -> None:
    first, second = tmp_path / "one.txt", tmp_path / "two.txt"
    first.write_text("1")
    second.write_text("2")
    nb = session(
        ("a", f"with open({str(first)!r}) as fh:\n    one = fh.read()"),
        ("b", f"with open({str(second)!r}) as fh:\n    two = fh.read()"),
    )
    for result in (nb.run("a"), nb.run("b")):
        assert "multiple-definitions" not in result.kinds(), result.warnings
    assert by_kind(nb.report(), "multiple-definitions") == []


def test_names_assigned_in_several_cells_still_are_multiple_definitions(session) -> None:
    nb = session(("a", "with open(__file__ if False else 'x', 'w') as fh:\n    fh.write('')"),
                 ("b", "fh = 1"), ("c", "fh = 2"))
    nb.run("a", "b", "c")
    [multiple] = by_kind(nb.report(), "multiple-definitions")
    assert "cell 2 `fh = 1`, cell 3 `fh = 2`" in multiple["message"] and "fh" in multiple["names"]


# -- 5. the copy suggestion fits the object ----------------------------------------------------------
def test_mutation_fix_for_a_scikit_learn_estimator_clones_it(session) -> None:
    pytest.importorskip("sklearn")
    nb = session(
        ("a", "from sklearn.linear_model import LinearRegression\nmodel = LinearRegression()"),
        ("r", "print(hasattr(model, 'coef_'))"),
        ("b", "model.fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])"),
    )
    nb.run("a", "b", "r")
    [mutation] = by_kind(nb.report(), "mutation")
    assert "model = sklearn.base.clone(model)" in mutation["fix"] and "model.copy()" not in mutation["fix"]


def test_mutation_fix_for_a_list_still_copies_it(session) -> None:
    nb = session(("a", "items = [1]"), ("r", "print(items)"), ("b", "items.append(2)"))
    nb.run("a", "b", "r")
    [mutation] = by_kind(nb.report(), "mutation")
    assert "items = items.copy()" in mutation["fix"], mutation["fix"]


# -- 6. appending again is warned under the cell, once -----------------------------------------------
def test_appending_again_is_warned_under_the_cell_once(session, tmp_path: Path) -> None:
    target = tmp_path / "log.txt"
    nb = session(
        ("a", f"with open({str(target)!r}, 'a') as f:\n    f.write('line\\n')"),
        ("b", f"print(open({str(target)!r}).read().count('line'))"),
    )
    assert nb.run("a").warnings == [] and nb.run("b").warnings == []
    second = nb.run("a")
    lines = [w for w in second.warnings if w.startswith("nb2pipe external-file:")]
    assert len(lines) == 1, second.warnings
    assert lines[0].startswith("nb2pipe external-file: cell 1 appends to log.txt: re-running it appends again"), lines
    third = nb.run("a")
    assert "external-file" not in third.kinds(), third.warnings
    report = nb.report()
    assert report["restart"] is None and report["remove"] == ["log.txt"], report
    appends = [h for h in by_kind(report, "external-file") if "appends" in h["message"]]
    assert [h["cell_id"] for h in appends] == ["a"]  # one hazard, as under the cell
    assert "cell 1 `with open(" in appends[0]["message"], appends  # named in full in the report


def test_appending_again_with_no_reader_shows_in_the_report_too(session, tmp_path: Path) -> None:
    target = tmp_path / "log.txt"
    nb = session(("a", f"with open({str(target)!r}, 'a') as f:\n    f.write('line\\n')"))
    nb.run("a")
    assert "external-file" in nb.run("a").kinds()
    [hazard] = by_kind(nb.report(), "external-file")
    assert hazard["cell_id"] == "a" and "appends again" in hazard["message"]


def test_an_unsaved_cell_is_named_by_its_latest_execution(session) -> None:
    nb = session(("a", "print(w)"), ("b", "pass"))
    nb.insert("b", "new", "w = 1", save=False)  # added below [2], not saved yet
    first = nb.run("new").execution_count
    result = nb.run("a")
    assert f"defines w (below: new cell (In [{first}]))" in " ".join(result.warnings), result.warnings
    again = nb.run("new").execution_count
    [undefined] = by_kind(nb.report(), "undefined-in-fresh-kernel")
    assert f"defined below in new cell `w = 1` (In [{again}])" in undefined["message"], undefined["message"]


# -- 7. labels a person can find on screen (issue 13) ----------------------------------------------
def test_cells_are_named_by_place_and_first_line_never_by_a_bracketed_number(session) -> None:
    """Run as 1, 2, 4, 3, 5, the prompts read ``[4]:`` for cell 3 and ``[3]:`` for cell 4: a
    "[3]" in a message would point at the wrong cell."""
    nb = session(("a", "n = 3"), ("b", "data = [1, 2]"), ("c", "# the sum\ntotal = sum(data)\nprint(total)"),
                 ("d", "data.append(n)"), ("e", "print(len(data))"))
    nb.run("a", "b", "d")
    result = nb.run("c")
    assert result.execution_count is not None
    [line] = result.warnings
    assert line.startswith("nb2pipe out-of-order: read data, changed in place by cell 4 below it"), line
    [hazard] = by_kind(nb.report(), "out-of-order")
    assert hazard["message"].startswith("cell 3 `total = sum(data)` read data, changed in place "
                                        "by cell 4 `data.append(n)` placed below it"), hazard
    nb.run("e")
    text = nb.driver.execute("%track report", cell_id="scratch").stdout
    assert not re.search(r"(?<!In )\[\d+\]", text), text  # brackets only in In [k]
    assert ("Re-run, in this order: cell 2 `data = [1, 2]`, cell 3 `total = sum(data)`, "
            "cell 4 `data.append(n)`") in text, text


def test_markdown_cells_count_in_the_place(tmp_path: Path, lab_kernel) -> None:
    from tests.conftest import notebook_json

    path = tmp_path / "md.ipynb"
    path.write_text(json.dumps(notebook_json(
        {"cell_type": "markdown", "id": "m", "source": "# Title"}, {"id": "a", "source": "y = w + 1"},
        {"cell_type": "markdown", "id": "m2", "source": "more"}, {"id": "b", "source": "w = 2"},
    )))
    driver = lab_kernel
    driver.execute("%track off")
    driver.execute("%reset -f")
    driver.execute(f"%track --notebook {path}")
    driver.execute("w = 2", "b")
    [line] = driver.execute("y = w + 1", "a").warnings
    assert "no earlier cell defines w (below: cell 4)" in line, line
    text = driver.execute("%track report").stdout
    assert "undefined-in-fresh-kernel: cell 2 `y = w + 1`: " in text, text
    assert "defined below in cell 4 `w = 2`" in text, text
