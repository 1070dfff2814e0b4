"""Per-cell latency of ``%track``: stock ipykernel vs ``%track`` vs ipyflow, as nbclient records it.

    python bench/bench_track.py [--trivial 150] [--loops 20] [--repeat 3] [--no-ipyflow]

Latency is nbclient's ``record_timing``: from ``iopub.execute_input`` to ``shell.execute_reply``
in each cell's ``metadata.execution``. One notebook holds 150 trivial cells
(``a1 = 1; b1 = a1 + 1``) then loop-heavy cells (20+ ms of pure-Python loops or comprehensions
each); the first cell sets up the configuration and is not measured. Configurations:

- ``stock``: the ``python3`` kernel;
- ``%track``: the same kernel after ``%load_ext nb2pipe`` + ``%track --notebook`` (the full
  mode: notebook order, history log flushed per execution, inline hazard checks);
- ``ipyflow``: the ``ipyflow`` kernel (``pip install ipyflow``).

Runs are interleaved (stock, track, ipyflow, stock, ...) and the table reports the median over
runs of each run's median cell latency. Targets: ``%track`` adds at most 0.5 ms to a trivial
cell, and a loop-heavy cell takes at most 1.05x its stock time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TRIVIAL = "a{i} = {i}; b{i} = a{i} + 1"
LOOPS = [
    "s{i} = 0\nfor j in range(250_000):\n    s{i} += j % 7",
    "t{i} = sum([k * k for k in range(300_000)])",
    "d{i} = {{}}\nfor j in range(120_000):\n    d{i}[j % 1000] = d{i}.get(j % 1000, 0) + j",
    "w{i} = [x for x in (y * 3 for y in range(250_000)) if x % 2]",
]


def build_notebook(path: Path, trivial: int, loops: int, setup: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [setup]
    cells += [TRIVIAL.format(i=i) for i in range(trivial)]
    cells += [LOOPS[i % len(LOOPS)].format(i=i) for i in range(loops)]
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)
    return nb


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def run_once(path: Path, kernel: str, setup: str, trivial: int, loops: int) -> tuple[list[float], list[float]]:
    nb = build_notebook(path, trivial, loops, setup)
    client = NotebookClient(
        nb, kernel_name=kernel, record_timing=True, timeout=600,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                raise RuntimeError(f"{kernel}: {output['ename']}: {output['evalue']}")
    latencies = []
    for cell in nb.cells[1:]:
        timing = cell.metadata["execution"]
        latencies.append(
            (_seconds(timing["shell.execute_reply"]) - _seconds(timing["iopub.execute_input"])) * 1000
        )
    return latencies[:trivial], latencies[trivial:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trivial", type=int, default=150)
    parser.add_argument("--loops", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-ipyflow", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the raw medians here")
    args = parser.parse_args()
    configs = {
        "stock": ("python3", "pass"),
        "%track": ("python3", "%load_ext nb2pipe\n%track --notebook bench.ipynb"),
    }
    if not args.no_ipyflow:
        configs["ipyflow"] = ("ipyflow", "pass")
    trivial: dict[str, list[float]] = {name: [] for name in configs}
    loops: dict[str, list[float]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.ipynb"
        for round_ in range(args.repeat):
            for name, (kernel, setup) in configs.items():
                fast, slow = run_once(path, kernel, setup, args.trivial, args.loops)
                trivial[name].append(statistics.median(fast))
                loops[name].append(statistics.median(slow))
                print(f"round {round_ + 1} {name}: trivial {trivial[name][-1]:.2f} ms, "
                      f"loop-heavy {loops[name][-1]:.1f} ms", file=sys.stderr)
    base_trivial = statistics.median(trivial["stock"])
    base_loops = statistics.median(loops["stock"])
    print(f"\n{args.trivial} trivial cells, {args.loops} loop-heavy cells, {args.repeat} interleaved runs; "
          "median per-cell latency (nbclient record_timing)\n")
    print("| kernel | trivial cell ms | added ms | loop-heavy cell ms | loop-heavy / stock |")
    print("|---|---|---|---|---|")
    for name in configs:
        t, l = statistics.median(trivial[name]), statistics.median(loops[name])
        print(f"| {name} | {t:.2f} | {t - base_trivial:+.2f} | {l:.1f} | {l / base_loops:.3f}x |")
    if args.json:
        args.json.write_text(json.dumps({"trivial": trivial, "loops": loops}, indent=2))


if __name__ == "__main__":
    main()
