"""Verify the executed corpus (``../shared/corpus/executed``): every notebook gets the right verdict.

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

#: The notebooks that do not reproduce, and why. Every other one reproduces, its script too.
#: Those marked ``True`` draw unseeded random numbers verify sees in the code (the verdict is
#: certain); ``False``: randomness no rule sees (statsmodels, matplotlib's layout of random
#: data), found because two fresh runs differ, so a cell may also differ from the saved
#: output while two runs happen to agree on it.
NONDETERMINISTIC = {
    "numpy-tutorials/tutorial-air-quality-analysis.ipynb": True,
    "sklearn/classification__plot_lda.ipynb": True,  # make_blobs in generate_data()
    "sklearn/cluster__plot_kmeans_digits.ipynb": True,  # silhouette_score in bench_k_means()
    "sklearn/manifold__plot_swissroll.ipynb": True,  # locally_linear_embedding (ARPACK start)
    "sklearn/model_selection__plot_cv_indices.ipynb": True,
    "sklearn/svm__plot_oneclass.ipynb": True,
    "statsmodels/robust_models_0.ipynb": True,
    "statsmodels/ets.ipynb": False,  # simulate()
    "statsmodels/exponential_smoothing.ipynb": False,  # simulate()
    "statsmodels/kernel_density.ipynb": False,
}
#: Differences an environment explains: the saved output shows another one.
ENVIRONMENT = {
    "statsmodels/pca_fertility_factors.ipynb": "pandas stores strings with pyarrow",
}
#: The corpus was executed without this machine's `OPENBLAS_CORETYPE=Haswell`: with it,
#: OpenBLAS takes other code paths and statsmodels' fits move in the 4th digit
#: (deterministics, ets, exponential_smoothing), which verify reports as numbers that differ
#: (and by how much), not as a reproduction. The test runs kernels as the corpus was run.
_REFERENCE_ENVIRONMENT_UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


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
def test_corpus_notebook_gets_the_right_verdict(
    notebook: Path | None, tmp_path: Path, request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if notebook is None:
        pytest.skip(f"no executed corpus at {EXECUTED} (set NB2PIPE_CORPUS to the corpus folder)")
    selection = request.config.getoption("--corpus")
    if selection == "none" or (selection == "subset" and NOTEBOOKS.index(notebook) % 4 != 2):
        pytest.skip("not in the CI subset (run with --corpus=all)")
    for name in _REFERENCE_ENVIRONMENT_UNSET:
        monkeypatch.delenv(name, raising=False)
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
    name = notebook.relative_to(EXECUTED).as_posix()
    if name in NONDETERMINISTIC:
        assert report["status"] == "differs", outcome.output
        allowed = {"nondeterministic"} | (set() if NONDETERMINISTIC[name] else {"output-differs"})
        assert "nondeterministic" in reasons and set(reasons) <= allowed, outcome.output
    elif name in ENVIRONMENT:
        assert report["status"] == "differs" and reasons == ["output-differs"], outcome.output
        assert all(ENVIRONMENT[name] in m["message"] for m in report["mismatches"])
    else:
        assert report["status"] == "reproduces", outcome.output
        assert report["script"]["status"] == "equal", outcome.output
