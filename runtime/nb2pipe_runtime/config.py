"""Read a ``--config`` file: YAML, TOML or JSON, one mapping of parameter names to values."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

__all__ = ["ConfigError", "read_config"]


class ConfigError(ValueError):
    """The config file cannot be read, or does not hold a mapping."""


def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parameter values in ``path``, by its suffix (``.yaml``/``.yml``, ``.toml``, ``.json``).

    Raises
    ------
    ConfigError
        Unreadable, unknown suffix, bad syntax, not a mapping, or PyYAML missing for YAML.
    """
    text_path = os.fspath(path)
    try:
        with open(text_path, encoding="utf-8-sig") as file:  # editors on Windows write a BOM
            text = file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read it: {exc}") from None
    suffix = os.path.splitext(text_path)[1].lower()
    if suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"not JSON: {exc}") from None
    elif suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            try:
                import tomli as tomllib
            except ModuleNotFoundError:
                raise ConfigError(
                    "reading TOML on Python 3.10 needs tomli (pip install tomli)"
                ) from None
        try:
            data = tomllib.loads(text)
        except ValueError as exc:
            raise ConfigError(f"not TOML: {exc}") from None
    elif suffix in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped]
        except ModuleNotFoundError:
            raise ConfigError("reading a YAML config needs PyYAML (pip install pyyaml)") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"not YAML: {' '.join(str(exc).split())}") from None
        if data is None:
            data = {}
    else:
        raise ConfigError("the config file must end in .yaml, .yml, .toml or .json")
    if not isinstance(data, dict):
        raise ConfigError("the config file must hold a mapping of parameter names to values")
    return data
