"""Every hazard kind, positive and silent cases, in a real kernel driven like JupyterLab."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import jsonschema
import pytest

from tests.tracking.conftest import SCHEMA

pytestmark = pytest.mark.kernel

KINDS = {
    "out-of-order", "stale", "edited", "hidden-state", "undefined-in-fresh-kernel", "mutation",
    "non-idempotent", "multiple-definitions", "unseeded-random", "external-file",
}


def kinds_of(report: dict) -> dict[str, set[str]]:
    """cell id -> hazard kinds of a ``--json`` report (validated against the schema)."""
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    out: dict[str, set[str]] = {}
    for hazard in report["hazards"]:
        out.setdefault(hazard["cell_id"], set()).add(hazard["kind"])
    return out


def assert_silent(*executions) -> None:
    for execution in executions:
        assert execution.warnings == [], execution.warnings


def assert_one_line_warning(execution, kind: str, *, cell: str, names: tuple[str, ...]) -> str:
    """The execution printed exactly one ``kind`` warning naming ``cell`` and ``names``."""
    lines = [w for w in execution.warnings if w.startswith(f"nb2pipe {kind}:")]
    assert len(lines) == 1, execution.warnings
    line = lines[0]
    # one short line: cells by their place (their code is in the report), within 120 characters
    assert "\n" not in line and len(line) <= WIDTH and "`" not in line, line
    del cell  # the line is printed under it: it names the other cells involved
    for name in names:
        if name.startswith("cell "):
            assert names_cell(line, name), line
        else:
            assert name in line, line
    return line


WIDTH = 120  #: the line under a cell (nb2pipe.analysis.hazards.WARNING_WIDTH)


def names_cell(line: str, label: str) -> bool:
    """Whether ``line`` names the cell ``label`` (``cell 3 `x = 1``` or ``cell 3``) by its
    place: ``cell 3``, or in a list ``cells 2, 3``."""
    number = label.split()[1]
    return re.search(rf"\bcells? (?:\d+, )*{number}\b", line) is not None


# -- out-of-order ----------------------------------------------------------------------------
def test_out_of_order_read_of_a_value_set_below(session) -> None:
    nb = session(("a", "x = 1"), ("b", "y = x + 1\nprint(y)"), ("c", "x = x * 10"))
    assert_silent(nb.run("a"), nb.run("b"), nb.run("c"))
    result = nb.run("b")
    assert result.stdout == "11\n"
    assert_one_line_warning(result, "out-of-order", cell="cell 2 `", names=("x", "cell 3 `"))
    report = nb.report()
    assert "out-of-order" in kinds_of(report)["b"]
    # re-create x as a fresh run has it at [2], then [2]; then [3] again, so x ends as a fresh
    # run leaves it (10, not 1)
    assert report["rerun"] == ["a", "b", "c"]


def test_in_order_runs_and_idempotent_reruns_stay_silent(session) -> None:
    nb = session(("a", "x = 1"), ("b", "y = x + 1"), ("c", "z = y * 2\nprint(z)"))
    assert_silent(nb.run("a"), nb.run("b"), nb.run("c"), nb.run("a"), nb.run("b"), nb.run("c"))
    report = nb.report()
    assert report["hazards"] == [] and report["rerun"] == [] and report["restart"] is None


# -- stale ------------------------------------------------------------------------------------
def test_stale_after_an_upstream_cell_changes(session) -> None:
    nb = session(("a", "x = 1"), ("b", "y = x * 2\nprint(y)"), ("c", "w = 0"))
    nb.run("a", "b", "c")
    nb.edit("a", "x = 5")
    result = nb.run("a")
    assert_one_line_warning(result, "stale", cell="cell 2 `", names=("x",))
    report = nb.report()
    assert kinds_of(report) == {"b": {"stale"}}
    assert report["rerun"] == ["b"]


def test_rerunning_an_unchanged_upstream_cell_is_not_stale(session) -> None:
    nb = session(("a", "import math\nx = math.sqrt(16)"), ("b", "y = x * 2"))
    nb.run("a", "b")
    assert_silent(nb.run("a"))
    assert nb.report()["rerun"] == []


# -- edited -------------------------------------------------------------------------------------
def test_edited_after_it_ran(session) -> None:
    nb = session(("a", "x = 1"), ("b", "print(x)"))
    nb.run("a", "b")
    nb.edit("a", "x = 2", save=False)
    nb.save(later=True)  # the autosave happens after the edit, the cell has not run again
    report = nb.report()
    assert "edited" in kinds_of(report)["a"]
    assert report["rerun"] == ["a", "b"]


def test_edit_then_run_is_not_edited(session) -> None:
    nb = session(("a", "x = 1"), ("b", "print(x)"))
    nb.run("a", "b")
    nb.edit("a", "x = 2")
    nb.run("a", "b")
    assert nb.report()["hazards"] == []


# -- hidden-state -------------------------------------------------------------------------------
def test_hidden_state_from_a_deleted_cell(session) -> None:
    nb = session(("a", "tmp = 5"), ("b", "z = tmp * 2\nprint(z)"))
    nb.run("a", "b")
    nb.delete("a")  # JupyterLab sends deletedCells with the next execute request
    result = nb.run("b")
    # positions are the saved file's until the next save
    assert_one_line_warning(result, "hidden-state", cell="b", names=("tmp", "only deleted cell (In ["))
    report = nb.report()
    assert "hidden-state" in kinds_of(report)["b"]
    assert report["restart"] and "tmp" in report["restart"] and "deleted" in report["restart"]


def test_hidden_state_from_code_no_longer_in_its_cell(session) -> None:
    nb = session(("a", "t = 1\nu = 2"), ("b", "print(u)"))
    nb.run("a", "b")
    nb.edit("a", "t = 1")
    nb.run("a")
    result = nb.run("b")
    assert_one_line_warning(result, "hidden-state", cell="cell 2 `", names=("u", "no longer in cell 1"))
    assert "earlier version" in nb.report()["restart"]


def test_reading_a_name_its_cell_still_defines_is_not_hidden(session) -> None:
    nb = session(("a", "t = 1\nu = 2"), ("b", "print(u)"))
    nb.run("a", "b")
    nb.edit("a", "t = 3\nu = 2")
    for result in (nb.run("a"), nb.run("b")):
        assert "hidden-state" not in result.kinds(), result.warnings
    assert all("hidden-state" not in kinds for kinds in kinds_of(nb.report()).values())


# -- undefined-in-fresh-kernel ------------------------------------------------------------------
def test_undefined_in_fresh_kernel(session) -> None:
    nb = session(("a", "y = w + 1"), ("b", "w = 2"))
    nb.run("b")
    result = nb.run("a")
    assert_one_line_warning(result, "undefined-in-fresh-kernel", cell="cell 1 `", names=("w",))
    assert "undefined-in-fresh-kernel" in kinds_of(nb.report())["a"]


def test_functions_reading_globals_defined_later_are_fine(session) -> None:
    nb = session(
        ("a", "def area(r):\n    return PI * r * r"),
        ("b", "PI = 3.14"),
        ("c", "print(area(2))"),
    )
    assert_silent(nb.run("a"), nb.run("b"), nb.run("c"))
    assert nb.report()["hazards"] == []


# -- mutation -----------------------------------------------------------------------------------
MUTATIONS = [
        pytest.param("lst = [1]", "lst.append(2)", "lst", id="list-method"),
        pytest.param("d = {}", "d['k'] = 1", "d", id="item-assignment"),
        pytest.param("s = {1}", "s |= {2}", "s", id="set-augmented"),
        pytest.param("import numpy as np\narr = np.zeros(3)", "arr += 1", "arr", id="numpy-inplace"),
        pytest.param("import numpy as np\narr = np.arange(3.0)", "np.add(arr, 1, out=arr)", "arr", id="numpy-out"),
        pytest.param(
            "import pandas as pd\ndf = pd.DataFrame({'a': [1, None]})",
            "df.dropna(inplace=True)", "df", id="pandas-inplace",
        ),
        pytest.param(
            "from sklearn.linear_model import LinearRegression\nmodel = LinearRegression()",
            "model.fit([[0], [1]], [0, 1])", "model", id="sklearn-fit",
        ),
        pytest.param(
            "class Box:\n    pass\nbox = Box()", "box.size = 3", "box", id="attribute-assignment",
        ),
]


@pytest.mark.parametrize("setup, change, name", MUTATIONS)
def test_a_change_made_once_in_notebook_order_is_silent(session, setup: str, change: str, name: str) -> None:
    """Adding a column in a later cell is what a fresh run does too: no hazard."""
    nb = session(("a", setup), ("b", change), ("c", f"print(type({name}).__name__)"))
    assert_silent(nb.run("a"), nb.run("b"), nb.run("c"))
    assert nb.report()["hazards"] == []


@pytest.mark.parametrize("setup, change, name", MUTATIONS)
def test_a_change_a_cell_above_read_is_a_mutation(session, setup: str, change: str, name: str) -> None:
    nb = session(("a", setup), ("r", f"print(type({name}).__name__)"), ("b", change))
    assert_silent(nb.run("a"), nb.run("b"))
    result = nb.run("r")  # reads the object after [3] changed it: a fresh run shows it before
    assert_one_line_warning(result, "out-of-order", cell="cell 2 `", names=(name, "cell 3 `"))
    [mutation] = [h for h in nb.report()["hazards"] if h["kind"] == "mutation"]
    assert mutation["cell_id"] == "b" and mutation["names"] == [name]
    assert "cell 1 `" in mutation["message"] and "cell 2 `print(type(" in mutation["message"] and "above it, read it after the change" in mutation["message"]


@pytest.mark.parametrize("setup, change, name", MUTATIONS)
def test_a_change_lost_by_recreating_the_object_is_a_mutation(session, setup: str, change: str, name: str) -> None:
    nb = session(("a", setup), ("b", change), ("c", f"print(type({name}).__name__)"))
    nb.run("a", "b", "c")
    nb.run("a")  # re-created: [2]'s change is gone; [3] showed only the type
    report = nb.report()
    assert report["rerun"] == ["b"]
    assert "mutation" in kinds_of(report)["b"]


def test_mutation_through_an_alias(session) -> None:
    nb = session(("a", "a = [1]"), ("b", "b = a"), ("c", "b.append(2)"), ("d", "print(a)"))
    assert_silent(nb.run("a"), nb.run("b"), nb.run("c"))
    assert nb.run("d").stdout == "[1, 2]\n"
    nb.run("b")  # b is bound again: to the changed list
    report = nb.report()
    [mutation] = [h for h in report["hazards"] if h["kind"] == "mutation"]
    assert mutation["cell_id"] == "c" and "also bound to a" in mutation["message"]
    assert report["rerun"] == ["a", "b", "c"]


def test_mutation_through_a_function_that_mutates_its_argument(session) -> None:
    nb = session(("a", "def add(items):\n    items.append(1)"), ("b", "data = []"), ("c", "add(data)"))
    assert_silent(nb.run("a"), nb.run("b"), nb.run("c"))
    nb.run("b")
    assert "mutation" in kinds_of(nb.report())["c"]


def test_mutation_detected_at_runtime_through_a_library_call(session) -> None:
    nb = session(
        ("a", "config = {'lr': 0.1}"),
        ("r", "print(sorted(config))"),
        ("b", "import json\njson.loads('{}', object_hook=None)\nconfig.update(seed=1)"),
    )
    nb.run("a", "b", "r")
    assert "mutation" in kinds_of(nb.report())["b"]


@pytest.mark.parametrize(
    "cells",
    [
        pytest.param(["import pandas as pd\ndf = pd.DataFrame({'a': [1, None]})", "df = df.dropna()"], id="df-dropna-rebind"),
        pytest.param(["lst = [3, 1]", "ordered = sorted(lst)"], id="pure-function"),
        pytest.param(
            ["import pandas as pd\ndf = pd.DataFrame({'a': [1, None]})",
             "def clean(frame):\n    return frame.dropna()", "df2 = clean(df)"],
            id="helper-function",
        ),
        pytest.param(["x = 1", "x += 1"], id="int-augmented-rebinds"),
        pytest.param(["a = []\na.append(1)"], id="own-object"),
    ],
)
def test_no_mutation_warning(session, cells: list[str]) -> None:
    nb = session(*cells)
    results = [nb.run(f"c{i}") for i in range(len(cells))]
    for result in results:
        assert "mutation" not in result.kinds(), result.warnings
    assert all("mutation" not in kinds for kinds in kinds_of(nb.report()).values())


# -- non-idempotent -----------------------------------------------------------------------------
def test_non_idempotent_cell_run_twice(session) -> None:
    nb = session(("a", "total = 0"), ("b", "total += 5\nprint(total)"))
    nb.run("a", "b")
    result = nb.run("b")
    assert result.stdout == "10\n"
    assert_one_line_warning(result, "non-idempotent", cell="cell 2 `", names=("total",))
    report = nb.report()
    assert "non-idempotent" in kinds_of(report)["b"]
    assert report["rerun"] == ["a", "b"]


def test_rebinding_cell_run_once_and_idempotent_rerun_are_silent(session) -> None:
    nb = session(
        ("a", "import pandas as pd\ndf = pd.DataFrame({'a': [1, None, 3]})"),
        ("b", "df = df.dropna()"),
        ("c", "n = len(df)\nprint(n)"),
    )
    assert_silent(nb.run("a"), nb.run("b"), nb.run("c"), nb.run("c"))
    assert nb.report()["hazards"] == []


# -- multiple-definitions -----------------------------------------------------------------------
def test_multiple_definitions(session) -> None:
    nb = session(("a", "model = 'linear'"), ("b", "model = 'forest'"))
    nb.run("a")
    assert_one_line_warning(nb.run("b"), "multiple-definitions", cell="cell 2 `", names=("model",))
    report = nb.report()
    [hazard] = report["hazards"]
    assert hazard["kind"] == "multiple-definitions" and hazard["severity"] == "info"


def test_fig_ax_and_loop_variables_are_not_multiple_definitions(session) -> None:
    nb = session(
        ("a", "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt"),
        ("b", "fig, ax = plt.subplots()\nax.plot([1, 2])"),
        ("c", "fig, ax = plt.subplots()\nax.hist([1, 2])"),
        ("d", "for i in range(3):\n    pass"),
        ("e", "for i in range(2):\n    print(i)"),
    )
    assert_silent(*(nb.run(c) for c in "abcdeb"))
    assert nb.report()["hazards"] == []


# -- unseeded-random ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "source, callee",
    [
        pytest.param("import numpy as np\nx = np.random.rand(3)", "np.random.rand", id="numpy-legacy"),
        pytest.param("import numpy as np\nrng = np.random.default_rng()", "np.random.default_rng", id="default-rng"),
        pytest.param("import random\nx = random.random()", "random.random", id="stdlib"),
        pytest.param(
            "from sklearn.model_selection import train_test_split\n"
            "a, b = train_test_split(list(range(10)))", "train_test_split", id="sklearn-splitter",
        ),
    ],
)
def test_unseeded_random(session, source: str, callee: str) -> None:
    nb = session(("a", source))
    assert_one_line_warning(nb.run("a"), "unseeded-random", cell="cell 1 `", names=(callee,))
    assert "unseeded-random" in kinds_of(nb.report())["a"]


@pytest.mark.parametrize(
    "cells",
    [
        pytest.param(["import numpy as np\nnp.random.seed(0)", "x = np.random.rand(3)"], id="numpy-seeded"),
        pytest.param(["import numpy as np\nrng = np.random.default_rng(42)", "x = rng.normal()"], id="rng-with-seed"),
        pytest.param(["import random\nrandom.seed(1)\nx = random.random()"], id="stdlib-seeded"),
        pytest.param(
            ["from sklearn.model_selection import train_test_split\n"
             "a, b = train_test_split(list(range(10)), random_state=0)"], id="sklearn-random-state",
        ),
    ],
)
def test_seeded_random_is_silent(session, cells: list[str]) -> None:
    nb = session(*cells)
    assert_silent(*(nb.run(f"c{i}") for i in range(len(cells))))
    assert nb.report()["hazards"] == []


def test_seed_set_only_below_the_draw(session) -> None:
    nb = session(("a", "import numpy as np"), ("b", "x = np.random.rand()"), ("c", "np.random.seed(0)"))
    nb.run("a", "c")
    result = nb.run("b")
    assert "unseeded-random" in result.kinds(), result.warnings
    assert "unseeded-random" in kinds_of(nb.report())["b"]


# -- external-file ------------------------------------------------------------------------------
def test_reading_a_file_a_later_cell_writes(session, tmp_path: Path) -> None:
    target = tmp_path / "data.txt"
    nb = session(
        ("a", f"text = open({str(target)!r}).read()\nprint(text)"),
        ("b", f"with open({str(target)!r}, 'w') as f:\n    f.write('hello')"),
    )
    nb.run("b")
    result = nb.run("a")
    assert_one_line_warning(result, "external-file", cell="cell 1 `", names=("data.txt", "cell 2 `"))
    assert "external-file" in kinds_of(nb.report())["a"]


def test_file_changed_since_it_was_read(session, tmp_path: Path) -> None:
    target = tmp_path / "input.csv"
    target.write_text("1,2\n")
    nb = session(("a", f"rows = open({str(target)!r}).read().splitlines()"), ("b", "print(len(rows))"))
    assert_silent(nb.run("a"), nb.run("b"))
    time.sleep(0.01)
    target.write_text("1,2\n3,4\n")
    os.utime(target, (time.time() + 1, time.time() + 1))
    report = nb.report()
    assert "external-file" in kinds_of(report)["a"]
    assert report["rerun"] == ["a", "b"]


def test_writing_then_reading_in_order_is_silent(session, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    nb = session(
        ("a", f"open({str(target)!r}, 'w').write('x')"),
        ("b", f"content = open({str(target)!r}).read()"),
    )
    assert_silent(nb.run("a"), nb.run("b"), nb.run("a"), nb.run("b"))
    assert nb.report()["hazards"] == []


def test_appending_twice_names_the_file_to_remove_not_a_restart(session, tmp_path: Path) -> None:
    """A restart leaves the file as it is: it has to go before the cell appends again."""
    target = tmp_path / "log.txt"
    nb = session(
        ("a", f"with open({str(target)!r}, 'a') as f:\n    f.write('line\\n')"),
        ("b", f"print(open({str(target)!r}).read().count('line'))"),
    )
    nb.run("a", "b")
    nb.run("a")
    report = nb.report()
    assert report["restart"] is None and report["rerun"] == ["a", "b"], report
    assert [Path(p).name for p in report["remove"]] == ["log.txt"], report["remove"]
    assert "external-file" in kinds_of(report)["a"]
    [hazard] = [h for h in report["hazards"] if h["kind"] == "external-file" and h["cell_id"] == "a"]
    assert hazard["fix"].startswith(f"remove {report['remove'][0]} (or write to a fresh path)"), hazard


def test_every_kind_is_covered_here() -> None:
    source = Path(__file__).read_text()
    for kind in KINDS:
        assert f'"{kind}"' in source


# -- notebook order -----------------------------------------------------------------------------
def test_unsaved_new_cell_is_placed_after_the_cell_run_before_it(session) -> None:
    nb = session(("a", "x = 1"), ("b", "print(x, w)"))
    nb.run("a")
    nb.insert("a", "new", "w = x + 1", save=False)  # added below [1] and run; not autosaved yet
    assert_silent(nb.run("new"), nb.run("b"))
    report = nb.report()
    assert report["hazards"] == [] and report["rerun"] == []


def test_cell_deleted_and_saved_is_hidden_state(session) -> None:
    nb = session(("a", "tmp = [1]"), ("b", "y = len(tmp)"), ("c", "print(y)"))
    nb.run("a", "b", "c")
    nb.order.remove("a")
    nb.save(later=True)  # saved after the deletion, no deletedCells sent (e.g. another frontend)
    report = nb.report()
    assert "hidden-state" in kinds_of(report)["b"]
    assert report["restart"] and "tmp" in report["restart"]


def test_status_in_jupyterlab_mode(lab_kernel) -> None:
    lab_kernel.execute("%track off")
    lab_kernel.execute("%track on")
    lab_kernel.execute("q = 1", cell_id="x1")
    status = lab_kernel.execute("%track status", cell_id="x2").stdout
    # ``%reset`` in earlier tests dropped ``__session__``; the environment still names the notebook
    assert "session.ipynb (from __session__)" in status or "session.ipynb (from JPY_SESSION_NAME)" in status
    assert "cell ids: sent by the frontend" in status
    [available] = [line for line in status.splitlines() if line.startswith("hazards available: ")]
    assert set(available.removeprefix("hazards available: ").split(", ")) == KINDS
    assert "not available here" not in status
