"""Options of an export, as one typed value instead of keyword tunnels."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from nb2pipe.errors import Nb2PipeError
from nb2pipe.model import DEFAULT_MAX_SIZE

__all__ = ["ExportOptions", "ExportTarget", "ExportUsageError", "export_target"]


@dataclass(frozen=True)
class ExportOptions:
    """What the user asked of ``nb2pipe export``."""

    #: the script to write; default ``<notebook stem>.py`` beside the notebook
    output: Path | None = None
    #: ``output`` names a folder (given with a trailing ``/``): created when missing
    output_is_folder: bool = False
    #: overwrite an output file that nb2pipe did not generate
    force: bool = False
    #: keep magics without a Python translation as ``get_ipython()`` calls (script needs IPython)
    allow_ipython: bool = False
    #: how the caller's user turns ``allow_ipython`` on, for the error that suggests it
    #: (``None``: the user cannot, as with the JupyterLab button)
    allow_ipython_hint: str | None = "--allow-ipython"
    #: also write a DVC pipeline: a module per step, ``dvc.yaml`` and ``params.yaml``
    dvc: bool = False
    #: inline the parts of nb2pipe-runtime the script uses instead of importing it
    standalone: bool = False
    #: also write ``<stem>_dag.py``: the pipeline (and a sweep of it) as Airflow 3 DAGs
    airflow: bool = False
    #: also write ``<stem>_kfp.py``: the pipeline (and a grid of it) as Kubeflow Pipelines v2
    kfp: bool = False
    #: the Kubeflow components' base image, holding nb2pipe-runtime and the notebook's packages
    kfp_image: str | None = None
    #: where a Kubeflow component pip-installs nb2pipe-runtime from (wheel files or URLs)
    kfp_packages: tuple[str, ...] = ()
    #: also write ``<stem>_flow.py``: the pipeline (and a sweep of it) as Prefect 3 flows
    prefect: bool = False
    #: refuse a cell whose saved outputs hold an error instead of dropping it like a
    #: ``raises-exception`` cell
    strict_errors: bool = False
    #: refuse notebooks larger than this many bytes before reading them (``None``: no limit)
    max_notebook_size: int | None = DEFAULT_MAX_SIZE


class ExportUsageError(Nb2PipeError):
    """Options that do not fit the notebooks given (the command reports it as a usage error)."""


@dataclass(frozen=True)
class ExportTarget:
    """Where ``-o`` as the user typed it puts the scripts (:attr:`ExportOptions.output` and
    :attr:`ExportOptions.output_is_folder`)."""

    output: Path | None
    is_folder: bool


def export_target(output: str | None, notebooks: int = 1) -> ExportTarget:
    """Read ``-o`` as typed: a folder when it ends with ``/`` (created when missing) or names
    an existing folder, else the script's path; ``notebooks`` is how many are exported.

    Raises
    ------
    ExportUsageError
        Several notebooks and ``output`` is not a folder.
    Nb2PipeError
        ``output`` ends with ``/`` but is an existing file.
    """
    if output is None:
        return ExportTarget(None, False)
    path = Path(output)
    folder = output.endswith(("/", os.sep)) or path.is_dir()
    if notebooks > 1 and not folder:
        raise ExportUsageError(
            "-o must be a folder when exporting several notebooks (end it with / to create it)"
        )
    if folder and path.exists() and not path.is_dir():
        raise Nb2PipeError(f"-o {output}: exists and is not a folder")
    return ExportTarget(path, folder)
