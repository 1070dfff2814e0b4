"""The command line of an exported script: the notebook's parameters, a config file, run options.

The script builds an ``argparse`` parser with one option per parameter, as a person would
(``type=int``, ``type=json.loads``, ``action=argparse.BooleanOptionalAction`` ...), and hands it
to :func:`parse_args`, which adds the options every script has (``--config``,
``--dump-config``, ``--runs-dir``, ``--experiment``, ``--tracking-uri``, ``--metrics-file``,
and ``--step``/``--outputs-dir`` for pipelines) and applies the precedence
notebook defaults < config file < command line.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
from typing import Any, Callable, Sequence

from nb2pipe_runtime.config import ConfigError, read_config

__all__ = ["RUN_OPTIONS", "STEP_OPTIONS", "optional", "parameter_values", "parse_args"]

#: Options of every script (``dest`` names): a parameter may not be called so.
RUN_OPTIONS = ("config", "dump_config", "runs_dir", "experiment", "tracking_uri", "metrics_file")
#: Options a pipeline script adds.
STEP_OPTIONS = ("step", "outputs_dir")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def optional(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """A ``type=`` for a parameter that may be ``None`` (annotated ``int | None``): the text
    ``None`` (or ``null``) gives ``None``, anything else goes to ``kind``."""

    def convert(text: str) -> Any:
        if text.strip().lower() in ("none", "null"):
            return None
        return _boolean(text) if kind is bool else kind(text)

    name = getattr(kind, "__name__", "value")
    convert.__name__ = _TYPE_NAMES.get(name, name)  # argparse names it in its errors
    convert.optional_of = kind  # type: ignore[attr-defined]
    return convert


def _kind(action: argparse.Action) -> tuple[Any, bool]:
    """The converter an action's type stands for, and whether it also accepts ``None``."""
    kind, allows_none = action.type, False
    while True:
        if hasattr(kind, "optional_of"):
            kind, allows_none = kind.optional_of, True
        elif hasattr(kind, "wraps"):
            kind = kind.wraps
        else:
            return kind, allows_none


def _boolean(text: str) -> bool:
    if text.strip().lower() in _TRUE:
        return True
    if text.strip().lower() in _FALSE:
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_args(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None = None,
    *,
    steps: Sequence[str] = (),
) -> argparse.Namespace:
    """Parse ``argv`` with ``parser``'s parameters and the run options.

    ``steps`` names a pipeline's steps (adds ``--step`` and ``--outputs-dir``). Values of the
    ``--config`` file replace the notebook's defaults and the command line replaces both; the
    file's values are checked like the command line's (unknown names and wrong types are an
    error naming the file). ``--dump-config`` prints the effective parameters and exits.
    """
    parameters = _parameter_actions(parser)
    defaults = {action.dest: action.default for action in parameters}
    for action in parameters:
        if action.metavar is None and action.nargs != 0 and action.option_strings:
            action.metavar = _metavar(action)
        _name_type(action)
        if action.help is None and action.option_strings:
            action.help = action.dest.replace("_", " ")  # argparse shows no default without help
    if parser.formatter_class is argparse.HelpFormatter:
        parser.formatter_class = _HelpFormatter
    group = parser.add_argument_group("run options")
    if parameters:
        group.add_argument(
            "--config", metavar="FILE",
            help="YAML, TOML or JSON file of parameter values (the command line wins)",
        )
        group.add_argument(
            "--dump-config", action="store_true", help="print the effective parameters as YAML and exit"
        )
    if steps:
        group.add_argument(
            "--step", choices=list(steps),
            help="run only this step, loading its inputs from --outputs-dir",
        )
        group.add_argument(
            "--outputs-dir", metavar="DIR", default="outputs",
            help="where steps save their outputs for later steps",
        )
    group.add_argument(
        "--runs-dir", metavar="DIR", default="runs",
        help="where each run writes <run id>/run.json and its artifacts",
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
    args = parser.parse_args(argv)
    if getattr(args, "config", None) is not None:
        parser.set_defaults(**_config_values(parser, parameters, args.config))
        args = parser.parse_args(argv)
    for action in parameters:
        # JSON has no tuples: a parameter whose notebook value is a tuple stays one
        value = getattr(args, action.dest)
        if isinstance(defaults[action.dest], tuple) and isinstance(value, list):
            setattr(args, action.dest, tuple(value))
    if getattr(args, "dump_config", False):
        for name, value in parameter_values(args).items():
            print(f"{name}: {json.dumps(value)}")  # JSON values are valid YAML flow values
        raise SystemExit(0)
    return args


def parameter_values(args: argparse.Namespace) -> dict[str, Any]:
    """The notebook's parameters in ``args`` (not the run options), as JSON values."""
    return {
        name: _plain(value)
        for name, value in vars(args).items()
        if name not in RUN_OPTIONS and name not in STEP_OPTIONS
    }


def _plain(value: Any) -> Any:
    if isinstance(value, (pathlib.PurePath, datetime.date)):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _parameter_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    # argparse lists a parser's actions only in this attribute
    return [
        action for action in parser._actions
        if not isinstance(action, (argparse._HelpAction, argparse._VersionAction))
    ]


def _metavar(action: argparse.Action) -> str:
    kind = _kind(action)[0]
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


#: How argparse's errors name a type (``invalid JSON value``, not ``invalid loads value``).
_TYPE_NAMES = {"loads": "JSON", "fromisoformat": "date", "Path": "path"}


def _name_type(action: argparse.Action) -> None:
    """Give the action's converter the name its errors should show, keeping what it does."""
    kind = action.type
    name = getattr(kind, "__name__", None)
    if kind is None or name not in _TYPE_NAMES or not callable(kind):
        return

    def convert(text: str) -> Any:
        return kind(text)  # type: ignore[misc]

    convert.__name__ = _TYPE_NAMES[name]
    convert.wraps = kind  # type: ignore[attr-defined]
    action.type = convert


def _config_values(
    parser: argparse.ArgumentParser, parameters: list[argparse.Action], path: str
) -> dict[str, Any]:
    try:
        values = read_config(path)
    except ConfigError as exc:
        parser.error(f"--config {path}: {exc}")
    by_name = {action.dest: action for action in parameters}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        parser.error(
            f"--config {path}: unknown parameter(s) {', '.join(unknown)}; "
            f"known: {', '.join(by_name)}"
        )
    converted = {}
    for name, value in values.items():
        try:
            converted[name] = _from_config(by_name[name], value)
        except (TypeError, ValueError) as exc:
            parser.error(f"--config {path}: {name}: {exc}")
    return converted


def _from_config(action: argparse.Action, value: Any) -> Any:
    """A config file's value for ``action``, checked like the command line checks text."""
    kind, allows_none = _kind(action)
    if allows_none and value is None:
        return None
    if action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction) or kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return _boolean(value)
        raise ValueError(f"expected true or false, got {value!r}")
    if isinstance(value, str):
        return value if kind is None else kind(value)
    if kind is int and type(value) is int:
        return value
    if kind is float and type(value) in (int, float):
        return float(value)
    if kind is json.loads and isinstance(value, (list, dict)):
        return value
    if kind == datetime.date.fromisoformat and isinstance(value, datetime.date):
        return value  # YAML and TOML read dates themselves
    expected = _metavar(action).lower().replace("text", "a string").replace("json", "a list or mapping")
    raise ValueError(f"expected {expected}, got {value!r}")


class _HelpFormatter(argparse.HelpFormatter):
    """``--help`` with each parameter's default as the user would type it back (JSON for
    lists and dicts); the run options show theirs only when set."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "%(default)" in text or default is argparse.SUPPRESS or not action.option_strings:
            return text
        if action.dest in RUN_OPTIONS or action.dest in STEP_OPTIONS:
            if default is None or default is False:
                return text
        if isinstance(default, (list, tuple, dict)):
            try:
                shown = json.dumps(_plain(default))
            except (TypeError, ValueError):
                shown = repr(default)
        else:
            shown = str(default)
        return f"{text} (default: {shown.replace('%', '%%')})" if text else f"(default: {shown})"
