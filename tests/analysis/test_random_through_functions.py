"""Unseeded draws are followed through the functions a notebook defines."""

from __future__ import annotations

import json

from nb2pipe.analysis import HazardKind, analyze_notebook, find_static_hazards
from nb2pipe.model import notebook_from_json

from ..conftest import notebook_json


def random_hazards(*cells: str) -> list[tuple[int, str]]:
    analysis = analyze_notebook(notebook_from_json(json.dumps(notebook_json(*cells)), None))
    return [
        (h.cell_index, h.message)
        for h in find_static_hazards(analysis)
        if h.kind is HazardKind.UNSEEDED_RANDOM
    ]


def test_a_draw_inside_a_notebook_function_makes_its_caller_draw() -> None:
    assert random_hazards(
        "import numpy as np\nfrom sklearn.datasets import make_blobs",
        "def generate_data(n):\n    X, y = make_blobs(n_samples=n)\n    return X + np.random.randn(n, 2)",
        "data = generate_data(100)",
    ) == [
        (2, "draws random numbers with no seed set: make_blobs in generate_data(), "
            "np.random.randn in generate_data() (line 1)"),
    ]


def test_draws_are_followed_through_functions_calling_functions() -> None:
    hazards = random_hazards(
        "import random",
        "def roll():\n    return random.randint(1, 6)",
        "def two_rolls():\n    return roll() + roll()",
        "total = two_rolls()",
    )
    assert hazards == [
        (3, "draws random numbers with no seed set: random.randint in roll() via two_rolls() (line 1)")
    ]


def test_a_seed_inside_the_function_or_before_the_call_covers_its_draws() -> None:
    assert random_hazards(
        "import numpy as np",
        "def sample():\n    np.random.seed(0)\n    return np.random.rand()",
        "a = sample()",
    ) == []
    assert random_hazards(
        "import numpy as np", "def sample():\n    return np.random.rand()",
        "np.random.seed(1)\nb = sample()",
    ) == []


def test_a_silhouette_score_on_a_sample_draws_only_without_random_state() -> None:
    cells = ("from sklearn import metrics", "def score(X, labels):\n    return metrics.silhouette_score(X, labels, sample_size=300)", "s = score(X, y)")
    assert [index for index, _ in random_hazards(*cells)] == [2]
    seeded = cells[1].replace("sample_size=300", "sample_size=300, random_state=0")
    assert random_hazards(cells[0], seeded, cells[2]) == []
    assert random_hazards(cells[0], cells[1].replace(", sample_size=300", ""), cells[2]) == []


def test_scikit_learn_embeddings_and_generators_started_from_random_vectors_draw() -> None:
    # sklearn's manifold example: LLE's ARPACK start vector is random without random_state
    assert random_hazards(
        "from sklearn import datasets, manifold",
        "points, color = datasets.make_swiss_roll(n_samples=1500, random_state=0)",
        "lle, err = manifold.locally_linear_embedding(points, n_neighbors=12, n_components=2)",
        "seeded = manifold.locally_linear_embedding(points, n_neighbors=12, random_state=0)",
        "other, _ = datasets.make_s_curve(100)",
    ) == [
        (2, "draws random numbers with no seed set: manifold.locally_linear_embedding (line 1)"),
        (4, "draws random numbers with no seed set: datasets.make_s_curve (line 1)"),
    ]
