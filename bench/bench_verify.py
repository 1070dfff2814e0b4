"""Wall time of ``nb2pipe verify --no-script -j 2`` vs ``pytest --nbmake -n 2``, same notebooks.

    python bench/bench_verify.py [FOLDER ...] [--repeat 3] [--copies 1]

FOLDER defaults to ``../shared/corpus/executed`` when it exists, else ``sample_notebooks``.
Both tools run every notebook top to bottom in a fresh kernel, two at a time; verify also
checks each notebook statically and compares every output with the saved one. A third row
times full verification (script equivalence too: export, run the script, compare stdout).
Each run gets a fresh copy of the folders (notebooks may write files beside them; copying is
not timed), runs are interleaved so machine noise hits every tool alike, and the table
reports medians and verify's ratio to nbmake (target: at most 1.0).
"""

from __future__ import annotations

import argparse
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


def _run(command: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    last = (result.stdout.strip().splitlines() or [""])[-1]
    return elapsed, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--copies", type=int, default=1, help="verify each folder this many times over"
    )
    parser.add_argument(
        "--no-full", action="store_true", help="skip the full verification row (with scripts)"
    )
    args = parser.parse_args()
    folders = args.folders or [CORPUS if CORPUS.is_dir() else ROOT / "sample_notebooks"]
    if (
        not shutil.which("pytest", path=str(BIN))
        or subprocess.run(
            [sys.executable, "-c", "import nbmake, xdist"], capture_output=True
        ).returncode
    ):
        raise SystemExit("needs nbmake and pytest-xdist: pip install -e '.[bench]'")
    notebooks = sum(len(list(f.rglob("*.ipynb"))) for f in folders) * args.copies
    tools = {
        "pytest --nbmake -n 2": lambda d: [
            str(BIN / "pytest"),
            "--nbmake",
            "-n",
            "2",
            "-q",
            "-p",
            "no:cacheprovider",
            str(d),
        ],
        "nb2pipe verify --no-script -j 2": lambda d: [
            str(BIN / "nb2pipe"),
            "verify",
            "--no-script",
            "-j",
            "2",
            "-q",
            str(d),
        ],
        "nb2pipe verify -j 2 (with script)": lambda d: [
            str(BIN / "nb2pipe"),
            "verify",
            "-j",
            "2",
            "-q",
            str(d),
        ],
    }
    if args.no_full:
        del tools["nb2pipe verify -j 2 (with script)"]
    times: dict[str, list[float]] = {name: [] for name in tools}
    verdicts: dict[str, str] = {}
    for _ in range(args.repeat):
        for name, command in tools.items():
            with tempfile.TemporaryDirectory(prefix="bench-verify-") as scratch:
                work = _copy(folders, Path(scratch) / "notebooks", args.copies)
                elapsed, verdicts[name] = _run(command(work), Path(scratch))
                times[name].append(elapsed)
    print(
        f"{notebooks} notebooks from {', '.join(map(str, folders))}, median of {args.repeat} runs\n"
    )
    print("| tool | median s | min s | verdict (last run) | / nbmake |")
    print("|---|---|---|---|---|")
    nbmake = statistics.median(times["pytest --nbmake -n 2"])
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"| {name} | {median:.1f} | {min(values):.1f} | {verdicts[name]} "
            f"| {median / nbmake:.2f} |"
        )


if __name__ == "__main__":
    main()
