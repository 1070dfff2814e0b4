"""A clean notebook passes, through volatile outputs; --update saves outputs and data hashes;
a data file changed since then is named as the reason."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from ..conftest import notebook_json
from .conftest import VerifyRun, invoke_verify

pytestmark = pytest.mark.kernel

CLEAN_CELLS = [
    "%matplotlib inline\nimport datetime, tempfile, time\nimport matplotlib.pyplot as plt\n"
    "import pandas as pd\nfrom tqdm import tqdm",
    "class Model:\n    pass\n\nprint(Model())",  # memory address
    'print("now", datetime.datetime.now())',  # timestamp
    # durations (and timing lines the script does not print)
    "%time total = sum(range(10**5))\nprint(total)",
    'print("\\x1b[32mgreen\\x1b[0m")',  # ANSI codes
    "for _ in tqdm(range(30), mininterval=0):\n    time.sleep(0.001)",  # tqdm on stderr
    'print("scratch", tempfile.mkdtemp())',  # temp path
    "print(0.1 + 0.2)",  # float within rtol once the saved text is edited
    "fig, ax = plt.subplots(figsize=(3, 2))\nax.bar([0, 1, 2], [3, 1, 2])\nplt.show()",  # image
    'df = pd.DataFrame({"a": [1.5, 2.5], "b": ["x", "y"]})\ndf',  # HTML table
    ("import random\nprint(random.random())", ["nb2pipe:ignore-output"]),
    ("print(time.time())", ["nbval-ignore-output"]),
    ("1 / 0", ["raises-exception"]),
    'rows = open("data.csv").read().splitlines()\nprint(len(rows), "rows")',  # a data file read
]
DATA_CELLS = ['import pandas as pd\ndf = pd.read_csv("values.csv")', 'print(df["v"].sum())']


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _edit_outputs(path: Path) -> None:
    """Change saved outputs the way another run (or machine) would, keeping their values."""
    from PIL import Image

    notebook = json.loads(path.read_text())
    cells = notebook["cells"]

    def text(index: int, name: str = "stdout") -> dict[str, Any]:
        # a loaded kernel may send one print as several stream messages: join them first
        outputs = cells[index]["outputs"]
        streams = [o for o in outputs if o.get("name") == name]
        streams[0]["text"] = "".join("".join(o["text"]) for o in streams)
        cells[index]["outputs"] = [o for o in outputs if o not in streams[1:]]
        return streams[0]

    def sub(output: dict[str, Any], pattern: str, repl: str) -> None:
        joined = "".join(output["text"])
        changed = re.sub(pattern, repl, joined)
        assert changed != joined, (pattern, joined)
        output["text"] = changed

    sub(text(1), r"0x[0-9a-f]+", "0x7f0000abcdef")
    sub(text(2), r"\d{4}-\d{2}-\d{2} [\d:.]+", "2001-02-03 04:05:06.789012")
    sub(text(3), r"Wall time: .*", "Wall time: 987 µs")
    text(4)["text"] = "green\n"
    # another run's bar: other states, rates and glyphs (tqdm wrote each state as its own
    # stream output; the run's stderr is all of them together)
    bar = [o for o in cells[5]["outputs"] if o.get("name") == "stderr"]
    cells[5]["outputs"] = [o for o in cells[5]["outputs"] if o not in bar[1:]]
    bar[0]["text"] = (
        "\r  0%|          | 0/30 [00:00<?, ?it/s]"
        "\r 40%|####      | 12/30 [00:01<00:02,  8.80it/s]"
        "\r100%|##########| 30/30 [00:03<00:00,  9.12it/s]\n"
    )
    sub(text(6), r"/tmp/\S+", "/tmp/tmpq1w2e3r4")
    text(7)["text"] = "0.3\n"
    figure = next(o for o in cells[8]["outputs"] if "image/png" in o.get("data", {}))
    image = Image.open(io.BytesIO(base64.b64decode(figure["data"]["image/png"])))
    buffer = io.BytesIO()
    image.save(buffer, format="png", optimize=True, compress_level=9)
    assert base64.b64encode(buffer.getvalue()).decode() != figure["data"]["image/png"]
    figure["data"]["image/png"] = base64.b64encode(buffer.getvalue()).decode()
    table = cells[9]["outputs"][0]["data"]
    html = "".join(table["text/html"])
    table["text/html"] = re.sub(r"<style.*?</style>", "", html, flags=re.S).replace(
        'border="1"', 'border="0"'
    )
    text(10)["text"] = "0.123\n"
    text(11)["text"] = "1.0\n"
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two notebooks saved without outputs, then ``verify --update`` run on both."""
    root = tmp_path_factory.mktemp("project")
    clean, data = root / "clean", root / "data_nb"
    clean.mkdir()
    data.mkdir()
    (clean / "data.csv").write_text("a\n1\n2\n")
    (clean / "clean.ipynb").write_text(json.dumps(notebook_json(*CLEAN_CELLS)), encoding="utf-8")
    (data / "values.csv").write_text("v\n1\n2\n")
    (data / "data_nb.ipynb").write_text(json.dumps(notebook_json(*DATA_CELLS)), encoding="utf-8")
    update = invoke_verify(clean, data, "--update", "--no-script", "-j", "2", report_dir=root)
    return {"root": root, "clean": clean, "data": data, "update": update}


def test_update_writes_outputs_and_data_hashes(project: dict[str, Any]) -> None:
    update: VerifyRun = project["update"]
    assert update.exit_code == 0, update.output
    assert all(nb["updated"] for nb in update.report["notebooks"])
    saved = json.loads((project["clean"] / "clean.ipynb").read_text())
    assert saved["metadata"]["nb2pipe"]["data_files"] == {
        "data.csv": _sha(project["clean"] / "data.csv")
    }
    counts = [cell["execution_count"] for cell in saved["cells"]]
    assert counts == list(range(1, len(CLEAN_CELLS) + 1))
    assert saved["cells"][12]["outputs"][0]["ename"] == "ZeroDivisionError"
    assert "papermill" not in saved["metadata"]
    assert all("papermill" not in cell["metadata"] for cell in saved["cells"])
    assert [("".join(c["source"])) for c in saved["cells"]] == [
        c if isinstance(c, str) else c[0] for c in CLEAN_CELLS
    ]
    # the data file is recorded at run time, by the kernel's audit hook, with the reading cell
    report = next(nb for nb in update.report["notebooks"] if nb["path"].endswith("clean.ipynb"))
    assert report["data_files"] == [
        {
            "path": "data.csv",
            "sha256": _sha(project["clean"] / "data.csv"),
            "saved_sha256": None,
            "changed": False,
            "read_by_cell_index": 13,
        }
    ]


def test_clean_notebook_passes_through_volatile_outputs(project: dict[str, Any]) -> None:
    notebook = project["clean"] / "clean.ipynb"
    _edit_outputs(notebook)
    before = notebook.read_bytes()
    outcome = invoke_verify(notebook, report_dir=project["root"])
    assert outcome.exit_code == 0, outcome.output
    report = outcome.notebook("clean.ipynb")
    assert report["cells_compared"] == len(CLEAN_CELLS) - 2 and report["cells_ignored"] == 2
    assert report["script"]["status"] == "equal"
    assert [h["kind"] for h in report["static_hazards"]] == ["unseeded-random"]
    assert set(report["normalizers"]) >= {
        "memory addresses",
        "timestamps",
        "durations",
        "ANSI codes",
        "progress output",
        "temp paths",
        "float tolerance",
        "HTML tables by value",
        "images by pixels",
    }
    assert notebook.read_bytes() == before  # never modified without --update
    assert "1 notebook: 1 reproduce" in outcome.output


def test_edited_value_still_fails_after_normalization(
    project: dict[str, Any], tmp_path: Path
) -> None:
    notebook = json.loads((project["clean"] / "clean.ipynb").read_text())
    output = next(o for o in notebook["cells"][13]["outputs"])
    output["text"] = "4 rows\n"
    copy = project["clean"] / "edited.ipynb"
    copy.write_text(json.dumps(notebook), encoding="utf-8")
    try:
        outcome = invoke_verify(copy, "--no-script", report_dir=tmp_path)
    finally:
        copy.unlink()
    assert outcome.exit_code == 1
    assert outcome.reasons("edited.ipynb") == [(13, "output-differs")]


def test_changed_data_file_is_named(project: dict[str, Any]) -> None:
    (project["data"] / "values.csv").write_text("v\n1\n5\n")
    outcome = invoke_verify(project["data"], "--no-script", report_dir=project["root"])
    assert outcome.exit_code == 1, outcome.output
    assert outcome.reasons("data_nb.ipynb") == [(1, "data-changed")]
    finding = outcome.notebook("data_nb.ipynb")["mismatches"][0]
    assert "data file values.csv changed since the outputs were saved" in finding["message"]
    assert "-3" in finding["diff"] and "+6" in finding["diff"]
    data_file = outcome.notebook("data_nb.ipynb")["data_files"][0]
    assert data_file["changed"] and data_file["read_by_cell_index"] == 0
