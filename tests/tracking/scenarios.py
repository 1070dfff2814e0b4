"""Single-edit scenarios for ``rerun``: an original notebook and the same notebook with one cell edited.

Each scenario runs all cells of the original (in ``run_order`` when given), then the edited
cell, then the cells ``%track report`` names in ``rerun``; every cell's latest output, the final
namespace and the files must then equal a fresh run of the edited notebook. Where re-running
cannot get there (``expect_restart``), ``restart`` must say so and the ``restart_hazard`` kind
must be reported.
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

    @property
    def expect_restart(self) -> bool:
        return self.restart_hazard is not None

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
      restart_hazard="unseeded-random"),
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
      restart_hazard="external-file"),
    s("file-write-if-missing", ["import os", "if not os.path.exists('cache.txt'):\n    with open('cache.txt', 'w') as f:\n        f.write('v1')",
                                "print(open('cache.txt').read())", "n = 1", "print(n)"],
      1, "if not os.path.exists('cache.txt'):\n    with open('cache.txt', 'w') as f:\n        f.write('v2')",
      restart_hazard="external-file"),
    s("file-makedirs-write-read", ["import os", "os.makedirs('out', exist_ok=True)",
                                   "with open('out/a.txt', 'w') as f:\n    f.write('1')", "print(open('out/a.txt').read())",
                                   "z = 0", "print(z)"], 2, "with open('out/a.txt', 'w') as f:\n    f.write('2')"),
    s("file-rename", ["import os", "with open('raw.txt', 'w') as f:\n    f.write('abc')",
                      "os.rename('raw.txt', 'data.txt')", "print(open('data.txt').read())", "k = 0", "print(k)"],
      1, "with open('raw.txt', 'w') as f:\n    f.write('abcd')"),
    s("file-makedirs-exists", ["import os", "os.makedirs('results')",
                               "with open('results/r.txt', 'w') as f:\n    f.write('x')",
                               "print(sorted(os.listdir('results')))", "v = 0", "print(v)"],
      1, "os.makedirs('results')\nos.makedirs('results/plots')", restart_hazard="external-file"),
    s("file-walk-leftover", ["import os", "os.makedirs('out', exist_ok=True)",
                             "with open('out/a.txt', 'w') as f:\n    f.write('1')",
                             "found = sorted(n for _, _, names in os.walk('out') for n in names)\nprint(found)",
                             "k = 0", "print(k)"], 2, "with open('out/b.txt', 'w') as f:\n    f.write('1')",
      restart_hazard="external-file"),
    s("file-pathlib-mkdir", ["from pathlib import Path", "out = Path('reports')\nout.mkdir(exist_ok=True)",
                             "(out / 'summary.txt').write_text('rows=3')", "print((out / 'summary.txt').read_text())",
                             "z = 1", "print(z)"], 2, "(out / 'summary.txt').write_text('rows=4')"),
    s("file-read-twice", ["with open('nums.txt', 'w') as f:\n    f.write('1\\n2\\n')",
                          "nums = [int(x) for x in open('nums.txt')]", "print(sum(nums))", "print(len(nums))", "t = 0",
                          "print(t)"], 0, "with open('nums.txt', 'w') as f:\n    f.write('1\\n2\\n3\\n')"),
    s("file-rename-target-edited", ["import os\nos.makedirs('d', exist_ok=True)",
                                    "with open('d/raw.txt', 'w') as f:\n    f.write('abc')",
                                    "os.rename('d/raw.txt', 'd/a.txt')", "print(sorted(os.listdir('d')))", "k = 0",
                                    "print(k)"], 2, "os.rename('d/raw.txt', 'd/b.txt')", restart_hazard="external-file"),
    # -- cells first run out of order: re-running must restore the namespace too -------------
    s("order-append-before-sum", ["n = 3", "data = [1, 2]", "total = sum(data)\nprint(total)", "data.append(n)",
                                  "print(len(data))"], 4, "print(len(data), 'items')", run_order=(0, 1, 3, 2, 4)),
    s("order-rebind-before-read", ["x = 1", "y = x + 1\nprint(y)", "x = x * 10", "print(x)", "w = 0", "print(w)"],
      3, "print(x, 'x')", run_order=(0, 2, 1, 3, 4, 5)),
]
