"""Whole-process time to export generated 1,000-cell notebooks: nb2pipe vs nbconvert vs jupytext.

    python bench/bench_export.py [--cells 1000] [--repeat 5]

Two notebooks (``bench/make_large_notebook.py``): the default one, and one whose functions
also read notebook variables (globals) besides the parameters (``--globals``), as real ones
do: ``main`` then declares those globals, and the plan must find which code reads them.
Each tool runs as a fresh process (what a user or pre-commit hook pays), in one run, on the
same notebook; each table reports the median wall time and nb2pipe's ratio to each tool.
nb2pipe's time includes its dataflow analysis, parameter CLI generation and libcst rendering.
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
BIN = Path(sys.executable).parent


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for variant, flags in (("default", []), ("functions read globals", ["--globals"])):
            notebook = folder / f"large{'_globals' if flags else ''}.ipynb"
            subprocess.run(
                [sys.executable, str(HERE / "make_large_notebook.py"), "--cells", str(args.cells),
                 "--out", str(notebook), *flags],
                check=True, capture_output=True,
            )
            bench_notebook(notebook, variant, args.cells, args.repeat, folder)


def bench_notebook(notebook: Path, variant: str, cells: int, repeat: int, folder: Path) -> None:
    code_kb = notebook.stat().st_size / 1024
    tools = {
        "nb2pipe export": [str(BIN / "nb2pipe"), "export", "-q", "--force", str(notebook), "-o",
                           str(folder / "nb2pipe_out.py")],
        "jupyter nbconvert --to script": [str(BIN / "jupyter"), "nbconvert", "--to", "script",
                                          str(notebook), "--output", "nbconvert_out"],
        "jupytext --to py": [str(BIN / "jupytext"), "--to", "py", str(notebook), "-o",
                             str(folder / "jupytext_out.py")],
    }
    missing = [name for name, cmd in tools.items() if not Path(cmd[0]).exists() and not shutil.which(cmd[0])]
    for name in missing:
        print(f"skipping {name}: not installed (pip install -e '.[bench]')")
        del tools[name]
    times: dict[str, list[float]] = {name: [] for name in tools}
    for _ in range(repeat):  # interleaved, so machine noise hits every tool alike
        for name, command in tools.items():
            times[name].append(timed(command, folder))
    print(f"\n{variant}: {cells} cells, notebook file {code_kb:.0f} KB, median of {repeat} runs\n")
    print("| tool | median s | min s | nb2pipe / tool |")
    print("|---|---|---|---|")
    ours = statistics.median(times["nb2pipe export"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.2f} | {min(values):.2f} | {ours / median:.2f} |")

if __name__ == "__main__":
    main()
