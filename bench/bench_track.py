"""Per-cell latency of ``%track``: stock ipykernel vs ``%track`` vs ipyflow, as nbclient records it.

    python bench/bench_track.py [--trivial 150] [--loops 20] [--repeat 3] [--no-ipyflow]
                                [--baseline TREE] [--import-row] [--unsaved-row]

Latency is nbclient's ``record_timing``: from ``iopub.execute_input`` to ``shell.execute_reply``
in each cell's ``metadata.execution``. The notebook holds 150 trivial cells
(``a1 = 1; b1 = a1 + 1``) then loop-heavy cells (20+ ms of pure-Python loops or comprehensions
each); a first cell sets up the configuration and is not measured. Configurations:

- ``stock``: the ``python3`` kernel;
- ``%track``: the same kernel after ``%load_ext nb2pipe`` + ``%track --notebook`` (the full
  mode: notebook order, history log flushed per execution, inline hazard checks);
- ``ipyflow``: the ``ipyflow`` kernel (``pip install ipyflow``);
- ``%track (TREE)`` with ``--baseline TREE``: ``%track`` from another source tree (a checkout
  of the commit before a change: its ``nb2pipe`` and ``runtime/`` go first on the kernel's
  ``PYTHONPATH``), so a change is measured before and after in one run;
- ``stock + %load_ext`` with ``--import-row``: a stock kernel that has run ``%load_ext
  nb2pipe`` and never turns tracking on. Importing code makes a kernel answer later cells more
  slowly on a shared 2-core machine (``import pandas`` alone adds 0.4-0.5 ms a trivial cell
  there), so this row tells what the import costs apart from the tracker's per-cell work. A
  kernel more in the run spaces each kernel's cells further apart, which changes the other
  rows too: compare rows within one run.
- ``%track, cells not saved yet`` with ``--unsaved-row``: ``%track`` on a notebook file that
  holds none of the cells that run (typed since the last save). A cell run as saved reuses
  the analysis ``%track`` made when it read the notebook; these cells do not, so this row is
  the cost of a cell the tracker sees for the first time.

The three kernels run side by side, one ``NotebookClient`` each, and every cell is executed in
each kernel in turn (the first kernel rotating) before the next cell: a busy machine slows all
three alike, and per-cell differences (``%track`` minus stock on the same cell) cancel most of
the noise. The table reports medians over cells of the pooled runs, and of each cell's best
time over the rounds (interference only ever adds time). Targets: ``%track`` adds at most 0.5 ms to a
trivial cell, and a loop-heavy cell takes at most 1.05x its stock time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from contextlib import ExitStack
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


def build_notebook(
    path: Path, trivial: int, loops: int, setup: str, teardown: str
) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [setup]
    cells += [TRIVIAL.format(i=i) for i in range(trivial)]
    cells += [LOOPS[i % len(LOOPS)].format(i=i) for i in range(loops)]
    cells.append(teardown)
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)
    return nb


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


#: set-up of the unsaved row: the saved file keeps only its first cell (the set-up)
UNSAVED = """import json as _json, pathlib as _pathlib
_file = _pathlib.Path("{path}")
_saved = _json.loads(_file.read_text())
_saved["cells"] = _saved["cells"][:1]
_file.write_text(_json.dumps(_saved))
del _json, _pathlib, _file, _saved
"""

Config = tuple[str, str, str, dict[str, str] | None]  #: kernel, setup, teardown, environment


def run_round(
    folder: Path, configs: dict[str, Config], trivial: int, loops: int
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Execute the notebook in every configuration, cell by cell in turn.

    Returns the latencies (ms) of the measured cells and the text the last cell printed.
    """
    clients = {}
    environments = {}
    for name, (kernel, setup, teardown, env) in configs.items():
        path = folder / f"bench-{len(clients)}.ipynb"
        nb = build_notebook(path, trivial, loops, setup.replace("{path}", path.name), teardown)
        clients[name] = NotebookClient(
            nb, kernel_name=kernel, record_timing=True, timeout=600,
            resources={"metadata": {"path": str(folder)}},
        )
        environments[name] = env
    with ExitStack() as stack:
        for name, client in clients.items():
            extra = {"env": environments[name]} if environments[name] is not None else {}
            stack.enter_context(client.setup_kernel(**extra))
        count = len(next(iter(clients.values())).nb.cells)
        order = list(clients.values())
        for index in range(count):
            # rotate who goes first: a kernel's tail work (output flushing, history writes)
            # must not always land on the same neighbour
            shift = index % len(order)
            for client in order[shift:] + order[:shift]:
                client.execute_cell(client.nb.cells[index], index)
    out = {}
    printed = {}
    for name, client in clients.items():
        last = client.nb.cells[-1]
        printed[name] = "".join(o.get("text", "") for o in last.get("outputs", []))
        latencies = []
        for cell in client.nb.cells:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    raise RuntimeError(f"{name}: {output['ename']}: {output['evalue']}")
        for cell in client.nb.cells[1:-1]:
            timing = cell.metadata["execution"]
            latencies.append(
                (_seconds(timing["shell.execute_reply"]) - _seconds(timing["iopub.execute_input"])) * 1000
            )
        out[name] = latencies
    return out, printed


def _best(values: list[float], per_round: int) -> list[float]:
    """Each cell's minimum over the rounds (``values`` holds the rounds one after another)."""
    rounds = [values[i : i + per_round] for i in range(0, len(values), per_round)]
    return [min(times) for times in zip(*rounds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trivial", type=int, default=150)
    parser.add_argument("--loops", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-ipyflow", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the raw medians here")
    parser.add_argument(
        "--import-row", action="store_true",
        help="also run a stock kernel that has imported %%track's code (%%load_ext nb2pipe, "
        "tracking off): what the import alone costs each later cell",
    )
    parser.add_argument(
        "--unsaved-row", action="store_true",
        help="also run %%track on a notebook file that holds none of the cells that run (typed "
        "since the last save): cells the tracker has not analysed before",
    )
    parser.add_argument(
        "--baseline", type=Path, metavar="TREE",
        help="also run %%track from this source tree (e.g. a worktree of the previous commit)",
    )
    args = parser.parse_args()
    track = ("python3", "%load_ext nb2pipe\n%track --notebook {path}", "%track status")
    configs: dict[str, Config] = {
        "stock": ("python3", "pass", "pass", None),
        "%track": (*track, None),
    }
    if args.import_row:
        configs["stock + %load_ext"] = ("python3", "%load_ext nb2pipe", "pass", None)
    if args.unsaved_row:
        configs["%track, cells not saved yet"] = ("python3", UNSAVED + track[1], track[2], None)
    if args.baseline is not None:
        tree = args.baseline.resolve()
        path = os.pathsep.join([str(tree), str(tree / "runtime"), os.environ.get("PYTHONPATH", "")])
        configs[f"%track ({tree.name})"] = (*track, {**os.environ, "PYTHONPATH": path})
    if not args.no_ipyflow:
        configs["ipyflow"] = ("ipyflow", "pass", "pass", None)
    own: list[str] = []
    trivial: dict[str, list[float]] = {name: [] for name in configs}
    loops: dict[str, list[float]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeat):
            latencies, printed = run_round(Path(tmp), configs, args.trivial, args.loops)
            for name in configs:
                if name.startswith("%track"):
                    own += [f"{name}: {line}" for line in printed[name].splitlines() if "tracker time" in line]
            for name, values in latencies.items():
                trivial[name] += values[: args.trivial]
                loops[name] += values[args.trivial :]
                print(f"round {round_ + 1} {name}: trivial {statistics.median(values[: args.trivial]):.2f} ms, "
                      f"loop-heavy {statistics.median(values[args.trivial :]):.1f} ms", file=sys.stderr)
    stock_trivial, stock_loops = trivial["stock"], loops["stock"]
    print(f"\n{args.trivial} trivial cells + {args.loops} loop-heavy cells, {args.repeat} rounds, kernels "
          "side by side; per-cell latency from nbclient record_timing (execute_input -> execute_reply)\n")
    print("| kernel | trivial cell, median ms | added per trivial cell, median ms | "
          "loop-heavy cell, median ms | loop-heavy / stock, median per cell |")
    print("|---|---|---|---|---|")
    for name in configs:
        added = statistics.median(t - s for t, s in zip(trivial[name], stock_trivial))
        ratio = statistics.median(t / s for t, s in zip(loops[name], stock_loops))
        print(f"| {name} | {statistics.median(trivial[name]):.2f} | {added:+.2f} | "
              f"{statistics.median(loops[name]):.1f} | {ratio:.3f}x |")
    best_trivial = {name: _best(values, args.trivial) for name, values in trivial.items()}
    best_loops = {name: _best(values, args.loops) for name, values in loops.items()}
    print(f"\nEach cell's best time over the {args.repeat} rounds:\n")
    print("| kernel | trivial cell, median ms | added per trivial cell, median ms | "
          "loop-heavy cell, median ms | loop-heavy / stock, median per cell |")
    print("|---|---|---|---|---|")
    for name in configs:
        added = statistics.median(t - s for t, s in zip(best_trivial[name], best_trivial["stock"]))
        ratio = statistics.median(t / s for t, s in zip(best_loops[name], best_loops["stock"]))
        print(f"| {name} | {statistics.median(best_trivial[name]):.2f} | {added:+.2f} | "
              f"{statistics.median(best_loops[name]):.1f} | {ratio:.3f}x |")
    for line in own:
        print(f"\n%track status after a round: {line}")
    if args.json:
        args.json.write_text(json.dumps({"trivial": trivial, "loops": loops}, indent=2))


if __name__ == "__main__":
    main()
