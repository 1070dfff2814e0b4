"""Bind ``-p NAME VALUE`` to a notebook's parameters: typed values for papermill, options for
the exported script, both read from the notebook's own parameters cell."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from nb2pipe_runtime.cli import json_or_text

from nb2pipe.analysis import NotebookAnalysis
from nb2pipe.errors import Nb2PipeError
from nb2pipe.export.parameters import Parameter, ParamType, read_parameters
from nb2pipe.verify.errors import VerifyUsageError

__all__ = ["BoundParameters", "bind_parameters", "notebook_parameters"]

_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")
_NONE = ("none", "null")


@dataclass(frozen=True)
class BoundParameters:
    """The ``-p`` values that apply to one notebook."""

    #: name -> value, for papermill's injected parameters cell
    values: dict[str, Any] = field(default_factory=dict)
    #: the same values as the exported script's command-line options
    script_arguments: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: ``name=value`` of each value that differs from the notebook's own (its saved outputs
    #: were computed without them)
    changed: tuple[str, ...] = ()


def notebook_parameters(analysis: NotebookAnalysis) -> tuple[Parameter, ...] | None:
    """The notebook's parameters, or None when its parameters cell cannot be read."""
    cells = [parsed for parsed in analysis.cells if parsed.cell.role.parameters]
    if not cells:
        return ()
    try:
        return read_parameters(
            cells[0], analysis.notebook.path, analysis.cells[: analysis.cells.index(cells[0])]
        )
    except Nb2PipeError:
        return None


def bind_parameters(
    given: Sequence[tuple[str, str]], declared: tuple[Parameter, ...] | None
) -> BoundParameters:
    """Convert each ``-p NAME VALUE`` by the type of the notebook parameter ``NAME``.

    A name the notebook does not declare is left out with a note (``-p`` applies to every
    notebook verified; the caller refuses names no notebook declares).

    Raises
    ------
    VerifyUsageError
        A value that does not convert to the parameter's type.
    """
    if not given:
        return BoundParameters()
    by_name = {p.name: p for p in declared or ()}
    values: dict[str, Any] = {}
    arguments: list[str] = []
    notes: list[str] = []
    changed: list[str] = []
    for name, text in given:
        parameter = by_name.get(name)
        if parameter is None:
            if declared is None:  # unreadable parameters cell: papermill's own literal typing
                values[name] = _literal(text)
                changed.append(f"{name}={text}")
                continue
            notes.append(f"-p {name}: not a parameter of this notebook; ignored")
            continue
        values[name] = _convert(parameter, text)
        arguments += _script_argument(parameter, values[name], text)
        if not _same_value(values[name], parameter.default):
            changed.append(f"{name}={text}")
    return BoundParameters(values, tuple(arguments), tuple(notes), tuple(changed))


def _same_value(value: Any, default: Any) -> bool:
    """Whether a ``-p`` value is the notebook's own (paths and dates compare as text)."""
    if isinstance(value, (PathValue, DateValue)):
        own = default.isoformat() if isinstance(default, datetime.date) else str(default)
        return str(value) == own
    numbers = (int, float)
    if isinstance(value, numbers) and isinstance(default, numbers):
        return isinstance(value, bool) == isinstance(default, bool) and value == default
    return type(value) is type(default) and bool(value == default)


def _convert(parameter: Parameter, text: str) -> Any:
    if parameter.type is ParamType.ANY:  # `msg = None`: the script's own reading of the text
        return json_or_text(text)
    if parameter.optional and text.lower() in _NONE:
        return None
    kind = parameter.type
    try:
        if kind is ParamType.INT:
            return int(text)
        if kind is ParamType.FLOAT:
            return float(text)
        if kind is ParamType.BOOL:
            if text.lower() in _TRUE + _FALSE:
                return text.lower() in _TRUE
            raise ValueError(text)
        if kind is ParamType.PATH:
            return PathValue(text)
        if kind is ParamType.DATE:
            return DateValue(datetime.date.fromisoformat(text).isoformat())
        if kind is ParamType.JSON:
            value = json.loads(text)
            if not isinstance(value, (list, dict)):
                raise ValueError(text)
            if isinstance(parameter.default, tuple) and isinstance(value, list):
                return tuple(value)  # JSON has no tuples; the script turns it back too
            return value
    except ValueError:
        raise VerifyUsageError(
            f"-p {parameter.name} {text}: expected {kind.value} (the notebook's parameter "
            f"{parameter.name} = {parameter.default_source})"
        ) from None
    return text


def _script_argument(parameter: Parameter, value: Any, text: str) -> list[str]:
    if parameter.type is ParamType.BOOL and not parameter.optional:
        return [parameter.option if value else "--no-" + parameter.option[2:]]
    return [parameter.option, "None" if value is None else text]


def _literal(text: str) -> Any:
    """papermill's ``-p`` typing: int, float, bool, None, else the string."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in _NONE:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class PathValue(str):
    """A ``Path`` parameter value: a string to papermill's JSON metadata, a ``Path`` in the
    injected cell (see :func:`register_typed_translator`)."""


class DateValue(str):
    """A ``date`` parameter value (ISO text), injected as ``datetime.date``."""


def register_typed_translator() -> None:
    """Make papermill inject ``Path``, ``date`` and tuple parameters as such, not as strings.

    papermill also records the parameters in the notebook's metadata as JSON, so the values
    stay strings (subclasses) and only their translation into source changes. The injected
    source imports what it needs inline, so it works whatever the notebook imported.
    papermill keeps one translator per language for the process; ours only adds these three
    types to its Python translator.
    """
    from papermill.translators import (  # type: ignore[import-untyped,unused-ignore]
        PythonTranslator,
        papermill_translators,
    )

    class _TypedPythonTranslator(PythonTranslator):  # type: ignore[misc]
        @classmethod
        def translate(cls, val: Any) -> str:
            if isinstance(val, PathValue):
                return f"__import__('pathlib').Path({str(val)!r})"
            if isinstance(val, DateValue):
                day = datetime.date.fromisoformat(val)
                return f"__import__('datetime').date({day.year}, {day.month}, {day.day})"
            if isinstance(val, tuple):  # papermill would inject its str()
                items = [str(cls.translate(item)) for item in val]
                return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
            return str(super().translate(val))

    papermill_translators.register("python", _TypedPythonTranslator)
