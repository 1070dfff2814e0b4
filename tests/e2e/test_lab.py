"""The "Export to script" button and command in a real JupyterLab, driven by headless chromium."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from nb2pipe.export import ExportOptions, export_notebook

pytestmark = pytest.mark.e2e

EXPORT_BUTTON = '.jp-NotebookPanel-toolbar [data-command="nb2pipe:export-to-script"]'
TOAST = ".Toastify__toast"
DIALOG = ".jp-Dialog-content"
LAB_START_TIMEOUT = 90_000  # ms: first paint of Lab plus the notebook on 2 cores


def open_notebook(page, lab_server, api_path: str) -> None:
    page.goto(lab_server.lab_url(api_path))
    page.locator(EXPORT_BUTTON).wait_for(state="visible", timeout=LAB_START_TIMEOUT)
    # Lab covers the notebook with a spinner until its model is loaded and rendered.
    page.locator(".jp-NotebookPanel .jp-Spinner").wait_for(state="detached")
    page.locator(".jp-Notebook .jp-CodeCell .cm-content").first.wait_for(state="visible")


def run_from_command_palette(page, command_id: str, search: str) -> None:
    """Ctrl+Shift+C, search, click the entry, as a user would.

    Retried: while Lab is still starting the kernel it may move the focus, which closes the
    palette between the search and the click.
    """
    palette_input = page.locator(".lm-CommandPalette-input")
    item = page.locator(f'.lm-CommandPalette-item[data-command="{command_id}"]')
    for _ in range(5):
        page.locator(".jp-NotebookPanel-notebook").click(position={"x": 5, "y": 5})
        page.keyboard.press("Escape")
        page.keyboard.press("Control+Shift+C")
        try:
            palette_input.fill(search, timeout=3_000)
            item.click(timeout=3_000)
            return
        except PlaywrightTimeoutError:
            continue
    pytest.fail(f"the command palette never offered {command_id!r} for {search!r}")


def export_with_api(lab_server, api_path: str, tmp_path: Path) -> tuple[str, list[str]]:
    """Script text and summary lines from nb2pipe's Python API for the same notebook."""
    source = lab_server.root_dir / api_path
    copy = tmp_path / source.parent.name / source.name
    copy.parent.mkdir(parents=True)
    shutil.copy(source, copy)
    result = export_notebook(copy, ExportOptions())
    script = result.script_path.read_text().replace(str(tmp_path), str(lab_server.root_dir))
    return script, list(result.summary.lines())


def test_toolbar_button_exports_opens_script_and_shows_summary(
    page, lab_server, sample_notebook: str, screenshots: Path, tmp_path: Path
) -> None:
    open_notebook(page, lab_server, sample_notebook)
    button = page.locator(EXPORT_BUTTON)
    assert button.inner_text().strip() == "Export to script"
    page.screenshot(path=screenshots / "notebook-export-button.png")

    button.click()

    script_api_path = sample_notebook.removesuffix(".ipynb") + ".py"
    script_name = Path(script_api_path).name
    toast = page.locator(TOAST, has_text=f"Exported to {script_api_path}")
    toast.wait_for(state="visible")
    toast.hover()  # pauses the toast's 10 s auto-close, however slow the steps below are
    assert re.search(r"\d+ cells, \d+ parameters?, \d+ hazards?", toast.inner_text())
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=script_name)
    tab.wait_for(state="visible")
    editor = page.locator(".jp-FileEditor .cm-content")
    editor.wait_for(state="visible")
    page.wait_for_function(
        "text => document.querySelector('.jp-FileEditor .cm-content')?.innerText.includes(text)",
        arg="def build_model",
    )
    page.wait_for_timeout(500)  # let the toast finish sliding in
    page.screenshot(path=screenshots / "export-result.png")

    toast.get_by_role("button", name="Show summary").click()
    dialog = page.locator(DIALOG, has_text=f"Exported to {script_api_path}")
    dialog.wait_for(state="visible")
    summary = dialog.locator(".nb2pipe-Summary").inner_text()
    page.screenshot(path=screenshots / "export-summary.png")

    # The UI wrote and showed exactly what the Python API gives for the same notebook.
    expected_script, expected_summary = export_with_api(lab_server, sample_notebook, tmp_path)
    script = (lab_server.root_dir / script_api_path).read_text()
    assert script == expected_script
    assert "def build_model():" in script and "RandomForestClassifier" in script
    assert summary.strip() == "\n".join(expected_summary).strip()


def test_unknown_magic_shows_error_dialog_naming_the_cell(
    page, lab_server, make_notebook, screenshots: Path
) -> None:
    make_notebook(lab_server.root_dir / "bad_magic.ipynb", "x = 1", "%foo_unknown_magic\nx")
    open_notebook(page, lab_server, "bad_magic.ipynb")

    page.locator(EXPORT_BUTTON).click()

    dialog = page.locator(DIALOG, has_text="Export to script failed")
    dialog.wait_for(state="visible")
    message = dialog.inner_text()
    assert "bad_magic.ipynb" in message and "cell 2" in message, message
    page.screenshot(path=screenshots / "export-error.png")
    assert not (lab_server.root_dir / "bad_magic.py").exists()


def test_command_palette_entry_exports_and_reports_hazards(
    page, lab_server, make_notebook, screenshots: Path
) -> None:
    # `radius` is assigned only after the cell that reads it: a fresh kernel would fail.
    make_notebook(
        lab_server.root_dir / "palette.ipynb",
        "import math",
        "area = math.pi * radius**2",
        "radius = 2.0",
    )
    open_notebook(page, lab_server, "palette.ipynb")

    run_from_command_palette(page, "nb2pipe:export-to-script", "Export to script")

    toast = page.locator(TOAST, has_text="Exported to palette.py")
    toast.wait_for(state="visible")
    assert "1 hazard" in toast.inner_text()
    assert "area = math.pi * radius**2" in (lab_server.root_dir / "palette.py").read_text()

    toast.get_by_role("button", name="Show summary").click()
    summary = page.locator(f"{DIALOG} .nb2pipe-Summary")
    summary.wait_for(state="visible")
    assert "Hazards:" in summary.inner_text() and "radius" in summary.inner_text()
    page.screenshot(path=screenshots / "export-hazards.png")


def test_hand_written_script_is_replaced_only_after_confirmation(
    page, lab_server, make_notebook
) -> None:
    make_notebook(lab_server.root_dir / "replace.ipynb", "total = 1 + 2")
    script = lab_server.root_dir / "replace.py"
    script.write_text("# written by hand\n")
    open_notebook(page, lab_server, "replace.ipynb")

    page.locator(EXPORT_BUTTON).click()
    dialog = page.locator(DIALOG, has_text="Replace existing script?")
    dialog.wait_for(state="visible")
    assert "not generated by nb2pipe" in dialog.inner_text()
    assert script.read_text() == "# written by hand\n"
    dialog.get_by_role("button", name="Replace").click()

    page.locator(TOAST, has_text="Exported to replace.py").wait_for(state="visible")
    assert "total = 1 + 2" in script.read_text()
