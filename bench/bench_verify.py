"""Wall time of ``nb2pipe verify --no-script -j 2`` vs ``pytest --nbmake -n 2``, same notebooks.

    python bench/bench_verify.py [FOLDER ...] [--repeat 3] [--copies 1] [--no-full]
                                 [--baseline CHECKOUT] [--timeout 600]

FOLDER defaults to ``../shared/corpus/executed`` when it exists, else ``sample_notebooks``.
Both tools run every notebook top to bottom in a fresh kernel, two at a time, with the same
per-cell timeout; verify also checks each notebook statically and compares every output with
the saved one. A third row times full verification (script equivalence too: export, run the
script, compare stdout); ``--no-full`` leaves it out. ``--baseline CHECKOUT`` adds a row for
``nb2pipe verify --no-script -j 2`` run from another checkout of nb2pipe (``../main``, say):
before and after a change, measured under the same load.

Each run gets a fresh copy of the folders (notebooks may write files beside them; copying is
not timed), runs are interleaved so machine noise hits every tool alike, and the table reports
medians, verify's ratio to nbmake (target: at most 0.75) and the CPU time of each tool with
everything it started (kernels, pytest-xdist workers, scripts): on a machine shared with other
work the wall time depends on the load, the CPU time much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
CORPUS = ROOT.parent / "shared" / "corpus" / "executed"
NBMAKE = "pytest --nbmake -n 2"
TARGET = 0.75


def _copy(folders: list[Path], target: Path, copies: int) -> Path:
    for folder in folders:
        for copy in range(copies):
            suffix = f"-{copy}" if copies > 1 else ""
            shutil.copytree(
                folder,
                target / f"{folder.name}{suffix}",
                ignore=shutil.ignore_patterns(
                    "*.py", ".*", "__pycache__", "figures", "runs", "column_notes.txt"
                ),
            )
    return target


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (the command and every process it waited for), last line."""
    cpu = _children_cpu()
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    last = (result.stdout.strip().splitlines() or [""])[-1]
    return elapsed, _children_cpu() - cpu, last


def _checkout_env(checkout: Path) -> dict[str, str]:
    """The environment that runs nb2pipe (and the kernels' probe) from ``checkout``."""
    path = os.pathsep.join([str(checkout), str(checkout / "runtime")])
    return {**os.environ, "PYTHONPATH": path}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--copies", type=int, default=1, help="verify each folder this many times over"
    )
    parser.add_argument("--no-full", action="store_true", help="leave out the row with scripts")
    parser.add_argument("--baseline", type=Path, help="another nb2pipe checkout to compare with")
    parser.add_argument("--timeout", type=int, default=600, help="seconds a cell may run (both)")
    args = parser.parse_args()
    folders = args.folders or [CORPUS if CORPUS.is_dir() else ROOT / "sample_notebooks"]
    if (
        not shutil.which("pytest", path=str(BIN))
        or subprocess.run(
            [sys.executable, "-c", "import nbmake, xdist"], capture_output=True, check=False
        ).returncode
    ):
        raise SystemExit("needs nbmake and pytest-xdist: pip install -e '.[bench]'")
    notebooks = sum(len(list(f.rglob("*.ipynb"))) for f in folders) * args.copies
    here = _checkout_env(ROOT)
    verify = [sys.executable, "-m", "nb2pipe", "verify", "-j", "2", "-q"]
    timeout = ["--timeout", str(args.timeout)]
    tools: dict[str, tuple[list[str], dict[str, str]]] = {
        NBMAKE: (
            [str(BIN / "pytest"), "--nbmake", "-n", "2", "-q", "-p", "no:cacheprovider",
             "--nbmake-timeout", str(args.timeout)],
            here,
        ),
        "nb2pipe verify --no-script -j 2": ([*verify, "--no-script", *timeout], here),
    }
    if args.baseline is not None:
        tools[f"  same, from {args.baseline}"] = (
            [*verify, "--no-script", *timeout], _checkout_env(args.baseline.resolve())
        )
    if not args.no_full:
        tools["nb2pipe verify -j 2 (with script)"] = ([*verify, *timeout], here)
    times: dict[str, list[float]] = {name: [] for name in tools}
    cpu: dict[str, list[float]] = {name: [] for name in tools}
    verdicts: dict[str, str] = {}
    loads: list[float] = []
    for _ in range(args.repeat):
        for name, (command, env) in tools.items():
            with tempfile.TemporaryDirectory(prefix="bench-verify-") as scratch:
                work = _copy(folders, Path(scratch) / "notebooks", args.copies)
                loads.append(os.getloadavg()[0])
                elapsed, used, verdicts[name] = _run([*command, str(work)], Path(scratch), env)
                times[name].append(elapsed)
                cpu[name].append(used)
                print(f"{name}: {elapsed:.1f} s, CPU {used:.1f} s", file=sys.stderr, flush=True)
    loads.append(os.getloadavg()[0])
    print(
        f"{notebooks} notebooks from {', '.join(map(str, folders))}, median of {args.repeat} "
        f"runs; 1-minute load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} "
        "cores\n"
    )
    print("| tool | median s | min s | / nbmake | CPU s | CPU / nbmake | verdict (last run) |")
    print("|---|---|---|---|---|---|---|")
    wall, work_done = statistics.median(times[NBMAKE]), statistics.median(cpu[NBMAKE])
    for name in tools:
        median, used = statistics.median(times[name]), statistics.median(cpu[name])
        print(
            f"| {name} | {median:.1f} | {min(times[name]):.1f} | {median / wall:.2f} "
            f"| {used:.0f} | {used / work_done:.2f} | {verdicts[name]} |"
        )
    print(f"\ntarget: nb2pipe verify --no-script -j 2 at most {TARGET}x nbmake's wall time")


if __name__ == "__main__":
    main()
