"""One recorded run of an exported script: ``with Run(params, __file__, notebook):``.

Entering the block starts the run: a run id, ``runs/<run id>/artifacts/``, the file audit and
the audit of data read from URLs and DVC registries (:mod:`nb2pipe_runtime.sources`).
Leaving it writes ``runs/<run id>/run.json`` (a :class:`~nb2pipe_runtime.record.RunRecord`),
also for a failed run, whose exception then propagates. A pipeline runs its steps through
:meth:`Run.step`, which saves their outputs and, for ``--step NAME``, stands in for the steps
that do not run and loads their saved outputs where the selected step needs them.
"""

from __future__ import annotations

import argparse
import datetime
import math
import numbers
import os
import secrets
import sys
import time
import traceback
from dataclasses import replace
from types import TracebackType
from typing import Any

from nb2pipe_runtime.atomic import write_json_atomically, write_text_atomically
from nb2pipe_runtime.audit import FileAudit, is_environment_file
from nb2pipe_runtime.cli import command_line, parameter_values
from nb2pipe_runtime.environment import dvc_context, git_state, package_versions, sha256_of
from nb2pipe_runtime.record import (
    RECORD_NAME,
    DataSource,
    DvcSource,
    InputLineage,
    JSONValue,
    Objective,
    RunRecord,
    SavedOutput,
    Status,
    StepTiming,
)
from nb2pipe_runtime.sources import SourceAudit, SourceRead, public_url

__all__ = [
    "OBJECTIVE_VARIABLE",
    "RECORD_HANDOFF_VARIABLE",
    "REQUIRE_DATA_VERSION_VARIABLE",
    "Run",
    "active_run",
    "record_metrics",
]

#: The environment variable ``nb2pipe sweep`` sets to the metric it ranks runs by.
OBJECTIVE_VARIABLE = "NB2PIPE_OBJECTIVE"
#: ``1`` (a team's CI): every run behaves as with ``--require-data-version``.
REQUIRE_DATA_VERSION_VARIABLE = "NB2PIPE_REQUIRE_DATA_VERSION"
#: Set by an orchestrator's task (:mod:`nb2pipe_runtime.engine`) to a file the run writes its
#: record's absolute path to when it ends, so the task reads the record instead of parsing the
#: status line. Taken out of the environment when the run starts: a script the notebook
#: starts does not inherit it.
RECORD_HANDOFF_VARIABLE = "NB2PIPE_RECORD_HANDOFF"

#: The runs in progress, innermost last.
_RUNS: list[Run] = []


def active_run() -> Run | None:
    """The run in progress, if any."""
    return _RUNS[-1] if _RUNS else None


def record_metrics(**values: Any) -> None:
    """Record the numbers a ``metrics`` cell assigned as metrics of the run in progress
    (other values are left out: metrics are numbers)."""
    run = active_run()
    if run is not None:
        run.add_metrics(values)


def _print_frames_as_a_notebook_does() -> None:
    """pandas prints a wide frame in a kernel wrapped over lines (``display.max_columns`` 20),
    in a script cut to the terminal's width (0: as many columns as fit): the script's output
    then depends on where it runs. Print them as the notebook did."""
    pandas = sys.modules.get("pandas")
    options = getattr(pandas, "options", None)
    try:
        if options is not None and options.display.max_columns == 0:
            options.display.max_columns = 20
    except (AttributeError, ValueError):  # a pandas without these options: leave it alone
        pass


class Run:
    """One run of an exported script, recorded in ``<runs dir>/<run id>/run.json``.

    A flat script's run; a pipeline's is a :class:`~nb2pipe_runtime.pipeline.Pipeline`.
    """

    def __init__(
        self, params: argparse.Namespace, script: str, notebook: str | None = None
    ) -> None:
        self.params = params
        self.script = script
        self.notebook = notebook
        self.cwd = os.getcwd()
        self.selected: str | None = getattr(params, "step", None)
        self.experiment = (
            getattr(params, "experiment", None)
            or os.path.splitext(os.path.basename(notebook or script))[0]
        )
        # absolute now: the notebook's code may change the working directory
        self.outputs_dir = os.path.abspath(getattr(params, "outputs_dir", None) or "outputs")
        self.runs_dir = _runs_dir(getattr(params, "runs_dir", None) or "runs", self.cwd)
        self.tracking_uri: str | None = getattr(params, "tracking_uri", None) or os.environ.get(
            "MLFLOW_TRACKING_URI"
        )
        metrics_file = getattr(params, "metrics_file", None)
        self.metrics_file = os.path.abspath(metrics_file) if metrics_file else None
        config = getattr(params, "config", None)
        self.config_file = os.path.abspath(config) if config else None
        self.run_id = ""
        self.run_dir = ""
        self.started = self.ended = 0.0
        self.metrics: dict[str, float] = {}
        #: the first metric the metrics cell assigned (the record's ``metrics`` are sorted)
        self.first_metric: str | None = None
        self.warnings: list[str] = []
        self.steps: list[StepTiming] = []
        self.outputs: dict[str, dict[str, SavedOutput]] = {}
        self.lineage: list[InputLineage] = []
        #: parameters the steps that ran read (a whole flat run reads them all)
        self.params_read: set[str] = set()
        self.audit = FileAudit(root=self.cwd)
        self.sources = SourceAudit()
        self.handoff = os.environ.pop(RECORD_HANDOFF_VARIABLE, "") or None
        self.require_data_version = bool(getattr(params, "require_data_version", False)) or (
            os.environ.get(REQUIRE_DATA_VERSION_VARIABLE, "").strip().lower()
            not in ("", "0", "false", "no", "off")
        )

    # -- the run -----------------------------------------------------------------------------
    def __enter__(self) -> Run:  # noqa: PYI034 - typing.Self needs Python 3.11
        self.started = time.time()
        stamp = datetime.datetime.fromtimestamp(self.started).strftime("%Y%m%d-%H%M%S")
        self.run_id = f"{stamp}-{secrets.token_hex(3)}"
        self.run_dir = os.path.join(self.runs_dir, self.run_id)
        os.makedirs(os.path.join(self.run_dir, "artifacts"), exist_ok=True)
        _RUNS.append(self)
        _print_frames_as_a_notebook_does()
        self.audit.start()
        self.sources.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.audit.stop()
        self.sources.stop()
        if _RUNS and _RUNS[-1] is self:
            _RUNS.pop()
        self.ended = time.time()
        # nb2pipe_runtime.sweep.Pruned, known by its mark: that module is not imported here,
        # so a --standalone script inlines it only when its notebook reports
        pruned = getattr(exc, "pruned_by_sweep", False) is True
        failed = exc is not None and not pruned and not (
            isinstance(exc, SystemExit) and exc.code in (None, 0)
        )
        error = None
        if exc is not None and failed:
            error = str(exc.code) if isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}"
        if pruned:
            self._record_pruned(float(getattr(exc, "value", math.nan)))
        status = "failed" if failed else "pruned" if pruned else "finished"
        try:
            record = self._finish(status, error, exc if failed else None)
        except Exception as problem:  # noqa: BLE001 - recording must not hide the run's result
            print(f"nb2pipe: error: could not record the run: {problem!r}", file=sys.stderr)
            if not failed:
                raise SystemExit(1) from None  # the run worked, its record did not: say so
            return
        if not failed and (record.mlflow_error is not None or record.status == "failed"):
            # the user asked for MLflow and logging failed, or for versioned data and the run
            # read some without a version: say so with the exit code too
            raise SystemExit(1)

    def artifact_dir(self, name: str) -> str:
        """A folder of this run's artifacts (created): figures, models, ..."""
        path = os.path.join(self.run_dir, "artifacts", name)
        os.makedirs(path, exist_ok=True)
        return path

    def add_metrics(self, values: dict[str, Any]) -> None:
        """Record ``values`` as metrics: numbers only, a non-finite one is left out with a
        warning."""
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                continue  # metrics are numbers; other values a metrics cell assigns are not
            number = float(value)
            if not math.isfinite(number):
                self.warnings.append(f"metric {key!r} is {number}; not recorded")
                continue
            self.metrics[key] = number
            if self.first_metric is None:
                self.first_metric = key

    def _record_pruned(self, value: float) -> None:
        """A pruned run's metric is the value it reported last (its metrics cell never ran),
        under the name the sweep ranks by."""
        metric = os.environ.get(OBJECTIVE_VARIABLE, "").partition(":")[0] or self.first_metric
        if metric and metric not in self.metrics:
            self.add_metrics({metric: value})

    # -- finishing ---------------------------------------------------------------------------
    def _effective_params(
        self, *, whole: bool
    ) -> tuple[dict[str, JSONValue], dict[str, JSONValue], list[str]]:
        """This run's parameters, its effective parameters and the mixed ones.

        ``whole``: a run without ``--step`` has every parameter (a flat script's parameters
        cell reads them all, a whole pipeline ran every step with these values); otherwise, and
        for what saved outputs were computed with, the parameters are those the steps that ran
        read.
        """
        every = parameter_values(self.params)
        if whole and self.selected is None:
            own = every
        else:
            own = {name: value for name, value in every.items() if name in self.params_read}
        effective: dict[str, JSONValue] = dict(own)
        mixed: set[str] = set()
        for entry in self.lineage:
            for name, value in entry.params.items():
                if name in effective and effective[name] != value:
                    mixed.add(name)
                effective.setdefault(name, value)
        return own, effective, sorted(mixed)

    def _inputs_read(self) -> list[str]:
        """Files the code read so far and did not write, Python modules it imported included;
        not its records, the config file (its values are the parameters) nor saved step
        outputs (the lineage has them)."""
        special = [os.path.join(folder, "") for folder in (self.runs_dir, self.outputs_dir)]
        return [
            path for path in self.audit.reads()
            if path != self.config_file and not path.startswith(tuple(special))
        ]

    def _code_files(self) -> list[str]:
        """The script and the modules this process imported from outside the environment
        (a helper module beside the script, imported before the run started as well)."""
        found = [os.path.abspath(self.script)]
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str) and path.endswith(".py"):
                path = os.path.abspath(path)
                if not is_environment_file(path, self.cwd):
                    found.append(path)
        return found

    def _data_files(self) -> dict[str, str]:
        """Data files read so far: path -> SHA-256 (Python modules it imported are code, not
        data; see :meth:`_inputs_read` for what else is left out)."""
        data: dict[str, str] = {}
        for path in self._inputs_read():
            if path.endswith(".py") or not os.path.isfile(path):
                continue
            try:
                data[self._relative(path)] = sha256_of(path)
            except OSError:
                continue
        return dict(sorted(data.items()))

    def _data_sources(self, params: dict[str, JSONValue]) -> tuple[DataSource, ...]:
        """The data read from URLs and DVC registries, each version once, in the order first
        read, with the parameter that named it."""
        found: dict[tuple[str, str | None, str | None], DataSource] = {}
        for read in self.sources.reads:
            source = _data_source(read, params)
            found.setdefault((source.url, source.identity, source.checks), source)
        return tuple(found.values())

    def _unversioned(self, sources: tuple[DataSource, ...]) -> str | None:
        """With ``--require-data-version``: the one line naming the data read without a
        version identity, if any."""
        if not self.require_data_version:
            return None
        missing = [source for source in sources if source.identity is None]
        if not missing:
            return None
        first = missing[0]
        why = "no version id from the store, and the run did not read all of it"
        if first.checks:
            why += f" (only {first.checks.removeprefix('etag:')}, which can change in place)"
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        return (
            f"read data without a version identity: {first.url}{more}: {why} "
            f"(--require-data-version)"
        )

    def _finish(self, status: str, error: str | None, exc: BaseException | None) -> RunRecord:
        self._finish_outputs()
        own, effective, mixed = self._effective_params(whole=True)
        sources = self._data_sources(parameter_values(self.params))
        unversioned = self._unversioned(sources)
        if unversioned is not None:
            if status == "failed":
                self.warnings.append(unversioned)
            else:
                status, error = "failed", unversioned
        for name in mixed:
            self.warnings.append(
                f"parameter {name!r} differs between this run and the runs that produced its "
                "inputs: run the pipeline again to get results for one value"
            )
        record = RunRecord(
            run_id=self.run_id,
            experiment=self.experiment,
            script=os.path.basename(self.script),
            notebook=self.notebook,
            status=_status(status),
            error=error,
            traceback=(
                "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                if exc is not None and not isinstance(exc, SystemExit) else None
            ),
            step=self.selected,
            steps=tuple(self.steps),
            argv=command_line(self.params),
            params=own,
            effective_params=effective,
            mixed_params=tuple(mixed),
            metrics=dict(sorted(self.metrics.items())),
            data=self._data_files(),
            sources=sources,
            lineage=tuple(self.lineage),
            outputs=self.outputs,
            artifacts=self._artifacts(),
            git=git_state(self.cwd, [*self._code_files(), *self._inputs_read()]),
            python=sys.version.split()[0],
            packages=package_versions(),
            start=_when(self.started),
            end=_when(self.ended),
            seconds=round(self.ended - self.started, 3),
            dvc=dvc_context(),
            objective=self._objective(),
            warnings=tuple(self.warnings),
        )
        for warning in self.warnings:
            print(f"nb2pipe: warning: {warning}", file=sys.stderr)
        path = os.path.join(self.run_dir, RECORD_NAME)
        record.write(path)
        if self.metrics_file and status == "finished":
            folder = os.path.dirname(self.metrics_file)
            if folder:
                os.makedirs(folder, exist_ok=True)
            write_json_atomically(self.metrics_file, record.metrics)
        where = self._relative(path)
        if self.tracking_uri:
            from nb2pipe_runtime.mlflow_log import MlflowError, log_run

            try:
                logged = log_run(record, self.run_dir, self.tracking_uri)
            except MlflowError as problem:
                record = replace(record, mlflow_error=str(problem))
            else:
                record = replace(record, mlflow=logged)
            record.write(path)
        if self.handoff is not None:
            write_text_atomically(self.handoff, os.path.abspath(path))
        print(f"nb2pipe: run {self.run_id} {record.status}; recorded in {where}", file=sys.stderr)
        if unversioned is not None and error == unversioned:
            # the last line names the input, as the exit code says the run failed
            print(f"nb2pipe: error: {unversioned}; the run is recorded in {where}", file=sys.stderr)
        if record.mlflow_error is not None:
            # the last line says what went wrong, as the exit code does (see __exit__)
            print(
                f"nb2pipe: error: {record.mlflow_error}; the run is recorded in {where}",
                file=sys.stderr,
            )
        return record

    def _objective(self) -> Objective | None:
        """The run's primary metric: the one ``nb2pipe sweep`` ranks by (it sets
        :data:`OBJECTIVE_VARIABLE` to ``METRIC:GOAL``, or ``:GOAL`` for the first metric), else
        the first metric the metrics cell assigned, better higher or lower by its name."""
        metric, _, goal = os.environ.get(OBJECTIVE_VARIABLE, "").partition(":")
        chosen = metric or self.first_metric
        if chosen is not None and goal in ("maximize", "minimize"):
            return Objective(chosen, "minimize" if goal == "minimize" else "maximize", "sweep")
        if self.first_metric is None:
            return None
        return Objective(self.first_metric, Objective.goal_of(self.first_metric), "metrics")

    def _finish_outputs(self) -> None:
        """Complete the record of saved step outputs (a :class:`Pipeline` has some)."""

    def _relative(self, path: str) -> str:
        path = os.path.abspath(path)
        if path.startswith(os.path.join(self.cwd, "")):
            return os.path.relpath(path, self.cwd).replace(os.sep, "/")
        return path

    def _artifacts(self) -> tuple[str, ...]:
        base = os.path.join(self.run_dir, "artifacts")
        found = []
        for folder, _dirs, files in os.walk(base):
            for name in files:
                found.append(os.path.relpath(os.path.join(folder, name), base).replace(os.sep, "/"))
        return tuple(sorted(found))


def _data_source(read: SourceRead, params: dict[str, JSONValue]) -> DataSource:
    """A read of :mod:`~nb2pipe_runtime.sources` as the record keeps it, with the parameter
    whose value named it: the URL (pinned or not) or, for DVC, the revision or the path."""
    dvc = None
    if read.dvc_path is not None:
        dvc = DvcSource(
            repo=read.dvc_repo or "", path=read.dvc_path, rev=read.dvc_rev,
            commit=read.dvc_commit, md5=read.dvc_md5,
        )
    parameter = None
    for name, value in params.items():
        if not isinstance(value, str) or not value:
            continue
        if "://" in value and public_url(value) == read.url:
            parameter = name
            break
        if dvc is not None and value in (dvc.rev, dvc.path) and parameter is None:
            parameter = name  # a revision names the version; keep looking for it first
            if value == dvc.rev:
                break
    return DataSource(
        url=read.url, scheme=read.scheme, size=read.size, sha256=read.sha256,
        version_id=read.version_id, etag=read.etag, last_modified=read.last_modified,
        pinned=read.pinned, dvc=dvc, parameter=parameter,
    )


def _status(status: str) -> Status:
    if status in ("failed", "pruned"):
        return "failed" if status == "failed" else "pruned"
    return "finished"




def _when(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds")


def _runs_dir(runs_dir: str, cwd: str) -> str:
    """``runs_dir``, moved to the DVC project a queued experiment runs for.

    ``dvc queue start`` runs experiments in a temporary copy of the project that is deleted
    afterwards; DVC then sets ``DVC_ROOT`` to the real project, so records go there.
    """
    root = os.environ.get("DVC_ROOT")
    if not root or not os.environ.get("DVC_EXP_NAME") or os.path.isabs(runs_dir):
        return os.path.abspath(runs_dir)
    here = cwd
    while not os.path.isdir(os.path.join(here, ".dvc")):
        parent = os.path.dirname(here)
        if parent == here:
            return os.path.abspath(runs_dir)
        here = parent
    if os.path.realpath(here) == os.path.realpath(root):
        return os.path.abspath(runs_dir)
    return os.path.join(root, os.path.relpath(cwd, here), runs_dir)
