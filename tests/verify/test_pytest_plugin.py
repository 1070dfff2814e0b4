"""``pytest --nb2pipe``: one item per notebook, verify's verdict, verify's report on failure.

The inner pytest runs with entry-point plugins off and ``-p nb2pipe.verify.pytest_plugin``:
the tests use the plugin of this checkout whether or not an installed nb2pipe registered one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nb2pipe.verify import pytest_plugin
from nb2pipe.verify.options import DEFAULT_TIMEOUT, VerifyOptions

from ..conftest import ROOT, notebook_json
from .conftest import code, numbered, stdout

pytest_plugins = ["pytester"]

# (the outer session imported the module: the inner one cannot rewrite its asserts, it has none)
PLUGIN = ["-p", "nb2pipe.verify.pytest_plugin", "-W", "ignore::pytest.PytestAssertRewriteWarning"]


@pytest.fixture(autouse=True)
def _only_our_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def _write(folder: Path, name: str, *cells: dict[str, Any], **kwargs: Any) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook_json(*numbered(*cells), **kwargs), indent=1))
    return path


def _good(folder: Path, name: str = "good.ipynb") -> Path:
    return _write(
        folder, name, code("x = 2", count=1), code("print(x + 2)", stdout("4\n"))
    )


def _bad(folder: Path, name: str = "bad.ipynb") -> Path:
    return _write(
        folder,
        name,
        code("x = 2", count=1),
        code("print(x + 2)", stdout("5\n")),  # saved by hand: the run prints 4
        code("print('same')", stdout("same\n")),
    )


def test_the_plugin_imports_nothing_heavy_into_every_pytest_session() -> None:
    probe = (
        "import sys, nb2pipe.verify.pytest_plugin; "
        "print(sorted(m for m in ('papermill', 'nbclient', 'rich', 'libcst', 'click', "
        "'jupyter_client', 'nb2pipe.verify.api') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_pytest_finds_it_by_its_entry_point() -> None:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"nb2pipe": "nb2pipe.verify.pytest_plugin"}


def test_its_defaults_are_verifys() -> None:
    assert pytest_plugin._DEFAULT_TIMEOUT == DEFAULT_TIMEOUT == VerifyOptions().timeout
    assert pytest_plugin._DEFAULT_RTOL == VerifyOptions().rtol


def test_each_notebook_is_one_item_and_only_with_nb2pipe(pytester: pytest.Pytester) -> None:
    _good(pytester.path, "a.ipynb")
    _good(pytester.path / "sub", "b.ipynb")
    _good(pytester.path / "sub" / ".ipynb_checkpoints", "b-checkpoint.ipynb")
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    collected = pytester.runpytest(*PLUGIN, "--nb2pipe", "--collect-only", "-q")
    lines = [line for line in collected.outlines if "::" in line]
    assert sorted(lines) == [
        "a.ipynb::a.ipynb",
        "sub/b.ipynb::b.ipynb",
        "test_plain.py::test_plain",
    ]
    without = pytester.runpytest(*PLUGIN, "--collect-only", "-q")
    assert [line for line in without.outlines if "::" in line] == ["test_plain.py::test_plain"]


def test_a_file_that_is_not_a_notebook_fails_as_invalid(pytester: pytest.Pytester) -> None:
    (pytester.path / "broken.ipynb").write_text("{ not json")
    result = pytester.runpytest(*PLUGIN, "--nb2pipe")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*broken.ipynb*invalid*", "FAILED broken.ipynb::broken.ipynb - invalid: *"]
    )


@pytest.mark.kernel
def test_a_notebook_that_reproduces_passes_and_one_that_differs_shows_its_cells(
    pytester: pytest.Pytester,
) -> None:
    _good(pytester.path)
    _bad(pytester.path)
    result = pytester.runpytest(*PLUGIN, "--nb2pipe", "--nb2pipe-no-script", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    # as nb2pipe verify prints it: the cell, its reason, its first line, the diff
    result.stdout.fnmatch_lines(
        [
            "*_ bad.ipynb _*",
            "*bad.ipynb  differs (3 cells compared*",
            "    cell 2 (id c1)  output-differs  stdout differs*",
            "      > print(x + 2)",
            "*-5",
            "*+4",
        ]
    )
    result.stdout.fnmatch_lines(
        ["FAILED bad.ipynb::bad.ipynb - cell 2 (id c1): output-differs: stdout differs*"]
    )
    assert "cell 3" not in result.stdout.str()  # the cell that reproduces is not listed
    assert "PASSED good.ipynb::good.ipynb" in result.stdout.str()


@pytest.mark.kernel
def test_rtol_and_timeout_options_are_verifys(pytester: pytest.Pytester) -> None:
    _write(pytester.path, "drift.ipynb", code("print(1 / 3)", stdout("0.33334\n"), count=1))
    _write(
        pytester.path,
        "slow.ipynb",
        code("import time\ntime.sleep(30)\nprint('done')", stdout("done\n"), count=1),
    )
    result = pytester.runpytest(
        *PLUGIN, "--nb2pipe", "--nb2pipe-no-script", "--nb2pipe-timeout", "2", "-rA", "-vv"
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "FAILED drift.ipynb::drift.ipynb - cell 1 (id c0): output-differs: *",
            (
                "FAILED slow.ipynb::slow.ipynb - cell 1 (id c0): timeout: the cell ran longer "
                "than the 2 s timeout*"
            ),
        ],
        consecutive=False,
    )
    tolerant = pytester.runpytest(
        *PLUGIN, "--nb2pipe", "--nb2pipe-no-script", "--nb2pipe-rtol", "1e-3", "drift.ipynb"
    )
    tolerant.assert_outcomes(passed=1)


def test_bad_option_values_are_usage_errors(pytester: pytest.Pytester) -> None:
    _good(pytester.path)
    negative = pytester.runpytest(*PLUGIN, "--nb2pipe", "--nb2pipe-rtol", "-1")
    assert negative.ret == pytest.ExitCode.USAGE_ERROR
    negative.stderr.fnmatch_lines(["*--nb2pipe-rtol*'-1' is negative*"])
    missing = pytester.runpytest(*PLUGIN, "--nb2pipe", "--nb2pipe-kernel", "no-such-kernel")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(
        ["*--nb2pipe-kernel: kernel 'no-such-kernel' is not installed; installed kernels: *"]
    )


@pytest.fixture
def custom_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A kernel named ``nb2pipe-test``: our Python, with ``NB2PIPE_TEST_KERNEL=chosen``."""
    from nb2pipe.verify import runner

    folder = tmp_path / "jupyter" / "kernels" / "nb2pipe-test"
    folder.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nb2pipe test",
        "language": "python",
        "env": {"NB2PIPE_TEST_KERNEL": "chosen"},
    }
    (folder / "kernel.json").write_text(json.dumps(spec))
    paths = [str(tmp_path / "jupyter"), os.environ.get("JUPYTER_PATH", "")]
    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join(p for p in paths if p))
    runner._kernel_specs.cache_clear()
    yield "nb2pipe-test"
    runner._kernel_specs.cache_clear()


@pytest.mark.kernel
def test_kernel_and_no_script_options_are_verifys(
    pytester: pytest.Pytester, custom_kernel: str
) -> None:
    _write(
        pytester.path,
        "which_kernel.ipynb",
        code(
            "import os\nprint(os.environ.get('NB2PIPE_TEST_KERNEL'))", stdout("chosen\n"), count=1
        ),
    )
    # the kernel's process has imported ipykernel; the exported script's has not
    _write(
        pytester.path,
        "kernel_only.ipynb",
        code("import sys\nprint('ipykernel' in sys.modules)", stdout("True\n"), count=1),
    )
    own_kernel = pytester.runpytest(*PLUGIN, "--nb2pipe", "--nb2pipe-no-script", "-rA")
    own_kernel.assert_outcomes(passed=1, failed=1)
    own_kernel.stdout.fnmatch_lines(["*-chosen", "*+None", "PASSED kernel_only.ipynb::*"])
    chosen = pytester.runpytest(*PLUGIN, "--nb2pipe", "--nb2pipe-kernel", custom_kernel, "-rA")
    chosen.assert_outcomes(passed=1, failed=1)
    chosen.stdout.fnmatch_lines(
        ["PASSED which_kernel.ipynb::*", "FAILED kernel_only.ipynb::kernel_only.ipynb - cell 1 *"]
    )
    chosen.stdout.fnmatch_lines(["*cell 1 (id c0)  script-differs*"])


@pytest.mark.kernel
def test_under_xdist_each_worker_verifies_its_notebooks(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    for index in range(3):
        _good(pytester.path, f"good_{index}.ipynb")
    _bad(pytester.path)
    result = pytester.runpytest_subprocess(
        *PLUGIN, "-p", "xdist.plugin", "--nb2pipe", "--nb2pipe-no-script", "-n", "2"
    )
    result.assert_outcomes(passed=3, failed=1)
    # the report crosses from the worker to the controller intact
    result.stdout.fnmatch_lines(
        ["    cell 2 (id c1)  output-differs  stdout differs*", "*-5", "*+4"]
    )
