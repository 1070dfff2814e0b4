"""``%track``: the user-facing magic of the live hazard tracker."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class

from nb2pipe.analysis import HazardKind
from nb2pipe.tracking.log import history_path
from nb2pipe.tracking.recorder import ExecutionRecorder
from nb2pipe.tracking.sources import SourceStore

__all__ = ["TrackMagics"]

_USAGE = "usage: %track [on|off|status|report [--json]] [--notebook PATH]"


@magics_class
class TrackMagics(Magics):
    """Holds the shell's :class:`ExecutionRecorder` and answers ``%track``."""

    def __init__(self, shell: Any, recorder: ExecutionRecorder) -> None:
        super().__init__(shell)
        self.recorder = recorder

    @line_magic
    def track(self, line: str = "") -> None:
        """Warn when the kernel's state no longer matches a fresh top-to-bottom run.

        Usage::

            %track                    start recording (same as %track on)
            %track on                 start recording; names bound before count as given
            %track off                stop recording (the report of what was recorded stays)
            %track status             what is recorded, and which hazards are available here
            %track report             hazards, the cells to re-run, and whether to restart
            %track report --json      the same as one JSON object (docs/track-report.schema.json)
            %track --notebook PATH    use PATH for cell order (and start recording)

        After each cell, hazards that involve it print as one line each under the cell:
        out-of-order, stale, edited, hidden-state, undefined-in-fresh-kernel, mutation,
        non-idempotent, multiple-definitions, unseeded-random, external-file
        (docs/hazards.md explains each, with an example and its fix).

        ``report`` lists, in notebook order, the cells to re-run so that every cell's output
        equals a fresh top-to-bottom run of the current notebook, including the cells that
        re-create objects changed in place; when no re-run can (a deleted cell's names still
        bound, unseeded randomness, a file appended to, ``%reset``) it says why to restart.

        Cell order and sources come from the notebook file as of its last save: its path is
        taken from ``__session__`` / ``JPY_SESSION_NAME`` (set by Jupyter Server), or from
        ``--notebook``. Every execution is appended to ``.nb2pipe/<stem>.history.jsonl``
        beside the notebook (names and hashes, never values). Without cell ids (nbclient,
        papermill, consoles) cells are matched to the saved notebook by their source text;
        ``%track status`` says what is then available. Load with ``%load_ext nb2pipe``, or
        autoload with ``c.InteractiveShellApp.extensions = ["nb2pipe"]``; set
        ``NB2PIPE_TRACK=1`` to start recording when the extension loads.
        """
        try:
            words = shlex.split(line)
        except ValueError as exc:
            print(f"%track: {exc}\n{_USAGE}")
            return
        notebook: Path | None = None
        if "--notebook" in words:
            at = words.index("--notebook")
            if at + 1 >= len(words):
                print(f"%track: --notebook needs a path\n{_USAGE}")
                return
            notebook = Path(words[at + 1])
            del words[at : at + 2]
            if not notebook.expanduser().is_file():
                print(f"%track: no notebook at {notebook}")
                return
        as_json = "--json" in words
        words = [w for w in words if w != "--json"]
        command = words[0] if words else "on"
        if command not in ("on", "off", "status", "report") or len(words) > 1:
            print(_USAGE)
            return
        if as_json and command != "report":
            print(f"%track: --json goes with report\n{_USAGE}")
            return
        recorder = self.recorder
        if command == "on":
            recorder.start(notebook)
            print(self._started_message())
        elif command == "off":
            recorder.stop()
            print("%track is off (`%track report` still shows what was recorded)")
        elif command == "status":
            if notebook is not None:
                recorder.start(notebook)
            print("\n".join(status_lines(recorder)))
        else:
            if notebook is not None:
                recorder.start(notebook)
            report = recorder.report()
            if as_json:
                print(json.dumps(report.to_json(), indent=2))
            else:
                print("\n".join(report.lines()))

    def _started_message(self) -> str:
        recorder = self.recorder
        where = recorder.notebook.path.name if recorder.notebook else "no notebook file (see %track status)"
        return f"%track is on: {where}"


def status_lines(recorder: ExecutionRecorder) -> list[str]:
    """What ``%track status`` prints."""
    if recorder.enabled:
        lines = [f"%track is on since In [{recorder.started_at_count}]: {recorder.state.executions} executions recorded"]
    elif recorder.failure:
        lines = [f"%track is off after an internal error: {recorder.failure}"]
    else:
        lines = [f"%track is off ({recorder.state.executions} executions recorded)"]
    source = recorder.notebook
    if source is not None:
        lines.append(f"notebook: {source.path} (from {source.origin})")
        error = recorder.notebook_file.error if recorder.notebook_file else None
        if error:
            lines.append(f"  cannot read it: {error}")
        log = f"history log: {history_path(source.path)}"
        lines.append(log if recorder.log_error is None else f"history log: off ({recorder.log_error})")
        lines.append(store_line(recorder))
    else:
        lines.append(
            "notebook: unknown (no __session__ / JPY_SESSION_NAME; use %track --notebook PATH): "
            "cells are ordered by execution; no history log"
        )
    if recorder.with_cell_id and not recorder.without_cell_id:
        lines.append("cell ids: sent by the frontend")
    elif recorder.without_cell_id:
        lines.append(
            f"cell ids: not sent for {recorder.without_cell_id} of "
            f"{recorder.with_cell_id + recorder.without_cell_id} executions (nbclient, papermill "
            "and consoles send none): degraded mode — cells are matched to the saved notebook by "
            "source text, an edited cell counts as a new cell, unmatched cells are placed by "
            "execution order"
        )
    else:
        lines.append("cell ids: nothing executed yet")
    lines.append(
        f"deleted cells: {recorder.deleted_reported} reported by the frontend (JupyterLab sends deletedCells)"
    )
    if recorder.costs:
        ordered = sorted(recorder.costs)
        lines.append(
            f"tracker time per execution: median {ordered[len(ordered) // 2] * 1000:.2f} ms, "
            f"max {ordered[-1] * 1000:.1f} ms"
        )
    lines.append("hazards available: " + ", ".join(available_hazards(recorder)))
    missing = [k.value for k in HazardKind if k.value not in available_hazards(recorder)]
    if missing:
        lines.append("not available here: " + ", ".join(missing))
    return lines


def store_line(recorder: ExecutionRecorder) -> str:
    """What the code store keeps (the sources a session can be replayed from)."""
    log = recorder.log
    store = log.store if log is not None else None
    if store is None:
        assert recorder.notebook is not None
        store = SourceStore.beside(recorder.notebook.path)
    where = f"{store.folder}"
    if log is not None and log.store_error is not None:
        return f"code store: {where}: off ({log.store_error.strerror}); sessions cannot be replayed"
    return (
        f"code store: {where}: {store.usage().describe()}; the code each execution ran, "
        "never outputs or data (nb2pipe recover replays it)"
    )


def available_hazards(recorder: ExecutionRecorder) -> list[str]:
    kinds = recorder.available_kinds()
    return [kind.value for kind in HazardKind if kind in kinds]
