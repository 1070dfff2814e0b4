"""A notebook worked on the way people work in JupyterLab: a real kernel, cells run in any
order, edited, re-run, saved as Jupyter saves them (each cell's current source, its last
outputs and execution count), with or without ``%track``'s history beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import KernelManager

#: The first cell of a tracked session (the history needs the notebook saved first).
TRACK_CELL = "%load_ext nb2pipe\n%track"


@dataclass
class _Cell:
    id: str
    source: str
    outputs: list[dict[str, Any]] = field(default_factory=list)
    count: int | None = None
    tags: list[str] = field(default_factory=list)


class LabNotebook:
    """A notebook open in a lab: :meth:`run` executes a cell by id in the kernel; :meth:`save`
    writes the file. Start with ``tracked=True`` to run ``%track`` in a first cell."""

    def __init__(self, path: Path, cells: list[tuple[str, str]], *, tracked: bool) -> None:
        self.path = path
        self.cells: dict[str, _Cell] = {}
        self.order: list[str] = []
        self.tracked = tracked
        self._deleted: list[str] = []
        if tracked:
            self._add("track", TRACK_CELL)
        for cell_id, source in cells:
            self._add(cell_id, source)
        self.save()
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "NB2PIPE_"))}
        environment["JPY_SESSION_NAME"] = str(path)
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=environment, cwd=str(path.parent))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        if tracked:
            self.run("track")

    def _add(self, cell_id: str, source: str, after: str | None = None) -> None:
        self.cells[cell_id] = _Cell(cell_id, source)
        if after is None:
            self.order.append(cell_id)
        else:
            self.order.insert(self.order.index(after) + 1, cell_id)

    # -- what a user does ---------------------------------------------------------------------
    def run(self, *cell_ids: str, interrupt_after: float | None = None) -> list[dict[str, Any]]:
        """Run cells by id, one after the other; the outputs of the last."""
        outputs: list[dict[str, Any]] = []
        for cell_id in cell_ids:
            cell = self.cells[cell_id]
            outputs, count = self._execute(cell.source, cell_id, interrupt_after)
            cell.outputs, cell.count = outputs, count
        return outputs

    def edit(self, cell_id: str, source: str) -> None:
        self.cells[cell_id].source = source

    def insert(self, cell_id: str, source: str, after: str | None = None) -> None:
        self._add(cell_id, source, after)

    def delete(self, cell_id: str) -> None:
        self.order.remove(cell_id)
        del self.cells[cell_id]
        self._deleted.append(cell_id)

    def tag(self, cell_id: str, *tags: str) -> None:
        self.cells[cell_id].tags.extend(tags)

    def save(self) -> Path:
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {
            "name": "python3", "display_name": "Python 3", "language": "python",
        }
        notebook.metadata["language_info"] = {"name": "python"}
        for cell_id in self.order:
            cell = self.cells[cell_id]
            node = nbformat.v4.new_code_cell(cell.source)
            node.id = cell_id
            node.outputs = [nbformat.from_dict(o) for o in cell.outputs]
            node.execution_count = cell.count
            if cell.tags:
                node.metadata["tags"] = list(cell.tags)
            notebook.cells.append(node)
        self.path.write_text(nbformat.writes(notebook), encoding="utf-8")  # type: ignore[no-untyped-call]
        return self.path

    def copy_without_history(self, folder: Path) -> Path:
        """The saved notebook (and the folder's data files) elsewhere, with no history."""
        folder.mkdir(parents=True, exist_ok=True)
        for entry in self.path.parent.iterdir():
            if entry.name.startswith(".") or entry.name.endswith(".recovered.ipynb"):
                continue
            target = folder / entry.name
            if entry.is_file():
                shutil.copy2(entry, target)
        return folder / self.path.name

    def shutdown(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)

    # -- the kernel protocol ------------------------------------------------------------------
    def _execute(
        self, code: str, cell_id: str, interrupt_after: float | None
    ) -> tuple[list[dict[str, Any]], int | None]:
        deleted, self._deleted = self._deleted, []
        metadata = {"cellId": cell_id, "deletedCells": deleted, "recordTiming": False}
        content = {
            "code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True,
        }
        message = self.kc.session.msg("execute_request", content, metadata=metadata)
        timer = None
        if interrupt_after is not None:
            timer = threading.Timer(interrupt_after, self.km.interrupt_kernel)
            timer.start()
        self.kc.shell_channel.send(message)
        msg_id = message["header"]["msg_id"]
        outputs: list[dict[str, Any]] = []
        try:
            while True:
                reply = self.kc.get_iopub_msg(timeout=120)
                if reply["parent_header"].get("msg_id") != msg_id:
                    continue
                kind = reply["msg_type"]
                if kind == "status" and reply["content"]["execution_state"] == "idle":
                    break
                if kind == "clear_output":
                    outputs.clear()
                    continue
                if kind not in ("stream", "display_data", "execute_result", "error"):
                    continue
                output = dict(nbformat.v4.output_from_msg(reply))
                if (
                    kind == "stream" and outputs and outputs[-1]["output_type"] == "stream"
                    and outputs[-1]["name"] == output["name"]
                ):
                    outputs[-1] = {**outputs[-1], "text": outputs[-1]["text"] + output["text"]}
                else:
                    outputs.append(output)
        finally:
            if timer is not None:
                timer.cancel()
        while True:
            shell = self.kc.get_shell_msg(timeout=120)
            if shell["parent_header"].get("msg_id") == msg_id:
                break
        return outputs, shell["content"].get("execution_count")


def saved_outputs(path: Path) -> dict[str, tuple[int | None, str]]:
    """cell id -> (execution count, outputs as JSON): what a recovered run must give back."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        cell["id"]: (cell.get("execution_count"), json.dumps(cell.get("outputs", [])))
        for cell in data["cells"] if cell["cell_type"] == "code"
    }
