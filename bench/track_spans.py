"""Timing spans around ``%track``'s per-cell work, installed inside a kernel (used by
``bench/profile_track.py``; not part of nb2pipe).

``install(shell, tracked)`` wraps the kernel's ``do_execute`` (every kernel: the time from the
request to the reply's content) and, when ``tracked``, the tracker's hooks and the steps inside
them, each with ``time.perf_counter_ns``; ``report()`` prints, as one JSON object, each span's
per-cell times (ns, one list per span, one entry per measured cell). Spans are inclusive: a step
inside a hook counts in both. ``profile=True`` also runs ``cProfile`` while the tracker's hooks
run (and only then) and prints its top functions.
"""

from __future__ import annotations

import cProfile
import functools
import gc
import io
import json
import pstats
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

_totals: dict[str, int] = defaultdict(int)
_cells: dict[str, list[int]] = defaultdict(list)
_profile: cProfile.Profile | None = None
_depth = 0
_executing = False
_replied = [False]


def _timed(name: str, function: Callable[..., Any], hook: bool = False) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        global _depth
        if hook and _profile is not None:
            _depth += 1
            if _depth == 1:
                _profile.enable()
        start = time.perf_counter_ns()
        try:
            return function(*args, **kwargs)
        finally:
            _totals[name] += time.perf_counter_ns() - start
            if hook and _profile is not None:
                _depth -= 1
                if _depth == 0:
                    _profile.disable()

    return wrapper


def _patch(owner: Any, attribute: str, name: str, hook: bool = False) -> None:
    raw = owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)
    if isinstance(raw, classmethod):
        setattr(owner, attribute, classmethod(_timed(name, raw.__func__, hook)))
    elif isinstance(raw, staticmethod):
        setattr(owner, attribute, staticmethod(_timed(name, raw.__func__, hook)))
    else:
        setattr(owner, attribute, _timed(name, raw, hook))


def end_cell() -> None:
    for name in set(_totals) | set(_cells):
        _cells[name].append(_totals.get(name, 0))
    _totals.clear()


_gc_started = [0]


def _gc_timer(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter_ns()
    else:
        _totals[f"gc.gen{info.get('generation', 0)}"] += time.perf_counter_ns() - _gc_started[0]


def install(shell: Any, tracked: bool, profile: bool = False) -> None:
    gc.callbacks.append(_gc_timer)
    kernel = shell.kernel
    execute = kernel.do_execute

    @functools.wraps(execute)
    async def do_execute(*args: Any, **kwargs: Any) -> Any:
        global _executing
        _executing = True
        _replied[0] = False
        start = time.perf_counter_ns()
        try:
            return await execute(*args, **kwargs)
        finally:
            _totals["do_execute"] += time.perf_counter_ns() - start
            _executing = False
            end_cell()

    kernel.do_execute = do_execute
    session = kernel.session
    send = session.send

    def timed_send(stream: Any, msg_or_type: Any, *args: Any, **kwargs: Any) -> Any:
        if msg_or_type == "execute_reply":
            _replied[0] = True
        return send(stream, msg_or_type, *args, **kwargs)

    session.send = timed_send
    if tracked:
        install_tracker(shell, profile)


def install_tracker(shell: Any, profile: bool = False) -> None:
    """The spans inside the tracker (``end_cell()`` closes a cell's, without a kernel)."""
    global _profile
    from nb2pipe.tracking import hazards, log, order, recorder, report, snapshot, state

    _profile = cProfile.Profile() if profile else None
    rec = shell.magics_manager.registry["TrackMagics"].recorder
    # the hooks as registered (bound methods in IPython's callback lists)
    events = shell.events.callbacks
    for event, method in (("pre_run_cell", "pre_run_cell"), ("post_run_cell", "post_run_cell")):
        bound = getattr(rec, method)
        index = events[event].index(bound)
        events[event][index] = _timed(f"hook.{method}", bound, hook=True)
    _patch(recorder._TreeRecorder, "visit", "hook.ast_transformer", hook=True)
    for method in (
        "on_tree", "_record", "_warn", "_file_accesses", "_cell_key", "order", "_stale_after",
        "_ran_on_stale_input", "available_kinds", "_request_metadata",
    ):
        _patch(recorder.ExecutionRecorder, method, f"rec.{method}")
    for function in (
        "gather_cell_symbols", "static_effects", "execution_hazards", "merge_duplicates",
        "format_warning", "file_accesses", "source_digest", "first_code_line", "list_folder",
        "simulate_fresh_run", "plan_rerun",
    ):
        setattr(recorder, function, _timed(f"fn.{function}", getattr(recorder, function)))
    snapshot.observed_fingerprints = _timed(
        "fn.observed_fingerprints", snapshot.observed_fingerprints
    )
    _patch(snapshot.NamespaceSnapshot, "take", "snapshot.take")
    _patch(snapshot.NamespaceSnapshot, "observe", "snapshot.observe")
    _patch(snapshot.ObservedEffects, "event", "snapshot.event")
    _patch(state.TrackerState, "apply", "state.apply")
    _patch(log.HistoryLog, "append", "log.append")
    _patch(report.StaticHazardCache, "hazards", "report.static_hazards")
    _patch(order.NotebookFile, "refresh", "order.file_refresh")
    _patch(order.NotebookOrder, "refresh_runs", "order.refresh_runs")
    _patch(recorder._HeldInterrupts, "__enter__", "sigint.enter")
    _patch(recorder._HeldInterrupts, "__exit__", "sigint.exit")
    _patch(type(rec.audit), "start", "audit.start")
    _patch(type(rec.audit), "stop", "audit.stop")
    _patch(type(rec.audit), "take", "audit.take")
    _patch(hazards, "execution_hazards", "fn.execution_hazards.inner")
    drain = log.HistoryLog.drain

    def timed_drain(self: Any) -> None:
        start = time.perf_counter_ns()
        try:
            drain(self)
        finally:
            # on the event loop after the reply (counted with the next cell), or in a hook
            where = "log.drain" if _executing else "log.drain(after reply)"
            if not _executing and not _replied[0] and self._file is not None:
                _totals["log.drain before the reply"] += 1
            _totals[where] += time.perf_counter_ns() - start

    log.HistoryLog.drain = timed_drain  # type: ignore[method-assign]


def report(skip: int = 0) -> None:
    """Print the spans (dropping the first ``skip`` cells) and the profile, if any."""
    out = {name: values[skip:] for name, values in _cells.items()}
    print("SPANS " + json.dumps(out))
    if _profile is not None:
        text = io.StringIO()
        stats = pstats.Stats(_profile, stream=text)
        stats.sort_stats("tottime").print_stats(45)
        stats.sort_stats("cumulative").print_stats(60)
        print("PROFILE\n" + text.getvalue())
