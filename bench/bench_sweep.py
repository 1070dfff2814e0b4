"""``nb2pipe sweep`` on the sample classifier: wall time with -j 2 vs -j 1, two workers on one
study vs one -j 2 sweep, and TPE's best beside the grid's after the same number of trials.

    python bench/bench_sweep.py [--repeat 3] [--trials 16]

Timing: each sweep runs ``train_classifier.py`` (exported from the sample notebook) on the grid
n_estimators 20, 200 x max_depth 2, None (4 trials), in a fresh copy of the samples; the
variants are interleaved, the table reports the median. "2 workers" is two ``nb2pipe sweep -j
1 --study S --storage FILE`` processes started together on one journal file. Targets: ``-j 2``
at most 0.65x ``-j 1``; two workers about as fast as one ``-j 2`` sweep.

Quality: the grid n_estimators 5, 10, 50, 200 x max_depth 1, 2, 3, None x test_size 0.3 (16
trials) beside TPE (seeded) over n_estimators 5..200 (log), max_depth 1..8, with the same
number of trials; the metric is the sample's test accuracy.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NB2PIPE = Path(sys.executable).parent / "nb2pipe"
GRID = ["-p", "n_estimators=20,200", "-p", "max_depth=2,None"]
ENV = {**os.environ, "MPLBACKEND": "Agg"}


def _fresh(folder: Path) -> None:
    shutil.rmtree(folder / "runs", ignore_errors=True)
    for journal in folder.glob("*.journal*"):
        journal.unlink()


def timed(variant: str, folder: Path) -> float:
    _fresh(folder)
    command = [str(NB2PIPE), "sweep", "train_classifier.py", *GRID]
    start = time.perf_counter()
    if variant == "2 workers":
        shared = [*command, "--study", "shared", "--storage", "shared.journal"]
        workers = [
            subprocess.Popen(shared, cwd=folder, env=ENV, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
            for _ in range(2)
        ]
        if any(worker.wait() != 0 for worker in workers):
            raise SystemExit("a worker failed")
    else:
        jobs = variant.rsplit(" ", 1)[1]
        subprocess.run([*command, "-j", jobs], cwd=folder, check=True, capture_output=True,
                       env=ENV)
    return time.perf_counter() - start


def quality(folder: Path, *args: str) -> tuple[float, int, float]:
    """The best accuracy, how many trials it took to first reach it, the mean accuracy."""
    _fresh(folder)
    done = subprocess.run(
        [str(NB2PIPE), "sweep", "train_classifier.py", *args, "-j", "2"], cwd=folder,
        check=True, capture_output=True, text=True, env=ENV,
    )
    values = [float(v) for v in re.findall(r"\): finished, (\S+) in ", done.stderr)]
    if not values:
        raise SystemExit(f"no finished trial in: {done.stderr[-500:]}")
    best = max(values)
    return best, values.index(best) + 1, statistics.mean(values)


def timing_table(times: dict[str, list[float]], repeat: int) -> None:
    one = statistics.median(times["-j 1"])
    two = statistics.median(times["-j 2"])
    print(f"4 trials of train_classifier.py, median of {repeat}\n")
    print("| sweep | median s | min s | / -j 1 | / -j 2 |")
    print("|---|---|---|---|---|")
    for variant, found in times.items():
        median = statistics.median(found)
        name = ("2 x nb2pipe sweep -j 1 on one study" if variant == "2 workers"
                else f"nb2pipe sweep {variant}")
        print(f"| {name} | {median:.2f} | {min(found):.2f} | {median / one:.2f} | "
              f"{median / two:.2f} |")


def quality_table(folder: Path, trials: int, seed: int) -> None:
    space = folder / "space.yaml"
    space.write_text("n_estimators: {int_uniform: [5, 200]}\nmax_depth: {int_uniform: [1, 8]}\n")
    rows = {
        "grid (4 x 4)": quality(folder, "-p", "n_estimators=5,10,50,200",
                                "-p", "max_depth=1,2,3,None"),
    }
    for sampler in ("tpe", "random"):
        rows[f"{sampler}, seed {seed}"] = quality(
            folder, "--space", "space.yaml", "--sampler", sampler, "--trials", str(trials),
            "--seed", str(seed),
        )
    print(f"\ntest accuracy of the trials (the grid's 16; {trials} for the samplers; -j 2)\n")
    print("| sampler | best | trials to the best | mean of the trials |")
    print("|---|---|---|---|")
    for name, (best_value, reached, mean) in rows.items():
        print(f"| {name} | {best_value:.4f} | {reached} | {mean:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--trials", type=int, default=16, help="trials of the samplers")
    parser.add_argument("--seed", type=int, default=1, help="the samplers' seed")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "samples"
        shutil.copytree(ROOT / "sample_notebooks", folder)
        subprocess.run([str(NB2PIPE), "export", "-q", "train_classifier.ipynb"], cwd=folder,
                       check=True)
        if not args.skip_timing:
            times: dict[str, list[float]] = {"-j 1": [], "-j 2": [], "2 workers": []}
            for _ in range(args.repeat):
                for variant, found in times.items():
                    found.append(timed(variant, folder))
            timing_table(times, args.repeat)
        if not args.skip_quality:
            quality_table(folder, args.trials, args.seed)


if __name__ == "__main__":
    main()
