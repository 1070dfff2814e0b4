"""Script equivalence: export the notebook, run the script, compare its stdout with the notebook's.

The script runs in a copy of the notebook's folder, started before the fresh kernel run so
both run at once; the script file and its run records are kept outside the copy, so the
folder holds what the notebook's folder holds (``!ls`` lists the same files). Its standard output must equal the stdout streams of the exported cells of
the fresh run (skipped and ``raises-exception`` cells are not in the script), after the usual
normalization, with three script-specific allowances: the lines ``%time``/``%%time``/
``%timeit`` print are dropped from the cells that time code (the script runs the code
untimed), the output of magics the script leaves out (``%pip``, ``%who``, ...) is not
expected from it, and the lines of ``ignore-output`` cells, and of cells whose output varies
by run (two fresh runs of the notebook differ there), may hold anything.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence

from nb2pipe_runtime.reading import RunRecordError, read_record

from nb2pipe.analysis import Magic, MagicKind, NotebookAnalysis
from nb2pipe.analysis.display import prints_help
from nb2pipe.errors import Nb2PipeError, UnsupportedMagicError
from nb2pipe.export import ExportOptions, render_notebook
from nb2pipe.export.magics import SHELL_ALIASES
from nb2pipe.model import Cell, Notebook
from nb2pipe.verify.normalize import normalize_text, strip_timing_lines
from nb2pipe.verify.report import Mismatch, Reason, ScriptCheck, ScriptStatus
from nb2pipe.verify.runner import ScriptJob, ScriptRun, copy_folder, kernel_command, start_script
from nb2pipe.verify.text import compare_text, numbers_close, unified_diff
from nb2pipe.verify.threads import thread_environment

__all__ = ["ScriptCheckJob", "start_script_check"]

_TIMING_MAGICS = frozenset({"time", "timeit"})
#: Magics whose output an exported script does not reproduce (export drops or defers them).
_UNREPRODUCED_MAGICS = frozenset(
    {
        "pip", "conda", "mamba", "who", "whos", "who_ls", "prun", "lprun", "memit", "mprun",
        "lsmagic", "watermark", "version_information",
    }
)
_STDERR_TAIL = 15


@dataclass
class ScriptCheckJob:
    """A started script-equivalence check; :meth:`finish` judges it against the fresh run."""

    notebook: Notebook
    scratch: tempfile.TemporaryDirectory[str]
    copy: Path | None = None
    job: ScriptJob | None = None
    #: the notebook cannot be exported: the reason
    export_error: str | None = None
    #: saved-notebook cell indices the script runs, and how to read their stdout
    exported: tuple[int, ...] = ()
    timing_cells: frozenset[int] = frozenset()
    shell_cells: frozenset[int] = frozenset()
    unreproduced_cells: frozenset[int] = frozenset()
    notes: list[str] = field(default_factory=list)
    #: the finished script run, once waited for
    _run: ScriptRun | None = None

    @property
    def private(self) -> Path:
        """Where the script file and its run records live: beside the copy, hidden."""
        return Path(self.scratch.name) / ".nb2pipe"

    @property
    def runs_dir(self) -> Path:
        return self.private / "runs"

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
        self.scratch.cleanup()

    def finish(
        self,
        fresh_cells: dict[int, Cell],
        rtol: float,
        metrics: Mapping[str, tuple[float, Cell]] | None = None,
        variable_cells: frozenset[int] = frozenset(),
    ) -> tuple[ScriptCheck, list[Mismatch]]:
        """Wait for the script and compare it with a notebook run that finished cleanly.

        ``fresh_cells`` maps saved cell indices to the executed cells; ``metrics`` holds the
        value each metrics name had in the notebook run right after its ``metrics`` cell;
        the lines of ``variable_cells`` (their output varies by run) may hold anything. May be
        called again (with more variable cells): the script ran once.
        """
        if self.export_error is not None:
            mismatch = Mismatch(Reason.SCRIPT_FAILED, None, None, self.export_error)
            return ScriptCheck(ScriptStatus.FAILED, self.export_error), [mismatch]
        assert self.job is not None and self.copy is not None
        if self._run is None:
            self._run = self.job.wait()
        run = self._run
        if variable_cells:
            cells = ", ".join(self.notebook.cells[i].label for i in sorted(variable_cells))
            note = f"stdout of {cells} compared by line count only: it varies by run"
            if note not in self.notes:
                self.notes.append(note)
        check, mismatches = self._judge(run, fresh_cells, rtol, variable_cells)
        if check.status is ScriptStatus.FAILED:
            return check, mismatches
        steady = {
            name: value for name, value in (metrics or {}).items()
            if value[1].index not in variable_cells
        }
        metric_mismatches, compared = self._compare_metrics(steady, rtol)
        note = f"{compared} metric(s) of the script's run record compared"
        if compared and note not in self.notes:
            self.notes.append(note)
        if metric_mismatches and check.status is ScriptStatus.EQUAL:
            check = ScriptCheck(ScriptStatus.DIFFERS, metric_mismatches[0].message, check.duration)
        return check, mismatches + metric_mismatches

    def _compare_metrics(
        self, notebook: Mapping[str, tuple[float, Cell]], rtol: float
    ) -> tuple[list[Mismatch], int]:
        """Compare the metrics of the script's run record (``runs/<id>/run.json``) with the
        notebook's, within ``rtol``."""
        assert self.copy is not None
        records = sorted(self.runs_dir.glob("*/run.json"), key=lambda p: p.stat().st_mtime)
        if not records or not notebook:
            return [], 0
        try:
            recorded = read_record(records[-1]).metrics
        except RunRecordError as exc:
            # the record lies in a temporary folder: name it from there
            reason = str(exc).replace(f"{self.runs_dir.parent}/", "")
            self.notes.append(f"the script's run record was not compared: {reason}")
            return [], 0
        mismatches = []
        compared = 0
        for name, value in sorted(recorded.items()):
            if name not in notebook:
                continue
            compared += 1
            expected, cell = notebook[name]
            if not numbers_close(repr(float(expected)), repr(float(value)), rtol):
                mismatches.append(
                    Mismatch(
                        Reason.SCRIPT_DIFFERS,
                        cell.index,
                        cell.id,
                        f"metric {name}: the notebook has {expected!r}, the script's run record "
                        f"{value!r}",
                    )
                )
        return mismatches, compared

    def _judge(
        self,
        run: ScriptRun,
        fresh_cells: dict[int, Cell],
        rtol: float,
        variable_cells: frozenset[int] = frozenset(),
    ) -> tuple[ScriptCheck, list[Mismatch]]:
        if run.returncode != 0:
            if run.timed_out:
                cells = max(1, len(self.notebook.code_cells))
                allowed = (
                    f" (allowed: {self.job.timeout:g} s past the notebook's run, --timeout × "
                    f"{cells} code cell{'' if cells == 1 else 's'})"
                    if self.job is not None and self.job.timeout is not None
                    else ""
                )
                message = (
                    f"the script timed out after {run.duration:.0f} s{allowed}; killed with "
                    "its processes"
                )
            else:
                message = f"the script exited with status {run.returncode}"
            tail = "\n".join(run.stderr.strip().splitlines()[-_STDERR_TAIL:])
            last_line = tail.splitlines()[-1] if tail else ""
            full = f"{message}: {last_line}" if last_line else message
            return (
                ScriptCheck(ScriptStatus.FAILED, full, run.duration),
                [Mismatch(Reason.SCRIPT_FAILED, None, None, full, tail)],
            )
        expected, applied = self._notebook_lines(fresh_cells, variable_cells)
        normalized = normalize_text(self._script_stdout(run.stdout))
        applied |= normalized.applied
        actual = normalized.text.splitlines()
        first = _first_difference(expected, actual, rtol)
        if first is None:
            return ScriptCheck(ScriptStatus.EQUAL, None, run.duration), []
        cell = expected[min(first, len(expected) - 1)].cell if expected else None
        label = cell.label if cell is not None else "the notebook"
        message = f"the script's stdout differs from the notebook's, first at {label}"
        diff = unified_diff(
            "\n".join(line.text for line in expected),
            "\n".join(actual),
            labels=("notebook stdout", "script stdout"),
        )
        mismatch = Mismatch(
            Reason.SCRIPT_DIFFERS,
            cell.index if cell is not None else None,
            cell.id if cell is not None else None,
            message,
            diff,
            tuple(sorted(applied)),
            source=cell.first_line if cell is not None else "",
        )
        return ScriptCheck(ScriptStatus.DIFFERS, message, run.duration), [mismatch]

    def _notebook_lines(
        self, fresh_cells: dict[int, Cell], variable_cells: frozenset[int] = frozenset()
    ) -> tuple[list[_Line], frozenset[str]]:
        """The normalized stdout lines the script should print, each with its cell."""
        lines: list[_Line] = []
        applied: set[str] = set()
        for index in self.exported:
            fresh = fresh_cells.get(index)
            if fresh is None or index in self.unreproduced_cells:
                continue
            text = "".join(
                o.text or ""
                for o in fresh.outputs
                if o.output_type == "stream" and o.name == "stdout"
            )
            if index in self.timing_cells:
                text = strip_timing_lines(text.replace("\r\n", "\n"))
            normalized = normalize_text(text)
            applied |= normalized.applied
            cell = self.notebook.cells[index]
            shell = index in self.shell_cells
            if shell and normalized.text.strip():
                applied.add("shell-layout")
            ignored = cell.role.ignore_output or index in variable_cells
            lines += [_Line(cell, line, ignored, shell) for line in normalized.text.splitlines()]
        return lines, frozenset(applied)

    def _script_stdout(self, stdout: str) -> str:
        # the script ran in a copy of the folder: paths it printed name the copy
        assert self.copy is not None and self.notebook.path is not None
        original = self.notebook.path.resolve().parent
        for copy in {str(self.copy.resolve()), str(self.copy)}:
            stdout = stdout.replace(copy, str(original))
        return stdout


@dataclass(frozen=True)
class _Line:
    """One normalized line of a cell's stdout."""

    cell: Cell
    text: str
    #: the cell is tagged ignore-output: the script prints this line, with any content
    ignored: bool
    #: the cell runs shell escapes: IPython ran them on a pseudo-terminal, where programs such
    #: as ``ls`` lay out their output for an 80-column screen; the script's pipe gets one item
    #: a line. Such runs of lines are compared word by word.
    shell: bool = False


def _first_difference(expected: list[_Line], actual: list[str], rtol: float) -> int | None:
    """Position of the first line where the script's stdout departs from the notebook's.

    Line by line, so that lines of ``ignore-output`` cells can be skipped: the script runs the
    same code, so it prints as many lines there, only with other values. A run of lines from a
    cell with shell escapes matches as many script lines as hold the same words, in any order.
    """
    position, cursor = 0, 0
    while position < len(expected):
        line = expected[position]
        if cursor >= len(actual):
            return position
        if line.shell and not line.ignored:
            end = position
            while end < len(expected) and expected[end].shell and expected[end].cell is line.cell:
                end += 1
            words = " ".join(item.text for item in expected[position:end]).split()
            taken: list[str] = []
            while cursor < len(actual) and len(taken) < len(words):
                taken += actual[cursor].split()
                cursor += 1
            # `ls` on a pseudo-terminal fills columns top to bottom: the same words in
            # another order than one a line
            if not compare_text(" ".join(sorted(words)), " ".join(sorted(taken)), rtol).equal:
                return position
            position = end
            continue
        if not line.ignored and not compare_text(line.text, actual[cursor], rtol).equal:
            return position
        position, cursor = position + 1, cursor + 1
    return len(expected) if cursor < len(actual) else None


def _magic_name(magic: Magic) -> str:
    """``%pip`` -> "pip"; ``!pip install x`` -> "pip" too."""
    if magic.kind in (MagicKind.SYSTEM, MagicKind.GETOUTPUT):
        words = magic.args.split()
        return words[0] if words else ""
    return magic.name


def start_script_check(
    analysis: NotebookAnalysis,
    kernel_name: str,
    arguments: Sequence[str],
    timeout: float | None,
    *,
    strict_errors: bool = False,
    threads: int | None = None,
) -> ScriptCheckJob:
    """Export the notebook into a copy of its folder and start the script there (its thread
    pools limited to ``threads``, as the kernel's are: see :mod:`.threads`).

    An export that fails is not raised: it becomes a ``script-failed`` finding.
    """
    notebook = analysis.notebook
    assert notebook.path is not None
    scratch = tempfile.TemporaryDirectory(prefix="nb2pipe-script-")
    check = ScriptCheckJob(notebook, scratch)
    folder = notebook.path.resolve().parent
    try:
        check.copy = copy_folder(folder, Path(scratch.name))
    except OSError as exc:
        check.export_error = f"cannot copy {folder} to run the script: {exc}"
        return check
    # a name no local module can have: the script must not shadow `import <stem>`; rendered as
    # if beside the notebook, kept outside the folder copy
    script_path = check.copy / f"_nb2pipe_verify_{notebook.stem}.py"
    under_ipython = False
    try:
        options = ExportOptions(strict_errors=strict_errors)
        try:
            result = render_notebook(notebook, options, script_path)
        except UnsupportedMagicError:
            result = render_notebook(notebook, replace(options, allow_ipython=True), script_path)
            under_ipython = True
            check.notes.append(
                "the script keeps IPython magics (--allow-ipython); ran it under IPython"
            )
    except Nb2PipeError as exc:
        check.export_error = f"the notebook cannot be exported: {exc} (--no-script skips this step)"
        return check
    check.private.mkdir()
    script_file = check.private / script_path.name
    script_file.write_text(result.code, encoding="utf-8")
    check.exported = tuple(
        parsed.cell.index
        for parsed in analysis.cells
        if not (
            parsed.cell.role.skip
            or parsed.cell.expects_error(strict_errors)
            or parsed.cell.role.injected_parameters
        )
    )
    magics = {
        parsed.cell.index: {_magic_name(m) for m in parsed.symbols.magics}
        for parsed in analysis.cells
    }
    check.timing_cells = frozenset(i for i, names in magics.items() if names & _TIMING_MAGICS)
    check.shell_cells = frozenset(
        parsed.cell.index
        for parsed in analysis.cells
        if any(
            m.kind is MagicKind.SYSTEM or (m.kind is MagicKind.LINE and m.name in SHELL_ALIASES)
            for m in parsed.symbols.magics
        )
    )
    check.unreproduced_cells = frozenset(
        i for i, names in magics.items() if names & _UNREPRODUCED_MAGICS
    ) | frozenset(
        parsed.cell.index
        for parsed in analysis.cells
        if not parsed.cell.role.keep_display and any(prints_help(s) for s in parsed.tree.body)
    )
    if check.unreproduced_cells:
        cells = ", ".join(notebook.cells[i].label for i in sorted(check.unreproduced_cells))
        check.notes.append(
            f"stdout of {cells} not expected from the script (magics and help() it leaves out)"
        )
    # started as the kernel is: its interpreter, behind the kernelspec's wrapper (a
    # `prlimit` that bounds its memory, say), with the kernelspec's environment
    command, env = kernel_command(kernel_name)
    env = {**env, **thread_environment(threads, {**os.environ, **env})}
    check.job = start_script(
        script_file,
        [*arguments, "--runs-dir", str(check.runs_dir)],
        python=command,
        under_ipython=under_ipython,
        timeout=timeout,
        cwd=check.copy,
        env=env,
    )
    return check
