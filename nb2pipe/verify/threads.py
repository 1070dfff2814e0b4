"""How many BLAS/OpenMP threads each kernel and script verify starts may use.

NumPy, SciPy and scikit-learn size their thread pools (OpenBLAS, MKL, OpenMP) to the machine's
cores, and OpenBLAS threads wait for work by spinning. Two kernels doing linear algebra at once
on a machine with as many cores as one of them wants run many times slower than one after the
other: on a 2-core CI runner, the scikit-learn RFE example took 10 s alone and over 100 s beside
another BLAS user. So with ``-j N`` (and the exported script running beside its notebook's
kernel), each process gets the cores divided among the processes running at once, as joblib
does for the workers it starts. A variable the user or the kernelspec already set wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["THREAD_VARIABLES", "thread_environment", "threads_per_process", "usable_cores"]

#: The variables the thread pools of NumPy's and SciPy's BLAS, OpenMP and numexpr read at start
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def threads_per_process(processes: int, cores: int | None = None) -> int | None:
    """The threads each of ``processes`` running at once may use (the cores divided among
    them, at least one), or None when that is every core: no limit is needed."""
    cores = usable_cores() if cores is None else cores
    threads = max(1, cores // max(1, processes))
    return None if threads >= cores else threads


def thread_environment(threads: int | None, base: Mapping[str, str]) -> dict[str, str]:
    """The variables to add to ``base`` (the environment a process starts with) to limit its
    thread pools to ``threads``; none that ``base`` sets already."""
    if threads is None:
        return {}
    return {name: str(threads) for name in THREAD_VARIABLES if name not in base}
