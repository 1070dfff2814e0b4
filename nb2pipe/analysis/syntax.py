"""Python source to standard-library syntax trees, safe to call from several threads.

CPython (3.11 here) keeps one recursion counter per interpreter while it turns a parsed
tree into ``ast`` objects; two threads doing that at once can fail with ``SystemError: AST
constructor recursion depth mismatch`` (python/cpython#106905). ``nb2pipe verify -j`` exports
and judges notebooks in threads, and the server exports in worker threads, so every tree
nb2pipe builds is built here, one at a time. The lock costs nothing measurable: parsing holds
the GIL anyway.
"""

from __future__ import annotations

import ast
import threading
from typing import Literal, overload

__all__ = ["parse"]

_LOCK = threading.Lock()


@overload
def parse(source: str, mode: Literal["exec"] = "exec") -> ast.Module: ...
@overload
def parse(source: str, mode: Literal["eval"]) -> ast.Expression: ...


def parse(source: str, mode: Literal["exec", "eval"] = "exec") -> ast.Module | ast.Expression:
    """``ast.parse(source, mode=mode)``, one thread at a time."""
    with _LOCK:
        return ast.parse(source, mode=mode)  # type: ignore[return-value]
