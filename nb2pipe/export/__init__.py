"""``nb2pipe export``: turn a tagged notebook into a clean, parameterized script."""

from nb2pipe.export.api import (
    CheckStatus,
    ExportResult,
    ExportSummary,
    check_notebook,
    export_notebook,
    render_notebook,
)
from nb2pipe.export.options import ExportOptions
from nb2pipe.export.parameters import Parameter, ParamType

__all__ = [
    "CheckStatus",
    "ExportOptions",
    "ExportResult",
    "ExportSummary",
    "ParamType",
    "Parameter",
    "check_notebook",
    "export_notebook",
    "render_notebook",
]
