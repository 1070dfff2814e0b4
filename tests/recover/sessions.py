"""A generator of notebook sessions the way people work: cells run out of order, run again,
edited, deleted, interrupted; then saved, with and without ``%track``'s history.

Each *family* builds one small data-science notebook from a random generator (values, sizes,
names and how often a cell runs vary) and works on it in a real kernel. Its expectation says
what a correct ``nb2pipe recover`` does, from the family's nature, not from the recover
code: whether the saved outputs can come back from the current cells alone (some order and
multiplicity reproduces them), and whether they can with the history.

``SESSION_FAMILIES`` lists them; ``sessions(profile)`` gives the (family, seed, tracked)
triples of a profile: ``ci`` one seed each, ``thorough`` five; a few families are also
worked on without ``%track`` at all.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.recover.lab import TRACK_CELL, LabNotebook


@dataclass(frozen=True)
class Expectation:
    #: the saved outputs come back from the current cells (some order and multiplicity)
    without_history: bool
    #: they come back with the history (False: nothing can give them back)
    with_history: bool = True
    #: a word the reason must hold when they cannot come back without a history
    reason: str = ""


Family = Callable[[random.Random, Path, bool], LabNotebook]


def _data(rng: random.Random, size: int = 8) -> list[int]:
    return [rng.randint(1, 50) for _ in range(size)]


def run_twice(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """A cell that adds to a total, run twice (or three times)."""
    step = rng.randint(2, 9)
    nb = LabNotebook(path, [
        ("init", "total = 0"),
        ("step", f"step = {step}"),
        ("add", "total += step\nprint('total', total)"),
        ("show", "print('final', total * 10)"),
    ], tracked=tracked)
    nb.run("init", "step", *["add"] * rng.randint(2, 3), "show")
    nb.save()
    return nb


def parameter_below(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """A parameter changed in a cell below, then the training cell above re-run."""
    data = _data(rng)
    first, second = rng.sample(range(2, 9), 2)
    nb = LabNotebook(path, [
        ("load", f"data = {data}"),
        ("param", f"scale = {first}"),
        ("train", "model = [x * scale for x in data]\nprint('fit', sum(model))"),
        ("tune", f"scale = {second}"),
        ("report", "print('report', max(model))"),
    ], tracked=tracked)
    nb.run("load", "param", "train", "tune", "train", "report")
    nb.save()
    return nb


def edited_after_run(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """A cell edited after it ran: its saved output came from code no longer in it."""
    data = _data(rng)
    factor = rng.randint(2, 5)
    nb = LabNotebook(path, [
        ("load", f"data = {data}"),
        ("stat", f"mean = sum(data) / len(data)\nprint('scaled mean', round(mean * {factor}, 3))"),
        ("later", "print('n', len(data))"),
    ], tracked=tracked)
    nb.run("load", "stat", "later")
    nb.edit("stat", f"mean = sum(data) / len(data)\nprint('scaled mean', round(mean * {factor + 1}, 3))")
    nb.save()
    return nb


def old_column_kept(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """A cell edited and re-run while the old version's column stayed in the frame."""
    import_pandas = rng.random() < 0.5
    values = _data(rng, 5)
    setup = (
        f"import pandas as pd\nframe = pd.DataFrame({{'x': {values}}})"
        if import_pandas else f"frame = {{'x': {values}}}"
    )
    old = (
        "frame['ratio'] = frame['x'] / frame['x'].sum()" if import_pandas
        else "frame['ratio'] = [v / sum(frame['x']) for v in frame['x']]"
    )
    new = old.replace("'ratio'", "'share'")
    nb = LabNotebook(path, [
        ("load", setup),
        ("feature", old),
        ("columns", "print(sorted(frame))" if not import_pandas else "print(sorted(frame.columns))"),
    ], tracked=tracked)
    nb.run("load", "feature")
    nb.edit("feature", new)
    nb.run("feature", "columns")
    nb.save()
    return nb


def helper_redefined(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """A helper redefined in a cell below, then a cell above that calls it re-run."""
    data = _data(rng)
    low, high = sorted(rng.sample(range(5, 45), 2))
    nb = LabNotebook(path, [
        ("load", f"data = {data}"),
        ("helper", f"def clean(xs):\n    return [x for x in xs if x > {low}]"),
        ("use", "cleaned = clean(data)\nprint('kept', len(cleaned), sum(cleaned))"),
        ("helper2", f"def clean(xs):\n    return [x for x in xs if {low} < x < {high}]"),
    ], tracked=tracked)
    nb.run("load", "helper", "use", "helper2", "use")
    nb.save()
    return nb


def cleaned_after_fit(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """Data cleaned (in place) after the model was fitted, then the model re-fitted."""
    data = _data(rng) + [rng.randint(500, 900)]
    nb = LabNotebook(path, [
        ("load", f"data = {data}"),
        ("fit", "center = sum(data) / len(data)\nprint('center', round(center, 3))"),
        ("clean", "data[:] = [x for x in data if x < 100]\nprint('rows', len(data))"),
        ("predict", "print('prediction', round(center * 2, 3))"),
    ], tracked=tracked)
    nb.run("load", "fit", "clean", "fit", "predict")
    nb.save()
    return nb


def counter_loop_twice(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """A counting loop run twice."""
    size = rng.randint(3, 7)
    nb = LabNotebook(path, [
        ("init", "counts = {}"),
        ("loop", f"for i in range({size}):\n    counts[i % 3] = counts.get(i % 3, 0) + 1\nprint(counts)"),
        ("total", "print('sum', sum(counts.values()))"),
    ], tracked=tracked)
    nb.run("init", "loop", "loop", "total")
    nb.save()
    return nb


def error_saved(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """The last run of a cell raised, and the error was saved."""
    data = _data(rng, 4)
    nb = LabNotebook(path, [
        ("load", f"data = {data}"),
        ("peek", f"print(data[{rng.randint(5, 9)}])"),
        ("summary", "print('max', max(data))"),
    ], tracked=tracked)
    nb.run("load", "summary", "peek")
    nb.save()
    return nb


def in_order(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """The control: every cell ran once, top to bottom."""
    data = _data(rng)
    nb = LabNotebook(path, [
        ("load", f"data = {data}"),
        ("stat", "import statistics\nprint('median', statistics.median(data))"),
        ("top", "print(sorted(data)[-3:])"),
    ], tracked=tracked)
    nb.run("load", "stat", "top")
    nb.save()
    return nb


def import_changed(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """An import edited and re-run after a cell used the old one."""
    data = _data(rng)
    nb = LabNotebook(path, [
        ("load", f"data = {data}"),
        ("imp", "from statistics import mean as center"),
        ("use", "print('center', round(center(data), 3))"),
    ], tracked=tracked)
    nb.run("load", "imp", "use")
    nb.edit("imp", "from statistics import median as center")
    nb.run("imp")
    nb.save()
    return nb


def file_written_then_read(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """A file written and read back; the writing cell changed and ran again afterwards."""
    first, second = rng.sample(range(10, 99), 2)
    nb = LabNotebook(path, [
        ("value", f"value = {first}"),
        ("write", "with open('cache.txt', 'w') as f:\n    f.write(str(value))"),
        ("read", "print('cached', open('cache.txt').read())"),
    ], tracked=tracked)
    nb.run("value", "write", "read")
    nb.edit("value", f"value = {second}")
    nb.run("value", "write")
    nb.save()
    return nb


def interrupted_then_fixed(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """A slow cell interrupted, made smaller and run again."""
    size = rng.randint(5, 30)
    nb = LabNotebook(path, [
        ("setup", "import time"),
        ("slow", "acc = 0\nfor i in range(10**9):\n    acc += i"),
        ("show", "print('acc', acc)"),
    ], tracked=tracked)
    nb.run("setup")
    nb.run("slow", interrupt_after=1.0)
    nb.edit("slow", f"acc = 0\nfor i in range({size}):\n    acc += i")
    nb.run("slow", "show")
    nb.save()
    return nb


def deleted_cell(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """A cell whose result later cells used was deleted."""
    offset = rng.randint(1, 20)
    nb = LabNotebook(path, [
        ("base", f"offset = {offset}"),
        ("scratch", "shifted = [v + offset for v in range(4)]"),
        ("use", "print('shifted', shifted)"),
    ], tracked=tracked)
    nb.run("base", "scratch", "use")
    nb.delete("scratch")
    nb.save()
    return nb


def unseeded_random(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """Unseeded random numbers: nothing gives the same values back."""
    nb = LabNotebook(path, [
        ("draw", "import random\nsample = [random.random() for _ in range(3)]"),
        ("show", "print('sample', [round(v, 6) for v in sample])"),
    ], tracked=tracked)
    nb.run("draw", "show")
    nb.save()
    return nb


def alternating(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """Two cells that feed each other, run in turn several times (a fixed-point iteration)."""
    start = rng.randint(1, 5)
    rounds = rng.randint(2, 3)
    nb = LabNotebook(path, [
        ("init", f"a, b = {start}, 1"),
        ("grow_a", "a = a + b"),
        ("grow_b", "b = a + b"),
        ("report", "print('a', a, 'b', b)"),
    ], tracked=tracked)
    nb.run("init", *["grow_a", "grow_b"] * rounds, "report")
    nb.save()
    return nb


def long_pipeline(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """Eight cells of a small pipeline, run in an order that skips about, one step re-run
    after its input changed in place."""
    data = _data(rng, 10)
    cut = rng.randint(10, 30)
    nb = LabNotebook(path, [
        ("imports", "import statistics"),
        ("load", f"raw = {data}"),
        ("copy", "data = list(raw)"),
        ("filter", f"data[:] = [x for x in data if x > {cut}]"),
        ("stats", "mu = statistics.mean(data) if data else 0.0\nprint('mu', round(mu, 3))"),
        ("spread", "sd = statistics.pstdev(data) if data else 0.0\nprint('sd', round(sd, 3))"),
        ("scale", "z = [(x - mu) / sd if sd else 0.0 for x in data]"),
        ("report", "print('n', len(z), 'max z', round(max(z), 3) if z else None)"),
    ], tracked=tracked)
    nb.run("imports", "load", "copy", "stats", "filter", "stats", "spread", "scale", "report")
    nb.save()
    return nb


def tracked_late(rng: random.Random, path: Path, tracked: bool) -> LabNotebook:
    """``%track`` started after the first cells ran (its history lacks them); then a
    parameter run, used, and edited without running it again."""
    data = _data(rng)
    first, second = rng.sample(range(2, 9), 2)
    nb = LabNotebook(path, [
        ("imports", "import statistics"),
        ("load", f"data = {data}"),
        ("param", f"k = {first}"),
        ("fit", "model = statistics.mean(data) * k\nprint('model', round(model, 3))"),
    ], tracked=False)
    nb.run("imports", "load")
    if tracked:
        nb.insert("track", TRACK_CELL, after="load")
        nb.save()
        nb.run("track")
    nb.run("param", "fit")
    nb.edit("param", f"k = {second}")
    nb.save()
    return nb


#: family -> what recover must do with it
SESSION_FAMILIES: dict[str, tuple[Family, Expectation]] = {
    "run_twice": (run_twice, Expectation(without_history=True)),
    "parameter_below": (parameter_below, Expectation(without_history=True)),
    "edited_after_run": (edited_after_run, Expectation(False, reason="no longer in the notebook")),
    "old_column_kept": (old_column_kept, Expectation(False)),
    "helper_redefined": (helper_redefined, Expectation(without_history=True)),
    "cleaned_after_fit": (cleaned_after_fit, Expectation(without_history=True)),
    "counter_loop_twice": (counter_loop_twice, Expectation(without_history=True)),
    "error_saved": (error_saved, Expectation(without_history=True)),
    "in_order": (in_order, Expectation(without_history=True)),
    "import_changed": (import_changed, Expectation(False)),
    "file_written_then_read": (file_written_then_read, Expectation(False)),
    "interrupted_then_fixed": (interrupted_then_fixed, Expectation(without_history=True)),
    "deleted_cell": (deleted_cell, Expectation(False, reason="no cell of the notebook defines")),
    "unseeded_random": (unseeded_random, Expectation(False, with_history=False, reason="random")),
    "alternating": (alternating, Expectation(without_history=True)),
    "long_pipeline": (long_pipeline, Expectation(without_history=True)),
    "tracked_late": (tracked_late, Expectation(False, reason="no longer in the notebook")),
}

#: families also worked on without %track at all (no history, no tracker cell)
UNTRACKED = ("run_twice", "parameter_below", "alternating", "error_saved")


def sessions(profile: str) -> list[tuple[str, int, bool]]:
    """(family, seed, tracked) of every session of ``profile``."""
    seeds = {"ci": 1, "thorough": 5}[profile]
    tracked = [(family, seed, True) for family in SESSION_FAMILIES for seed in range(seeds)]
    untracked = [(family, seed, False) for family in UNTRACKED for seed in range(seeds)]
    return tracked + untracked
