"""The run record: one typed, versioned contract between exported scripts and their readers.

Every run of an exported script writes ``runs/<run id>/run.json``; ``nb2pipe runs`` and
``nb2pipe verify`` read it back with :meth:`RunRecord.read`, which checks every field, so a
reader never guesses. ``docs/run-record.schema.json`` in nb2pipe's repository is the same
contract as a JSON Schema. :data:`FORMAT_VERSION` grows when a field changes meaning or
disappears; readers accept older versions they know how to upgrade (records written before
the format had a version read as version 0).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal, TypeAlias, get_args

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "DvcContext",
    "GitState",
    "InputLineage",
    "JSONValue",
    "MlflowRun",
    "OutputFormat",
    "RunRecord",
    "RunRecordError",
    "SavedOutput",
    "Status",
    "StepTiming",
]

FORMAT = "nb2pipe-run"
FORMAT_VERSION = 1
RECORD_NAME = "run.json"

JSONValue: TypeAlias = (
    None | bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"]
)
#: How a run ended.
Status: TypeAlias = Literal["finished", "failed"]
#: How a step output is saved (see :mod:`nb2pipe_runtime.outputs`).
OutputFormat: TypeAlias = Literal["parquet", "npy", "joblib", "json", "pickle"]


class RunRecordError(ValueError):
    """A ``run.json`` that is not a run record this version can read."""


@dataclass(frozen=True)
class GitState:
    """The code version: the commit checked out and whether tracked files had changes."""

    commit: str
    dirty: bool
    #: tracked files with uncommitted changes (at most 50)
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
    #: the data files the value was computed from (path -> SHA-256)
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DvcContext:
    """Set when DVC ran the script (``dvc repro``, ``dvc exp run``)."""

    experiment: str | None = None
    stage: str | None = None
    baseline: str | None = None


@dataclass(frozen=True)
class MlflowRun:
    """Where the run was logged in MLflow."""

    run_id: str
    experiment_id: str
    tracking_uri: str


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
    warnings: tuple[str, ...] = ()
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    # -- JSON --------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The record as JSON values (what ``run.json`` holds)."""
        value: dict[str, Any] = _to_json(self)
        return value

    @classmethod
    def from_json(cls, data: Any) -> RunRecord:
        """Read a record from its JSON value, checking every field.

        Raises
        ------
        RunRecordError
            Not a run record, a newer format version, or a field of the wrong type.
        """
        if not isinstance(data, dict):
            raise RunRecordError("not a run record (not a JSON object)")
        if "format_version" not in data:
            data = _upgrade_from_version_0(data)
        version = data.get("format_version")
        if data.get("format") != FORMAT or not isinstance(version, int):
            raise RunRecordError("not a run record (no nb2pipe-run format)")
        if version > FORMAT_VERSION:
            raise RunRecordError(
                f"written in run-record format {version}; this nb2pipe-runtime reads up to "
                f"{FORMAT_VERSION} (upgrade nb2pipe)"
            )
        record: RunRecord = _read_dataclass(cls, data, "record")
        return record

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> RunRecord:
        """Read and check ``path`` (a ``run.json``).

        Raises
        ------
        RunRecordError
            Unreadable, not JSON, or not a valid record; the message names the file.
        """
        try:
            with open(path, encoding="utf-8") as file:
                data = json.load(file)
        except (OSError, UnicodeDecodeError) as exc:
            raise RunRecordError(f"{os.fspath(path)}: cannot read: {exc}") from None
        except ValueError as exc:
            raise RunRecordError(f"{os.fspath(path)}: not JSON: {exc}") from None
        try:
            return cls.from_json(data)
        except RunRecordError as exc:
            raise RunRecordError(f"{os.fspath(path)}: {exc}") from None

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the record atomically (a reader never sees half a file)."""
        temporary = f"{os.fspath(path)}.tmp"
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(self.to_json(), file, indent=1, allow_nan=False)
            file.write("\n")
        os.replace(temporary, path)


# -- JSON (de)serialisation of the dataclasses above ---------------------------------------------
def _to_json(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _to_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (tuple, list)):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    return value


def _read_dataclass(cls: type, data: Mapping[str, Any], where: str) -> Any:
    if not isinstance(data, Mapping):
        raise RunRecordError(f"{where}: expected an object")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise RunRecordError(f"{where}: unknown field {unknown[0]!r}")
    values: dict[str, Any] = {}
    for name, spec in known.items():
        if name not in data:
            if spec.default is MISSING and spec.default_factory is MISSING:
                raise RunRecordError(f"{where}: missing field {name!r}")
            continue
        values[name] = _read_field(cls, name, data[name], f"{where}.{name}")
    return cls(**values)


def _read_field(cls: type, name: str, value: Any, where: str) -> Any:
    kind = _FIELD_KINDS[(cls.__name__, name)]
    return _check(kind, value, where)


def _check(kind: Any, value: Any, where: str) -> Any:
    """``value`` checked against ``kind`` (a small type language, see ``_FIELD_KINDS``)."""
    if isinstance(kind, tuple) and kind[0] == "optional":
        return None if value is None else _check(kind[1], value, where)
    if isinstance(kind, tuple) and kind[0] == "list":
        if not isinstance(value, list):
            raise RunRecordError(f"{where}: expected a list")
        return tuple(_check(kind[1], item, f"{where}[{i}]") for i, item in enumerate(value))
    if isinstance(kind, tuple) and kind[0] == "map":
        if not isinstance(value, dict):
            raise RunRecordError(f"{where}: expected an object")
        return {key: _check(kind[1], item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(kind, tuple) and kind[0] == "enum":
        if value not in kind[1]:
            raise RunRecordError(f"{where}: expected one of {', '.join(kind[1])}")
        return value
    if kind == "json":
        return value
    if kind is str or kind is bool:
        if type(value) is not kind:
            raise RunRecordError(f"{where}: expected {'a string' if kind is str else 'true/false'}")
        return value
    if kind is int:
        if type(value) is not int:
            raise RunRecordError(f"{where}: expected an integer")
        return value
    if kind is float:
        if type(value) not in (int, float) or not math.isfinite(value):
            raise RunRecordError(f"{where}: expected a number")
        return float(value)
    if isinstance(kind, type) and hasattr(kind, "__dataclass_fields__"):
        return _read_dataclass(kind, value, where)
    raise AssertionError(kind)  # pragma: no cover


_FIELD_KINDS: dict[tuple[str, str], Any] = {
    ("GitState", "commit"): str,
    ("GitState", "dirty"): bool,
    ("GitState", "changed"): ("list", str),
    ("StepTiming", "name"): str,
    ("StepTiming", "seconds"): float,
    ("SavedOutput", "file"): str,
    ("SavedOutput", "format"): ("enum", get_args(OutputFormat)),
    ("SavedOutput", "type"): str,
    ("SavedOutput", "path"): str,
    ("SavedOutput", "sha256"): str,
    ("SavedOutput", "model"): bool,
    ("SavedOutput", "series_name"): "json",
    ("InputLineage", "name"): str,
    ("InputLineage", "step"): str,
    ("InputLineage", "path"): str,
    ("InputLineage", "sha256"): str,
    ("InputLineage", "run_id"): ("optional", str),
    ("InputLineage", "params"): ("map", "json"),
    ("InputLineage", "data"): ("map", str),
    ("DvcContext", "experiment"): ("optional", str),
    ("DvcContext", "stage"): ("optional", str),
    ("DvcContext", "baseline"): ("optional", str),
    ("MlflowRun", "run_id"): str,
    ("MlflowRun", "experiment_id"): str,
    ("MlflowRun", "tracking_uri"): str,
    ("RunRecord", "run_id"): str,
    ("RunRecord", "experiment"): str,
    ("RunRecord", "script"): str,
    ("RunRecord", "notebook"): ("optional", str),
    ("RunRecord", "status"): ("enum", get_args(Status)),
    ("RunRecord", "start"): str,
    ("RunRecord", "end"): str,
    ("RunRecord", "seconds"): float,
    ("RunRecord", "python"): str,
    ("RunRecord", "params"): ("map", "json"),
    ("RunRecord", "effective_params"): ("map", "json"),
    ("RunRecord", "mixed_params"): ("list", str),
    ("RunRecord", "metrics"): ("map", float),
    ("RunRecord", "data"): ("map", str),
    ("RunRecord", "lineage"): ("list", InputLineage),
    ("RunRecord", "outputs"): ("map", ("map", SavedOutput)),
    ("RunRecord", "artifacts"): ("list", str),
    ("RunRecord", "error"): ("optional", str),
    ("RunRecord", "traceback"): ("optional", str),
    ("RunRecord", "step"): ("optional", str),
    ("RunRecord", "steps"): ("list", StepTiming),
    ("RunRecord", "argv"): ("list", str),
    ("RunRecord", "git"): ("optional", GitState),
    ("RunRecord", "packages"): ("map", str),
    ("RunRecord", "dvc"): ("optional", DvcContext),
    ("RunRecord", "mlflow"): ("optional", MlflowRun),
    ("RunRecord", "warnings"): ("list", str),
    ("RunRecord", "format"): str,
    ("RunRecord", "format_version"): int,
}


def _upgrade_from_version_0(data: dict[str, Any]) -> dict[str, Any]:
    """A record written before the format had a version (nb2pipe 0.1) in version 1's shape.

    Fields of the wrong type are left for :func:`_read_dataclass` to name, except the ones
    version 1 renamed or reshaped, whose errors name the old field.
    """
    if "run_id" not in data or "params" not in data:
        return data  # not a record at all: from_json says so
    out: dict[str, Any] = {key: data[key] for key in _VERSION_0_KEPT if key in data}
    out["format"], out["format_version"] = FORMAT, FORMAT_VERSION
    source = data.get("notebook") or data.get("script")
    if isinstance(source, str):
        out["experiment"] = os.path.splitext(os.path.basename(source))[0]
    if isinstance(data["params"], dict):
        out["effective_params"] = dict(data["params"])
    steps = _version_0_field(data, "steps", list, [])
    out["steps"] = [
        {key: value for key, value in step.items() if key in ("name", "seconds")}
        if isinstance(step, dict) else step
        for step in steps
    ]
    inputs = _version_0_field(data, "inputs", dict, {})
    out["lineage"] = [_lineage_from_version_0(path, digest) for path, digest in inputs.items()]
    outputs = _version_0_field(data, "outputs", dict, {})
    out["outputs"] = {}
    for step, saved in outputs.items():
        if not isinstance(saved, dict):
            raise RunRecordError(f"record.outputs.{step}: expected an object")
        out["outputs"][step] = {
            name: {key: value for key, value in entry.items() if key in _SAVED_KEYS}
            if isinstance(entry, dict) else entry
            for name, entry in saved.items()
        }
    if isinstance(out.get("git"), dict):
        out["git"] = {k: v for k, v in out["git"].items() if k in ("commit", "dirty", "changed")}
    return out


_VERSION_0_KEPT = (
    "run_id", "script", "notebook", "status", "error", "traceback", "step", "argv", "params",
    "metrics", "data", "artifacts", "git", "python", "packages", "start", "end", "seconds",
    "dvc", "mlflow", "warnings",
)
_SAVED_KEYS = frozenset(f.name for f in fields(SavedOutput))


def _version_0_field(data: dict[str, Any], name: str, kind: type, empty: Any) -> Any:
    """Field ``name`` of a version 0 record, checked to be a ``kind`` (``None`` or missing:
    ``empty``)."""
    value = data.get(name)
    if value is None:
        return empty
    if not isinstance(value, kind):
        raise RunRecordError(f"record.{name}: expected {'a list' if kind is list else 'an object'}")
    return value


def _lineage_from_version_0(path: Any, digest: Any) -> dict[str, Any]:
    """A version 0 ``inputs`` entry (``outputs/<step>/<name>.<suffix>`` -> SHA-256)."""
    parts = str(path).replace("\\", "/").split("/")
    return {
        "name": os.path.splitext(parts[-1])[0],
        "step": parts[-2] if len(parts) > 1 else "",
        "path": path,
        "sha256": digest,
    }
