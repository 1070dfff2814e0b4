"""Options of an export, as one typed value instead of keyword tunnels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nb2pipe.model import DEFAULT_MAX_SIZE

__all__ = ["ExportOptions"]


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
