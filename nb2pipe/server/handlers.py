"""REST handlers of nb2pipe's jupyter_server extension: decode request -> public API -> JSON."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from nb2pipe.analysis import analyze_notebook, find_static_hazards
from nb2pipe.errors import Nb2PipeError, OutputExistsError
from nb2pipe.export import ExportOptions, export_notebook
from nb2pipe.model import load_notebook

__all__ = ["ExportHandler", "HazardsHandler", "setup_handlers"]

NAMESPACE = "nb2pipe"
SCRIPT_SUFFIX = ".py"
HISTORY_DIR = ".nb2pipe"  #: beside the notebook: ``<stem>.history.jsonl`` written by ``%track``
#: The largest request body: a path and a flag. A larger one is refused (413) from its
#: Content-Length, before it is read, and a chunked one once it passes this.
MAX_BODY_SIZE = 64 * 1024


class RequestRefused(Exception):
    """A request the handler answers with ``status`` and ``{"message": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class ResolvedNotebook:
    """A notebook named by an API path, checked to lie under the server root."""

    api_path: PurePosixPath  #: relative to the server root, as the contents API names it
    os_path: Path  #: absolute path on disk (not symlink-resolved)

    @property
    def script_api_path(self) -> PurePosixPath:
        return self.api_path.with_suffix(SCRIPT_SUFFIX)

    @property
    def script_os_path(self) -> Path:
        return self.os_path.with_suffix(SCRIPT_SUFFIX)


class Nb2PipeHandler(APIHandler):
    """Shared request decoding; the subclasses' verbs only call nb2pipe's public API."""

    auth_resource = "contents"

    def reply(self, payload: dict[str, Any]) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload))

    def refuse(self, refusal: RequestRefused) -> None:
        self.set_status(refusal.status)
        self.reply({"message": refusal.message})

    def json_body(self) -> dict[str, Any]:
        raw = bytes(getattr(self, "_body", b"")) or self.request.body or b""
        try:
            body = json.loads(raw)
        except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError for non-UTF-8
            raise RequestRefused(400, f"request body is not valid JSON: {exc}") from exc
        except RecursionError:
            raise RequestRefused(400, "request body is not valid JSON: nested too deeply") from None
        if not isinstance(body, dict):
            raise RequestRefused(400, "request body must be a JSON object")
        return body

    def resolve_notebook(self, api_path: object) -> ResolvedNotebook:
        """Turn a client-supplied path into a notebook path under the server root.

        Touches nothing. Refuses absolute paths, ``..``, hidden files (unless the contents
        manager allows them) and anything whose real path (symlinks resolved) is outside
        the real server root.
        """
        if not isinstance(api_path, str) or not api_path.strip("/"):
            raise RequestRefused(400, "'path' must be a notebook path relative to the server root")
        if "\x00" in api_path:
            raise RequestRefused(400, "'path' holds a NUL character")
        relative = PurePosixPath(api_path.strip("/"))
        if api_path.startswith("/") or os.path.isabs(api_path) or "\\" in api_path:
            raise RequestRefused(404, f"{api_path}: only paths relative to the server root")
        if ".." in relative.parts:
            raise RequestRefused(404, f"{api_path}: is outside the server root")
        if relative.suffix != ".ipynb":
            raise RequestRefused(400, f"{api_path}: not a notebook (.ipynb)")

        contents_manager = self.contents_manager
        if not getattr(contents_manager, "allow_hidden", False) and any(
            part.startswith(".") for part in relative.parts
        ):
            raise RequestRefused(404, f"{api_path}: no such notebook")

        root = Path(contents_manager.root_dir).absolute()
        notebook = ResolvedNotebook(api_path=relative, os_path=root.joinpath(*relative.parts))
        for candidate in (notebook.os_path, notebook.script_os_path):
            if not _is_within(candidate, root):
                raise RequestRefused(403, f"{api_path}: resolves outside the server root")
        if not notebook.os_path.is_file():
            raise RequestRefused(404, f"{api_path}: no such notebook")
        return notebook


@tornado.web.stream_request_body
class ExportHandler(Nb2PipeHandler):
    """``POST /nb2pipe/export`` ``{"path": ..., "overwrite": false}``: write the script.

    The body is streamed (``prepare`` runs before it is read), so that one larger than
    :data:`MAX_BODY_SIZE` is refused without being buffered: the server's own limit
    (``ServerApp.max_body_size``) is 512 MB.
    """

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        self._body = bytearray()
        length = self.request.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > MAX_BODY_SIZE:
            raise tornado.web.HTTPError(
                413, f"request body is {length} bytes; at most {MAX_BODY_SIZE} are read"
            )
        self.request.connection.set_max_body_size(MAX_BODY_SIZE)  # type: ignore[attr-defined]

    def data_received(self, chunk: bytes) -> None:
        self._body += chunk

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            body = self.json_body()
            notebook = self.resolve_notebook(body.get("path"))
            overwrite = body.get("overwrite", False)
            if not isinstance(overwrite, bool):
                raise RequestRefused(400, "'overwrite' must be true or false")
            payload = await asyncio.to_thread(_export, notebook, overwrite)
        except RequestRefused as refusal:
            self.refuse(refusal)
            return
        self.reply(payload)


class HazardsHandler(Nb2PipeHandler):
    """``GET /nb2pipe/hazards?path=...``: static hazards plus ``%track`` history hazards, and
    ``track``: the running ``%track`` session's cell markers, ``rerun`` and ``restart`` (or
    ``null``), which the lab extension shows on the cells."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            notebook = self.resolve_notebook(self.get_query_argument("path", None))
            hazards, track = await asyncio.to_thread(_hazards_and_track, notebook.os_path)
        except RequestRefused as refusal:
            self.refuse(refusal)
            return
        self.reply({"hazards": hazards, "track": track})


def _export(notebook: ResolvedNotebook, overwrite: bool) -> dict[str, Any]:
    options = ExportOptions(
        output=notebook.script_os_path, force=overwrite, allow_ipython_hint=None
    )
    try:
        result = export_notebook(notebook.os_path, options)
        hazards = _hazards(notebook.os_path)
    except OutputExistsError as exc:
        raise RequestRefused(409, _relative_message(exc, notebook)) from exc
    except Nb2PipeError as exc:
        raise RequestRefused(400, _relative_message(exc, notebook)) from exc
    except OSError as exc:  # the folder is not writable, the disk is full, ...
        status = 403 if isinstance(exc, PermissionError) else 500
        raise RequestRefused(
            status, f"{notebook.script_api_path}: cannot write the script: {exc.strerror or exc}"
        ) from exc
    return {
        "path": str(notebook.script_api_path),
        "summary": result.summary.to_json(),
        "summary_lines": list(result.summary.lines()),
        "hazards": hazards,
    }


def _hazards(notebook_path: Path) -> list[dict[str, Any]]:
    return _hazards_and_track(notebook_path)[0]


def _hazards_and_track(notebook_path: Path) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    try:
        analysis = analyze_notebook(load_notebook(notebook_path))
    except Nb2PipeError as exc:
        raise RequestRefused(400, str(exc)) from exc
    hazards = [hazard.to_json() for hazard in find_static_hazards(analysis)]
    history = notebook_path.parent / HISTORY_DIR / f"{notebook_path.stem}.history.jsonl"
    if not history.is_file():
        return hazards, None
    from nb2pipe.tracking import history_state  # only when a log exists: keeps startup light

    state = history_state(notebook_path)
    return hazards + [hazard.to_json() for hazard in state.hazards], state.live


def _is_within(path: Path, root: Path) -> bool:
    real_root = os.path.realpath(root)
    return os.path.commonpath([os.path.realpath(path), real_root]) == real_root


def _relative_message(error: Nb2PipeError, notebook: ResolvedNotebook) -> str:
    """The error's message with absolute server paths shown relative to the server root."""
    message = str(error)
    for os_path, api_path in (
        (notebook.script_os_path, notebook.script_api_path),
        (notebook.os_path, notebook.api_path),
    ):
        message = message.replace(str(os_path), str(api_path))
    return message


def setup_handlers(web_app: tornado.web.Application) -> None:
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base_url, NAMESPACE, "export"), ExportHandler),
            (url_path_join(base_url, NAMESPACE, "hazards"), HazardsHandler),
        ],
    )
