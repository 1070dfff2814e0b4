"""Recover the path to a notebook's saved outputs: the shells a search for it runs on."""

from nb2pipe.recover.shell import CellResult, Checkpoint, ForkUnsafe, ShellError, ShellServer

__all__ = ["CellResult", "Checkpoint", "ForkUnsafe", "ShellError", "ShellServer"]
