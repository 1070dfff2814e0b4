"""Write the DVC side of a ``--dvc`` export: ``dvc.yaml`` (a stage per step) and ``params.yaml``."""

from __future__ import annotations

from nb2pipe.export.plan import ExportPlan
from nb2pipe.export.render import RenderedScript
from nb2pipe.export.steps import PipelinePlan

__all__ = ["render_dvc_files"]


def render_dvc_files(
    plan: ExportPlan, pipeline: PipelinePlan, rendered: RenderedScript
) -> list[tuple[str, str]]:
    return []
