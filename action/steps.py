"""The steps of the nb2pipe GitHub Action (``action.yml``), runnable on any machine.

    python action/steps.py install     # nb2pipe and its runtime from this checkout, and the
                                       # project's requirements, in one pip run
    python action/steps.py verify      # nb2pipe verify PATHS with the reports and annotations

Inputs come as the action passes them, in environment variables: ``INPUT_PATHS`` (notebooks
or folders, separated by whitespace; default ``.``), ``INPUT_ARGS`` (more ``nb2pipe verify``
options, split like a shell does), ``INPUT_REQUIREMENTS`` (default ``requirements.txt``,
installed when the file exists), ``INPUT_ARTIFACT_NAME`` (named in the summary).
``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY`` and
``RUNNER_TEMP`` are GitHub's; without them (run by hand) outputs go to stdout only and the
reports to ``nb2pipe-verify/`` under the system's temporary folder.

Standard library only: ``install`` runs before nb2pipe is installed. Exit status: pip's for
``install``; verify's for ``verify`` (0 all reproduce, 1 something differs, 2 bad input).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

#: The action's own checkout: nb2pipe (the repository root) and nb2pipe-runtime (runtime/).
ACTION_ROOT = Path(__file__).resolve().parent.parent
REPORT_NAMES = {
    "html": "nb2pipe-verify.html",
    "junit": "nb2pipe-verify.xml",
    "json": "nb2pipe-verify.json",
}


def _input(name: str, default: str = "") -> str:
    return os.environ.get(f"INPUT_{name.upper()}", "").strip() or default


def _group(title: str, command: list[str], env: dict[str, str] | None = None) -> int:
    """Run ``command`` inside a collapsible group of the job's log."""
    print(f"::group::{title}", flush=True)
    print("$ " + shlex.join(command), flush=True)
    try:
        return subprocess.run(command, env=env, check=False).returncode
    finally:
        print("::endgroup::", flush=True)


def install_command(requirements: Path | None) -> list[str]:
    """One pip run for everything, so that the resolver sees the project's pins and
    nb2pipe's requirements together."""
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
    if requirements is not None:
        command += ["-r", str(requirements)]
    return command + [str(ACTION_ROOT / "runtime"), str(ACTION_ROOT)]


def install() -> int:
    requirements = Path(_input("requirements", "requirements.txt"))
    found = requirements if requirements.is_file() else None
    if found is None:
        print(f"no {requirements}: installing nb2pipe only")
    # verify needs no JupyterLab extension: do not build it (it needs node)
    env = {**os.environ, "SKIP_JUPYTER_BUILDER": "1"}
    title = "Install nb2pipe" + (f" and {found}" if found else "")
    return _group(title, install_command(found), env)


def verify_command(paths: list[str], args: list[str], reports: Path) -> list[str]:
    """``nb2pipe verify`` with the three reports, the annotations, and one notebook per core
    unless ``args`` says how many (``-j``/``--jobs``)."""
    jobs = [] if any(a == "-j" or a.startswith(("-j", "--jobs")) for a in args) else [
        "--jobs",
        str(os.cpu_count() or 1),
    ]
    return [
        sys.executable,
        "-m",
        "nb2pipe",
        "verify",
        *paths,
        *jobs,
        "--github-annotations",
        "--html",
        str(reports / REPORT_NAMES["html"]),
        "--junit",
        str(reports / REPORT_NAMES["junit"]),
        "--json",
        str(reports / REPORT_NAMES["json"]),
        *args,
    ]


def verify() -> int:
    paths = shlex.split(_input("paths", "."))
    args = shlex.split(_input("args"))
    reports = Path(os.environ.get("RUNNER_TEMP") or tempfile.gettempdir()) / "nb2pipe-verify"
    reports.mkdir(parents=True, exist_ok=True)
    for name in REPORT_NAMES.values():
        (reports / name).unlink(missing_ok=True)  # no stale report from an earlier run
    command = verify_command(paths, args, reports)
    print("$ " + shlex.join(command), flush=True)
    code = subprocess.run(command, check=False).returncode
    _set_outputs(
        {
            "exit-code": str(code),
            "report-dir": str(reports),
            **{name: str(reports / file) for name, file in REPORT_NAMES.items()},
        }
    )
    _write_summary(reports / REPORT_NAMES["json"])
    return code


def _set_outputs(values: dict[str, str]) -> None:
    target = os.environ.get("GITHUB_OUTPUT")
    lines = [f"{key}={value}" for key, value in values.items()]
    if target:
        with open(target, "a", encoding="utf-8") as file:
            file.write("".join(line + "\n" for line in lines))
    else:
        print("\n".join(lines))


def _write_summary(json_report: Path) -> None:
    """The run's summary page: the verdict, and each failing cell with its reason."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target or not json_report.is_file():
        return
    report = json.loads(json_report.read_text(encoding="utf-8"))
    summary = report["summary"]
    head = f"{summary['reproduce']} of {summary['notebooks']} notebooks reproduce"
    lines = ["## nb2pipe verify", "", ("✅ " if report["ok"] else "❌ ") + head, ""]
    failing = [nb for nb in report["notebooks"] if nb["status"] != "reproduces"]
    if failing:
        lines += ["| notebook | cell | reason | message |", "|---|---|---|---|"]
        for notebook in failing:
            findings = notebook["mismatches"] or [
                {"cell": "notebook", "reason": notebook["status"], "message": notebook["error"]}
            ]
            for finding in findings:
                cells = [notebook["path"], finding["cell"], finding["reason"], finding["message"]]
                lines.append("| " + " | ".join(_cell(str(c)) for c in cells) + " |")
        artifact = _input("artifact_name", "nb2pipe-verify-report")
        lines += ["", f"Each cell's saved and fresh outputs: the `{artifact}` artifact."]
    with open(target, "a", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: list[str]) -> int:
    steps = {"install": install, "verify": verify}
    if len(argv) != 1 or argv[0] not in steps:
        print(f"usage: python {Path(__file__).name} {{{','.join(steps)}}}", file=sys.stderr)
        return 2
    return steps[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
