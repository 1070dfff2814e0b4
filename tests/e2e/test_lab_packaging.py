"""The wheel ships the prebuilt lab extension and the server config; Jupyter reports both OK."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")

WHEEL_DATA = [
    "share/jupyter/labextensions/nb2pipe/package.json",
    "share/jupyter/labextensions/nb2pipe/install.json",
    "share/jupyter/labextensions/nb2pipe/schemas/nb2pipe/plugin.json",
    "share/jupyter/labextensions/nb2pipe/static/style.js",
    "etc/jupyter/jupyter_server_config.d/nb2pipe.json",
]


def jupyter(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return ANSI.sub("", done.stdout + done.stderr)


def test_wheel_ships_lab_extension_and_server_config(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("nb2pipe-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        data = {name.split(".data/data/", 1)[1] for name in names if ".data/data/" in name}
        remote_entries = [
            name for name in data if re.search(r"/static/remoteEntry\.\w+\.js$", name)
        ]
        server_config = archive.read(next(n for n in names if n.endswith("/nb2pipe.json")))

    assert set(WHEEL_DATA) <= data
    assert len(remote_entries) == 1
    assert b'"nb2pipe": true' in server_config
    assert "nb2pipe/server/handlers.py" in names


def test_jupyter_lists_the_lab_extension_as_enabled_and_ok() -> None:
    listing = jupyter("labextension", "list")

    assert re.search(r"nb2pipe v\S+ +enabled +OK", listing), listing


def test_jupyter_lists_the_server_extension_as_enabled_and_ok() -> None:
    listing = jupyter("server", "extension", "list")

    assert re.search(r"nb2pipe +enabled", listing), listing
    assert re.search(r"nb2pipe \S+ +OK", listing), listing
