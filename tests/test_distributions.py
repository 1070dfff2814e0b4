"""nb2pipe and nb2pipe-runtime are released together: one version, pinned both ways."""

from __future__ import annotations

import sys

import nb2pipe_runtime

import nb2pipe

from .conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_one_version_for_both_distributions() -> None:
    nb2pipe_project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert nb2pipe_project["version"] == nb2pipe.__version__ == nb2pipe_runtime.__version__
    # nb2pipe pins the runtime it writes into scripts' dependency blocks
    assert f"nb2pipe-runtime=={nb2pipe_runtime.__version__}" in nb2pipe_project["dependencies"]


def test_the_runtime_depends_on_nothing() -> None:
    runtime_project = tomllib.loads((ROOT / "runtime" / "pyproject.toml").read_text())["project"]
    assert runtime_project["name"] == "nb2pipe-runtime"
    assert runtime_project["dependencies"] == []
    assert runtime_project.get("dynamic") == ["version"]  # read from nb2pipe_runtime/__init__.py
