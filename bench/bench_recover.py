"""How often each strategy gives back a notebook's saved outputs, on generated sessions.

For every session of tests/recover/sessions.py (a profile: ``ci`` one seed per family,
``thorough`` five), worked on in a real tracked kernel and saved, one harness tries:

- **top-down**: the notebook as saved, run top to bottom (what ``nb2pipe verify`` checks);
- **execution-count order**: the cells with a count, in count order, each once (Osiris's
  OEC strategy);
- **recover, with history**: ``nb2pipe recover`` beside the ``%track`` history;
- **recover, without history**: ``nb2pipe recover`` on a copy of the notebook alone.

Each strategy's path is run in a fresh kernel and judged by verify's judge (the same proof
recover uses); recover's own successes are checked again by nbclient (a false claim is a
"recovered" whose recovered notebook does not give the outputs back). Prints a table and
the totals; ``--json FILE`` writes the rows.

    python bench/bench_recover.py [--profile ci|thorough] [--families a,b] [--json out.json]
    python bench/bench_recover.py --speed 2   # recovery from a history of a 2-minute notebook

``--speed MINUTES`` works on a notebook whose fresh run takes that long (cells that compute
for a while, one of them run twice and one edited after it ran), then times ``nb2pipe
recover`` from its history against one fresh run of the recovered notebook (nbclient, the
same kernel), in the same process.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nb2pipe.model import load_notebook
from nb2pipe.recover import RecoverOptions, recover_notebook
from nb2pipe.recover.history import recoverable_cells
from nb2pipe.recover.path import RecoveredPath, Replay, recovered_notebook
from nb2pipe.recover.prove import prove
from nb2pipe.verify.compare import CompareOptions
from tests.recover.sessions import SESSION_FAMILIES, sessions
from tests.recover.test_sessions import assert_gives_back_the_saved_outputs


def _strategy(path: Path, order: str) -> bool:
    """Whether running the saved cells in ``order`` ("top-down" or "count") reproduces."""
    notebook = load_notebook(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    cells = [c for c in notebook.code_cells if c.source.strip()]
    targets = {c.index for c in recoverable_cells(notebook)}
    if order == "count":
        cells = sorted(
            (c for c in cells if c.execution_count is not None), key=lambda c: c.execution_count or 0
        )
    replays = tuple(
        Replay(c.source, c, saved=c.index in targets, raises=c.saved_error is not None)
        for c in cells
    )
    document = recovered_notebook(notebook, raw, RecoveredPath(replays, order), path.name)
    proof = prove(document, path, kernel_name="python3", timeout=120, options=CompareOptions())
    return proof.reproduced


def _recover(path: Path) -> tuple[bool, bool, float]:
    """(recovered, false claim, seconds)."""
    started = time.monotonic()
    result = recover_notebook(path, RecoverOptions(force=True))
    seconds = time.monotonic() - started
    if not result.recovered or result.output is None:
        return False, False, seconds
    try:
        assert_gives_back_the_saved_outputs(path, result.output)
    except AssertionError:
        return True, True, seconds
    return True, False, seconds


def _speed(minutes: float) -> None:
    from tests.recover.lab import LabNotebook

    per_cell = minutes * 60 / 3  # three cells compute: a fresh run takes `minutes`
    work = f"import time\nend = time.monotonic() + {per_cell}\nwhile time.monotonic() < end:\n    pass"
    with tempfile.TemporaryDirectory(prefix="nb2pipe-bench-speed-") as scratch:
        path = Path(scratch) / "slow.ipynb"
        nb = LabNotebook(path, [
            ("load", work + "\nrows = list(range(1000))\nprint(len(rows))"),
            ("param", "scale = 2"),
            ("fit", work + "\nmodel = sum(r * scale for r in rows)\nprint('fit', model)"),
            ("tune", "scale = 3"),
            ("report", work + "\nprint('report', model // 7)"),
        ], tracked=True)
        nb.run("load", "param", "fit", "tune", "fit", "report")
        nb.edit("param", "scale = 5")
        nb.save()
        nb.shutdown()
        started = time.monotonic()
        result = recover_notebook(path, RecoverOptions(force=True))
        recovering = time.monotonic() - started
        assert result.recovered and result.output is not None, result.problems
        started = time.monotonic()
        assert_gives_back_the_saved_outputs(path, result.output)
        fresh = time.monotonic() - started
        print(f"recovered path: {len(result.path.replays) if result.path else 0} executions")
        print(f"recover from the history: {recovering:.1f} s (its proof run {result.proof.duration:.1f} s)"
              if result.proof else f"recover: {recovering:.1f} s")
        print(f"one fresh run of the recovered notebook (nbclient): {fresh:.1f} s")
        print(f"ratio: {recovering / fresh:.2f}x (target <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="ci", choices=("ci", "thorough"))
    parser.add_argument("--families", help="comma-separated families (default: all)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--speed", type=float, metavar="MINUTES")
    args = parser.parse_args()
    if args.speed:
        _speed(args.speed)
        return
    wanted = set(args.families.split(",")) if args.families else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="nb2pipe-bench-recover-") as scratch:
        for family, seed, tracked in sessions(args.profile):
            if wanted and family not in wanted:
                continue
            build, expected = SESSION_FAMILIES[family]
            name = f"{family}-{seed}" + ("" if tracked else "-untracked")
            folder = Path(scratch) / name
            folder.mkdir()
            path = folder / f"{family}.ipynb"
            build(random.Random(f"{family}-{seed}"), path, tracked).shutdown()
            alone = Path(scratch) / f"{name}-alone"
            alone.mkdir()
            shutil.copy2(path, alone / path.name)
            for data in folder.glob("*.txt"):
                shutil.copy2(data, alone / data.name)
            row = {
                "session": name,
                "tracked": tracked,
                "top_down": _strategy(path, "top-down"),
                "count_order": _strategy(path, "count"),
                "expected_without_history": expected.without_history,
                "expected_with_history": expected.with_history,
            }
            if tracked:
                row["with_history"], false_h, row["seconds_with"] = _recover(path)
            else:
                row["with_history"], false_h, row["seconds_with"] = False, False, 0.0
            row["without_history"], false_n, row["seconds_without"] = _recover(alone / path.name)
            row["false_claims"] = int(false_h) + int(false_n)
            rows.append(row)
            print(
                f"{row['session']:<28} top-down {_mark(row['top_down'])}  count {_mark(row['count_order'])}"
                f"  recover+history {_mark(row['with_history'])} ({row['seconds_with']:.1f} s)"
                f"  recover alone {_mark(row['without_history'])} ({row['seconds_without']:.1f} s)",
                flush=True,
            )
    total = len(rows)
    print(f"\n{total} sessions")
    tracked = [r for r in rows if r["tracked"]]
    for key, label in (("top_down", "top-down"), ("count_order", "execution-count order"),
                       ("without_history", "recover, without history")):
        print(f"  {label:<26} {sum(r[key] for r in rows)} of {total}")
    print(f"  {'recover, with history':<26} {sum(r['with_history'] for r in tracked)} of "
          f"{len(tracked)} tracked (expected {sum(r['expected_with_history'] for r in tracked)})")
    possible = sum(r["expected_without_history"] for r in rows)
    print(f"  (recoverable from the current cells alone, by construction: {possible})")
    print(f"  false claims: {sum(r['false_claims'] for r in rows)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def _mark(value: bool) -> str:
    return "yes" if value else "no "


if __name__ == "__main__":
    main()
