"""The walkthrough of docs/pipelines.md, run once per session: its commands and their outputs."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..conftest import ROOT, SAMPLES, bash_commands
from .helpers import project_env

DOC = ROOT / "docs" / "pipelines.md"
MARK = "@@nb2pipe-walkthrough-command@@"


def doc_commands() -> list[str]:
    return bash_commands(DOC)


@dataclass
class Walkthrough:
    project: Path  #: the folder the walkthrough works in (a DVC project in a git repository)
    env: dict[str, str]
    #: command -> its outputs (stdout and stderr), one per time it ran
    outputs: dict[str, list[str]]


@pytest.fixture(scope="session")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> Walkthrough:
    """Run the walkthrough's commands, in order, in one ``bash`` session (``set -eu``), in a
    folder holding a copy of the step sample as ``sample_notebooks/``."""
    root = tmp_path_factory.mktemp("walkthrough")
    samples = root / "sample_notebooks"
    (samples / "data").mkdir(parents=True)
    shutil.copy(SAMPLES / "pipeline_steps.ipynb", samples)
    shutil.copy(SAMPLES / "data" / "wine.csv", samples / "data")
    commands = doc_commands()
    script = "set -eu\n" + "".join(f"echo {MARK}{i}\n{command}\n" for i, command in enumerate(commands))
    env = project_env(root)
    done = subprocess.run(
        ["bash", "-c", script], cwd=root, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=900, stdin=subprocess.DEVNULL, check=False,
    )
    assert done.returncode == 0, done.stdout[-5000:]
    pieces = re.split(rf"^{MARK}(\d+)\n", done.stdout, flags=re.MULTILINE)
    outputs: dict[str, list[str]] = {}
    for number, text in zip(pieces[1::2], pieces[2::2]):
        outputs.setdefault(commands[int(number)], []).append(text)
    return Walkthrough(root / "pipeline-demo", env, outputs)
