"""A sweep's search space, and how Optuna sees it.

``-p NAME=V1,V2`` gives a parameter's values on the command line (the script's parser types
them); a ``--space`` YAML or JSON file gives them typed (``C: [0.05, 0.5]``), as one value
(``seed: 3``), or as a range to sample (``lr: {log_uniform: [1e-4, 1e-1]}``, ``uniform``,
``int_uniform``). Lists are Optuna categorical distributions, ranges float, log-float or int
distributions; a grid is every combination of the lists.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from nb2pipe.errors import Nb2PipeError

__all__ = [
    "Choice", "Range", "SweepSpace", "describe", "distributions", "from_choices", "grid",
    "parse_assignment", "read_space_file", "to_choice",
]

RangeKind = Literal["uniform", "log_uniform", "int_uniform"]
_RANGE_KINDS: tuple[RangeKind, ...] = ("uniform", "log_uniform", "int_uniform")


@dataclass(frozen=True)
class Choice:
    """A parameter's listed values (text from the command line, typed from a file)."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class Range:
    """A parameter's range, sampled: uniform, log-uniform, or uniform over integers."""

    kind: RangeKind
    low: float
    high: float


SweepSpace = dict[str, "Choice | Range"]


def parse_assignment(text: str) -> tuple[str, Choice]:
    """``n_estimators=10,100`` (or ``n-estimators=...``) as a parameter and its values.

    Commas inside brackets or quotes do not split (``features=["a","b"],["c"]``).

    Raises
    ------
    Nb2PipeError
        No ``=``, an empty name or an empty value.
    """
    name, equals, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not equals or not name or not values.strip():
        raise Nb2PipeError(f"-p {text}: expected NAME=VALUE[,VALUE...]")
    return name, Choice(tuple(_split_values(values)))


def _split_values(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    current = ""
    for character in text:
        if quote:
            quote = None if character == quote else quote
        elif character in "\"'":
            quote = character
        elif character in "[{(":
            depth += 1
        elif character in "]})":
            depth -= 1
        elif character == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += character
    parts.append(current.strip())
    return [part for part in parts if part]


def read_space_file(path: Path) -> SweepSpace:
    """The search space in a YAML or JSON file: a mapping of parameter names to values.

    Raises
    ------
    Nb2PipeError
        Unreadable, not a mapping, or a range that is not ``{kind: [low, high]}``.
    """
    from nb2pipe_runtime.config import ConfigError, read_config

    try:
        data = read_config(path)
    except ConfigError as exc:
        raise Nb2PipeError(f"{path}: {exc}") from None
    space: SweepSpace = {}
    for raw_name, value in data.items():
        name = str(raw_name).replace("-", "_")
        if isinstance(value, dict):
            space[name] = _range(path, name, value)
        elif isinstance(value, list):
            if not value:
                raise Nb2PipeError(f"{path}: {name}: an empty list of values")
            space[name] = Choice(tuple(value))
        else:
            space[name] = Choice((value,))
    return space


def _range(path: Path, name: str, value: dict[str, Any]) -> Range:
    if len(value) == 1:
        [(kind, bounds)] = value.items()
        if (
            kind in _RANGE_KINDS
            and isinstance(bounds, list)
            and len(bounds) == 2
            and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
            and bounds[0] < bounds[1]
            and (kind != "log_uniform" or bounds[0] > 0)
        ):
            return Range(kind, float(bounds[0]), float(bounds[1]))
    kinds = ", ".join(f"{{{kind}: [low, high]}}" for kind in _RANGE_KINDS)
    raise Nb2PipeError(f"{path}: {name}: a range is one of {kinds} with low < high")


def grid(space: SweepSpace) -> list[dict[str, Any]]:
    """Every combination of the listed values, in order (the first parameter varies slowest).

    Raises
    ------
    Nb2PipeError
        A parameter is a range (a grid needs lists), or the space is empty.
    """
    _check_not_empty(space)
    names = list(space)
    ranges = [name for name in names if isinstance(space[name], Range)]
    if ranges:
        raise Nb2PipeError(
            f"{ranges[0]} is a range, which a grid cannot list: use --sampler random, tpe or "
            "cmaes (with --trials N)"
        )
    return [
        dict(zip(names, values))
        for values in itertools.product(*(space[name].values for name in names))  # type: ignore[union-attr]
    ]


def _check_not_empty(space: SweepSpace) -> None:
    if not space:
        raise Nb2PipeError("nothing to sweep: give -p NAME=V1,V2 or --space FILE")


def distributions(space: SweepSpace) -> dict[str, Any]:
    """The space as Optuna distributions: lists are categorical (over their JSON texts when a
    value is a list or a mapping, which Optuna cannot hold), ranges float, log or int."""
    import optuna

    _check_not_empty(space)
    found: dict[str, Any] = {}
    for name, dimension in space.items():
        if isinstance(dimension, Choice):
            found[name] = optuna.distributions.CategoricalDistribution(
                [to_choice(value) for value in dimension.values]
            )
        elif dimension.kind == "int_uniform":
            found[name] = optuna.distributions.IntDistribution(
                math.ceil(dimension.low), math.floor(dimension.high)
            )
        else:
            found[name] = optuna.distributions.FloatDistribution(
                dimension.low, dimension.high, log=dimension.kind == "log_uniform"
            )
    return found


def to_choice(value: Any) -> Any:
    """A listed value as an Optuna categorical choice (None, bool, int, float or str)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, sort_keys=True)


def from_choices(space: SweepSpace, params: dict[str, Any]) -> dict[str, Any]:
    """A trial's Optuna parameters as the script's values (the inverse of :func:`to_choice`)."""
    values: dict[str, Any] = {}
    for name, value in params.items():
        dimension = space.get(name)
        if isinstance(dimension, Choice):
            value = next((v for v in dimension.values if to_choice(v) == value), value)
        values[name] = value
    return values


def describe(space: SweepSpace) -> dict[str, Any]:
    """The space as JSON values: what a study keeps to refuse a resume with another space."""
    described: dict[str, Any] = {}
    for name, dimension in space.items():
        if isinstance(dimension, Choice):
            described[name] = list(dimension.values)
        else:
            described[name] = {dimension.kind: [dimension.low, dimension.high]}
    return described
