"""The one cell-symbol analysis: what a cell defines, reads, mutates and deletes."""

from __future__ import annotations

import ast

import pytest

from nb2pipe.analysis import gather_cell_symbols, mask_ipython
from nb2pipe.analysis.magics import MagicKind


def symbols(source: str):
    return gather_cell_symbols(ast.parse(mask_ipython(source)))


@pytest.mark.parametrize("source, defines, reads", [
    ("x = 1", {"x"}, set()),
    ("y = x + 1", {"y"}, {"x"}),
    ("x = 1\ny = x", {"x", "y"}, set()),                      # read after the cell binds it
    ("a, (b, *c) = t", {"a", "b", "c"}, {"t"}),
    ("for i in items:\n    total += i", {"i", "total"}, {"items", "total"}),
    ("with open(p) as fh:\n    data = fh.read()", {"fh", "data"}, {"p"}),
    ("import numpy as np\nimport os.path", {"np", "os"}, set()),
    ("from a.b import c as d, e", {"d", "e"}, set()),
    ("def f(x, y=default):\n    return x + g + y", {"f"}, {"default"}),  # g is read at call time
    ("class K(Base):\n    attr = value\n    def m(self):\n        return later", {"K"}, {"Base", "value"}),
    ("sq = [i * k for i in rng]", {"sq"}, {"k", "rng"}),       # comprehension variable is local
    ("ok = any((w := v) > 0 for v in vals)", {"ok", "w"}, {"vals"}),  # walrus binds outside
    ("f = lambda r: r[col]", {"f"}, {"col"}),
    ("try:\n    pass\nexcept E as err:\n    msg = err", {"err", "msg"}, {"E"}),
    ("print(len(x))", set(), {"x"}),                           # builtins are not reads
    ("%time z = heavy(n)", {"z"}, {"heavy", "n"}),             # code inside a code magic
    ("%%time\nq = p * 2", {"q"}, {"p"}),
    ("!ls {folder}", set(), {"folder"}),                       # shell expansion reads names
    ("files = !ls", {"files"}, set()),
])
def test_defines_and_reads(source: str, defines: set[str], reads: set[str]) -> None:
    result = symbols(source)
    assert result.defines == defines
    assert result.reads == reads


@pytest.mark.parametrize("source, mutates", [
    ("df['a'] = 1", {"df"}),
    ("obj.attr = 2", {"obj"}),
    ("items.append(3)", {"items"}),
    ("d.update(e)", {"d"}),
    ("df.dropna(inplace=True)", {"df"}),
    ("model.fit(X, y)", {"model"}),
    ("numpy_add(a, b, out=c)", {"c"}),
    ("random.shuffle(deck)", {"deck"}),
    ("x += [1]", {"x"}),
    ("del cache['k']", {"cache"}),
    ("arr.sort()", {"arr"}),
    ("df = df.dropna()", set()),                               # a rebinding, not a mutation
    ("print(items)", set()),
    # numpy functions that write into their first argument (the module is dropped later)
    ("np.copyto(dst, src)", {"dst"}),
    ("np.place(a, a > 2, [0])", {"a"}),
    ("np.putmask(x, mask, 0)", {"x"}),
    ("np.fill_diagonal(m, 5)", {"m"}),
    ("np.add.at(counts, idx, 1)", {"counts"}),
    ("np.put(a, [0, 2], [7, 8])", {"np", "a"}),                # np.put(a, ind, v): a
    ("a.put([0, 2], [7, 8])", {"a"}),                          # a.put(ind, v): a, not ind
    # through containers: an element reached through the outer name, loop variables
    ("outer[0].append(5)", {"outer"}),
    ("for r in rows:\n    r.append(0)", {"r", "rows"}),
    ("for k, v in d.items():\n    v['n'] += 1", {"v", "d"}),
    ("for i, r in enumerate(rows[1:]):\n    r.clear()", {"r", "rows"}),
    ("cell = table[1]\ncell[0] = 4", {"cell", "table"}),
    ("b = a\nb = [0]\nb.append(1)", {"b"}),                  # rebound first: a is not changed
])
def test_mutations(source: str, mutates: set[str]) -> None:
    assert symbols(source).mutates == mutates


def test_rebinds_and_deletes() -> None:
    result = symbols("df = df.dropna()\ncount += 1\ndel tmp")
    assert result.rebinds == {"df", "count"}
    assert result.deletes == {"tmp"}


def test_function_symbols() -> None:
    result = symbols(
        "def train(model, X, *, log):\n"
        "    global fitted\n"
        "    model.fit(X, target)\n"
        "    log.append(1)\n"
        "    history.append(2)\n"
        "    fitted = True\n"
        "    def inner():\n"
        "        return threshold\n"
        "    return inner"
    )
    (train,) = result.functions
    assert train.free_globals == {"target", "history", "threshold"}
    assert train.global_writes == {"fitted"}
    assert train.global_mutations == {"history"}
    assert train.mutated_params == ((0, "model"), (-1, "log"))


def test_a_class_knows_which_of_its_methods_change_the_instance() -> None:
    (stack,) = symbols(
        "class Stack:\n"
        "    def __init__(self):\n        self.items = []\n"
        "    def push(self, v):\n        self._store(v)\n"
        "    def _store(self, v):\n        self.items.append(v)\n"
        "    def peek(self):\n        return self.items[-1]\n"
        "    def set_top(self, v):\n        self.top = v\n"
        "    @staticmethod\n    def make(xs):\n        xs.append(1)\n"
    ).functions
    assert stack.is_class and stack.mutating_methods == {"push", "_store", "set_top"}


def test_method_calls_name_their_receiver_root() -> None:
    result = symbols("counters[0].tick()\nlog.write('a')\nfor c in items:\n    c.bump()")
    assert result.method_calls == {("counters", "tick"), ("log", "write"), ("c", "bump"), ("items", "bump")}


def test_calls_record_keyword_roots_and_functions_the_calls_passing_parameters() -> None:
    result = symbols("collect(1, into=bag.inner, n=3)\ndef twice(xs, v):\n    add(xs, v)\n    other(v)")
    (call,) = [c for c in result.calls if c.callee == "collect"]
    assert call.keyword_roots == (("into", "bag"),)
    (twice,) = result.functions
    assert twice.params == ("xs", "v") and twice.param_calls == (("add", ("xs", "v")), ("other", ("v",)))


def test_magics_are_recorded_with_their_lines() -> None:
    result = symbols("x = 1\n%matplotlib inline\n!echo hi\ny = !ls")
    assert [(m.kind, m.name, m.line) for m in result.magics] == [
        (MagicKind.LINE, "matplotlib", 2),
        (MagicKind.SYSTEM, "", 3),
        (MagicKind.GETOUTPUT, "", 4),
    ]


def test_magics_in_function_and_method_bodies_are_the_cells_and_read_their_names() -> None:
    result = symbols(
        "def f(path):\n    out = !ls {path} {pattern}\n    return out\n"
        "class K:\n    def m(self):\n        %cd {home}\n"
    )
    assert [(m.kind, m.line) for m in result.magics] == [
        (MagicKind.GETOUTPUT, 2),
        (MagicKind.LINE, 6),
    ]
    f, k = result.functions
    # the body reads `pattern` (a global) and `path` (its own); `get_ipython` is IPython's
    assert f.free_globals == {"pattern"}
    assert k.free_globals == {"home"}


def test_star_import_and_run_make_defines_opaque() -> None:
    assert symbols("from os.path import *").opaque_defines
    assert symbols("%run helpers.py").opaque_defines
    assert not symbols("import os").opaque_defines


def test_plain_python_is_not_touched_by_masking() -> None:
    source = "x = 1  # %not a magic\ns = '!not shell'\n"
    assert mask_ipython(source) == source


# -- the globals a pipeline step's function reads ------------------------------------------------
def _body_free(source: str, **kwargs) -> set[str]:
    from functools import partial

    from nb2pipe.analysis.display import is_pyplot_show
    from nb2pipe.analysis.symbols import body_free_names

    shows = kwargs.pop("replaced_shows", None)
    replaced = partial(is_pyplot_show, pyplot_names=shows) if shows is not None else None
    tree = ast.parse(mask_ipython(source))
    return set(body_free_names(tree.body, replaced=replaced, **kwargs))


@pytest.mark.parametrize(
    ("source", "kwargs", "free"),
    [
        # parameters and names the body binds are local; builtins are not globals
        ("y = f(x)\nprint(y, z)", {"parameters": ["x"]}, {"f", "z"}),
        # a name bound anywhere in the body is local, even when read before
        ("print(a)\na = 1", {}, set()),
        # a cell's own `global` is left out (the script drops it); the function's declaration
        # counts, for reads and for changes in place
        ("global a\na = 1\nb.append(a)", {}, {"b"}),
        ("a = a + 1", {"declared_global": ["a"]}, {"a"}),
        # changed in place: a global
        ("rows[0] = 1\nmodel.fit(X)", {}, {"rows", "model", "X"}),
        # closures read the function's locals; their other names are globals
        ("k = 2\ndef g():\n    return k * m\nh = lambda: n", {}, {"m", "n"}),
        # `plt.show()` in a loop is replaced: plt is read only by the plot call
        ("for i in r:\n    plt.show()", {"replaced_shows": frozenset({"plt"})}, {"r"}),
        ("for i in r:\n    plt.show()", {}, {"r", "plt"}),
        # a magic reads the names its expansion and code read, not get_ipython
        ("!echo {path}\n%time fit(data)", {}, {"path", "fit", "data"}),
        # lines the function adds (`return`, record_metrics) read too
        ("score = 1", {"reads": ["score", "extra"]}, {"extra"}),
    ],
)
def test_body_free_names(source: str, kwargs: dict, free: set[str]) -> None:
    assert _body_free(source, **kwargs) == free
