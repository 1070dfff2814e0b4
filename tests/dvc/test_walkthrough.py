"""The pipeline walkthrough in docs/pipelines.md: its ``bash`` blocks, run exactly as written.

The commands run in order in one ``bash`` session, in a folder holding a copy of the step
sample (the walkthrough's first command copies ``sample_notebooks``); their outputs are then
checked against what the walkthrough says they do.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ..conftest import ROOT, SAMPLES
from .helpers import experiments, project_env, stages_run

DOC = ROOT / "docs" / "pipelines.md"
MARK = "@@nb2pipe-walkthrough-command@@"


def doc_commands() -> list[str]:
    """The lines of the document's ``bash`` blocks: one command a line."""
    commands: list[str] = []
    fence: str | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fence = line[3:].strip() if fence is None else None
            continue
        if fence == "bash" and line.strip() and not line.lstrip().startswith("#"):
            commands.append(line)
    return commands


def test_the_walkthrough_has_the_promised_commands() -> None:
    commands = doc_commands()
    for expected in ("nb2pipe export pipeline_steps.ipynb", "python pipeline_steps.py",
                     "python pipeline_steps.py --C 0.01", "nb2pipe runs --sort accuracy",
                     "nb2pipe export --dvc pipeline_steps.ipynb", "dvc repro",
                     "dvc exp run -S C=0.01", "dvc queue start", "dvc exp show"):
        assert expected in commands


@pytest.mark.slow
def test_the_walkthrough_commands_run(tmp_path: Path) -> None:
    samples = tmp_path / "sample_notebooks"
    (samples / "data").mkdir(parents=True)
    shutil.copy(SAMPLES / "pipeline_steps.ipynb", samples)
    shutil.copy(SAMPLES / "data" / "wine.csv", samples / "data")
    commands = doc_commands()
    script = "set -eu\n" + "".join(f"echo {MARK}{i}\n{command}\n" for i, command in enumerate(commands))
    env = project_env(tmp_path)
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900, stdin=subprocess.DEVNULL, check=False)
    combined = done.stdout
    assert done.returncode == 0, f"{combined[-3000:]}\n{done.stderr[-3000:]}"
    pieces = re.split(rf"^{MARK}(\d+)\n", combined, flags=re.MULTILINE)
    outputs: dict[str, list[str]] = {}
    for number, text in zip(pieces[1::2], pieces[2::2]):
        outputs.setdefault(commands[int(number)], []).append(text)
    project = tmp_path / "pipeline-demo"

    exported = outputs["nb2pipe export pipeline_steps.ipynb"][0]
    assert "step train: X_train_scaled, feature_cols, y_train -> model" in exported
    assert "accuracy:          0.9556" in outputs["python pipeline_steps.py"][0]
    assert "accuracy:          1.0000" in outputs["python pipeline_steps.py --C 0.01"][0]
    compared = outputs["nb2pipe runs --sort accuracy"][0].splitlines()
    assert [line.split()[4:6] for line in compared[1:3]] == [["0.01", "1"], ["0.5", "0.9556"]]
    assert "accuracy:" in outputs["python pipeline_steps.py --step evaluate"][0]

    first, second = outputs["dvc repro"]
    assert stages_run(first) == ["load", "features", "train", "evaluate"]
    assert stages_run(second) == []
    assert stages_run(outputs["dvc exp run -S C=0.01"][0]) == ["train", "evaluate"]

    shown = experiments(project, env)
    swept = {name: found for name, found in shown.items() if found["params"]["C"] in (0.05, 0.2, 1.0)}
    assert len(swept) == 3 and all("accuracy" in found["metrics"] for found in swept.values())
    table = outputs["nb2pipe runs --sort accuracy"][1]
    for name, found in swept.items():
        [row] = [line for line in table.splitlines() if f" {name} " in line]
        assert f"{found['metrics']['accuracy']:.4f}".rstrip("0").rstrip(".") in row.split()
    assert all(name in outputs["dvc exp show"][0] for name in swept)
