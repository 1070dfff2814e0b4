"""Planning steps from the dataflow: inputs, outputs, parameters, prepare, refusals."""

from __future__ import annotations

import pytest

from nb2pipe.errors import ExportError
from nb2pipe.export import ExportOptions, render_notebook
from nb2pipe.model import load_notebook

from ..conftest import SAMPLES
from .helpers import plan_steps


def interface(pipeline):
    return {
        step.name: (dict(step.inputs), step.outputs, step.params) for step in pipeline.steps
    }


def test_sample_steps_inputs_outputs_and_parameters() -> None:
    pipeline = plan_steps(SAMPLES / "pipeline_steps.ipynb")
    assert interface(pipeline) == {
        "load": ({}, ("df",), ("data_path",)),
        # X, y, X_train, scaler: not read by later steps, so not outputs
        "features": (
            {"df": "load"},
            ("X_test_scaled", "X_train_scaled", "feature_cols", "y_test", "y_train"),
            ("test_size", "random_state"),
        ),
        # train only reads X_train_scaled / y_train / feature_cols: it does not output them
        "train": (
            {"X_train_scaled": "features", "feature_cols": "features", "y_train": "features"},
            ("model",),
            ("C", "max_iter"),
        ),
        "evaluate": (
            {"X_test_scaled": "features", "model": "train", "y_test": "features"},
            (),
            (),
        ),
    }
    evaluate = pipeline.step("evaluate")
    assert list(evaluate.metrics.values()) == [("accuracy", "balanced_accuracy", "f1")]
    assert pipeline.step("load").data_params == ("data_path",)


def test_a_step_that_only_reads_a_value_does_not_output_it(make_notebook) -> None:
    notebook = make_notebook(
        ("x = [1, 2]", ["step:a"]), ("print(len(x))", ["step:b"]), ("print(x)", ["step:c"])
    )
    assert interface(plan_steps(notebook)) == {
        "a": ({}, ("x",), ()),
        "b": ({"x": "a"}, (), ()),
        "c": ({"x": "a"}, (), ()),
    }


def test_mutation_in_place_is_an_output(make_notebook) -> None:
    notebook = make_notebook(
        ("rows = [3, 1]", ["step:a"]), ("rows.sort()", ["step:b"]), ("print(rows)", ["step:c"])
    )
    assert interface(plan_steps(notebook)) == {
        "a": ({}, ("rows",), ()),
        "b": ({"rows": "a"}, ("rows",), ()),
        "c": ({"rows": "b"}, (), ()),
    }


@pytest.mark.parametrize(
    ("before", "steps"),
    [
        # imports and definitions move to module level: no prepare step
        (["import math", "def area(r):\n    return math.pi * r * r"], ["a"]),
        # work before the first step forms `prepare`
        (["import math", "radius = 2.0"], ["prepare", "a"]),
        # display-only code leaves nothing to run: no prepare step
        (["import math", "math"], ["a"]),
    ],
)
def test_cells_before_the_first_step_form_prepare_when_they_do_work(
    make_notebook, before: list[str], steps: list[str]
) -> None:
    notebook = make_notebook(*before, ("print(2)", ["step:a"]))
    code = render_notebook(load_notebook(notebook)).code
    assert [s for s in ("prepare", "a") if f'run.step("{s}"' in code] == steps


def test_prepare_without_outputs_also_runs_before_a_single_step(make_notebook) -> None:
    notebook = make_notebook(
        "import random", "random.seed(3)", ("x = random.random()", ["step:a"]), ("print(x)", ["step:b"])
    )
    pipeline = plan_steps(notebook)
    assert pipeline.step("prepare").setup
    assert 'run.step("prepare", prepare, setup=True)' in render_notebook(
        load_notebook(notebook)
    ).code


def test_parameters_read_through_notebook_functions(make_notebook) -> None:
    notebook = make_notebook(
        ("n = 3", ["parameters"]),
        "def repeat(text):\n    return text * n",
        ("word = repeat('ab')", ["step:a"]),
        ("print(word)", ["step:b"]),
    )
    pipeline = plan_steps(notebook)
    assert pipeline.step("a").params == ("n",)
    assert pipeline.function_params == ("n",)
    code = render_notebook(load_notebook(notebook)).code
    assert "    global n\n" in code and "    n = params.n  # notebook functions read it\n" in code


def test_a_parameter_a_step_rebinds_is_that_steps_output(make_notebook) -> None:
    notebook = make_notebook(
        ("scale = 2", ["parameters"]),
        ("scale = scale * 10", ["step:a"]),
        ("print(scale)", ["step:b"]),
    )
    assert interface(plan_steps(notebook)) == {
        "a": ({}, ("scale",), ("scale",)),
        "b": ({"scale": "a"}, (), ()),
    }


def test_a_helper_defined_in_a_step_stays_there_as_a_closure(make_notebook) -> None:
    notebook = make_notebook(
        ("data = [1, 2, 3]", ["step:load"]),
        ("def total():\n    return sum(data)\nresult = total()", ["step:sum"]),
        ("print(result)", ["step:show"]),
    )
    pipeline = plan_steps(notebook)
    assert pipeline.kept_in_steps == {"total"}
    code = render_notebook(load_notebook(notebook)).code
    assert "def sum_step(data):\n" in code  # `sum` is a builtin
    assert "    def total():\n        return sum(data)\n" in code


def test_a_module_level_function_reading_a_step_value_is_refused(make_notebook) -> None:
    notebook = make_notebook(
        "def total():\n    return sum(data)",
        ("data = [1, 2, 3]", ["step:load"]),
        ("print(total())", ["step:show"]),
    )
    with pytest.raises(ExportError, match=r"cell 1.*function 'total' reads 'data'"):
        plan_steps(notebook)


def test_a_function_a_later_step_calls_cannot_be_an_output(make_notebook) -> None:
    notebook = make_notebook(
        ("data = [1, 2]\ndef total():\n    return sum(data)", ["step:load"]),
        ("print(total())", ["step:show"]),
    )
    with pytest.raises(ExportError, match=r"step 'load' defines function 'total', which cell 2"):
        plan_steps(notebook)


def test_step_function_names_do_not_clash_with_notebook_names(make_notebook) -> None:
    notebook = make_notebook(("model = 1", ["step:model"]), ("print(model)", ["step:report"]))
    pipeline = plan_steps(notebook)
    assert [(s.name, s.function) for s in pipeline.steps] == [("model", "model_step"), ("report", "report")]


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([("step = 1", ["parameters"]), ("print(step)", ["step:a"])], "clashes with the script's option --step"),
        ([("x = 1", ["step:a"]), ("y = 2", ["step:b"]), ("z = 3", ["step:a"])], "step 'a' is tagged again"),
    ],
)
def test_refused_pipelines(make_notebook, cells, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        plan_steps(make_notebook(*cells))


def test_notebook_names_like_the_runtimes_get_the_runtime_imported_as_another_name(
    make_notebook,
) -> None:
    notebook = make_notebook(
        ("class Pipeline:\n    pass\nrun = Pipeline()", ["step:a"]),
        ("print(type(run).__name__)", ["step:b"]),
    )
    code = render_notebook(load_notebook(notebook)).code
    assert "from nb2pipe_runtime import Pipeline as Pipeline_, parse_args\n" in code
    assert "with Pipeline_(params, __file__, \"notebook.ipynb\") as run_:\n" in code


def test_dvc_needs_steps(make_notebook) -> None:
    notebook = make_notebook("x = 1")
    with pytest.raises(ExportError, match="--dvc needs pipeline steps"):
        render_notebook(load_notebook(notebook), ExportOptions(dvc=True))


def test_metrics_are_recorded_after_the_metrics_cell(make_notebook) -> None:
    notebook = make_notebook(
        ("values = [1, 2, 3]", ["step:a"]),
        ("mean = sum(values) / 3\nlabel = 'ok'\nfor i in values:\n    last = i", ["metrics"]),
    )
    code = render_notebook(load_notebook(notebook)).code
    # top-level assignments only (`last` is bound in a loop); non-numbers are filtered at run time
    assert "    record_metrics(mean=mean, label=label)\n" in code


def test_a_file_a_step_writes_is_not_its_data_dependency(make_notebook) -> None:
    # the notebook ran before export, so the files it wrote exist: they are outputs, and a
    # fresh clone (`dvc repro`) does not have them
    notebook = make_notebook(
        ('data_path = "in.csv"\nout_path = "scored.csv"', ["parameters"]),
        ('rows = open(data_path).read().split()\nopen("log.txt", "a").write("x")', ["step:load"]),
        (
            'from pathlib import Path\nPath("coefs.json").write_text(str(rows))\n'
            'with open(out_path, "w") as f:\n    f.write("y")\nprint(open("lookup.csv").read())',
            ["step:report"],
        ),
    )
    for name in ("in.csv", "scored.csv", "log.txt", "coefs.json", "lookup.csv"):
        (notebook.parent / name).write_text("a\n")
    pipeline = plan_steps(notebook)
    assert pipeline.step("load").data_params == ("data_path",)
    assert pipeline.step("load").data_files == ()
    assert pipeline.step("report").data_params == ()
    assert pipeline.step("report").data_files == ("lookup.csv",)
