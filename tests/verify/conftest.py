"""Fixtures for verify tests: cells with saved outputs, and running ``nb2pipe verify``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from nb2pipe.cli import cli


def stdout(text: str) -> dict[str, Any]:
    """A saved stdout stream output."""
    return {"output_type": "stream", "name": "stdout", "text": text}


def stderr(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stderr", "text": text}


def result(plain: str, count: int | None = None, **data: str) -> dict[str, Any]:
    """A saved ``execute_result``; extra MIME types as ``image_png=...`` style keywords."""
    bundle = {"text/plain": plain, **{k.replace("_", "/", 1): v for k, v in data.items()}}
    return {
        "output_type": "execute_result",
        "execution_count": count,
        "data": bundle,
        "metadata": {},
    }


def display(**data: str) -> dict[str, Any]:
    bundle = {k.replace("_", "/", 1): v for k, v in data.items()}
    return {"output_type": "display_data", "data": bundle, "metadata": {}}


def error(ename: str, evalue: str) -> dict[str, Any]:
    return {
        "output_type": "error",
        "ename": ename,
        "evalue": evalue,
        "traceback": [f"{ename}: {evalue}"],
    }


def code(
    source: str, *outputs: dict[str, Any], count: int | None = None, tags: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A code cell with saved outputs and execution count (for ``make_notebook``)."""
    cell: dict[str, Any] = {"source": source, "outputs": list(outputs), "execution_count": count}
    if tags:
        cell["metadata"] = {"tags": list(tags)}
    return cell


def numbered(*cells: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """Give cells the execution counts of a top-to-bottom run (1, 2, ...), unless set."""
    out = []
    for number, cell in enumerate(cells, 1):
        out.append({**cell, "execution_count": cell.get("execution_count") or number})
    return tuple(out)


@dataclass
class VerifyRun:
    exit_code: int
    output: str
    report: dict[str, Any]

    def notebook(self, name: str) -> dict[str, Any]:
        """The JSON report of the notebook whose file name is ``name``."""
        matches = [nb for nb in self.report["notebooks"] if Path(nb["path"]).name == name]
        assert len(matches) == 1, [nb["path"] for nb in self.report["notebooks"]]
        return matches[0]

    def reasons(self, name: str) -> list[tuple[int | None, str]]:
        """(cell index, reason) of each mismatch of notebook ``name``."""
        return [(m["cell_index"], m["reason"]) for m in self.notebook(name)["mismatches"]]


def invoke_verify(*args: str | Path, report_dir: Path) -> VerifyRun:
    """Run ``nb2pipe verify ARGS --json ...`` in-process and read the JSON report back."""
    report_path = report_dir / "verify-report.json"
    report_path.unlink(missing_ok=True)
    outcome = CliRunner().invoke(
        cli, ["verify", *map(str, args), "--json", str(report_path)], catch_exceptions=False
    )
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return VerifyRun(outcome.exit_code, outcome.output, report)


@pytest.fixture
def run_verify(tmp_path: Path) -> Callable[..., VerifyRun]:
    def run(*args: str | Path) -> VerifyRun:
        return invoke_verify(*args, report_dir=tmp_path)

    return run
