"""Dataflow across cells and the static hazards derived from it."""

from __future__ import annotations

import json

from nb2pipe.analysis import HazardKind, analyze_notebook, find_static_hazards
from nb2pipe.model import notebook_from_json

from ..conftest import notebook_json


def analyse(*cells, counts=None):
    data = notebook_json(*cells)
    for cell, count in zip(data["cells"], counts or []):
        cell["execution_count"] = count
    return analyze_notebook(notebook_from_json(json.dumps(data)))


def kinds(analysis):
    return [(h.kind, h.cell_index, h.names) for h in find_static_hazards(analysis)]


def test_inputs_link_to_the_last_writer() -> None:
    analysis = analyse("a = 1", "b = a + 1", "a = 5", "print(a, b)")
    flows = analysis.dataflow.flows
    assert flows[1].inputs == {"a": 0}
    assert flows[3].inputs == {"a": 2, "b": 1}


def test_calling_module_functions_is_not_a_mutation() -> None:
    analysis = analyse("import numpy as np\nc = np.zeros(2)", "np.add(c, 1, out=c)")
    assert analysis.dataflow.flows[1].effects.mutates == {"c"}


def test_calling_a_notebook_function_reads_its_globals_and_mutations() -> None:
    analysis = analyse(
        "def add(xs):\n    xs.append(limit)", "limit = 3\nvalues = []", "add(values)"
    )
    flow = analysis.dataflow.flows[2]
    assert flow.effects.reads >= {"add", "values", "limit"}
    assert "values" in flow.effects.mutates
    assert not flow.undefined


def test_notebook_functions_change_arguments_passed_by_keyword_and_through_helpers() -> None:
    analysis = analyse(
        "def add(xs, v):\n    xs.append(v)",
        "def add_twice(xs, v):\n    add(xs, v)\n    add(xs, v)",
        "bag = []\ndata = []",
        "add(v=1, xs=bag)",
        "add_twice(data, 1)",
    )
    assert analysis.dataflow.flows[3].effects.mutates == {"bag"}
    assert analysis.dataflow.flows[4].effects.mutates == {"data"}


def test_methods_of_the_notebooks_classes_that_change_self_change_the_receiver() -> None:
    analysis = analyse(
        "class Log:\n    def __init__(self):\n        self.lines = []\n"
        "    def write(self, s):\n        self.lines.append(s)\n    def show(self):\n        print(self.lines)",
        "log = Log()\nlogs = [Log()]",
        "log.write('a')\nlog.show()",
        "logs[0].write('b')",
    )
    assert analysis.dataflow.flows[2].effects.mutates == {"log"}
    assert analysis.dataflow.flows[3].effects.mutates == {"logs"}
    assert analysis.dataflow.flows[3].inputs["logs"] == 1


def test_undefined_in_fresh_kernel_names_the_later_definition() -> None:
    analysis = analyse("print(total)", "total = 1")
    (hazard,) = find_static_hazards(analysis)
    assert hazard.kind is HazardKind.UNDEFINED_IN_FRESH_KERNEL
    assert hazard.cell_index == 0 and hazard.names == ("total",)
    assert "defined below in [2]" in hazard.message


def test_function_reading_a_later_global_is_fine_when_called_after() -> None:
    assert kinds(analyse("def f():\n    return k", "k = 2", "f()")) == []
    assert kinds(analyse("def f():\n    return k", "f()", "k = 2"))[0][0] is HazardKind.UNDEFINED_IN_FRESH_KERNEL


def test_unseeded_random_and_seeded_random() -> None:
    unseeded = analyse("import numpy as np", "x = np.random.rand(3)")
    assert kinds(unseeded) == [(HazardKind.UNSEEDED_RANDOM, 1, ("np.random.rand",))]
    seeded = analyse("import numpy as np\nnp.random.seed(0)", "x = np.random.rand(3)")
    assert kinds(seeded) == []
    rng = analyse("import numpy as np", "rng = np.random.default_rng()")
    assert kinds(rng)[0][0] is HazardKind.UNSEEDED_RANDOM
    assert kinds(analyse("import numpy as np", "rng = np.random.default_rng(42)")) == []


def test_sklearn_random_state() -> None:
    bare = analyse("from sklearn.model_selection import train_test_split", "a, b = train_test_split(X)")
    assert (HazardKind.UNSEEDED_RANDOM, 1, ("train_test_split",)) in kinds(bare)
    fixed = analyse("from sklearn.model_selection import train_test_split\nX = [1, 2]",
                    "a, b = train_test_split(X, random_state=0)")
    assert kinds(fixed) == []


def test_saved_execution_counts_out_of_order() -> None:
    analysis = analyse("a = 1", "b = 2", "c = 3", counts=[1, 3, 2])
    assert kinds(analysis) == [(HazardKind.OUT_OF_ORDER, 2, ())]


def test_multiple_definitions_skip_conventional_and_refining_rebinds() -> None:
    analysis = analyse(
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()",
        "fig, ax = plt.subplots()",
        "df = load()\nfor i in range(2):\n    pass",
        "df = df.dropna()\nfor i in range(3):\n    pass",
        "model = 1",
        "model = 2",
    )
    found = [h for h in find_static_hazards(analysis) if h.kind is HazardKind.MULTIPLE_DEFINITIONS]
    assert [(h.names, h.cell_index) for h in found] == [(("model",), 5)]
