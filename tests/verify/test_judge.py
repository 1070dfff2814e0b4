"""Judging a run without a kernel: pairing cells, and the reason a difference gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nb2pipe.analysis import analyze_notebook
from nb2pipe.model import notebook_from_json
from nb2pipe.verify.api import STATIC_KINDS
from nb2pipe.verify.compare import CompareOptions
from nb2pipe.verify.judge import (
    IGNORE_OUTPUT_HINT,
    _first_out_of_order,
    judge_run,
    mark_nondeterministic,
    pair_code_cells,
)
from nb2pipe.verify.probe import FileAccess, ProbeLog
from nb2pipe.verify.report import DataFile, Reason
from nb2pipe.verify.runner import CellReply, NotebookRun, RunFailure

from ..conftest import notebook_json
from .conftest import code, numbered, stderr, stdout


def _notebook(*cells: Any) -> Any:
    return notebook_from_json(notebook_json(*cells), Path("nb.ipynb"))


def _run(
    fresh: Any, failure: RunFailure | None = None, accesses: tuple[FileAccess, ...] = ()
) -> NotebookRun:
    executed = tuple(c.index for c in fresh.code_cells if c.execution_count is not None)
    # the kernel's reply, as it answers a cell that showed an error output
    replies = {
        c.index: next(
            (CellReply("error", o.ename or "", o.evalue or "") for o in c.outputs
             if o.output_type == "error"),
            CellReply("ok"),
        )
        for c in fresh.code_cells if c.index in executed
    }
    return NotebookRun(
        fresh, (), executed, failure, ProbeLog(accesses), "python3", 0.0, replies=replies
    )


def _judge(saved: Any, fresh: Any, **kwargs: Any) -> Any:
    analysis = analyze_notebook(saved)
    from nb2pipe.analysis import find_static_hazards

    hazards = tuple(h for h in find_static_hazards(analysis) if h.kind in STATIC_KINDS)
    return judge_run(
        saved,
        kwargs.pop("run", None) or _run(fresh),
        analysis=analysis,
        hazards=hazards,
        parameterized=kwargs.pop("parameterized", False),
        data_files=kwargs.pop("data_files", ()),
        options=CompareOptions(),
        **kwargs,
    )


@pytest.mark.parametrize(
    ("counts", "first"),
    [
        ([1, 2, 3], None),
        ([2, 1, 3], 0),
        ([1, 3, 2, 4], 1),
        ([1, None, 4, 5, 3], 2),  # a cell never run does not count
        ([5, 6, 7, 1], 0),
    ],
)
def test_first_out_of_order_cell(counts: list[int | None], first: int | None) -> None:
    saved = _notebook(*[code(f"x{i} = {i}", count=c) for i, c in enumerate(counts)])
    assert _first_out_of_order(saved) == first


def test_only_cells_from_the_first_out_of_order_one_get_that_reason() -> None:
    saved = _notebook(
        code('print("a")', stdout("A\n"), count=1),  # differs, but ran first and in order
        code("y = 2", count=3),
        code("y = 1", count=2),
        code("print(y)", stdout("2\n"), count=4),
    )
    fresh = _notebook(
        *numbered(
            code('print("a")', stdout("a\n")),
            code("y = 2"),
            code("y = 1"),
            code("print(y)", stdout("1\n")),
        )
    )
    judgement = _judge(saved, fresh)
    assert [(m.cell_index, m.reason) for m in judgement.mismatches] == [
        (0, Reason.OUTPUT_DIFFERS),
        (3, Reason.OUT_OF_ORDER_SAVED),
    ]


def test_changed_data_file_explains_cells_from_its_reader_on() -> None:
    saved = _notebook(
        *numbered(
            code('print("x")', stdout("y\n")),
            code("d = open('d.csv').read()"),
            code("print(d)", stdout("1\n")),
        )
    )
    fresh = _notebook(
        *numbered(
            code('print("x")', stdout("x\n")),
            code("d = open('d.csv').read()"),
            code("print(d)", stdout("2\n")),
        )
    )
    changed = (DataFile("d.csv", "b" * 64, "a" * 64, read_by=1),)
    judgement = _judge(saved, fresh, data_files=changed)
    assert [(m.cell_index, m.reason) for m in judgement.mismatches] == [
        (0, Reason.OUTPUT_DIFFERS),
        (2, Reason.DATA_CHANGED),
    ]
    assert (
        "data file d.csv changed since the outputs were saved (sha256 aaaaaaaaaaaa -> bbbbbbbbbbbb)"
        in judgement.mismatches[1].message
    )


def test_unchanged_data_file_explains_nothing() -> None:
    saved = _notebook(*numbered(code("print(1)", stdout("2\n"))))
    fresh = _notebook(*numbered(code("print(1)", stdout("1\n"))))
    same = (DataFile("d.csv", "a" * 64, "a" * 64, read_by=0),)
    assert [m.reason for m in _judge(saved, fresh, data_files=same).mismatches] == [
        Reason.OUTPUT_DIFFERS
    ]


def test_randomness_reaches_readers_through_the_dataflow() -> None:
    cells = [
        code("import numpy as np\nnoise = np.random.rand(3)"),
        code("total = noise.sum()\nother = 1"),
        code("print(total)", stdout("1.5\n")),
        code("print(other)", stdout("2\n")),
    ]
    saved = _notebook(*numbered(*cells))
    fresh_cells = [dict(c) for c in cells]
    fresh_cells[2] = code("print(total)", stdout("1.2\n"))
    fresh_cells[3] = code("print(other)", stdout("1\n"))
    judgement = _judge(saved, _notebook(*numbered(*fresh_cells)))
    assert [(m.cell_index, m.reason) for m in judgement.mismatches] == [
        (2, Reason.NONDETERMINISTIC),
        (3, Reason.NONDETERMINISTIC),
    ]
    assert "reads 'total' from cell 2 (id c1)" in judgement.mismatches[0].message


def test_tags_ignore_output_and_raises_exception() -> None:
    saved = _notebook(
        *numbered(
            code("print(1)", stdout("9\n"), tags=("nb2pipe:ignore-output",)),
            code("print(1)", stdout("9\n"), tags=("nbval-ignore-output",)),
            code("x = 1", tags=("raises-exception",)),
        )
    )
    fresh = _notebook(
        *numbered(code("print(1)", stdout("1\n")), code("print(1)", stdout("1\n")), code("x = 1"))
    )
    judgement = _judge(saved, fresh)
    assert judgement.cells_ignored == 2
    assert [(m.cell_index, m.reason, m.message) for m in judgement.mismatches] == [
        (2, Reason.ERROR, "tagged raises-exception, but the cell raised nothing"),
    ]


def test_failure_is_reported_on_its_cell_and_later_cells_are_not_compared() -> None:
    saved = _notebook(
        *numbered(
            code("print(1)", stdout("1\n")),
            code("while True: pass"),
            code("print(3)", stdout("3\n")),
        )
    )
    fresh = _notebook(
        *numbered(code("print(1)", stdout("1\n")), code("while True: pass")), code("print(3)")
    )
    run = _run(fresh, RunFailure(Reason.TIMEOUT, 1, "the cell ran longer than the 3 s timeout"))
    judgement = _judge(saved, fresh, run=run)
    assert [(m.cell_index, m.reason) for m in judgement.mismatches] == [(1, Reason.TIMEOUT)]
    assert judgement.notes == ["1 later code cell(s) not run after the failure"]


def test_pairing_skips_papermills_injected_parameters_cell() -> None:
    saved = _notebook(code("a = 1", tags=("parameters",)), code("print(a)"))
    fresh = _notebook(
        code("a = 1", tags=("parameters",)),
        code("a = 2", tags=("injected-parameters",)),
        code("print(a)"),
    )
    assert {s: f.index for s, f in pair_code_cells(saved, fresh, parameterized=True).items()} == {
        0: 0,
        1: 2,
    }


def test_notebook_saved_without_outputs_is_judged_on_the_run() -> None:
    saved = _notebook("print(1)", "print(2)")
    fresh = _notebook(*numbered(code("print(1)", stdout("1\n")), code("print(2)", stdout("2\n"))))
    judgement = _judge(saved, fresh)
    assert judgement.mismatches == [] and judgement.cells_compared == 0
    assert judgement.notes == ["saved without outputs: nothing to compare; judged the run alone"]


def test_a_cell_that_writes_a_file_hints_at_it() -> None:
    saved = _notebook(
        *numbered(code("%%writefile notes.txt\nhello", stdout("Overwriting notes.txt\n")))
    )
    fresh = _notebook(
        *numbered(code("%%writefile notes.txt\nhello", stdout("Writing notes.txt\n")))
    )
    run = _run(fresh, accesses=(FileAccess(Path("/x/notes.txt"), True, 1),))
    mismatch = _judge(saved, fresh, run=run).mismatches[0]
    assert mismatch.reason is Reason.OUTPUT_DIFFERS
    assert (
        "the cell writes notes.txt: its output may depend on whether that file existed"
        in mismatch.message
    )


def test_a_raises_exception_cell_reading_an_undefined_name_is_not_a_static_hazard(
    make_notebook,
) -> None:
    from nb2pipe.verify.api import _prepare

    notebook = make_notebook(
        "x = 1", ("f(undefined_w)", ["raises-exception"]), "print(y_missing)"
    )
    prepared = _prepare(notebook)
    assert [(h.kind.value, h.cell_index) for h in prepared.hazards] == [
        ("undefined-in-fresh-kernel", 2)
    ]


def test_a_difference_names_an_environment_the_saved_output_shows() -> None:
    saved = _notebook(code("print(pd.array(['a']))", stdout("<StringArray>\n['a']\n"), count=1))
    fresh = _notebook(code("print(pd.array(['a']))", stdout("<ArrowStringArray>\n['a']\n"), count=1))
    [mismatch] = _judge(saved, fresh).mismatches
    assert mismatch.reason is Reason.OUTPUT_DIFFERS
    assert mismatch.message.endswith(
        "the environment differs: pandas stores strings with pyarrow in the fresh run "
        "(`<StringArray>` saved, `<ArrowStringArray>` now)"
    )


def test_each_difference_quotes_its_cell_and_a_variable_one_suggests_ignore_output() -> None:
    saved = _notebook(
        code("\n# train\nfit(model)", stdout("took 1.2 s: loss 0.5\n"), count=1),
        code("print('done')", stdout("Done\n"), count=2),
    )
    fresh = _notebook(
        code("\n# train\nfit(model)", stdout("took 3.4 s: loss 0.7\n"), count=1),
        code("print('done')", stdout("done\n"), count=2),
    )
    judgement = _judge(saved, fresh)
    timed, plain = judgement.mismatches
    assert (timed.source, timed.hint) == ("# train", IGNORE_OUTPUT_HINT)  # durations normalized
    assert (plain.source, plain.hint) == ("print('done')", "")
    assert judgement.unexplained == {0, 1}
    # a second fresh run differs at the first cell: it is nondeterministic
    marked = mark_nondeterministic(judgement.mismatches, {0: "stdout differs"})
    assert [m.reason for m in marked] == [Reason.NONDETERMINISTIC, Reason.OUTPUT_DIFFERS]
    assert marked[0].message.endswith("— two fresh runs differ (stdout differs)")


def test_a_run_with_other_parameters_is_not_compared_with_the_saved_outputs() -> None:
    saved = _notebook(code("print(n)", stdout("1\n"), count=1))
    fresh = _notebook(code("print(n)", stdout("2\n"), count=1))
    judgement = _judge(saved, fresh, compare_saved=False)
    assert judgement.mismatches == [] and judgement.cells_compared == 0


def test_a_cell_saved_with_an_error_must_raise_again_unless_strict() -> None:
    raised = {"output_type": "error", "ename": "TypeError", "evalue": "no", "traceback": []}
    saved = _notebook(code("1 + 'a'", raised, count=1))
    fresh = _notebook(code("1 + 'a'", count=1))
    [mismatch] = _judge(saved, fresh).mismatches
    assert mismatch.reason is Reason.ERROR
    assert mismatch.message == "saved with an error output, but the cell raised nothing"
    assert [m.reason for m in _judge(saved, fresh, strict_errors=True).mismatches] == [
        Reason.OUTPUT_DIFFERS
    ]


def test_a_difference_only_in_numbers_says_by_how_much_and_suggests_an_rtol() -> None:
    saved = _notebook(code("print(fit())", stdout("ar.L1 0.9957 sigma2 150.762\n"), count=1))
    fresh = _notebook(code("print(fit())", stdout("ar.L1 0.9957 sigma2 150.751\n"), count=1))
    [mismatch] = _judge(saved, fresh).mismatches
    assert mismatch.reason is Reason.OUTPUT_DIFFERS
    assert mismatch.message == (
        "stdout differs — only numbers differ, by up to 7.3e-05 relative (above --rtol 1e-06)"
    )
    assert mismatch.hint.endswith("if that is expected, verify with --rtol 0.0001")


@pytest.mark.parametrize(
    ("saved_value", "fresh_value", "phrase", "hint"),
    [
        # 12% (of the larger value): a real change, whatever tolerance would hide it
        ("0.870", "0.984", "but by up to 12%: more than another BLAS", ""),
        # 1.2e-3: above what another BLAS or CPU moves
        ("1.0000", "1.0012", "but by up to 0.12%: more than another BLAS", ""),
        # a factor of 100: 99% of the larger value
        ("2.0", "200.0", "but by up to 99%: more than another BLAS", ""),
        # 1e-3 exactly, and below: rounding, with the tolerance that passes
        ("1.000", "1.001", "only numbers differ, by up to 1.0e-03 relative", "--rtol 0.001"),
        ("150.762", "150.751", "by up to 7.3e-05 relative", "--rtol 0.0001"),
    ],
)
def test_the_rtol_hint_is_offered_only_for_rounding_sized_differences(
    saved_value: str, fresh_value: str, phrase: str, hint: str
) -> None:
    saved = _notebook(code("print(fit())", stdout(f"score {saved_value}\n"), count=1))
    fresh = _notebook(code("print(fit())", stdout(f"score {fresh_value}\n"), count=1))
    [mismatch] = _judge(saved, fresh).mismatches
    assert phrase in mismatch.message
    if hint:
        assert mismatch.hint.endswith(f"if that is expected, verify with {hint}")
    else:
        assert "--rtol" not in mismatch.hint and "--rtol" not in mismatch.message.split("—")[-1]


def test_an_expected_error_is_judged_from_the_kernel_reply_not_the_outputs() -> None:
    # IPython saves a usage error (a mistyped magic) as a stderr stream, no error output
    saved = _notebook(code("%timeit -badflag x", stderr("UsageError: option -b not recognized\n"),
                           count=1, tags=("raises-exception",)))
    fresh = _notebook(code("%timeit -badflag x", stderr("UsageError: option -b not recognized\n"),
                           count=1, tags=("raises-exception",)))
    replies = {0: CellReply("error", "UsageError", "option -b not recognized")}
    run = NotebookRun(fresh, (), (0,), None, ProbeLog(()), "python3", 0.0, replies=replies)
    assert _judge(saved, fresh, run=run).mismatches == []
    # the same cell answered "ok": it raised nothing, whatever its outputs say
    quiet = NotebookRun(
        fresh, (), (0,), None, ProbeLog(()), "python3", 0.0, replies={0: CellReply("ok")}
    )
    [mismatch] = _judge(saved, fresh, run=quiet).mismatches
    assert mismatch.message == "tagged raises-exception, but the cell raised nothing"
