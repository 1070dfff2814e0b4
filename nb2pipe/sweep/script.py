"""Check a sweep's points with the script's own parser, before anything runs.

One child process of the script's Python imports the script (importing an exported script
runs no notebook work) and, for each point, calls its ``parse_params`` with ``--config
<point> --dump-config``: the values are typed and checked exactly as a run of the script
would check them, and a bad one is the script's own one-line error.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb2pipe.errors import Nb2PipeError
from nb2pipe.sweep.space import Choice, SweepSpace

__all__ = ["CheckedPoints", "check_points", "first_metric", "type_space"]


class _PointError(Nb2PipeError):
    """A point the script's parser refused: which one (1-based) and why."""

    def __init__(self, number: int, point: dict[str, Any], reason: str) -> None:
        shown = ", ".join(f"{name}={value}" for name, value in point.items())
        super().__init__(f"sweep point {number} ({shown}): {reason}")
        self.number = number
        self.reason = reason

# Runs in the script's interpreter: argv = script, points file. An exported script's
# ``parse_params`` needs only the script's own imports (argparse, json, pathlib, datetime and
# nb2pipe-runtime): those and the function are run alone, so checking the points does not
# import the notebook's libraries. A script without the runtime import (--standalone) is
# imported whole.
_DRIVER = r"""
import ast, contextlib, io, json, os, runpy, sys, tempfile
script, points_file = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
source = open(script, encoding="utf-8").read()
tree = ast.parse(source)
OWN = {"argparse", "json", "pathlib", "datetime", "sys"}
def own_import(node):
    return isinstance(node, ast.Import) and all(a.name in OWN and a.asname is None for a in node.names)
def runtime_import(node):
    return isinstance(node, ast.Try) and any(
        isinstance(inner, ast.ImportFrom) and inner.module == "nb2pipe_runtime" for inner in node.body)
def parser_function(node):
    return isinstance(node, ast.FunctionDef) and node.name.startswith("parse_params")
if any(runtime_import(node) for node in tree.body):
    kept = [n for n in tree.body if own_import(n) or runtime_import(n) or parser_function(n)]
    namespace = {"__name__": "__nb2pipe_sweep__", "__file__": script}
    exec(compile(ast.Module(body=kept, type_ignores=[]), script, "exec"), namespace)
else:
    namespace = runpy.run_path(script, run_name="__nb2pipe_sweep__")
parse = next((namespace[name] for name in ("parse_params", "parse_params_", "parse_params__")
              if callable(namespace.get(name))), None)
if parse is None:
    print(json.dumps({"error": "not a script nb2pipe exported (no parse_params)"}))
    raise SystemExit(0)

def dump(argv):
    out, err, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            parse(argv + ["--dump-config"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}

results = {"defaults": dump([]), "points": []}
for point in json.load(open(points_file, encoding="utf-8")):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(point, file)
    try:
        results["points"].append(dump(["--config", file.name]))
    finally:
        os.unlink(file.name)
print(json.dumps(results))
"""


@dataclass(frozen=True)
class CheckedPoints:
    """The script's parameters with their defaults, and each point's effective values."""

    defaults: dict[str, Any]
    #: per point, every parameter's value as the script reads it
    effective: tuple[dict[str, Any], ...]


def check_points(script: Path, python: str, points: list[dict[str, Any]]) -> CheckedPoints:
    """Type and check ``points`` with ``script``'s parser (see the module docstring).

    Raises
    ------
    Nb2PipeError
        The script cannot be imported, has no parameters, a point names an unknown parameter,
        or a value is bad: one line naming the point.
    """
    with tempfile.TemporaryDirectory(prefix="nb2pipe-sweep-") as scratch:
        points_file = Path(scratch) / "points.json"
        points_file.write_text(json.dumps(points), encoding="utf-8")
        done = subprocess.run(
            [python, "-c", _DRIVER, str(script), str(points_file)],
            cwd=script.parent, capture_output=True, text=True, timeout=600, check=False,
            stdin=subprocess.DEVNULL,
        )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["it failed"])[-1]
        raise Nb2PipeError(f"{script}: cannot import the script: {last}")
    try:
        results = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise Nb2PipeError(f"{script}: the script printed while it was imported") from None
    if "error" in results:
        raise Nb2PipeError(f"{script}: {results['error']}")
    defaults = _values(results["defaults"])
    if not defaults:
        raise Nb2PipeError(f"{script}: the script has no parameters to sweep")
    known = ", ".join(defaults)
    for point in points:
        for name in point:
            if name not in defaults:
                raise Nb2PipeError(f"{name}: not a parameter of {script.name}; known: {known}")
    effective = []
    for number, (point, result) in enumerate(zip(points, results["points"]), 1):
        if result["code"] != 0:
            raise _PointError(number, point, _reason(result["stderr"]))
        effective.append(_values(result))
    return CheckedPoints(defaults, tuple(effective))


def _values(result: dict[str, Any]) -> dict[str, Any]:
    """``--dump-config``'s YAML lines (``name: <JSON or YAML flow value>``) as values."""
    import yaml  # type: ignore[import-untyped]

    if result["code"] != 0:
        raise Nb2PipeError(f"the script's parameters cannot be read: {_reason(result['stderr'])}")
    loaded = yaml.safe_load(result["stdout"]) or {}
    return dict(loaded) if isinstance(loaded, dict) else {}


def _reason(stderr: str) -> str:
    """argparse's error line, without its prefix and the temporary config file's name."""
    line = (stderr.strip().splitlines() or ["rejected"])[-1]
    _, found, message = line.partition("error: ")
    message = message if found else line
    message = message.removesuffix(" (see --help)")  # the script's advice, not the sweep's
    if message.startswith("--config ") and ": " in message:
        message = message.split(": ", 1)[1]  # the point's temporary file means nothing to the user
    return message


def type_space(script: Path, python: str, space: SweepSpace) -> tuple[SweepSpace, dict[str, Any]]:
    """``space`` with its values as the script reads them, and the script's defaults.

    Each listed value, and each range's ends, is checked alone (the other parameters at their
    defaults) by the script's parser: a bad value is refused before anything runs, and a
    range of floats on an integer parameter too.

    Raises
    ------
    Nb2PipeError
        As :func:`check_points`, the message naming the value (``sweep value x=two: ...``).
    """
    probes: list[tuple[str, Any]] = []
    for name, dimension in space.items():
        if isinstance(dimension, Choice):
            probes += [(name, value) for value in dimension.values]
        else:
            ends = (dimension.low, dimension.high)
            if dimension.kind == "int_uniform":
                ends = (int(dimension.low), int(dimension.high))
            probes += [(name, end) for end in ends]
    try:
        checked = check_points(script, python, [{name: value} for name, value in probes])
    except _PointError as exc:
        name, value = probes[exc.number - 1]
        reason = exc.reason.removeprefix(f"{name}: ")
        raise Nb2PipeError(f"sweep value {name}={_shown(value)}: {reason}") from None
    typed: SweepSpace = {}
    for (name, _value), effective in zip(probes, checked.effective):
        dimension = space[name]
        if isinstance(dimension, Choice):
            found = typed.setdefault(name, Choice(()))
            assert isinstance(found, Choice)
            if effective[name] not in found.values:
                typed[name] = Choice((*found.values, effective[name]))
        else:
            typed[name] = dimension
    return typed, dict(checked.defaults)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def first_metric(script: Path) -> str | None:
    """The first metric the script's metrics cell records (``record_metrics(accuracy=...)``'s
    first keyword): what a sweep without ``--metric`` ranks by."""
    from nb2pipe.analysis.calls import first_keyword

    try:
        source = script.read_text(encoding="utf-8")
    except OSError:
        return None
    return first_keyword(source, "record_metrics")
