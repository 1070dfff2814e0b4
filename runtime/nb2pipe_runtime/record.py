"""The run record: one typed, versioned contract between exported scripts and their readers.

Every run of an exported script writes ``runs/<run id>/run.json`` (:meth:`RunRecord.write`);
``nb2pipe runs`` and ``nb2pipe verify`` read it back with
:func:`nb2pipe_runtime.reading.read_record`, which checks every field, so a reader never
guesses (scripts only write records, so ``--standalone`` inlines this module, not the
reader). ``docs/run-record.schema.json`` in nb2pipe's repository is the same contract as a
JSON Schema. :data:`FORMAT_VERSION` grows when a field changes meaning or disappears; readers
accept older versions they know how to upgrade (records written before the format had a
version read as version 0).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TypeAlias

from nb2pipe_runtime.atomic import write_json_atomically

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "DataSource",
    "DvcContext",
    "DvcSource",
    "GitState",
    "Goal",
    "InputLineage",
    "JSONValue",
    "MlflowRun",
    "Objective",
    "ObjectiveSource",
    "OutputFormat",
    "RunRecord",
    "SavedOutput",
    "Status",
    "StepTiming",
]

FORMAT = "nb2pipe-run"
#: 0: nb2pipe 0.1 (no ``format_version``); 1: nb2pipe 0.2; 2: ``git.changed`` lists untracked
#: files the run read and no longer cuts characters off names; ``mlflow_error``; ``objective``;
#: ``sources`` (data read from URLs and DVC registries, with their versions; records of version
#: 2 written before it read with none)
FORMAT_VERSION = 2
RECORD_NAME = "run.json"

JSONValue: TypeAlias = (
    None | bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"]
)
#: How a run ended; ``pruned``: ``nb2pipe sweep``'s pruner stopped it early (added to format
#: version 2 later: a reader of an older nb2pipe refuses such a record, naming the field)
Status: TypeAlias = Literal["finished", "failed", "pruned"]
#: How a step output is saved (see :mod:`nb2pipe_runtime.outputs`).
OutputFormat: TypeAlias = Literal["parquet", "npy", "joblib", "json", "pickle"]


@dataclass(frozen=True)
class GitState:
    """The code version: the commit checked out and the files that differ from it."""

    commit: str
    #: some file differs from the commit (``changed`` is not empty)
    dirty: bool
    #: files that differ from the commit, relative to the repository's top folder (at most
    #: 50): tracked files with uncommitted changes (staged or not, deleted ones, renamed ones
    #: under their new name) and untracked files the run read (the script, modules it
    #: imported, files it opened); untracked files it did not read (its ``runs/`` folder,
    #: files earlier runs wrote) and ignored files are left out. Records of format 1 listed
    #: tracked files only, some with their first character cut off.
    changed: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepTiming:
    """A pipeline step that ran in this run."""

    name: str
    seconds: float


@dataclass(frozen=True)
class SavedOutput:
    """One output a step saved for later steps (``--outputs-dir/<step>/<file>``)."""

    file: str  #: file name in the step's folder
    format: OutputFormat
    type: str  #: the value's qualified type name
    path: str = ""  #: relative to the run's working folder (absolute when outside it)
    sha256: str = ""
    model: bool = False  #: a fitted estimator (also kept as a run artifact)
    series_name: JSONValue = None  #: a pandas Series' name (parquet keeps it as a column)


@dataclass(frozen=True)
class InputLineage:
    """A saved step output that a ``--step`` run loaded, and the run that produced it."""

    name: str  #: the variable
    step: str  #: the step that produced it
    path: str
    sha256: str
    #: the run that saved it (``None``: saved by a script without run records)
    run_id: str | None = None
    #: what the value was computed with: the parameters that run's steps up to this one read,
    #: and the effective parameters of that run's own inputs
    params: dict[str, JSONValue] = field(default_factory=dict)
    #: the data the value was computed from (path -> SHA-256; a URL -> its version identity)
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DvcContext:
    """Set when DVC ran the script (``dvc repro``, ``dvc exp run``)."""

    experiment: str | None = None
    stage: str | None = None
    baseline: str | None = None


@dataclass(frozen=True)
class DvcSource:
    """Where a read through ``dvc.api`` came from."""

    repo: str  #: the repository as the code named it (a URL or a path); ``""``: the run's own
    path: str  #: the path in the repository
    rev: str | None = None  #: the revision the code asked for (a tag, a branch, a commit)
    commit: str | None = None  #: the commit ``rev`` resolved to
    md5: str | None = None  #: DVC's md5 of the path at that commit (``None``: git tracks it)


@dataclass(frozen=True)
class DataSource:
    """Data the run read from elsewhere than a local file (a bucket, a web server, a DVC
    registry) and which version of it: what the store says and what the bytes were."""

    url: str  #: without credentials, signatures or a pinned ``versionId``
    scheme: str  #: ``s3``, ``gs``, ``az``, ``hf``, ``http``, ``https``, ``dvc``, ...
    size: int | None = None
    #: SHA-256 of the bytes, when the code read the whole object
    sha256: str | None = None
    #: the store's version of the object: S3 ``VersionId``, GCS generation, Azure version id,
    #: Hugging Face blob id
    version_id: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    #: the version the code asked for: a URL's ``versionId``, a DVC revision
    pinned: str | None = None
    dvc: DvcSource | None = None
    #: the parameter whose value named this source (its URL, or its DVC revision)
    parameter: str | None = None

    @property
    def identity(self) -> str | None:
        """The version identity runs are compared by: the content's SHA-256, else DVC's md5,
        else the store's version id, else the commit of a git-tracked file in a DVC
        repository; ``None`` when the run cannot say which version it read."""
        if self.sha256:
            return self.sha256
        if self.dvc is not None and self.dvc.md5:
            return f"md5:{self.dvc.md5}"
        if self.version_id:
            return f"version:{self.version_id}"
        if self.dvc is not None and self.dvc.commit:
            return f"commit:{self.dvc.commit}"
        return None

    @property
    def checks(self) -> str | None:
        """What a later read can be checked against when there is no identity (HTTP: the
        ``ETag`` and ``Last-Modified`` headers)."""
        parts = [part for part in (self.etag, self.last_modified) if part]
        return "etag:" + " ".join(parts) if parts else None

    @property
    def can_pin(self) -> bool:
        """Whether a configuration can name the version read (S3 ``?versionId=``, a DVC
        commit); HTTP content can be checked but not pinned."""
        return (self.scheme == "s3" and self.version_id is not None) or (
            self.dvc is not None and self.dvc.commit is not None
        )


@dataclass(frozen=True)
class MlflowRun:
    """Where the run was logged in MLflow."""

    run_id: str
    experiment_id: str
    tracking_uri: str


#: Which way a metric is better.
Goal: TypeAlias = Literal["maximize", "minimize"]
#: Who chose a run's primary metric: the notebook (the first number its ``metrics`` cell
#: assigns) or ``nb2pipe sweep --metric``/``--minimize``.
ObjectiveSource: TypeAlias = Literal["metrics", "sweep"]

#: Words that make a metric's name one where lower is better (``val_loss``, ``rmse``,
#: ``fit_time``): a loss, an error, a cost, a distance, a duration, an information criterion.
_LOWER_IS_BETTER = frozenset({
    "loss", "losses", "error", "errors", "err", "mse", "rmse", "mae", "mape", "smape", "msle",
    "rmsle", "medae", "nll", "logloss", "deviance", "perplexity", "ppl", "cost", "regret",
    "distance", "dist", "latency", "time", "seconds", "duration", "runtime", "bic", "aic",
    "wer", "cer", "fpr", "fnr", "eer", "brier", "hamming", "risk", "divergence", "kl",
})


@dataclass(frozen=True)
class Objective:
    """The run's primary metric: what the best run of its experiment is best at."""

    metric: str
    goal: Goal
    source: ObjectiveSource

    @staticmethod
    def goal_of(metric: str) -> Goal:
        """Whether ``metric`` is better higher or lower, by its name: lower for a loss, an
        error, a cost, a distance or a duration (``val_loss``, ``rmse``, ``fitTime``), except
        scikit-learn's negated scores (``neg_mean_squared_error``); higher otherwise."""
        spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", metric).lower()
        words = [word for word in re.split(r"[^a-z0-9]+", spaced) if word]
        if words and words[0] in ("neg", "negative"):
            return "maximize"
        return "minimize" if any(word in _LOWER_IS_BETTER for word in words) else "maximize"


@dataclass(frozen=True)
class RunRecord:
    """One run of an exported script."""

    run_id: str
    #: the experiment the run belongs to: the notebook's stem unless ``--experiment``
    experiment: str
    script: str  #: the script's file name
    notebook: str | None  #: the notebook it was exported from, relative to the script
    status: Status
    start: str  #: ISO 8601, UTC
    end: str
    seconds: float
    python: str
    #: the parameters this run's code read (for a ``--step`` run: those its step reads)
    params: dict[str, JSONValue] = field(default_factory=dict)
    #: ``params`` and the parameters of the runs that produced its inputs: what its results
    #: were computed with
    effective_params: dict[str, JSONValue] = field(default_factory=dict)
    #: parameters whose value differs along the lineage (the inputs were computed with other
    #: values than this run's or each other's): no single value describes the results
    mixed_params: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    #: data files the run read (relative path, or absolute outside its folder) -> SHA-256
    data: dict[str, str] = field(default_factory=dict)
    #: data the run read from URLs and DVC registries, with the versions it read
    sources: tuple[DataSource, ...] = ()
    #: saved step outputs a ``--step`` run loaded instead of computing them
    lineage: tuple[InputLineage, ...] = ()
    #: step -> output name -> what was saved
    outputs: dict[str, dict[str, SavedOutput]] = field(default_factory=dict)
    artifacts: tuple[str, ...] = ()  #: files under ``runs/<run id>/artifacts/``
    error: str | None = None  #: the exception's one-line description, for a failed run
    traceback: str | None = None
    step: str | None = None  #: the step ``--step`` selected
    steps: tuple[StepTiming, ...] = ()  #: the pipeline steps that ran
    argv: tuple[str, ...] = ()
    git: GitState | None = None
    packages: dict[str, str] = field(default_factory=dict)  #: distribution -> version
    dvc: DvcContext | None = None
    mlflow: MlflowRun | None = None
    #: the primary metric and whether higher or lower is better; ``None`` without metrics
    objective: Objective | None = None
    #: why logging to MLflow failed (one line, naming the tracking URI); ``None`` when the run
    #: was logged (``mlflow``) or no tracking URI was set
    mlflow_error: str | None = None
    warnings: tuple[str, ...] = ()
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def data_versions(self) -> dict[str, str]:
        """Every input the run read -> the version it read: local files by SHA-256 (``data``),
        sources by URL and :attr:`DataSource.identity` (else what can be checked, else
        ``unversioned``)."""
        versions = dict(self.data)
        for source in self.sources:
            versions[source.url] = source.identity or source.checks or "unversioned"
        return versions

    # -- JSON --------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The record as JSON values (what ``run.json`` holds)."""
        value: dict[str, Any] = _to_json(self)
        return value

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the record atomically (a reader never sees half a file)."""
        write_json_atomically(path, self.to_json())


# -- JSON (de)serialisation of the dataclasses above ---------------------------------------------
def _to_json(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _to_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (tuple, list)):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    return value
