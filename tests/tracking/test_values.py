"""Value fingerprints: equal values of the same type share one, and nothing else does."""

from __future__ import annotations

import ast

import numpy as np

from nb2pipe.analysis import gather_cell_symbols
from nb2pipe.tracking.values import constant_fingerprints, observed_fingerprints, value_fingerprint


def test_equal_values_of_the_same_type_share_a_fingerprint_and_others_do_not() -> None:
    same = [(1, 1), ("ab", "a" + "b"), ((1, ("x", None)), (1, ("x", None))),
            (frozenset({1, 2}), frozenset({2, 1})), (2.5, 5 / 2), (b"x", b"x")]
    for left, right in same:
        assert value_fingerprint(left) == value_fingerprint(right) is not None, (left, right)
    different = [(1, True), (1, 1.0), (0.0, -0.0), ("1", 1), ((1,), [1]), ((1, 2), (2, 1)),
                 (1, np.int64(1)), (0.5, np.float64(0.5))]
    for left, right in different:
        assert value_fingerprint(left) != value_fingerprint(right), (left, right)


def test_mutable_or_unbounded_values_have_none() -> None:
    for value in ([1], {"a": 1}, {1}, np.zeros(2), "x" * 10_000, tuple(range(100)), ([],), object()):
        assert value_fingerprint(value) is None, type(value)


def test_literals_and_imports_are_fixed_by_the_code_as_the_kernel_finds_them() -> None:
    source = (
        "import numpy as np\nfrom os import path as p\nalpha = 0.5\nname = 'x'\ncols = ('a', -1)\n"
        "k = 1\nk = 2\nfor i in range(2):\n    j = 3\nrows = [1]\nscale = alpha * 2"
    )
    symbols = gather_cell_symbols(ast.parse(source))
    fixed = constant_fingerprints(symbols.constants)
    assert set(fixed) == {"np", "p", "alpha", "name", "cols"}  # k twice, j nested, rows mutable
    namespace = {"alpha": 0.5, "name": "x", "cols": ("a", -1), "np": np, "scale": 1.0}
    seen = observed_fingerprints(namespace, ["alpha", "name", "cols", "np", "scale"], fixed)
    assert seen == {**{n: fixed[n] for n in ("alpha", "name", "cols", "np")}, "scale": value_fingerprint(1.0)}
    assert constant_fingerprints(symbols.constants, excluded={"alpha"}).keys() == fixed.keys() - {"alpha"}
