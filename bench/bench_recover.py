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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="ci", choices=("ci", "thorough"))
    parser.add_argument("--families", help="comma-separated families (default: all)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
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
