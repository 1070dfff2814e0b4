"""Read run records back, checking every field: ``nb2pipe runs`` and ``nb2pipe verify`` do.

:func:`read_record` accepts the current :data:`~nb2pipe_runtime.record.FORMAT_VERSION` and
the versions it knows how to upgrade (records written before the format had a version read as
version 0); anything else is a :class:`RunRecordError` naming the file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import MISSING, fields
from typing import Any, get_args

from nb2pipe_runtime.record import (
    FORMAT,
    FORMAT_VERSION,
    DataSource,
    DvcContext,
    DvcSource,
    GitState,
    Goal,
    InputLineage,
    MlflowRun,
    Objective,
    ObjectiveSource,
    OutputFormat,
    RunRecord,
    SavedOutput,
    Status,
    StepTiming,
)

__all__ = ["RunRecordError", "read_record", "record_from_json"]


class RunRecordError(ValueError):
    """A ``run.json`` that is not a run record this version can read."""


def record_from_json(data: Any) -> RunRecord:
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
    if data.get("format") != FORMAT or type(version) is not int or version < 1:
        raise RunRecordError("not a run record (no nb2pipe-run format)")
    if version > FORMAT_VERSION:
        raise RunRecordError(
            f"written in run-record format {version}; this nb2pipe-runtime reads up to "
            f"{FORMAT_VERSION} (upgrade nb2pipe)"
        )
    for upgrade in _UPGRADES[version - 1:]:
        data = upgrade(data)
    record: RunRecord = _read_dataclass(RunRecord, data, "record")
    return record

def read_record(path: str | os.PathLike[str]) -> RunRecord:
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
        return record_from_json(data)
    except RunRecordError as exc:
        raise RunRecordError(f"{os.fspath(path)}: {exc}") from None


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
    ("RunRecord", "sources"): ("list", DataSource),
    ("DataSource", "url"): str,
    ("DataSource", "scheme"): str,
    ("DataSource", "size"): ("optional", int),
    ("DataSource", "sha256"): ("optional", str),
    ("DataSource", "version_id"): ("optional", str),
    ("DataSource", "etag"): ("optional", str),
    ("DataSource", "last_modified"): ("optional", str),
    ("DataSource", "pinned"): ("optional", str),
    ("DataSource", "dvc"): ("optional", DvcSource),
    ("DataSource", "parameter"): ("optional", str),
    ("DvcSource", "repo"): str,
    ("DvcSource", "path"): str,
    ("DvcSource", "rev"): ("optional", str),
    ("DvcSource", "commit"): ("optional", str),
    ("DvcSource", "md5"): ("optional", str),
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
    ("RunRecord", "mlflow_error"): ("optional", str),
    ("RunRecord", "objective"): ("optional", Objective),
    ("Objective", "metric"): str,
    ("Objective", "goal"): ("enum", get_args(Goal)),
    ("Objective", "source"): ("enum", get_args(ObjectiveSource)),
    ("RunRecord", "warnings"): ("list", str),
    ("RunRecord", "format"): str,
    ("RunRecord", "format_version"): int,
}


def _upgrade_from_version_1(data: dict[str, Any]) -> dict[str, Any]:
    """A version 1 record in version 2's shape: the same fields (those version 2 added have
    defaults). Its ``git.changed`` is kept as written: tracked files only, and the first name
    may have lost its first character (the bug version 2 fixed), which cannot be undone."""
    return data | {"format_version": 2}


#: ``_UPGRADES[v - 1]`` turns a version ``v`` record into version ``v + 1``'s shape
_UPGRADES = (_upgrade_from_version_1,)


def _upgrade_from_version_0(data: dict[str, Any]) -> dict[str, Any]:
    """A record written before the format had a version (nb2pipe 0.1) in version 1's shape.

    Fields of the wrong type are left for :func:`_read_dataclass` to name, except the ones
    version 1 renamed or reshaped, whose errors name the old field.
    """
    if "run_id" not in data or "params" not in data:
        return data  # not a record at all: from_json says so
    out: dict[str, Any] = {key: data[key] for key in _VERSION_0_KEPT if key in data}
    out["format"], out["format_version"] = FORMAT, 1
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
