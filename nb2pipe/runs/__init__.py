"""``nb2pipe runs``: list and compare the recorded runs of exported pipelines."""

from nb2pipe.runs.records import RunComparison, RunRow, compare_runs, find_runs_dir, read_records
from nb2pipe.runs.table import format_table

__all__ = [
    "RunComparison",
    "RunRow",
    "compare_runs",
    "find_runs_dir",
    "format_table",
    "read_records",
]
