"""Step outputs saved for later ``--step`` runs, and loaded back."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from nb2pipe_runtime.outputs import (
    MANIFEST,
    OutputsError,
    load_output,
    read_saved_step,
    save_outputs,
)

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")


class Point:
    """A class of the user's own: only pickle can save it."""

    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    __hash__ = None  # type: ignore[assignment]


def _frame() -> Any:
    return pd.DataFrame(
        {"a": [1, 2, 3], "b": [0.5, None, 2.5], "c": ["x", "y", "z"]},
        index=pd.Index([10, 20, 30], name="row"),
    )


def _fitted() -> Any:
    linear_model = pytest.importorskip("sklearn.linear_model")
    pytest.importorskip("joblib")
    return linear_model.LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])


def _same(loaded: Any, value: Any) -> None:
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(loaded, value, check_exact=True)
    elif isinstance(value, pd.Series):
        pd.testing.assert_series_equal(loaded, value, check_exact=True)
    elif isinstance(value, np.ndarray):
        np.testing.assert_array_equal(loaded, value)
        assert loaded.dtype == value.dtype
    elif hasattr(value, "coef_"):  # a fitted estimator
        np.testing.assert_allclose(loaded.predict([[3.0]]), value.predict([[3.0]]))
    else:
        assert loaded == value
        assert type(loaded) is type(value)
        if isinstance(value, dict):
            assert list(loaded) == list(value)  # in its own order


VALUES = [
    pytest.param(_frame, "parquet", id="DataFrame"),
    pytest.param(lambda: pd.Series([1.5, 2.5], name="price"), "parquet", id="Series named"),
    pytest.param(lambda: pd.Series([1, 2], index=["a", "b"]), "parquet", id="Series unnamed"),
    pytest.param(lambda: pd.Series([1, 2], name=3), "parquet", id="Series named by a number"),
    pytest.param(lambda: pd.DataFrame({"mixed": [1, "a"]}), "pickle", id="DataFrame not parquet"),
    pytest.param(lambda: np.arange(6, dtype="int16").reshape(2, 3), "npy", id="ndarray"),
    pytest.param(lambda: np.array([1, "a"], dtype=object), "pickle", id="ndarray of objects"),
    pytest.param(lambda: {"zeta": [1, 2.5], "alpha": {"k": None, "b": True}}, "json", id="dict"),
    pytest.param(lambda: ["a", 1, 2.5, None], "json", id="list"),
    pytest.param(lambda: "text", "json", id="str"),
    pytest.param(lambda: 42, "json", id="int"),
    pytest.param(lambda: (1, 2), "pickle", id="tuple"),
    pytest.param(lambda: float("nan"), "pickle", id="nan"),
    pytest.param(_fitted, "joblib", id="fitted estimator"),
]


@pytest.mark.parametrize(("make", "file_format"), VALUES)
def test_save_and_load_round_trip(tmp_path: Path, make: Any, file_format: str) -> None:
    value = make()
    directory = tmp_path / "outputs" / "prepare"
    saved, _warnings = save_outputs(str(directory), "prepare", {"value": value})
    entry = saved["value"]
    assert entry.format == file_format
    assert entry.model is (file_format == "joblib")
    assert entry.type == f"{type(value).__module__}.{type(value).__qualname__}"
    assert sorted(p.name for p in directory.iterdir()) == sorted([MANIFEST, entry.file])
    manifest = read_saved_step(str(directory))
    assert manifest.outputs["value"] == entry
    loaded = load_output(str(directory), manifest.outputs["value"])
    if isinstance(value, float):
        assert math.isnan(loaded)
    else:
        _same(loaded, value)


def test_a_custom_object_is_pickled_with_a_warning(tmp_path: Path) -> None:
    directory = tmp_path / "step"
    saved, warnings = save_outputs(str(directory), "prepare", {"origin": Point(1, 2)})
    assert saved["origin"].format == "pickle"
    assert warnings == [
        (
            f"step 'prepare': output 'origin' ({__name__}.Point) was saved with pickle: loading "
            "it needs the same library versions"
        )
    ]
    saved_step = read_saved_step(str(directory))
    assert load_output(str(directory), saved_step.outputs["origin"]) == Point(1, 2)


def test_library_values_saved_their_own_way_give_no_warning(tmp_path: Path) -> None:
    _saved, warnings = save_outputs(
        str(tmp_path / "step"), "prepare",
        {"frame": _frame(), "array": np.zeros(3), "mapping": {"a": 1}},
    )
    assert warnings == []


def test_an_unpicklable_value_is_left_out_with_a_warning(tmp_path: Path) -> None:
    directory = tmp_path / "step"
    saved, warnings = save_outputs(
        str(directory), "prepare", {"transform": lambda x: x + 1, "kept": [1, 2]}
    )
    assert list(saved) == ["kept"]
    assert len(warnings) == 1
    assert warnings[0].startswith("step 'prepare': output 'transform' could not be saved (")
    assert warnings[0].endswith("a --step run of a later step cannot load it")
    assert sorted(p.name for p in directory.iterdir()) == ["kept.json", MANIFEST]  # no leftover
    assert list(read_saved_step(str(directory)).outputs) == ["kept"]


def test_manifest_records_the_run_its_parameters_and_data(tmp_path: Path) -> None:
    directory = tmp_path / "step"
    save_outputs(
        str(directory), "prepare", {"rows": [1, 2]}, run_id="20261202-061721-e1c694",
        params={"scale": 0.5, "features": ["a"]}, data={"data/x.csv": "ab" * 32},
    )
    saved = read_saved_step(str(directory))
    assert saved.step == "prepare"
    assert saved.run_id == "20261202-061721-e1c694"
    assert saved.params == {"scale": 0.5, "features": ["a"]}
    assert saved.data == {"data/x.csv": "ab" * 32}


def test_saving_again_replaces_the_steps_folder(tmp_path: Path) -> None:
    directory = tmp_path / "step"
    save_outputs(str(directory), "prepare", {"old": [1]})
    save_outputs(str(directory), "prepare", {"new": [2]})
    assert sorted(p.name for p in directory.iterdir()) == [MANIFEST, "new.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["step"]


def test_a_run_stopped_while_saving_leaves_the_last_outputs_whole(tmp_path: Path) -> None:
    """The outputs are written beside the step's folder and take its place once all are
    written: a run stopped half-way (Ctrl-C while pickling) leaves the last run's folder."""

    class StopsThePickler:
        def __reduce__(self) -> Any:
            raise KeyboardInterrupt

    directory = tmp_path / "step"
    save_outputs(str(directory), "prepare", {"rows": [1, 2]}, run_id="first")
    with pytest.raises(KeyboardInterrupt):
        save_outputs(str(directory), "prepare", {"rows": [3], "odd": StopsThePickler()})
    assert read_saved_step(str(directory)).run_id == "first"
    assert sorted(p.name for p in directory.iterdir()) == [MANIFEST, "rows.json"]
    assert json.loads((directory / "rows.json").read_text()) == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["step"]


@pytest.mark.parametrize(
    "manifest",
    [
        None,
        "{not json",
        "[]",
        '{"step": "prepare"}',
        '{"outputs": {"x": {"file": "x.json"}}}',
        '{"outputs": {"x": {"file": "x.csv", "format": "csv", "type": "builtins.list"}}}',
    ],
)
def test_an_unreadable_manifest_is_an_outputs_error(tmp_path: Path, manifest: str | None) -> None:
    tmp_path.joinpath("x.csv").write_text("a\n")
    if manifest is not None:
        tmp_path.joinpath(MANIFEST).write_text(manifest)
    with pytest.raises(OutputsError, match="no saved outputs in"):
        read_saved_step(str(tmp_path))


def test_manifest_is_json_a_person_can_read(tmp_path: Path) -> None:
    save_outputs(str(tmp_path / "step"), "prepare", {"rows": [1]}, run_id="r")
    manifest = json.loads((tmp_path / "step" / MANIFEST).read_text())
    assert manifest["outputs"] == {
        "rows": {"file": "rows.json", "format": "json", "type": "builtins.list", "model": False,
                 "series_name": None}
    }


def test_a_frame_parquet_would_change_is_pickled_with_a_warning(tmp_path: Path) -> None:
    mixed = pd.DataFrame({"m": [1, "a"]})
    saved, warnings = save_outputs(str(tmp_path / "step"), "prepare", {"mixed": mixed})
    assert saved["mixed"].format == "pickle"
    type_name = f"{type(mixed).__module__}.{type(mixed).__qualname__}"
    assert warnings == [
        f"step 'prepare': output 'mixed' ({type_name}) was saved with pickle (parquet would "
        + "not give it back exactly): loading it needs the same library versions"
    ]

