"""Every nb2pipe endpoint requires authentication, and POST requires XSRF with cookie auth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from jupyter_server.base.handlers import APIHandler
from tornado.web import RequestHandler

from nb2pipe.server import handlers

#: (route, verb, request body) of every nb2pipe endpoint; checked against the handlers below.
ENDPOINTS = [
    ("hazards", "GET", None),
    ("export", "POST", json.dumps({"path": "nb.ipynb"})),
    ("recover", "POST", json.dumps({"path": "nb.ipynb"})),
]
POSTS = [route for route, verb, _ in ENDPOINTS if verb == "POST"]

NO_CREDENTIALS = {"Authorization": ""}


def handler_verbs() -> set[tuple[str, str]]:
    """(route, verb) for every HTTP verb an nb2pipe handler adds to ``APIHandler``."""
    routes = {
        "export": handlers.ExportHandler,
        "hazards": handlers.HazardsHandler,
        "recover": handlers.RecoverHandler,
    }
    return {
        (route, verb)
        for route, cls in routes.items()
        for verb in RequestHandler.SUPPORTED_METHODS
        if getattr(cls, verb.lower()) is not getattr(APIHandler, verb.lower())
    }


def test_endpoint_table_covers_every_handler_verb() -> None:
    assert handler_verbs() == {(route, verb) for route, verb, _ in ENDPOINTS}


@pytest.fixture
def notebook(jp_root_dir: Path, write_notebook) -> Path:
    return write_notebook(jp_root_dir / "nb.ipynb", "x = 1")


@pytest.mark.parametrize("route, verb, body", ENDPOINTS)
async def test_no_credentials_is_403(jp_fetch, notebook, route, verb, body) -> None:
    response = await jp_fetch(
        "nb2pipe",
        route,
        method=verb,
        body=body,
        params={"path": "nb.ipynb"},
        headers=dict(NO_CREDENTIALS),
        raise_error=False,
    )

    assert response.code == 403
    assert nothing_written(notebook)


def nothing_written(notebook: Path) -> bool:
    """Neither the script nor the recovered notebook exists."""
    return sorted(p.name for p in notebook.parent.iterdir()) == [notebook.name]


async def login_cookies(jp_fetch) -> dict[str, str]:
    """A browser session's cookies: the login cookie (set on token auth) and ``_xsrf``."""
    cookies: SimpleCookie = SimpleCookie()
    # With the token, /login sets the login cookie and redirects; without it, the login
    # form is rendered and sets the _xsrf cookie.
    for headers in ({}, dict(NO_CREDENTIALS)):
        response = await jp_fetch(
            "login", headers=headers, raise_error=False, follow_redirects=False
        )
        for header in response.headers.get_list("Set-Cookie"):
            cookies.load(header)
    values = {name: morsel.value for name, morsel in cookies.items()}
    assert "_xsrf" in values and any(name.startswith("username-") for name in values), values
    return values


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


@pytest.mark.parametrize("route", POSTS)
async def test_cookie_auth_without_xsrf_is_403_on_post(jp_fetch, notebook, route) -> None:
    cookies = await login_cookies(jp_fetch)

    response = await jp_fetch(
        "nb2pipe",
        route,
        method="POST",
        body=json.dumps({"path": "nb.ipynb"}),
        headers={**NO_CREDENTIALS, "Cookie": cookie_header(cookies)},
        raise_error=False,
    )

    assert response.code == 403
    assert nothing_written(notebook)


@pytest.mark.parametrize("route", POSTS)
async def test_cookie_auth_with_xsrf_header_is_accepted(jp_fetch, notebook, route) -> None:
    """The control for the test above: the same cookies plus X-XSRFToken work (as in Lab).
    (The notebook never ran: recover answers that it has no saved outputs, past the
    credentials.)"""
    cookies = await login_cookies(jp_fetch)

    response = await jp_fetch(
        "nb2pipe",
        route,
        method="POST",
        body=json.dumps({"path": "nb.ipynb"}),
        headers={
            **NO_CREDENTIALS,
            "Cookie": cookie_header(cookies),
            "X-XSRFToken": cookies["_xsrf"],
        },
        raise_error=False,
    )

    if route == "recover":
        assert response.code == 400, response.body
        assert "no saved outputs" in json.loads(response.body)["message"]
    else:
        assert response.code == 200, response.body
        assert notebook.with_suffix(".py").exists()


CHECK_AUTH = textwrap.dedent(
    """
    import sys, warnings
    from jupyter_server.serverapp import ServerApp
    from jupyter_server.utils import JupyterServerAuthWarning

    app = ServerApp(
        allow_unauthenticated_access=False,
        jpserver_extensions={"nb2pipe": True},
        reraise_server_extension_failures=True,
        root_dir=sys.argv[1],
    )
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        app.initialize(argv=[], find_extensions=False, new_httpserver=False)
    routes = [r.matcher.regex.pattern for rule in app.web_app.default_router.rules
              for r in getattr(rule.target, "rules", [])]
    for route in ("export", "hazards", "recover"):
        assert any(f"/nb2pipe/{route}" in r for r in routes), routes
    problems = [str(r.message) for r in records if issubclass(r.category, JupyterServerAuthWarning)]
    print("\\n".join(problems) or "OK")
    """
)


def test_server_reports_no_unauthenticated_nb2pipe_handler(tmp_path: Path) -> None:
    """The extension template's check_auth: jupyter_server warns on any handler verb that
    lacks ``@tornado.web.authenticated`` when unauthenticated access is disallowed."""
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHECK_AUTH, str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "OK", done.stdout
