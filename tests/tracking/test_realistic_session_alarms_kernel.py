"""False alarms and missed hazards found by replaying realistic data-science sessions.

- a cell that raised before its in-place change ran changed nothing: no ``mutation``,
  ``non-idempotent`` or ``stale`` for it (a change made before the error still counts);
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
    result = nb.run("b")
    assert result.ename == "ValueError"
    assert any(w.startswith("nb2pipe mutation:") and "arr" in w and "items" in w
               for w in result.warnings), result.warnings
    result = nb.run("c")  # the loop changed arr before it raised
    assert result.ename == "KeyError"
    assert any(w.startswith("nb2pipe mutation:") and "arr" in w for w in result.warnings), result.warnings
