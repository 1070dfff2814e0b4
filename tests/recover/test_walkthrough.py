"""docs/recover.md, executed: the session it describes is worked on in a real tracked kernel,
then every command of its ``bash`` blocks runs as written, and each ``text`` block after them
must match what those commands printed (times aside; ``...`` stands for any text)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, fenced_blocks
from tests.recover.lab import LabNotebook

pytestmark = pytest.mark.kernel

DOC = ROOT / "docs" / "recover.md"
_TIME = re.compile(r"\d+\.\d+ s\b")


@dataclass
class Block:
    commands: list[str]
    expected: list[str]


def doc_blocks() -> list[Block]:
    """Each ``bash`` block with the ``text`` block that follows it (if any)."""
    blocks: list[Block] = []
    for language, lines in fenced_blocks(DOC):
        if language == "bash":
            blocks.append(Block([x for x in lines if x.strip()], []))
        elif language == "text" and blocks and not blocks[-1].expected:
            blocks[-1].expected = lines
    return blocks


def _customers(folder: Path) -> None:
    scores = [round(((i * 37) % 100) / 100, 2) for i in range(1, 41)]
    rows = ["id,score"] + [f"{i},{score}" for i, score in enumerate(scores, 1)]
    (folder / "customers.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session the walkthrough describes."""
    folder = tmp_path_factory.mktemp("walkthrough")
    _customers(folder)
    nb = LabNotebook(folder / "churn.ipynb", [
        ("load", (
            "import csv\nrows = list(csv.DictReader(open('customers.csv')))\n"
            "print(len(rows), 'customers')"
        )),
        ("params", "threshold = 0.5"),
        ("churn", (
            "churned = [r for r in rows if float(r['score']) > threshold]\n"
            "print('churn rate', round(len(churned) / len(rows), 3))"
        )),
        ("report", "print('churned', len(churned))"),
    ], tracked=True)
    nb.tag("params", "parameters")
    nb.run("load", "params", "churn", "report")
    nb.edit("params", "threshold = 0.8")
    nb.run("params", "churn")
    nb.save()
    nb.shutdown()
    return folder


def _matches(expected: str, output: str) -> bool:
    pieces = [re.escape(_TIME.sub("T s", piece)) for piece in expected.split("...")]
    return re.search(".*?".join(pieces), _TIME.sub("T s", output)) is not None


def test_every_command_of_the_walkthrough_does_what_it_says(churn: Path) -> None:
    blocks = doc_blocks()
    commands = [c for b in blocks for c in b.commands]
    assert "nb2pipe recover churn.ipynb" in commands
    assert "nb2pipe recover churn.ipynb --force --script churn_result.py" in commands
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for block in blocks:
        printed = ""
        for command in block.commands:
            done = subprocess.run(
                ["bash", "-c", f"set -eu\n{command}"], cwd=churn, env=environment,
                capture_output=True, text=True, timeout=600, check=False,
            )
            assert done.returncode == 0, (command, done.stdout, done.stderr)
            printed += done.stdout
        for line in block.expected:
            if line.strip():
                assert _matches(line, printed), (block.commands, line, printed)
    # what the commands left: the recovered notebook, the script of the result, no alone.ipynb
    recovered = json.loads((churn / "churn.recovered.ipynb").read_text())
    code = [c for c in recovered["cells"] if c["cell_type"] == "code"]
    assert [c["metadata"]["nb2pipe"]["source_cell"] for c in code] == [
        "load", "params", "churn", "report", "params", "churn",
    ]
    assert not (churn / "alone.ipynb").exists()
    result = subprocess.run(
        [sys.executable, "churn_result.py"], cwd=churn, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert result.stdout.splitlines()[:4] == [
        "40 customers", "churn rate 0.5", "churned 20", "churn rate 0.2",
    ], result.stdout
