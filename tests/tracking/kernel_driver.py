"""Drive a real ipykernel the way JupyterLab does: execute requests carrying ``cellId``.

JupyterLab sends, with each execute request, metadata ``{"cellId": ..., "deletedCells": [...],
"recordTiming": ...}`` and starts the kernel with ``JPY_SESSION_NAME`` = the notebook's path.
"""

from __future__ import annotations

import os
import queue
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from jupyter_client.manager import KernelManager

_ADDRESS = re.compile(r"0x[0-9a-f]+")
_WARNING = "nb2pipe "


@dataclass
class Execution:
    """One execute request's outcome, as a frontend sees it."""

    code: str
    cell_id: str | None
    execution_count: int | None
    status: str
    ename: str | None
    outputs: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return "".join(o[2] for o in self.outputs if o[0] == "stream" and o[1] == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(o[2] for o in self.outputs if o[0] == "stream" and o[1] == "stderr")

    @property
    def warnings(self) -> list[str]:
        """nb2pipe's inline warnings printed under the cell."""
        return [line for line in self.stderr.splitlines() if line.startswith(_WARNING)]

    def kinds(self) -> set[str]:
        return {line.split(":", 1)[0].removeprefix(_WARNING) for line in self.warnings}

    def user_outputs(self) -> list[tuple[str, ...]]:
        """The outputs without nb2pipe's warnings, normalized (memory addresses)."""
        out = []
        for output in self.outputs:
            if output[0] == "stream":
                text = "".join(
                    line for line in output[2].splitlines(keepends=True) if not line.startswith(_WARNING)
                )
                if not text:
                    continue
                output = (output[0], output[1], text)
            out.append(tuple(_ADDRESS.sub("0x?", str(part)) for part in output))
        return out


class KernelDriver:
    """A real kernel plus a client; :meth:`execute` returns once the kernel is idle again."""

    def __init__(
        self,
        notebook: Path | None = None,
        cwd: Path | None = None,
        kernel_name: str = "python3",
        env: dict[str, str] | None = None,
    ) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "NB2PIPE_"))}
        if notebook is not None:
            environment["JPY_SESSION_NAME"] = str(notebook)
        environment.update(env or {})
        folder = str(cwd or (notebook.parent if notebook else Path.cwd()))
        for attempt in range(3):
            self.km = KernelManager(kernel_name=kernel_name)
            self.km.start_kernel(env=environment, cwd=folder)
            self.kc = self.km.client()
            self.kc.start_channels()
            try:
                self.kc.wait_for_ready(timeout=60)
                break
            except RuntimeError:
                # the kernel died at start-up, e.g. a port picked for it was taken before it
                # bound it (Jupyter's port race): start it again on fresh ports
                self.shutdown()
                if attempt == 2:
                    raise

    def execute(
        self,
        code: str,
        cell_id: str | None = None,
        deleted: Iterable[str] = (),
        timeout: float = 120,
    ) -> Execution:
        metadata: dict[str, Any] = {"recordTiming": False}
        if cell_id is not None:
            metadata["cellId"] = cell_id
            metadata["deletedCells"] = list(deleted)
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        message = self.kc.session.msg("execute_request", content, metadata=metadata)
        self.kc.shell_channel.send(message)
        msg_id = message["header"]["msg_id"]
        outputs: list[tuple[str, ...]] = []
        while True:
            reply = self.kc.get_iopub_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") != msg_id:
                continue
            kind, body = reply["msg_type"], reply["content"]
            if kind == "stream":
                if outputs and outputs[-1][0] == "stream" and outputs[-1][1] == body["name"]:
                    outputs[-1] = ("stream", body["name"], outputs[-1][2] + body["text"])
                else:
                    outputs.append(("stream", body["name"], body["text"]))
            elif kind in ("execute_result", "display_data"):
                outputs.append((kind, body["data"].get("text/plain", "")))
            elif kind == "error":
                outputs.append(("error", body["ename"], body["evalue"]))
            elif kind == "status" and body["execution_state"] == "idle":
                break
        while True:
            shell = self.kc.get_shell_msg(timeout=timeout)
            if shell["parent_header"].get("msg_id") == msg_id:
                break
        body = shell["content"]
        return Execution(
            code, cell_id, body.get("execution_count"), body["status"], body.get("ename"), outputs
        )

    def interrupt_during(self, code: str, cell_id: str | None, after: float = 1.0) -> Execution:
        """Run ``code`` and interrupt the kernel ``after`` seconds in (KeyboardInterrupt)."""
        import threading

        timer = threading.Timer(after, self.km.interrupt_kernel)
        timer.start()
        try:
            return self.execute(code, cell_id)
        finally:
            timer.cancel()

    def value(self, expression: str) -> str:
        """``repr`` of an expression evaluated silently (no execution count, no tracking)."""
        content = {
            "code": "", "silent": True, "store_history": False,
            "user_expressions": {"v": expression}, "allow_stdin": False, "stop_on_error": False,
        }
        message = self.kc.session.msg("execute_request", content)
        self.kc.shell_channel.send(message)
        while True:
            shell = self.kc.get_shell_msg(timeout=60)
            if shell["parent_header"].get("msg_id") == message["header"]["msg_id"]:
                break
        result = shell["content"]["user_expressions"]["v"]
        if result.get("status") != "ok":
            raise RuntimeError(f"{expression}: {result.get('ename')}: {result.get('evalue')}")
        return str(result["data"]["text/plain"])

    def drain(self) -> None:
        try:
            while True:
                self.kc.get_iopub_msg(timeout=0.05)
        except queue.Empty:
            pass

    def shutdown(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)
