"""The command line of an exported script: the notebook's parameters, a config file, run options.

The script builds an ``argparse`` parser with one option per parameter, as a person would
(``type=int``, ``type=json.loads``, ``action=argparse.BooleanOptionalAction`` ...), and hands it
to :func:`parse_args`, which adds the options every script has (``--config``,
``--dump-config``, ``--runs-dir``, ``--experiment``, ``--tracking-uri``, ``--metrics-file``,
``--require-data-version``,
and ``--step``/``--outputs-dir`` for pipelines) and applies the precedence
notebook defaults < config file < command line.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import pathlib
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from nb2pipe_runtime.config import ConfigError, read_config

__all__ = [
    "RUN_OPTIONS",
    "STEP_OPTIONS",
    "command_line",
    "json_or_text",
    "optional",
    "parameter_values",
    "parse_args",
]

#: Options of every script (``dest`` names): a parameter may not be called so.
RUN_OPTIONS = (
    "config", "dump_config", "runs_dir", "experiment", "tracking_uri", "metrics_file",
    "require_data_version",
)
#: Options a pipeline script adds.
STEP_OPTIONS = ("step", "outputs_dir")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
_NONE = ("none", "null")


#: How argparse's errors name a conversion (``invalid JSON value``, not ``invalid loads value``).
_TYPE_NAMES = {"loads": "JSON", "fromisoformat": "date", "Path": "path"}


def _type_name(kind: Callable[[str], Any]) -> str:
    name = getattr(kind, "__name__", "value")
    return _TYPE_NAMES.get(name, name)


class _Named:
    """A parameter's ``type=`` under the name argparse's errors should show."""

    def __init__(self, inner: Callable[[str], Any]) -> None:
        self.inner = inner
        self.__name__ = _type_name(inner)

    def __call__(self, text: str) -> Any:
        return self.inner(text)


class _Optional:
    """The ``type=`` :func:`optional` returns: ``None``/``null`` or a value of ``inner``."""

    def __init__(self, inner: Callable[[str], Any]) -> None:
        self.inner = inner
        self.__name__ = _type_name(inner)  # argparse names it in its errors

    def __call__(self, text: str) -> Any:
        if text.strip().lower() in _NONE:
            return None
        return _boolean(text) if self.inner is bool else self.inner(text)


def optional(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """A ``type=`` for a parameter that may be ``None`` (annotated ``int | None``): the text
    ``None`` (or ``null``) gives ``None``, anything else goes to ``kind``."""
    return _Optional(kind)


#: papermill's ``-p`` spellings of Python's constants
_PYTHON_CONSTANTS: dict[str, Any] = {"True": True, "False": False, "None": None}


class _JsonOrText:
    """The ``type=`` of a parameter the notebook sets to ``None`` with no type (papermill's
    ``msg = None``): what papermill's ``-p`` would pass, read as the script's user means it.

    A JSON literal gives its value (``5``, ``0.5``, ``true``, ``null``, ``[1, 2]``,
    ``{"a": 1}``; a quoted ``"5"`` is the text 5); papermill's ``True``, ``False``, ``None``
    and its numbers (``.5``, ``1_000``) are theirs; anything else is the text itself.
    """

    __name__ = "value"  # argparse names the conversion so
    #: how ``--help`` shows the option's argument
    metavar = "VALUE"
    #: a ``--config`` file's value is taken as its format typed it (YAML ``'5'`` is text)
    typed_by_config = True

    def __call__(self, text: str) -> Any:
        stripped = text.strip()
        if stripped in _PYTHON_CONSTANTS:
            return _PYTHON_CONSTANTS[stripped]
        try:
            return json.loads(stripped)
        except ValueError:
            pass
        for kind in (int, float):
            try:
                return kind(stripped)
            except ValueError:
                pass
        return text


json_or_text = _JsonOrText()


def _boolean(text: str) -> bool:
    if text.strip().lower() in _TRUE:
        return True
    if text.strip().lower() in _FALSE:
        return False
    raise ValueError(f"not a boolean: {text!r}")


class _Parsed(argparse.Namespace):
    """argparse's namespace that also remembers the arguments it was parsed from.

    They sit in a slot, not in ``vars()``, so they are never taken for a parameter.
    """

    __slots__ = ("_argv",)

    def __init__(self, argv: Sequence[str], **values: Any) -> None:
        super().__init__(**values)
        self._argv = tuple(argv)

    def __repr__(self) -> str:
        return repr(argparse.Namespace(**vars(self)))


def command_line(args: argparse.Namespace) -> tuple[str, ...]:
    """The arguments ``args`` was parsed from (``sys.argv[1:]`` for a namespace that
    :func:`parse_args` did not make)."""
    argv = getattr(args, "_argv", None)
    return argv if isinstance(argv, tuple) else tuple(sys.argv[1:])


def parse_args(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None = None,
    *,
    steps: Sequence[str] = (),
) -> argparse.Namespace:
    """Parse ``argv`` with ``parser``'s parameters and the run options.

    ``steps`` names a pipeline's steps (adds ``--step`` and ``--outputs-dir``). Values of the
    ``--config`` file replace the notebook's defaults and the command line replaces both; the
    file's values are checked like the command line's (unknown names, wrong types and values
    outside ``choices`` are an error naming the file and the parameter). A parameter whose
    default is a tuple stays a tuple. ``--dump-config`` prints the effective parameters as
    YAML and exits.
    """
    arguments = tuple(sys.argv[1:] if argv is None else argv)
    parameters = _parameter_actions(parser)
    defaults = {action.dest: action.default for action in parameters}
    for action in parameters:
        if (
            action.metavar is None
            and action.nargs != 0
            and action.option_strings
            and action.choices is None  # argparse shows the choices
        ):
            action.metavar = _metavar(action)
        if parser.formatter_class is argparse.HelpFormatter:
            action.help = _help_with_default(action)
        if getattr(action.type, "__name__", None) in _TYPE_NAMES:
            action.type = _Named(action.type)  # type: ignore[arg-type]
    group = parser.add_argument_group("run options")
    if parameters:
        group.add_argument(
            "--config", metavar="FILE",
            help="YAML, TOML or JSON file of parameter values (the command line wins)",
        )
        group.add_argument(
            "--dump-config", action="store_true",
            help="print the effective parameters as YAML and exit",
        )
    if steps:
        group.add_argument(
            "--step", choices=list(steps),
            help="run only this step, loading its inputs from --outputs-dir",
        )
        group.add_argument(
            "--outputs-dir", metavar="DIR", default="outputs",
            help="where steps save their outputs for later steps (default: %(default)s)",
        )
    group.add_argument(
        "--runs-dir", metavar="DIR", default="runs",
        help="where each run writes <run id>/run.json and its artifacts (default: %(default)s)",
    )
    group.add_argument(
        "--experiment", metavar="NAME",
        help="the experiment the run is recorded under (default: the notebook's name)",
    )
    group.add_argument(
        "--tracking-uri", metavar="URI",
        help="also log the run to MLflow (default: $MLFLOW_TRACKING_URI)",
    )
    group.add_argument(
        "--metrics-file", metavar="FILE", help="also write the run's metrics to this JSON file"
    )
    group.add_argument(
        "--require-data-version", action="store_true",
        help="fail a run that read data without a version identity (default: "
        "$NB2PIPE_REQUIRE_DATA_VERSION)",
    )
    _one_line_errors(parser)
    args = parser.parse_args(arguments, namespace=_Parsed(arguments))
    config = getattr(args, "config", None)
    if config is not None:
        # the file's values stand in for the defaults; argparse converts a text default
        # given this way (the very object), not the file's values (already converted)
        values = _config_values(parser, parameters, config)
        start = {action.dest: values.get(action.dest, action.default) for action in parameters}
        args = parser.parse_args(arguments, namespace=_Parsed(arguments, **start))
    for action in parameters:
        # JSON has no tuples: a parameter whose notebook value is a tuple stays one
        value = getattr(args, action.dest)
        if isinstance(defaults[action.dest], tuple) and isinstance(value, list):
            setattr(args, action.dest, tuple(value))
    if getattr(args, "dump_config", False):
        for name, value in parameter_values(args).items():
            print(f"{name}: {_yaml(value)}")
        raise SystemExit(0)
    return args


def _one_line_errors(parser: argparse.ArgumentParser) -> None:
    """Make ``parser``'s errors one line (``train.py: error: argument --model: invalid
    choice: 'xgboost' (choose from ridge, lasso)``) and exit 2, before anything runs; argparse
    would print the whole usage first, many lines for a notebook with many parameters."""

    def error(message: str) -> NoReturn:
        parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")

    parser.error = error  # type: ignore[method-assign]


def parameter_values(args: argparse.Namespace) -> dict[str, Any]:
    """The notebook's parameters in ``args`` (not the run options), as JSON values."""
    return {
        name: _plain(value)
        for name, value in vars(args).items()
        if name not in RUN_OPTIONS and name not in STEP_OPTIONS
    }


def _plain(value: Any) -> Any:
    """``value`` as a JSON value: paths and dates as text, tuples as lists."""
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no NaN or infinity: `--lr nan` is recorded as "nan"
    return value


def _yaml(value: Any) -> str:
    """A JSON value as YAML flow text that PyYAML reads back as the same value.

    JSON text is almost that, except that YAML 1.1 reads ``1e-05`` as a string (its floats
    need a dot), has its own names for infinity and NaN, and ``\\u`` escapes of surrogate
    pairs do not combine.
    """
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text and "." not in text:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, str):
        return re.sub(
            r"[^\x00-\x7f]",
            lambda found: (
                f"\\u{ord(found[0]):04x}" if ord(found[0]) < 0x10000 else f"\\U{ord(found[0]):08x}"
            ),
            json.dumps(value, ensure_ascii=False),
        )
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_yaml(str(k))}: {_yaml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def _parameter_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    # argparse lists a parser's actions only in this attribute
    return [
        action for action in parser._actions
        if not isinstance(action, (argparse._HelpAction, argparse._VersionAction))
    ]


def _kind(action: argparse.Action) -> Any:
    """The conversion of ``action``'s values, without :func:`optional`'s ``None``."""
    return action.type.inner if isinstance(action.type, (_Optional, _Named)) else action.type


def _metavar(action: argparse.Action) -> str:
    kind = _kind(action)
    metavar = getattr(kind, "metavar", None)
    if isinstance(metavar, str):
        return metavar
    if kind is int:
        return "INT"
    if kind is float:
        return "FLOAT"
    if kind is json.loads:
        return "JSON"
    if kind is pathlib.Path:
        return "PATH"
    if kind == datetime.date.fromisoformat:
        return "DATE"
    if kind is bool:
        return "BOOL"
    return "TEXT"


_EXPECTED = {
    "INT": "an integer",
    "FLOAT": "a number",
    "JSON": "a list or mapping",
    "PATH": "a path",
    "DATE": "a date",
    "BOOL": "true or false",
    "TEXT": "a string",
}


def _help_with_default(action: argparse.Action) -> str | None:
    """``action``'s help with its default as the user would type it back (JSON for lists and
    mappings), as argparse's help text (``%`` doubled)."""
    text = action.help
    if text == argparse.SUPPRESS or action.default is argparse.SUPPRESS:
        return text
    if text is not None and "%(default)" in text:
        return text
    default = action.default
    shown = str(_plain(default))
    if isinstance(default, (list, tuple, dict)):
        try:
            shown = json.dumps(_plain(default))
        except (TypeError, ValueError):
            shown = repr(default)
    suffix = f"(default: {shown})".replace("%", "%%")
    return f"{text} {suffix}" if text else suffix


def _config_values(
    parser: argparse.ArgumentParser, parameters: list[argparse.Action], path: str
) -> dict[str, Any]:
    """The parameter values of config file ``path``, checked and converted (a problem is an
    argparse error naming the file and the parameter)."""
    try:
        values = read_config(path)
    except ConfigError as exc:
        parser.error(f"--config {path}: {exc}")
    by_name = {action.dest: action for action in parameters}
    # `n-estimators:` as --help spells the option, or `n_estimators:` as the notebook does
    values = {
        key.replace("-", "_") if isinstance(key, str) else key: value
        for key, value in values.items()
    }
    unknown = sorted(set(values) - set(by_name), key=str)  # YAML keys may be numbers
    if unknown:
        parser.error(
            f"--config {path}: unknown parameter(s) {', '.join(map(str, unknown))}; "
            f"known: {', '.join(by_name)}"
        )
    converted = {}
    for name, value in values.items():
        try:
            converted[name] = _from_config(by_name[name], value)
        except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
            parser.error(f"--config {path}: {name}: {' '.join(str(exc).split())}")
    return converted


def _from_config(action: argparse.Action, value: Any) -> Any:
    """A config file's value for ``action``, checked like the command line checks text."""
    if isinstance(action.type, _Optional) and value is None:
        return None
    kind = _kind(action)
    if getattr(kind, "typed_by_config", False):  # typed as YAML, TOML or JSON typed it
        # (YAML reads papermill's None as text, as the command line has it)
        return None if isinstance(value, str) and value.strip() == "None" else value
    if action.nargs == 0 or kind is bool:  # flags, BooleanOptionalAction, optional(bool)
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return _boolean(value)
        raise ValueError(f"expected true or false, got {value!r}")
    convert = action.type if callable(action.type) else None
    if isinstance(value, str) and convert is not None:
        try:
            converted = convert(value)
        except (TypeError, ValueError) as exc:
            name = getattr(convert, "__name__", "value")
            raise ValueError(f"invalid {name} value: {value!r}") from exc
    elif isinstance(value, str):
        converted = value
    elif (
        (kind is int and type(value) is int)
        or (kind is json.loads and isinstance(value, (list, dict)))
        or (kind == datetime.date.fromisoformat and type(value) is datetime.date)
    ):
        converted = value  # YAML and TOML read numbers, lists and dates themselves
    elif kind is float and type(value) in (int, float):
        converted = float(value)
    else:
        raise ValueError(f"expected {_EXPECTED[_metavar(action)]}, got {value!r}")
    if action.choices is not None and converted not in action.choices:
        choices = ", ".join(repr(choice) for choice in action.choices)
        raise ValueError(f"expected one of {choices}, got {converted!r}")
    return converted
