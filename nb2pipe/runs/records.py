"""Find and read the run records exported scripts write (``runs/<run id>/run.json``).

Records are read only through :func:`nb2pipe_runtime.reading.read_record`, which checks every
field and upgrades records written before the format had a version; a record it refuses is
kept with its one-line reason, so ``nb2pipe runs`` can list it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

from nb2pipe_runtime.reading import RunRecordError, read_record
from nb2pipe_runtime.record import RECORD_NAME, RunRecord

from nb2pipe.errors import Nb2PipeError

__all__ = [
    "RECORD_NAME",
    "RecordSet",
    "StoredRecord",
    "find_runs_dir",
    "moment",
    "read_records",
]

_EARLIEST = datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)


def moment(text: str) -> datetime.datetime:
    """A record's ``start``/``end`` (ISO 8601) as an aware datetime; no zone means UTC (the
    format's zone), an unreadable one sorts first."""
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return _EARLIEST
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.timezone.utc)


@dataclass(frozen=True)
class StoredRecord:
    """A run record and where it lies on disk."""

    record: RunRecord
    path: Path  #: the ``run.json``

    @property
    def run_dir(self) -> Path:
        """``runs/<run id>/``: the record and the run's ``artifacts/``."""
        return self.path.parent


@dataclass(frozen=True)
class RecordSet:
    """The readable records of a runs folder, oldest first, and the unreadable ones."""

    runs_dir: Path
    records: tuple[StoredRecord, ...] = ()
    #: ``run.json`` path -> the one-line reason it cannot be read
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def project(self) -> Path:
        """The folder the scripts ran in (where relative data paths start): the parent of a
        folder called ``runs``, else the runs folder itself."""
        return self.runs_dir.parent if self.runs_dir.name == "runs" else self.runs_dir


def find_runs_dir(path: Path, allow_empty: bool = False) -> Path:
    """The folder of run records for ``path``: ``path/runs`` or ``path`` itself.

    Parameters
    ----------
    path
        A project folder (holding ``runs/``) or a runs folder.
    allow_empty
        Return ``path/runs`` when neither holds records instead of raising.

    Returns
    -------
    Path
        The folder whose ``*/run.json`` are the records.

    Raises
    ------
    Nb2PipeError
        Neither holds run records (unless ``allow_empty``).
    """
    for candidate in (path / "runs", path):
        if candidate.is_dir() and any(candidate.glob(f"*/{RECORD_NAME}")):
            return candidate
    if allow_empty:
        return path / "runs"
    raise Nb2PipeError(f"{path}: no run records (runs/<run id>/{RECORD_NAME}) here")


def read_records(runs_dir: Path) -> RecordSet:
    """Read every ``<run id>/run.json`` under ``runs_dir``.

    Parameters
    ----------
    runs_dir
        The folder of run records.

    Returns
    -------
    RecordSet
        The records oldest first (by start, then run id) and the unreadable ones with reasons.
    """
    found: list[StoredRecord] = []
    unreadable: dict[str, str] = {}
    for path in sorted(runs_dir.glob(f"*/{RECORD_NAME}")):
        try:
            record = read_record(path)
        except RunRecordError as exc:
            # the message starts with the path; the table names the path itself
            unreadable[str(path)] = str(exc).removeprefix(f"{path}: ")
            continue
        found.append(StoredRecord(record, path))
    found.sort(key=lambda stored: (moment(stored.record.start), stored.record.run_id))
    return RecordSet(runs_dir=runs_dir, records=tuple(found), unreadable=unreadable)
