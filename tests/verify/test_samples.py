"""The sample notebooks, saved from a fresh run, through the whole of verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import VerifyRun

pytestmark = pytest.mark.kernel

#: explore_messy's %time / %%time cells (timings differ each run; the cv cell's stdout is
#: split into several stream outputs at places that differ too)
TIMING_CELLS = {8, 15, 24}


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


def test_explore_messy_differs_only_where_it_really_does(samples_run: VerifyRun) -> None:
    """Timings and split streams are normalized away; what remains are real differences:
    ``%%writefile`` says "Writing" in a fresh checkout where the saved run said "Overwriting"
    (its output depends on a file the notebook itself writes), and `!ls data` prints columns
    in the kernel's pseudo-terminal but one name a line in the script."""
    report = samples_run.notebook("explore_messy.ipynb")
    assert not any(m["cell_index"] in TIMING_CELLS for m in report["mismatches"]), (
        samples_run.output
    )
    assert {(m["cell_index"], m["reason"]) for m in report["mismatches"]} <= {
        (20, "output-differs"),
        (3, "script-differs"),
    }
    assert "durations" in report["normalizers"]
    writefile = [m for m in report["mismatches"] if m["cell_index"] == 20]
    if writefile:
        assert "the cell writes column_notes.txt" in writefile[0]["message"]


def test_samples_html_report_has_a_section_per_notebook(samples_run: VerifyRun) -> None:
    page = (Path(samples_run.report["notebooks"][0]["path"]).parent / "report.html").read_text()
    assert page.count("<section>") == 3
