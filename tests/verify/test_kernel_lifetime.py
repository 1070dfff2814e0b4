"""Each kernel ends when its notebook's run ends, not when verify exits.

nbclient shuts down only kernels whose manager it created; verify once handed it its own and
every kernel stayed alive (its libraries in memory) until the process ended: 43 kernels for
43 notebooks, and as many per pytest-xdist worker under ``pytest --nb2pipe``.
"""

from __future__ import annotations

import json
import os
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
