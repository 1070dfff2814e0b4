"""False alarms and missed hazards found by replaying realistic data-science sessions.

- a cell that raised before its in-place change ran changed nothing: no ``mutation``,
  ``non-idempotent`` or ``stale`` for it (a change made before the error still counts);
- a notebook function that rebinds a global from its own value (``global n; n += 1``) makes the
  calling cell ``non-idempotent`` when re-run;
- re-running a cell that draws from a seeded generator (``np.random.seed`` in another cell, or
  an ``rng``) draws other numbers than a fresh run: ``non-idempotent``, once, not also ``stale``.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.kernel


def kinds(report: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for hazard in report["hazards"]:
        out.setdefault(hazard["cell_id"], set()).add(hazard["kind"])
    return out


# -- cells that raised ------------------------------------------------------------------------
def test_an_in_place_change_that_raised_is_no_mutation(session) -> None:
    nb = session(
        ("a", "import pandas as pd\ndf = pd.DataFrame({'x': [1, 2], 'city': ['P', 'L']})\n"
              "counts = {'k': 1}\nitems = [1, 2]"),
        ("b", "df.drop(columns=['city'], inplace=True)"),
        ("c", "counts['missing'] += 1"),
        ("d", "print(items)\nitems.remove(99)\nitems.append(3)"),
        ("e", "len(df.columns)"),
    )
    nb.run("a", "b", "e")
    failed = nb.run("b")  # the column is gone already: KeyError, df unchanged
    assert failed.ename == "KeyError"
    assert failed.warnings == []
    result = nb.run("c")
    assert result.ename == "KeyError" and result.warnings == []
    result = nb.run("d")
    assert result.ename == "ValueError" and result.warnings == []
    report = nb.report()
    found = kinds(report)
    assert "c" not in found and "d" not in found and "e" not in found, report["hazards"]
    assert "non-idempotent" not in found.get("b", set())


def test_a_change_made_before_the_error_still_counts(session) -> None:
    nb = session(
        ("a", "import numpy as np\narr = np.zeros(3)\nitems = [1]"),
        ("b", "arr[0] = 5\nitems.append(2)\nraise ValueError('later line')"),
        ("c", "for i in range(3):\n    arr[i] = i\n    if i == 1:\n        raise KeyError(i)"),
    )
    nb.run("a")
    assert nb.run("b").ename == "ValueError"
    assert nb.run("c").ename == "KeyError"  # the loop changed arr before it raised
    nb.run("a")  # re-created: both changes are gone, so both cells have to run again
    mutations = {h["cell_id"]: h["names"] for h in nb.report()["hazards"] if h["kind"] == "mutation"}
    assert mutations == {"b": ["arr", "items"], "c": ["arr"]}, mutations


def test_a_failed_rerun_of_a_rebinding_cell_is_no_hidden_state(session) -> None:
    nb = session(
        ("a", "import pandas as pd\ndf = pd.DataFrame({'x': [1.0, 2.0], 'city': ['P', 'L']})"),
        ("b", "df = df.drop(columns=['city'])"),
        ("c", "df['x'] = df['x'] / 10"),
    )
    nb.run("a", "b", "c")
    failed = nb.run("b")  # runs on its own result: KeyError, df not rebound
    assert failed.ename == "KeyError"
    again = nb.run("c")
    for result in (failed, again):
        assert not any(w.startswith("nb2pipe hidden-state:") for w in result.warnings), result.warnings
    assert "hidden-state" not in {h["kind"] for h in nb.report()["hazards"]}


# -- functions that update globals ------------------------------------------------------------
def test_a_function_that_increments_a_global_makes_its_caller_non_idempotent(session) -> None:
    nb = session(
        ("a", "counter = 0\ndef bump():\n    global counter\n    counter += 1\n    return counter\n"
              "def reset():\n    global counter\n    counter = 0"),
        ("b", "bump()"),
        ("c", "reset()"),
    )
    nb.run("a")
    assert nb.run("b").warnings == []
    again = nb.run("b")
    assert any(w.startswith("nb2pipe non-idempotent: ran 2 times") and "counter" in w
               for w in again.warnings), again.warnings
    nb.run("c")
    assert nb.run("c").warnings == []  # rebinding to a constant is idempotent
    found = kinds(nb.report())
    assert "non-idempotent" in found["b"] and "stale" not in found["b"]


# -- seeded random generators -----------------------------------------------------------------
def test_redrawing_from_a_seeded_generator_is_non_idempotent(session) -> None:
    nb = session(
        ("a", "import numpy as np\nnp.random.seed(0)\nrng = np.random.default_rng(0)"),
        ("b", "noise = np.random.rand(3)"),
        ("c", "z = rng.normal(size=2)"),
    )
    nb.run("a", "b", "c")
    for cell, generator in (("b", "numpy random generator"), ("c", "rng")):
        result = nb.run(cell)
        lines = [w for w in result.warnings if w.startswith("nb2pipe non-idempotent:")]
        assert len(lines) == 1 and generator in lines[0], result.warnings
        assert "fresh run" in lines[0]
    report = nb.report()
    found = kinds(report)
    assert found["b"] == {"non-idempotent"} and found["c"] == {"non-idempotent"}, report["hazards"]
    # re-seeding first makes the draws reproduce a fresh run again
    nb.run("a")
    assert nb.run("b").warnings == [] and nb.run("c").warnings == []
    assert nb.report()["hazards"] == []
