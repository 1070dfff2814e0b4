"""``nb2pipe runs``: list and compare the recorded runs of exported scripts."""

from nb2pipe.runs.compare import Experiment, RunComparison, RunsQuery, compare_runs
from nb2pipe.runs.diff import RunDiff, diff_runs, format_diff, resolve_run
from nb2pipe.runs.filters import Condition, RunFilter, parse_since, parse_where
from nb2pipe.runs.records import RecordSet, StoredRecord, find_runs_dir, read_records
from nb2pipe.runs.rows import MixedParam, RunRow, StaleInput
from nb2pipe.runs.table import format_table

__all__ = [
    "Condition",
    "Experiment",
    "MixedParam",
    "RecordSet",
    "RunComparison",
    "RunDiff",
    "RunFilter",
    "RunRow",
    "RunsQuery",
    "StaleInput",
    "StoredRecord",
    "compare_runs",
    "diff_runs",
    "find_runs_dir",
    "format_diff",
    "format_table",
    "parse_since",
    "parse_where",
    "read_records",
    "resolve_run",
]
