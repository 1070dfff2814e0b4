"""nb2pipe: make notebook work reproducible.

Public API: :func:`load_notebook`, :func:`analyze_notebook`, :func:`export_notebook`. The
IPython extension (``%load_ext nb2pipe``) and the Jupyter server and lab extension entry points
are wired here and import their modules only when Jupyter calls them.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.2.0"

__all__ = ["__version__", "analyze_notebook", "export_notebook", "load_notebook"]


def __getattr__(name: str) -> Any:
    # Lazy public API: `%load_ext nb2pipe` and the server extension must not import the exporter.
    if name == "load_notebook":
        from nb2pipe.model import load_notebook

        return load_notebook
    if name == "analyze_notebook":
        from nb2pipe.analysis import analyze_notebook

        return analyze_notebook
    if name == "export_notebook":
        from nb2pipe.export import export_notebook

        return export_notebook
    raise AttributeError(f"module 'nb2pipe' has no attribute {name!r}")


# IPython extension (``%load_ext nb2pipe``): ``%track`` lives in nb2pipe.tracking, loaded on demand.
def load_ipython_extension(ipython: Any) -> None:
    from nb2pipe.tracking import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from nb2pipe.tracking import unload_ipython_extension as unload

    unload(ipython)


# Jupyter entry points (server extension + prebuilt lab extension); handlers load lazily.
def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "nb2pipe"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    from nb2pipe.server import load_jupyter_server_extension

    load_jupyter_server_extension(server_app)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "nb2pipe"}]
