"""``jupyter nbconvert --to nb2pipe``: the same script text as ``nb2pipe export``.

Errors: ``NbConvertApp`` handles exactly one kind of exporter failure, ``ConversionException``
(it logs "Error while converting ..." with the traceback and exits 1); anything else escapes
as a bare traceback. So the exporter re-raises every :class:`Nb2PipeError` as
:class:`NbconvertExportError` — both an ``Nb2PipeError`` and a ``ConversionException``, an
ordinary exception for programmatic callers (jupyter_server's nbconvert handler,
``Nb2PipeExporter().from_filename()``) — and a logging filter on the exporter's logger (the
application's logger when the command line runs it) turns that log record into the error's
one line, without the traceback nb2pipe errors never show.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from nbconvert.exporters import Exporter
from nbconvert.utils.exceptions import ConversionException
from traitlets import Bool

from nb2pipe.errors import Nb2PipeError
from nb2pipe.export.api import render_notebook
from nb2pipe.export.options import ExportOptions
from nb2pipe.model import notebook_from_json

__all__ = ["Nb2PipeExporter", "NbconvertExportError"]


class NbconvertExportError(Nb2PipeError, ConversionException):
    """An nb2pipe error met by the nbconvert exporter; ``error`` (and ``__cause__``) is it."""

    def __init__(self, error: Nb2PipeError) -> None:
        self.error = error
        super().__init__(str(error))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.error,))


class _OneLineErrors(logging.Filter):
    """Log an :class:`NbconvertExportError` as its one line, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, NbconvertExportError):
            record.msg, record.args = "%s", (str(error),)
            record.exc_info = record.exc_text = None
        return True


def _install_filter(log: logging.Logger | logging.LoggerAdapter[Any]) -> None:
    logger = log.logger if isinstance(log, logging.LoggerAdapter) else log
    if not any(isinstance(existing, _OneLineErrors) for existing in logger.filters):
        logger.addFilter(_OneLineErrors())


class Nb2PipeExporter(Exporter):
    """Export a notebook to a clean, parameterized script (see ``nb2pipe export --help``).

    File-safety options (``--force``, ``--check``) belong to ``nb2pipe export``; nbconvert
    writes its output as it does for every format.
    """

    export_from_notebook = "Python script (nb2pipe)"
    output_mimetype = "text/x-python"
    allow_ipython = Bool(
        False, help="Keep magics without a Python translation (the script then needs IPython)."
    ).tag(config=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _install_filter(self.log)

    def _file_extension_default(self) -> str:
        return ".py"

    def from_notebook_node(
        self, nb: Any, resources: dict[str, Any] | None = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        nb_copy, resources = super().from_notebook_node(nb, resources, **kw)
        metadata = resources.get("metadata", {})
        folder = Path(metadata.get("path") or ".")
        name = metadata.get("name") or "notebook"
        notebook_path = folder / f"{name}.ipynb"
        try:
            notebook = notebook_from_json(_plain(nb_copy), notebook_path)
            options = ExportOptions(
                allow_ipython=self.allow_ipython,
                allow_ipython_hint="--Nb2PipeExporter.allow_ipython=True",
            )
            result = render_notebook(notebook, options, notebook_path.with_suffix(".py"))
        except NbconvertExportError:
            raise
        except Nb2PipeError as exc:
            raise NbconvertExportError(exc) from exc
        resources["output_extension"] = ".py"
        return result.code, resources


def _plain(node: Any) -> Any:
    """NotebookNode → plain dicts and lists (the model reads JSON-shaped data)."""
    if isinstance(node, dict):
        return {key: _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    return node
