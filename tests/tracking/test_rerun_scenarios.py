"""The ``rerun`` list on single-edit scenarios, checked against fresh runs in stock kernels.

For each scenario of :mod:`tests.tracking.scenarios`, in a folder holding only the scenario's
input files:

- **tracked**: run every cell of the original notebook in a tracked kernel (requests carry
  ``cellId`` as JupyterLab sends them), save the notebook with one cell edited and run that
  cell, then follow ``%track report --json``: remove the paths in ``remove``, run the cells in
  ``rerun``;
- **fresh**: run the edited notebook top to bottom in a stock kernel, twice (with different
  global random states): what differs between the two is nondeterministic and not compared;
- **re-run all**: like *tracked* in a stock kernel, but then re-run every cell;
- **hindsight**: like *tracked* in a stock kernel (with the scenario's declared paths removed),
  then re-run the cells from cell k down, for the largest k that gets a fresh run's result:
  the best "re-run everything below here" a user could pick knowing the answer.

A run's result is every cell's latest output, the kernel's final namespace (by value, see
:mod:`tests.tracking.state_digest`) and the files in the folder. Then, strictly:

- re-running all cells fails exactly in the scenarios that declare ``remove``, ``seed`` or a
  restart (the scenarios' own claim, checked);
- the report advises a restart exactly where declared, and then no re-run list; it names the
  declared paths to remove, in ``external-file`` hazards whose fix says so; it says to seed an
  unseeded draw instead of restarting;
- following the advice gives the fresh run's outputs, namespace and files;
- over all scenarios, the cells the advice runs (a restart runs them all) are at most the
  hindsight suffixes'.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import jsonschema
import pytest

from tests.tracking.conftest import SCHEMA, write_notebook
from tests.tracking.kernel_driver import Execution, KernelDriver
from tests.tracking.scenarios import SCENARIOS, Scenario

# every scenario runs in the module's fixture: some 130 scenarios, each in up to ~10 kernel runs
pytestmark = [pytest.mark.kernel, pytest.mark.timeout(3600)]

DIGEST = Path(__file__).with_name("state_digest.py")
#: a user expression: the namespace by value, without running a cell
DIGEST_EXPRESSION = f"__import__('runpy').run_path({str(DIGEST)!r})['digest'](globals())"
_SKIPPED_FILES = (".nb2pipe", ".ipynb_checkpoints", "__pycache__")


@dataclass(frozen=True)
class RunResult:
    """What a run leaves: each cell's latest outputs, the namespace and the files, comparable."""

    outputs: dict[str, Any]
    names: dict[str, Any]
    files: dict[str, str]

    def differences(self, fresh: RunResult, random: RunResult) -> tuple[str, ...]:
        """What differs from ``fresh``, leaving out what differs between two fresh runs."""
        out = []
        for label, mine, theirs, other in (
            ("cell", self.outputs, fresh.outputs, random.outputs),
            ("name", self.names, fresh.names, random.names),
            ("file", self.files, fresh.files, random.files),
        ):
            for key in sorted(set(mine) | set(theirs)):
                if theirs.get(key) != other.get(key):
                    continue  # nondeterministic: differs between two fresh runs
                if mine.get(key) != theirs.get(key):
                    out.append(f"{label} {key}")
        return tuple(out)

    def random_outputs(self, other: RunResult) -> bool:
        """Whether outputs differ from ``other``'s, a fresh run with other random states."""
        return self.outputs != other.outputs


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    rerun: tuple[str, ...]
    restart: str | None
    hazards: tuple[str, ...]
    #: the report's hazards as JSON
    details: tuple[dict[str, Any], ...]
    #: the paths the report says to remove, relative to the folder
    remove: tuple[str, ...]
    #: cells the hindsight suffix re-runs (all of them when no suffix gets it right)
    hindsight: int
    #: what differs from a fresh run after following ``rerun``
    mismatches: tuple[str, ...]
    #: what differs from a fresh run after re-running every cell
    rerun_all_mismatches: tuple[str, ...]
    #: two fresh runs show different outputs (unseeded random numbers reach one)
    random: bool
    #: cells whose outputs differed from a fresh run before the re-runs
    needed: tuple[str, ...] = ()

    @property
    def cells(self) -> int:
        return len(self.scenario.cells)

    @property
    def asked(self) -> int:
        """Cells following the advice runs: a restart runs them all."""
        return self.cells if self.restart else len(self.rerun)

    @property
    def right(self) -> bool:
        scenario = self.scenario
        if scenario.expect_restart:
            return bool(self.restart) and not self.rerun and scenario.restart_hazard in self.hazards
        if self.restart or self.mismatches:
            return False
        if set(self.remove) != set(scenario.remove):
            return False
        return not scenario.seed or "unseeded-random" in self.hazards

    @property
    def below_edit(self) -> int:
        return self.cells - self.scenario.edit - 1


def _comparable(execution: Execution) -> list[tuple[str, ...]]:
    """What verify compares: stdout, results and errors (stderr carries once-only warnings)."""
    return [o for o in execution.user_outputs() if not (o[0] == "stream" and o[1] == "stderr")]


def _files(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part in _SKIPPED_FILES for part in relative.parts) or path.suffix == ".ipynb":
            continue
        out[relative.as_posix()] = (
            "<folder>" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        )
    return out


def _result(driver: KernelDriver, latest: dict[str, Execution], folder: Path) -> RunResult:
    names = json.loads(ast.literal_eval(driver.value(DIGEST_EXPRESSION)))
    outputs = {cid: _comparable(execution) for cid, execution in latest.items()}
    return RunResult(outputs, names, _files(folder))


def _folder(root: Path, scenario: Scenario, run: str) -> Path:
    folder = root / scenario.name / run
    folder.mkdir(parents=True)
    for name, text in scenario.files.items():
        (folder / name).write_text(text)
    return folder


def _start(driver: KernelDriver, folder: Path, seed: int) -> None:
    """A clean namespace in ``folder``, with the global random states seeded per run."""
    for setup in (
        "%reset -f",
        f"%cd -q {folder}",
        f"import random as _r, numpy as _np\n_r.seed({seed}); _np.random.seed({seed})\ndel _r, _np",
    ):
        assert driver.execute(setup).status == "ok", setup


def _remove(folder: Path, paths: Iterable[str]) -> None:
    for name in paths:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _relative(folder: Path, paths: Iterable[str]) -> tuple[str, ...]:
    out = []
    for path in paths:
        try:
            out.append(Path(path).resolve().relative_to(folder.resolve()).as_posix())
        except ValueError:
            out.append(path)
    return tuple(out)


def _tracked_run(scenario: Scenario, driver: KernelDriver, root: Path) -> tuple[RunResult, dict[str, Any], dict[str, Execution]]:
    work = _folder(root, scenario, "tracked")
    ids = scenario.ids
    notebook = write_notebook(work / "notebook.ipynb", list(zip(ids, scenario.cells)))
    assert driver.execute("%track off").status == "ok"
    _start(driver, work, 3)
    assert "%track is on" in driver.execute(f"%track --notebook {notebook}").stdout
    latest = {ids[i]: driver.execute(scenario.cells[i], ids[i]) for i in scenario.first_run}
    edited = dict(zip(ids, scenario.edited_cells))
    write_notebook(notebook, list(edited.items()))  # the user edits the cell; JupyterLab saves
    edit_id = ids[scenario.edit]
    latest[edit_id] = driver.execute(edited[edit_id], edit_id)
    reply = driver.execute("%track report --json")
    report = json.loads(reply.stdout)
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    before = dict(latest)
    report["remove"] = _relative(work, report.get("remove", ()))
    _remove(work, report["remove"])
    for cid in report["rerun"]:
        latest[cid] = driver.execute(edited[cid], cid)
    assert driver.execute("%track off").status == "ok"
    assert report["rerun"] == [cid for cid in ids if cid in report["rerun"]], "not in notebook order"
    return _result(driver, latest, work), report, before


def _fresh_run(scenario: Scenario, driver: KernelDriver, root: Path, run: str, seed: int) -> RunResult:
    folder = _folder(root, scenario, run)
    _start(driver, folder, seed)
    latest = {cid: driver.execute(src) for cid, src in zip(scenario.ids, scenario.edited_cells)}
    return _result(driver, latest, folder)


def _rerun_all(scenario: Scenario, driver: KernelDriver, root: Path) -> RunResult:
    folder = _folder(root, scenario, "rerun-all")
    _start(driver, folder, 4)
    for index in scenario.first_run:
        driver.execute(scenario.cells[index])
    driver.execute(scenario.edited_cells[scenario.edit])
    latest = {cid: driver.execute(src) for cid, src in zip(scenario.ids, scenario.edited_cells)}
    return _result(driver, latest, folder)


def _suffix_run(scenario: Scenario, driver: KernelDriver, root: Path, start: int) -> RunResult:
    """The edit, the declared paths removed, then the cells from ``start`` down re-run."""
    folder = _folder(root, scenario, f"suffix-{start}")
    _start(driver, folder, 5)
    latest = {scenario.ids[i]: driver.execute(scenario.cells[i]) for i in scenario.first_run}
    edit_id = scenario.ids[scenario.edit]
    latest[edit_id] = driver.execute(scenario.edited_cells[scenario.edit])
    _remove(folder, scenario.remove)
    for cid, src in list(zip(scenario.ids, scenario.edited_cells))[start:]:
        latest[cid] = driver.execute(src)
    return _result(driver, latest, folder)


def _hindsight(
    scenario: Scenario, driver: KernelDriver, root: Path, fresh: RunResult, again: RunResult
) -> int:
    """Cells of the shortest "re-run from cell k down" that gets a fresh run's result."""
    cells = len(scenario.cells)
    if scenario.expect_restart:
        return cells
    for start in range(cells, -1, -1):
        if not _suffix_run(scenario, driver, root, start).differences(fresh, again):
            return cells - start
    return cells


def _run_scenario(scenario: Scenario, tracked: KernelDriver, stock: KernelDriver, root: Path) -> Outcome:
    result, report, before = _tracked_run(scenario, tracked, root)
    fresh = _fresh_run(scenario, stock, root, "fresh", 1)
    again = _fresh_run(scenario, stock, root, "fresh-again", 2)
    everything = _rerun_all(scenario, stock, root)
    needed = tuple(cid for cid, execution in before.items() if _comparable(execution) != fresh.outputs[cid])
    return Outcome(
        scenario,
        tuple(report["rerun"]),
        report["restart"],
        tuple(sorted({h["kind"] for h in report["hazards"]})),
        tuple(report["hazards"]),
        tuple(report["remove"]),
        _hindsight(scenario, stock, root, fresh, again),
        result.differences(fresh, again),
        everything.differences(fresh, again),
        fresh.random_outputs(again),
        needed,
    )


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    root = tmp_path_factory.mktemp("scenarios")
    tracked = KernelDriver(cwd=root)
    stock = KernelDriver(cwd=root)
    try:
        assert tracked.execute("%load_ext nb2pipe").status == "ok"
        yield {scenario.name: _run_scenario(scenario, tracked, stock, root) for scenario in SCENARIOS}
    finally:
        tracked.shutdown()
        stock.shutdown()


def test_there_are_at_least_eighty_scenarios() -> None:
    assert len(SCENARIOS) >= 80
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_the_scenario_says_rightly_whether_rerun_all_works(
    outcomes: dict[str, Outcome], scenario: Scenario
) -> None:
    """The scenarios' own claim, checked: re-running every cell fails exactly where a path
    has to be removed, a draw seeded, or the kernel restarted (or the fresh run is random)."""
    outcome = outcomes[scenario.name]
    rerun_all_fails = bool(outcome.rerun_all_mismatches) or outcome.random
    assert rerun_all_fails == scenario.rerun_all_fails, outcome.rerun_all_mismatches


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_following_the_advice_restores_a_fresh_run(
    outcomes: dict[str, Outcome], scenario: Scenario
) -> None:
    outcome = outcomes[scenario.name]
    if scenario.expect_restart:
        assert outcome.restart, f"only a restart helps here; rerun {outcome.rerun}, hazards {outcome.hazards}"
        assert scenario.restart_hazard in outcome.hazards, (outcome.restart, outcome.hazards)
        assert not outcome.rerun, f"a restart and a re-run list for one cause: {outcome.rerun}"
        return
    assert outcome.restart is None, f"a restart does not fix this, yet restart: {outcome.restart}"
    assert set(outcome.remove) == set(scenario.remove), outcome.remove
    for path in scenario.remove:
        named = [h for h in outcome.details if h["kind"] == "external-file" and path in " ".join(h["names"])]
        assert named, f"no external-file hazard names {path}: {outcome.details}"
        assert any("remove" in h["fix"] for h in named), named
    if scenario.seed:
        [unseeded] = [h for h in outcome.details if h["kind"] == "unseeded-random"][:1]
        assert "seed" in unseeded["fix"], unseeded
    assert not outcome.mismatches, (
        f"{', '.join(outcome.mismatches)} differ from a fresh run after removing "
        f"{list(outcome.remove)} and re-running {outcome.rerun}"
    )


def test_the_advice_asks_for_no_more_cells_than_the_hindsight_suffix(
    outcomes: dict[str, Outcome], capsys: pytest.CaptureFixture[str]
) -> None:
    asked = sum(o.asked for o in outcomes.values())
    everything = sum(o.cells for o in outcomes.values())
    hindsight = sum(o.hindsight for o in outcomes.values())
    below = sum(o.below_edit for o in outcomes.values())
    right = sum(1 for o in outcomes.values() if o.right)
    all_right = sum(1 for o in outcomes.values() if not o.rerun_all_mismatches and not o.random)
    needing = sum(1 for o in outcomes.values() if o.needed)
    declared = sum(1 for o in outcomes.values() if o.scenario.rerun_all_fails)
    summary = (
        f"{len(outcomes)} scenarios ({needing} whose outputs differ from a fresh run before the "
        f"re-runs; {declared} that no re-run of cells alone fixes): the advice is right in "
        f"{right}/{len(outcomes)} (re-run all: {all_right}); it runs {asked} cells; re-run all = "
        f"{everything}; hindsight suffix = {hindsight}; everything below the edit = {below}; "
        f"restart in {sum(1 for o in outcomes.values() if o.restart)}, remove in "
        f"{sum(1 for o in outcomes.values() if o.remove)}"
    )
    with capsys.disabled():
        print("\n" + summary)
        for o in outcomes.values():
            flag = "" if o.right else "  WRONG"
            more = "  MORE" if o.asked > o.hindsight else ""
            print(
                f"  {o.scenario.name:<44} cells {o.cells}  edit [{o.scenario.edit + 1}]  asked "
                f"{o.asked}  hindsight {o.hindsight}  below {o.below_edit}  stale-before "
                f"{len(o.needed)}{'  restart' if o.restart else ''}"
                f"{'  remove ' + ','.join(o.remove) if o.remove else ''}{flag}{more} "
                f"{', '.join(o.mismatches)}"
            )
    assert asked <= hindsight, summary
    # the scenarios discriminate: most of them are wrong until the right cells re-run
    assert needing >= len(outcomes) // 2, summary
