"""Cell tags nb2pipe reads, its own and the established ones of other tools (PRODUCT.md §1)."""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from typing import Iterable

__all__ = ["CellRole", "parse_tags"]

PARAMETERS_TAGS = frozenset({"parameters", "pipeline-parameters"})
#: papermill adds this cell when it runs a notebook with parameters; export leaves it out.
INJECTED_PARAMETERS_TAG = "injected-parameters"
SKIP_TAGS = frozenset({"skip", "nb2pipe:skip", "active-ipynb"})
METRICS_TAG = "metrics"
IGNORE_OUTPUT_TAGS = frozenset({"nb2pipe:ignore-output", "nbval-ignore-output"})
RAISES_EXCEPTION_TAG = "raises-exception"
KEEP_TAG = "nb2pipe:keep"
STEP_PREFIXES = ("step:", "block:")

_OWN_PREFIX = "nb2pipe:"
_KNOWN_OWN_TAGS = frozenset({"nb2pipe:skip", "nb2pipe:ignore-output", KEEP_TAG})


class InvalidTag(ValueError):
    """A tag nb2pipe owns but cannot accept; the loader turns it into a located ``TagError``."""


@dataclass(frozen=True)
class CellRole:
    """What a cell's tags mean to nb2pipe."""

    parameters: bool = False
    injected_parameters: bool = False
    skip: bool = False
    metrics: bool = False
    ignore_output: bool = False
    raises_exception: bool = False
    keep_display: bool = False
    #: the pipeline step this cell starts (``step:NAME`` / Kale's ``block:NAME``)
    step: str | None = None


def parse_tags(tags: Iterable[str]) -> CellRole:
    """Read a cell's tags into a :class:`CellRole`.

    Raises
    ------
    InvalidTag
        For an unknown ``nb2pipe:`` tag, a step name that is not an identifier, or two steps.
    """
    tags = list(tags)
    step: str | None = None
    for tag in tags:
        if tag.startswith(_OWN_PREFIX) and tag not in _KNOWN_OWN_TAGS:
            raise InvalidTag(f"unknown tag {tag!r}")
        for prefix in STEP_PREFIXES:
            if tag.startswith(prefix):
                name = tag[len(prefix) :]
                if not name.isidentifier() or keyword.iskeyword(name):
                    raise InvalidTag(f"tag {tag!r}: the step name must be a Python identifier")
                if step is not None and step != name:
                    raise InvalidTag(f"the cell starts two steps, {step!r} and {name!r}")
                step = name
    present = set(tags)
    return CellRole(
        parameters=bool(present & PARAMETERS_TAGS),
        injected_parameters=INJECTED_PARAMETERS_TAG in present,
        skip=bool(present & SKIP_TAGS),
        metrics=METRICS_TAG in present,
        ignore_output=bool(present & IGNORE_OUTPUT_TAGS),
        raises_exception=RAISES_EXCEPTION_TAG in present,
        keep_display=KEEP_TAG in present,
        step=step,
    )
