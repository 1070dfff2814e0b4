"""A sweep's search space, and the points of it to run: a grid, or random samples.

``-p NAME=V1,V2`` gives a parameter's values on the command line (the script's parser types
them); a YAML or JSON file gives them typed (``C: [0.05, 0.5]``), as one value (``seed: 3``),
or as a range to sample (``lr: {log_uniform: [1e-4, 1e-1]}``, ``uniform``, ``int_uniform``).
A grid is every combination; ``samples=K`` draws K points (of the grid without repeats, or from
the ranges) with ``seed`` for a repeatable sweep.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from nb2pipe.errors import Nb2PipeError

__all__ = ["Choice", "Range", "SweepSpace", "parse_assignment", "points", "read_space_file"]

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

    def sample(self, rng: random.Random) -> Any:
        if self.kind == "int_uniform":
            return rng.randint(int(self.low), int(self.high))
        if self.kind == "log_uniform":
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return rng.uniform(self.low, self.high)


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


def points(space: SweepSpace, samples: int | None = None, seed: int | None = None) -> list[dict[str, Any]]:
    """The parameter values of each run, in order.

    Raises
    ------
    Nb2PipeError
        Ranges without ``samples``, or an empty space.
    """
    if not space:
        raise Nb2PipeError("nothing to sweep: give -p NAME=V1,V2 or --config FILE")
    names = list(space)
    ranges = [name for name in names if isinstance(space[name], Range)]
    rng = random.Random(seed)
    if ranges and samples is None:
        raise Nb2PipeError(
            f"{ranges[0]} is a range: give --samples K to draw K points from it"
        )
    if not ranges:
        grid = [
            dict(zip(names, values))
            for values in itertools.product(*(space[name].values for name in names))  # type: ignore[union-attr]
        ]
        if samples is None or samples >= len(grid):
            return grid
        return [grid[index] for index in sorted(rng.sample(range(len(grid)), samples))]
    drawn = []
    for _ in range(samples or 0):
        point: dict[str, Any] = {}
        for name in names:
            dimension = space[name]
            if isinstance(dimension, Range):
                point[name] = dimension.sample(rng)
            else:
                point[name] = rng.choice(dimension.values)
        drawn.append(point)
    return drawn
