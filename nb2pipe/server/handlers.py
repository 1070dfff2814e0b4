"""REST handlers of nb2pipe's jupyter_server extension: decode request -> public API -> JSON."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado.http1connection import HTTP1Connection

from nb2pipe.analysis import NotebookAnalysis, analyze_notebook, find_static_hazards
from nb2pipe.errors import Nb2PipeError, OutputExistsError
from nb2pipe.export import ExportOptions, export_notebook
from nb2pipe.model import load_notebook
from nb2pipe.server.saves import while_not_saving

if TYPE_CHECKING:
    from nb2pipe.recover.api import RecoveryResult
    from nb2pipe.server.recovery import RecoveryOutcome

__all__ = ["ExportHandler", "HazardsHandler", "RecoverHandler", "setup_handlers"]

NAMESPACE = "nb2pipe"
SCRIPT_SUFFIX = ".py"
#: The largest request body: a path and a flag. A larger one is refused (413) from its
#: Content-Length, before it is read, and a chunked one once it passes this.
MAX_BODY_SIZE = 64 * 1024


class RequestRefused(Exception):
    """A request the handler answers with ``status`` and ``{"message": message}`` (and
    ``"reason"``, a word a client can branch on where one status has two causes)."""

    def __init__(self, status: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class ResolvedNotebook:
    """A notebook named by an API path, checked to lie under the server root."""

    api_path: PurePosixPath  #: relative to the server root, as the contents API names it
    os_path: Path  #: absolute path on disk (not symlink-resolved)
    root: Path  #: the server root (absolute, not symlink-resolved)

    @property
    def script_api_path(self) -> PurePosixPath:
        return self.api_path.with_suffix(SCRIPT_SUFFIX)

    @property
    def script_os_path(self) -> Path:
        return self.os_path.with_suffix(SCRIPT_SUFFIX)

    @property
    def recovered_os_path(self) -> Path:
        """Where ``nb2pipe recover`` writes the recovered notebook (its default output)."""
        from nb2pipe.recover.api import default_output

        return default_output(self.os_path)

    def api_path_of(self, os_path: Path) -> PurePosixPath:
        return PurePosixPath(*os_path.relative_to(self.root).parts)

    def relative(self, text: str) -> str:
        """``text`` with the server's absolute paths under the root shown relative to it."""
        return text.replace(f"{self.root}{os.sep}", "")


class Nb2PipeHandler(APIHandler):
    """Shared request decoding; the subclasses' verbs only call nb2pipe's public API."""

    auth_resource = "contents"

    def reply(self, payload: dict[str, Any]) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload))

    def refuse(self, refusal: RequestRefused) -> None:
        self.set_status(refusal.status)
        payload = {"message": refusal.message}
        if refusal.reason is not None:
            payload["reason"] = refusal.reason
        self.reply(payload)

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

    def resolve_notebook(
        self, api_path: object, writes: Literal["script", "recovered"] = "script"
    ) -> ResolvedNotebook:
        """Turn a client-supplied path into a notebook path under the server root.

        Touches nothing. Refuses absolute paths, ``..``, hidden files (unless the contents
        manager allows them) and anything whose real path (symlinks resolved) is outside
        the real server root, the file the request ``writes`` (``script``, ``recovered``)
        included.
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
        notebook = ResolvedNotebook(
            api_path=relative, os_path=root.joinpath(*relative.parts), root=root
        )
        output = notebook.recovered_os_path if writes == "recovered" else notebook.script_os_path
        for candidate in (notebook.os_path, output):
            if not _is_within(candidate, root):
                raise RequestRefused(403, f"{api_path}: resolves outside the server root")
        if not notebook.os_path.is_file():
            raise RequestRefused(404, f"{api_path}: no such notebook")
        return notebook


@tornado.web.stream_request_body
class SmallBodyHandler(Nb2PipeHandler):
    """A POST whose body is a path and a few flags.

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
        connection = self.request.connection
        if isinstance(connection, HTTP1Connection):  # (HTTP/2 servers bring their own limits)
            connection.set_max_body_size(MAX_BODY_SIZE)

    def data_received(self, chunk: bytes) -> None:
        self._body += chunk


class ExportHandler(SmallBodyHandler):
    """``POST /nb2pipe/export`` ``{"path": ..., "overwrite": false}``: write the script."""

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            body = self.json_body()
            notebook = self.resolve_notebook(body.get("path"))
            overwrite = _flag(body, "overwrite")
            payload = await asyncio.to_thread(_export, notebook, overwrite)
        except RequestRefused as refusal:
            self.refuse(refusal)
            return
        self.reply(payload)


class RecoverHandler(SmallBodyHandler):
    """``POST /nb2pipe/recover`` ``{"path": ..., "overwrite": false}``: ``nb2pipe recover``.

    Writes ``<stem>.recovered.ipynb`` beside the notebook and answers
    ``{"recovered": true, "output", "origin", "differences", "notes", ...}``; when no path
    within the budget gives back the saved outputs (the CLI's exit 1) it answers, still with
    200, ``{"recovered": false, "problems": [...], "budget", ...}`` and writes nothing. Bad
    input is 400 with the loader's message; an existing output without ``overwrite`` is 409
    (``"reason": "exists"``), and so is a second request for a notebook whose recovery runs
    (``"reason": "running"``). An optional ``"budget"`` (seconds, as ``--budget``) bounds it.

    The recovery runs in a child process (:mod:`nb2pipe.server.recovery`); the server's
    event loop only awaits it.
    """

    def initialize(self, running: set[str]) -> None:
        self.running = running  #: real paths of the notebooks whose recovery runs

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        try:
            body = self.json_body()
            notebook = self.resolve_notebook(body.get("path"), writes="recovered")
            overwrite = _flag(body, "overwrite")
            budget = _budget(body)
            key = os.path.realpath(notebook.os_path)  # a link to it is the same notebook
            if key in self.running:
                raise RequestRefused(
                    409,
                    f"{notebook.api_path}: a recovery of this notebook is already running; "
                    "wait for its answer",
                    reason="running",
                )
            self.running.add(key)
            try:
                payload = await self._recover(notebook, overwrite, budget)
            finally:
                self.running.discard(key)
        except RequestRefused as refusal:
            self.refuse(refusal)
            return
        self.reply(payload)

    async def _recover(
        self, notebook: ResolvedNotebook, overwrite: bool, budget: float | None
    ) -> dict[str, Any]:
        from nb2pipe.recover.api import RecoverOptions
        from nb2pipe.server.recovery import RecoveryRequest, run_recovery

        # what can be refused at once is refused before a process starts
        await asyncio.to_thread(_check_recoverable, notebook, overwrite)
        request = RecoveryRequest(
            notebook.os_path, RecoverOptions(budget=budget, force=overwrite)
        )
        try:
            outcome = await run_recovery(request, self.log)
        except (RuntimeError, TypeError) as exc:
            raise RequestRefused(500, f"{notebook.api_path}: {exc}") from exc
        return _recovery_reply(outcome, notebook)


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
        result = while_not_saving(
            notebook.os_path, lambda: export_notebook(notebook.os_path, options)
        )
        hazards, _track = _hazards_and_track(notebook.os_path, result.analysis)
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


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise RequestRefused(400, f"'{name}' must be true or false")
    return value


def _budget(body: dict[str, Any]) -> float | None:
    value = body.get("budget")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 1:
        raise RequestRefused(400, "'budget' must be a number of seconds, at least 1")
    return float(value)


def _check_recoverable(notebook: ResolvedNotebook, overwrite: bool) -> None:
    """Refuse at once what ``recover`` would refuse after starting: a notebook the loader
    refuses (400), an existing output (409)."""
    try:
        while_not_saving(notebook.os_path, lambda: load_notebook(notebook.os_path))
    except Nb2PipeError as exc:
        raise RequestRefused(400, notebook.relative(str(exc))) from exc
    output = notebook.recovered_os_path
    if output.is_dir():
        raise RequestRefused(400, f"{notebook.api_path_of(output)}: is a directory")
    if output.exists() and not overwrite:
        raise RequestRefused(409, _exists_message(notebook), reason="exists")


def _exists_message(notebook: ResolvedNotebook) -> str:
    return (
        f"{notebook.api_path_of(notebook.recovered_os_path)}: exists (an earlier recovery?); "
        "recovering again replaces it"
    )


def _recovery_reply(outcome: RecoveryOutcome, notebook: ResolvedNotebook) -> dict[str, Any]:
    """The reply to a recovery: its result as JSON, or its error as a refusal."""
    from nb2pipe.server.recovery import ErrorKind

    if outcome.result is None:
        message = notebook.relative(outcome.error or "the recovery gave no answer")
        if outcome.error_kind is ErrorKind.EXISTS:
            raise RequestRefused(409, _exists_message(notebook), reason="exists")
        if outcome.error_kind is ErrorKind.INPUT:
            raise RequestRefused(400, message)
        status = 403 if outcome.error_kind is ErrorKind.PERMISSION else 500
        output = notebook.api_path_of(notebook.recovered_os_path)
        raise RequestRefused(status, f"{output}: cannot write the recovered notebook: {message}")
    return _result_json(outcome.result, notebook)


def _result_json(result: RecoveryResult, notebook: ResolvedNotebook) -> dict[str, Any]:
    notes = [notebook.relative(note) for note in result.notes]
    if result.recovered and result.path is not None and result.output is not None:
        return {
            "recovered": True,
            "output": str(notebook.api_path_of(result.output)),
            "origin": result.path.origin,
            "differences": result.path.describe(),
            "notes": notes,
            "compared": result.proof.compared if result.proof is not None else 0,
            "duration": round(result.duration, 1),
        }
    return {
        "recovered": False,
        "problems": [
            {**problem.to_json(), "reason": notebook.relative(problem.reason),
             "line": notebook.relative(problem.line())}
            for problem in result.problems
        ],
        "budget": round(result.budget, 1),
        "notes": notes,
        "duration": round(result.duration, 1),
    }


def _hazards_and_track(
    notebook_path: Path, analysis: NotebookAnalysis | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The notebook's static and ``%track`` hazards, and the running session's cell markers;
    ``analysis``: the notebook's, when the request already made it (an export)."""
    if analysis is None:
        try:
            analysis = while_not_saving(
                notebook_path, lambda: analyze_notebook(load_notebook(notebook_path))
            )
        except Nb2PipeError as exc:
            raise RequestRefused(400, str(exc)) from exc
    hazards = [hazard.to_json() for hazard in find_static_hazards(analysis)]
    from nb2pipe.tracking import history_state  # imported on first use: keeps startup light

    state = history_state(notebook_path)
    return hazards + [hazard.to_json() for hazard in state.hazards], state.lab_json()


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
            (url_path_join(base_url, NAMESPACE, "recover"), RecoverHandler, {"running": set()}),
        ],
    )
