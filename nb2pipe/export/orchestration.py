"""What the orchestrator files (``--airflow``, ``--kfp``, ``--prefect``) render alike: the
metric a sweep ranks by, an example grid, and Python identifiers, tuples and call arguments
written from the plan's names."""

from __future__ import annotations

import json
import re

from nb2pipe.analysis.facts import assigned_names
from nb2pipe.export.magics import python_string
from nb2pipe.export.parameters import Parameter, ParamType
from nb2pipe.export.planned import ExportPlan

__all__ = ["first_metric", "grid_example", "identifier", "packed", "python_tuple"]


def first_metric(plan: ExportPlan) -> str | None:
    """The first name the ``metrics`` cell assigns: what a sweep ranks its points by."""
    for cell in plan.cells:
        if cell.parsed.cell.role.metrics:
            names = assigned_names(cell.parsed)
            if names:
                return names[0]
    return None


def grid_example(parameters: tuple[Parameter, ...]) -> str:
    """A grid's JSON for the help text, on the first numeric parameter when there is one."""
    for parameter in parameters:
        if parameter.type in (ParamType.INT, ParamType.FLOAT) and parameter.default:
            return json.dumps({parameter.name: [parameter.default, "..."]})
    return json.dumps({parameters[0].name if parameters else "name": ["..."]})


def packed(arguments: list[str], indent: int, width: int = 100) -> list[str]:
    """``arguments`` as lines of a call, packed up to ``width``, each ending in a comma."""
    lines: list[str] = []
    current = ""
    for argument in arguments:
        piece = argument + ","
        if current and indent + len(current) + 1 + len(piece) > width:
            lines.append(" " * indent + current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    lines.append(" " * indent + current)
    return lines


def python_tuple(names: list[str]) -> str:
    """A tuple of string literals, as Python writes it (a one-element tuple keeps its comma)."""
    if not names:
        return "()"
    trailing = "," if len(names) == 1 else ""
    return "(" + ", ".join(python_string(name) for name in names) + trailing + ")"


def identifier(name: str) -> str:
    """``name`` as a Python identifier (a step named ``2-train`` is ``_2_train``)."""
    text = re.sub(r"\W", "_", name)
    return text if text and not text[0].isdigit() else f"_{text}"
