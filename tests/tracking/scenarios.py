"""Single-edit scenarios for ``rerun``: an original notebook and the same notebook with one cell edited.

Each scenario runs all cells of the original, then the edited cell, then the cells ``%track
report`` names in ``rerun``; every cell's latest output must then equal a fresh run of the
edited notebook, unless ``restart`` names the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scenario:
    name: str
    cells: tuple[str, ...]
    edit: int  #: index of the edited cell
    new_source: str
    #: files in the working directory before the first cell runs
    files: dict[str, str] = field(default_factory=dict)
    #: the scenario draws unseeded random numbers that reach an output: a restart is expected
    expect_restart: bool = False

    @property
    def edited_cells(self) -> tuple[str, ...]:
        cells = list(self.cells)
        cells[self.edit] = self.new_source
        return tuple(cells)


def s(name: str, cells: list[str], edit: int, new_source: str, **kw: object) -> Scenario:
    return Scenario(name, tuple(cells), edit, new_source, **kw)  # type: ignore[arg-type]


NP = "import numpy as np"
PD = "import pandas as pd"
FRAME = "df = pd.DataFrame({'a': [1.0, None, 3.0, 4.0], 'b': [4.0, 5.0, None, 7.0], 'k': ['x', 'y', 'x', 'y']})"

SCENARIOS: list[Scenario] = [
    # -- lists -----------------------------------------------------------------------------
    s("list-edit-creator", ["xs = [1, 2]", "xs.append(3)", "print(len(xs))", "ys = [10]", "print(ys)",
                            "total = sum(xs)\nprint(total)"], 0, "xs = [5, 6]"),
    s("list-edit-mutator", ["xs = [1, 2]", "xs.append(3)", "print(xs)", "n = 0", "print(n)"], 1, "xs.append(4)"),
    s("list-sort-inplace", ["v = [3, 1, 2]", "v.sort()", "print(v)", "w = [9]", "print(w)", "print(v[0])"],
      0, "v = [6, 5, 4]"),
    s("list-edit-reader", ["xs = [1, 2, 3]", "xs.pop()", "print(xs)", "ys = xs[:]", "print(ys)"], 4, "print(len(ys))"),
    s("list-extend-alias", ["a = [1]", "b = a", "b.extend([2, 3])", "print(a)", "c = list(a)", "print(c)",
                            "d = 'unrelated'", "print(d)"], 2, "b.extend([9])"),
    # -- dicts -----------------------------------------------------------------------------
    s("dict-edit-unrelated-input", ["cfg = {'lr': 0.1}", "cfg['epochs'] = 5", "print(sorted(cfg))", "name = 'run'",
                                    "print(name)", "label = name + str(cfg['epochs'])\nprint(label)"], 3, "name = 'exp'"),
    s("dict-counter-loop", ["counts = {}", "for w in 'a b a'.split():\n    counts[w] = counts.get(w, 0) + 1",
                            "print(counts)", "top = max(counts, key=counts.get)\nprint(top)", "z = 0", "print(z)"],
      1, "for w in 'a b b'.split():\n    counts[w] = counts.get(w, 0) + 1"),
    s("dict-update-method", ["params = {'a': 1}", "params.update(b=2)", "print(params)", "extra = {'c': 3}",
                             "merged = {**params, **extra}\nprint(merged)"], 3, "extra = {'c': 30}"),
    s("dict-alias-function", ["def wipe(d):\n    d.clear()", "state = {'x': 1}", "view = state", "wipe(view)",
                              "print(state)", "other = {'y': 2}", "print(other)"], 1, "state = {'x': 2}"),
    # -- sets ------------------------------------------------------------------------------
    s("set-edit-last-reader", ["seen = set()", "seen.add(1)\nseen.add(2)", "print(sorted(seen))", "k = 3",
                               "print(k * 2)"], 4, "print(k * 3)"),
    s("set-edit-creator", ["s = {1, 2, 3}", "s.discard(2)", "print(sorted(s))", "t = s | {9}", "print(sorted(t))",
                           "u = {0}", "print(u)"], 0, "s = {1, 2, 3, 4}"),
    s("set-augmented", ["tags = {'a'}", "tags |= {'b'}", "print(sorted(tags))", "n = len(tags)", "print(n)",
                        "other = {'z'}", "print(other)"], 1, "tags |= {'c', 'd'}"),
    # -- aliasing --------------------------------------------------------------------------
    s("alias-rebind-no-mutation", ["a = [1]", "b = a", "a = [2]", "print(a, b)", "c = 5", "print(c)"], 2, "a = [3]"),
    s("alias-nested-element", ["rows = [[1], [2]]", "first = rows[0]", "first.append(9)", "print(rows)",
                               "size = 2", "print(size)"], 2, "first.append(8)"),
    s("alias-chain", ["x = {'n': 1}", "y = x", "z = y", "z['n'] = 5", "print(x)", "q = 1", "print(q)"], 3, "z['n'] = 6"),
    # -- functions -------------------------------------------------------------------------
    s("function-mutates-arg", ["def add_item(items, x):\n    items.append(x)", "data = []", "add_item(data, 1)",
                               "print(data)", "other = [0]", "print(other)"], 2, "add_item(data, 7)"),
    s("function-redefined", ["def f(x):\n    return x * 2", "y = f(3)\nprint(y)", "z = 10\nprint(z)",
                             "w = f(z)\nprint(w)", "q = 'q'", "print(q)"], 0, "def f(x):\n    return x * 3"),
    s("function-reads-global", ["scale = 2", "def f(x):\n    return x * scale", "print(f(5))", "other = 1\nprint(other)",
                                "msg = 'hi'", "print(msg)"], 0, "scale = 3"),
    s("function-global-write", ["count = 0", "def bump():\n    global count\n    count += 1", "bump()\nprint(count)",
                                "print(count * 10)", "tag = 'x'", "print(tag)"], 0, "count = 5"),
    s("function-helper-no-mutation", ["def clean(xs):\n    return [x for x in xs if x]", "raw = [0, 1, 2]",
                                      "good = clean(raw)", "print(good)", "print(raw)", "k = 4", "print(k)"],
      1, "raw = [0, 3, 0, 4]"),
    s("class-method-mutation", ["class Counter:\n    def __init__(self):\n        self.n = 0\n    def inc(self):\n        self.n += 1",
                                "cnt = Counter()", "cnt.inc()", "print(cnt.n)", "label = 'c'", "print(label)"],
      2, "cnt.inc()\ncnt.inc()"),
    # -- numpy -----------------------------------------------------------------------------
    s("numpy-inplace-add", [NP, "arr = np.arange(5.0)", "arr += 1", "print(arr.sum())", "m = arr.mean()\nprint(m)",
                            "z = np.zeros(2)", "print(z)"], 2, "arr *= 2"),
    s("numpy-out-arg", [NP, "a = np.ones(3)", "np.multiply(a, 3, out=a)", "print(a)", "b = np.zeros(2)\nprint(b)",
                        "c = 1", "print(c)"], 1, "a = np.ones(3) * 2"),
    s("numpy-sort-inplace", [NP, "v = np.array([3, 1, 2])", "v.sort()", "print(v)", "first = v[0]\nprint(first)",
                             "w = np.array([7])", "print(w)"], 1, "v = np.array([5, 4, 6])"),
    s("numpy-view", [NP, "base = np.zeros(4)", "view = base[:2]", "view[:] = 7", "print(base)", "e = np.eye(2)",
                     "print(e)"], 3, "view[:] = 9"),
    s("numpy-fill", [NP, "buf = np.zeros(3)", "buf.fill(2)", "print(buf)", "other = np.ones(1)", "print(other)"],
      2, "buf.fill(5)"),
    s("numpy-edit-downstream", [NP, "x = np.linspace(0, 1, 5)", "y = x ** 2", "print(y.round(2))",
                                "z = y.sum()", "print(round(float(z), 3))"], 4, "z = y.max()"),
    # -- pandas ----------------------------------------------------------------------------
    s("pandas-dropna-inplace", [PD, FRAME, "df.dropna(inplace=True)", "print(len(df))", "cols = list(df.columns)\nprint(cols)",
                                "note = 'ok'", "print(note)"], 2, "df.dropna(subset=['a'], inplace=True)"),
    s("pandas-assign-column", [PD, FRAME, "df['c'] = df['a'] * 2", "print(df['c'].sum())", "print(df.shape)",
                               "k = 1", "print(k)"], 2, "df['c'] = df['a'] * 3"),
    s("pandas-rebind-chain", [PD, FRAME, "df = df.fillna(0)", "print(df[['a', 'b']].sum().sum())", "n = 3\nprint(n)",
                              "m = 4", "print(m)"], 1, FRAME.replace("4.0, 5.0", "40.0, 50.0")),
    s("pandas-rename-inplace", [PD, FRAME, "df.rename(columns={'a': 'x'}, inplace=True)", "print(list(df.columns))",
                                "q = 2", "print(q)"], 2, "df.rename(columns={'a': 'y'}, inplace=True)"),
    s("pandas-groupby", [PD, FRAME, "g = df.groupby('k')['b'].sum()", "print(g.to_dict())", "print(len(df))",
                         "t = 't'", "print(t)"], 2, "g = df.groupby('k')['b'].max()"),
    # -- scikit-learn ----------------------------------------------------------------------
    s("sklearn-fit", ["from sklearn.linear_model import LinearRegression", "X = [[0], [1], [2]]\ny = [0, 1, 2]",
                      "model = LinearRegression()", "model.fit(X, y)", "print(round(float(model.coef_[0]), 3))",
                      "print(len(X))", "tag = 'lr'", "print(tag)"], 1, "X = [[0], [1], [2]]\ny = [0, 2, 4]"),
    s("sklearn-set-params", ["from sklearn.linear_model import LinearRegression", "X = [[0], [1], [2]]\ny = [1, 2, 3]",
                             "model = LinearRegression()", "model.set_params(fit_intercept=True)", "model.fit(X, y)",
                             "print(round(float(model.intercept_), 3))", "k = 0", "print(k)"],
      3, "model.set_params(fit_intercept=False)"),
    s("sklearn-split-seeded", ["from sklearn.model_selection import train_test_split", "data = list(range(20))",
                               "train, test = train_test_split(data, test_size=0.25, random_state=0)",
                               "print(sorted(test))", "print(len(train))", "x = 1", "print(x)"],
      2, "train, test = train_test_split(data, test_size=0.5, random_state=0)"),
    # -- files -----------------------------------------------------------------------------
    s("file-write-read", ["with open('data.txt', 'w') as f:\n    f.write('1 2 3')", "nums = open('data.txt').read().split()",
                          "print(len(nums))", "k = 1\nprint(k)", "other = 'o'", "print(other)"],
      0, "with open('data.txt', 'w') as f:\n    f.write('1 2 3 4')"),
    s("file-csv-pandas", [PD, "pd.DataFrame({'v': [1, 2]}).to_csv('t.csv', index=False)", "loaded = pd.read_csv('t.csv')",
                          "print(loaded['v'].sum())", "n = 2", "print(n)"],
      1, "pd.DataFrame({'v': [1, 2, 3]}).to_csv('t.csv', index=False)"),
    s("file-read-existing", ["text = open('input.txt').read()", "words = text.split()", "print(len(words))",
                             "x = 5", "print(x)"], 2, "print(sorted(words))", files={"input.txt": "b a c"}),
    s("file-append-rewritten", ["open('log.txt', 'w').close()", "with open('log.txt', 'a') as f:\n    f.write('x\\n')",
                                "print(open('log.txt').read().count('x'))", "y = 2", "print(y)"],
      1, "with open('log.txt', 'a') as f:\n    f.write('x\\nx\\n')"),
    # -- randomness ------------------------------------------------------------------------
    s("random-seeded-edit-reader", [NP + "\nnp.random.seed(0)", "x = np.random.rand(3)", "print(x.round(3))",
                                    "y = np.random.rand()", "print(round(y, 3))"], 2, "print(x.sum().round(3))"),
    s("random-seeded-edit-draw", [NP + "\nnp.random.seed(0)", "x = np.random.rand(3)", "print(x.round(3))",
                                  "y = np.random.rand()", "print(round(y, 3))", "s = 'end'", "print(s)"],
      1, "x = np.random.rand(4)"),
    s("random-generator-edit-draw", [NP + "\nrng = np.random.default_rng(1)", "a = rng.normal(size=2)",
                                     "print(a.round(3))", "b = rng.integers(0, 10)", "print(b)"], 1, "a = rng.normal(size=3)"),
    s("random-stdlib-seeded", ["import random\nrandom.seed(3)", "r = random.random()", "print(round(r, 4))",
                               "c = random.choice('abc')", "print(c)", "z = 0", "print(z)"], 2, "print(round(r * 2, 4))"),
    s("random-unseeded-reaches-output", ["import random", "r = random.random()", "print(round(r, 6))", "k = 'k'",
                                         "print(k)"], 1, "r = random.random() * 0.5", expect_restart=True),
    s("random-unseeded-unrelated-edit", ["import random", "r = random.random()", "s = 'abc'", "print(s.upper())",
                                         "t = 1", "print(t)"], 3, "print(s.lower())"),
    # -- other -----------------------------------------------------------------------------
    s("loop-accumulator", ["total = 0", "for i in range(4):\n    total += i", "print(total)", "print(i)", "w = 'w'",
                           "print(w)"], 1, "for i in range(5):\n    total += i"),
    s("string-chain", ["s = 'a'", "t = s + 'b'", "u = t + 'c'", "print(u)", "v = 'z'", "print(v)", "k = 3", "print(k)"],
      1, "t = s + 'B'"),
    s("del-name", ["a = 1\nb = 2", "del b", "print(a)", "print('b' in dir())", "c = 3", "print(c)"], 2, "print(a + 1)"),
    s("collections-counter", ["from collections import Counter", "c = Counter('aab')", "c.update('b')",
                              "print(c.most_common(1))", "x = 0", "print(x)"], 1, "c = Counter('abb')"),
    s("new-dependency-edit", ["a = 1", "b = 2", "print(b)", "c = 3", "print(c)", "d = 4", "print(d)"], 2, "print(a + b)"),
]
