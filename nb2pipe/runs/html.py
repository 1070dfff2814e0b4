"""``nb2pipe runs --html FILE``: one static page, a section per experiment.

Each section has the sortable table (the best run by the experiment's primary metric
highlighted), a scatter plot of a chosen parameter against a chosen metric (on a log axis when
the parameter's values span two decades or more), a metric-by-run plot per metric and each
run's figures as thumbnails. The page holds its script and styles inline (``page.js``,
``page.css`` beside this module) and loads nothing from the network; the thumbnails link to
the figures in ``runs/`` by relative path.
"""

from __future__ import annotations

import html
import json
import os
import re
import urllib.parse
from importlib import resources
from pathlib import Path
from typing import Any

from nb2pipe.errors import Nb2PipeError
from nb2pipe.files import write_atomically
from nb2pipe.runs.compare import Experiment, RunComparison
from nb2pipe.runs.rows import RunRow
from nb2pipe.runs.table import (
    BEST,
    MARK,
    data_cell,
    experiment_notes,
    heading,
    metric_cell,
    param_cell,
    varying_names,
)

__all__ = ["render_page", "write_page"]


def write_page(comparison: RunComparison, path: Path) -> None:
    """Write the page for ``comparison`` to ``path`` (atomically).

    Raises
    ------
    Nb2PipeError
        The file cannot be written.
    """
    text = render_page(comparison, path.parent)
    try:
        write_atomically(path, text)
    except OSError as exc:
        raise Nb2PipeError(f"--html {path}: cannot write: {exc.strerror or exc}") from None


def render_page(comparison: RunComparison, page_dir: Path) -> str:
    """The page's HTML; figure links are relative to ``page_dir``."""
    package = resources.files("nb2pipe.runs")
    script = package.joinpath("page.js").read_text(encoding="utf-8")
    style = package.joinpath("page.css").read_text(encoding="utf-8")
    count = len(comparison.rows)
    nav = " ".join(
        f'<a href="#{_anchor(i, e.name)}">{_e(e.name)}</a>'
        for i, e in enumerate(comparison.experiments, 1)
    )
    sections = "\n".join(
        _section(e, _anchor(i, e.name), page_dir) for i, e in enumerate(comparison.experiments, 1)
    )
    unreadable = "".join(
        f"<li class=\"warning\">unreadable record {_e(path)}: {_e(reason)}</li>"
        for path, reason in comparison.unreadable.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="nb2pipe runs --html">
<title>nb2pipe runs</title>
<style>
{style}</style>
</head>
<body>
<h1>Recorded runs</h1>
<p class="folder">{_count(len(comparison.experiments), "experiment")}, {_count(count, "run")}</p>
<nav>{nav}</nav>
{f'<ul class="notes">{unreadable}</ul>' if unreadable else ''}
{sections}
<script>
{script}</script>
</body>
</html>
"""


def _section(experiment: Experiment, anchor: str, page_dir: Path) -> str:
    title, meta = heading(experiment)
    rows = experiment.rows
    varying, _constant = varying_names(rows)
    metrics = list(dict.fromkeys(name for row in rows for name in row.metrics))
    notes = "".join(
        f'<li class="{_note_class(line)}">{_e(line.removeprefix(f"{BEST} "))}</li>'
        for line in (experiment_notes(experiment) if rows else ["no runs match the filters"])
    )
    data = {
        "name": experiment.name,
        "metrics": metrics,
        "runs": [_run_data(experiment, row) for row in rows],
    }
    return f"""<section class="experiment" id="{anchor}" data-experiment="{_e(experiment.name)}">
<h2>{_e(title.removeprefix("experiment "))}</h2>
<p class="meta">{_e(meta)}</p>
{_table(experiment, varying, metrics)}
<ul class="notes">{notes}</ul>
{_plots(rows, varying, metrics)}
{_figures(experiment, page_dir)}
<script type="application/json" class="run-data">{_json_for_html(data)}</script>
</section>"""


def _note_class(line: str) -> str:
    if line.startswith(f"{BEST} best:"):
        return "best"
    return "warning" if line.startswith(MARK) or " failed" in line else "note"


def _run_data(experiment: Experiment, row: RunRow) -> dict[str, Any]:
    return {
        "number": experiment.number(row),
        "label": row.label,
        "start": row.start,
        "status": row.status,
        "params": row.params,
        "metrics": row.metrics,
        "flagged": row.flagged,
        "best": experiment.is_best(row),
    }


def _table(experiment: Experiment, varying: list[str], metrics: list[str]) -> str:
    header = ["#", "run", "steps", "status", *varying, *metrics, "data", "commit"]
    head = "".join(f'<th scope="col">{_e(name)}</th>' for name in header)
    body = []
    for row in experiment.rows:
        cells = [
            _cell(str(experiment.number(row)), experiment.number(row), numeric=True),
            _cell(row.label, row.label, badge="best" if experiment.is_best(row) else None),
            _cell("+".join(row.steps) if row.steps else "all"),
            _cell(row.status),
            *(_cell(param_cell(row, name), _sort_key(row.params.get(name)), numeric=True)
              for name in varying),
            *(_cell(metric_cell(row, name), _sort_key(row.metrics.get(name)), numeric=True)
              for name in metrics),
            _cell(data_cell(experiment, row)),
            _cell((row.commit[:7] + ("*" if row.dirty else "")) if row.commit else "-"),
        ]
        kinds = [kind for kind, on in (("failed", row.status == "failed"),
                                        ("best", experiment.is_best(row))) if on]
        kind = f' class="{" ".join(kinds)}"' if kinds else ""
        body.append(f"<tr{kind}>{''.join(cells)}</tr>")
    return (
        f'<table class="runs"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _cell(text: str, sort: object = None, numeric: bool = False, badge: str | None = None) -> str:
    attributes = f' data-sort="{_e(str(sort))}"' if sort is not None else ""
    if numeric:
        attributes += ' class="num"'
    shown = _e(text)
    if text.endswith(MARK):
        shown = f'{_e(text[:-1])}<span class="flag" title="see the notes below">{MARK}</span>'
    if badge is not None:
        shown += f'<span class="badge" title="see the notes below">{_e(badge)}</span>'
    return f"<td{attributes}>{shown}</td>"


def _sort_key(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return value if isinstance(value, str) else json.dumps(value)


def _plots(rows: tuple[RunRow, ...], varying: list[str], metrics: list[str]) -> str:
    if not metrics:
        return '<p class="meta">No metrics recorded: nothing to plot.</p>'
    metric_options = "".join(f"<option>{_e(name)}</option>" for name in metrics)
    numeric = [
        name for name in varying
        if all(isinstance(row.params.get(name), (int, float, type(None))) for row in rows)
    ]
    choices = [*numeric, *(name for name in varying if name not in numeric)]
    param_options = "".join(f'<option value="{_e(n)}">{_e(n)}</option>' for n in choices)
    param_options += '<option value="#">run number</option>'
    trends = "".join(
        f'<div class="plot"><h3>{_e(name)} by run</h3>'
        f'<svg class="trend" data-metric="{_e(name)}" role="img" '
        f'aria-label="{_e(name)} of each run, oldest first"></svg></div>'
        for name in metrics
    )
    return f"""<h3>Parameters against a metric</h3>
<div class="controls"><label>metric <select class="metric">{metric_options}</select></label>
<label>parameter <select class="param">{param_options}</select></label></div>
<div class="plots"><div class="plot"><svg class="scatter" role="img" aria-label="the chosen parameter against the chosen metric"></svg></div></div>
<h3>Metrics by run</h3>
<div class="plots">{trends}</div>"""


def _figures(experiment: Experiment, page_dir: Path) -> str:
    items = []
    for row in experiment.rows:
        for figure in row.figures:
            link = _link(figure, page_dir)
            caption = f"run {experiment.number(row)}: {row.label} · {figure.name}"
            items.append(
                f'<figure><a href="{_e(link)}"><img src="{_e(link)}" alt="{_e(caption)}" '
                f'loading="lazy"></a><figcaption>{_e(caption)}</figcaption></figure>'
            )
    if not items:
        return ""
    return f'<h3>Figures</h3><div class="figures">{"".join(items)}</div>'


def _link(path: Path, page_dir: Path) -> str:
    """A URL for ``path`` from a page in ``page_dir``: relative where possible."""
    try:
        relative = os.path.relpath(path.resolve(), page_dir.resolve())
    except ValueError:  # another drive (Windows)
        return path.resolve().as_uri()
    return "/".join(urllib.parse.quote(part) for part in Path(relative).parts)


def _anchor(index: int, name: str) -> str:
    return f"experiment-{index}-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "x")


def _json_for_html(value: object) -> str:
    """JSON safe inside ``<script>``: no ``</script>`` or ``<!--`` can end it early."""
    text = json.dumps(value, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
