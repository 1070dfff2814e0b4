"""What recording data versions costs a run: the sample classifier with the source hooks on and
off, reading its data from a local file and over HTTP.

    python bench/bench_data_versions.py [--repeat 9] [--reads 200]

Two measurements, both with the hooks on and off in the same way (the runtime's
``SourceAudit.start`` made a no-op for "off": no import hook, no wrapping):

- **whole runs**: ``train_classifier.py`` exported from ``sample_notebooks/``, run as a fresh
  process (``--n-estimators 20``), reading ``data/wine.csv`` and
  ``http://127.0.0.1:PORT/wine.csv`` from ``python -m http.server``; the four configurations
  interleaved ``--repeat`` times, medians and minimums of the wall time. Target: hooks on within
  2% of hooks off.
- **one read**: in one process, ``pd.read_csv(url)`` of the same file ``--reads`` times with the
  source audit started and stopped, interleaved: the hook's own cost per read (the URL check,
  the headers, the SHA-256 of the bytes), which whole runs hide in their noise.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_notebooks"

#: runs the script with the hooks off: the source audit never starts
OFF = (
    "import runpy, sys; import nb2pipe_runtime.sources as sources; "
    "sources.SourceAudit.start = lambda self: self; "
    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)
ON = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/wine.csv"


def _whole_runs(folder: Path, url: str, repeat: int) -> dict[str, list[float]]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("MLFLOW_TRACKING_URI", None)
    configurations = {
        ("local", "off"): (OFF, "data/wine.csv"), ("local", "on"): (ON, "data/wine.csv"),
        ("http", "off"): (OFF, url), ("http", "on"): (ON, url),
    }
    times: dict[str, list[float]] = {f"{a} {b}": [] for a, b in configurations}
    for round_ in range(repeat):
        order = list(configurations.items())
        order = order[round_ % len(order):] + order[:round_ % len(order)]
        for (where, hooks), (driver, data) in order:
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", driver, "train_classifier.py", "--data-path", data,
                 "--n-estimators", "20"],
                cwd=folder, env=env, check=True, capture_output=True,
            )
            times[f"{where} {hooks}"].append(time.perf_counter() - started)
    return times


def _one_read(url: str, reads: int) -> tuple[list[float], list[float]]:
    import pandas as pd
    from nb2pipe_runtime.sources import SourceAudit

    audit = SourceAudit()
    on: list[float] = []
    off: list[float] = []
    pd.read_csv(url)
    for _ in range(reads):
        for hooks, into in ((True, on), (False, off)):
            if hooks:
                audit.start()
            started = time.perf_counter()
            pd.read_csv(url)
            into.append(time.perf_counter() - started)
            audit.stop()
            audit.reads.clear()
    return on, off


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT), str(ROOT / "runtime")]
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "runtime"), os.environ.get("PYTHONPATH", "")]
    )
    from nb2pipe.export import export_notebook

    with tempfile.TemporaryDirectory(prefix="bench-data-versions-") as scratch:
        folder = Path(scratch)
        shutil.copy(SAMPLES / "train_classifier.ipynb", folder)
        shutil.copytree(SAMPLES / "data", folder / "data")
        export_notebook(folder / "train_classifier.ipynb")
        server, url = _serve(folder / "data")
        try:
            times = _whole_runs(folder, url, args.repeat)
            on, off = _one_read(url, args.reads)
        finally:
            server.shutdown()
    print(f"whole runs of train_classifier.py (--n-estimators 20), {args.repeat} rounds:")
    print("| data | hooks | median s | min s |")
    print("|---|---|---|---|")
    for name, found in times.items():
        where, hooks = name.split()
        print(f"| {where} | {hooks} | {statistics.median(found):.3f} | {min(found):.3f} |")
    for where in ("local", "http"):
        on_run, off_run = times[f"{where} on"], times[f"{where} off"]
        ratio = statistics.median(on_run) / statistics.median(off_run)
        best = min(on_run) / min(off_run)
        print(f"{where}: hooks on / off = {ratio:.3f} (medians), {best:.3f} (minimums)")
    added = statistics.median(on) - statistics.median(off)
    print(
        f"one pd.read_csv over HTTP ({args.reads} each): on {statistics.median(on) * 1000:.2f} ms, "
        f"off {statistics.median(off) * 1000:.2f} ms, the hook adds {added * 1000:.3f} ms "
        f"({added / statistics.median(times['http off']):.4%} of a run)"
    )


if __name__ == "__main__":
    main()
