"""The ``nb2pipe sweep`` command: a search space in; trials, progress and the best run out."""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from nb2pipe_runtime.record import Objective

from nb2pipe.errors import Nb2PipeError

__all__ = ["sweep"]

EXIT_INTERRUPTED = 130
_DUMP_HEADER = "# nb2pipe sweep: "


@click.command()
@click.argument("script", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-p", "--param", "assignments", metavar="NAME=V1,V2", multiple=True,
    help="Values of a parameter (typed by the script); a grid is every combination.",
)
@click.option(
    "--space", "space_file", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False),
    help="YAML or JSON file of NAME: [values] or NAME: {uniform|log_uniform|int_uniform: [lo, hi]}.",
)
@click.option(
    "--sampler", type=click.Choice(["grid", "random", "tpe", "cmaes"]),
    help="How points are chosen (default: grid for lists only, tpe with a range). cmaes "
    "samples ranges; lists go to its fallback, random, sampler.",
)
@click.option("--trials", type=click.IntRange(min=1),
              help="Trials of the whole study, across workers and resumes (default: the grid).")
@click.option("--timeout", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Start no trial after this many seconds of this worker (running ones end).")
@click.option("--metric", metavar="NAME",
              help="The metric to optimize (default: the first the metrics cell records).")
@click.option("--maximize/--minimize", "maximize", default=None,
              help="Higher or lower is better (default: lower for a loss, error, cost or "
              "duration by the metric's name, higher otherwise).")
@click.option("--target", type=float, metavar="VALUE",
              help="Start no more trials once one reaches this value.")
@click.option("--pruner", type=click.Choice(["median", "hyperband", "none"]), default="median",
              show_default=True, help="Stops trials that report() worse than the others.")
@click.option("--prune-after", type=click.IntRange(min=0), default=5, show_default=True,
              metavar="N", help="Median pruner: prune only once N trials have finished.")
@click.option("--study", "study_name", metavar="NAME",
              help="The study to create, resume or join (default: the script's name and a "
              "digest of the space, metric and direction).")
@click.option("--storage", metavar="URL",
              help="Where studies are kept: a journal file path (shared by many processes or "
              "machines), or an Optuna database URL (sqlite:///..., postgresql://...). "
              "Default: a journal file under RUNS_DIR/.sweeps/.")
@click.option("--seed", type=int, help="The sampler's seed (a repeatable sweep).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Trials at a time in this worker.")
@click.option("--dump-best", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Write the best trial's parameters as a config file (SCRIPT --config FILE).")
@click.option("--force", is_flag=True, help="With --dump-best: overwrite a file of yours.")
@click.option(
    "--runs-dir", type=click.Path(path_type=Path, file_okay=False), default=Path("runs"),
    show_default=True, help="Where the runs are recorded (the script's --runs-dir).",
)
@click.option(
    "--python", "python", metavar="PATH", default=sys.executable,
    help="The interpreter that runs the script (default: this one).",
)
# the flags of nb2pipe 0.2, for one release
@click.option("--config", "old_config", type=click.Path(path_type=Path, dir_okay=False),
              hidden=True)
@click.option("--samples", "old_samples", type=click.IntRange(min=1), hidden=True)
@click.option("--sort", "old_sort", hidden=True)
@click.option("--ascending", "old_ascending", is_flag=True, hidden=True)
def sweep(
    script: Path, assignments: tuple[str, ...], space_file: Path | None, sampler: str | None,
    trials: int | None, timeout: float | None, metric: str | None, maximize: bool | None,
    target: float | None, pruner: str, prune_after: int, study_name: str | None,
    storage: str | None, seed: int | None, jobs: int, dump_best: Path | None, force: bool,
    runs_dir: Path, python: str, old_config: Path | None, old_samples: int | None,
    old_sort: str | None, old_ascending: bool,
) -> None:
    """Optimize SCRIPT's (exported by nb2pipe) parameters: a grid, random points, TPE or
    CMA-ES, on an Optuna study that resumes and that workers share.

    Each trial is a normal recorded run, in the same runs folder and experiment as the
    script's other runs; listed values are checked by the script's own parser before anything
    runs. Re-running the same command continues the study; the same --study (and --storage)
    from another shell or machine joins it. Failed trials are reported and the others go on;
    Ctrl-C stops cleanly, keeping the finished runs. At the end, the runs ranked by the
    metric, the best one marked.
    """
    if old_config is not None:
        _note(f"--config {old_config} is now --space {old_config} (--config names the script's "
              "own parameter file, which --dump-best writes)")
        space_file = space_file or old_config
    if old_samples is not None:
        _note(f"--samples {old_samples} is now --sampler random --trials {old_samples}")
        sampler, trials = sampler or "random", trials or old_samples
    if old_sort is not None:
        _note(f"--sort {old_sort} is now --metric {old_sort}")
        metric = metric or old_sort
    if old_ascending:
        _note("--ascending is now --minimize")
        maximize = False if maximize is None else maximize
    # an Nb2PipeError is reported by the nb2pipe command: one line, exit 2
    sweeper, label = _prepare(
        script, assignments, space_file, sampler, trials, timeout, metric, maximize,
        pruner, prune_after, study_name, storage, seed, runs_dir, python, dump_best, force,
    )
    result = _run(sweeper, label, jobs)
    _report(result, sweeper, runs_dir)
    if dump_best is not None:
        _dump_best(result.study, sweeper, dump_best)
    from nb2pipe.sweep.mlflow_parent import link_trials

    problem = link_trials(result.study, runs_dir, sweeper.settings)
    if problem is not None:
        click.echo(f"nb2pipe: warning: {problem}", err=True)
    if result.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(1 if result.failed else 0)


def _note(text: str) -> None:
    click.echo(f"nb2pipe: note: {text}; the old flag goes in the next release", err=True)


def _prepare(
    script: Path, assignments: tuple[str, ...], space_file: Path | None, sampler: str | None,
    trials: int | None, timeout: float | None, metric: str | None, maximize: bool | None,
    pruner: str, prune_after: int, study_name: str | None, storage: str | None,
    seed: int | None, runs_dir: Path, python: str, dump_best: Path | None, force: bool,
) -> tuple[Any, str]:
    """Check everything a sweep needs, open its study: the sweeper and the study's label."""
    from nb2pipe.sweep import study as studies
    from nb2pipe.sweep.runner import Sweeper
    from nb2pipe.sweep.script import first_metric, type_space
    from nb2pipe.sweep.space import Range, grid, parse_assignment, read_space_file

    if not script.is_file():
        raise Nb2PipeError(f"{script}: no such script")
    if dump_best is not None:
        _check_dump_target(dump_best, force)
    space = read_space_file(space_file) if space_file is not None else {}
    for text in assignments:
        name, choice = parse_assignment(text)
        space[name] = choice
    if not space:
        raise Nb2PipeError("nothing to sweep: give -p NAME=V1,V2 or --space FILE")
    has_range = any(isinstance(dimension, Range) for dimension in space.values())
    sampler = sampler or ("tpe" if has_range else "grid")
    if sampler == "grid":
        grid(space)  # a range is refused before the script is asked
    elif trials is None and timeout is None:
        raise Nb2PipeError(f"--sampler {sampler} needs --trials N or --timeout S (a grid ends "
                           "by itself, a sampler does not)")
    typed, _defaults = type_space(script.resolve(), python, space)
    metric = metric or first_metric(script)
    if metric is None:
        raise Nb2PipeError(f"{script}: records no metric; give --metric NAME")
    direction = Objective.goal_of(metric) if maximize is None else (
        "maximize" if maximize else "minimize"
    )
    settings = studies.SweepSettings(script.name, typed, metric, direction)
    optuna_storage, where = studies.open_storage(storage, runs_dir.resolve())
    name = study_name or studies.default_study_name(settings)
    study, created = studies.open_study(
        optuna_storage, name, settings, _sampler(sampler, typed, seed), _pruner(pruner, prune_after)
    )
    total = len(grid(typed)) if sampler == "grid" else None
    if total is not None:
        trials = min(trials, total) if trials is not None else total
    if sampler == "cmaes":
        listed = [name for name, dimension in typed.items() if not isinstance(dimension, Range)]
        if listed:
            click.echo(
                f"nb2pipe: note: CMA-ES samples ranges only; {', '.join(listed)} "
                f"{'is a list' if len(listed) == 1 else 'are lists'}, sampled at random",
                err=True,
            )
    sweeper = Sweeper(
        study=study, space=typed, settings=settings, script=script.resolve(), python=python,
        runs_dir=runs_dir.resolve(), jobs=1, use_grid=sampler == "grid", trials=trials,
        timeout=timeout,
    )
    state = studies.study_state(study)
    how = "new study" if created else (
        f"resuming: {state.counted - state.running} trial(s) done"
        + (f", {state.running} running elsewhere" if state.running else "")
    )
    label = (
        f"study {name} in {where} ({how}); {sampler}"
        + (f" over {total} point(s)" if total is not None else "")
        + f", {metric} {direction}"
    )
    return sweeper, label


def _sampler(kind: str, space: Any, seed: int | None) -> Any:
    import optuna

    if kind == "grid":
        # the points are enqueued (see study.enqueue_grid); a worker that finds the queue empty
        # asks the sampler once, and the point it draws is dropped as a duplicate
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "tpe":
        # multivariate, and a running trial's point counts as tried (parallel workers)
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, constant_liar=True, warn_independent_sampling=False
        )
    import warnings

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


def _pruner(kind: str, after: int) -> Any:
    import optuna

    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=after)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


def _run(sweeper: Any, label: str, jobs: int) -> Any:
    sweeper.jobs = jobs
    click.echo(f"sweeping {sweeper.script.name}: {label}, {jobs} at a time", err=True)
    from nb2pipe.sweep import study as studies

    state = studies.study_state(sweeper.study)
    left = None if sweeper.trials is None else max(0, sweeper.trials - state.counted)
    progress = _Progress(left)
    sweeper.on_change = progress.update
    result = sweeper.run()
    progress.close()
    for trial in result.failed:
        click.echo(f"trial {trial.number} ({trial.label}) failed: {trial.error}", err=True)
    state = studies.study_state(sweeper.study)
    if result.interrupted:
        kept = sum(t.status in ("finished", "pruned") for t in result.trials)
        click.echo(
            f"interrupted: {kept} run(s) finished and kept; the study resumes with the same "
            f"command; logs in {result.folder}", err=True,
        )
    else:
        why = {"--timeout": "--timeout reached", "--target": "--target reached"}.get(
            result.stopped, "done"
        )
        click.echo(
            f"{why}: this worker ran {len(result.trials)} trial(s) in {result.seconds:.1f} s; "
            f"the study has {state.finished} finished, {state.pruned} pruned, {state.failed} "
            f"failed" + (f", {state.running} running elsewhere" if state.running else ""),
            err=True,
        )
    return result


class _Progress:
    """A live bar on a terminal (trials done/failed, ETA); a line per finished trial elsewhere."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.reported: set[int] = set()
        self.started = time.monotonic()
        self.bar = None
        if sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[failed]} failed"), TimeRemainingColumn(),
                transient=True,
            )
            self.task = self.bar.add_task("sweep", total=total, failed=0)
            self.bar.start()

    def update(self, result: Any) -> None:
        done = [t for t in result.trials if t.status not in ("running",)]
        failed = sum(t.status == "failed" for t in done)
        if self.bar is not None:
            self.bar.update(self.task, completed=len(done), failed=failed)
            return
        for trial in done:
            if trial.number in self.reported:
                continue
            self.reported.add(trial.number)
            count = len(self.reported)
            of = f"/{self.total}" if self.total else ""
            left = ""
            if self.total:
                elapsed = time.monotonic() - self.started
                left = f", ~{elapsed / count * max(0, self.total - count):.0f} s left"
            value = "" if trial.value is None else f", {_number(trial.value)}"
            click.echo(
                f"[{count}{of}, {failed} failed{left}] trial {trial.number} ({trial.label}): "
                f"{trial.status}{value} in {trial.seconds:.1f} s"
                + (f", run {trial.run_id}" if trial.run_id else ""),
                err=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _number(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else str(value)


def _study_runs(study: Any) -> dict[str, Any]:
    """Run id -> the trial that recorded it, for every trial of the study (every worker's)."""
    from nb2pipe.sweep import study as studies

    found = {}
    for trial in study.get_trials(deepcopy=False):
        run_id = trial.user_attrs.get(studies.RUN_ID)
        if run_id:
            found[run_id] = trial
    return found


def _report(result: Any, sweeper: Any, runs_dir: Path) -> None:
    """The study's runs as ``nb2pipe runs`` shows them, ranked by its metric, the best named."""
    from nb2pipe.runs.compare import PrimaryMetric, RunsQuery, compare_runs
    from nb2pipe.runs.records import RecordSet, read_records
    from nb2pipe.runs.table import format_table
    from nb2pipe.sweep.space import from_choices

    runs = _study_runs(result.study)
    if not runs:
        return
    found = read_records(runs_dir)
    records = RecordSet(runs_dir=found.runs_dir, records=tuple(
        stored for stored in found.records if stored.record.run_id in runs
    ))
    metric, direction = sweeper.settings.metric, sweeper.settings.direction
    query = RunsQuery(sort=metric, ascending=direction == "minimize")
    try:
        comparison = compare_runs(records, query)
    except Nb2PipeError:  # no run recorded the metric: rank as nb2pipe runs would
        comparison = compare_runs(records)
    else:  # ranked by the sweep's metric, which its runs recorded: say so, as nb2pipe runs does
        comparison = replace(comparison, experiments=tuple(
            replace(experiment, primary=PrimaryMetric(metric, direction, "sweep"))
            if experiment.primary is not None and experiment.primary.metric == metric
            else experiment
            for experiment in comparison.experiments
        ))
    click.echo(format_table(comparison))
    best = _best_trial(result.study)
    if best is None:
        return
    values = from_choices(sweeper.space, best.params)
    shown = ", ".join(f"{name}={_text(value)}" for name, value in values.items())
    click.echo(
        f"best: run {best.user_attrs.get('nb2pipe.run_id')}, {metric} {_number(best.value)} "
        f"({shown})"
    )


def _best_trial(study: Any) -> Any:
    try:
        return study.best_trial
    except ValueError:  # no finished trial
        return None


def _text(value: Any) -> str:
    from nb2pipe.sweep.runner import _text as text

    return text(value)


def _check_dump_target(path: Path, force: bool) -> None:
    """Refuse, before the sweep, to overwrite a file that --dump-best did not write."""
    if force or not path.exists():
        return
    try:
        first = path.read_text(encoding="utf-8").splitlines()[:1]
    except (OSError, UnicodeDecodeError):
        first = []
    if not first or not first[0].startswith(_DUMP_HEADER):
        raise Nb2PipeError(f"--dump-best {path}: the file exists (give --force to overwrite it)")


def _dump_best(study: Any, sweeper: Any, path: Path) -> None:
    """The best trial's parameters (and the script's defaults for the others) as a config
    file the script reads with ``--config``, typed by the script's own parser."""
    import yaml  # type: ignore[import-untyped]

    from nb2pipe.sweep.script import check_points
    from nb2pipe.sweep.space import from_choices

    best = _best_trial(study)
    if best is None:
        raise Nb2PipeError(f"--dump-best {path}: no trial of the study has finished")
    values = from_choices(sweeper.space, best.params)
    [effective] = check_points(sweeper.script, sweeper.python, [values]).effective
    metric = sweeper.settings.metric
    header = (
        f"{_DUMP_HEADER}the best trial of study {study.study_name}: run "
        f"{best.user_attrs.get('nb2pipe.run_id')}, {metric} {_number(best.value)}\n"
        f"# {sweeper.script.name} --config {path.name}\n"
    )
    text = header + yaml.safe_dump(effective, sort_keys=False, allow_unicode=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    click.echo(f"wrote {path}: {sweeper.script.name} --config {path} runs the best trial again",
               err=True)
