"""One form for bad input, whichever command meets it: ``nb2pipe: error: <one line>``, exit 2.

Commands raise :class:`~nb2pipe.errors.Nb2PipeError`; the ``nb2pipe`` group reports it
(``nb2pipe.cli.report_error``). Each case is a refusal a user meets, through the real command.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from nb2pipe.cli import cli

from .conftest import SAMPLES


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["recover", "{tmp}/missing.ipynb"], "nb2pipe: error: missing.ipynb: no such file"),
        (["runs", "{tmp}"], "nb2pipe: error: {tmp}: no run records (runs/<run id>/run.json) here"),
        (["sweep", "{tmp}/missing.py", "-p", "x=1"], "nb2pipe: error: {tmp}/missing.py: no such script"),
        (["export", "{nb}", "-o", "{tmp}/file/"], "nb2pipe: error: -o {tmp}/file/: exists and is not a folder"),
    ],
    ids=["recover", "runs", "sweep", "export"],
)
def test_bad_input_is_one_line_and_exit_2(command: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    fill = {"tmp": str(tmp_path), "nb": str(SAMPLES / "train_classifier.ipynb")}
    code, stdout, stderr = _run(*(part.format(**fill) for part in command))
    assert code == 2
    assert stderr.startswith(message.format(**fill)) and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr and stdout == ""
