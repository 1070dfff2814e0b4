"""The HTML form of a verify report: one static page, saved and fresh outputs side by side.

Everything is inline (CSS, images as data URIs), so the file can be opened from disk or kept
as a CI artifact. Notebook HTML outputs are shown in sandboxed ``iframe``s (``srcdoc``, no
scripts), so an output cannot run code in the report or break its layout.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Sequence

from nb2pipe.model import Output
from nb2pipe.verify.normalize import terminal_text
from nb2pipe.verify.report import (
    MaskedCell,
    Mismatch,
    NotebookReport,
    NotebookStatus,
    VerifyReport,
)
from nb2pipe.verify.text import diff_line_kind

__all__ = ["html_report", "write_html"]

_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp")

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; } h3 { font-size: 1em; }
.ok { color: #1a7f37; } .bad { color: #cf222e; } .invalid { color: #8250df; }
.reason { font-family: monospace; background: #ffebe9; padding: 0 .4em; border-radius: 3px; }
.note { color: #57606a; } .hazard { color: #9a6700; } .hint { color: #9a6700; }
pre.source { color: #57606a; margin: 0 0 .5em; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; white-space: pre-wrap; margin: .3em 0; }
pre.diff .add { color: #1a7f37; } pre.diff .del { color: #cf222e; }
pre.diff .hunk { color: #0969da; }
pre.stderr { background: #fff8c5; } pre.error { background: #ffebe9; }
table.sides { width: 100%; table-layout: fixed; border-collapse: collapse; }
table.sides th { text-align: left; background: #eaeef2; padding: .3em .6em; }
table.sides td { vertical-align: top; padding: .3em .6em; border: 1px solid #d0d7de;
                 overflow-x: auto; }
table.sides img { max-width: 100%; }
iframe { width: 100%; min-height: 14em; border: 1px solid #d0d7de; background: white; }
table.masked { border-collapse: collapse; margin: .3em 0; font-size: 13px; }
table.masked th { text-align: left; background: #eaeef2; padding: .2em .5em; }
table.masked td { border: 1px solid #d0d7de; padding: .2em .5em; vertical-align: top; }
table.masked code { white-space: pre-wrap; word-break: break-all; }
"""


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _render_output(output: Output) -> str:
    if output.output_type == "stream":
        name = output.name or "stdout"
        return f'<pre class="{_escape(name)}">{_escape(terminal_text(output.text or ""))}</pre>'
    if output.output_type == "error":
        traceback = terminal_text("\n".join(output.traceback))
        return (
            f'<pre class="error"><b>{_escape(output.ename or "")}: '
            f"{_escape(output.evalue or '')}</b>"
            f"\n{_escape(traceback)}</pre>"
        )
    data = output.data
    for mime in _IMAGES:
        if mime in data:
            payload = "".join(data[mime].split())
            return f'<img alt="{mime}" src="data:{mime};base64,{payload}">'
    if "image/svg+xml" in data:
        payload = base64.b64encode(data["image/svg+xml"].encode()).decode()
        return f'<img alt="image/svg+xml" src="data:image/svg+xml;base64,{payload}">'
    if "text/html" in data:
        return f'<iframe sandbox="" srcdoc="{_escape(data["text/html"])}"></iframe>'
    for mime in ("text/markdown", "text/latex", "application/json", "text/plain"):
        if mime in data:
            return f"<pre>{_escape(terminal_text(data[mime]))}</pre>"
    return f"<pre>({_escape(', '.join(sorted(data)) or 'empty output')})</pre>"


def _render_outputs(outputs: Sequence[Output]) -> str:
    if not outputs:
        return '<p class="note">(no output)</p>'
    return "\n".join(_render_output(output) for output in outputs)


def _render_diff(diff: str) -> str:
    lines = []
    for line in terminal_text(diff).splitlines():
        kind = diff_line_kind(line)
        css = "" if kind == "header" else kind
        escaped = _escape(line)
        lines.append(f'<span class="{css}">{escaped}</span>' if css else escaped)
    return '<pre class="diff">' + "\n".join(lines) + "</pre>"


def _code(text: str | None) -> str:
    if text is None:
        return '<span class="note">(nothing)</span>'
    shown = text.replace("\x1b", "\\x1b").replace("\r", "\\r")
    return f"<code>{_escape(shown)}</code>"


def _render_masked(cell: MaskedCell) -> str:
    """Every span a rule masked in the cell's outputs, saved beside fresh."""
    rows = [
        f"<tr><td>{_escape(pair.rule)}</td><td>{_escape(pair.output)}</td>"
        f"<td>{_code(pair.saved)}</td><td>{_code(pair.fresh)}</td>"
        f"<td>{pair.count}</td></tr>"
        for pair in cell.pairs()
    ]
    return (
        '<table class="masked"><tr><th>masked by</th><th>output</th><th>saved</th>'
        "<th>fresh</th><th>×</th></tr>" + "".join(rows) + "</table>"
    )


def _render_mismatch(mismatch: Mismatch, masked: MaskedCell | None = None) -> str:
    parts = [
        f"<h3>{_escape(mismatch.cell_label)} "
        f'<span class="reason">{mismatch.reason.value}</span></h3>',
        f"<p>{_escape(mismatch.message)}</p>",
    ]
    if mismatch.source:
        parts.append(f'<pre class="source">{_escape(mismatch.source)}</pre>')
    if mismatch.hint:
        parts.append(f'<p class="hint">hint: {_escape(mismatch.hint)}</p>')
    if mismatch.diff:
        parts.append(_render_diff(mismatch.diff))
    if mismatch.normalizers:
        parts.append(f'<p class="note">normalized: {_escape(", ".join(mismatch.normalizers))}</p>')
    if masked is not None:
        parts.append('<p class="note">masked before comparing:</p>' + _render_masked(masked))
    if mismatch.saved or mismatch.fresh:
        parts.append(
            '<table class="sides"><tr><th>saved</th><th>fresh</th></tr><tr>'
            f"<td>{_render_outputs(mismatch.saved)}</td><td>{_render_outputs(mismatch.fresh)}</td>"
            "</tr></table>"
        )
    return "\n".join(parts)


def _render_notebook(report: NotebookReport) -> str:
    css = {
        NotebookStatus.REPRODUCES: "ok",
        NotebookStatus.DIFFERS: "bad",
        NotebookStatus.INVALID: "invalid",
    }
    parts = [
        f'<section><h2><span class="{css[report.status]}">{report.status.value}</span> '
        f"{_escape(str(report.path))}</h2>"
    ]
    if report.error:
        parts.append(f"<p>{_escape(report.error)}</p>")
    else:
        parts.append(
            f'<p class="note">{report.cells_compared} cells compared, '
            f"{report.cells_ignored} ignored, "
            f"script {report.script.status.value}, {report.duration:.1f} s</p>"
        )
    parts += [
        f'<p class="hazard">static {h.kind.value}: '
        f"{_escape(h.cell_label)}: {_escape(h.message)}</p>"
        for h in report.hazards
    ]
    shown: set[int] = set()
    for mismatch in report.mismatches:
        masked = report.masked_cell(mismatch.cell_index)
        if masked is not None and masked.cell_index in shown:
            masked = None  # listed under the cell's first mismatch
        if masked is not None:
            shown.add(masked.cell_index)
        parts.append(_render_mismatch(mismatch, masked))
    equal = [cell for cell in report.masked if cell.cell_index not in shown]
    if equal:
        parts.append("<h3>Equal after masking</h3>")
        parts.append(
            '<p class="note">These cells compare equal once the spans below are masked: each '
            "row names the rule that masked a span.</p>"
        )
        for cell in equal:
            parts.append(f"<h4>{_escape(cell.cell_label)}</h4>")
            if cell.source:
                parts.append(f'<pre class="source">{_escape(cell.source)}</pre>')
            parts.append(_render_masked(cell))
    parts += [f'<p class="note">note: {_escape(note)}</p>' for note in report.notes]
    parts.append("</section>")
    return "\n".join(parts)


def html_report(report: VerifyReport) -> str:
    """The whole report as one self-contained HTML page."""
    body = "\n".join(_render_notebook(notebook) for notebook in report.notebooks)
    verdict = "ok" if report.ok else "bad"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>nb2pipe verify</title>"
        f"<style>{_CSS}</style></head><body>\n"
        f'<h1>nb2pipe verify: <span class="{verdict}">'
        f"{_escape(report.summary_line())}</span></h1>\n"
        f"{body}\n</body></html>\n"
    )


def write_html(report: VerifyReport, path: Path) -> None:
    from nb2pipe.files import write_atomically

    write_atomically(path, html_report(report))
