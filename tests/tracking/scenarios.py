"""Single-edit scenarios for ``rerun``: an original notebook and the same notebook with one cell edited.

Each scenario runs all cells of the original (in ``run_order`` when given), then the edited
cell, then follows ``%track report``: it removes the paths ``remove`` names, then runs the
cells ``rerun`` names; every cell's latest output, the final namespace and the files must then
equal a fresh run of the edited notebook. What no re-run can fix is declared:

- ``remove``: paths an earlier run left on disk that neither a re-run nor a restart undoes
  (a folder renamed onto, a file written only if missing): the report must name each in an
  ``external-file`` hazard whose fix says to remove it, and list them in ``remove``;
- ``seed``: unseeded random numbers reach an output: two fresh runs differ, the report says
  to seed the draw (``unseeded-random``), and restarts nothing;
- ``restart_hazard``: only a restart helps; ``restart`` says why, the hazard kind is reported,
  and no re-run list comes with it.
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
    #: the hazard kind reported when only a restart helps (re-running every cell cannot
    #: reproduce a fresh run: unseeded random numbers, files a re-run appends to again, ...)
    restart_hazard: str | None = None
    #: the order the original's cells first run in (default: top to bottom)
    run_order: tuple[int, ...] | None = None
    #: paths (relative to the folder) the report must say to remove before re-running
    remove: tuple[str, ...] = ()
    #: unseeded random numbers reach an output: the report must say to seed them
    seed: bool = False

    @property
    def expect_restart(self) -> bool:
        return self.restart_hazard is not None

    @property
    def rerun_all_fails(self) -> bool:
        """Re-running every cell (nothing removed, nothing seeded) differs from a fresh run."""
        return self.expect_restart or bool(self.remove) or self.seed

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(f"c{i}" for i in range(len(self.cells)))

    @property
    def first_run(self) -> tuple[int, ...]:
        return self.run_order if self.run_order is not None else tuple(range(len(self.cells)))

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
                                         "print(k)"], 1, "r = random.random() * 0.5",
      seed=True),
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

# -- the harder families (issue 13) ---------------------------------------------------------
SCENARIOS += [
    # -- numpy functions that write into an argument ---------------------------------------
    s("numpy-copyto", [NP, "src = np.arange(3.0)", "dst = np.zeros(3)", "np.copyto(dst, src)", "print(dst)",
                       "k = 1", "print(k)"], 1, "src = np.arange(3.0) * 10"),
    s("numpy-place", [NP, "a = np.arange(6)", "np.place(a, a > 2, [0])", "print(a)",
                      "total = int(a.sum())\nprint(total)", "z = 'z'", "print(z)"], 2, "np.place(a, a > 3, [-1])"),
    s("numpy-put", [NP, "a = np.zeros(5)", "np.put(a, [0, 2], [7, 8])", "print(a)", "m = a.max()\nprint(m)",
                    "t = 2", "print(t)"], 1, "a = np.ones(5)"),
    s("numpy-putmask", [NP, "x = np.arange(5.0)", "mask = x > 2", "np.putmask(x, mask, 0)", "print(x)", "q = 3",
                        "print(q)"], 2, "mask = x > 1"),
    s("numpy-fill-diagonal", [NP, "m = np.zeros((3, 3))", "np.fill_diagonal(m, 5)", "print(m.trace())",
                              "other = np.ones(2)", "print(other)"], 2, "np.fill_diagonal(m, 2)"),
    s("numpy-ufunc-out", [NP, "a = np.arange(4.0)", "b = np.empty(4)", "np.sqrt(a, out=b)", "print(b.round(3))",
                          "c = 9", "print(c)"], 1, "a = np.arange(4.0) * 4"),
    s("numpy-ufunc-positional-out", [NP, "a = np.ones(3)", "np.add(a, 1, a)", "print(a)", "k = 2", "print(k)"],
      1, "a = np.ones(3) * 5"),
    s("numpy-resize-method", [NP, "v = np.arange(4)", "v.resize(6, refcheck=False)", "print(v)",
                              "n = v.size\nprint(n)", "w = 1", "print(w)"], 1, "v = np.arange(3)"),
    s("numpy-ufunc-at", [NP, "counts = np.zeros(3, dtype=int)", "np.add.at(counts, [0, 0, 2], 1)", "print(counts)",
                         "s = counts.sum()\nprint(s)", "x = 0", "print(x)"], 2, "np.add.at(counts, [1, 1, 1], 1)"),
    s("numpy-copyto-view", [NP, "grid = np.zeros((2, 2))", "row = grid[0]", "np.copyto(row, [1, 2])", "print(grid)",
                            "e = 5", "print(e)"], 3, "np.copyto(row, [3, 4])"),
    # -- objects reached through containers, loop variables, shallow copies -----------------
    s("container-outer-append", ["outer = [[1], [2]]", "outer[0].append(5)", "print(outer)",
                                 "n = len(outer[0])\nprint(n)", "z = 0", "print(z)"], 1, "outer[1].append(6)"),
    s("container-dict-of-lists", ["groups = {'a': [], 'b': []}", "groups['a'].append(1)\ngroups['b'].extend([2, 3])",
                                  "print(groups)", "sizes = {k: len(v) for k, v in groups.items()}\nprint(sizes)",
                                  "t = 't'", "print(t)"], 0, "groups = {'a': [0], 'b': []}"),
    s("container-loop-variable", ["rows = [[1], [2], [3]]", "for r in rows:\n    r.append(0)", "print(rows)",
                                  "flat = sum(rows, [])\nprint(flat)", "k = 1", "print(k)"], 0, "rows = [[4], [5]]"),
    s("container-loop-dict-items", ["stats = {'x': {'n': 0}, 'y': {'n': 0}}",
                                    "for name, entry in stats.items():\n    entry['n'] += len(name)", "print(stats)",
                                    "q = 2", "print(q)"], 0, "stats = {'xx': {'n': 0}}"),
    s("container-loop-index", ["items = [{'v': 1}, {'v': 2}]", "for i in range(len(items)):\n    items[i]['v'] *= 10",
                               "print(items)", "z = 0", "print(z)"], 1,
      "for i in range(len(items)):\n    items[i]['v'] *= 100"),
    s("container-element-in-cell", ["table = [[0, 0], [0, 0]]", "cell = table[1]\ncell[0] = 4", "print(table)",
                                    "o = 1", "print(o)"], 0, "table = [[1, 1], [1, 1]]"),
    s("shallow-copy-list", ["a = [[1], [2]]", "b = list(a)", "b[0].append(9)", "print(a)", "c = 3", "print(c)"],
      2, "b[1].append(8)"),
    s("shallow-copy-slice", ["a = [[1], [2]]", "b = a[:]", "b[1].append(7)", "print(a)", "print(b)", "z = 1",
                             "print(z)"], 0, "a = [[5], [6], [7]]"),
    s("shallow-copy-copy-module", ["import copy", "base = {'opts': ['x']}", "clone = copy.copy(base)",
                                   "clone['opts'].append('y')", "print(base)", "u = 0", "print(u)"],
      3, "clone['opts'].append('z')"),
    s("shallow-copy-dict", ["cfg = {'layers': [16, 32]}", "tuned = dict(cfg)", "tuned['layers'].append(64)",
                            "print(cfg['layers'])", "name = 'n'", "print(name)"], 0, "cfg = {'layers': [8]}"),
    s("deep-copy-independent", ["import copy", "a = [[1]]", "b = copy.deepcopy(a)", "b[0].append(2)", "print(a)",
                                "print(b)", "k = 0", "print(k)"], 3, "b[0].append(3)"),
    s("function-appends-keyword-arg", ["def collect(value, into):\n    into.append(value)", "bag = []",
                                       "collect(1, into=bag)", "print(bag)", "m = 0", "print(m)"],
      2, "collect(2, into=bag)"),
    s("function-appends-through-helper", ["def add(xs, v):\n    xs.append(v)",
                                          "def add_twice(xs, v):\n    add(xs, v)\n    add(xs, v)", "data = []",
                                          "add_twice(data, 1)", "print(data)", "w = 0", "print(w)"],
      3, "add_twice(data, 2)"),
    # -- the notebook's own classes ----------------------------------------------------------
    s("class-setter-method", ["class Box:\n    def __init__(self):\n        self.x = 0\n    def set_x(self, v):\n        self.x = v",
                              "box = Box()", "box.set_x(3)", "print(box.x)", "y = 1", "print(y)"], 2, "box.set_x(7)"),
    s("class-method-appends-to-self", ["class Log:\n    def __init__(self):\n        self.lines = []\n    def write(self, s):\n        self.lines.append(s)",
                                       "log = Log()", "log.write('a')", "print(log.lines)", "n = 2", "print(n)"],
      2, "log.write('b')"),
    s("class-setitem", ["class Table:\n    def __init__(self):\n        self.data = {}\n    def __setitem__(self, k, v):\n        self.data[k] = v\n    def __getitem__(self, k):\n        return self.data[k]",
                        "t = Table()", "t['a'] = 1", "print(t['a'])", "o = 0", "print(o)"], 2, "t['a'] = 5"),
    s("class-instance-passed-to-function", ["class Model:\n    def __init__(self):\n        self.lr = 0.1",
                                            "def tune(m, lr):\n    m.lr = lr", "model = Model()", "tune(model, 0.5)",
                                            "print(model.lr)", "k = 1", "print(k)"], 3, "tune(model, 0.9)"),
    s("class-edited-method", ["class Acc:\n    def __init__(self):\n        self.total = 0\n    def add(self, v):\n        self.total += v",
                              "acc = Acc()", "acc.add(2)", "print(acc.total)", "w = 1", "print(w)"],
      0, "class Acc:\n    def __init__(self):\n        self.total = 0\n    def add(self, v):\n        self.total += 2 * v"),
    s("class-instances-in-list", ["class Counter:\n    def __init__(self):\n        self.n = 0\n    def tick(self):\n        self.n += 1",
                                  "counters = [Counter(), Counter()]", "counters[0].tick()",
                                  "print([c.n for c in counters])", "z = 0", "print(z)"], 2, "counters[1].tick()"),
    s("class-method-through-method", ["class Stack:\n    def __init__(self):\n        self.items = []\n    def push(self, v):\n        self._store(v)\n    def _store(self, v):\n        self.items.append(v)",
                                      "st = Stack()", "st.push(1)", "print(st.items)", "k = 0", "print(k)"],
      2, "st.push(2)"),
    s("class-attribute-through-alias", ["class P:\n    pass", "p = P()\np.tags = []", "q = p", "q.tags.append('x')",
                                        "print(p.tags)", "s = 1", "print(s)"], 3, "q.tags.append('y')"),
    s("class-dataclass-field", ["from dataclasses import dataclass, field",
                                "@dataclass\nclass Cfg:\n    steps: list = field(default_factory=list)", "cfg = Cfg()",
                                "cfg.steps.append('load')", "print(cfg)", "x = 1", "print(x)"],
      3, "cfg.steps.append('clean')"),
    # -- the file system -----------------------------------------------------------------------
    s("file-append-no-rewrite", ["with open('events.log', 'a') as f:\n    f.write('run\\n')",
                                 "print(open('events.log').read().count('run'))", "z = 0", "print(z)"],
      0, "with open('events.log', 'a') as f:\n    f.write('run\\nrun\\n')", files={"events.log": ""},
      remove=("events.log",)),
    s("file-write-if-missing", ["import os", "if not os.path.exists('cache.txt'):\n    with open('cache.txt', 'w') as f:\n        f.write('v1')",
                                "print(open('cache.txt').read())", "n = 1", "print(n)"],
      1, "if not os.path.exists('cache.txt'):\n    with open('cache.txt', 'w') as f:\n        f.write('v2')",
      remove=("cache.txt",)),
    s("file-makedirs-write-read", ["import os", "os.makedirs('out', exist_ok=True)",
                                   "with open('out/a.txt', 'w') as f:\n    f.write('1')", "print(open('out/a.txt').read())",
                                   "z = 0", "print(z)"], 2, "with open('out/a.txt', 'w') as f:\n    f.write('2')"),
    s("file-rename", ["import os", "with open('raw.txt', 'w') as f:\n    f.write('abc')",
                      "os.rename('raw.txt', 'data.txt')", "print(open('data.txt').read())", "k = 0", "print(k)"],
      1, "with open('raw.txt', 'w') as f:\n    f.write('abcd')"),
    s("file-makedirs-exists", ["import os", "os.makedirs('results')",
                               "with open('results/r.txt', 'w') as f:\n    f.write('x')",
                               "print(sorted(os.listdir('results')))", "v = 0", "print(v)"],
      1, "os.makedirs('results')\nos.makedirs('results/plots')", remove=("results",)),
    s("file-walk-leftover", ["import os", "os.makedirs('out', exist_ok=True)",
                             "with open('out/a.txt', 'w') as f:\n    f.write('1')",
                             "found = sorted(n for _, _, names in os.walk('out') for n in names)\nprint(found)",
                             "k = 0", "print(k)"], 2, "with open('out/b.txt', 'w') as f:\n    f.write('1')",
      remove=("out/a.txt",)),
    s("file-pathlib-mkdir", ["from pathlib import Path", "out = Path('reports')\nout.mkdir(exist_ok=True)",
                             "(out / 'summary.txt').write_text('rows=3')", "print((out / 'summary.txt').read_text())",
                             "z = 1", "print(z)"], 2, "(out / 'summary.txt').write_text('rows=4')"),
    s("file-read-twice", ["with open('nums.txt', 'w') as f:\n    f.write('1\\n2\\n')",
                          "nums = [int(x) for x in open('nums.txt')]", "print(sum(nums))", "print(len(nums))", "t = 0",
                          "print(t)"], 0, "with open('nums.txt', 'w') as f:\n    f.write('1\\n2\\n3\\n')"),
    s("file-rename-target-edited", ["import os\nos.makedirs('d', exist_ok=True)",
                                    "with open('d/raw.txt', 'w') as f:\n    f.write('abc')",
                                    "os.rename('d/raw.txt', 'd/a.txt')", "print(sorted(os.listdir('d')))", "k = 0",
                                    "print(k)"], 2, "os.rename('d/raw.txt', 'd/b.txt')", remove=("d/a.txt",)),
    # -- cells first run out of order: re-running must restore the namespace too -------------
    s("order-append-before-sum", ["n = 3", "data = [1, 2]", "total = sum(data)\nprint(total)", "data.append(n)",
                                  "print(len(data))"], 4, "print(len(data), 'items')", run_order=(0, 1, 3, 2, 4)),
    s("order-rebind-before-read", ["x = 1", "y = x + 1\nprint(y)", "x = x * 10", "print(x)", "w = 0", "print(w)"],
      3, "print(x, 'x')", run_order=(0, 2, 1, 3, 4, 5)),
]

# -- the families issue 22 found missing, written from their descriptions ---------------------
SCENARIOS += [
    # -- shared class state: a class attribute holds a container that methods change; making
    #    a new instance does not reset it, re-defining the class does ------------------------------
    s("shared-class-dict-method", ["class Cache:\n    store = {}\n    def put(self, k, v):\n        self.store[k] = v",
                                   "c = Cache()", "c.put('a', 1)", "print(sorted(Cache.store))", "n = 0", "print(n)"],
      2, "c.put('b', 2)"),
    s("shared-class-new-instance-same-cell", ["class Registry:\n    items = []\n    def add(self, x):\n        self.items.append(x)",
                                              "r = Registry()\nr.add('a')", "print(r.items)", "k = 1", "print(k)"],
      1, "r = Registry()\nr.add('b')"),
    s("shared-class-constructor-appends", ["class Node:\n    made = []\n    def __init__(self, name):\n        self.name = name\n        self.made.append(name)",
                                           "root = Node('root')", "leaf = Node('leaf')", "print(Node.made)", "z = 0",
                                           "print(z)"], 2, "leaf = Node('leaf2')"),
    s("shared-class-read-through-other-instance", ["class Tally:\n    counts = {}\n    def hit(self, key):\n        self.counts[key] = self.counts.get(key, 0) + 1",
                                                   "a = Tally()\nb = Tally()", "a.hit('x')", "print(b.counts)", "w = 'w'",
                                                   "print(w)"], 2, "a.hit('y')"),
    s("shared-class-classmethod", ["class Config:\n    options = {}\n    @classmethod\n    def set(cls, k, v):\n        cls.options[k] = v",
                                   "Config.set('lr', 0.1)", "cfg = Config()", "print(cfg.options)", "q = 2", "print(q)"],
      1, "Config.set('batch', 32)"),
    s("shared-class-through-type-self", ["class Seen:\n    ids = set()\n    def mark(self, i):\n        type(self).ids.add(i)",
                                         "s = Seen()", "for i in range(3):\n    s.mark(i)", "print(sorted(Seen.ids))", "t = 0",
                                         "print(t)"], 2, "for i in range(2):\n    s.mark(i * 10)"),
    s("shared-class-inherited-container", ["class Base:\n    log = []", "class Child(Base):\n    def record(self, m):\n        self.log.append(m)",
                                           "ch = Child()", "ch.record('a')", "print(Base.log)", "o = 1", "print(o)"],
      3, "ch.record('b')"),
    s("shared-class-method-in-loop", ["class Vocab:\n    words = set()\n    def learn(self, text):\n        for w in text.split():\n            self.words.add(w)",
                                      "v = Vocab()", "for line in ['a b', 'b c']:\n    v.learn(line)", "size = len(Vocab.words)",
                                      "print(size)", "u = 0", "print(u)"], 2, "for line in ['x y']:\n    v.learn(line)"),
    # -- in place through a parameter: ``+=`` on an argument, called from a loop over a
    #    container of lists, and the function is edited --------------------------------------------
    s("param-augassign-loop-rows", ["def extend(l, n):\n    l += [n]", "data = [[1], [2]]", "for row in data:\n    extend(row, 0)",
                                    "print(data)", "k = 0", "print(k)"], 0, "def extend(l, n):\n    l += [n, n]"),
    s("param-augassign-dict-of-lists", ["def pad(seq, k):\n    seq += [0] * k", "groups = {'a': [1], 'b': [2, 3]}",
                                        "for key in groups:\n    pad(groups[key], 2)", "print(groups)", "z = 1", "print(z)"],
      0, "def pad(seq, k):\n    seq += [-1] * k"),
    s("param-augassign-dict-values", ["def tag(items, t):\n    items += [t]", "buckets = {'x': [], 'y': []}",
                                      "for b in buckets.values():\n    tag(b, 'new')", "print(buckets)", "m = 2", "print(m)"],
      0, "def tag(items, t):\n    items += [t.upper()]"),
    s("param-augassign-numpy-arrays", [NP, "def scale(a, k):\n    a *= k", "arrays = [np.ones(2), np.arange(2.0)]",
                                       "for arr in arrays:\n    scale(arr, 3)", "print([a.tolist() for a in arrays])", "s = 's'",
                                       "print(s)"], 1, "def scale(a, k):\n    a *= k + 1"),
    s("param-augassign-literal-list-of-names", ["def grow(xs):\n    xs += ['g']", "left = ['l']\nright = ['r']",
                                                "for side in [left, right]:\n    grow(side)", "print(left, right)", "q = 0",
                                                "print(q)"], 0, "def grow(xs):\n    xs += ['G']"),
    s("param-augassign-enumerate", ["def bump(v, by):\n    v += [by]", "series = [[0], [0]]",
                                    "for i, s in enumerate(series):\n    bump(s, i)", "print(series)", "e = 1", "print(e)"],
      0, "def bump(v, by):\n    v += [by * 10]"),
    s("param-augassign-set", ["def add_tags(tags, extra):\n    tags |= set(extra)", "tag_sets = [{'a'}, {'b'}]",
                              "for ts in tag_sets:\n    add_tags(ts, ['z'])", "print([sorted(t) for t in tag_sets])", "u = 0",
                              "print(u)"], 0, "def add_tags(tags, extra):\n    tags |= set(extra) | {'y'}"),
    s("param-augassign-int-no-change", ["def total(n, k):\n    n += k\n    return n", "counts = [1, 2]",
                                        "sums = [total(c, 10) for c in counts]", "print(sums)", "print(counts)", "r = 0",
                                        "print(r)"], 0, "def total(n, k):\n    n += 2 * k\n    return n"),
    s("param-augassign-nested-helper", ["def push(dst, v):\n    dst += [v]", "def push_all(rows, v):\n    for r in rows:\n        push(r, v)",
                                        "table = [[1], [2]]", "push_all(table, 9)", "print(table)", "c = 0", "print(c)"],
      0, "def push(dst, v):\n    dst += [v, v]"),
    # -- through the instance: a method sets a subscript or attribute of a notebook class's
    #    instance, which another cell reads ----------------------------------------------------------
    s("instance-method-sets-subscript-read-elsewhere", ["class Model:\n    def __init__(self):\n        self.params = {}\n    def set(self, k, v):\n        self.params[k] = v",
                                                        "m = Model()", "m.set('lr', 0.1)", "lr = m.params['lr']\nprint(lr)",
                                                        "d = 0", "print(d)"], 2, "m.set('lr', 0.5)"),
    s("instance-method-setitem-on-self", ["class Store:\n    def __init__(self):\n        self._d = {}\n    def __setitem__(self, k, v):\n        self._d[k] = v\n    def __getitem__(self, k):\n        return self._d[k]\n    def load(self, pairs):\n        for k, v in pairs:\n            self[k] = v",
                                          "st = Store()", "st.load([('a', 1)])", "print(st['a'])", "x = 0", "print(x)"],
      2, "st.load([('a', 2)])"),
    s("instance-read-through-function", ["class Counter:\n    def __init__(self):\n        self.n = 0\n    def add(self, k):\n        self.n += k",
                                         "ctr = Counter()", "def current():\n    return ctr.n", "ctr.add(2)", "print(current())",
                                         "y = 0", "print(y)"], 3, "ctr.add(5)"),
    s("instance-setattr-in-method", ["class Opts:\n    def update(self, **kw):\n        for k, v in kw.items():\n            setattr(self, k, v)",
                                     "o = Opts()", "o.update(depth=3)", "print(o.depth)", "n = 1", "print(n)"],
      2, "o.update(depth=5)"),
    s("instance-method-called-by-function", ["class Acc:\n    def __init__(self):\n        self.items = []\n    def push(self, v):\n        self.items.append(v)",
                                             "def fill(acc, n):\n    for i in range(n):\n        acc.push(i)", "a = Acc()",
                                             "fill(a, 3)", "print(a.items)", "z = 0", "print(z)"], 3, "fill(a, 2)"),
    s("instance-in-dict", ["class Cfg:\n    def __init__(self):\n        self.v = {}\n    def put(self, k, x):\n        self.v[k] = x",
                           "cfgs = {'main': Cfg()}", "cfgs['main'].put('a', 1)", "print(cfgs['main'].v)", "p = 0", "print(p)"],
      2, "cfgs['main'].put('b', 2)"),
    s("instance-nested-instance-method", ["class Inner:\n    def __init__(self):\n        self.val = 0\n    def set(self, v):\n        self.val = v",
                                          "class Outer:\n    def __init__(self):\n        self.inner = Inner()\n    def configure(self, v):\n        self.inner.set(v)",
                                          "o = Outer()", "o.configure(3)", "print(o.inner.val)", "w = 0", "print(w)"],
      3, "o.configure(7)"),
    s("instance-attribute-read-in-later-method", ["class Pipe:\n    def __init__(self):\n        self.steps = []\n    def add(self, s):\n        self.steps.append(s)\n    def describe(self):\n        return '>'.join(self.steps)",
                                                  "p = Pipe()", "p.add('load')", "summary = p.describe()", "print(summary)",
                                                  "k = 0", "print(k)"], 2, "p.add('clean')"),
    s("instance-method-sets-attribute-of-argument", ["class Trainer:\n    def attach(self, model, lr):\n        model.lr = lr",
                                                     "class Net:\n    pass", "net = Net()\ntr = Trainer()", "tr.attach(net, 0.1)",
                                                     "print(net.lr)", "b = 0", "print(b)"], 3, "tr.attach(net, 0.01)"),
    # -- folders and files that neither a re-run nor a restart undoes: say which path to remove ----
    s("folder-made-renamed-walked", ["import os", "os.makedirs('raw', exist_ok=True)\nwith open('raw/a.txt', 'w') as f:\n    f.write('a')",
                                     "os.rename('raw', 'data')",
                                     "found = sorted(os.path.join(d, n) for d, _, ns in os.walk('data') for n in ns)\nprint(found)",
                                     "k = 0", "print(k)"],
      1, "os.makedirs('raw', exist_ok=True)\nwith open('raw/b.txt', 'w') as f:\n    f.write('b')", remove=("data",)),
    s("folder-pathlib-renamed-listed", ["from pathlib import Path",
                                        "Path('stage/tmp').mkdir(parents=True, exist_ok=True)\nPath('stage/tmp/x.csv').write_text('1')",
                                        "Path('stage/tmp').rename('stage/final')",
                                        "print(sorted(str(p) for p in Path('stage').rglob('*')))", "z = 0", "print(z)"],
      1, "Path('stage/tmp').mkdir(parents=True, exist_ok=True)\nPath('stage/tmp/y.csv').write_text('2')",
      remove=("stage/final",)),
    s("file-written-if-missing-in-folder", ["import os\nos.makedirs('cache', exist_ok=True)",
                                            "path = 'cache/model.txt'\nif not os.path.exists(path):\n    with open(path, 'w') as f:\n        f.write('v1')",
                                            "print(open('cache/model.txt').read())", "n = 2", "print(n)"],
      1, "path = 'cache/model.txt'\nif not os.path.exists(path):\n    with open(path, 'w') as f:\n        f.write('v2')",
      remove=("cache/model.txt",)),
    s("file-written-if-missing-flag", ["import os", "if not os.path.exists('setup.done'):\n    open('setup.done', 'w').write('1')\n    state = 'fresh'\nelse:\n    state = 'cached'",
                                       "print(state, open('setup.done').read())", "v = 0", "print(v)"],
      1, "if not os.path.exists('setup.done'):\n    open('setup.done', 'w').write('2')\n    state = 'fresh'\nelse:\n    state = 'cached'",
      remove=("setup.done",)),
    s("folder-walked-after-file-renamed", ["import os\nos.makedirs('out', exist_ok=True)",
                                           "with open('out/tmp.txt', 'w') as f:\n    f.write('x')", "os.rename('out/tmp.txt', 'out/v1.txt')",
                                           "print(sorted(n for _, _, ns in os.walk('out') for n in ns))", "k = 3", "print(k)"],
      2, "os.rename('out/tmp.txt', 'out/v2.txt')", remove=("out/v1.txt",)),
    s("folder-copytree-once", ["import os, shutil\nos.makedirs('src', exist_ok=True)\nwith open('src/a.txt', 'w') as f:\n    f.write('a')",
                               "shutil.copytree('src', 'backup')", "print(sorted(os.listdir('backup')))", "x = 1", "print(x)"],
      1, "shutil.copytree('src', 'backup')\nprint('copied')", remove=("backup",)),
]
