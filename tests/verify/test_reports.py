"""Reports: JSON against its schema, JUnit through a real parser, HTML as one static page."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest

from nb2pipe.analysis import Hazard, HazardKind
from nb2pipe.model import Output
from nb2pipe.verify import (
    DataFile,
    MaskedCell,
    MaskedText,
    Mismatch,
    NotebookReport,
    NotebookStatus,
    Reason,
    ScriptCheck,
    ScriptStatus,
    VerificationFailed,
    VerifyReport,
    raise_for_mismatches,
)
from nb2pipe.verify.html_report import html_report
from nb2pipe.verify.junit import junit_xml

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "verify-report.schema.json"


def validate_report(report: dict[str, Any]) -> None:
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(report)


def _png() -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "purple").save(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


#: a cell of the passing notebook: its timing lines and a progress bar were masked
MASKED = (
    MaskedCell(
        1,
        "fit",
        "%time model.fit(X, y)",
        False,
        (
            MaskedText("durations", "saved", "stdout", 0, 18, "Wall time: 2.21 ms"),
            MaskedText("durations", "fresh", "stdout", 0, 18, "Wall time: 3.90 ms"),
            MaskedText("progress output", "saved", "stderr", 5, 15, "██████████"),
            MaskedText("progress output", "fresh", "stderr", 5, 15, "##########"),
            MaskedText("ANSI codes", "saved", "stdout", 30, 37, "\x1b[0;31m"),
            MaskedText("ANSI codes", "fresh", "stdout", 30, 37, "\x1b[0;31m"),
            MaskedText("memory addresses", "fresh", "text/plain", 20, 34, "0x7f3a2c1d5e50"),
        ),
    ),
)


def sample_report() -> VerifyReport:
    image = Output("display_data", data={"image/png": _png(), "text/plain": "<Figure>"})
    table = Output(
        "execute_result",
        data={"text/html": "<table><tr><td>1</td></tr></table><script>alert(1)</script>"},
    )
    failing = NotebookReport(
        path=Path("nbs/train.ipynb"),
        status=NotebookStatus.DIFFERS,
        mismatches=(
            Mismatch(
                Reason.OUTPUT_DIFFERS,
                3,
                "plot",
                "image/png differs",
                "mean ...",
                ("images by pixels",),
                saved=(image,),
                fresh=(table,),
            ),
            Mismatch(
                Reason.TIMEOUT,
                5,
                None,
                "the cell ran longer than the 3 s timeout",
                "\x1b[31mred\x1b[0m",
            ),
            Mismatch(Reason.SCRIPT_FAILED, None, None, "the script exited with status 1: boom"),
        ),
        hazards=(
            Hazard(
                HazardKind.UNSEEDED_RANDOM, 2, "c2", ("random.random",), "draws", "seed it", line=1
            ),
        ),
        notes=("a note",),
        cells_compared=4,
        data_files=(DataFile("data/x.csv", "a" * 64, "b" * 64, 1), DataFile("/abs/y.csv", None)),
        script=ScriptCheck(ScriptStatus.FAILED, "boom", 1.5),
        duration=2.0,
    )
    passing = NotebookReport(
        Path("nbs/ok.ipynb"), NotebookStatus.REPRODUCES, cells_compared=2, masked=MASKED
    )
    invalid = NotebookReport(
        Path("nbs/bad.ipynb"), NotebookStatus.INVALID, error="bad.ipynb: invalid JSON"
    )
    return VerifyReport((failing, passing, invalid), duration=3.0)


def test_json_report_validates() -> None:
    report = sample_report()
    data = report.to_json()
    validate_report(data)
    assert data["exit_code"] == 2
    assert data["summary"] == {"notebooks": 3, "reproduce": 1, "differ": 1, "invalid": 1}
    assert data["notebooks"][0]["data_files"][0]["changed"] is True
    assert data["notebooks"][0]["mismatches"][0]["cell"] == "cell 4 (id plot)"
    [cell] = data["notebooks"][1]["masked"]
    assert (cell["cell"], cell["differs"], len(cell["masked"])) == ("cell 2 (id fit)", False, 7)
    assert cell["masked"][0] == {
        "rule": "durations", "side": "saved", "output": "stdout", "start": 0, "end": 18,
        "text": "Wall time: 2.21 ms",
    }


def test_schema_rejects_an_unknown_reason() -> None:
    import jsonschema

    data = sample_report().to_json()
    data["notebooks"][0]["mismatches"][0]["reason"] = "flaky"
    with pytest.raises(jsonschema.ValidationError):
        validate_report(data)


def test_schema_lists_exactly_the_reasons() -> None:
    schema = json.loads(SCHEMA.read_text())
    assert schema["$defs"]["reason"]["enum"] == [reason.value for reason in Reason]


def test_junit_parses_back(tmp_path: Path) -> None:
    from junitparser import Error, Failure, JUnitXml

    path = tmp_path / "report.xml"
    path.write_text(junit_xml(sample_report()), encoding="utf-8")
    xml = JUnitXml.fromfile(str(path))
    cases = {(case.classname, case.name): case for suite in xml for case in suite}
    assert len(cases) == 3 + 2  # a case per notebook and per differing cell
    notebook_case = cases[("nb2pipe.verify", "nbs/train.ipynb")]
    # the notebook's own case fails for what is about no one cell: the script failed
    assert isinstance(notebook_case.result[0], Failure)
    assert notebook_case.result[0].type == "script-failed"
    timeout = cases[("nbs/train.ipynb", "cell 6")].result[0]
    assert (
        timeout.type == "timeout"
        and "red" in (timeout.text or "")
        and "\x1b" not in (timeout.text or "")
    )
    assert cases[("nb2pipe.verify", "nbs/ok.ipynb")].is_passed
    assert isinstance(cases[("nb2pipe.verify", "nbs/bad.ipynb")].result[0], Error)
    suite = next(iter(xml))
    assert (suite.tests, suite.failures, suite.errors) == (5, 3, 1)


def test_junit_counts_a_differing_cell_once(tmp_path: Path) -> None:
    """One cell whose output and script output differ: two tests (the notebook, the cell),
    one failure (the cell, with both findings)."""
    from junitparser import Failure, JUnitXml

    report = NotebookReport(
        path=Path("nbs/one.ipynb"),
        status=NotebookStatus.DIFFERS,
        mismatches=(
            Mismatch(Reason.OUTPUT_DIFFERS, 2, None, "stdout differs", "-a\n+b"),
            Mismatch(Reason.SCRIPT_DIFFERS, 2, None, "the script's stdout differs", "-a\n+c"),
        ),
        cells_compared=3,
        duration=1.0,
    )
    path = tmp_path / "report.xml"
    path.write_text(junit_xml(VerifyReport((report,), duration=1.0)), encoding="utf-8")
    suite = next(iter(JUnitXml.fromfile(str(path))))
    assert (suite.tests, suite.failures, suite.errors) == (2, 1, 0)
    notebook, cell = list(suite)
    assert notebook.is_passed and cell.name == "cell 3"
    [failure] = cell.result
    assert isinstance(failure, Failure) and failure.type == "output-differs"
    assert "stdout differs; the script's stdout differs" == failure.message
    assert "script-differs: the script's stdout differs" in (failure.text or "")


def test_html_is_one_static_page_with_outputs_side_by_side() -> None:
    page = html_report(sample_report())
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page  # the output's script only lives escaped in a sandboxed srcdoc
    assert '<iframe sandbox="" srcdoc="&lt;table&gt;' in page
    assert f'<img alt="image/png" src="data:image/png;base64,{_png()}">' in page
    assert "<th>saved</th><th>fresh</th>" in page
    assert "static unseeded-random" in page
    assert "\x1b" not in page
    assert "http://" not in page and "https://" not in page  # nothing loaded from elsewhere
    # every masked span of a compared cell, saved beside fresh, with the rule that masked it
    assert "<h3>Equal after masking</h3>" in page
    assert (
        "<tr><td>durations</td><td>stdout</td><td><code>Wall time: 2.21 ms</code></td>"
        "<td><code>Wall time: 3.90 ms</code></td><td>1</td></tr>"
    ) in page
    assert "<td><code>\\x1b[0;31m</code></td>" in page
    assert (
        '<td>memory addresses</td><td>text/plain</td><td><span class="note">(nothing)</span>'
        "</td><td><code>0x7f3a2c1d5e50</code></td>"
    ) in page


def test_terminal_lists_masked_spans_per_cell_only_when_verbose() -> None:
    from rich.console import Console

    from nb2pipe.verify.terminal import masked_lines, render_notebook_report

    passing = sample_report().notebooks[1]
    quiet, verbose = io.StringIO(), io.StringIO()
    render_notebook_report(Console(file=quiet, width=200), passing)
    render_notebook_report(Console(file=verbose, width=200), passing, verbose=True)
    assert "masked" not in quiet.getvalue()
    assert verbose.getvalue().splitlines()[1:] == [
        "    cell 2 (id fit)  equal after masking",
        "      > %time model.fit(X, y)",
        '      masked durations in stdout: "Wall time: 2.21 ms" → "Wall time: 3.90 ms"',
        '      masked progress output in stderr: "██████████" → "##########"',
        '      masked memory addresses in text/plain: (nothing) → "0x7f3a2c1d5e50"',
        "      masked ANSI codes in stdout: 1 escape sequence(s) saved, 1 fresh",
    ]
    # a short list: past the limit, the rest is counted
    many = MaskedCell(
        0, None, "", True,
        tuple(
            MaskedText("durations", "saved", "stdout", i, i + 4, f"{i} ms") for i in range(10)
        ),
    )
    lines = masked_lines(many)
    assert len(lines) == 6 and lines[-1] == "… and 5 more (every one in --html and --json)"


def test_raise_for_mismatches() -> None:
    report = sample_report()
    with pytest.raises(VerificationFailed) as caught:
        raise_for_mismatches(report)
    assert caught.value.report is report
    assert str(caught.value) == "2 of 3 notebooks do not reproduce: train.ipynb, bad.ipynb"
    raise_for_mismatches(VerifyReport((report.notebooks[1],)))
