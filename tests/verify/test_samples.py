"""The sample notebooks, saved from a fresh run, through the whole of verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import VerifyRun

pytestmark = pytest.mark.kernel

@pytest.fixture(scope="module")
def samples_run(tmp_path_factory: pytest.TempPathFactory) -> VerifyRun:
    import shutil

    from ..conftest import SAMPLES
    from .conftest import invoke_verify

    folder = tmp_path_factory.mktemp("samples") / "samples"
    shutil.copytree(
        SAMPLES,
        folder,
        # what other runs leave beside the samples (scripts, figures, %track logs) stays out
        ignore=shutil.ignore_patterns(
            "*.py", "figures", "runs", "column_notes.txt", ".*", "__pycache__"
        ),
    )
    return invoke_verify(
        folder, "-j", "2", "--html", folder / "report.html", report_dir=folder.parent
    )


@pytest.mark.parametrize("name", ["train_classifier.ipynb", "pipeline_steps.ipynb"])
def test_clean_samples_reproduce_with_their_scripts(samples_run: VerifyRun, name: str) -> None:
    report = samples_run.notebook(name)
    assert report["status"] == "reproduces", samples_run.output
    assert report["script"]["status"] == "equal"
    assert report["data_files"][0]["path"] == "data/wine.csv"


def test_explore_messy_reproduces_with_its_script(samples_run: VerifyRun) -> None:
    """Timings and split streams are normalized away, and `!ls data` (columns on the
    kernel's pseudo-terminal, one name a line on the script's pipe) is compared word by word."""
    report = samples_run.notebook("explore_messy.ipynb")
    assert report["status"] == "reproduces", samples_run.output
    assert report["script"]["status"] == "equal"
    assert "durations" in report["normalizers"]


def test_samples_html_report_has_a_section_per_notebook(samples_run: VerifyRun) -> None:
    page = (Path(samples_run.report["notebooks"][0]["path"]).parent / "report.html").read_text()
    assert page.count("<section>") == 3
