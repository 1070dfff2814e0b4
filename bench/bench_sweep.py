"""Wall time of ``nb2pipe sweep`` on 4 points of the sample classifier, 2 at a time vs 1.

    python bench/bench_sweep.py [--repeat 3]

Each sweep runs ``train_classifier.py`` (exported from the sample notebook) on the grid
n_estimators 20, 200 x max_depth 2, None, in a fresh copy of the samples; runs are
interleaved, the table reports the median. Target: ``-j 2`` at most 0.65x ``-j 1``.
"""

from __future__ import annotations

import argparse
import os
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


def timed(jobs: int, folder: Path) -> float:
    shutil.rmtree(folder / "runs", ignore_errors=True)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    start = time.perf_counter()
    subprocess.run([str(NB2PIPE), "sweep", "train_classifier.py", *GRID, "-j", str(jobs)],
                   cwd=folder, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "samples"
        shutil.copytree(ROOT / "sample_notebooks", folder)
        subprocess.run([str(NB2PIPE), "export", "-q", "train_classifier.ipynb"], cwd=folder,
                       check=True)
        times: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(args.repeat):
            for jobs in times:
                times[jobs].append(timed(jobs, folder))
    one = statistics.median(times[1])
    print(f"4 points of train_classifier.py, median of {args.repeat}\n")
    print("| sweep | median s | min s | / -j 1 |")
    print("|---|---|---|---|")
    for jobs, found in times.items():
        median = statistics.median(found)
        print(f"| nb2pipe sweep -j {jobs} | {median:.2f} | {min(found):.2f} | {median / one:.2f} |")


if __name__ == "__main__":
    main()
