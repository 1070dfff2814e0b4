"""Prove a recovered path: run its notebook top to bottom in a fresh kernel, as verify does.

The run uses verify's runner (papermill, the notebook's kernel) and verify's judge (the same
normalisation and tolerances), in a scratch copy of the notebook's folder so that nothing of
the user's is written. A path is proven only when the run raised nothing unexpected and every
execution that carries saved outputs gave them back.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2pipe.analysis import (
    Hazard,
    HazardKind,
    NotebookAnalysis,
    analyze_notebook,
    find_static_hazards,
)
from nb2pipe.errors import Nb2PipeError
from nb2pipe.model import Notebook, notebook_from_json
from nb2pipe.verify.compare import CompareOptions
from nb2pipe.verify.judge import Judgement, judge_run
from nb2pipe.verify.report import Mismatch
from nb2pipe.verify.runner import RunFailure, copy_folder, run_notebook

__all__ = ["Proof", "prove"]


@dataclass(frozen=True)
class Proof:
    """What the fresh run of a recovered notebook showed."""

    reproduced: bool
    #: executions whose saved outputs were compared, and how many there are
    compared: int
    expected: int
    mismatches: tuple[Mismatch, ...]
    failure: RunFailure | None
    duration: float
    #: the recovered notebook as it was run (its cells are the judge's indices)
    notebook: Notebook


def prove(
    recovered: dict[str, Any],
    original: Path,
    *,
    kernel_name: str,
    timeout: float | None,
    options: CompareOptions,
) -> Proof:
    """Run the recovered notebook (nbformat JSON) in a fresh kernel, in a copy of the folder
    of ``original``, and judge every saved output it carries."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nb2pipe-recover-") as scratch:
        folder = copy_folder(original.resolve().parent, Path(scratch))
        path = folder / f".{original.stem}.nb2pipe-recover.ipynb"
        path.write_text(json.dumps(recovered), encoding="utf-8")
        notebook = notebook_from_json(recovered, path)
        run = run_notebook(
            path,
            kernel_name=kernel_name,
            timeout=int(timeout) if timeout else None,
        )
    analysis, hazards = _random_evidence(notebook)
    judgement: Judgement = judge_run(
        notebook,
        run,
        analysis=analysis,
        hazards=hazards,
        parameterized=False,
        data_files=(),
        options=options,
    )
    expected = sum(
        1 for cell in notebook.code_cells
        if cell.execution_count is not None and not cell.role.ignore_output
    )
    reproduced = (
        run.failure is None
        and not judgement.mismatches
        and judgement.cells_compared >= expected
    )
    return Proof(
        reproduced=reproduced,
        compared=judgement.cells_compared,
        expected=expected,
        mismatches=tuple(judgement.mismatches),
        failure=run.failure,
        duration=time.monotonic() - started,
        notebook=notebook,
    )


def _random_evidence(notebook: Notebook) -> tuple[NotebookAnalysis | None, tuple[Hazard, ...]]:
    """The analysis and unseeded-random hazards of the recovered notebook, so that a saved
    output that differs because of them is named so."""
    try:
        analysis = analyze_notebook(notebook)
    except Nb2PipeError:
        return None, ()
    hazards = tuple(
        h for h in find_static_hazards(analysis) if h.kind is HazardKind.UNSEEDED_RANDOM
    )
    return analysis, hazards
