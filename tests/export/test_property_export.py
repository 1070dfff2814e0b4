"""Property: an exported script prints exactly what running its notebook's cells in order prints.

The notebooks come from :mod:`tests.export.property_programs` (scoping constructs cut into
cells at random, a ``parameters`` cell read everywhere). Each one is written with nbformat,
exported with :func:`nb2pipe.export.export_notebook`, and its script run twice with
``sys.executable``: with the notebook's defaults, and with every parameter given on the
command line (against the cells run with papermill's injected cell of those values).

Running: ``pytest tests/export/test_property_export.py`` runs the ``ci`` profile (300
examples of up to 12 blocks, derandomized, no example database: the same examples on
every machine).
``NB2PIPE_PROPERTY_PROFILE=thorough`` runs 5,000 random examples of up to 20 blocks
(``NB2PIPE_PROPERTY_EXAMPLES`` sets another count); see bench/README.md for timings.

Differences by design, which the generated programs avoid (a note in property_programs):
``from m import *`` runs once at module level (it is legal only there), so one re-run after
the notebook rebound and deleted a name it bound binds nothing in the script; a ``def`` or
``class`` kept in ``main`` is named ``main.<locals>.X`` (its ``__qualname__``: a dataclass's
repr shows it, and pickle cannot find such a class or function).

Scripts run in a *fork server*: one ``sys.executable`` process that imports the runtime once
and forks a child per script run (``runpy`` with ``__name__ == "__main__"``, the script's
argv, folder and ``sys.path[0]``), so an example costs milliseconds, not an interpreter start.
The server looks up ``importlib.metadata.packages_distributions()`` once for all of them (the
run record asks at the end of each run; it costs a third of a second in a big environment).
Without ``os.fork`` each script runs as its own ``sys.executable`` subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from nb2pipe.errors import Nb2PipeError
from nb2pipe.export import export_notebook

from .property_programs import CLASHING, PARAMETER_NAMES, Program, programs, run_cells

settings.register_profile(
    "ci", max_examples=300, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "thorough", max_examples=int(os.environ.get("NB2PIPE_PROPERTY_EXAMPLES", "5000")),
    # failures are kept for the next thorough run, outside the checkout
    database=DirectoryBasedExampleDatabase(
        Path(tempfile.gettempdir()) / "nb2pipe-property-examples"
    ),
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
PROFILE = os.environ.get("NB2PIPE_PROPERTY_PROFILE", "ci")

#: What the fork server runs: one request (a JSON line) per script run, one JSON line back.
_SERVER = r"""
import json, os, runpy, sys, traceback
import importlib.metadata, nb2pipe_runtime, nb2pipe_runtime.cli, argparse, asyncio, contextlib, math
# the run record looks up which distributions the imported modules come from (a third of a
# second in a big environment, at the end of every run): once, for all the children
_distributions = importlib.metadata.packages_distributions()
importlib.metadata.packages_distributions = lambda: _distributions
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(out, 1)
            os.dup2(err, 2)
            os.chdir(request["cwd"])
            sys.argv = [request["script"], *request["args"]]
            sys.path[0] = os.path.dirname(request["script"])
            code = 0
            try:
                runpy.run_path(request["script"], run_name="__main__")
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(locals().get("code", 70))
    _, status = os.waitpid(pid, 0)
    print(json.dumps(os.waitstatus_to_exitcode(status)), flush=True)
"""


class ScriptRunner:
    """Runs scripts as ``python script.py ARGS`` would, in forked children of one server."""

    def __init__(self) -> None:
        self._server: subprocess.Popen[str] | None = None
        if hasattr(os, "fork"):
            self._server = subprocess.Popen(
                [sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                text=True, env={**os.environ, "PYTHONHASHSEED": "0"},
            )

    def run(self, script: Path, args: list[str]) -> tuple[int, str, str]:
        if self._server is None:
            result = subprocess.run(
                [sys.executable, str(script), *args], check=False, cwd=script.parent,
                capture_output=True, text=True, timeout=60,
            )
            return result.returncode, result.stdout, result.stderr
        out, err = script.with_suffix(".out"), script.with_suffix(".err")
        request = {"script": str(script), "args": args, "cwd": str(script.parent),
                   "stdout": str(out), "stderr": str(err)}
        assert self._server.stdin is not None and self._server.stdout is not None
        self._server.stdin.write(json.dumps(request) + "\n")
        self._server.stdin.flush()
        code = json.loads(self._server.stdout.readline())
        return code, out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8")

    def close(self) -> None:
        if self._server is not None:
            assert self._server.stdin is not None
            self._server.stdin.close()
            self._server.wait(timeout=30)


@pytest.fixture(scope="module")
def runner() -> Iterator[ScriptRunner]:
    runner = ScriptRunner()
    yield runner
    runner.close()


def write_notebook(program: Program, folder: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3", "language": "python", "display_name": "Python 3",
    }
    for index, source in enumerate(program.cells):
        cell = nbformat.v4.new_code_cell(source)
        if index == program.parameters_index:
            cell.metadata["tags"] = ["parameters"]
        notebook.cells.append(cell)
    path = folder / "generated.ipynb"
    nbformat.write(notebook, path)
    return path


def refusal_allowed(program: Program, error: Nb2PipeError) -> bool:
    """What export refuses by design, with a one-line error: a parameter named like one of
    the script's own options (``--experiment``: the command line could not tell them apart)."""
    clashing = CLASHING & set(program.defaults)
    return bool(clashing) and all(f"parameter {name!r} clashes" in str(error) for name in clashing)


#: What the statistics count (``--hypothesis-show-statistics``): constructs by a telling text.
_CONSTRUCTS = {
    "global": "global ", "nonlocal": "nonlocal ", "class": "class ", "await": "await ",
    "match": "match ", "del": "del ", "with": "with ", "walrus": ":=", "star import": "import *",
    "annotated parameters": "  # the ", "';' (rewritten cell)": ");\n",
}


def check_program(program: Program, runner: ScriptRunner) -> None:
    expected_defaults = run_cells(program, overrides=False)
    expected_overrides = run_cells(program, overrides=True)
    with tempfile.TemporaryDirectory(prefix="nb2pipe-property-") as folder:
        notebook = write_notebook(program, Path(folder))
        try:
            script = export_notebook(notebook).script_path
        except Nb2PipeError as error:
            assert refusal_allowed(program, error), f"export refused: {error}"
            assert "\n" not in str(error)
            event("export refused (a parameter clashes with an option)")
            return
        if set(program.defaults) != set(PARAMETER_NAMES):
            event("a parameter named like a script name or builtin")
        source = "\n".join(program.cells) + "\n"
        for construct, marker in _CONSTRUCTS.items():
            if marker in source:
                event(construct)
        runs = ["--runs-dir", str(Path(folder) / "runs")]
        code, stdout, stderr = runner.run(script, runs)
        assert code == 0, stderr + "\n" + script.read_text(encoding="utf-8")
        assert stdout == expected_defaults, script.read_text(encoding="utf-8")
        code, stdout, stderr = runner.run(script, [*program.argv(), *runs])
        assert code == 0, stderr + "\n" + script.read_text(encoding="utf-8")
        assert stdout == expected_overrides, script.read_text(encoding="utf-8")


@settings(settings.get_profile(PROFILE))
@given(program=programs(max_blocks=12 if PROFILE == "ci" else 20))
def test_script_prints_what_the_cells_print(program: Program, runner: ScriptRunner) -> None:
    check_program(program, runner)
