"""End to end on a real kernel: a number changed in a saved ``describe()`` table fails verify
(the masks of durations never take a table's number), and what was masked is shown.

The notebooks are saved by ``nb2pipe verify --update`` (real outputs of this environment), then
one number of a saved output is edited the way a stale or hand-edited notebook would hold it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ..conftest import notebook_json
from .conftest import VerifyRun, invoke_verify

pytestmark = pytest.mark.kernel

SETUP = "import pandas as pd\ndf = pd.DataFrame({'x': range(50, 66), 'y': [v * 0.5 for v in range(16)]})"
#: name -> (cells, the cell whose saved output is edited, the output and MIME type edited)
NOTEBOOKS: dict[str, tuple[list[str], int, str]] = {
    # the example: `std` is followed by a line starting `min`
    "describe_printed.ipynb": ([SETUP, "print(df['x'].describe())"], 1, "stream"),
    "describe_series.ipynb": ([SETUP, "df['x'].describe()"], 1, "text/plain"),
    "describe_text.ipynb": ([SETUP, "df.describe()"], 1, "text/plain"),
    "describe_html.ipynb": ([SETUP, "df.describe()"], 1, "text/html"),
    # timings around a table: masked, and the table still compared
    "timed.ipynb": (
        [
            SETUP,
            "%%time\nprint(df.describe())",
            "import time\nt0 = time.time()\ntime.sleep(0.01)\nprint(f'fit took {time.time() - t0:.6f} s')",
        ],
        -1,
        "",
    ),
}


def _std_line(text: str) -> str:
    match = re.search(r"^std\s+(\d+\.\d+)", text, re.MULTILINE)
    assert match is not None, text
    return match[1]


def _edit_std(path: Path, cell: int, what: str) -> tuple[str, str]:
    """Replace the saved `std` of ``cell`` in one output (a stream, or one MIME type)."""
    notebook = json.loads(path.read_text())
    outputs = notebook["cells"][cell]["outputs"]
    if what == "stream":
        output: dict[str, Any] = next(o for o in outputs if o["output_type"] == "stream")
        key, holder = "text", output
    else:
        output = next(o for o in outputs if "data" in o and what in o["data"])
        key, holder = what, output["data"]
    text = "".join(holder[key])
    if what == "text/html":
        match = re.search(r"<th>std</th>\s*<td>([\d.]+)</td>", text)
        assert match is not None, text
        old = match[1]
    else:
        old = _std_line(text)
    new = "9.999999" if old != "9.999999" else "1.234567"
    holder[key] = text.replace(old, new, 1)
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return old, new


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The notebooks saved with fresh outputs, then each edited, then verified once."""
    root = tmp_path_factory.mktemp("masking")
    folder = root / "notebooks"
    folder.mkdir()
    for name, (cells, _, _) in NOTEBOOKS.items():
        (folder / name).write_text(json.dumps(notebook_json(*cells)), encoding="utf-8")
    update = invoke_verify(folder, "--update", "--no-script", "-j", "2", report_dir=root)
    assert update.exit_code == 0, update.output
    edits = {}
    for name, (_, cell, what) in NOTEBOOKS.items():
        if cell >= 0:
            edits[name] = _edit_std(folder / name, cell, what)
    html = root / "report.html"
    run = invoke_verify(
        folder, "--no-script", "-j", "2", "--verbose", "--html", html, report_dir=root
    )
    return {"run": run, "edits": edits, "html": html.read_text()}


@pytest.mark.parametrize(
    "name", ["describe_printed.ipynb", "describe_series.ipynb", "describe_text.ipynb",
             "describe_html.ipynb"],
)
def test_a_changed_std_in_a_saved_describe_table_fails(project: dict[str, Any], name: str) -> None:
    run: VerifyRun = project["run"]
    assert run.exit_code == 1, run.output
    report = run.notebook(name)
    assert report["status"] == "differs", run.output
    [mismatch] = report["mismatches"]
    assert (mismatch["cell_index"], mismatch["reason"]) == (1, "output-differs")
    old, new = project["edits"][name]
    assert new in mismatch["diff"] and old in mismatch["diff"], mismatch["diff"]
    assert "<DURATION>" not in mismatch["diff"]
    assert "durations" not in mismatch["normalizers"]


def test_timings_around_a_table_are_masked_and_shown(project: dict[str, Any]) -> None:
    run: VerifyRun = project["run"]
    report = run.notebook("timed.ipynb")
    assert report["status"] == "reproduces", run.output
    masked = {cell["cell_index"]: cell for cell in report["masked"]}
    # %%time's two lines, and the `took` phrase: nothing of the describe() table
    timed = [(m["rule"], m["side"], m["text"]) for m in masked[1]["masked"]]
    assert [rule for rule, _, _ in timed] == ["durations"] * 4
    assert all(text.startswith(("CPU times:", "Wall time:")) for _, _, text in timed)
    took = [(m["rule"], m["text"]) for m in masked[2]["masked"]]
    assert [rule for rule, _ in took] == ["durations", "durations"]
    assert all(re.fullmatch(r"\d\.\d{6} s", text) for _, text in took)
    # --verbose lists them per cell; the HTML report too
    assert "cell 2 (id c1)  equal after masking" in run.output
    assert re.search(r'masked durations in stdout: "Wall time: [^"]+" → "Wall time: ', run.output)
    assert re.search(r'masked durations in stdout: "\d\.\d{6} s" → "\d\.\d{6} s"', run.output)
    assert "<h3>Equal after masking</h3>" in project["html"]
    assert "<td>durations</td><td>stdout</td><td><code>Wall time: " in project["html"]
