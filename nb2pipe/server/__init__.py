"""nb2pipe's jupyter_server extension: registers the ``/nb2pipe/*`` REST handlers."""

from __future__ import annotations

from typing import Any

__all__ = ["load_jupyter_server_extension"]


def load_jupyter_server_extension(server_app: Any) -> None:
    """Add nb2pipe's handlers to a running ``ServerApp`` (called via ``nb2pipe``'s hooks)."""
    from nb2pipe.server.handlers import setup_handlers

    setup_handlers(server_app.web_app)
    server_app.log.info("nb2pipe: registered /nb2pipe/export, /nb2pipe/hazards and /nb2pipe/recover")
