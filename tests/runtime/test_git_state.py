"""The run record's code version: the commit and the files that differ from it, read from real
git repositories (``git status --porcelain=v1 -z``), as a user's checkout would be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from nb2pipe_runtime.environment import changed_files, git_state
from nb2pipe_runtime.reading import read_record

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit of a few files (names with a space and non-ASCII ones)."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q")
    for name in ("a.txt", "dvc.lock", "b.txt", "my data.csv", "données.csv", "gone.txt",
                 "old name.txt"):
        (root / name).write_text(f"{name}\n", encoding="utf-8")
    (root / ".gitignore").write_text("ignored.csv\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return root


def test_a_clean_checkout(repo: Path) -> None:
    state = git_state(str(repo))
    assert state is not None
    assert state.commit == git(repo, "rev-parse", "HEAD").strip()
    assert (state.dirty, state.changed) == (False, ())


def test_outside_a_repository(tmp_path: Path) -> None:
    assert git_state(str(tmp_path)) is None


def test_every_kind_of_change_keeps_whole_names(repo: Path) -> None:
    (repo / "a.txt").write_text("changed\n")  # " M": the first line starts with a space
    (repo / "dvc.lock").write_text("changed\n")
    (repo / "b.txt").write_text("staged\n")
    git(repo, "add", "b.txt")  # "M "
    (repo / "my data.csv").write_text("changed\n")  # a space: git would quote it without -z
    (repo / "données.csv").write_text("changé\n")  # non-ASCII: "\303\251" without -z
    (repo / "gone.txt").unlink()  # " D"
    git(repo, "mv", "old name.txt", "new näme.txt")  # "R  old name.txt -> new näme.txt"
    (repo / "added.txt").write_text("new\n")
    git(repo, "add", "added.txt")  # "A "
    (repo / "scratch.txt").write_text("untracked, not read\n")
    status = git(repo, "status", "--porcelain=v1")
    assert status.startswith(" M a.txt") and '"' in status  # the cases the old parsing broke
    state = git_state(str(repo))
    assert state is not None and state.dirty
    assert state.changed == (
        "a.txt", "added.txt", "b.txt", "donn\u00e9es.csv", "dvc.lock", "gone.txt",
        "my data.csv", "new n\u00e4me.txt",
    )


def test_staged_deletion_and_a_rename_in_the_working_tree(repo: Path) -> None:
    git(repo, "rm", "-q", "gone.txt")  # "D "
    (repo / "a.txt").rename(repo / "c.txt")
    git(repo, "add", "-A", "a.txt", "c.txt")  # a rename, staged from the working tree
    state = git_state(str(repo))
    assert state is not None
    assert state.changed == ("c.txt", "gone.txt")


def test_porcelain_entries_are_parsed_by_their_fields() -> None:
    status = (
        b" M a.txt\0R  new name.txt\0old name.txt\0C  copy.py\0orig.py\0"
        b"MM both.txt\0?? untracked.txt\0UU conflict.txt\0 D d\xc3\xa9.txt\0"
    )
    assert changed_files(status) == [
        "a.txt", "new name.txt", "copy.py", "both.txt", "untracked.txt", "conflict.txt",
        "d\u00e9.txt",
    ]
    assert changed_files(b"") == []


def test_untracked_files_count_when_the_run_read_them(repo: Path) -> None:
    (repo / "helpers.py").write_text("X = 1\n")
    (repo / "extra data.csv").write_text("x\n")
    (repo / "ignored.csv").write_text("x\n")  # in .gitignore: never a change
    (repo / "scratch.txt").write_text("not read\n")
    (repo / "runs" / "20260101-000000-abcdef").mkdir(parents=True)
    (repo / "runs" / "20260101-000000-abcdef" / "run.json").write_text("{}")
    read = [repo / "helpers.py", repo / "extra data.csv", repo / "ignored.csv", repo / "a.txt",
            repo.parent / "elsewhere.csv"]
    state = git_state(str(repo), [str(path) for path in read])
    assert state is not None and state.dirty
    assert state.changed == ("extra data.csv", "helpers.py")


def test_paths_are_relative_to_the_repositorys_top_folder(repo: Path) -> None:
    (repo / "sub").mkdir()
    (repo / "sub" / "step.py").write_text("x = 1\n")
    (repo / "a.txt").write_text("changed\n")
    state = git_state(str(repo / "sub"), [str(repo / "sub" / "step.py")])
    assert state is not None
    assert state.changed == ("a.txt", "sub/step.py")


def test_at_most_fifty_names_but_still_dirty(repo: Path) -> None:
    names = [f"f{index:03}.txt" for index in range(60)]
    for name in names:
        (repo / name).write_text("x\n")
    state = git_state(str(repo), [str(repo / name) for name in names])
    assert state is not None and state.dirty
    assert state.changed == tuple(names[:50])


# -- what a real run of a script records ----------------------------------------------------
SCRIPT = '''
import argparse

from helpers import scale
from nb2pipe_runtime import Run, parse_args, record_metrics


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2)
    params = parse_args(parser, argv)
    with Run(params, __file__, "train.ipynb"):
        with open("data.csv") as file:
            total = sum(float(line) for line in file.read().split()[1:])
        with open("summary.txt", "w") as file:  # a file every run writes
            file.write(str(total))
        record_metrics(total=scale(total) * params.n)


if __name__ == "__main__":
    main()
'''


def _run(repo: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "train.py"], cwd=repo, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    newest = max((repo / "runs").glob("*/run.json"), key=lambda path: path.stat().st_mtime_ns)
    git_part = json.loads(newest.read_text())["git"]
    assert read_record(newest).git is not None
    return dict(git_part)


def test_a_committed_script_runs_clean_again_and_again(repo: Path) -> None:
    """A run's own records and the files runs write do not make later runs dirty."""
    (repo / "train.py").write_text(textwrap.dedent(SCRIPT))
    (repo / "helpers.py").write_text("def scale(x):\n    return 2 * x\n")
    (repo / "data.csv").write_text("x\n1\n2\n")
    git(repo, "add", "train.py", "helpers.py", "data.csv")
    git(repo, "commit", "-q", "-m", "the script")
    first = _run(repo)
    second = _run(repo)
    assert first == second == {
        "commit": git(repo, "rev-parse", "HEAD").strip(), "dirty": False, "changed": [],
    }
    assert (repo / "summary.txt").is_file() and "runs/" in git(repo, "status", "--porcelain")


def test_an_uncommitted_script_and_its_untracked_helper_make_the_run_dirty(repo: Path) -> None:
    """The commit alone does not hold the code that ran: the script before its first commit,
    a helper module it imported (before the run started), a data file it read."""
    (repo / "train.py").write_text(textwrap.dedent(SCRIPT))
    (repo / "helpers.py").write_text("def scale(x):\n    return 2 * x\n")
    (repo / "data.csv").write_text("x\n1\n2\n")
    recorded = _run(repo)
    assert recorded["dirty"] is True
    assert recorded["changed"] == ["data.csv", "helpers.py", "train.py"]
