"""Does ``nb2pipe verify`` catch a changed saved output? A mutation check on real notebooks.

    python bench/mutate_verify.py [NOTEBOOK ...] [--seed 0] [-j 2] [--keep DIR]

NOTEBOOK defaults to a handful of ``../shared/corpus/executed`` notebooks that reproduce. For
each one, every kind of mutation below is applied to one saved output (a place picked with
``--seed``, never inside a span a masking rule reports, since those are masked by design):

- ``table digit``: the leading digit of a number in a middle row of a table (a text table such
  as ``describe()`` or a ``DataFrame`` repr, or an HTML table's cell);
- ``digit``: the leading digit of a number outside any table;
- ``drop line``: a middle line of a text output;
- ``drop output``: one whole output of a cell;
- ``replace word``: a word of a text output, by another word.

Each mutated notebook is a copy in its own copy of its folder; all of them, and an untouched
copy of each notebook (the baseline: it must reproduce), are verified in one
``nb2pipe verify --no-script -j N --json`` run. A mutation is caught when verify says the
notebook differs *at the mutated cell*. The table prints caught/total per kind and notebook;
a miss prints what was changed. Exit status 1 if any mutation was missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from nb2pipe.verify.normalize import _text_tables, normalize_text  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "executed"
DEFAULT = [
    "statsmodels/ols.ipynb",
    "statsmodels/wls.ipynb",
    "statsmodels/tsa_filters.ipynb",
    "statsmodels/statespace_forecasting.ipynb",
    "numpy-tutorials/mooreslaw-tutorial.ipynb",
    "numpy-tutorials/tutorial-ma.ipynb",
    "sklearn/ensemble__plot_forest_importances.ipynb",
    "sklearn/tree__plot_cost_complexity_pruning.ipynb",
    "sklearn/linear_model__plot_lasso_lars_ic.ipynb",
    "sklearn/model_selection__plot_confusion_matrix.ipynb",
]
KINDS = ("table digit", "digit", "drop line", "drop output", "replace word")
#: The corpus was executed without these (see tests/verify/test_corpus.py).
_UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")
_WORD = re.compile(r"(?<![\w\\])[A-Za-z]{4,}(?![\w])")
_OTHER_WORDS = ("orange", "window", "kettle", "marble")


@dataclass
class Place:
    """A text of a saved output: cell, output, key ("text" or a MIME type), and the text."""

    cell: int
    output: int
    key: str
    text: str


@dataclass
class Mutation:
    kind: str
    cell: int
    what: str  # one line saying what changed


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _places(notebook: dict[str, Any]) -> list[Place]:
    """Every compared text of the saved outputs (cells tagged to be ignored are left out)."""
    out = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if "nb2pipe:ignore-output" in tags or "nbval-ignore-output" in tags:
            continue
        for number, output in enumerate(cell.get("outputs", [])):
            if output["output_type"] == "stream":
                out.append(Place(index, number, "text", _text(output["text"])))
            for mime in ("text/plain", "text/html"):
                if mime in output.get("data", {}):
                    out.append(Place(index, number, mime, _text(output["data"][mime])))
    return out


def _masked(text: str) -> list[tuple[int, int]]:
    return [(r.start, r.end) for r in normalize_text(text).masked]


def _free(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return not any(low < end and start < high for low, high in spans)


def _set(notebook: dict[str, Any], place: Place, text: str) -> None:
    output = notebook["cells"][place.cell]["outputs"][place.output]
    if place.key == "text":
        output["text"] = text
    else:
        output["data"][place.key] = text


def _lead_digit(rng: random.Random, digit: str) -> str:
    return rng.choice([d for d in "123456789" if d != digit])


def _numbers_in(text: str, low: int, high: int, masked: list[tuple[int, int]]) -> list[re.Match[str]]:
    return [
        m for m in _NUMBER.finditer(text, low, high)
        if _free(masked, m.start(), m.end()) and m[0][0] != "0"
    ]


def _table_digit(notebook: dict[str, Any], rng: random.Random) -> Mutation | None:
    candidates: list[tuple[Place, re.Match[str]]] = []
    for place in _places(notebook):
        if place.key == "text/html":
            cells = [m for m in re.finditer(r"<td[^>]*>\s*(\d[^<]*)</td>", place.text)]
            rows = place.text.count("<tr")
            if rows >= 3:
                middle = cells[len(cells) // 4 : max(len(cells) // 4 + 1, 3 * len(cells) // 4)]
                candidates += [(place, m) for m in middle if _NUMBER.match(m[1])]
            continue
        if "\r" in place.text or "\x1b" in place.text:
            continue
        masked = _masked(place.text)
        for low, high in _text_tables(place.text):
            lines = place.text[low:high].split("\n")
            if len(lines) < 3:
                continue
            offset = low + len(lines[0]) + 1  # skip the header line
            for line in lines[1:-1]:
                candidates += [(place, m) for m in _numbers_in(place.text, offset, offset + len(line), masked)]
                offset += len(line) + 1
    if not candidates:
        return None
    place, match = rng.choice(candidates)
    start = match.start(1) if match.lastindex else match.start()
    new = _lead_digit(rng, place.text[start])
    _set(notebook, place, place.text[:start] + new + place.text[start + 1 :])
    token = match[1] if match.lastindex else match[0]
    return Mutation("table digit", place.cell, f"{place.key}: {token!r} -> {new + token[1:]!r}")


def _digit(notebook: dict[str, Any], rng: random.Random) -> Mutation | None:
    candidates: list[tuple[Place, re.Match[str]]] = []
    for place in _places(notebook):
        if place.key == "text/html" or "\r" in place.text or "\x1b" in place.text:
            continue
        masked = _masked(place.text) + list(_text_tables(place.text))
        candidates += [(place, m) for m in _numbers_in(place.text, 0, len(place.text), masked)]
    if not candidates:
        return None
    place, match = rng.choice(candidates)
    new = _lead_digit(rng, match[0][0])
    _set(notebook, place, place.text[: match.start()] + new + place.text[match.start() + 1 :])
    return Mutation("digit", place.cell, f"{place.key}: {match[0]!r} -> {new + match[0][1:]!r}")


def _drop_line(notebook: dict[str, Any], rng: random.Random) -> Mutation | None:
    candidates: list[tuple[Place, int]] = []
    for place in _places(notebook):
        if place.key == "text/html" or "\r" in place.text:
            continue
        lines = place.text.split("\n")
        masked = _masked(place.text)
        offset = len(lines[0]) + 1
        for number, line in enumerate(lines[1:-1], 1):
            if line.strip() and _free(masked, offset, offset + len(line)):
                candidates.append((place, number))
            offset += len(line) + 1
    if not candidates:
        return None
    place, number = rng.choice(candidates)
    lines = place.text.split("\n")
    dropped = lines.pop(number)
    _set(notebook, place, "\n".join(lines))
    return Mutation("drop line", place.cell, f"{place.key}: dropped {dropped.strip()[:60]!r}")


def _drop_output(notebook: dict[str, Any], rng: random.Random) -> Mutation | None:
    places = _places(notebook)
    if not places:
        return None
    place = rng.choice(places)
    outputs = notebook["cells"][place.cell]["outputs"]
    dropped = outputs.pop(place.output)
    kind = dropped.get("name") or ", ".join(sorted(dropped.get("data", {}))) or dropped["output_type"]
    return Mutation("drop output", place.cell, f"dropped output {place.output + 1} ({kind})")


def _replace_word(notebook: dict[str, Any], rng: random.Random) -> Mutation | None:
    candidates: list[tuple[Place, re.Match[str]]] = []
    for place in _places(notebook):
        if place.key == "text/html" or "\x1b" in place.text:
            continue
        masked = _masked(place.text)
        candidates += [
            (place, m) for m in _WORD.finditer(place.text) if _free(masked, m.start(), m.end())
        ]
    if not candidates:
        return None
    place, match = rng.choice(candidates)
    new = rng.choice([w for w in _OTHER_WORDS if w != match[0]])
    _set(notebook, place, place.text[: match.start()] + new + place.text[match.end() :])
    return Mutation("replace word", place.cell, f"{place.key}: {match[0]!r} -> {new!r}")


MUTATORS: dict[str, Callable[[dict[str, Any], random.Random], Mutation | None]] = {
    "table digit": _table_digit,
    "digit": _digit,
    "drop line": _drop_line,
    "drop output": _drop_output,
    "replace word": _replace_word,
}


def _copy(notebook: Path, target: Path) -> Path:
    shutil.copytree(
        notebook.parent, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", ".git")
    )
    for root, dirs, files in os.walk(target):
        for name in dirs + files:
            path = Path(root) / name
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o200)
    target.chmod(target.stat().st_mode | 0o200)
    return target / notebook.name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--keep", type=Path, help="verify in this folder and keep it")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the mutations, verify nothing"
    )
    args = parser.parse_args()
    notebooks = args.notebooks or [CORPUS / name for name in DEFAULT]
    work = args.keep or Path(tempfile.mkdtemp(prefix="nb2pipe-mutations-"))
    work.mkdir(parents=True, exist_ok=True)
    runs: dict[Path, tuple[Path, Mutation | None]] = {}  # copy -> (original, mutation)
    for number, notebook in enumerate(notebooks):
        stem = f"{number:02d}-{notebook.stem}"
        baseline = _copy(notebook, work / f"{stem}-baseline")
        runs[baseline] = (notebook, None)
        for kind in KINDS:
            rng = random.Random(f"{args.seed}:{notebook.name}:{kind}")
            saved = json.loads(notebook.read_text(encoding="utf-8"))
            mutation = MUTATORS[kind](saved, rng)
            if mutation is None:
                continue
            copy = _copy(notebook, work / f"{stem}-{kind.replace(' ', '-')}")
            copy.write_text(json.dumps(saved, indent=1), encoding="utf-8")
            runs[copy] = (notebook, mutation)
    if args.dry_run:
        for original, mutation in runs.values():
            if mutation is not None:
                print(f"{original.name} cell {mutation.cell + 1} {mutation.kind}: {mutation.what}")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        return 0
    report_path = work / "verify-report.json"
    env = {k: v for k, v in os.environ.items() if k not in _UNSET}
    command = [
        sys.executable, "-m", "nb2pipe", "verify", "--no-script", "-j", str(args.jobs), "-q",
        "--timeout", str(args.timeout), "--json", str(report_path), *map(str, runs),
    ]
    print(f"verifying {len(runs)} notebooks in {work} ...", flush=True)
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode not in (0, 1) or not report_path.exists():
        print(result.stdout, result.stderr)
        return 2
    reports = {Path(r["path"]).resolve(): r for r in json.loads(report_path.read_text())["notebooks"]}
    table: dict[str, dict[str, list[int]]] = {}
    misses: list[str] = []
    broken: set[Path] = set()
    for copy, (original, mutation) in runs.items():
        report = reports[copy.resolve()]
        if mutation is None:
            if report["status"] != "reproduces":
                broken.add(original)
                print(f"baseline {original.name} does not reproduce: left out", flush=True)
            continue
    for copy, (original, mutation) in runs.items():
        if mutation is None or original in broken:
            continue
        report = reports[copy.resolve()]
        cells = {m["cell_index"] for m in report["mismatches"]}
        caught = report["status"] == "differs" and mutation.cell in cells
        row = table.setdefault(original.name, {})
        row.setdefault(mutation.kind, [0, 0])
        row[mutation.kind][0] += caught
        row[mutation.kind][1] += 1
        if not caught:
            misses.append(f"MISSED {original.name} cell {mutation.cell + 1} {mutation.kind}: {mutation.what}")
    print("\n| notebook | " + " | ".join(KINDS) + " | caught |")
    print("|---|" + "---|" * (len(KINDS) + 1))
    total = [0, 0]
    per_kind = {kind: [0, 0] for kind in KINDS}
    for name, row in table.items():
        cells = []
        for kind in KINDS:
            if kind in row:
                caught, count = row[kind]
                per_kind[kind][0] += caught
                per_kind[kind][1] += count
                cells.append(f"{caught}/{count}")
            else:
                cells.append("–")
        caught = sum(c for c, _ in row.values())
        count = sum(n for _, n in row.values())
        total[0] += caught
        total[1] += count
        print(f"| {name} | " + " | ".join(cells) + f" | {caught}/{count} |")
    print(
        "| **all** | "
        + " | ".join(f"{c}/{n}" for c, n in per_kind.values())
        + f" | **{total[0]}/{total[1]}** |"
    )
    for line in misses:
        print(line)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if misses else 0


if __name__ == "__main__":
    raise SystemExit(main())
