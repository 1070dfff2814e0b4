"""What IPython's shell escapes and file magics did, as plain Python (``!cmd``, ``%%bash`` ...)."""

from __future__ import annotations

import os
import subprocess
import sys

__all__ = ["shell", "shell_output", "shell_script", "write_file"]


def shell(command: str) -> None:
    """Run a shell command, as the notebook's ``!command`` did; fail on a non-zero exit."""
    sys.stdout.flush()
    subprocess.run(command, shell=True, check=True)


def shell_output(command: str) -> list[str]:
    """Run a shell command and return its output lines, as ``x = !command`` did."""
    result = subprocess.run(command, shell=True, check=True, capture_output=True, text=True)
    return result.stdout.splitlines()


def shell_script(shell: str, script: str) -> None:
    """Run a script with a shell, as a ``%%bash`` / ``%%sh`` cell did; fail on a non-zero exit."""
    sys.stdout.flush()
    subprocess.run([shell], input=script, text=True, check=True)


def write_file(path: str, text: str, append: bool = False) -> None:
    """Write a file, as a ``%%writefile`` cell did (with its message)."""
    exists = os.path.exists(path)
    print(("Appending to" if append else "Overwriting" if exists else "Writing"), path)
    with open(path, "a" if append else "w", encoding="utf-8") as file:
        file.write(text)
