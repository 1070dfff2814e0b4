"""Verify the executed corpus (``../shared/corpus/executed``): every notebook gets a verdict.

The corpus notebooks were saved with the outputs of a fresh run, next to their data. The
corpus is read-only, so each notebook's folder is copied into a temp dir first (verify runs a
notebook in its own folder and the notebook may write there). ``--corpus=subset`` (the
default, for CI) runs every fourth notebook, offset from the export tests' subset so that no
notebook runs twice in one CI run; ``--corpus=all`` runs them all.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from nb2pipe.verify import Reason

from ..conftest import CORPUS
from .conftest import invoke_verify

EXECUTED = CORPUS / "executed"


def _notebooks() -> list[Path]:
    if not EXECUTED.is_dir():
        return []
    return sorted(p for p in EXECUTED.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


NOTEBOOKS = _notebooks()


def _writable_copy(notebook: Path, tmp_path: Path) -> Path:
    target = tmp_path / notebook.parent.name
    shutil.copytree(
        notebook.parent, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", ".git")
    )
    for root, dirs, files in os.walk(target):
        for name in dirs + files:
            path = Path(root) / name
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
    target.chmod(target.stat().st_mode | stat.S_IWUSR)
    return target / notebook.name


@pytest.mark.corpus
@pytest.mark.kernel
@pytest.mark.parametrize(
    "notebook", NOTEBOOKS or [None], ids=lambda p: str(p.relative_to(EXECUTED)) if p else "absent"
)
def test_corpus_notebook_gets_a_verdict(
    notebook: Path | None, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if notebook is None:
        pytest.skip(f"no executed corpus at {EXECUTED} (set NB2PIPE_CORPUS to the corpus folder)")
    selection = request.config.getoption("--corpus")
    if selection == "none" or (selection == "subset" and NOTEBOOKS.index(notebook) % 4 != 2):
        pytest.skip("not in the CI subset (run with --corpus=all)")
    copy = _writable_copy(notebook, tmp_path)
    outcome = invoke_verify(copy, "--timeout", "600", report_dir=tmp_path)
    assert outcome.exit_code in (0, 1), outcome.output  # a verdict, not bad input
    assert "Traceback" not in outcome.output
    report = outcome.notebook(copy.name)
    assert report["status"] in ("reproduces", "differs")
    reasons = sorted({m["reason"] for m in report["mismatches"]})
    assert set(reasons) <= {reason.value for reason in Reason}
    verdict = report["status"] + (f" ({', '.join(reasons)})" if reasons else "")
    request.node.user_properties.append(("verdict", verdict))
    print(f"\n{notebook.relative_to(EXECUTED)}: {verdict}\n{outcome.output}")
