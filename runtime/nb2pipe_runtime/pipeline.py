"""A recorded run of a pipeline: ``with Pipeline(params, __file__, notebook) as run:``.

:meth:`Pipeline.step` runs one step of an exported pipeline, saves its outputs (with what they
were computed with), and, for ``--step NAME``, stands in for the steps that do not run and
loads their saved outputs where the selected step needs them, recording where each came from
(the run's ``lineage``). Flat scripts use :class:`~nb2pipe_runtime.run.Run` alone.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from nb2pipe_runtime.environment import sha256_of
from nb2pipe_runtime.outputs import OutputsError, load_output, read_saved_step, save_outputs
from nb2pipe_runtime.record import InputLineage, SavedOutput, StepTiming
from nb2pipe_runtime.run import Run

__all__ = ["Pipeline"]


class _SavedValue:
    """Stands in for an output of a step that does not run in this process."""

    def __init__(self, step: str, name: str) -> None:
        self.step = step
        self.name = name

    def __repr__(self) -> str:
        return f"<output {self.name!r} of step {self.step!r}, saved on disk>"


class Pipeline(Run):
    """One run of an exported pipeline: its steps, in order, or the one ``--step`` selects."""

    def __enter__(self) -> Pipeline:  # noqa: PYI034 - typing.Self needs Python 3.11
        super().__enter__()
        return self

    def step(
        self,
        name: str,
        function: Callable[..., Any],
        *inputs: Any,
        outputs: Sequence[str] = (),
        setup: bool = False,
    ) -> Any:
        """Run step ``name`` as ``function(*inputs, **parameters)`` and save its ``outputs``.

        The step's keyword-only arguments name the parameters it reads; they are passed from
        the run's parameters (and recorded as what a ``--step`` run used). When ``--step``
        selects another step, return stand-ins for its outputs instead (the selected step
        loads them from ``--outputs-dir``); ``setup`` steps (a ``prepare`` step without
        outputs) always run.
        """
        if self.selected is not None and name != self.selected and not setup:
            stand_ins = tuple(_SavedValue(name, output) for output in outputs)
            return stand_ins[0] if len(stand_ins) == 1 else (stand_ins or None)
        with self._unaudited():
            values = [self._load(value, name) for value in inputs]
        reads = [
            parameter.name
            for parameter in inspect.signature(function).parameters.values()
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY
        ]
        self.params_read.update(reads)
        started = time.time()
        result = function(*values, **{read: getattr(self.params, read) for read in reads})
        self.steps.append(StepTiming(name, round(time.time() - started, 3)))
        if outputs:
            results = (result,) if len(outputs) == 1 else tuple(result)
            if len(results) != len(outputs):
                raise ValueError(
                    f"step {name!r} returned {len(results)} values for its {len(outputs)} "
                    f"outputs {', '.join(outputs)}"
                )
            with self._unaudited():
                # what the saved values were computed with: the parameters the steps so far
                # read, and the data files they read
                _own, effective, _mixed = self._effective_params(whole=False)
                saved, warnings = save_outputs(
                    os.path.join(self.outputs_dir, name), name, dict(zip(outputs, results)),
                    run_id=self.run_id, params=effective, data=self._upstream_data(),
                )
            # a warning about the environment (no parquet engine) is given once per run
            self.warnings += [text for text in warnings if text not in self.warnings]
            self.outputs[name] = saved
        return result

    @contextlib.contextmanager
    def _unaudited(self) -> Iterator[None]:
        """The run's own reading and writing (saved outputs, hashes) is not the code's."""
        listening = self.audit.active
        self.audit.stop()
        self.sources.stop()
        try:
            yield
        finally:
            if listening:
                self.audit.start()
                self.sources.start()

    # -- inputs of a --step run --------------------------------------------------------------
    def _load(self, value: Any, step: str) -> Any:
        if not isinstance(value, _SavedValue):
            return value
        directory = os.path.join(self.outputs_dir, value.step)
        try:
            saved_step = read_saved_step(directory)
            saved = saved_step.outputs[value.name]
            loaded = load_output(directory, saved)
        except (OutputsError, KeyError) as exc:
            detail = f" ({exc})" if isinstance(exc, OutputsError) and "needs" in str(exc) else ""
            raise SystemExit(
                f"step {step!r} needs {value.name!r} from step {value.step!r}, which is not "
                f"saved in {directory}{detail}: run step {value.step!r} (or the whole pipeline) "
                "first"
            ) from None
        if os.path.islink(directory):
            # a step folder linked in from elsewhere (a Kubeflow input artifact): the lineage
            # names where the file is, not the link in a task's scratch folder
            directory = os.path.realpath(directory)
        path = os.path.join(directory, saved.file)
        self.lineage.append(
            InputLineage(
                name=value.name, step=value.step, path=self._relative(path),
                sha256=sha256_of(path), run_id=saved_step.run_id,
                params=dict(saved_step.params), data=dict(saved_step.data),
            )
        )
        for data_path, digest in saved_step.data.items():
            current = os.path.join(self.cwd, data_path)
            if os.path.isfile(current) and sha256_of(current) != digest:
                self.warnings.append(
                    f"input {value.name!r} of step {step!r} was computed from {data_path}, "
                    "which has changed since: run the earlier steps again"
                )
        return loaded

    def _upstream_data(self) -> dict[str, str]:
        """The data this run's results so far depend on: the files and sources (by URL and
        version) it read, and the ones the runs that produced its inputs read."""
        data: dict[str, str] = {}
        for entry in self.lineage:
            data.update(entry.data)
        data.update(self._data_files())
        for source in self._data_sources({}):
            data[source.url] = source.identity or source.checks or "unversioned"
        return dict(sorted(data.items()))

    def _finish_outputs(self) -> None:
        """The saved outputs' paths and hashes; fitted models also become artifacts."""
        for step, step_outputs in self.outputs.items():
            for name, saved in list(step_outputs.items()):
                path = os.path.join(self.outputs_dir, step, saved.file)
                step_outputs[name] = SavedOutput(
                    file=saved.file, format=saved.format, type=saved.type,
                    path=self._relative(path), sha256=sha256_of(path), model=saved.model,
                    series_name=saved.series_name,
                )
                if saved.model:
                    shutil.copyfile(path, os.path.join(self.artifact_dir("models"), saved.file))
