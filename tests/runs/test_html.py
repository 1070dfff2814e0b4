"""``nb2pipe runs --html``: a static page of a 4-run sweep, checked as HTML and rendered in
headless chromium (Debian's, driven by Playwright) with its plots and figures."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from nb2pipe.export import export_notebook

from .conftest import DATA, NOTEBOOKS, invoke, make_record, write_records

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
TREES = (5, 10, 20, 40)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where ``train_classifier.py`` ran 4 times (n_estimators 5, 10, 20, 40)."""
    folder = tmp_path_factory.mktemp("sweep")
    shutil.copy(NOTEBOOKS[0], folder)
    export_notebook(folder / NOTEBOOKS[0].name)
    shutil.copytree(DATA, folder / "data")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    for trees in TREES:
        done = subprocess.run(
            [sys.executable, "train_classifier.py", "--n-estimators", str(trees),
             "--max-depth", "2"],
            cwd=folder, capture_output=True, text=True, timeout=300, check=False,
            env={**environment, "MPLBACKEND": "Agg"},
        )
        assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture(scope="module")
def page_file(sweep: Path) -> Path:
    """The page, written into a subfolder (its figure links must lead back to ``runs/``)."""
    path = sweep / "report" / "runs.html"
    path.parent.mkdir()
    result = invoke(str(sweep), "--html", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"wrote {path}: 1 experiment, 4 runs\n"
    return path


class _Links(HTMLParser):
    """Every URL an element of the page loads or links to."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.urls.append((tag, value))


def test_the_page_is_self_contained(page_file: Path) -> None:
    text = page_file.read_text(encoding="utf-8")
    links = _Links()
    links.feed(text)
    assert "link" not in links.tags  # no stylesheet from elsewhere
    assert [url for tag, url in links.urls if tag == "script"] == []  # the script is inline
    figures = [url for tag, url in links.urls if tag == "img"]
    assert len(figures) == 4
    for url in [url for _tag, url in links.urls if not url.startswith("#")]:
        assert not re.match(r"[a-z]+:", url), url  # relative: no http(s), no file:
        assert (page_file.parent / url).is_file(), url
    assert all(url.startswith("../runs/") and url.endswith("/artifacts/figures/"
               "train_classifier-cell14-1.png") for url in figures)
    assert text.count('<section class="experiment"') == 1
    assert '<select class="metric"><option>accuracy</option><option>f1</option>' in text


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.e2e
def test_the_page_renders_plots_and_figures_in_chromium(page_file: Path, chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(page_file.as_uri())
        page.wait_for_selector("body[data-ready=true]")
        scatter = page.locator("section.experiment svg.scatter")
        box = scatter.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 150
        points = scatter.locator("circle.point")
        assert points.count() == 4
        # parameter n_estimators (the one that varies) against accuracy: 4 distinct x positions
        assert page.locator("select.param").input_value() == "n_estimators"
        xs = {float(points.nth(i).get_attribute("cx") or "nan") for i in range(4)}
        assert len(xs) == 4
        titles = sorted(points.nth(i).locator("title").text_content() or "" for i in range(4))
        assert all(re.match(r"run \d: \S+, n_estimators=\d+, accuracy=0\.\d+", t) for t in titles)
        for metric in ("accuracy", "f1", "n_test"):
            trend = page.locator(f'svg.trend[data-metric="{metric}"]')
            assert trend.locator("circle.point").count() == 4
            assert trend.locator("polyline.trend-line").count() == 1
        # choosing another metric redraws the scatter
        page.select_option("select.metric", "f1")
        assert "f1=" in (scatter.locator("circle.point title").first.text_content() or "")
        images = page.locator(".figures img")
        assert images.count() == 4
        page.wait_for_function(
            "[...document.querySelectorAll('.figures img')].every(i => i.complete && i.naturalWidth > 0)"
        )
        # the table sorts by a clicked column, and back
        header = page.locator("table.runs th", has_text="n_estimators")
        header.click()
        header.click()
        column = page.locator("table.runs tbody tr td:nth-child(5)")
        assert [column.nth(i).inner_text() for i in range(4)] == ["40", "20", "10", "5"]
        screenshots = REPO / "build" / "screenshots"
        screenshots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshots / "runs-html.png"), full_page=True)
    finally:
        context.close()
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests


def test_the_best_run_is_highlighted(page_file: Path, sweep: Path) -> None:
    text = page_file.read_text(encoding="utf-8")
    assert text.count('<tr class="best">') == 1
    assert text.count('<span class="badge" title="see the notes below">best</span>') == 1
    best = re.search(r'<tr class="best"><td data-sort="(\d)"', text)
    assert best is not None
    table = invoke(str(sweep)).stdout.splitlines()
    assert f'<li class="best">best: run {best[1]}, accuracy ' in text
    assert any(line.startswith(f">  {best[1]}  ") for line in table)


@pytest.fixture(scope="module")
def log_spread_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs whose C spans three decades (0.01 ... 10)."""
    folder = tmp_path_factory.mktemp("log")
    write_records(folder / "runs", *(
        make_record(f"r0{number}", params={"C": c, "seed": 7}, metrics={"accuracy": accuracy})
        for number, (c, accuracy) in enumerate(
            ((0.01, 0.71), (0.03, 0.75), (0.1, 0.8), (0.3, 0.84), (1.0, 0.86), (10.0, 0.83)), 1
        )
    ))
    path = folder / "runs.html"
    assert invoke(str(folder), "--html", str(path)).exit_code == 0
    return path


@pytest.mark.e2e
def test_a_parameter_spanning_decades_gets_a_log_axis(
    log_spread_page: Path, page_file: Path, chromium: Any
) -> None:
    context = chromium.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(log_spread_page.as_uri())
        page.wait_for_selector("body[data-ready=true]")
        scatter = page.locator("section.experiment svg.scatter")
        assert scatter.get_attribute("data-x-scale") == "log"
        assert "C (log scale)" in (scatter.locator("text.axis-label").first.text_content() or "")
        xs = sorted(
            float(scatter.locator("circle.point").nth(i).get_attribute("cx") or "nan")
            for i in range(6)
        )
        # 0.01, 0.03, 0.1 spread like 0.1, 0.3, 1: not bunched at the left edge
        assert xs[2] - xs[0] > 0.25 * (xs[-1] - xs[0])
        assert abs((xs[2] - xs[0]) - (xs[4] - xs[2])) < 1.0
        ticks = [scatter.locator("text.tick").nth(i).text_content()
                 for i in range(scatter.locator("text.tick").count())]
        assert {"0.01", "0.1", "1", "10"} <= set(ticks)
        # the best run (C=1, accuracy 0.86): its row highlighted, its point marked
        row = page.locator("table.runs tr.best")
        assert row.count() == 1 and "r05" in row.inner_text()
        best = scatter.locator("circle.point.best")
        assert best.count() == 1 and "(best)" in (best.locator("title").text_content() or "")
        assert row.evaluate("r => getComputedStyle(r.cells[0]).backgroundColor") != (
            page.locator("table.runs tbody tr").first.evaluate(
                "r => getComputedStyle(r.cells[0]).backgroundColor")
        )
        page.screenshot(path=str(REPO / "build" / "screenshots" / "runs-html-log.png"),
                        full_page=True)
        # n_estimators 5 ... 40 spans less than two decades: a linear axis
        page.goto(page_file.as_uri())
        page.wait_for_selector("body[data-ready=true]")
        assert page.locator("svg.scatter").get_attribute("data-x-scale") == "linear"
    finally:
        context.close()
    assert errors == []
