"""Split the option flags off a magic's argument line (``-n 10 -r 3 x = f()``).

This reads IPython's small option language of the magic line, not Python source.
"""

from __future__ import annotations

__all__ = ["split_magic_options"]

#: For each code magic: option letters that take a value (``-n 10`` / ``-n10``), and flags.
_VALUE_OPTIONS: dict[str, frozenset[str]] = {
    "timeit": frozenset("nrp"),
    "prun": frozenset("lsTD"),
    "lprun": frozenset("fmDTu"),  # line_profiler: -f FUNC, -m MODULE, -D/-T FILE, -u UNIT
    "memit": frozenset("rt"),  # memory_profiler: -r REPEAT, -t TIMEOUT
    "mprun": frozenset("fT"),  # memory_profiler: -f FUNC, -T FILE
    "time": frozenset(),
    "capture": frozenset(),
}


def split_magic_options(magic: str, line: str) -> tuple[list[str], str]:
    """Return the leading option tokens and the rest of ``line`` (the code or the argument)."""
    takes_value = _VALUE_OPTIONS.get(magic, frozenset())
    options: list[str] = []
    rest = line.lstrip()
    while rest.startswith("-"):
        token, _, remainder = rest.partition(" ")
        if token == "-":
            break
        options.append(token)
        letter = token.lstrip("-")[:1]
        if not token.startswith("--") and letter in takes_value and len(token) == 2:
            value, _, remainder = remainder.lstrip().partition(" ")
            options.append(value)
        rest = remainder.lstrip()
    return options, rest
