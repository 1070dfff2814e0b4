""""Recover the path to these outputs" in a real JupyterLab: a notebook saved out of order is
recovered on the server, with real kernels, and the recovered notebook opens beside it; a
notebook no path gives back gets a dialog naming each output and why."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.recover.lab import LabNotebook

from .test_lab import DIALOG, TOAST, open_notebook, run_from_command_palette

pytestmark = [pytest.mark.e2e, pytest.mark.kernel]

RECOVER_BUTTON = '.jp-NotebookPanel-toolbar [data-command="nb2pipe:recover-outputs"]'
RECOVER_TIMEOUT = 300_000  # ms: a search and a proof in fresh kernels, on a loaded machine


def printed(path: Path) -> dict[str, str]:
    """cell id -> the text of its saved outputs (streams and results), for each cell that has
    some."""
    out = {}
    for cell in json.loads(path.read_text())["cells"]:
        texts = []
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            texts.append("".join(text) if isinstance(text, list) else text)
        if "".join(texts).strip():
            out[cell["id"]] = "".join(texts).strip()
    return out


def panel(page, name: str):
    """The notebook panel whose tab is ``name``."""
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=name)
    tab.wait_for(state="visible")
    panel_id = tab.get_attribute("data-id")
    return page.locator(f"#{panel_id}")


def test_recovers_a_notebook_saved_out_of_order_and_opens_it_beside(
    page, lab_server, screenshots: Path
) -> None:
    # A total added to twice (the second run's output saved), then shown: top to bottom, the
    # notebook prints other numbers; recover finds the repeat by searching the current cells.
    name = "recover_totals.ipynb"
    path = lab_server.root_dir / name
    session = LabNotebook(path, [
        ("init", "total = 0"),
        ("step", "step = 3"),
        ("add", "total += step\nprint('total', total)"),
        ("show", "print('final', total * 10)"),
    ], tracked=False)
    try:
        session.run("init", "step", "add", "add", "show")
        session.save()
    finally:
        session.shutdown()
    saved = printed(path)
    assert saved == {"add": "total 6", "show": "final 60"}

    open_notebook(page, lab_server, name)
    original = panel(page, name)
    button = original.locator(RECOVER_BUTTON)
    expect(button).to_have_text("Recover outputs")
    page.screenshot(path=screenshots / "recover-button.png")

    button.click()

    # running: a notification, the button disabled with a spinner; the notebook stays usable
    page.locator(TOAST, has_text="Recovering the path to the saved outputs").wait_for()
    expect(button).to_have_attribute("aria-disabled", "true")
    expect(button).to_have_text("Recovering…")
    expect(button).to_have_class(re.compile(r"\bnb2pipe-recovering\b"))
    page.screenshot(path=screenshots / "recover-running.png")

    output = "recover_totals.recovered.ipynb"
    toast = page.locator(TOAST, has_text=f"Recovered {name}")
    toast.wait_for(state="visible", timeout=RECOVER_TIMEOUT)
    assert "by a search of its cells" in toast.inner_text()
    assert "1 difference from the notebook as it is" in toast.inner_text()
    # (the button: in the split view's narrower toolbar, Lab may move it into the overflow)
    expect(page.locator(TOAST, has_text="Recovering the path")).to_have_count(0)
    assert (lab_server.root_dir / output).is_file()

    # the recovered notebook, in a second panel to the right of the original
    recovered = panel(page, output)
    expect(recovered.locator(".jp-Cell").first).to_be_visible()
    left, right = original.bounding_box(), recovered.bounding_box()
    assert left is not None and right is not None
    assert right["x"] >= left["x"] + left["width"] - 2, (left, right)
    # its cells show the original's saved outputs, on the runs that produced them
    shown = [
        text.strip()
        for text in recovered.locator(".jp-Cell .jp-OutputArea-output").all_inner_texts()
    ]
    for text in saved.values():
        assert text in shown, (text, shown)
    expect(recovered.locator(".jp-MarkdownCell", has_text="runs again here")).to_have_count(1)
    page.wait_for_timeout(500)  # the toast slides in
    page.screenshot(path=screenshots / "recover-result.png")

    toast.get_by_role("button", name="Show differences").click()
    dialog = page.locator(DIALOG, has_text="Recovered: the path to the outputs")
    dialog.wait_for(state="visible")
    expect(dialog).to_contain_text("`total += step` runs again (2nd run)")
    expect(dialog).to_contain_text(re.compile(rf"{re.escape(output)} gives back \d+ saved outputs?"))
    page.screenshot(path=screenshots / "recover-differences.png")
    dialog.get_by_role("button", name="Ok").click()


def test_a_notebook_no_path_gives_back_shows_each_output_and_why(
    page, lab_server, screenshots: Path
) -> None:
    # Unseeded random numbers: nothing gives the saved sample back. An earlier recovered
    # notebook lies beside it: Lab asks before a recovery may replace it.
    name = "recover_random.ipynb"
    path = lab_server.root_dir / name
    session = LabNotebook(path, [
        ("draw", "import random\nsample = [random.random() for _ in range(3)]"),
        ("show", "print('sample', [round(v, 6) for v in sample])"),
    ], tracked=False)
    try:
        session.run("draw", "show")
        session.save()
    finally:
        session.shutdown()
    earlier = lab_server.root_dir / "recover_random.recovered.ipynb"
    earlier_text = path.read_text()
    earlier.write_text(earlier_text)
    open_notebook(page, lab_server, name)

    run_from_command_palette(page, "nb2pipe:recover-outputs", "Recover the path")

    replace = page.locator(DIALOG, has_text="Replace the recovered notebook?")
    replace.wait_for(state="visible")
    expect(replace).to_contain_text("recover_random.recovered.ipynb: exists")
    replace.get_by_role("button", name="Replace").click()

    dialog = page.locator(DIALOG, has_text="No path gives back the saved outputs")
    dialog.wait_for(state="visible", timeout=RECOVER_TIMEOUT)
    items = dialog.locator("li").all_inner_texts()
    problem = next(item for item in items if "print('sample'" in item)
    assert problem.startswith("cell 2 (id show) In [2]"), items
    assert "unseeded random" in problem, items
    expect(dialog).to_contain_text("nothing was written")
    expect(page.locator(RECOVER_BUTTON)).to_have_text("Recover outputs")  # no longer running
    page.locator(TOAST, has_text=f"No path gives back the saved outputs of {name}").wait_for()
    page.wait_for_timeout(800)  # the toasts slide in and out
    page.screenshot(path=screenshots / "recover-failed.png")
    dialog.get_by_role("button", name="Ok").click()
    assert earlier.read_text() == earlier_text  # replaced only by a proven path
