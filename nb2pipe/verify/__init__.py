"""``nb2pipe verify``: prove that notebooks reproduce from a fresh kernel, and their scripts too.

Public API: :func:`verify_paths` / :func:`verify_notebook` return a :class:`VerifyReport`;
:func:`raise_for_mismatches` turns a failing report into :class:`VerificationFailed`. Names
load on first use, so the ``nb2pipe`` command can register ``verify`` without importing the
comparison code; papermill and nbclient are imported only when a notebook runs.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "CellComparison",
    "CompareOptions",
    "DataFile",
    "MaskedCell",
    "MaskedText",
    "Mismatch",
    "NotebookReport",
    "NotebookStatus",
    "Reason",
    "ScriptCheck",
    "ScriptStatus",
    "VerificationFailed",
    "VerifyInterrupted",
    "VerifyOptions",
    "VerifyProgress",
    "VerifyReport",
    "VerifyUsageError",
    "compare_outputs",
    "find_notebooks",
    "raise_for_mismatches",
    "verify_notebook",
    "verify_paths",
]

_HOMES = {
    "VerifyProgress": "api",
    "find_notebooks": "api",
    "raise_for_mismatches": "api",
    "verify_notebook": "api",
    "verify_paths": "api",
    "CellComparison": "compare",
    "CompareOptions": "compare",
    "compare_outputs": "compare",
    "VerificationFailed": "errors",
    "VerifyInterrupted": "errors",
    "VerifyUsageError": "errors",
    "VerifyOptions": "options",
    "DataFile": "report",
    "MaskedCell": "report",
    "MaskedText": "report",
    "Mismatch": "report",
    "NotebookReport": "report",
    "NotebookStatus": "report",
    "Reason": "report",
    "ScriptCheck": "report",
    "ScriptStatus": "report",
    "VerifyReport": "report",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'nb2pipe.verify' has no attribute {name!r}")
    return getattr(import_module(f"nb2pipe.verify.{home}"), name)
