"""What scripts exported by nb2pipe need at run time.

A script imports the names below; everything else is for nb2pipe's own readers (``nb2pipe
runs`` reads :class:`~nb2pipe_runtime.record.RunRecord`) and for the tests.
"""

from nb2pipe_runtime.cli import json_or_text, optional, parse_args
from nb2pipe_runtime.figures import save_figures
from nb2pipe_runtime.pipeline import Pipeline
from nb2pipe_runtime.run import Run, record_metrics
from nb2pipe_runtime.shell import shell, shell_output, shell_script, write_file
from nb2pipe_runtime.sweep import Pruned, report

__version__ = "0.2.0"

__all__ = [
    "Pipeline",
    "Pruned",
    "Run",
    "__version__",
    "json_or_text",
    "optional",
    "parse_args",
    "record_metrics",
    "report",
    "save_figures",
    "shell",
    "shell_output",
    "shell_script",
    "write_file",
]
