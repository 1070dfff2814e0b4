"""The command-line and config-file handling that exported scripts carry.

This module is real, tested Python, and the exporter copies the code below the marker line
verbatim into every script that has parameters, so a script runs with only the notebook's own
dependencies (PyYAML is needed only to read a YAML config file). The copied functions import
what they use locally, so no notebook name can shadow it, and need only ``argparse`` at module
level.
"""

from __future__ import annotations

import argparse
# --- nb2pipe runtime: copied into exported scripts below this line ---
def _convert(kind: str, optional: bool):  # noqa: ANN202 (copied into scripts: no typing import)
    """The converter for one parameter kind, for command-line text and config-file values."""
    import datetime
    import json
    import pathlib

    def convert(value: object) -> object:
        if optional and (value is None or value in ("None", "null", "none")):
            return None
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
                return value.lower() in ("true", "yes", "1")
        elif kind == "int":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str):
                return int(value)
        elif kind == "float":
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            if isinstance(value, str):
                return float(value)
        elif kind == "str":
            if isinstance(value, str):
                return value
        elif kind == "Path":
            if isinstance(value, (str, pathlib.Path)):
                return pathlib.Path(value)
        elif kind == "date":
            if isinstance(value, datetime.date):
                return value
            if isinstance(value, str):
                return datetime.date.fromisoformat(value)
        elif kind == "json":
            if isinstance(value, str):
                value = json.loads(value)
            if isinstance(value, (list, dict)):
                return value
        elif kind == "tuple":  # given as a JSON list: the notebook's value was a tuple
            if isinstance(value, str):
                value = json.loads(value)
            if isinstance(value, (list, tuple)):
                return tuple(value)
        raise ValueError(f"expected {kind}, got {value!r}")

    convert.__name__ = kind  # argparse names the type in its error messages
    return convert


def _read_config(path) -> dict:  # noqa: ANN001
    """Read a YAML, TOML or JSON config file into a dict of parameter values."""
    import json

    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = json.loads(text)
    elif suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        data = tomllib.loads(text)
    elif suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ModuleNotFoundError:
            raise ValueError("reading a YAML config needs PyYAML (pip install pyyaml)") from None
        data = yaml.safe_load(text) or {}
    else:
        raise ValueError("the config file must end in .yaml, .yml, .toml or .json")
    if not isinstance(data, dict):
        raise ValueError("the config file must hold a mapping of parameter names to values")
    return data


def _parse_params(
    parser: argparse.ArgumentParser, kinds: dict, argv: list | None
) -> argparse.Namespace:
    """Parse ``argv`` with precedence: notebook defaults < ``--config`` file < command line."""
    import datetime
    import json
    import pathlib

    args = parser.parse_args(argv)
    if args.config is not None:
        try:
            values = _read_config(args.config)
        except (OSError, ValueError) as exc:
            parser.error(f"--config {args.config}: {exc}")
        unknown = sorted(set(values) - set(kinds))
        if unknown:
            parser.error(
                f"--config {args.config}: unknown parameter(s) {', '.join(unknown)}; "
                f"known: {', '.join(kinds)}"
            )
        converted = {}
        for name, value in values.items():
            kind, optional = kinds[name]
            try:
                converted[name] = _convert(kind, optional)(value)
            except ValueError as exc:
                parser.error(f"--config {args.config}: {name}: {exc}")
        parser.set_defaults(**converted)
        args = parser.parse_args(argv)
    if args.dump_config:
        for name in kinds:
            value = getattr(args, name)
            if isinstance(value, (pathlib.Path, datetime.date)):
                value = str(value)
            print(f"{name}: {json.dumps(value)}")  # JSON values are valid YAML flow values
        raise SystemExit(0)
    return args
