"""%track's markers on the cells and "Re-run suggested cells", in a real JupyterLab and kernel."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from .test_lab import open_notebook, run_from_command_palette

pytestmark = pytest.mark.e2e

RERUN_BUTTON = '.jp-NotebookPanel-toolbar [data-command="nb2pipe:rerun-suggested-cells"]'
CELLS = ".jp-Notebook .jp-Cell"
MARKER = ".nb2pipe-marker"
TOOLTIP = ".nb2pipe-tooltip"
TOAST = ".Toastify__toast"
KERNEL_IDLE = '.jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status="idle"]'
STATES = ("restart", "out-of-order", "unsafe", "stale", "edited", "rerun")
API_TIMEOUT = 20.0  # s: the kernel's log line, then the server's replay

TRACK_CELLS = (
    "%load_ext nb2pipe\n%track",
    "data = [1, 2]",
    "total = sum(data)",
    "data.append(3)",
    "print(total)",
)


def hazards_api(lab_server, api_path: str) -> dict[str, Any]:
    query = urllib.parse.urlencode({"path": api_path, "token": lab_server.token})
    with urllib.request.urlopen(f"{lab_server.url}/nb2pipe/hazards?{query}", timeout=10) as reply:
        return json.loads(reply.read())


def wait_for_track(lab_server, api_path: str, condition, what: str) -> dict[str, Any]:
    """The ``track`` the server answers once ``condition(track)`` holds."""
    deadline = time.monotonic() + API_TIMEOUT
    track = None
    while time.monotonic() < deadline:
        track = hazards_api(lab_server, api_path)["track"]
        if track is not None and condition(track):
            return track
        time.sleep(0.2)
    pytest.fail(f"the server never reported {what}; last track: {track}")


def cell_ids(lab_server, api_path: str) -> list[str]:
    notebook = json.loads((lab_server.root_dir / api_path).read_text())
    return [cell["id"] for cell in notebook["cells"]]


def answer_dialogs(page) -> None:
    """Answer Lab's "Select Kernel" dialog with the notebook's own kernel: Lab shows it while
    it is still loading the kernel specs, sometimes after the kernel already looked idle. Any
    other dialog in the way is a failure that names it."""
    dialog = page.locator(".jp-Dialog-content")
    if not dialog.count():
        return
    text = dialog.first.inner_text(timeout=5_000) if dialog.first.is_visible() else ""
    if "Select Kernel" in text:
        dialog.first.locator(".jp-Dialog-button.jp-mod-accept").click()
        dialog.first.wait_for(state="detached", timeout=10_000)
    elif text:
        pytest.fail(f"a dialog is in the way: {' '.join(text.split())}")


def wait_for_idle_kernel(page) -> None:
    """Wait for the notebook's kernel, answering a "Select Kernel" dialog."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer_dialogs(page)
        if page.locator(KERNEL_IDLE).count() and not page.locator(".jp-Dialog").count():
            return
        page.wait_for_timeout(200)
    pytest.fail("the notebook's kernel never became idle")


def run_cell(page, index: int, count: int) -> None:
    """Select cell ``index`` (command mode), run it in place, wait for its prompt ``[count]:``.

    Retried while nothing ran: a key press while Lab still moves the focus may be lost.
    """
    cell = page.locator(CELLS).nth(index)
    prompt = cell.locator(".jp-InputArea-prompt")
    for _ in range(3):
        answer_dialogs(page)
        try:
            cell.locator(".jp-InputPrompt").click(timeout=10_000)
        except PlaywrightTimeoutError:
            continue  # a dialog came up meanwhile: answered on the next try
        page.keyboard.press("Control+Enter")
        try:
            expect(prompt).not_to_have_text("[ ]:", timeout=3_000)
            break
        except AssertionError:
            continue
    expect(prompt).to_have_text(f"[{count}]:", timeout=30_000)


def expect_markers(page, lab_server, api_path: str, track: dict[str, Any]) -> dict[int, str]:
    """Each cell shows the marker the server's ``track`` gives its id (and none without one)."""
    by_id = {marker["cell_id"]: marker["state"] for marker in track["cells"]}
    expected = {}
    cells = page.locator(CELLS)
    for index, cell_id in enumerate(cell_ids(lab_server, api_path)):
        cell = cells.nth(index)
        state = by_id.get(cell_id)
        if state is None:
            expect(cell).not_to_have_class(re.compile(r"\bnb2pipe-cell-marked\b"))
            expect(cell.locator(MARKER)).to_have_count(0)
        else:
            expected[index] = state
            expect(cell).to_have_class(re.compile(rf"\bnb2pipe-cell-{state}\b"))
            expect(cell.locator(f"{MARKER}-{state}")).to_have_count(1)
            others = [s for s in STATES if s != state]
            expect(cell).not_to_have_class(re.compile(rf"\bnb2pipe-cell-({'|'.join(others)})\b"))
    return expected


@pytest.fixture
def console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def nb2pipe_errors(errors: list[str]) -> list[str]:
    return [e for e in errors if "nb2pipe" in e or "hazards" in e]


def start_out_of_order_session(page, lab_server, make_notebook, name: str) -> None:
    """Open the 5-cell notebook, run cells 1, 2, 4, 3, 5: `total = sum(data)` read `data`
    after `data.append(3)`, a cell below it, changed it."""
    make_notebook(lab_server.root_dir / name, *TRACK_CELLS)
    open_notebook(page, lab_server, name)
    wait_for_idle_kernel(page)
    for count, index in enumerate([0, 1, 3, 2, 4], start=1):
        run_cell(page, index, count)


def test_markers_show_track_state_and_rerun_clears_them(
    page, lab_server, make_notebook, screenshots: Path, console_errors: list[str]
) -> None:
    name = "track_markers.ipynb"
    start_out_of_order_session(page, lab_server, make_notebook, name)
    ids = cell_ids(lab_server, name)
    track = wait_for_track(lab_server, name, lambda t: t["executions"] == 4, "4 executions")
    states = {m["cell_id"]: m["state"] for m in track["cells"]}
    assert states[ids[2]] == "out-of-order", track  # total = sum(data)
    assert track["restart"] is None and track["rerun"], track
    expect_markers(page, lab_server, name, track)
    # `print(total)`: `total` has not changed since it ran; it is out of date itself. The hover
    # says so in full (the line under the cell is its short form).
    assert states[ids[4]] == "stale", track
    [stale] = [h for m in track["cells"] if m["cell_id"] == ids[4] for h in m["hazards"] if h["kind"] == "stale"]
    assert "its input total is out of date: cell 3 `total = sum(data)` must run again first" in stale["message"]
    assert "changed" not in stale["message"], stale
    page.locator(CELLS).nth(4).locator(MARKER).hover()
    tip = page.locator(TOOLTIP)
    expect(tip).to_contain_text("Stale: an input is out of date")
    expect(tip).to_contain_text(stale["message"])
    expect(tip).to_contain_text(f"fix: {stale['fix']}")
    output = page.locator(CELLS).nth(4).locator(".jp-Cell-outputArea")
    expect(output).to_contain_text("nb2pipe stale: input total is out of date (cell 3 must run first)")
    page.mouse.move(700, 5)
    expect(tip).to_be_hidden()

    # Edit the last cell and save: its output comes from older code now. (%track takes a save
    # within half a second of a run as possibly older than the run: a user is never that fast.)
    page.wait_for_timeout(1000)
    editor = page.locator(CELLS).nth(4).locator(".cm-content")
    editor.click()
    page.keyboard.press("End")
    page.keyboard.type("  # edited")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    track = wait_for_track(
        lab_server, name, lambda t: any(m["state"] == "edited" for m in t["cells"]), "an edited cell"
    )
    states = {m["cell_id"]: m["state"] for m in track["cells"]}
    assert states[ids[4]] == "edited" and states[ids[2]] == "out-of-order", track
    shown = expect_markers(page, lab_server, name, track)
    assert shown[2] == "out-of-order" and shown[4] == "edited"
    expect(page.locator(RERUN_BUTTON)).not_to_have_attribute("aria-disabled", "true")
    page.screenshot(path=screenshots / "track-markers.png")

    # Hover: the hazard's message and fix.
    page.locator(CELLS).nth(2).locator(MARKER).hover()
    tip = page.locator(TOOLTIP)
    expect(tip).to_be_visible()
    (hazard,) = [m for m in track["cells"] if m["cell_id"] == ids[2]][0]["hazards"][:1]
    expect(tip).to_contain_text(hazard["message"])
    expect(tip).to_contain_text(f"fix: {hazard['fix']}")
    expect(tip).to_contain_text("Re-run suggested cells")
    page.screenshot(path=screenshots / "track-markers-hover.png")
    page.mouse.move(700, 5)
    expect(tip).to_be_hidden()

    rerun = list(track["rerun"])
    counts_before = page.locator(".jp-InputArea-prompt").all_inner_texts()
    page.locator(RERUN_BUTTON).click()
    page.locator(TOAST, has_text="no hazards left").wait_for(state="visible", timeout=60_000)

    # the suggested cells ran, in order, after everything run before (counts 6, 7, ...)
    counts = {ids[i]: text for i, text in enumerate(page.locator(".jp-InputArea-prompt").all_inner_texts())}
    assert [counts[cell_id] for cell_id in rerun] == [f"[{6 + k}]:" for k in range(len(rerun))], (
        counts_before, counts, rerun,
    )
    track = hazards_api(lab_server, name)["track"]
    assert track is not None and track["cells"] == [] and track["rerun"] == [], track
    expect(page.locator(f"{CELLS}.nb2pipe-cell-marked")).to_have_count(0)
    expect(page.locator(MARKER)).to_have_count(0)
    # jp-button is a web component: playwright's to_be_disabled does not see its state
    expect(page.locator(RERUN_BUTTON)).to_have_attribute("aria-disabled", "true")
    expect(page.locator(RERUN_BUTTON)).to_have_attribute("title", re.compile("Nothing to re-run"))
    expect(page.locator(CELLS).nth(4).locator(".jp-OutputArea-output")).to_have_text("3")  # a fresh run prints 3
    page.wait_for_timeout(400)  # the toast slides in
    page.screenshot(path=screenshots / "track-markers-cleared.png")
    assert nb2pipe_errors(console_errors) == []


def test_markers_survive_a_reload_of_the_page(page, lab_server, make_notebook) -> None:
    name = "track_reload.ipynb"
    start_out_of_order_session(page, lab_server, make_notebook, name)
    track = wait_for_track(lab_server, name, lambda t: t["executions"] == 4, "4 executions")
    before = expect_markers(page, lab_server, name, track)
    assert before

    page.reload()
    page.locator(RERUN_BUTTON).wait_for(state="visible", timeout=90_000)

    assert expect_markers(page, lab_server, name, track) == before
    # the command palette runs the same command
    run_from_command_palette(page, "nb2pipe:rerun-suggested-cells", "Re-run suggested")
    page.locator(TOAST, has_text="no hazards left").wait_for(state="visible", timeout=60_000)
    expect(page.locator(MARKER)).to_have_count(0)


def test_no_track_or_a_failing_server_shows_no_markers_and_no_errors(
    page, lab_server, make_notebook, console_errors: list[str]
) -> None:
    # Without %track: nothing to show, and the re-run button stays out of the toolbar.
    make_notebook(lab_server.root_dir / "untracked.ipynb", "x = 1", "y = x + 1", "x = 10")
    open_notebook(page, lab_server, "untracked.ipynb")
    wait_for_idle_kernel(page)
    for count, index in enumerate([0, 2, 1], start=1):
        run_cell(page, index, count)
    page.wait_for_timeout(800)  # past the refresh after the last execution
    assert hazards_api(lab_server, "untracked.ipynb")["track"] is None
    expect(page.locator(MARKER)).to_have_count(0)
    expect(page.locator(RERUN_BUTTON)).to_be_hidden()

    # %track on, but the server fails: no markers either.
    requests: list[str] = []

    def fail(route) -> None:
        requests.append(route.request.url)
        route.fulfill(status=500, content_type="application/json", body='{"message": "boom"}')

    page.route("**/nb2pipe/hazards?*", fail)
    name = "track_failing.ipynb"
    start_out_of_order_session(page, lab_server, make_notebook, name)
    wait_for_track(lab_server, name, lambda t: t["executions"] == 4 and t["cells"], "markers")
    page.wait_for_timeout(800)
    assert requests, "the extension never asked the server"
    expect(page.locator(MARKER)).to_have_count(0)
    expect(page.locator(RERUN_BUTTON)).to_be_hidden()
    # the failed request is logged as a 500 by the browser itself, nothing more from nb2pipe
    assert [e for e in nb2pipe_errors(console_errors) if "500" not in e] == []


def test_rerun_says_why_only_a_restart_helps(page, lab_server, make_notebook, screenshots: Path) -> None:
    # `a = 1` runs, then becomes `b = 1`: `a` stays bound, and no re-run unbinds it.
    name = "track_restart.ipynb"
    make_notebook(lab_server.root_dir / name, "%load_ext nb2pipe\n%track", "a = 1", "print(a)")
    open_notebook(page, lab_server, name)
    wait_for_idle_kernel(page)
    for count, index in enumerate([0, 1, 2], start=1):
        run_cell(page, index, count)
    wait_for_track(lab_server, name, lambda t: t["executions"] == 2, "2 executions")
    page.wait_for_timeout(1000)  # see test_markers_show_track_state_and_rerun_clears_them
    page.locator(CELLS).nth(1).locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.type("b = 1")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    track = wait_for_track(lab_server, name, lambda t: t["restart"], "a restart")
    shown = expect_markers(page, lab_server, name, track)
    assert shown[1] == "restart", shown
    # no "the re-run covers it" flag where re-running does not help
    expect(page.locator(f"{MARKER}-rerun-flag")).to_have_count(0)

    page.locator(RERUN_BUTTON).click()
    dialog = page.locator(".jp-Dialog-content", has_text="A kernel restart is needed")
    dialog.wait_for(state="visible")
    for reason in track["restart"].split("; "):
        expect(dialog).to_contain_text(reason)
    page.screenshot(path=screenshots / "track-markers-restart.png")
    dialog.get_by_role("button", name="Ok").click()
    # nothing ran
    expect(page.locator(CELLS).nth(2).locator(".jp-InputArea-prompt")).to_have_text("[3]:")

    # A restart ends the session: its markers and the command go.
    page.locator('.jp-NotebookPanel-toolbar [data-command="notebook:restart-kernel"]').click()
    page.locator(".jp-Dialog-content .jp-Dialog-button.jp-mod-accept").click()
    expect(page.locator(MARKER)).to_have_count(0, timeout=15_000)
    expect(page.locator(RERUN_BUTTON)).to_be_hidden()
    assert hazards_api(lab_server, name)["track"] is None
