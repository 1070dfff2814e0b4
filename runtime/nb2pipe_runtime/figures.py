"""Save the figures a notebook showed inline as image files of the run."""

from __future__ import annotations

import os
import sys

from nb2pipe_runtime.run import active_run

__all__ = ["save_figures"]


def save_figures(prefix: str) -> list[str]:
    """Save every open matplotlib figure as ``<prefix>-<number>.png`` and close them.

    The files go to the running run's ``artifacts/figures/`` (``figures/`` outside a run).
    matplotlib is never imported here: a script that drew nothing has nothing to save.
    Returns the files written.
    """
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return []
    run = active_run()
    folder = run.artifact_dir("figures") if run is not None else "figures"
    written = []
    for number in pyplot.get_fignums():
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{prefix}-{number}.png")
        pyplot.figure(number).savefig(path)
        written.append(path)
    pyplot.close("all")
    return written
