"""Step outputs on disk: what one step of a pipeline saves for the steps after it.

A step's outputs go to ``<outputs dir>/<step>/``: one file per value, chosen by its type
(frames and series as parquet when that gives them back exactly, numpy arrays as ``.npy``,
fitted estimators with joblib, plain JSON values as JSON, anything else with pickle), and a
``manifest.json`` naming each file and the run that saved them, with the parameters and data
files they were computed from, so a later ``--step`` run can record where its inputs came from.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import pickle
from dataclasses import dataclass, field
from typing import Any, cast, get_args

from nb2pipe_runtime.atomic import replacing_folder
from nb2pipe_runtime.record import JSONValue, OutputFormat, SavedOutput

__all__ = [
    "MANIFEST",
    "NO_PARQUET_ENGINE",
    "OutputsError",
    "SavedStep",
    "load_output",
    "read_saved_step",
    "save_outputs",
]

MANIFEST = "manifest.json"
#: The warning when frames are pickled for want of a parquet engine: one per run, however
#: many frames (:func:`save_outputs` returns it without a step's name, so a run can tell).
NO_PARQUET_ENGINE = (
    "data frames and series are saved with pickle: no parquet engine is installed "
    "(pip install pyarrow); loading them needs the same pandas version"
)


class OutputsError(Exception):
    """A saved step output cannot be found or read."""


@dataclass(frozen=True)
class SavedStep:
    """What ``manifest.json`` says about a step's saved outputs."""

    step: str
    outputs: dict[str, SavedOutput]
    run_id: str | None = None
    params: dict[str, JSONValue] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)


def is_json_value(value: Any) -> bool:
    """Whether ``value`` survives a JSON round trip with its exact types."""
    if value is None or type(value) in (bool, int, str):
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is list:
        return all(is_json_value(item) for item in value)
    if type(value) is dict:
        return all(type(key) is str and is_json_value(item) for key, item in value.items())
    return False


def _save_one(directory: str, name: str, value: Any) -> tuple[SavedOutput, str | None]:
    """Save one value by its type; its manifest entry and a warning (or ``None``)."""
    kind = type(value)
    module = kind.__module__.split(".", 1)[0]
    type_name = f"{kind.__module__}.{kind.__qualname__}"
    base = os.path.join(directory, name)
    if module == "pandas" and kind.__name__ in ("DataFrame", "Series"):
        try:
            saved = _save_frame(directory, name, value, type_name)
        except ImportError:
            return _pickle(base, name, value, type_name), NO_PARQUET_ENGINE
        if saved is not None:
            return saved, None
        inexact = (
            f"output {name!r} ({type_name}) was saved with pickle (parquet would not give it "
            "back exactly): loading it needs the same library versions"
        )
        return _pickle(base, name, value, type_name), inexact
    if module == "numpy" and kind.__name__ == "ndarray" and not value.dtype.hasobject:
        import numpy

        with open(base + ".npy", "wb") as file:
            numpy.save(file, value, allow_pickle=False)
        return SavedOutput(file=name + ".npy", format="npy", type=type_name), None
    if callable(getattr(value, "fit", None)) and callable(getattr(value, "get_params", None)):
        joblib = _joblib()
        if joblib is not None:  # else saved with pickle below
            joblib.dump(value, base + ".joblib")
            saved = SavedOutput(file=name + ".joblib", format="joblib", type=type_name, model=True)
            return saved, None
    if is_json_value(value):
        with open(base + ".json", "w", encoding="utf-8") as file:
            json.dump(value, file)  # not sort_keys: a dict comes back in its own order
        return SavedOutput(file=name + ".json", format="json", type=type_name), None
    saved = _pickle(base, name, value, type_name)
    warning = None
    if module not in ("numpy", "builtins") or kind in (list, dict, tuple, set):
        warning = (
            f"output {name!r} ({type_name}) was saved with pickle: loading it needs the same "
            "library versions"
        )
    return saved, warning


def _save_frame(directory: str, name: str, value: Any, type_name: str) -> SavedOutput | None:
    """A frame or series as parquet, if parquet gives it back exactly (else ``None``).

    Raises
    ------
    ImportError
        pandas has no parquet engine (neither pyarrow nor fastparquet is installed).
    """
    _parquet_engine()
    path = os.path.join(directory, name + ".parquet")
    series = type(value).__name__ == "Series"
    try:
        if series:
            if not is_json_value(value.name):
                return None
            value.to_frame(name="series").to_parquet(path)
            saved = SavedOutput(
                file=name + ".parquet", format="parquet", type=type_name, series_name=value.name
            )
        else:
            value.to_parquet(path)
            saved = SavedOutput(file=name + ".parquet", format="parquet", type=type_name)
        loaded = load_output(directory, saved)
        if series:
            _pandas().testing.assert_series_equal(loaded, value, check_exact=True)
        else:
            _pandas().testing.assert_frame_equal(loaded, value, check_exact=True)
        return saved
    except Exception:  # noqa: BLE001 - no parquet engine, or a value parquet does not keep exactly
        if os.path.exists(path):
            os.remove(path)
        return None


def _parquet_engine() -> None:
    """Raise ``ImportError`` unless pandas has a parquet engine (as ``to_parquet`` would,
    but before it writes anything: its other errors mean a value parquet cannot keep)."""
    for engine in ("pyarrow", "fastparquet"):
        try:
            importlib.import_module(engine)
        except ImportError:
            continue
        return
    raise ImportError("no parquet engine")


def _pandas() -> Any:
    """pandas, with ``pandas.testing`` (imported only where a frame or series is at hand)."""
    import pandas.testing  # type: ignore[import-untyped]

    return pandas


def _joblib() -> Any:
    """joblib, or ``None`` when it is not installed."""
    try:
        import joblib  # type: ignore[import-untyped]
    except ModuleNotFoundError:
        return None
    return joblib


def _pickle(base: str, name: str, value: Any, type_name: str) -> SavedOutput:
    with open(base + ".pkl", "wb") as file:
        pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
    return SavedOutput(file=name + ".pkl", format="pickle", type=type_name)


def load_output(directory: str, saved: SavedOutput) -> Any:
    """The value ``saved`` describes, from ``directory``."""
    path = os.path.join(directory, saved.file)
    if saved.format == "parquet":
        try:
            frame = _pandas().read_parquet(path)
        except ImportError:  # no pandas, or no parquet engine
            raise OutputsError(
                f"loading {path} needs pandas and pyarrow (pip install pandas pyarrow)"
            ) from None
        if saved.type.endswith(".Series"):
            series = frame["series"]
            series.name = saved.series_name
            return series
        return frame
    if saved.format == "npy":
        import numpy

        return numpy.load(path, allow_pickle=False)
    if saved.format == "joblib":
        joblib = _joblib()
        if joblib is None:
            raise OutputsError(f"loading {path} needs joblib (pip install joblib)")
        return joblib.load(path)
    if saved.format == "json":
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    with open(path, "rb") as file:
        return pickle.load(file)  # the pipeline's own output


def save_outputs(
    directory: str,
    step: str,
    values: dict[str, Any],
    *,
    run_id: str | None = None,
    params: dict[str, JSONValue] | None = None,
    data: dict[str, str] | None = None,
) -> tuple[dict[str, SavedOutput], list[str]]:
    """Replace ``directory`` with a folder of ``values`` and their manifest.

    The new folder is written beside it and then takes its place (:func:`replacing_folder`):
    a later step or a ``--step`` run never reads half of one run's outputs and half of
    another's, and a run stopped while saving leaves the last outputs as they were.

    Returns the saved outputs and warnings (a value that could not be saved is left out with
    a warning: the run goes on, and a later ``--step`` run that needs it says so).
    """
    with replacing_folder(directory) as folder:
        return _save_all(folder, step, values, run_id, params, data)


def _save_all(
    directory: str,
    step: str,
    values: dict[str, Any],
    run_id: str | None,
    params: dict[str, JSONValue] | None,
    data: dict[str, str] | None,
) -> tuple[dict[str, SavedOutput], list[str]]:
    saved: dict[str, SavedOutput] = {}
    warnings: list[str] = []
    for name, value in values.items():
        try:
            entry, warning = _save_one(directory, name, value)
        except Exception as exc:  # noqa: BLE001 - e.g. a closure pickle cannot hold
            for leftover in os.listdir(directory):
                if leftover.startswith(name + "."):
                    os.remove(os.path.join(directory, leftover))
            warnings.append(
                f"step {step!r}: output {name!r} could not be saved ({exc!r}); a --step run of "
                "a later step cannot load it"
            )
            continue
        saved[name] = entry
        if warning == NO_PARQUET_ENGINE:
            if warning not in warnings:
                warnings.append(warning)
        elif warning:
            warnings.append(f"step {step!r}: {warning}")
    manifest = {
        "step": step,
        "run_id": run_id,
        "params": params or {},
        "data": data or {},
        "outputs": {
            name: {"file": e.file, "format": e.format, "type": e.type, "model": e.model,
                   "series_name": e.series_name}
            for name, e in saved.items()
        },
    }
    with open(os.path.join(directory, MANIFEST), "w", encoding="utf-8") as file:
        json.dump(manifest, file, indent=1, sort_keys=True)
        file.write("\n")
    return saved, warnings


def read_saved_step(directory: str) -> SavedStep:
    """The manifest of a step's saved outputs.

    Raises
    ------
    OutputsError
        No readable manifest in ``directory``.
    """
    try:
        with open(os.path.join(directory, MANIFEST), encoding="utf-8") as file:
            manifest = json.load(file)
        outputs = {
            name: SavedOutput(
                file=str(entry["file"]), format=_format(entry["format"]), type=str(entry["type"]),
                model=bool(entry.get("model", False)), series_name=entry.get("series_name"),
            )
            for name, entry in manifest["outputs"].items()
        }
    except (OSError, KeyError, TypeError, AttributeError, ValueError):
        raise OutputsError(f"no saved outputs in {directory}") from None
    run_id = manifest.get("run_id")
    return SavedStep(
        step=str(manifest.get("step", os.path.basename(directory))),
        outputs=outputs,
        run_id=run_id if isinstance(run_id, str) else None,
        params=manifest.get("params") if isinstance(manifest.get("params"), dict) else {},
        data=manifest.get("data") if isinstance(manifest.get("data"), dict) else {},
    )


def _format(value: Any) -> OutputFormat:
    """A manifest's ``format``, checked (an unknown one would be read with pickle)."""
    if value not in get_args(OutputFormat):
        raise ValueError(f"unknown output format {value!r}")
    return cast("OutputFormat", value)
