"""What the flow files ``nb2pipe export --prefect`` writes call beside :mod:`engine`: cache
keys for a step's results, and the flow file's command line.

A Prefect task skips its step when the cache holds a result for the step's key. The key is
what the step's result depends on, and nothing that changes between runs for no reason
(times, run ids): a digest of the step's code (written by the export), the values of the
parameters it reads, and the SHA-256 of its inputs (the files the producing steps saved) and
of the data files it names. So a second run with nothing changed skips every step, and a
changed parameter re-runs the steps that read it and those whose inputs then change.

The key alone would trust a step's saved outputs on disk, which another run may have replaced
since (the flow with other parameters, or the script run by hand). So after a step runs, a
stamp beside its outputs records the key they were made under and their hashes; a step whose
outputs no longer match their stamp runs again, and the flow refreshes its cache entry, as
``dvc repro`` checks a stage's outputs against ``dvc.lock``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from nb2pipe_runtime.atomic import write_text_atomically
from nb2pipe_runtime.engine import POINTS, EngineError, TaskRun, run_script
from nb2pipe_runtime.outputs import MANIFEST

__all__ = ["STAMP", "CachedStep", "run_flows"]

#: The file beside a step's saved outputs naming the cache key they were made under.
STAMP = ".nb2pipe-cache.json"


@dataclass(frozen=True)
class CachedStep:
    """A step (or, with ``step=None``, the whole script) as an orchestrator's cache sees it."""

    #: the step's name (``--step NAME``); ``None``: the whole script
    step: str | None
    #: a digest of the code the step runs (its cells and the notebook's module-level code)
    code: str
    #: the parameters the step reads
    reads: tuple[str, ...] = ()
    #: the steps whose saved outputs it reads
    inputs_from: tuple[str, ...] = ()
    #: it saves outputs for later steps (for the whole script: it is a pipeline of steps)
    saves: bool = False
    #: files its code names, relative to the script's folder
    data_files: tuple[str, ...] = ()
    #: parameters whose value names a data file
    data_params: tuple[str, ...] = ()

    def key(self, script: str, params: dict[str, Any], outputs: str | None) -> str:
        """The step's cache key for ``params``, with the inputs and data now on disk."""
        folder = os.path.dirname(os.path.abspath(script))
        inputs = {
            name: _hashes(_join(outputs, name)) for name in self.inputs_from
        } if outputs is not None else {}
        data = {path: _file_digest(os.path.join(folder, path)) for path in self.data_files}
        for name in self.data_params:
            value = params.get(name)
            if isinstance(value, str) and value:
                data[value] = _file_digest(os.path.join(folder, value))
        facts = {
            # where the outputs are kept: another checkout of the project has its own
            "store": outputs if outputs is None or "://" in outputs else os.path.abspath(outputs),
            "script": os.path.basename(script),
            "step": self.step,
            "code": self.code,
            "params": {name: params.get(name) for name in self.reads},
            "inputs": inputs,
            "data": data,
        }
        text = json.dumps(facts, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def current(self, script: str, params: dict[str, Any], outputs: str | None) -> bool:
        """Whether the step's saved outputs are the ones made under its key for ``params``
        (a step that saves none always is): if not, it must run even on a cache hit."""
        if self.step is None or not self.saves or outputs is None:
            return True
        location = _join(outputs, self.step)
        stamp = _read_json(_join(location, STAMP))
        if not isinstance(stamp, dict) or stamp.get("key") != self.key(script, params, outputs):
            return False
        return bool(stamp.get("files") == _hashes(location) and _data_unchanged(script, location))

    def run(
        self, script: str, params: dict[str, Any], outputs: str | None, runs_dir: str | None
    ) -> TaskRun:
        """Run the step (or the whole script) and stamp the outputs it saved.

        The whole script saves its steps' outputs in a folder of its own under the store, so
        the points of a sweep, running side by side, do not overwrite each other's.

        Raises
        ------
        EngineError
            The script failed.
        """
        if self.step is None:
            where = None
            if self.saves and outputs is not None:
                where = _join(outputs, f"{POINTS}/{self.key(script, params, outputs)[:16]}")
            return run_script(script, params, outputs=where, runs_dir=runs_dir)
        key = self.key(script, params, outputs)
        try:
            run = run_script(
                script, params, step=self.step, inputs_from=self.inputs_from, outputs=outputs,
                runs_dir=runs_dir,
            )
        except EngineError as exc:
            raise EngineError(f"step {self.step}: {exc}") from None
        if self.saves and outputs is not None:
            location = _join(outputs, self.step)
            stamp = {"key": key, "files": _hashes(location)}
            _write_text(_join(location, STAMP), json.dumps(stamp, indent=1, sort_keys=True))
        return run


# -- the flow file's command line ---------------------------------------------------------------
def run_flows(
    script: str,
    pipeline: Callable[..., Any],
    sweep: Callable[..., Any],
    argv: Sequence[str] | None = None,
) -> int:
    """``python <stem>_flow.py [--grid JSON] [--config FILE] [--PARAM VALUE]...``.

    The parameters are the script's own options, read by the script itself
    (``--dump-config``), so they are checked as a run of the script checks them. Without
    ``--grid`` the pipeline flow runs with them; with it, the sweep flow runs over the grid's
    points on top of them. Bad input is one line and exit status 2; a failed flow, exit 1.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    prog = os.path.basename(sys.argv[0]) if argv is None else "flow"
    try:
        grid, rest = _take_grid(arguments)
        if any(argument in ("-h", "--help") for argument in rest):
            print(_usage(prog, script))
            return 0
        # no options: the flows' own defaults, the notebook's (no need to ask the script)
        params = _script_params(script, rest) if rest else {}
    except EngineError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    try:
        if grid is None:
            runs = pipeline(**params)
            for name, run in runs.items():
                metrics = ", ".join(f"{key} {value:.6g}" for key, value in run["metrics"].items())
                print(f"{name}: run {run['run_id']} {run['status']}"
                      + (f"; {metrics}" if metrics else ""))
        else:
            sweep(grid=grid, params=params)
    except Exception as exc:  # noqa: BLE001 - Prefect has logged the traceback; one line here
        print(f"{prog}: error: {' '.join(str(exc).split()) or type(exc).__name__}",
              file=sys.stderr)
        return 1
    return 0


def _take_grid(arguments: list[str]) -> tuple[dict[str, Any] | None, list[str]]:
    """``--grid JSON`` out of the arguments (checked), and the rest.

    Raises
    ------
    EngineError
        The grid is missing its value, is not JSON, or is not a mapping of names to values.
    """
    rest: list[str] = []
    text: str | None = None
    position = 0
    while position < len(arguments):
        argument = arguments[position]
        if argument == "--grid":
            if position + 1 >= len(arguments):
                raise EngineError("argument --grid: expected a JSON object")
            text = arguments[position + 1]
            position += 2
            continue
        if argument.startswith("--grid="):
            text = argument.split("=", 1)[1]
        else:
            rest.append(argument)
        position += 1
    if text is None:
        return None, rest
    try:
        grid = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EngineError(f"argument --grid: not JSON ({exc.msg}): {text}") from None
    if not isinstance(grid, dict) or not grid:
        raise EngineError('argument --grid: expected parameter names to values: {"C": [0.1, 1]}')
    return grid, rest


def _script_params(script: str, arguments: list[str]) -> dict[str, Any]:
    """The parameters ``arguments`` give, as the script reads them (``--dump-config``).

    Raises
    ------
    EngineError
        The script refused them (its one-line error).
    """
    done = subprocess.run(
        [sys.executable, os.path.abspath(script), *arguments, "--dump-config"],
        cwd=os.path.dirname(os.path.abspath(script)), capture_output=True, text=True,
        check=False, stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        name = os.path.basename(script)
        message = lines[-1] if lines else f"{name} exited with {done.returncode}"
        # the script's own error, told as the flow file's: ``prog: error: ... (see --help)``
        message = message.removeprefix(f"{name}: error: ")
        if message.endswith(" (see --help)"):
            message = message.removesuffix(" (see --help)") + f" (see python {name} --help)"
        raise EngineError(message)
    try:
        import yaml  # type: ignore[import-untyped]
    except ModuleNotFoundError:
        raise EngineError("reading the parameters needs PyYAML (pip install pyyaml)") from None
    values = yaml.safe_load(done.stdout) if done.stdout.strip() else {}
    if not isinstance(values, dict):
        raise EngineError(f"{script} --dump-config printed no parameters")
    return {str(name): value for name, value in values.items()}


def _usage(prog: str, script: str) -> str:
    name = os.path.basename(script)
    return (
        f"usage: {prog} [--grid JSON] [--config FILE] [--PARAM VALUE]...\n\n"
        f"Run the pipeline flow of {name} here: on Prefect's ephemeral API, or on the\n"
        "server PREFECT_API_URL names. With --grid '{\"NAME\": [VALUE, ...]}', run the sweep\n"
        "flow over the grid instead and report the best point. The parameters are the\n"
        f"script's own options: `python {name} --help` lists them."
    )


# -- hashes of the store's files ----------------------------------------------------------------
def _join(location: str, name: str) -> str:
    return f"{location.rstrip('/')}/{name}" if "://" in location else os.path.join(location, name)


def _digest(file: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: file.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def _file_digest(path: str) -> str | None:
    """A data file's SHA-256, a folder's files' (by relative path), ``None`` when missing."""
    if os.path.isdir(path):
        return hashlib.sha256(
            json.dumps(_hashes(path), sort_keys=True).encode()
        ).hexdigest()
    try:
        with open(path, "rb") as file:
            return _digest(file)
    except OSError:
        return None


def _hashes(location: str) -> dict[str, str]:
    """The SHA-256 of each file a step saved (by relative path), without the manifest and the
    stamp: a manifest names the run that saved it, which changes with every run."""
    found: dict[str, str] = {}
    for relative, opened in _files(location):
        if relative not in (MANIFEST, STAMP):
            with opened() as file:
                found[relative] = _digest(file)
    return dict(sorted(found.items()))


def _files(location: str) -> Iterator[tuple[str, Callable[[], IO[bytes]]]]:
    """The files under a folder or an fsspec URL: relative path, and how to open it."""
    if "://" in location:
        filesystem, root = _filesystem(location)
        if not filesystem.exists(root):
            return
        for path in sorted(filesystem.find(root)):
            relative = str(path)[len(str(root)):].lstrip("/")
            yield relative, functools.partial(filesystem.open, path, "rb")
        return
    for folder, _dirs, names in sorted(os.walk(location)):
        for name in sorted(names):
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, location).replace(os.sep, "/")
            yield relative, _opener(path)


def _opener(path: str) -> Callable[[], IO[bytes]]:
    def opened() -> IO[bytes]:
        return open(path, "rb")  # the caller closes it

    return opened


def _read_json(location: str) -> Any:
    try:
        if "://" in location:
            filesystem, path = _filesystem(location)
            with filesystem.open(path, "r", encoding="utf-8") as file:
                return json.load(file)
        with open(location, encoding="utf-8") as file:
            return json.load(file)
    except (OSError, ValueError):
        return None


def _write_text(location: str, text: str) -> None:
    if "://" in location:
        filesystem, path = _filesystem(location)
        with filesystem.open(path, "w", encoding="utf-8") as file:
            file.write(text)
        return
    write_text_atomically(location, text)


def _data_unchanged(script: str, location: str) -> bool:
    """Whether the data files the step's saved outputs were computed from (the manifest's
    ``data``, as the run read them) are unchanged on disk: a file the step's code does not
    name (a path it builds) reaches the key only this way."""
    manifest = _read_json(_join(location, MANIFEST))
    data = manifest.get("data") if isinstance(manifest, dict) else None
    if not isinstance(data, dict):
        return True
    folder = os.path.dirname(os.path.abspath(script))
    for path, digest in data.items():
        local = os.path.join(folder, str(path))
        if "://" not in str(path) and os.path.isfile(local) and _file_digest(local) != digest:
            return False
    return True


def _filesystem(location: str) -> tuple[Any, str]:
    try:
        import fsspec  # type: ignore[import-untyped]
    except ModuleNotFoundError:
        raise EngineError(f"a step store at {location} needs fsspec (pip install fsspec)") from None
    filesystem, path = fsspec.core.url_to_fs(location)
    return filesystem, str(path)
