# mypy: ignore-errors
# (the code below the marker is copied into scripts as it is: no annotations, no typing import)
"""The run records and step-output storage that exported pipeline scripts carry.

This module is real, tested Python, and the exporter copies the code below the marker line
verbatim into every script with ``step:`` cells (into ``shared.py`` for ``--dvc``), so a
pipeline runs with only the notebook's own dependencies: pandas, numpy, joblib, pyarrow and
mlflow are used when a value or the environment calls for them, never required. The copied
code imports what it uses locally (no notebook name can shadow it) and defines only the
names in :data:`RUNTIME_NAMES`, which the exporter keeps free of clashes.

A run (:class:`RunRecorder`) writes ``runs/<run id>/run.json``: parameters, metrics (what
``metrics`` cells assign, through :func:`record_metrics`), the SHA-256 of every data file the
run opened for reading (seen by an audit hook on ``open`` events; files under the Python
installation, site-packages, temp and hidden folders, files the run wrote, and the
``--config`` file are left out), git commit and dirty flag, Python and package versions,
start, end, status and error, the step of a ``--step`` run; and its artifacts (figures,
saved models). With ``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` and mlflow importable, the
same goes to MLflow.
"""

from __future__ import annotations

#: The module-level names the copied runtime defines (exports must not clash with them).
RUNTIME_NAMES = frozenset(
    {"RunRecorder", "record_metrics", "_ACTIVE_RUNS", "_SavedOutput", "_run_audit",
     "_save_output", "_load_output", "_is_json_value", "_sha256_of", "_help_formatter"}
)
# --- nb2pipe runtime: copied into exported scripts below this line ---
_ACTIVE_RUNS = []  # the RunRecorder running now (a list: no `global` statement needed)


def _help_formatter(prog):
    """``--help`` with each parameter's default, as the user would type it back: JSON for
    lists and dicts; none for the script's own switches that are off or unset."""
    import argparse
    import json

    class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
        def _get_help_string(self, action):
            text = action.help or ""
            default = action.default
            if "%(default)" in text or default is argparse.SUPPRESS:
                return text
            if action.dest in ("config", "dump_config", "tracking_uri", "metrics_file"):
                return text
            if isinstance(default, (list, tuple, dict)):
                try:
                    shown = json.dumps(default)
                except (TypeError, ValueError):
                    shown = repr(default)
                return text + " (default: " + shown.replace("%", "%%") + ")"
            return super()._get_help_string(action)

    return HelpFormatter(prog)


def record_metrics(**values):
    """Record the numbers a ``metrics`` cell assigned as metrics of the running pipeline."""
    if _ACTIVE_RUNS:
        _ACTIVE_RUNS[-1].add_metrics(values)


def _run_audit(event, args):
    # Installed once, never removable (sys.addaudithook): returns at once unless a run is on.
    if event == "open" and _ACTIVE_RUNS:
        try:
            _ACTIVE_RUNS[-1].saw_open(*args)
        except Exception:  # must never break the user's open()
            pass


class _SavedOutput:
    """An output of a step that did not run in this process: loaded from disk when needed."""

    def __init__(self, step, name):
        self.step = step
        self.name = name

    def __repr__(self):
        return f"<output {self.name!r} of step {self.step!r}, saved on disk>"


def _sha256_of(path):
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_json_value(value):
    """Whether ``value`` survives a JSON round trip with its exact types."""
    import math

    if value is None or type(value) in (bool, int, str):
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is list:
        return all(_is_json_value(item) for item in value)
    if type(value) is dict:
        return all(type(key) is str and _is_json_value(item) for key, item in value.items())
    return False


def _save_output(directory, name, value):
    """Save one step output by its type; return its manifest entry (and a warning or None).

    Frames and series: parquet (pickle without pyarrow/fastparquet or for what parquet cannot
    hold); numpy arrays: ``.npy``; estimators (``fit`` + ``get_params``): joblib; plain JSON
    values: JSON; anything else: pickle, with a warning.
    """
    import json
    import os
    import pickle

    kind = type(value)
    module = kind.__module__.split(".", 1)[0]
    entry = {"type": f"{kind.__module__}.{kind.__qualname__}"}
    base = os.path.join(directory, name)
    if module == "pandas" and kind.__name__ in ("DataFrame", "Series"):
        try:
            if kind.__name__ == "Series":
                if not _is_json_value(value.name):
                    raise TypeError("series name")
                value.to_frame(name="series").to_parquet(base + ".parquet")
                entry["series_name"] = value.name
            else:
                value.to_parquet(base + ".parquet")
            entry.update(file=name + ".parquet", format="parquet")
            # parquet must give the value back exactly (column names, index, dtypes)
            import pandas.testing

            loaded = _load_output(directory, name, entry)
            if kind.__name__ == "Series":
                pandas.testing.assert_series_equal(loaded, value, check_exact=True)
            else:
                pandas.testing.assert_frame_equal(loaded, value, check_exact=True)
            return entry, None
        except Exception:  # no parquet engine, or a value parquet does not hold exactly
            entry.pop("series_name", None)
            if os.path.exists(base + ".parquet"):
                os.remove(base + ".parquet")
        with open(base + ".pkl", "wb") as file:
            pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
        entry.update(file=name + ".pkl", format="pickle")
        return entry, None
    if module == "numpy" and kind.__name__ == "ndarray" and not value.dtype.hasobject:
        import numpy

        with open(base + ".npy", "wb") as file:
            numpy.save(file, value, allow_pickle=False)
        entry.update(file=name + ".npy", format="npy")
        return entry, None
    if callable(getattr(value, "fit", None)) and callable(getattr(value, "get_params", None)):
        try:
            import joblib
        except ModuleNotFoundError:
            joblib = None
        if joblib is not None:
            joblib.dump(value, base + ".joblib")
            entry.update(file=name + ".joblib", format="joblib", model=True)
            return entry, None
    if _is_json_value(value):
        with open(base + ".json", "w", encoding="utf-8") as file:
            json.dump(value, file, sort_keys=True)
        entry.update(file=name + ".json", format="json")
        return entry, None
    with open(base + ".pkl", "wb") as file:
        pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
    entry.update(file=name + ".pkl", format="pickle")
    warning = None
    if module not in ("numpy", "builtins") or kind in (list, dict, tuple, set):
        warning = (
            f"output {name!r} ({entry['type']}) was saved with pickle: loading it needs the "
            "same library versions"
        )
    return entry, warning


def _load_output(directory, name, entry):
    import json
    import os
    import pickle

    path = os.path.join(directory, entry["file"])
    kind = entry["format"]
    if kind == "parquet":
        import pandas

        frame = pandas.read_parquet(path)
        if "series_name" in entry:
            series = frame["series"]
            series.name = entry["series_name"]
            return series
        return frame
    if kind == "npy":
        import numpy

        return numpy.load(path, allow_pickle=False)
    if kind == "joblib":
        import joblib

        return joblib.load(path)
    if kind == "json":
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    with open(path, "rb") as file:
        return pickle.load(file)  # the pipeline's own output


class RunRecorder:
    """One run of the pipeline: runs its steps, saves their outputs and records the run.

    ``with RunRecorder(params, script) as run:`` starts the record; ``run.step(...)``
    runs a step (or, when ``--step`` names another one, stands in for its outputs); leaving
    the block writes ``runs/<run id>/run.json`` (also for a failed run, which re-raises).
    """

    #: options of the script itself, not parameters of the notebook
    RUNNER_OPTIONS = ("config", "dump_config", "step", "outputs_dir", "runs_dir", "tracking_uri",
                      "metrics_file")

    def __init__(self, params, script, notebook=None):
        import os

        self.params = params
        self.parameter_names = tuple(
            name for name in vars(params) if name not in self.RUNNER_OPTIONS
        )
        self.script = script
        self.notebook = notebook
        self.selected = getattr(params, "step", None)
        # absolute now: the notebook's code may change the working directory
        self.outputs_dir = os.path.abspath(getattr(params, "outputs_dir", None) or "outputs")
        self.tracking_uri = getattr(params, "tracking_uri", None) or os.environ.get(
            "MLFLOW_TRACKING_URI"
        )
        self.metrics_file = getattr(params, "metrics_file", None)
        if self.metrics_file:
            self.metrics_file = os.path.abspath(self.metrics_file)
        self.config_file = getattr(params, "config", None)
        if self.config_file is not None:
            self.config_file = os.path.abspath(os.fspath(self.config_file))
        self.metrics = {}
        self.warnings = []
        self.steps = []
        self.outputs = {}
        self.reads = {}
        self.writes = set()
        self.not_data = set()  # read by the runtime itself
        self.run_id = None
        self.run_dir = None
        self.cwd = os.getcwd()
        self.runs_dir = self._runs_dir(getattr(params, "runs_dir", None) or "runs")

    # -- the run -----------------------------------------------------------------------------
    def __enter__(self):
        import datetime
        import os
        import secrets
        import sys
        import time

        self.started = time.time()
        stamp = datetime.datetime.fromtimestamp(self.started).strftime("%Y%m%d-%H%M%S")
        self.run_id = f"{stamp}-{secrets.token_hex(3)}"
        self.run_dir = os.path.join(self.runs_dir, self.run_id)
        os.makedirs(os.path.join(self.run_dir, "artifacts"), exist_ok=True)
        if not getattr(_run_audit, "installed", False):
            sys.addaudithook(_run_audit)  # once per copy of this runtime; it cannot be removed
            _run_audit.installed = True
        self._excluded = self._excluded_prefixes()
        _ACTIVE_RUNS.append(self)
        return self

    def __exit__(self, exc_type, exc, traceback):
        import time

        if _ACTIVE_RUNS and _ACTIVE_RUNS[-1] is self:
            _ACTIVE_RUNS.pop()
        self.ended = time.time()
        failed = exc_type is not None and not (
            issubclass(exc_type, SystemExit) and exc.code in (None, 0)
        )
        error = None
        if failed:
            if issubclass(exc_type, SystemExit):
                error = str(exc.code)
            else:
                error = f"{exc_type.__name__}: {exc}"
        try:
            self._finish("failed" if failed else "finished", error, exc if failed else None)
        except Exception as problem:  # recording must not hide the run's result
            import sys

            print(f"nb2pipe: could not record the run: {problem!r}", file=sys.stderr)
        return False

    def step(self, name, function, params, *inputs, outputs=(), setup=False):
        """Run step ``name`` as ``function(params, *inputs)`` and save its ``outputs``.

        When ``--step`` selects another step, return stand-ins for the outputs instead (the
        selected step loads them from ``--outputs-dir``); ``setup`` steps (a ``prepare`` step
        without outputs) always run.
        """
        import time

        if self.selected is not None and name != self.selected and not setup:
            stand_ins = tuple(_SavedOutput(name, output) for output in outputs)
            return stand_ins[0] if len(stand_ins) == 1 else (stand_ins or None)
        values = [self._resolve(value, name) for value in inputs]
        started = time.time()
        result = function(params, *values)
        self.steps.append({"name": name, "seconds": round(time.time() - started, 3)})
        if outputs:
            results = (result,) if len(outputs) == 1 else tuple(result)
            self._save_outputs(name, dict(zip(outputs, results)))
        return result

    def artifact_dir(self, name):
        """A folder of this run's artifacts (created): figures, models, ..."""
        import os

        path = os.path.join(self.run_dir, "artifacts", name)
        os.makedirs(path, exist_ok=True)
        return path

    def add_metrics(self, values):
        import math
        import numbers

        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                continue  # metrics are numbers; other values a metrics cell assigns are not
            value = float(value)
            if not math.isfinite(value):
                self.warnings.append(f"metric {key!r} is {value}; not recorded")
                continue
            self.metrics[key] = value

    # -- file accesses (called by the audit hook) --------------------------------------------
    def saw_open(self, path, mode, flags):
        import os

        if path is None or isinstance(path, int):
            return
        path = os.path.abspath(os.fsdecode(path))
        if mode is None:
            write = bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC))
        else:
            write = any(flag in mode for flag in "wax+")
        if write:
            self.writes.add(path)
        elif path not in self.reads:
            self.reads[path] = None

    def _excluded_prefixes(self):
        import os
        import site
        import sys
        import tempfile

        prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, tempfile.gettempdir()}
        try:
            prefixes.update(site.getsitepackages())
        except AttributeError:  # old virtualenvs
            pass
        prefixes.add(site.getusersitepackages() or "")
        prefixes.update({"/dev", "/proc", "/sys", "/usr", "/lib", "/etc", "/tmp", "/var/tmp"})
        return tuple(sorted(os.path.join(os.path.abspath(p), "") for p in prefixes if p))

    def _is_data_file(self, path):
        import os

        if path in self.writes or path in self.not_data or path.endswith((".pyc", ".pyo")):
            return False
        if not os.path.isfile(path):
            return False
        inside = os.path.join(self.cwd, "")
        for special in (self.runs_dir, self.config_file):
            if special is not None and (
                path == special or path.startswith(os.path.join(special, ""))
            ):
                return False
        if path.startswith(inside):
            parts = path[len(inside):].split(os.sep)[:-1]
            return not any(part.startswith(".") or part == "__pycache__" for part in parts)
        return not path.startswith(self._excluded) and os.sep + "." not in path

    # -- step outputs ------------------------------------------------------------------------
    def _resolve(self, value, step):
        import json
        import os

        if not isinstance(value, _SavedOutput):
            return value
        directory = os.path.join(self.outputs_dir, value.step)
        try:
            with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as file:
                entry = json.load(file)["outputs"][value.name]
        except (OSError, KeyError, ValueError):
            raise SystemExit(
                f"step {step!r} needs {value.name!r} from step {value.step!r}, which is not saved "
                f"in {directory}: run step {value.step!r} (or the whole pipeline) first"
            ) from None
        # readers such as pyarrow open files without Python's open(): no audit event
        self.saw_open(os.path.join(directory, entry["file"]), "rb", 0)
        self.not_data.add(os.path.abspath(os.path.join(directory, "manifest.json")))
        return _load_output(directory, value.name, entry)

    def _save_outputs(self, step, values):
        import json
        import os
        import shutil

        directory = os.path.join(self.outputs_dir, step)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        manifest = {}
        for name, value in values.items():
            try:
                entry, warning = _save_output(directory, name, value)
            except Exception as exc:  # e.g. a closure pickle cannot hold: the run goes on
                for leftover in os.listdir(directory):
                    if leftover.startswith(name + "."):
                        os.remove(os.path.join(directory, leftover))
                self.warnings.append(
                    f"step {step!r}: output {name!r} could not be saved ({exc!r}); "
                    "a --step run of a later step cannot load it"
                )
                continue
            manifest[name] = entry
            if warning:
                self.warnings.append(f"step {step!r}: {warning}")
        with open(os.path.join(directory, "manifest.json"), "w", encoding="utf-8") as file:
            json.dump({"step": step, "outputs": manifest}, file, indent=1, sort_keys=True)
            file.write("\n")
        self.outputs[step] = {
            name: {**entry, "path": self._relative(os.path.join(directory, entry["file"]))}
            for name, entry in manifest.items()
        }

    # -- finishing ---------------------------------------------------------------------------
    def _finish(self, status, error, exc):
        import datetime
        import os
        import shutil
        import sys
        import traceback

        for step_outputs in self.outputs.values():
            for entry in step_outputs.values():
                path = os.path.join(self.cwd, entry["path"])
                entry["sha256"] = _sha256_of(path)
                if entry.get("model"):
                    models = self.artifact_dir("models")
                    shutil.copyfile(path, os.path.join(models, os.path.basename(path)))
        # only files seen opened at run time (PRODUCT.md §3): a parameter naming a file is not
        # proof the run read it (a --step run may never touch it)
        data = {}
        inputs = {}  # saved outputs of earlier steps that a --step run loaded
        outputs_dir = os.path.join(self.outputs_dir, "")
        for path in self.reads:
            if self._is_data_file(path):
                found = inputs if path.startswith(outputs_dir) else data
                try:
                    found[self._relative(path)] = _sha256_of(path)
                except OSError:
                    pass

        def when(seconds):
            moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
            return moment.isoformat(timespec="milliseconds")

        record = {
            "run_id": self.run_id,
            "script": os.path.basename(self.script),
            "notebook": self.notebook,
            "status": status,
            "error": error,
            "traceback": (
                "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                if exc is not None and not isinstance(exc, SystemExit) else None
            ),
            "step": self.selected,
            "steps": self.steps,
            "argv": sys.argv[1:],
            "params": {name: self._plain(getattr(self.params, name, None))
                       for name in self.parameter_names},
            "metrics": dict(sorted(self.metrics.items())),
            "data": dict(sorted(data.items())),
            "inputs": dict(sorted(inputs.items())),
            "outputs": self.outputs,
            "artifacts": self._artifacts(),
            "git": self._git(),
            "python": sys.version.split()[0],
            "packages": self._packages(),
            "start": when(self.started),
            "end": when(self.ended),
            "seconds": round(self.ended - self.started, 3),
            "dvc": self._dvc(),
            "mlflow": None,
            "warnings": self.warnings,
        }
        for warning in self.warnings:
            print(f"nb2pipe: warning: {warning}", file=sys.stderr)
        self._write_json(os.path.join(self.run_dir, "run.json"), record)
        if self.metrics_file and status == "finished":
            folder = os.path.dirname(self.metrics_file)
            if folder:
                os.makedirs(folder, exist_ok=True)
            self._write_json(self.metrics_file, record["metrics"])
        if self.tracking_uri:
            record["mlflow"] = self._log_to_mlflow(record)
            self._write_json(os.path.join(self.run_dir, "run.json"), record)
        where = self._relative(os.path.join(self.run_dir, "run.json"))
        print(f"nb2pipe: run {self.run_id} {status}; recorded in {where}", file=sys.stderr)

    @staticmethod
    def _write_json(path, value):
        import json
        import os

        temporary = path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(value, file, indent=1)
            file.write("\n")
        os.replace(temporary, path)

    @staticmethod
    def _plain(value):
        import datetime
        import pathlib

        if isinstance(value, (pathlib.PurePath, datetime.date)):
            return str(value)
        if isinstance(value, tuple):
            return list(value)
        return value

    def _relative(self, path):
        import os

        path = os.path.abspath(path)
        if path.startswith(os.path.join(self.cwd, "")):
            return os.path.relpath(path, self.cwd).replace(os.sep, "/")
        return path

    def _runs_dir(self, runs_dir):
        """``runs_dir``, moved to the DVC project a queued experiment runs for.

        ``dvc queue start`` runs experiments in a temporary copy of the project that is deleted
        afterwards; DVC then sets ``DVC_ROOT`` to the real project, so records go there.
        """
        import os

        root = os.environ.get("DVC_ROOT")
        if not root or not os.environ.get("DVC_EXP_NAME") or os.path.isabs(runs_dir):
            return os.path.abspath(runs_dir)
        here = self.cwd
        while True:
            if os.path.isdir(os.path.join(here, ".dvc")):
                break
            parent = os.path.dirname(here)
            if parent == here:
                return os.path.abspath(runs_dir)
            here = parent
        if os.path.realpath(here) == os.path.realpath(root):
            return os.path.abspath(runs_dir)
        return os.path.join(root, os.path.relpath(self.cwd, here), runs_dir)

    def _artifacts(self):
        import os

        base = os.path.join(self.run_dir, "artifacts")
        found = []
        for folder, _dirs, files in os.walk(base):
            for name in files:
                found.append(os.path.relpath(os.path.join(folder, name), base).replace(os.sep, "/"))
        return sorted(found)

    def _git(self):
        import subprocess

        def git(*args):
            done = subprocess.run(
                ["git", *args], cwd=self.cwd, capture_output=True, text=True, timeout=30,
                check=False,
            )
            return done.stdout.strip() if done.returncode == 0 else None

        try:
            commit = git("rev-parse", "HEAD")
            if commit is None:
                return None
            changed = git("status", "--porcelain", "--untracked-files=no") or ""
        except (OSError, subprocess.SubprocessError):
            return None
        files = sorted(line[3:] for line in changed.splitlines() if line.strip())
        return {"commit": commit, "dirty": bool(files), "changed": files[:50]}

    @staticmethod
    def _packages():
        import importlib.metadata
        import sys

        stdlib = getattr(sys, "stdlib_module_names", frozenset())
        tops = {name for name in sys.modules if "." not in name and not name.startswith("_")}
        try:
            distributions = importlib.metadata.packages_distributions()
        except Exception:
            return {}
        versions = {}
        for top in sorted(tops - set(stdlib)):
            for distribution in distributions.get(top, ()):
                try:
                    versions[distribution] = importlib.metadata.version(distribution)
                except importlib.metadata.PackageNotFoundError:
                    pass
        return dict(sorted(versions.items(), key=lambda item: item[0].lower()))

    @staticmethod
    def _dvc():
        import os

        names = {"experiment": "DVC_EXP_NAME", "stage": "DVC_STAGE", "baseline": "DVC_EXP_BASELINE_REV"}
        found = {key: os.environ.get(variable) for key, variable in names.items()}
        return found if any(found.values()) else None

    def _log_to_mlflow(self, record):
        """Log ``record`` and the artifacts as one MLflow run; the run's id, or None."""
        import os
        import re
        import sys

        try:
            from mlflow.entities import Metric, Param
            from mlflow.tracking import MlflowClient
        except ModuleNotFoundError:
            print(
                "nb2pipe: warning: a tracking URI is set but mlflow is not installed; "
                "the run is recorded only in " + self.run_dir,
                file=sys.stderr,
            )
            return None
        client = MlflowClient(tracking_uri=self.tracking_uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or os.path.splitext(record["script"])[0]
        experiment = client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
        git = record["git"] or {}
        tags = {
            "mlflow.runName": self.run_id,
            "mlflow.source.name": record["script"],
            "nb2pipe.run_id": self.run_id,
            "nb2pipe.status": record["status"],
        }
        if git:
            tags["mlflow.source.git.commit"] = git["commit"]
            tags["nb2pipe.git.dirty"] = str(git["dirty"]).lower()
        if record["step"]:
            tags["nb2pipe.step"] = record["step"]
        if record["error"]:
            tags["nb2pipe.error"] = record["error"][:5000]
        for path, digest in record["data"].items():
            tags["nb2pipe.data." + re.sub(r"[^\w\-. /]", "_", path)[:200]] = digest
        started = int(self.started * 1000)
        run = client.create_run(experiment_id, start_time=started, tags=tags)
        run_id = run.info.run_id
        params = [Param(key, str(value)[:6000]) for key, value in record["params"].items()]
        metrics = [Metric(key, value, int(self.ended * 1000), 0) for key, value in record["metrics"].items()]
        client.log_batch(run_id, metrics=metrics, params=params, tags=[])
        artifacts = os.path.join(self.run_dir, "artifacts")
        if os.listdir(artifacts):
            client.log_artifacts(run_id, artifacts)
        client.log_artifact(run_id, os.path.join(self.run_dir, "run.json"))
        status = "FINISHED" if record["status"] == "finished" else "FAILED"
        client.set_terminated(run_id, status=status, end_time=int(self.ended * 1000))
        return {"run_id": run_id, "experiment_id": experiment_id, "tracking_uri": self.tracking_uri}
