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
    assert "alpha" in stale and "cell 5 `coef = sum(scaled) * alpha`" in stale, stale
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
    assert "cell 2 `print(k, name)`" in stale, stale
    report = nb.report()
    assert report["rerun"] == ["b"]
    [hazard] = [h for h in report["hazards"] if h["kind"] == "stale"]
    assert hazard["names"] == ["k"], hazard
