"""Each kernel ends when its notebook's run ends, not when verify exits.

nbclient shuts down only kernels whose manager it created; verify once handed it its own and
every kernel stayed alive (its libraries in memory) until the process ended: 43 kernels for
43 notebooks, and as many per pytest-xdist worker under ``pytest --nb2pipe``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nb2pipe.verify import VerifyOptions, verify_paths

from ..conftest import notebook_json

pytestmark = pytest.mark.kernel

WRITE_PID = "import os\nopen('kernel-{name}.pid', 'w').write(str(os.getpid()))"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_no_kernel_outlives_its_notebooks_run(tmp_path: Path) -> None:
    cases = {
        "clean": [WRITE_PID.format(name="clean"), "print(1)"],
        "raises": [WRITE_PID.format(name="raises"), "raise ValueError('boom')"],
        "differs": [WRITE_PID.format(name="differs"), "import random\nprint(random.random())"],
    }
    for name, cells in cases.items():
        (tmp_path / f"{name}.ipynb").write_text(json.dumps(notebook_json(*cells)))
    report = verify_paths([tmp_path], VerifyOptions(jobs=2, script=False))
    assert len(report.notebooks) == 3
    pids = {name: int((tmp_path / f"kernel-{name}.pid").read_text()) for name in cases}
    assert len(set(pids.values())) == 3
    assert [name for name, pid in pids.items() if _alive(pid)] == []


def test_verify_does_not_build_the_iri_grammars_it_never_uses() -> None:
    """jsonschema imports rfc3987_syntax, when installed, and it builds Earley parsers at
    import (seconds) for the iri formats; verify validates no such format."""
    pytest.importorskip("rfc3987_syntax")
    probe = (
        "import sys\n"
        "from nb2pipe.verify.runner import preload\n"
        "preload()\n"
        "import nbformat\n"
        "nbformat.validate(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x')]))\n"
        "print('rfc3987_syntax' in sys.modules, 'jsonschema' in sys.modules)\n"
        "import rfc3987_syntax  # still there for whoever asks for it\n"
        "print(rfc3987_syntax.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "rfc3987_syntax"]
