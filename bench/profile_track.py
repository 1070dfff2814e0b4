"""Where ``%track``'s per-cell time goes: timing spans inside a stock and a tracked kernel.

    python bench/profile_track.py [--trivial 150] [--notebook NB] [--repeat 2] [--profile]

Runs a notebook (``--trivial N`` cells like ``bench_track.py``'s, or a copy of ``NB``'s folder
in a temporary one, its cells as they are) in a stock ``python3`` kernel and in one with
``%track --notebook``, cell by cell side by side as the bench does, with
``bench/track_spans.py`` inside both kernels: the kernel's ``do_execute`` (request to reply
content) in both, and in the tracked one each hook and the steps inside it. Prints, per span,
the median and mean over cells of its time per cell (µs; spans are inclusive), the
``do_execute`` difference per cell, and nbclient's latency difference (what the bench
measures). ``--profile`` also prints ``cProfile``'s top functions over the tracker's hooks.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_track import TRIVIAL, _seconds

BENCH = Path(__file__).resolve().parent


def _setup(tracked: bool, profile: bool, path: str) -> str:
    lines = [f"import sys; sys.path.insert(0, {str(BENCH)!r}); import track_spans"]
    if tracked:
        lines.insert(0, f"%load_ext nb2pipe\n%track --notebook {path}")
    lines.append(f"track_spans.install(get_ipython(), {tracked}, {profile})")
    return "\n".join(lines)


def _notebook(folder: Path, name: str, cells: list[str], setup: str, teardown: str) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in [setup, *cells, teardown]]
    nbformat.write(nb, folder / name)
    return nb


def run(folder: Path, cells: list[str], profile: bool) -> dict[str, Any]:
    clients = {}
    for tracked in (False, True):
        name = f"profile-{'track' if tracked else 'stock'}.ipynb"
        teardown = ("%track status\n" if tracked else "") + "track_spans.report()"
        nb = _notebook(folder, name, cells, _setup(tracked, profile, name), teardown)
        clients[tracked] = NotebookClient(
            nb, kernel_name="python3", record_timing=True, timeout=1200, allow_errors=True,
            resources={"metadata": {"path": str(folder)}},
        )
    with ExitStack() as stack:
        for client in clients.values():
            stack.enter_context(client.setup_kernel())
        order = list(clients.values())
        for index in range(len(cells) + 2):
            shift = index % 2
            for client in order[shift:] + order[:shift]:
                client.execute_cell(client.nb.cells[index], index)
    out: dict[str, Any] = {}
    for tracked, client in clients.items():
        printed = "".join(o.get("text", "") for o in client.nb.cells[-1].get("outputs", []))
        spans = next(line for line in printed.splitlines() if line.startswith("SPANS "))
        import json

        out[f"spans{int(tracked)}"] = json.loads(spans[len("SPANS "):])
        out[f"status{int(tracked)}"] = [line for line in printed.splitlines() if "tracker time" in line]
        out[f"profile{int(tracked)}"] = printed.partition("PROFILE\n")[2]
        out[f"latency{int(tracked)}"] = [
            (_seconds(c.metadata["execution"]["shell.execute_reply"])
             - _seconds(c.metadata["execution"]["iopub.execute_input"])) * 1000
            for c in client.nb.cells[1:-1]
        ]
    return out


def _cells_of(notebook: Path, folder: Path) -> list[str]:
    shutil.copytree(notebook.parent, folder, dirs_exist_ok=True)
    nb = nbformat.read(notebook, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trivial", type=int, default=150)
    parser.add_argument("--notebook", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.notebook is not None:
            cells = _cells_of(args.notebook.resolve(), folder)
        else:
            cells = [TRIVIAL.format(i=i) for i in range(args.trivial)]
        spans: dict[str, list[int]] = {}
        stock: list[int] = []
        latency: list[float] = []
        for _ in range(args.repeat):
            result = run(folder, cells, args.profile)
            # the wrapper's first cell is the second one (installed during the setup cell)
            for name, values in result["spans1"].items():
                spans.setdefault(name, []).extend(values)
            stock += result["spans0"]["do_execute"]
            tracked = result["spans1"]["do_execute"]
            n = min(len(stock), len(tracked))
            latency += [t - s for t, s in zip(result["latency1"], result["latency0"])]
            for line in result["status1"]:
                print(f"%track status: {line.strip()}")
            if args.profile:
                print(result["profile1"])
    tracked = spans["do_execute"]
    n = min(len(stock), len(tracked))
    print(f"\n{len(cells)} cells x {args.repeat} runs; µs per cell (spans inclusive)\n")
    print("| span | median | mean | cells with it |")
    print("|---|---|---|---|")
    print(f"| do_execute, stock | {statistics.median(stock) / 1000:.1f} | "
          f"{statistics.mean(stock) / 1000:.1f} | {len(stock)} |")
    for name in sorted(spans, key=lambda k: -statistics.mean(spans[k])):
        values = spans[name]
        present = sum(1 for v in values if v)
        print(f"| {name} | {statistics.median(values) / 1000:.1f} | "
              f"{statistics.mean(values) / 1000:.1f} | {present} |")
    diffs = [t - s for t, s in zip(tracked[:n], stock[:n])]
    print(f"\ndo_execute, %track minus stock per cell: median {statistics.median(diffs) / 1000:+.1f} µs")
    print(f"nbclient latency, %track minus stock per cell: median {statistics.median(latency):+.3f} ms")


if __name__ == "__main__":
    main()
