"""The ``rerun`` list on single-edit scenarios, checked against a fresh run in a stock kernel.

For each scenario of :mod:`tests.tracking.scenarios`: run every cell of the original notebook in
a tracked kernel (requests carry ``cellId`` as JupyterLab sends them), save the notebook with one
cell edited and run that cell, then run the cells ``%track report --json`` lists in ``rerun``.
Every cell's latest output must equal a fresh top-to-bottom run of the edited notebook in a
stock kernel — or ``restart`` must name the reason. Over all scenarios ``rerun`` must ask for at
most 60% of the cells that re-running every cell would.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import jsonschema
import pytest

from tests.tracking.conftest import SCHEMA, write_notebook
from tests.tracking.kernel_driver import Execution, KernelDriver
from tests.tracking.scenarios import SCENARIOS, Scenario

pytestmark = pytest.mark.kernel

#: the acceptance bound: cells ``rerun`` names / cells a "re-run all" would run
MAX_RERUN_SHARE = 0.60


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    rerun: tuple[str, ...]
    restart: str | None
    mismatches: tuple[str, ...]  #: cells whose latest output differs from the fresh run
    hazards: tuple[str, ...]
    #: cells that differed before the re-runs (the scenario needs re-runs at all)
    needed: tuple[str, ...] = ()

    @property
    def cells(self) -> int:
        return len(self.scenario.cells)

    @property
    def below_edit(self) -> int:
        return self.cells - self.scenario.edit - 1


def _comparable(execution: Execution) -> list[tuple[str, ...]]:
    """What verify compares: stdout, results and errors (stderr carries once-only warnings)."""
    return [o for o in execution.user_outputs() if not (o[0] == "stream" and o[1] == "stderr")]


def _run_scenario(scenario: Scenario, tracked: KernelDriver, stock: KernelDriver, root: Path) -> Outcome:
    work = root / scenario.name / "work"
    work.mkdir(parents=True)
    for name, text in scenario.files.items():
        (work / name).write_text(text)
    ids = [f"c{i}" for i in range(len(scenario.cells))]
    notebook = write_notebook(work / "notebook.ipynb", list(zip(ids, scenario.cells)))
    for setup in ("%track off", "%reset -f", f"%cd -q {work}", f"%track --notebook {notebook}"):
        assert tracked.execute(setup).status == "ok"
    latest = {cid: tracked.execute(src, cid) for cid, src in zip(ids, scenario.cells)}
    edited = dict(zip(ids, scenario.edited_cells))
    write_notebook(notebook, list(edited.items()))  # the user edits the cell; JupyterLab saves
    edit_id = ids[scenario.edit]
    latest[edit_id] = tracked.execute(edited[edit_id], edit_id)
    reply = tracked.execute("%track report --json")
    report = json.loads(reply.stdout)
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    before = dict(latest)
    for cid in report["rerun"]:
        latest[cid] = tracked.execute(edited[cid], cid)
    tracked.execute("%track off")

    fresh_dir = root / scenario.name / "fresh"
    shutil.copytree(work, fresh_dir, ignore=shutil.ignore_patterns(".nb2pipe", "*.ipynb"))
    for setup in ("%reset -f", f"%cd -q {fresh_dir}"):
        assert stock.execute(setup).status == "ok"
    fresh = {cid: stock.execute(src) for cid, src in edited.items()}
    mismatches = tuple(cid for cid in ids if _comparable(latest[cid]) != _comparable(fresh[cid]))
    needed = tuple(cid for cid in ids if _comparable(before[cid]) != _comparable(fresh[cid]))
    assert report["rerun"] == [cid for cid in ids if cid in report["rerun"]], "not in notebook order"
    return Outcome(
        scenario,
        tuple(report["rerun"]),
        report["restart"],
        mismatches,
        tuple(sorted({h["kind"] for h in report["hazards"]})),
        needed,
    )


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    root = tmp_path_factory.mktemp("scenarios")
    tracked = KernelDriver(cwd=root)
    stock = KernelDriver(cwd=root)
    try:
        assert tracked.execute("%load_ext nb2pipe").status == "ok"
        results = {}
        for scenario in SCENARIOS:
            results[scenario.name] = _run_scenario(scenario, tracked, stock, root)
        yield results
    finally:
        tracked.shutdown()
        stock.shutdown()


def test_there_are_at_least_forty_scenarios() -> None:
    assert len(SCENARIOS) >= 40
    assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_rerun_restores_a_fresh_run(outcomes: dict[str, Outcome], scenario: Scenario) -> None:
    outcome = outcomes[scenario.name]
    if scenario.expect_restart:
        assert outcome.restart, "unseeded randomness reaches an output: restart must say so"
    if outcome.mismatches:
        assert outcome.restart, (
            f"cells {outcome.mismatches} differ from a fresh run after re-running {outcome.rerun}"
        )


def test_rerun_asks_for_at_most_60_percent_of_rerun_all(outcomes: dict[str, Outcome], capsys) -> None:
    rerun = sum(len(o.rerun) for o in outcomes.values())
    everything = sum(o.cells for o in outcomes.values())
    below = sum(o.below_edit for o in outcomes.values())
    restarts = sum(1 for o in outcomes.values() if o.restart)
    needing = sum(1 for o in outcomes.values() if o.needed)
    summary = (
        f"rerun metric over {len(outcomes)} scenarios ({needing} whose outputs differ from a fresh "
        f"run before the re-runs): rerun asks for {rerun} cells; re-run all = {everything} "
        f"({rerun / everything:.0%}); re-run everything below the edit = {below} "
        f"({rerun / below:.0%}); restart named in {restarts}"
    )
    with capsys.disabled():
        print("\n" + summary)
        for o in outcomes.values():
            print(
                f"  {o.scenario.name:<32} cells {o.cells}  edit [{o.scenario.edit + 1}]  rerun "
                f"{len(o.rerun)}  below {o.below_edit}  stale-before {len(o.needed)}  "
                f"restart {'yes' if o.restart else 'no'}"
            )
    assert rerun <= MAX_RERUN_SHARE * everything, summary
    # the scenarios discriminate: most of them are wrong until the right cells re-run
    assert needing >= len(outcomes) // 2, summary
