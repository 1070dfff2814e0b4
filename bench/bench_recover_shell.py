"""How faithful and how cheap `nb2pipe.recover`'s shell fork server is.

    python bench/bench_recover_shell.py fidelity [NOTEBOOK ...] [--no-fork]
    python bench/bench_recover_shell.py cost [--repeat 10] [--checkpoints 20]

``fidelity`` runs each notebook (default: a dozen of ``../shared/corpus/executed`` that run
in seconds) top to bottom twice, each in its own scratch copy of the notebook's folder: in
a real kernel (verify's runner) and cell by cell in the shell, where each cell runs in a
fork of the previous cell's checkpoint, as the recover search runs them (``--no-fork``: in
one process). Each cell's outputs are compared with verify's comparison; a cell agrees when
its outputs compare equal and it ended the same way (ok/error). A disagreement also seen
between the kernel run and the notebook's saved outputs is the notebook's own
nondeterminism (timestamps, timings), not the shell's, and is counted apart.

``cost`` times a fork plus a trivial cell, before and after ``import pandas, sklearn``,
against running the cell in place, and the memory of N live checkpoints (their PSS: shared
pages counted once across them).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from nb2pipe.model import Cell, load_notebook
from nb2pipe.recover import CellResult, Checkpoint, ForkUnsafe, ShellServer
from nb2pipe.verify.compare import CompareOptions, compare_outputs
from nb2pipe.verify.runner import run_notebook

CORPUS = ROOT.parent / "shared" / "corpus" / "executed"
#: Notebooks of the corpus that run in seconds, from its three collections.
DEFAULT_NOTEBOOKS = (
    "statsmodels/wls.ipynb",
    "statsmodels/gls.ipynb",
    "statsmodels/ols.ipynb",
    "statsmodels/kernel_density.ipynb",
    "statsmodels/pca_fertility_factors.ipynb",
    "statsmodels/tsa_filters.ipynb",
    "numpy-tutorials/tutorial-static_equilibrium.ipynb",
    "numpy-tutorials/tutorial-ma.ipynb",
    "numpy-tutorials/mooreslaw-tutorial.ipynb",
    "sklearn/tree__plot_tree_regression.ipynb",
    "sklearn/linear_model__plot_lasso_lars_ic.ipynb",
    "sklearn/model_selection__plot_cv_indices.ipynb",
    "sklearn/calibration__plot_calibration_curve.ipynb",
)
CELL_TIMEOUT = 300


@dataclass
class Tally:
    cells: int = 0
    agree: int = 0
    #: differs from the kernel, but the kernel also differs from the saved outputs there
    notebook_nondeterminism: int = 0
    forks: int = 0
    fork_unsafe: int = 0
    shell_seconds: float = 0.0
    kernel_seconds: float = 0.0
    disagreements: list[str] = field(default_factory=list)


def _copy_folder(notebook: Path, scratch: Path) -> Path:
    target = scratch / notebook.parent.name
    shutil.copytree(notebook.parent, target, ignore=shutil.ignore_patterns("*.ipynb", "src"))
    shutil.copy2(notebook, target / notebook.name)
    return target / notebook.name


def _run_in_shell(path: Path, cells: list[Cell], fork: bool, tally: Tally) -> list[CellResult]:
    results: list[CellResult] = []
    start = time.perf_counter()
    with ShellServer(path.parent, timeout=CELL_TIMEOUT) as server:
        current: Checkpoint = server.root()
        for cell in cells:
            if fork:
                try:
                    child = current.fork()
                except ForkUnsafe:
                    tally.fork_unsafe += 1
                else:
                    tally.forks += 1
                    current.close()
                    current = child
            results.append(current.run(cell.source, cell_id=cell.id))
            if not current.alive:
                current = server.root()
    tally.shell_seconds += time.perf_counter() - start
    return results


def _fidelity(notebook: Path, fork: bool, tally: Tally) -> None:
    saved = load_notebook(notebook)
    # nbclient does not send blank cells to the kernel
    code = [cell for cell in saved.cells if cell.is_code and cell.source.strip()]
    with tempfile.TemporaryDirectory() as kernel_dir, tempfile.TemporaryDirectory() as shell_dir:
        kernel_copy = _copy_folder(notebook, Path(kernel_dir))
        start = time.perf_counter()
        run = run_notebook(
            kernel_copy,
            kernel_name="python3",
            timeout=CELL_TIMEOUT,
            expected_errors=range(len(saved.cells)),
        )
        tally.kernel_seconds += time.perf_counter() - start
        fresh = {cell.index: cell for cell in run.notebook.cells}
        results = _run_in_shell(_copy_folder(notebook, Path(shell_dir)), code, fork, tally)
    options = CompareOptions()
    for cell, result in zip(code, results):
        kernel_cell = fresh.get(cell.index)
        if kernel_cell is None:
            continue
        tally.cells += 1
        reply = run.replies.get(cell.index)
        kernel_status = reply.status if reply is not None else "ok"
        comparison = compare_outputs(kernel_cell.outputs, result.outputs, options)
        if comparison.equal and kernel_status == result.status:
            tally.agree += 1
            continue
        if not compare_outputs(cell.outputs, kernel_cell.outputs, options).equal:
            tally.notebook_nondeterminism += 1
            continue
        what = ", ".join(d.what for d in comparison.differences) or "status"
        detail = next((d.diff for d in comparison.differences if d.diff), "")
        tally.disagreements.append(
            f"{notebook.parent.name}/{notebook.name} cell {cell.index + 1} "
            f"({cell.first_line[:50]}): {what}; kernel {kernel_status}, shell {result.status} "
            f"{result.ename}\n{_indent(detail[:1200])}"
        )


def _indent(text: str) -> str:
    return "\n".join("      " + line for line in text.splitlines())


def fidelity(args: argparse.Namespace) -> None:
    notebooks = [Path(p) for p in args.notebooks] or [CORPUS / name for name in DEFAULT_NOTEBOOKS]
    total = Tally()
    print("| notebook | cells | agree | notebook's own nondeterminism | shell s | kernel s |")
    print("|---|---|---|---|---|---|")
    for notebook in notebooks:
        tally = Tally()
        _fidelity(notebook.resolve(), not args.no_fork, tally)
        print(
            f"| {notebook.parent.name}/{notebook.name} | {tally.cells} | {tally.agree} | "
            f"{tally.notebook_nondeterminism} | {tally.shell_seconds:.1f} | "
            f"{tally.kernel_seconds:.1f} |",
            flush=True,
        )
        for name in ("cells", "agree", "notebook_nondeterminism", "forks", "fork_unsafe"):
            setattr(total, name, getattr(total, name) + getattr(tally, name))
        total.shell_seconds += tally.shell_seconds
        total.kernel_seconds += tally.kernel_seconds
        total.disagreements += tally.disagreements
    print(
        f"| **all {len(notebooks)}** | {total.cells} | {total.agree} | "
        f"{total.notebook_nondeterminism} | {total.shell_seconds:.1f} | "
        f"{total.kernel_seconds:.1f} |"
    )
    print(f"\nforks: {total.forks}, refused (ForkUnsafe): {total.fork_unsafe}")
    print(f"shell-only disagreements: {len(total.disagreements)}")
    for line in total.disagreements:
        print("  - " + line)


def _median_ms(action: object, repeat: int) -> tuple[float, float]:
    assert callable(action)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, min(times) * 1000


def cost(args: argparse.Namespace) -> None:
    import psutil

    def fork_and_run(checkpoint: Checkpoint) -> None:
        child = checkpoint.fork()
        child.run("y = 1")
        child.close()

    with tempfile.TemporaryDirectory() as scratch, ShellServer(Path(scratch)) as server:
        root = server.root()
        rows = []
        for label, setup in (
            ("fresh shell", ""),
            ("after import pandas, sklearn", "import pandas, sklearn"),
        ):
            if setup:
                start = time.perf_counter()
                root.run(setup)
                rows.append((f"run `{setup}` itself", (time.perf_counter() - start) * 1000, 0.0))
            rss = psutil.Process(root.pid).memory_info().rss / 2**20
            rows.append(
                (
                    f"{label} ({rss:.0f} MB RSS): run a trivial cell in place",
                    *_median_ms(lambda: root.run("y = 1"), args.repeat),
                )
            )
            rows.append(
                (
                    f"{label}: fork + run a trivial cell",
                    *_median_ms(lambda: fork_and_run(root), args.repeat),
                )
            )
        print("| what | median ms | min ms |\n|---|---|---|")
        for label, median, low in rows:
            print(f"| {label} | {median:.1f} | {low:.1f} |")

        checkpoints = [root]
        for index in range(args.checkpoints):
            checkpoints.append(checkpoints[-1].fork())
            checkpoints[-1].run(f"data_{index} = list(range(100_000))")
        pss = uss = rss = 0.0
        for checkpoint in checkpoints:
            info = psutil.Process(checkpoint.pid).memory_full_info()
            pss += info.pss
            uss += info.uss
            rss += info.rss
        count = len(checkpoints)
        print(
            f"\n{count} live checkpoints (pandas and sklearn imported, each a fork of the last "
            f"plus a 100,000-int list): PSS {pss / 2**20:.0f} MB in all "
            f"({pss / count / 2**20:.1f} MB each), USS {uss / 2**20:.0f} MB, "
            f"RSS {rss / 2**20:.0f} MB (what they would take unshared)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fidelity_parser = commands.add_parser("fidelity")
    fidelity_parser.add_argument("notebooks", nargs="*")
    fidelity_parser.add_argument("--no-fork", action="store_true")
    cost_parser = commands.add_parser("cost")
    cost_parser.add_argument("--repeat", type=int, default=10)
    cost_parser.add_argument("--checkpoints", type=int, default=20)
    args = parser.parse_args()
    {"fidelity": fidelity, "cost": cost}[args.command](args)


if __name__ == "__main__":
    main()
