"""Issue 22's new user: a regression notebook with a parameters cell, edited and re-run.

Each test drives a real kernel the way JupyterLab does and checks what the user reads under the
cells and in ``%track report``.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.kernel

PARAMS = "alpha = 0.1\nmodel_type = 'ridge'\nseed = 0\nstandardize = True\ntest_size = 0.25"
REGRESSION = [
    ("params", PARAMS),
    ("data", "xs = list(range(20))"),
    ("split", "n_test = int(len(xs) * test_size)\ntrain, test = xs[n_test:], xs[:n_test]\nshift = seed"),
    ("scale", "scaled = [x / 10 for x in train] if standardize else list(train)"),
    ("fit", "coef = sum(scaled) * alpha\nprint(model_type, round(coef, 3))"),
    ("show", "print(len(train), len(test), shift)"),
]


def test_changing_one_parameter_marks_only_its_readers_stale(session) -> None:
    nb = session(*REGRESSION)
    nb.run(*[cid for cid, _ in REGRESSION])
    nb.edit("params", PARAMS.replace("alpha = 0.1", "alpha = 0.5"))
    result = nb.run("params")
    [stale] = [w for w in result.warnings if w.startswith("nb2pipe stale")]
    assert "changed alpha: cell 5 now out of date" in stale, stale
    for unchanged in ("model_type", "seed", "standardize", "test_size"):
        assert unchanged not in stale, stale
    assert "cell 3" not in stale and "cell 4" not in stale, stale
    report = nb.report()
    assert report["rerun"] == ["fit"], report["rerun"]
    assert {h["cell_id"] for h in report["hazards"] if h["kind"] == "stale"} == {"fit"}


def test_a_parameter_edited_and_not_run_yet_asks_only_for_its_readers(session) -> None:
    """The saved source says which value changes: ``test_size`` is a literal."""
    nb = session(*REGRESSION)
    nb.run(*[cid for cid, _ in REGRESSION])
    nb.edit("params", PARAMS.replace("test_size = 0.25", "test_size = 0.5"), save=False)
    nb.save(later=True)  # saved well after the run: the saved text is the newer one
    report = nb.report()
    # the split and what reads its output; not the data cell, nor a cell for another parameter
    assert report["rerun"] == ["params", "split", "scale", "fit", "show"], report["rerun"]
    nb.edit("params", PARAMS.replace("standardize = True", "standardize = True  # as before"), save=False)
    nb.save(later=True)
    report = nb.report()
    assert report["rerun"] == ["params"], report["rerun"]


def test_a_value_bound_again_equal_is_no_change_but_an_equal_looking_one_is(session) -> None:
    """``1`` and ``1.0`` print differently: only an equal value of the same type counts."""
    nb = session(("a", "k = 1\nname = 'x'"), ("b", "print(k, name)"), ("c", "other = 5"))
    nb.run("a", "b", "c")
    nb.edit("a", "k = 1  # the same\nname = 'x'")
    assert not [w for w in nb.run("a").warnings if w.startswith("nb2pipe stale")]
    assert nb.report()["rerun"] == []
    nb.edit("a", "k = 1.0\nname = 'x'")
    [stale] = [w for w in nb.run("a").warnings if w.startswith("nb2pipe stale")]
    assert "changed k: cell 2 now out of date" in stale, stale
    report = nb.report()
    assert report["rerun"] == ["b"]
    [hazard] = [h for h in report["hazards"] if h["kind"] == "stale"]
    assert hazard["names"] == ["k"], hazard


WIDTH = 120  #: the line under a cell (nb2pipe.analysis.hazards.WARNING_WIDTH)


def test_a_cut_names_list_says_how_many_more_and_the_report_lists_them_all(session) -> None:
    params = "a = 1\nb = 2\nc = 3\nd = 4\ne = 5"
    nb = session(("p", params), ("use", "print(a + b + c + d + e)"))
    nb.run("p", "use")
    nb.edit("p", params.replace("= ", "= 1"))
    [stale] = [w for w in nb.run("p").warnings if w.startswith("nb2pipe stale")]
    assert "changed a, b, c +2 more" in stale, stale
    [hazard] = [h for h in nb.report()["hazards"] if h["kind"] == "stale"]
    assert hazard["names"] == ["a", "b", "c", "d", "e"], hazard
    assert "a, b, c, d, e changed after it ran" in hazard["message"], hazard


def test_rerunning_a_cell_on_out_of_date_input_warns_with_the_right_reason(session) -> None:
    """Cells 1, 2, 4, 3, 5: `total` has not changed since cell 5 ran; it is out of date."""
    nb = session(("a", "data = [1, 2]"), ("b", "total = sum(data)"), ("c", "data.append(3)"),
                 ("d", "print(total)"))
    nb.run("a", "c", "b")
    first = nb.run("d")
    again = nb.run("d")  # re-running it alone changes nothing: the warning says so again
    for result in (first, again):
        [stale] = [w for w in result.warnings if w.startswith("nb2pipe stale")]
        assert "input total is out of date (cell 2 must run first)" in stale, stale
        assert "changed" not in stale, stale
    [hazard] = [h for h in nb.report()["hazards"] if h["kind"] == "stale" and h["cell_id"] == "d"]
    assert "its input total is out of date: cell 2 `total = sum(data)` must run again first" in hazard["message"]
    assert "changed" not in hazard["message"], hazard


def test_an_input_changed_after_the_cell_ran_says_so_and_by_which_cell(session) -> None:
    nb = session(("a", "x = 1"), ("b", "print(x * 2)"))
    nb.run("a", "b")
    nb.edit("a", "x = 5")
    nb.run("a")
    [hazard] = [h for h in nb.report()["hazards"] if h["kind"] == "stale"]
    assert hazard["message"] == "cell 2 `print(x * 2)` is out of date: x changed after it ran (changed by cell 1 `x = 5`)"


def test_warnings_under_cells_are_one_short_line_and_the_report_has_the_rest(session) -> None:
    long = "a_rather_long_name_for_a_list_of_training_examples"
    nb = session(
        ("make", f"{long} = [1, 2]\nother_long_name_for_a_second_list = [3]\nthird_name_here = [4]"),
        ("read", f"total_of_everything_computed_here = sum({long}) + sum(other_long_name_for_a_second_list) + sum(third_name_here)"),
        ("grow", f"{long}.append(3)\nother_long_name_for_a_second_list.append(4)\nthird_name_here.append(5)"),
        ("show", "print(total_of_everything_computed_here)"),
        ("noise", "import random\nvalue_drawn = random.random()"),
    )
    results = [nb.run(cid) for cid in ("make", "grow", "read", "show", "noise", "grow")]
    lines = [w for r in results for w in r.warnings]
    kinds = {w.split(":", 1)[0] for w in lines}
    assert {"nb2pipe out-of-order", "nb2pipe stale", "nb2pipe unseeded-random", "nb2pipe non-idempotent"} <= kinds, lines
    for line in lines:
        assert len(line) <= WIDTH and "\n" not in line, line
        assert "`" not in line, line  # cells by their place: their code is in the report
    report = nb.report()
    messages = " ".join(h["message"] for h in report["hazards"])
    assert "cell 2 `total_of_everything_computed_here" in messages, messages  # named in full
    assert all(len(h["summary"]) <= WIDTH for h in report["hazards"] if "summary" in h)


def test_unseeded_randomness_says_seed_it_and_never_restart(session) -> None:
    nb = session(("imp", "import random"), ("draw", "r = random.random()"), ("show", "print(r > 2)"))
    nb.run("imp", "draw", "show")
    [warning] = [w for w in nb.run("draw").warnings if w.startswith("nb2pipe unseeded-random")]
    assert "seed it" in warning and "restart" in warning and "does not" in warning, warning
    report = nb.report()
    assert report["restart"] is None, report["restart"]
    [hazard] = [h for h in report["hazards"] if h["kind"] == "unseeded-random"]
    assert hazard["fix"] == "seed it: call random.seed(<int>) in an earlier cell", hazard
    text = nb.driver.execute("%track report", cell_id="scratch").stdout
    assert "Restart the kernel" not in text, text


def test_a_restart_comes_alone_never_with_a_rerun_list(session) -> None:
    """`a = 1` edited to `b = 1`: `a` stays bound, only a restart (or `del a`) clears it."""
    nb = session(("a", "a = 1"), ("b", "print(a)"), ("c", "z = 0"), ("d", "print(z)"))
    nb.run("a", "b", "c", "d")
    nb.edit("a", "b = 1")
    nb.run("a")
    nb.edit("c", "z = 1")
    nb.run("c")
    report = nb.report()
    assert report["restart"] and "'a' is still bound" in report["restart"], report["restart"]
    assert report["rerun"] == [], report["rerun"]  # a restart runs every cell anyway
    text = nb.driver.execute("%track report", cell_id="scratch").stdout
    assert "Restart the kernel and run all cells" in text and "Re-run" not in text, text
