#!/usr/bin/env python
"""Generate a large, realistic-looking notebook for nb2pipe benchmarks.

    python bench/make_large_notebook.py --cells 1000 --out /tmp/large.ipynb

The output is deterministic: the same arguments always give byte-identical files (the seed
is fixed, cell ids come from the seed, and nothing depends on the clock or the machine). For
``--cells 1000`` it writes about 830 code cells and 170 markdown cells (about one markdown cell
per five code cells) holding about 150 KB of code.

The cells look like what a data scientist writes: imports, one ``parameters``-tagged cell near
the top, pandas frames built and transformed, function and class definitions, loops, prints,
scikit-learn fits, matplotlib plots, bare display-only lines, and a few magics and shell escapes
(``%matplotlib inline``, ``%time``, ``%%time``, ``%timeit``, ``!ls``, ``x = !ls``). Every name a
cell reads is defined by an earlier cell (or inside the cell), so a fresh top-to-bottom run
raises no ``NameError``. The notebook is saved without outputs and does not need to be run.
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

DEFAULT_SEED = 20240601
BASE_COLUMNS = ("a", "b", "c", "d")

TOPICS = [
    "cleaning", "outliers", "feature scaling", "group summaries", "sanity checks",
    "baseline model", "residuals", "rolling statistics", "bucketing", "joins",
    "normalisation", "distribution checks", "error analysis", "ablation", "sampling",
]
NOTES = [
    "Quick look before going further.",
    "The numbers below should match what we saw last week.",
    "Trying a slightly different transformation here.",
    "Not sure this is needed, keeping it for now.",
    "This is the version we discussed in the stand-up.",
    "Checking that the shapes still line up.",
    "Same as above but on the filtered frame.",
    "TODO: move this into a module once it settles.",
    "Plot first, then decide.",
    "Summary statistics per group.",
]
COMMENTS = [
    "# quick check, remove later",
    "# same idea as the previous section, different frame",
    "# numbers here feed the summary table at the end",
    "# NOTE: keep the column order stable, plots depend on it",
    "# this was slow on the full data, fine on the sample",
    "# sanity check against the earlier result",
    "# try this before changing the filters",
    "# copied from the shared notebook, adapted",
]
COMMENTED_OUT = [
    "# print(len(groups))",
    "# plt.savefig(Path(output_dir) / \"tmp.png\")",
    "# import seaborn as sns",
    "# breakpoint()",
    "# pd.set_option(\"display.max_rows\", 200)",
]
ADJECTIVES = ["raw", "clean", "scaled", "filtered", "merged", "sampled", "final", "tmp"]


class Generator:
    """Emits cells one at a time, tracking which names earlier cells define."""

    def __init__(self, seed: int, globals_: bool = False):
        self.rng = random.Random(seed)
        #: functions and methods also read notebook variables (globals), not only parameters
        self.globals = globals_
        self.n = 0  # counter used to make names unique
        self.cells: list = []
        self.base_frames: list[str] = []  # frames with exactly the base columns + "group"
        self.frames: list[str] = []  # every frame with at least the base columns + "group"
        self.scalar_funcs: list[str] = []
        self.frame_funcs: list[str] = []
        self.classes: list[str] = []
        self.scalars: list[str] = []
        self.lists: list[str] = []
        self.dicts: list[str] = []
        self.summaries: list[str] = []
        self.models: list[str] = []
        self.late_imports: set[str] = set()
        self.report_funcs: list[str] = []
        self.section = 0

    # -- helpers -----------------------------------------------------------------------------
    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def next(self) -> int:
        self.n += 1
        return self.n

    def pick(self, names: list[str]) -> str:
        # favour recent names, like real notebooks do
        if len(names) > 6 and self.rng.random() < 0.7:
            return self.rng.choice(names[-6:])
        return self.rng.choice(names)

    def num(self, lo: float, hi: float, digits: int = 2) -> float:
        return round(self.rng.uniform(lo, hi), digits)

    def add_code(self, source: str, tags: list[str] | None = None) -> None:
        cell = new_code_cell(source.strip("\n"))
        cell.id = self.new_id()
        if tags:
            cell.metadata["tags"] = tags
        self.cells.append(cell)

    def add_markdown(self, source: str) -> None:
        cell = new_markdown_cell(source.strip("\n"))
        cell.id = self.new_id()
        self.cells.append(cell)

    # -- fixed header -------------------------------------------------------------------------
    def header(self) -> None:
        self.add_markdown(
            "# Sensor readings: exploration and modelling\n\n"
            "Long-running working notebook. Sections are roughly in the order we did things."
        )
        self.add_code(
            "import json\n"
            "import os\n"
            "from pathlib import Path\n\n"
            "import numpy as np\n"
            "import pandas as pd\n"
            "import matplotlib.pyplot as plt\n"
            "from sklearn.linear_model import LinearRegression, Ridge\n"
            "from sklearn.preprocessing import StandardScaler\n"
        )
        self.add_code("%matplotlib inline\npd.set_option(\"display.max_columns\", 20)")
        self.add_code(
            'seed = 7  # base random seed for every generated frame\n'
            'n_rows: int = 400  # rows per generated frame\n'
            'scale = 1.5  # multiplier applied to the index column\n'
            'offset = 0.25  # shift added by the scalar transforms\n'
            'weight: float = 2.0  # weight of column c in the score feature\n'
            'threshold = 2.5  # minimum value of column b kept by the filters\n'
            'groups: list = ["north", "south", "east", "west"]  # sensor groups\n'
            'n_items = 25  # length of the generated value lists\n'
            'output_dir = "outputs"  # where figures and tables would go\n',
            tags=["parameters"],
        )

    # -- templates: each returns cell source and updates the state ------------------------------
    def t_make_frame(self) -> str:
        k = self.next()
        name = f"df_{k}"
        src = (
            f"rng_{k} = np.random.default_rng(seed + {k})\n"
            f"{name} = pd.DataFrame(\n"
            "    {\n"
            f'        "a": rng_{k}.normal(loc={self.num(-1, 1)}, scale={self.num(0.5, 3)}, size=n_rows),\n'
            f'        "b": rng_{k}.uniform(0, 10, size=n_rows),\n'
            f'        "c": np.arange(n_rows) * scale,\n'
            f'        "d": rng_{k}.integers(0, {self.rng.randint(3, 9)}, size=n_rows),\n'
            f'        "group": rng_{k}.choice(groups, size=n_rows),\n'
            "    }\n"
            ")\n"
            f'print("{name}:", {name}.shape)'
        )
        self.base_frames.append(name)
        self.frames.append(name)
        return src

    def t_filter(self) -> str:
        src_name = self.pick(self.base_frames)
        k = self.next()
        name = f"df_{k}"
        src = (
            f"# keep rows with a usable b reading\n"
            f"{name} = {src_name}[{src_name}[\"b\"] > threshold].reset_index(drop=True)\n"
            f"print(len({src_name}), \"->\", len({name}), \"rows\")"
        )
        self.frames.append(name)
        return src

    def t_transform(self) -> str:
        src_name = self.pick(self.frames)
        k = self.next()
        name = f"df_{k}"
        lo = self.num(1, 4)
        src = (
            f"{name} = {src_name}.copy()\n"
            f'{name}["a"] = {name}["a"].clip(lower=-{lo}, upper={lo})\n'
            f'{name}["b"] = np.log1p({name}["b"].abs())\n'
            f'{name}["c"] = ({name}["c"] - {name}["c"].mean()) / ({name}["c"].std() + 1e-9)\n'
            f"{name}.head()"
        )
        self.frames.append(name)
        return src

    def t_chain(self) -> str:
        src_name = self.pick(self.frames)
        k = self.next()
        name = f"df_{k}"
        cut = sorted({self.num(0.5, 3, 1), self.num(3.5, 8, 1)})
        src = (
            f"{name} = (\n"
            f"    {src_name}\n"
            "    .assign(\n"
            '        a_abs=lambda t: t["a"].abs(),\n'
            f'        b_bin=lambda t: pd.cut(t["b"], bins=[-np.inf, {cut[0]}, {cut[1]}, np.inf], labels=["low", "mid", "high"]),\n'
            '        c_rank=lambda t: t["c"].rank(pct=True),\n'
            "    )\n"
            '    .query("a_abs < a_abs.mean() + 3 * a_abs.std()")\n'
            '    .sort_values(["group", "c"])\n'
            "    .reset_index(drop=True)\n"
            ")\n"
            f'print({name}.shape)\n'
            f'{name}["b_bin"].value_counts()'
        )
        self.frames.append(name)
        return src

    def t_report(self) -> str:
        src_name = self.pick(self.frames)
        q = self.rng.choice([0.75, 0.9, 0.95])
        return (
            f"# per-group report for {src_name}\n"
            f'for group_name, part in {src_name}.groupby("group"):\n'
            "    n_part = len(part)\n"
            f"    share = n_part / len({src_name})\n"
            '    a_mean = part["a"].mean()\n'
            f'    b_q = part["b"].quantile({q})\n'
            '    print(f"{group_name:>6}: n={n_part:4d} share={share:.2%} a_mean={a_mean:+.3f} '
            f'b_q{int(q * 100)}={{b_q:.3f}}")'
        )

    def t_mutate(self) -> str:
        target = self.pick(self.frames)
        factor = self.num(0.5, 2)
        col = self.rng.choice(["a", "b"])
        return f'{target}["{col}"] *= {factor}\n{target}["{col}"].describe()'

    def t_groupby(self) -> str:
        src_name = self.pick(self.frames)
        k = self.next()
        name = f"summary_{k}"
        aggs = self.rng.choice(['["mean", "std"]', '["mean", "max"]', '["count", "mean"]'])
        cols = self.rng.choice(['["a", "b"]', '["b", "c"]', '["a", "d"]'])
        src = f'{name} = {src_name}.groupby("group")[{cols}].agg({aggs})\n{name}'
        self.summaries.append(name)
        return src

    def t_def_scalar(self) -> str:
        k = self.next()
        name = f"transform_{k}"
        factor = self.num(0.5, 3)
        shift = "offset"
        if self.globals and self.scalars:
            shift = f"offset + {self.pick(self.scalars)} * 0.01"
        src = (
            f"def {name}(x, factor={factor}):\n"
            f'    """Piecewise-linear transform used in section {self.section}."""\n'
            "    if x < 0:\n"
            "        return -x * factor\n"
            f"    return x * factor + {shift}\n"
        )
        self.scalar_funcs.append(name)
        return src

    def t_def_frame(self) -> str:
        k = self.next()
        name = f"add_features_{k}"
        src = (
            f"def {name}(frame):\n"
            '    """Add ratio and score columns."""\n'
            "    out = frame.copy()\n"
            '    out["ratio"] = out["a"] / (out["b"].abs() + 1)\n'
            '    out["score"] = out["c"] * weight + out["d"]\n'
            + (
                f'    out["ref"] = out["a"] - {self.pick(self.dicts)}["a"]\n'
                if self.globals and self.dicts else ""
            )
            + f'    out["flag"] = out["score"] > out["score"].quantile({self.num(0.5, 0.95)})\n'
            "    return out\n"
        )
        self.frame_funcs.append(name)
        return src

    def t_def_report(self) -> str:
        """A function reading parameters and a frame an earlier cell computed (a global)."""
        frame = self.pick(self.frames)
        k = self.next()
        name = f"summarize_{k}"
        self.report_funcs.append(name)
        return (
            f"def {name}(col=\"a\"):\n"
            f'    """Mean of ``col`` per group, rows over the threshold only."""\n'
            f'    kept = {frame}[{frame}["b"] > threshold]\n'
            '    return {g: round(float(kept.loc[kept["group"] == g, col].mean()), 3) for g in groups}\n'
        )

    def t_use_report(self) -> str:
        fn = self.pick(self.report_funcs)
        k = self.next()
        name = f"report_{k}"
        self.dicts.append(name)
        return f'{name} = {fn}("{self.rng.choice(BASE_COLUMNS)}")\nprint({name})'

    def t_apply_frame(self) -> str:
        fn = self.pick(self.frame_funcs)
        src_name = self.pick(self.frames)
        k = self.next()
        name = f"df_{k}"
        self.frames.append(name)
        return f'{name} = {fn}({src_name})\nprint({name}["flag"].mean().round(3), "flagged")'

    def t_loop(self) -> str:
        fn = self.pick(self.scalar_funcs)
        src_name = self.pick(self.frames)
        k = self.next()
        name = f"total_{k}"
        every = self.rng.choice([10, 20, 25])
        src = (
            f"{name} = 0.0\n"
            f'for i, value in enumerate({src_name}["a"].head(50)):\n'
            f"    {name} += {fn}(value)\n"
            f"    if i % {every} == 0:\n"
            f"        print(i, round({name}, 3))\n"
            f'print("total:", round({name}, 3))'
        )
        self.scalars.append(name)
        return src

    def t_list(self) -> str:
        fn = self.pick(self.scalar_funcs)
        k = self.next()
        name = f"values_{k}"
        src = (
            f"{name} = [{fn}(v / {self.rng.randint(2, 9)}) for v in range(-n_items, n_items)]\n"
            f'print(len({name}), "values, max", round(max({name}), 3))'
        )
        self.lists.append(name)
        return src

    def t_list_mutate(self) -> str:
        target = self.pick(self.lists)
        extra = self.pick(self.scalars) if self.scalars else str(self.num(0, 5))
        return f"{target}.append({extra})\n{target}.sort()\n{target}[-3:]"

    def t_dict(self) -> str:
        src_name = self.pick(self.frames)
        k = self.next()
        name = f"stats_{k}"
        src = (
            f'{name} = {{col: float({src_name}[col].mean()) for col in ["a", "b", "c", "d"]}}\n'
            f"print(json.dumps({name}, indent=2))"
        )
        self.dicts.append(name)
        return src

    def t_scalar(self) -> str:
        src_name = self.pick(self.frames)
        k = self.next()
        name = f"{self.rng.choice(['mean', 'median', 'spread'])}_{k}"
        col = self.rng.choice(BASE_COLUMNS)
        expr = {
            "mean": f'{src_name}["{col}"].mean()',
            "median": f'{src_name}["{col}"].median()',
            "spread": f'{src_name}["{col}"].max() - {src_name}["{col}"].min()',
        }[name.split("_")[0]]
        self.scalars.append(name)
        return f'{name} = float({expr})\nprint(f"{name} ({col}): {{{name}:.3f}}")'

    def t_combine(self) -> str:
        a = self.pick(self.scalars)
        b = self.pick(self.scalars)
        k = self.next()
        name = f"combined_{k}"
        self.scalars.append(name)
        return f"{name} = {a} * {self.num(0.1, 1)} + {b}\n{name}"

    def t_class(self) -> str:
        k = self.next()
        name = f"Normalizer{k}"
        src = (
            f"class {name}:\n"
            '    """Subtract per-column means learned on a reference frame."""\n\n'
            "    def __init__(self, columns):\n"
            "        self.columns = list(columns)\n"
            "        self.means_ = {}\n\n"
            "    def fit(self, frame):\n"
            "        for col in self.columns:\n"
            "            self.means_[col] = frame[col].mean()\n"
            "        return self\n\n"
            "    def transform(self, frame):\n"
            "        out = frame.copy()\n"
            "        for col in self.columns:\n"
            "            out[col] = out[col] - self.means_[col]\n"
            "        return out\n"
        )
        self.classes.append(name)
        return src

    def t_use_class(self) -> str:
        cls = self.pick(self.classes)
        src_name = self.pick(self.frames)
        k = self.next()
        name = f"df_{k}"
        src = (
            f'norm_{k} = {cls}(["a", "b"]).fit({src_name})\n'
            f"{name} = norm_{k}.transform({src_name})\n"
            f"print(norm_{k}.means_)"
        )
        self.frames.append(name)
        return src

    def t_concat(self) -> str:
        a = self.pick(self.frames)
        b = self.pick(self.frames)
        k = self.next()
        name = f"df_{k}"
        self.frames.append(name)
        return (
            f'{name} = pd.concat([{a}[["a", "b", "c", "d", "group"]], '
            f'{b}[["a", "b", "c", "d", "group"]]], ignore_index=True)\n'
            f"{name}.shape"
        )

    def t_model(self) -> str:
        src_name = self.pick(self.frames)
        k = self.next()
        name = f"model_{k}"
        est = self.rng.choice(["LinearRegression()", f"Ridge(alpha={self.num(0.1, 10)})"])
        src = (
            f'X_{k} = StandardScaler().fit_transform({src_name}[["a", "b", "d"]])\n'
            f'y_{k} = {src_name}["c"]\n'
            f"{name} = {est}.fit(X_{k}, y_{k})\n"
            f'print("R2:", round({name}.score(X_{k}, y_{k}), 4))\n'
            f'print("coef:", {name}.coef_.round(3))'
        )
        self.models.append(name)
        return src

    def t_plot(self) -> str:
        src_name = self.pick(self.frames)
        kind = self.rng.choice(["scatter", "hist", "line"])
        if kind == "scatter":
            body = f'{src_name}.plot.scatter(x="a", y="b", alpha=0.4, ax=ax)\n'
        elif kind == "hist":
            body = f'{src_name}["a"].plot.hist(bins=30, ax=ax)\n'
        else:
            body = f'{src_name}.groupby("d")["b"].mean().plot(marker="o", ax=ax)\n'
        return (
            "fig, ax = plt.subplots(figsize=(6, 3))\n"
            + body
            + f'ax.set_title("{src_name}: {kind} ({self.rng.choice(ADJECTIVES)})")\n'
            "fig.tight_layout()\n"
            "plt.show()"
        )

    def t_display(self) -> str:
        target = self.pick(self.frames + self.summaries)
        return self.rng.choice([target, f"{target}.head()", f"{target}.shape", f"{target}.tail(3)"])

    def t_magic(self) -> str:
        src_name = self.pick(self.frames)
        choice = self.rng.randrange(7)
        if choice == 0:
            return "%matplotlib inline"
        if choice == 1:
            k = self.next()
            name = f"desc_{k}"
            self.summaries.append(name)
            return f"%time {name} = {src_name}.describe()\n{name}"
        if choice == 2:
            return f'%timeit -n 3 -r 1 {src_name}["a"].sum()'
        if choice == 3:
            return "!ls"
        if choice == 4:
            k = self.next()
            name = f"listing_{k}"
            self.lists.append(f"lens_{k}")
            return f"{name} = !ls\nlens_{k} = [len(line) for line in {name}]\nprint(len({name}), \"entries\")"
        if choice == 5:
            k = self.next()
            name = f"sorted_{k}"
            self.frames.append(name)
            return f'%%time\n{name} = {src_name}.sort_values(["group", "b"]).reset_index(drop=True)\nprint({name}.shape)'
        return "!pwd"

    def t_late_import(self) -> str:
        if "Counter" not in self.late_imports:
            self.late_imports.add("Counter")
            return "from collections import Counter"
        if "math" not in self.late_imports:
            self.late_imports.add("math")
            return "import math"
        return self.t_counter()

    def t_counter(self) -> str:
        src_name = self.pick(self.frames)
        k = self.next()
        name = f"counts_{k}"
        self.dicts.append(name)
        return f'{name} = Counter({src_name}["group"])\n{name}.most_common(2)'

    def t_math(self) -> str:
        a = self.pick(self.scalars)
        k = self.next()
        name = f"log_{k}"
        self.scalars.append(name)
        return f"{name} = math.log1p(abs({a}))\nprint({name})"

    def t_save_path(self) -> str:
        src_name = self.pick(self.summaries) if self.summaries else self.pick(self.frames)
        k = self.next()
        return (
            f'out_path_{k} = Path(output_dir) / "{src_name}.csv"\n'
            f"# {src_name}.to_csv(out_path_{k})  # disabled while exploring\n"
            f"print(out_path_{k})"
        )

    # -- driver -------------------------------------------------------------------------------
    def code_cell(self) -> str:
        # which templates are possible depends on what has been defined so far
        options: list[tuple[object, float]] = [(self.t_make_frame, 1.0 if len(self.base_frames) < 3 else 0.7)]
        if self.frames:
            options += [
                (self.t_transform, 1.2), (self.t_mutate, 0.6), (self.t_groupby, 1.0),
                (self.t_dict, 0.7), (self.t_scalar, 1.0), (self.t_display, 0.8),
                (self.t_concat, 0.4), (self.t_model, 0.9), (self.t_plot, 0.5),
                (self.t_magic, 0.5), (self.t_def_frame, 0.5), (self.t_class, 0.2),
                (self.t_late_import, 0.1), (self.t_chain, 1.0), (self.t_report, 0.9),
            ]
        if self.base_frames:
            options.append((self.t_filter, 0.6))
        options += [(self.t_def_scalar, 0.6)]
        if self.scalar_funcs:
            options += [(self.t_list, 0.7)]
            if self.frames:
                options.append((self.t_loop, 1.0))
        if self.frame_funcs and self.frames:
            options.append((self.t_apply_frame, 0.7))
        if self.classes and self.frames:
            options.append((self.t_use_class, 0.5))
        if self.lists:
            options.append((self.t_list_mutate, 0.4))
        if len(self.scalars) >= 2:
            options.append((self.t_combine, 0.5))
        if "Counter" in self.late_imports:
            options.append((self.t_counter, 0.3))
        if "math" in self.late_imports and self.scalars:
            options.append((self.t_math, 0.3))
        if self.frames:
            options.append((self.t_save_path, 0.2))
        if self.globals and self.frames:
            options.append((self.t_def_report, 0.4))
            if self.report_funcs:
                options.append((self.t_use_report, 0.6))
        funcs, weights = zip(*options)
        source = self.rng.choices(funcs, weights=weights)[0]()
        roll = self.rng.random()
        if roll < 0.25 and not source.startswith("%%"):  # a cell magic must stay on line 1
            source = self.rng.choice(COMMENTS) + "\n" + source
        elif roll < 0.32:
            source = source + "\n" + self.rng.choice(COMMENTED_OUT)
        return source

    def markdown_cell(self) -> str:
        self.section += 1
        topic = self.rng.choice(TOPICS)
        heading = self.rng.choice(["##", "###"])
        return f"{heading} {self.section}. {topic.capitalize()}\n\n{self.rng.choice(NOTES)}"

    def build(self, n_cells: int):
        self.header()
        since_markdown = 0
        while len(self.cells) < n_cells:
            # about one markdown cell per five code cells, at slightly irregular intervals
            if since_markdown >= 4 and self.rng.random() < 0.5 or since_markdown >= 6:
                self.add_markdown(self.markdown_cell())
                since_markdown = 0
            else:
                self.add_code(self.code_cell())
                since_markdown += 1
        nb = new_notebook(cells=self.cells)
        nb.metadata["kernelspec"] = {
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "name": "python3",
        }
        nb.metadata["language_info"] = {"name": "python"}
        return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=1000, help="total number of cells (code + markdown), at least 4")
    parser.add_argument("--out", required=True, help="path of the notebook to write")
    parser.add_argument(
        "--globals", action="store_true",
        help="functions also read notebook variables (globals), as well as parameters",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cells < 4:
        parser.error("--cells must be at least 4 (title, imports, setup and parameters cells)")

    nb = Generator(args.seed, args.globals).build(args.cells)
    nbformat.validate(nb)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)

    code = [c.source for c in nb.cells if c.cell_type == "code"]
    n_md = len(nb.cells) - len(code)
    code_bytes = sum(len(s.encode()) + 1 for s in code)
    print(
        f"wrote {out}: {len(nb.cells)} cells ({len(code)} code, {n_md} markdown), "
        f"{code_bytes / 1000:.1f} KB of code",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
