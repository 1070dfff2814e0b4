"""Run a notebook in a fresh kernel and its exported script, and compare their stdout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from nb2pipe.analysis import parse_cell
from nb2pipe.model import load_notebook
from nb2pipe.verify.normalize import normalize_text

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
#: What %time / %timeit print; the script runs the statement without timing it.
_TIMING_LINE = re.compile(
    r"^(CPU times: .*|Wall time: .*|\S+ ± \S+ \S+ per loop .*|\d+(\.\d+)? \S+ ± .*per loop.*)$"
)
_TIMING_MAGICS = frozenset({"time", "timeit", "prun"})


def normalize(text: str) -> str:
    """Memory addresses and clock times (statsmodels' summary tables print the time) masked,
    as verify masks them."""
    lines = normalized_lines(text)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def normalized_lines(text: str) -> list[str]:
    text = normalize_text(text).text
    return [_ADDRESS.sub("0xADDR", line).rstrip() for line in text.splitlines()]


def notebook_cell_stdout(notebook_path: Path, timeout: int = 300) -> list[str]:
    """The stdout of each exported cell of ``notebook_path`` in a fresh kernel, in order."""
    model = load_notebook(notebook_path)
    nb = nbformat.read(notebook_path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(notebook_path.parent)}},
    )
    client.execute()
    chunks = []
    for cell, executed in zip(model.cells, nb.cells):
        role = cell.role
        if not cell.is_code or role.skip or cell.expects_error() or role.injected_parameters:
            continue
        text = "".join(
            out.get("text", "")
            for out in executed.get("outputs", [])
            if out.get("output_type") == "stream" and out.get("name") == "stdout"
        )
        magics = parse_cell(cell).symbols.magics
        if any(magic.name in _TIMING_MAGICS for magic in magics):
            text = "\n".join(l for l in text.splitlines() if not _TIMING_LINE.match(l.strip()))
            text += "\n" if text else ""
        chunks.append(text)
    return chunks


def agrees_but_for(expected: list[str], variable: set[int], actual: str) -> bool:
    """Whether ``actual`` prints the cells' stdout ``expected`` (normalized), where the cells
    at ``variable`` (their output differs between two fresh runs) may print any lines, as
    many as they did."""
    wanted: list[str | None] = []
    for index, chunk in enumerate(expected):
        lines = normalized_lines(chunk)
        wanted += [None] * len(lines) if index in variable else lines
    got = actual.splitlines()
    while wanted and wanted[-1] == "":
        wanted.pop()
    return len(wanted) == len(got) and all(w is None or w == g for w, g in zip(wanted, got))


def agrees_in_words_but_for(expected: list[str], variable: set[int], actual: str) -> bool:
    """:func:`agrees_but_for` for output compared as words in any order: every word of the
    steady cells is in ``actual``, which has as many words in all as the cells printed."""
    steady: Counter[str] = Counter()
    total = 0
    for index, chunk in enumerate(expected):
        words = normalize(chunk).split()
        total += len(words)
        if index not in variable:
            steady.update(words)
    got = Counter(actual.split())
    return sum(got.values()) == total and not steady - got


def script_stdout(script: Path, *args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    result = subprocess.run(
        [sys.executable, str(script), *args], cwd=cwd or script.parent,
        capture_output=True, text=True, timeout=300,
        # the kernel's environment (OPENBLAS_CORETYPE changes numerical results), with a
        # PATH that holds no virtual environment and a HOME of its own
        env={**os.environ, "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin", "HOME": str(script.parent)},
    )
    return result.returncode, normalize(result.stdout), result.stderr
