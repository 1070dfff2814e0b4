"""The command line of an exported script: defaults < --config file < command line."""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
from pathlib import Path
from typing import Any

import pytest
from nb2pipe_runtime import json_or_text, optional, parse_args
from nb2pipe_runtime.cli import command_line, parameter_values

START = datetime.date(2024, 1, 1)


def _parser() -> argparse.ArgumentParser:
    """The parser an exported script builds for a notebook's parameters cell."""
    parser = argparse.ArgumentParser(prog="train.py", description="a notebook")
    parser.add_argument("--n-estimators", type=int, default=100, help="trees in the forest")
    parser.add_argument("--max-depth", type=optional(int), default=3, help="None: no limit")
    parser.add_argument("--features", type=json.loads, default=["a", "b"], help="columns")
    parser.add_argument("--shape", type=json.loads, default=(2, 3), help="a tuple")
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--shuffle", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--data", type=pathlib.Path, default="data/wine.csv", help="the CSV")
    parser.add_argument("--start", type=datetime.date.fromisoformat, default=START)
    parser.add_argument("--model", choices=["rf", "svm"], default="rf", help="which model")
    parser.add_argument("--title", default="wine")
    return parser


def _parse(argv: list[str] | None, **kwargs: Any) -> argparse.Namespace:
    return parse_args(_parser(), argv, **kwargs)


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The error line argparse prints for ``argv`` (and checks the exit code is 2)."""
    with pytest.raises(SystemExit) as exit_info:
        _parse(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_notebook_defaults_without_arguments() -> None:
    args = _parse([])
    assert (args.n_estimators, args.max_depth) == (100, 3)
    assert (args.features, args.shape) == (["a", "b"], (2, 3))
    assert (args.scale, args.shuffle, args.model, args.title) == (0.5, True, "rf", "wine")
    assert args.data == Path("data/wine.csv")
    assert args.start == START


CONFIGS = {
    "yaml": "n_estimators: 200\nscale: 2.0\nfeatures: [x]\n",
    "toml": 'n_estimators = 200\nscale = 2.0\nfeatures = ["x"]\n',
    "json": '{"n_estimators": 200, "scale": 2.0, "features": ["x"]}',
}


@pytest.mark.parametrize("suffix", sorted(CONFIGS))
def test_config_file_replaces_defaults_and_command_line_replaces_both(
    tmp_path: Path, suffix: str
) -> None:
    config = tmp_path / f"params.{suffix}"
    config.write_text(CONFIGS[suffix])
    args = _parse(["--config", str(config), "--n-estimators", "300"])
    assert args.n_estimators == 300  # command line
    assert args.scale == 2.0 and args.features == ["x"]  # config file
    assert args.max_depth == 3 and args.title == "wine"  # notebook defaults


@pytest.mark.parametrize("suffix", sorted(CONFIGS))
def test_config_file_written_with_a_byte_order_mark(tmp_path: Path, suffix: str) -> None:
    config = tmp_path / f"params.{suffix}"
    config.write_text(CONFIGS[suffix], encoding="utf-8-sig")
    assert _parse(["--config", str(config)]).n_estimators == 200


def test_parameters_keep_the_parsers_order_with_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "params.json"
    config.write_text('{"title": "red", "n_estimators": 5}')
    names = list(parameter_values(_parse(["--config", str(config)])))
    assert names == list(parameter_values(_parse([])))
    assert names[:2] == ["n_estimators", "max_depth"]


UNKNOWN = {
    "yaml": "n_trees: 5\n1: one\n",
    "toml": "n_trees = 5\n",
    "json": '{"n_trees": 5}',
}


@pytest.mark.parametrize("suffix", sorted(UNKNOWN))
def test_unknown_config_key_is_an_error_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    config = tmp_path / f"params.{suffix}"
    config.write_text(UNKNOWN[suffix])
    line = _error(capsys, ["--config", str(config)])
    assert line.startswith("train.py: error: --config ")
    assert str(config) in line and "n_trees" in line and "n_estimators" in line


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("n_estimators: many", "n_estimators"),
        ("n_estimators: 2.5", "n_estimators"),
        ("n_estimators: true", "n_estimators"),
        ("scale: [1, 2]", "scale"),
        ("max_depth: deep", "max_depth"),
        ("features: 3", "features"),
        ("shuffle: maybe", "shuffle"),
        ("shuffle: 1", "shuffle"),
        ("data: 5", "data"),
        ("start: tomorrow", "start"),
        ("start: 2024-01-01 10:00:00", "start"),
        ("model: xgboost", "model"),
        ("title: 3", "title"),
    ],
)
def test_wrong_typed_config_value_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str
) -> None:
    config = tmp_path / "params.yaml"
    config.write_text(text + "\n")
    line = _error(capsys, ["--config", str(config)])
    assert line.startswith(f"train.py: error: --config {config}: {key}: ")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("params.ini", "a = 1", "must end in .yaml, .yml, .toml or .json"),
        ("params.yaml", "- 1\n- 2\n", "must hold a mapping"),
        ("params.json", "{", "not JSON"),
        ("params.toml", "a = ", "not TOML"),
        ("params.yaml", "a: [1\nb: 2\n", "not YAML"),
        ("missing.yaml", None, "cannot read"),
    ],
)
def test_unreadable_config_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str | None, message: str
) -> None:
    config = tmp_path / name
    if text is not None:
        config.write_text(text)
    line = _error(capsys, ["--config", str(config)])
    assert str(config) in line and message in line


def test_tuple_default_stays_a_tuple(tmp_path: Path) -> None:
    config = tmp_path / "params.yaml"
    config.write_text("shape: [5, 6]\n")
    assert _parse([]).shape == (2, 3)
    assert _parse(["--shape", "[3, 4]"]).shape == (3, 4)
    assert _parse(["--config", str(config)]).shape == (5, 6)
    assert parameter_values(_parse(["--config", str(config)]))["shape"] == [5, 6]


@pytest.mark.parametrize(
    ("argv", "config", "expected"),
    [
        (["--max-depth", "None"], None, None),
        (["--max-depth", "null"], None, None),
        (["--max-depth", "7"], None, 7),
        ([], "max_depth: null", None),
        ([], "max_depth: ~", None),
        ([], "max_depth: None", None),  # YAML reads None as text, as the command line has it
        ([], "max_depth: 9", 9),
        ([], "max_depth: '9'", 9),
    ],
)
def test_optional_int_accepts_none(
    tmp_path: Path, argv: list[str], config: str | None, expected: int | None
) -> None:
    if config is not None:
        (tmp_path / "params.yaml").write_text(config + "\n")
        argv = [*argv, "--config", str(tmp_path / "params.yaml")]
    assert _parse(argv).max_depth == expected


def test_optional_int_rejects_other_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert "invalid int value: 'deep'" in _error(capsys, ["--max-depth", "deep"])


@pytest.mark.parametrize(
    ("name", "text", "argv", "expected"),
    [
        ("params.yaml", "shuffle: false\n", [], False),
        ("params.yaml", "shuffle: no\n", [], False),
        ("params.yaml", "shuffle: 'off'\n", [], False),
        ("params.toml", "shuffle = false\n", [], False),
        ("params.json", '{"shuffle": false}', [], False),
        ("params.json", '{"shuffle": false}', ["--shuffle"], True),
        ("params.json", '{"shuffle": true}', ["--no-shuffle"], False),
    ],
)
def test_boolean_optional_action_from_config(
    tmp_path: Path, name: str, text: str, argv: list[str], expected: bool
) -> None:
    (tmp_path / name).write_text(text)
    assert _parse(["--config", str(tmp_path / name), *argv]).shuffle is expected


@pytest.mark.parametrize(
    ("name", "text", "argv"),
    [
        ("params.yaml", "data: other.csv\nstart: 2025-03-04\n", []),  # a YAML date
        ("params.yaml", "data: other.csv\nstart: '2025-03-04'\n", []),  # a YAML string
        ("params.toml", 'data = "other.csv"\nstart = 2025-03-04\n', []),  # a TOML date
        ("params.json", '{"data": "other.csv", "start": "2025-03-04"}', []),
        (None, None, ["--data", "other.csv", "--start", "2025-03-04"]),
    ],
)
def test_path_and_date_parameters(
    tmp_path: Path, name: str | None, text: str | None, argv: list[str]
) -> None:
    if name is not None and text is not None:
        (tmp_path / name).write_text(text)
        argv = ["--config", str(tmp_path / name)]
    args = _parse(argv)
    assert args.data == Path("other.csv") and isinstance(args.data, Path)
    assert args.start == datetime.date(2025, 3, 4)
    assert parameter_values(args)["start"] == "2025-03-04"
    assert parameter_values(args)["data"] == "other.csv"


def test_json_parameter_given_as_json_text_in_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "params.yaml"
    config.write_text("features: '[\"x\", \"y\"]'\ntitle: '\"quoted\"'\n")
    args = _parse(["--config", str(config)])
    assert args.features == ["x", "y"]
    assert args.title == '"quoted"'  # a text parameter keeps its text


DUMPED = [
    "--n-estimators", "7",
    "--max-depth", "None",
    "--features", '[1e-05, 2.5e+20, "caf\\u00e9 \\ud83d\\ude00", true, null, {"k": [1]}]',
    "--shape", "[4, 5]",
    "--scale", "1e-05",
    "--no-shuffle",
    "--data", "some dir/data.csv",
    "--start", "2025-12-31",
    "--model", "svm",
    "--title", 'yes: "no" # not a comment',
]


def test_dump_config_reads_back_to_the_same_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parse([*DUMPED, "--dump-config"])
    assert exit_info.value.code == 0
    dumped = capsys.readouterr().out
    assert dumped.splitlines()[0] == "n_estimators: 7"
    config = tmp_path / "params.yaml"
    config.write_text(dumped, encoding="utf-8")
    again = _parse(["--config", str(config)])
    assert vars(again) | {"config": None} == vars(_parse(DUMPED))


def test_dump_config_includes_the_config_files_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "params.toml"
    config.write_text("n_estimators = 11\n")
    with pytest.raises(SystemExit):
        _parse(["--config", str(config), "--scale", "3", "--dump-config"])
    lines = capsys.readouterr().out.splitlines()
    assert "n_estimators: 11" in lines and "scale: 3.0" in lines
    assert not any(line.startswith(("config", "runs_dir", "dump_config")) for line in lines)


def _help(capsys: pytest.CaptureFixture[str], **kwargs: Any) -> str:
    with pytest.raises(SystemExit) as exit_info:
        _parse(["--help"], **kwargs)
    assert exit_info.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def test_help_shows_parameter_defaults_as_typed_back(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys)
    assert "--n-estimators INT trees in the forest (default: 100)" in text
    assert '--features JSON columns (default: ["a", "b"])' in text
    assert "--shape JSON a tuple (default: [2, 3])" in text
    assert "--max-depth INT None: no limit (default: 3)" in text
    assert "--scale FLOAT (default: 0.5)" in text  # no help text: still the default
    assert "--shuffle, --no-shuffle (default: True)" in text
    assert "--start DATE (default: 2024-01-01)" in text
    assert "--model {rf,svm} which model (default: rf)" in text


def test_help_shows_no_none_default_for_run_options(capsys: pytest.CaptureFixture[str]) -> None:
    run_options = _help(capsys, steps=["prepare", "train"]).split("run options:")[1]
    assert "(default: None)" not in run_options and "(default: False)" not in run_options
    assert (
        "--runs-dir DIR where each run writes <run id>/run.json and its artifacts (default: runs)"
    ) in run_options
    assert (
        "--outputs-dir DIR where steps save their outputs for later steps (default: outputs)"
    ) in run_options


def test_help_of_a_default_with_a_percent_sign(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="p.py")
    parser.add_argument("--fmt", default="%d rows")
    with pytest.raises(SystemExit):
        parse_args(parser, ["--help"])
    assert "(default: %d rows)" in capsys.readouterr().out


def test_steps_add_step_and_outputs_dir(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["--step", "train"], steps=["prepare", "train"])
    assert (args.step, args.outputs_dir) == ("train", "outputs")
    assert _parse([], steps=["prepare", "train"]).step is None
    with pytest.raises(SystemExit):
        _parse(["--step", "evaluate"], steps=["prepare", "train"])
    assert "invalid choice: 'evaluate'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _parse(["--step", "train"])  # not a pipeline: no --step
    assert "unrecognized arguments: --step train" in capsys.readouterr().err


def test_run_options_are_not_parameters() -> None:
    args = _parse(["--runs-dir", "elsewhere", "--experiment", "x"], steps=["a"])
    assert args.runs_dir == "elsewhere" and args.experiment == "x"
    assert set(parameter_values(args)) == {
        "n_estimators", "max_depth", "features", "shape", "scale", "shuffle", "data", "start",
        "model", "title",
    }


def test_the_parsed_arguments_are_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    assert command_line(_parse(["--scale", "2"])) == ("--scale", "2")
    monkeypatch.setattr("sys.argv", ["train.py", "--title", "red"])
    args = _parse(None)
    assert args.title == "red" and command_line(args) == ("--title", "red")
    assert "_argv" not in vars(args)
    assert repr(args).startswith("Namespace(n_estimators=100,")


def test_config_keys_may_be_spelled_like_the_options(tmp_path) -> None:
    import argparse

    from nb2pipe_runtime import parse_args

    config = tmp_path / "c.yaml"
    config.write_text("n-estimators: 7\n")
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-estimators", type=int, default=100)
    assert parse_args(parser, ["--config", str(config)]).n_estimators == 7


# ---------------------------------------------------------------------------------------------
# `msg = None` (papermill's idiom): a JSON literal, else papermill's reading of the text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5", 5), ("-3", -3), ("0.5", 0.5), ("1e-3", 0.001),
        ("true", True), ("false", False), ("null", None),
        ("[1, 2]", [1, 2]), ('{"a": [1]}', {"a": [1]}),
        ('"5"', "5"),  # quoted: the text, not the number
        ("True", True), ("False", False), ("None", None),  # papermill's spellings
        (".5", 0.5), ("1_000", 1000), ("010", 10),  # papermill's int() and float()
        ("hello world", "hello world"), ("data/in.csv", "data/in.csv"), ("[1,", "[1,"),
        ("", ""), ("😍", "😍"),
    ],
)
def test_json_or_text(text: str, expected: Any) -> None:
    value = json_or_text(text)
    assert value == expected and type(value) is type(expected)


def test_json_or_text_agrees_with_papermills_p_where_papermill_types_the_text() -> None:
    """papermill's ``-p`` (``papermill.cli._resolve_type``) on its own test inputs and more:
    where it gives a number, a boolean or None, so does the script; JSON adds lists, mappings,
    ``true``/``null`` and quoted text, which papermill passes on as text."""
    resolve_type = pytest.importorskip("papermill.cli")._resolve_type
    for text in ("True", "False", "None", "12.51", "10", "hello world", "😍", "-7", "1e3",
                 ".5", "1_000", "inf", "data.csv", "2024-01-31"):
        ours, theirs = json_or_text(text), resolve_type(text)
        assert ours == theirs and type(ours) is type(theirs), text


def _any_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="papermill.py")
    parser.add_argument("--msg", type=json_or_text, default=None, help="a message")
    return parser


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("msg: 5", 5), ("msg: '5'", "5"), ("msg: hello", "hello"), ("msg: [1, 2]", [1, 2]),
        ("msg: null", None), ("msg: None", None), ("msg: true", True), ("msg: {a: 1}", {"a": 1}),
    ],
)
def test_a_json_or_text_value_from_a_config_file_keeps_the_files_type(
    tmp_path: Path, config: str, expected: Any
) -> None:
    (tmp_path / "params.yaml").write_text(config + "\n")
    value = parse_args(_any_parser(), ["--config", str(tmp_path / "params.yaml")]).msg
    assert value == expected and type(value) is type(expected)


def test_a_json_or_text_parameter_in_help_and_dump_config(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse_args(_any_parser(), ["--help"])
    assert "--msg VALUE" in capsys.readouterr().out
    for argv, dumped in (([], "msg: null"), (["--msg", "[1, 2]"], "msg: [1, 2]"),
                         (["--msg", "5"], "msg: 5"), (["--msg", '"5"'], 'msg: "5"')):
        with pytest.raises(SystemExit):
            parse_args(_any_parser(), [*argv, "--dump-config"])
        assert capsys.readouterr().out == dumped + "\n"
