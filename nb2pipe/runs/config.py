"""``nb2pipe runs --config RUN``: a finished run's effective parameters as a ``--config`` file,
with the exact data versions it read, so a colleague re-runs on the same data.

A parameter that named an S3 object (``s3://bucket/train.csv``) becomes that object at the
version the run read (``s3://bucket/train.csv?versionId=...``, which the runtime reads at that
version); a parameter that named a DVC revision (``data_rev: v1``) becomes the commit it
resolved to. HTTP content and unversioned stores cannot be pinned: the file says so in a
comment, with what a repeat can be checked against (``nb2pipe runs --diff`` shows whether it
read the same content).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

import yaml  # type: ignore[import-untyped]
from nb2pipe_runtime.record import DataSource, JSONValue

from nb2pipe.errors import Nb2PipeError
from nb2pipe.runs.rows import RunRow
from nb2pipe.runs.values import source_version

__all__ = ["PinnedConfig", "pinned_config"]


@dataclass(frozen=True)
class PinnedConfig:
    """The parameters to write and what could not be pinned."""

    params: dict[str, JSONValue]
    #: parameter -> the version it now pins
    pinned: dict[str, str]
    #: one line per source a repeat may read another version of
    notes: tuple[str, ...]
    title: str

    def to_yaml(self) -> str:
        """The file: a comment naming the run, the notes as comments, the parameters."""
        lines = [f"# {self.title}"]
        lines += [f"# {name}: pinned to the version the run read" for name in self.pinned]
        lines += [f"# note: {note}" for note in self.notes]
        body = yaml.safe_dump(
            self.params, sort_keys=False, default_flow_style=False, allow_unicode=True
        )
        return "\n".join(lines) + "\n" + (body if self.params else "{}\n")


def pinned_config(row: RunRow, title: str) -> PinnedConfig:
    """The effective parameters of ``row`` with the data versions it read pinned.

    Raises
    ------
    Nb2PipeError
        The run did not finish (its results are not what a colleague wants to repeat).
    """
    if row.status != "finished":
        raise Nb2PipeError(f"--config {row.label}: the run {row.status}; pick a finished run")
    params = dict(row.params)
    pinned: dict[str, str] = {}
    notes: list[str] = []
    for source in row.sources.values():
        value = params.get(source.parameter) if source.parameter else None
        pin = _pin(source, value)
        if pin is not None and source.parameter is not None:
            params[source.parameter] = pin
            pinned[source.parameter] = pin
            continue
        read = source_version(source)
        if source.parameter is None:
            notes.append(
                f"{source.url} ({read}) is named by the notebook's code, not by a parameter: "
                "a repeat reads whatever is there then"
            )
        else:
            notes.append(
                f"{source.parameter}: {source.url} cannot be pinned ({_why(source)}); the run "
                f"read {read}: `nb2pipe runs --diff` shows whether a repeat read the same"
            )
    return PinnedConfig(params=params, pinned=pinned, notes=tuple(notes), title=title)


def _pin(source: DataSource, value: JSONValue) -> str | None:
    """The parameter value that names the version ``source`` read, if one can."""
    if not isinstance(value, str) or not source.can_pin:
        return None
    if source.dvc is not None:
        commit = source.dvc.commit
        return commit if value == source.dvc.rev and commit else None
    if source.scheme == "s3" and source.version_id is not None and "://" in value:
        parts = urllib.parse.urlsplit(value)
        query = [
            (key, item) for key, item in urllib.parse.parse_qsl(parts.query)
            if key != "versionId"
        ]
        query.append(("versionId", source.version_id))
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    return None


def _why(source: DataSource) -> str:
    if source.scheme in ("http", "https"):
        return "a web server serves whatever it has; the ETag and SHA-256 can only check it"
    if source.dvc is not None:
        return "the parameter names the path, not the revision"
    return f"{source.scheme} gave no version id (a bucket without versioning)"
