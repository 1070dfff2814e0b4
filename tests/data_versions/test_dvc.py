"""A DVC data registry (git + DVC, a local remote, two tagged versions) read through
``dvc.api``: the repository, the revision asked for, the commit it resolved to, the path and
DVC's md5 are recorded; ``--diff`` names both versions; ``--config`` pins the revision to its
commit."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from nb2pipe.export import export_notebook

from ..conftest import notebook_json
from ..runs.conftest import invoke
from .conftest import Registry, run_script
from .test_http import records, write_script

NOTEBOOK = (
    ('registry = ""\ndata_rev = "v1"', ["parameters"]),
    "import io\nimport dvc.api\nimport pandas as pd",
    'wine = pd.read_csv(io.StringIO(dvc.api.read("wine.csv", repo=registry, rev=data_rev)))\n'
    "rows = len(wine)\nprint(rows, 'rows')",
    ("rows_read = float(rows)", ["metrics"]),
)


def rows(registry: Registry, rev: str) -> int:
    return len(registry.contents[rev].splitlines()) - 1  # less the header


def test_two_tagged_versions_read_through_dvc_api(tmp_path: Path, registry: Registry) -> None:
    notebook = tmp_path / "from_registry.ipynb"
    notebook.write_text(json.dumps(notebook_json(*NOTEBOOK)), encoding="utf-8")
    export_notebook(notebook)
    for rev in ("v1", "v2"):
        done = run_script(
            tmp_path, "from_registry.py", "--registry", str(registry.path), "--data-rev", rev
        )
        assert f"{rows(registry, rev)} rows" in done.stdout
    first, second = (record.sources[0] for record in records(tmp_path))
    for source, rev in ((first, "v1"), (second, "v2")):
        assert source.scheme == "dvc" and source.parameter == "data_rev"
        assert source.dvc is not None
        assert (source.dvc.repo, source.dvc.path, source.dvc.rev) == (
            str(registry.path), "wine.csv", rev
        )
        assert source.dvc.commit == registry.commits[rev]
        assert source.dvc.md5 == hashlib.md5(registry.contents[rev]).hexdigest()
        assert source.identity == f"md5:{source.dvc.md5}" and source.pinned == rev
    assert first.url == second.url == f"dvc://{registry.path}#wine.csv"

    diff = invoke(str(tmp_path), "--diff", "1", "2").stdout
    v1, v2 = registry.commits["v1"][:7], registry.commits["v2"][:7]
    assert (
        f"{first.url}  rev v1 = {v1}, md5 {first.dvc.md5[:12]}  ->  "  # type: ignore[union-attr]
        f"rev v2 = {v2}, md5 {second.dvc.md5[:12]}"  # type: ignore[union-attr]
    ) in diff
    table = invoke(str(tmp_path)).stdout
    assert "wine.csv@1" in table and "wine.csv@2" in table

    # the tag may move; the configuration names the commit it was
    config = invoke(str(tmp_path), "--config", "2")
    assert yaml.safe_load(config.stdout)["data_rev"] == registry.commits["v2"]
    (tmp_path / "params.yaml").write_text(config.stdout, encoding="utf-8")
    done = run_script(tmp_path, "from_registry.py", "--config", "params.yaml")
    assert f"{rows(registry, 'v2')} rows" in done.stdout
    third = records(tmp_path)[-1].sources[0]
    assert third.dvc is not None and third.dvc.commit == registry.commits["v2"]
    assert third.dvc.md5 == second.dvc.md5  # type: ignore[union-attr]


def test_dvc_filesystem_and_dvc_api_open(tmp_path: Path, registry: Registry) -> None:
    write_script(tmp_path, """
        import dvc.api
        fs = dvc.api.DVCFileSystem(params.url, rev="v1")
        print(len(fs.read_bytes("wine.csv")))
        with dvc.api.open("wine.csv", repo=params.url, rev="v2", mode="rb") as file:
            print(len(file.read()))
    """)
    done = run_script(tmp_path, "reader.py", "--url", str(registry.path))
    assert done.stdout.split() == [str(len(registry.contents[rev])) for rev in ("v1", "v2")]
    [record] = records(tmp_path)
    assert [(s.dvc.rev, s.dvc.commit) for s in record.sources if s.dvc] == [
        ("v1", registry.commits["v1"]), ("v2", registry.commits["v2"]),
    ]
    # DVC fetching from its remote is part of the DVC read, not a read of its own
    assert {source.scheme for source in record.sources} == {"dvc"}
    assert not [path for path in record.data if "remote" in path]
