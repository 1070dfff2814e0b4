"""The server extension's defences, through a real jupyter_server (pytest-jupyter's, serving
HTTP on a local port): credentials, XSRF, paths, request bodies (for each endpoint: export,
recover, hazards), and exports racing each other or a save (recoveries racing each other:
test_server_recover.py). Each is refused with its status code and a JSON message, or handled; nothing is
written outside the root. (No credentials and cookie auth without XSRF: test_server_auth.py;
``..``, absolute, hidden and symlinked paths: test_server_export.py.)"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from nb2pipe.server.handlers import MAX_BODY_SIZE

from ..bad_notebooks import notebook
from .conftest import saved_notebook
from .test_server_auth import cookie_header, login_cookies

POSTS = ["export", "recover"]
ROUTES = [*POSTS, "hazards"]
#: what each POST writes beside ``nb.ipynb``
WRITES = {"export": "nb.py", "recover": "nb.recovered.ipynb"}


def reply(response: Any) -> dict:
    return json.loads(response.body)


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def nb(jp_root_dir: Path) -> Path:
    """Run and saved (so that recover has outputs to give back)."""
    return saved_notebook(jp_root_dir / "work" / "nb.ipynb", ("x = 1", None), ("print(x + 1)", "2\n"))


def nothing_written(nb: Path) -> bool:
    return sorted(p.name for p in nb.parent.iterdir()) == [nb.name]


@pytest.fixture
def outside(jp_root_dir: Path, write_notebook) -> Path:
    """A folder beside the root holding a notebook: nothing may appear in it."""
    write_notebook(jp_root_dir.parent / "outside" / "secret.ipynb", "secret = 42")
    return jp_root_dir.parent / "outside"


async def fetch(jp_fetch, route: str, path: str | None = None, **kwargs: Any) -> Any:
    """GET /nb2pipe/hazards?path= or POST /nb2pipe/<route> {"path": }, never raising."""
    if route == "hazards":
        return await jp_fetch(
            "nb2pipe", "hazards", params={"path": path}, raise_error=False, **kwargs
        )
    body = kwargs.pop("body", None) or json.dumps({"path": path})
    kwargs.setdefault("request_timeout", 300)  # a recovery runs kernels
    return await jp_fetch(
        "nb2pipe", route, method="POST", body=body, raise_error=False, **kwargs
    )


# ---------------------------------------------------------------------------------------------
# credentials


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Authorization": "token not-the-token"}, id="wrong-token"),
        pytest.param({"Authorization": "Bearer not-the-token"}, id="wrong-bearer"),
        pytest.param({"Authorization": "", "Cookie": "username-x=forged"}, id="forged-cookie"),
    ],
)
async def test_wrong_credentials_are_403(jp_fetch, nb: Path, route: str, headers) -> None:
    response = await fetch(jp_fetch, route, "work/nb.ipynb", headers=headers)

    assert response.code == 403
    assert nothing_written(nb)


@pytest.mark.parametrize("route", POSTS)
async def test_wrong_token_in_the_url_is_403(jp_fetch, nb: Path, route: str) -> None:
    response = await jp_fetch(
        "nb2pipe", route, method="POST", body=json.dumps({"path": "work/nb.ipynb"}),
        params={"token": "not-the-token"}, headers={"Authorization": ""}, raise_error=False,
    )
    assert response.code == 403
    assert nothing_written(nb)


@pytest.mark.parametrize("route", POSTS)
async def test_cookie_auth_with_a_wrong_xsrf_token_is_403(jp_fetch, nb: Path, route) -> None:
    cookies = await login_cookies(jp_fetch)

    response = await fetch(
        jp_fetch, route, "work/nb.ipynb",
        headers={"Authorization": "", "Cookie": cookie_header(cookies),
                 "X-XSRFToken": "2|00000000|" + "0" * 32 + "|1700000000"},
    )

    assert response.code == 403
    assert nothing_written(nb)


# ---------------------------------------------------------------------------------------------
# paths


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "path, status",
    [
        pytest.param("../outside/secret.ipynb", 404, id="dot-dot"),
        pytest.param("work/../../outside/secret.ipynb", 404, id="dot-dot-inside"),
        pytest.param("ABSOLUTE", 404, id="absolute"),
        pytest.param("//ABSOLUTE", 404, id="double-slash-absolute"),
        pytest.param("work\\..\\..\\outside\\secret.ipynb", 404, id="backslashes"),
        pytest.param("%2e%2e/outside/secret.ipynb", 404, id="percent-encoded-dot-dot"),
        pytest.param("work/nb\x00.ipynb", 400, id="nul"),
        pytest.param("work/nb.ipynb\x00.txt", 400, id="nul-before-suffix"),
    ],
)
async def test_paths_are_refused(jp_fetch, nb, outside, route, path, status) -> None:
    path = path.replace("ABSOLUTE", str(outside / "secret.ipynb"))
    if route == "hazards" and "\x00" in path:
        # tornado turns control characters of query arguments into spaces: "nb .ipynb" is no
        # notebook (404), "nb.ipynb .txt" is not a notebook's name (400)
        status = 404 if path.endswith(".ipynb") else 400
    before = listing(outside)

    response = await fetch(jp_fetch, route, path)

    assert response.code == status, response.body
    assert reply(response)["message"]
    assert listing(outside) == before
    assert nothing_written(nb)


@pytest.mark.parametrize("route", POSTS)
async def test_dangling_output_symlink_pointing_outside_is_403(jp_fetch, nb, outside, route) -> None:
    """The output's name (the script, the recovered notebook) is a symlink to a file that
    does not exist yet, outside the root: writing through it would create that file."""
    target = outside / f"planted-{route}"
    (nb.parent / WRITES[route]).symlink_to(target)

    response = await fetch(jp_fetch, route, "work/nb.ipynb")

    assert response.code == 403
    assert "outside the server root" in reply(response)["message"]
    assert not target.exists()


@pytest.mark.parametrize("route", POSTS)
async def test_symlink_inside_the_root_is_followed(jp_fetch, jp_root_dir, nb, route) -> None:
    """The control: a link whose target is under the root is an ordinary notebook."""
    (jp_root_dir / "alias.ipynb").symlink_to(nb)

    response = await fetch(jp_fetch, route, "alias.ipynb")

    assert response.code == 200, response.body
    written = WRITES[route].replace("nb", "alias", 1)
    assert (jp_root_dir / written).is_file()
    if route == "recover":
        assert reply(response)["recovered"] is True
        assert reply(response)["output"] == written


# ---------------------------------------------------------------------------------------------
# request bodies


@pytest.mark.parametrize(
    "body, expected",
    [
        pytest.param(b'\xff\xfe{"path": "work/nb.ipynb"}', "not valid JSON", id="not-utf-8"),
        pytest.param(b"[" * 20_000 + b"]" * 20_000, "nested too deeply", id="deeply-nested"),
        pytest.param(b"null", "JSON object", id="null"),
        pytest.param(b'"work/nb.ipynb"', "JSON object", id="a-string"),
        pytest.param(b'{"path": "work/nb.ipynb", "path": [1]}', "'path'", id="repeated-key"),
        pytest.param(b'{"path": "work/nb.ipynb", "overwrite": 1}', "'overwrite'", id="flag-1"),
        pytest.param(b"\x00" * 1000, "not valid JSON", id="binary"),
    ],
)
@pytest.mark.parametrize("route", POSTS)
async def test_bad_bodies_are_400(jp_fetch, nb: Path, body: bytes, expected: str, route) -> None:
    response = await fetch(jp_fetch, route, body=body)

    assert response.code == 400, response.body
    assert expected in reply(response)["message"]
    assert nothing_written(nb)


@pytest.mark.parametrize("route", POSTS)
async def test_a_huge_body_is_413_before_it_is_read(jp_fetch, nb: Path, route: str) -> None:
    body = json.dumps({"path": "work/nb.ipynb", "padding": "x" * (4 * MAX_BODY_SIZE)})

    response = await fetch(jp_fetch, route, body=body)

    assert response.code == 413
    assert f"at most {MAX_BODY_SIZE}" in reply(response)["message"]
    assert nothing_written(nb)


@pytest.mark.parametrize("route", POSTS)
async def test_a_body_under_the_limit_is_read(jp_fetch, nb: Path, route: str) -> None:
    body = json.dumps({"path": "work/nb.ipynb", "padding": "x" * (MAX_BODY_SIZE - 100)})

    response = await fetch(jp_fetch, route, body=body)

    assert response.code == 200, response.body
    assert (nb.parent / WRITES[route]).is_file()


async def test_the_body_limit_does_not_touch_other_endpoints(jp_fetch, nb: Path) -> None:
    """The contents API (how Lab saves notebooks) keeps the server's own limit."""
    model = {"type": "file", "format": "text", "content": "y" * (4 * MAX_BODY_SIZE)}
    response = await jp_fetch(
        "api", "contents", "work", "big.txt", method="PUT", body=json.dumps(model),
        raise_error=False,
    )
    assert response.code in (200, 201), response.body


# ---------------------------------------------------------------------------------------------
# races


def _watch(script: Path, stop: threading.Event, seen: set[str], torn: list[str]) -> None:
    """Read ``script`` until ``stop``: each text read is recorded; one that does not parse
    (a half-written file) is torn."""
    while not stop.is_set():
        try:
            text = script.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        try:
            # compiled, not ast.parse'd: Python AST objects built in two threads at once can
            # fail spuriously on CPython 3.11 (gh-106905); nb2pipe's own parsing is under
            # one lock (analysis/syntax.py), which this thread does not take
            compile(text, str(script), "exec", dont_inherit=True)
        except SyntaxError:
            torn.append(text)
        seen.add(text)


async def test_concurrent_exports_of_one_notebook_never_tear_the_script(
    jp_fetch, jp_root_dir: Path, nb: Path, outside: Path
) -> None:
    first = await fetch(jp_fetch, "export", "work/nb.ipynb")
    assert first.code == 200
    script = nb.with_suffix(".py")
    expected = script.read_text()
    script.unlink()
    before = listing(outside)
    stop, seen, torn = threading.Event(), set(), []
    watcher = threading.Thread(target=_watch, args=(script, stop, seen, torn))
    watcher.start()
    try:
        responses = await asyncio.gather(
            *(fetch(jp_fetch, "export", "work/nb.ipynb") for _ in range(12))
        )
    finally:
        stop.set()
        watcher.join()

    assert [r.code for r in responses] == [200] * 12, [r.body for r in responses]
    assert torn == []
    assert seen <= {expected} and script.read_text() == expected
    assert sorted(p.name for p in nb.parent.iterdir()) == ["nb.ipynb", "nb.py"]  # no temp left
    assert listing(outside) == before


def _save_loop(path: Path, versions: list[str], stop: threading.Event, how: str) -> None:
    """Rewrite ``path`` with each version in turn until ``stop``: ``rename`` (a temporary file
    renamed over it), ``jupyter`` (as Jupyter's contents manager saves: in place, its old
    version kept in ``.~NAME`` meanwhile) or ``in-place`` (truncate, then write, no trace)."""
    from jupyter_server.services.contents.fileio import atomic_writing

    while not stop.is_set():
        for text in versions:
            half = len(text) // 2
            if how == "rename":
                fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".saving")
                with os.fdopen(fd, "w", encoding="utf-8") as file:
                    file.write(text)
                os.replace(temporary, path)
            elif how == "jupyter":
                with atomic_writing(str(path)) as file:
                    file.write(text[:half])
                    file.flush()
                    time.sleep(0.005)  # a slow disk: the half-written file is there to read
                    file.write(text[half:])
            else:
                with path.open("w", encoding="utf-8") as file:
                    file.write(text[:half])
                    file.flush()
                    file.write(text[half:])
            time.sleep(0.002)  # a save now and then, not a file always half-written


@pytest.mark.parametrize("how", ["rename", "jupyter", "in-place"])
async def test_export_while_the_notebook_is_being_saved(
    jp_fetch, nb: Path, outside: Path, how: str
) -> None:
    """Each export sees one whole version, the hazards too, whether the save renames a file
    over the notebook or rewrites it in place as Jupyter does (the export waits for the save).
    Only a writer that leaves no trace of its write may be read half-written, and then the
    export refuses it as cut short: a 400, never a wrong script. The script on disk is always
    the export of one version."""
    versions = [
        json.dumps(notebook("x = 1", "print(x + 1)"), indent=1),
        json.dumps(notebook("x = 2", "y = x * 10", "print(y)"), indent=1),
    ]
    scripts = []
    for text in versions:
        nb.write_text(text)
        assert (await fetch(jp_fetch, "export", "work/nb.ipynb")).code == 200
        scripts.append(nb.with_suffix(".py").read_text())
    assert scripts[0] != scripts[1]
    before = listing(outside)
    stop, seen, torn = threading.Event(), set(), []
    hazards: list[Any] = []
    saver = threading.Thread(target=_save_loop, args=(nb, versions, stop, how))
    watcher = threading.Thread(target=_watch, args=(nb.with_suffix(".py"), stop, seen, torn))
    saver.start()
    watcher.start()
    try:
        responses = []
        for _ in range(4):
            responses += await asyncio.gather(
                *(fetch(jp_fetch, "export", "work/nb.ipynb") for _ in range(4))
            )
            hazards.append(await fetch(jp_fetch, "hazards", "work/nb.ipynb"))
    finally:
        stop.set()
        saver.join()
        watcher.join()

    for response in responses + hazards:
        if response.code != 200:
            assert how == "in-place" and response.code == 400, response.body
            message = reply(response)["message"]
            assert message.startswith(("nb.ipynb: invalid JSON", "nb.ipynb: the file is empty"))
    assert sum(r.code == 200 for r in responses) >= (1 if how == "in-place" else len(responses))
    assert torn == [] and seen <= set(scripts)
    assert listing(outside) == before


# ---------------------------------------------------------------------------------------------
# the same defences in a `jupyter server` process, as users start it


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_jupyter_server_process_enforces_them(tmp_path: Path) -> None:
    """The extension enabled by its installed config (no test fixtures): credentials, paths,
    NUL, a huge body; then a good export, and a good recovery (its child process started by
    the server's own interpreter)."""
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    root, home = tmp_path / "root", tmp_path / "home"
    (root / "work").mkdir(parents=True)
    (root / "work" / "nb.ipynb").write_text(json.dumps(notebook("x = 1", "print(x)")))
    saved_notebook(root / "work" / "ran.ipynb", ("y = 6 * 7", None), ("print(y)", "42\n"))
    (tmp_path / "outside").mkdir()
    port, token = _free_port(), "the-right-token"
    env = {
        **os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTER_DATA_DIR": str(home / "data"),
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter-server"), "--no-browser",
         f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.root_dir={root}",
         f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0",
         "--allow-root"],  # CI containers run as root
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def post(body: bytes, auth: str | None = token, route: str = "export") -> tuple[int, dict]:
        request = urllib.request.Request(f"{base}/nb2pipe/{route}", data=body, method="POST")
        if auth is not None:
            request.add_header("Authorization", f"token {auth}")
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            payload = error.read()
            return error.code, json.loads(payload) if payload.startswith(b"{") else {}

    try:
        for _ in range(300):  # up to 30 s to start
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None:
                    pytest.fail(f"jupyter server exited: {server.stderr.read()}")
                time.sleep(0.1)
        for route, path in (("export", "work/nb.ipynb"), ("recover", "work/ran.ipynb")):
            good = json.dumps({"path": path}).encode()
            assert post(good, auth=None, route=route)[0] == 403
            assert post(good, auth="wrong", route=route)[0] == 403
            assert post(json.dumps({"path": "../outside/x.ipynb"}).encode(), route=route)[0] == 404
            assert post(json.dumps({"path": "work/nb\x00.ipynb"}).encode(), route=route)[0] == 400
            assert post(b"{" + b" " * (2 * MAX_BODY_SIZE) + b"}", route=route)[0] == 413
        assert sorted(p.name for p in (root / "work").iterdir()) == ["nb.ipynb", "ran.ipynb"]
        status, payload = post(json.dumps({"path": "work/nb.ipynb"}).encode())
        assert status == 200, payload
        assert payload["path"] == "work/nb.py" and (root / "work" / "nb.py").is_file()
        status, payload = post(json.dumps({"path": "work/ran.ipynb"}).encode(), route="recover")
        assert status == 200, payload
        assert payload["recovered"] is True and payload["output"] == "work/ran.recovered.ipynb"
        assert (root / "work" / "ran.recovered.ipynb").is_file()
        assert list((tmp_path / "outside").iterdir()) == []
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
