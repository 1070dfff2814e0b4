"""docs/ci.md holds a GitHub Actions workflow that installs nb2pipe and runs `nb2pipe verify`."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml
from click.testing import CliRunner

from nb2pipe.cli import cli
from nb2pipe.verify import Reason

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _workflows() -> list[dict]:
    text = (DOCS / "ci.md").read_text(encoding="utf-8")
    blocks = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]
    return [block for block in blocks if isinstance(block, dict) and "jobs" in block]


def _workflow() -> dict:
    """The workflow that installs nb2pipe its own way and runs ``nb2pipe verify``."""
    [workflow] = [w for w in _workflows() if "pip install nb2pipe" in yaml.safe_dump(w)]
    return workflow


def test_the_action_workflow_passes_only_inputs_the_action_has() -> None:
    action = yaml.safe_load((DOCS.parent / "action.yml").read_text(encoding="utf-8"))
    [step] = [
        step
        for workflow in _workflows()
        for step in workflow["jobs"]["verify"]["steps"]
        if step.get("uses", "").startswith("<owner>/nb2pipe@")
    ]
    assert set(step["with"]) <= set(action["inputs"])
    arguments = shlex.split(step["with"]["args"])
    outcome = CliRunner().invoke(cli, ["verify", ".", *arguments, "--help"])
    assert outcome.exit_code == 0, outcome.output


def test_ci_workflow_installs_nb2pipe_and_runs_verify() -> None:
    workflow = _workflow()
    steps = workflow["jobs"]["verify"]["steps"]
    runs = " ".join(step.get("run", "") for step in steps)
    assert "pip install nb2pipe" in runs
    verify = next(step["run"] for step in steps if "nb2pipe verify" in step.get("run", ""))
    arguments = shlex.split(verify)[2:]
    # every option the workflow uses exists (parsed without running: --help stops there)
    outcome = CliRunner().invoke(cli, ["verify", *arguments, "--help"])
    assert outcome.exit_code == 0, outcome.output
    assert any(step.get("uses", "").startswith("actions/upload-artifact") for step in steps)


def test_ci_doc_lists_every_reason() -> None:
    text = (DOCS / "ci.md").read_text(encoding="utf-8")
    for reason in Reason:
        assert f"| `{reason.value}` |" in text


def test_verify_command_is_documented_and_has_help() -> None:
    outcome = CliRunner().invoke(cli, ["--help"])
    assert "verify" in outcome.output
    help_text = CliRunner().invoke(cli, ["verify", "--help"]).output
    for option in (
        "-j",
        "--timeout",
        "-p",
        "--no-script",
        "--rtol",
        "--update",
        "--json",
        "--junit",
        "--html",
    ):
        assert option in help_text


def test_ci_doc_names_every_masking_rule() -> None:
    from nb2pipe.verify.normalize import NORMALIZER_NAMES

    text = (DOCS / "ci.md").read_text(encoding="utf-8")
    for name in (*NORMALIZER_NAMES, "markup ids"):
        assert f"`{name}`" in text, name
