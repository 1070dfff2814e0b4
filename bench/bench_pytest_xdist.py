"""Spurious failures of ``pytest --nb2pipe -n 4``: the same notebooks, verified again and again.

    python bench/bench_pytest_xdist.py [FOLDER ...] [--runs 30] [-n 4] [--nbmake]

Under pytest-xdist the workers start kernels at the same moment, and Jupyter's way of giving a
kernel its ports (pick free ones, release them, let the kernel bind them) lets two kernels pick
the same port: nbmake's users see such runs fail (nbmake issue #129). verify starts a kernel
that lost its port again before any cell runs. This bench counts what is left: each notebook
first passes once on its own (``nb2pipe verify --no-script``, one at a time), then every
failure in the repeated ``-n 4`` runs is spurious. ``--nbmake`` runs ``pytest --nbmake -n 4``
the same way, for comparison.

FOLDER defaults to a subset of ``../shared/corpus/executed``: its quickest notebooks, so that
kernels start often and together. Each run gets a fresh copy of the notebooks' folders.
"""

from __future__ import annotations

import argparse
import collections
import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
CORPUS = ROOT.parent / "shared" / "corpus" / "executed"
#: Quick notebooks of the corpus that reproduce (a few seconds each), over all three folders.
SUBSET = (
    "numpy-tutorials/mooreslaw-tutorial.ipynb",
    "numpy-tutorials/tutorial-ma.ipynb",
    "numpy-tutorials/tutorial-static_equilibrium.ipynb",
    "sklearn/cluster__plot_kmeans_plusplus.ipynb",
    "sklearn/decomposition__plot_ica_blind_source_separation.ipynb",
    "sklearn/ensemble__plot_adaboost_twoclass.ipynb",
    "sklearn/preprocessing__plot_discretization.ipynb",
    "sklearn/svm__plot_svm_margin.ipynb",
    "statsmodels/gls.ipynb",
    "statsmodels/ols.ipynb",
)
_IGNORE = shutil.ignore_patterns("*.py", ".*", "__pycache__", "figures", "runs", "src")


def _copy(notebooks: list[Path], target: Path) -> Path:
    """The notebooks, each with the other files of its folder (data, licenses)."""
    for folder in sorted({n.parent for n in notebooks}):
        into = target / folder.name
        shutil.copytree(folder, into, ignore=_IGNORE)
        for other in into.glob("*.ipynb"):
            if folder / other.name not in notebooks:
                other.unlink()
    return target


def _plugin_args() -> list[str]:
    """``-p nb2pipe.verify.pytest_plugin`` unless an installed nb2pipe registers it already."""
    registered = any(
        ep.name == "nb2pipe" for ep in importlib.metadata.entry_points(group="pytest11")
    )
    return [] if registered else ["-p", "nb2pipe.verify.pytest_plugin"]


def _outcomes(junit: Path) -> dict[str, str]:
    """Test case name -> "" when it passed, else the first line of its failure."""
    out: dict[str, str] = {}
    if not junit.exists():
        return out
    for case in ET.parse(junit).getroot().iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        out[name] = "" if problem is None else (problem.get("message") or "failed").splitlines()[0]
    return out


def _reference(notebooks: list[Path]) -> list[Path]:
    """The notebooks that reproduce when verified one at a time."""
    with tempfile.TemporaryDirectory(prefix="bench-xdist-") as scratch:
        work = _copy(notebooks, Path(scratch) / "nbs")
        report = Path(scratch) / "report.json"
        subprocess.run(
            [sys.executable, "-m", "nb2pipe", "verify", "--no-script", "-q", str(work),
             "--json", str(report)],
            capture_output=True, check=False,
        )
        import json

        verdicts = {
            Path(nb["path"]).relative_to(work): nb["status"]
            for nb in json.loads(report.read_text())["notebooks"]
        }
    kept = [n for n in notebooks if verdicts.get(Path(n.parent.name) / n.name) == "reproduces"]
    for notebook in notebooks:
        if notebook not in kept:
            print(f"left out (does not reproduce on its own): {notebook}")
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("-n", "--workers", type=int, default=4)
    parser.add_argument("--nbmake", action="store_true", help="also run pytest --nbmake -n N")
    args = parser.parse_args()
    given = [
        p for path in args.notebooks for p in ([path] if path.is_file() else path.glob("*/*.ipynb"))
    ]
    notebooks = [p.resolve() for p in given] or [CORPUS / name for name in SUBSET]
    probe = subprocess.run([sys.executable, "-c", "import xdist"], capture_output=True, check=False)
    if probe.returncode:
        raise SystemExit("needs pytest-xdist: pip install -e '.[bench]'")
    notebooks = _reference(notebooks)
    tools = {
        f"pytest --nb2pipe -n {args.workers}": [
            *_plugin_args(), "--nb2pipe", "--nb2pipe-no-script",
        ],
    }
    if args.nbmake:
        tools[f"pytest --nbmake -n {args.workers}"] = ["--nbmake"]
    failures: dict[str, collections.Counter[str]] = {name: collections.Counter() for name in tools}
    failed_runs = dict.fromkeys(tools, 0)
    seconds: dict[str, list[float]] = {name: [] for name in tools}
    for run in range(1, args.runs + 1):
        for name, options in tools.items():
            with tempfile.TemporaryDirectory(prefix="bench-xdist-") as scratch:
                work = _copy(notebooks, Path(scratch) / "nbs")
                junit = Path(scratch) / "junit.xml"
                command = [
                    str(BIN / "pytest"), *options, "-n", str(args.workers), "-q",
                    "-p", "no:cacheprovider", f"--junitxml={junit}", str(work),
                ]
                start = time.perf_counter()
                done = subprocess.run(
                    command, cwd=scratch, capture_output=True, text=True, check=False
                )
                seconds[name].append(time.perf_counter() - start)
                outcomes = _outcomes(junit)
                if len(outcomes) != len(notebooks):
                    print(done.stdout[-3000:], done.stderr[-3000:])
                    raise SystemExit(f"{name}: {len(outcomes)} results for {len(notebooks)}")
                bad = {case: why for case, why in outcomes.items() if why}
                failed_runs[name] += bool(bad)
                for case, why in bad.items():
                    failures[name][f"{case.rsplit('::', 1)[-1]}: {why[:160]}"] += 1
                took = seconds[name][-1]
                print(f"run {run:2d} {name}: {len(bad)} failed ({took:.0f} s)", flush=True)
    print(f"\n{len(notebooks)} notebooks (each reproduces on its own), {args.runs} runs each\n")
    print("| tool | notebook runs | spurious failures | runs with one | median s per run |")
    print("|---|---|---|---|---|")
    for name in tools:
        median = sorted(seconds[name])[len(seconds[name]) // 2]
        print(
            f"| {name} | {len(notebooks) * args.runs} | {sum(failures[name].values())} "
            f"| {failed_runs[name]} | {median:.0f} |"
        )
    for name in tools:
        for what, count in failures[name].most_common():
            print(f"{name}: {count}x {what}")


if __name__ == "__main__":
    main()
