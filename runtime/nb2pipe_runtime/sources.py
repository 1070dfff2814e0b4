"""Which data code running in this process reads from elsewhere than a local file, and which
version of it: the remote half of the file audit (:mod:`nb2pipe_runtime.audit`).

A run record names a local file by its SHA-256; data read from a bucket, a web server or a DVC
registry never opens a local file, so the audit hook cannot see it. This module wraps the
readers a script imports, when it imports them (it imports none of them itself):

- **fsspec** (pandas' ``s3://``, ``gs://``, ``az://``, ``hf://``, ...):
  ``AbstractFileSystem.open``; the store's identity of the content comes from the details the
  file object already fetched (S3 ``VersionId``, ``ETag``, ``LastModified``; GCS
  ``generation``; ...). ``dvc.api.DVCFileSystem`` is an fsspec file system too.
- **urllib** (pandas' ``http(s)://`` reader): ``OpenerDirector.open`` for GET requests;
  ``ETag``, ``Last-Modified`` and ``Content-Length`` from the response.
- **requests**: ``Session.send`` for GET requests, the same headers.
- **dvc.api** ``open``/``read``: the repository and the revision asked for, the commit it
  resolved to and DVC's md5 of the path.

Each read also gets the SHA-256 of its bytes when the code read the whole object, in order.
Only the script's own reads count: a read made while nb2pipe, MLflow or DVC's own machinery is
on the stack (a tracking server's requests, DVC fetching from its remote) is left out.

A URL that pins an S3 version (``?versionId=``) is read at that version even when the
filesystem was not made version-aware (s3fs would read the latest one); a read that returns
another version ends the run with one line.

Like :mod:`~nb2pipe_runtime.audit`, the module is standard library only and imports no other
module of the package (verify may execute its source in a kernel).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import re
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["SourceAudit", "SourceRead", "VersionRefused", "install_source_hooks"]

#: Top-level packages whose own requests are not the script's data reads.
_NOT_THE_SCRIPTS = frozenset({
    "nb2pipe", "nb2pipe_runtime", "mlflow", "_nb2pipe_verify_audit", "_nb2pipe_verify_sources",
})
#: DVC's packages: what they read is recorded once, as the DVC read that asked for it.
_DVC_PACKAGES = frozenset({
    "dvc", "dvc_data", "dvc_objects", "scmrepo", "dvc_http", "dvc_s3", "dvc_gs", "dvc_azure",
    "dvc_ssh", "dvc_gdrive", "dvc_oss", "dvc_hdfs", "dvc_webdav", "dvc_webhdfs",
})
#: fsspec protocols of local files: the audit hook sees them as files.
_LOCAL_PROTOCOLS = frozenset({"file", "local"})
#: query parameters that are credentials, not part of a URL's identity (signed URLs, tokens)
_SECRET_QUERY = re.compile(
    r"^(x-amz-.*|x-goog-.*|sig|signature|se|sp|sv|sr|st|skoid|sktid|skt|ske|sks|skv|token|"
    r"access_token|api_key|apikey|key|credential|expires|awsaccesskeyid|policy)$",
    re.IGNORECASE,
)


class VersionRefused(SystemExit):
    """A pinned version that cannot be read as asked: ends the run with one line (a
    ``SystemExit`` so the script prints no traceback and exits 1)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"nb2pipe: error: {message}")
        self.message = message


class SourceRead:
    """One object read from a store: its URL and what the store and the bytes say of its
    version. Mutable while the code reads it (the hash completes at its end)."""

    def __init__(self, url: str, scheme: str) -> None:
        self.url = url
        self.scheme = scheme
        self.size: int | None = None
        self.sha256: str | None = None
        #: the store's version of the object: S3 VersionId, GCS generation, Azure version id
        self.version_id: str | None = None
        self.etag: str | None = None
        self.last_modified: str | None = None
        #: the version the code asked for (a URL's ``versionId``, a DVC revision)
        self.pinned: str | None = None
        #: DVC: the repository as asked (``""``: the project the run is in), the path in it,
        #: the revision asked for, the commit it resolved to and DVC's md5 of the path
        self.dvc_repo: str | None = None
        self.dvc_path: str | None = None
        self.dvc_rev: str | None = None
        self.dvc_commit: str | None = None
        self.dvc_md5: str | None = None
        self._digest: Any = hashlib.sha256()
        self._position = 0
        self._hashing = True

    def __repr__(self) -> str:
        return f"SourceRead({self.url!r}, version_id={self.version_id!r}, sha256={self.sha256!r})"

    # -- the bytes -------------------------------------------------------------------------
    def feed(self, data: Any, at: int | None, whole: bool) -> None:
        """Note bytes the code read: ``at`` is the offset they came from when the reader knows
        it (bytes read again after a seek back count once; a seek past what was read stops
        the hash); ``whole``: the read asked for everything left. A read that gets nothing is
        the end of the object."""
        if not self._hashing or self.sha256 is not None:
            return
        start = self._position if at is None else at
        if start > self._position:  # a seek past what was read: the hash cannot go on
            self._hashing = False
            return
        size = len(data)
        end = start + size
        if end > self._position:  # bytes read again after a seek back are hashed once
            self._digest.update(memoryview(data)[self._position - start:])
            self._position = end
        if whole or size == 0 or (self.size is not None and self._position >= self.size):
            self.complete()

    def complete(self) -> None:
        """The code read the whole object: its hash is known."""
        if self._hashing and self.sha256 is None:
            self.sha256 = self._digest.hexdigest()
            if self.size is None:
                self.size = self._position

    def give_up_hash(self) -> None:
        self._hashing = False


class SourceAudit:
    """Collects the remote reads made while it is started (see the module's docstring).

    ``on_read`` is called with each read when it is first seen and again when its hash is
    known; it must not raise.
    """

    def __init__(self, on_read: Callable[[SourceRead], None] | None = None) -> None:
        self.reads: list[SourceRead] = []
        self.on_read = on_read

    def start(self) -> SourceAudit:
        install_source_hooks()
        if self not in _SOURCE_AUDITS:
            _SOURCE_AUDITS.append(self)
        return self

    def stop(self) -> list[SourceRead]:
        if self in _SOURCE_AUDITS:
            _SOURCE_AUDITS.remove(self)
        return list(self.reads)

    @property
    def active(self) -> bool:
        return self in _SOURCE_AUDITS

    def saw(self, read: SourceRead) -> None:
        self.reads.append(read)
        self.changed(read)

    def changed(self, read: SourceRead) -> None:
        if self.on_read is not None:
            self.on_read(read)


#: The source audits collecting now; every hook passes straight through while it is empty.
_SOURCE_AUDITS: list[SourceAudit] = []
_SOURCE_STATE = threading.local()


def _listening() -> bool:
    return bool(_SOURCE_AUDITS) and not getattr(_SOURCE_STATE, "busy", False)


def _note(read: SourceRead) -> None:
    for audit in tuple(_SOURCE_AUDITS):
        audit.saw(read)


def _note_change(read: SourceRead) -> None:
    for audit in tuple(_SOURCE_AUDITS):
        if read in audit.reads:
            audit.changed(read)


def _callers() -> Iterator[str]:
    """The top-level package of each frame on the stack, innermost first (this module's own
    frames left out)."""
    own = globals()
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if isinstance(name, str) and frame.f_globals is not own:
            yield name.partition(".")[0]
        frame = frame.f_back  # type: ignore[assignment]


def _the_scripts_read(dvc_read: bool = False) -> bool:
    """Whether the read being made is the script's own: not nb2pipe's or MLflow's, and not DVC
    fetching data for a DVC read (``dvc_read``: the read is DVC's file system itself)."""
    for package in _callers():
        if package in _NOT_THE_SCRIPTS:
            return False
        if package in _DVC_PACKAGES and not dvc_read:
            return False
    return True


def public_url(url: str) -> str:
    """``url`` without what identifies the reader rather than the data: credentials in its
    network location, signatures and tokens in its query, and a pinned ``versionId``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query = [
        (key, value) for key, value in pairs
        if not _SECRET_QUERY.match(key) and key != "versionId"
    ]
    if netloc == parts.netloc and len(query) == len(pairs):
        return url
    # by hand: urlunsplit drops the `//` of an empty network location (memory:///x)
    text = f"{parts.scheme}://{netloc}{parts.path}" if "://" in url else url.partition("?")[0]
    if query:
        text += "?" + urllib.parse.urlencode(query)
    return text + (f"#{parts.fragment}" if parts.fragment else "")


def pinned_version(url: str) -> str | None:
    """The ``versionId`` a URL asks for, if any."""
    query = urllib.parse.urlsplit(url).query if "?" in url else ""
    for key, value in urllib.parse.parse_qsl(query):
        if key == "versionId" and value:
            return value
    return None


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _details_versions(read: SourceRead, details: Any) -> None:
    """The store's identity of an object from an fsspec ``info`` dict: S3 (``VersionId``,
    ``ETag``, ``LastModified``), GCS (``generation``, ``etag``, ``updated``), Azure
    (``version_id``, ``etag``, ``last_modified``), Hugging Face (``last_commit``, ``lfs``'s
    sha256), HTTP (``ETag``, ``Last-Modified``)."""
    if not isinstance(details, dict):
        return
    lower = {str(key).lower(): value for key, value in details.items()}
    size = lower.get("size")
    if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
        read.size = size
    for key in ("versionid", "version_id", "generation"):
        version = _text(lower.get(key))
        if version is not None and version != "null":
            read.version_id = version
            break
    else:
        commit = lower.get("last_commit")
        oid = getattr(commit, "oid", None)
        if isinstance(commit, dict):
            oid = commit.get("oid")
        blob = lower.get("blob_id")
        if oid or blob:
            read.version_id = _text(blob or oid)
    read.etag = _text(lower.get("etag")) or read.etag
    modified = lower.get("lastmodified") or lower.get("last_modified") or lower.get("updated")
    modified = modified or lower.get("last-modified") or lower.get("mtime")
    read.last_modified = _text(modified) or read.last_modified
    lfs = lower.get("lfs")
    sha = lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)
    if isinstance(sha, str) and len(sha) == 64:
        read.sha256 = sha


def _headers_versions(read: SourceRead, headers: Any) -> None:
    """``ETag``, ``Last-Modified`` and ``Content-Length`` of an HTTP response."""
    try:
        read.etag = _text(headers.get("ETag"))
        read.last_modified = _text(headers.get("Last-Modified"))
        length = headers.get("Content-Length")
        encoding = headers.get("Content-Encoding")
    except Exception:  # noqa: BLE001 - headers of an unknown shape: no version from them
        return
    if length is not None and str(length).isdigit() and not encoding:
        read.size = int(length)


def _hash_reads(file: Any, read: SourceRead) -> bool:
    """Make ``file``'s read methods feed ``read``'s hash (on the instance: nothing else
    changes). False when the object takes no new attributes."""
    seekable = False
    try:
        seekable = bool(file.seekable())
    except Exception:  # noqa: BLE001 - a reader without seekable(): offsets unknown
        seekable = False
    depth = [0]

    def wrap(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        into = name.startswith("readinto")

        def reader(*args: Any, **kwargs: Any) -> Any:
            if depth[0]:
                return original(*args, **kwargs)  # a read method built on another one
            at = None
            if seekable:
                try:
                    at = int(file.tell())
                except Exception:  # noqa: BLE001
                    at = None
            depth[0] += 1
            try:
                result = original(*args, **kwargs)
            finally:
                depth[0] -= 1
            try:
                if into:
                    data = memoryview(args[0]).cast("B")[: result or 0]
                    whole = False
                else:
                    data = result
                    asked = args[0] if args else kwargs.get("size", kwargs.get("amt", -1))
                    everything = asked is None or (isinstance(asked, int) and asked < 0)
                    whole = name == "read" and everything
                if isinstance(data, (bytes, bytearray, memoryview)):
                    known = read.sha256
                    read.feed(data, at, whole)
                    if known is None and read.sha256 is not None:
                        _note_change(read)
                else:
                    read.give_up_hash()
            except Exception:  # noqa: BLE001 - hashing must never break the code's read
                read.give_up_hash()
            return result

        return reader

    try:
        for name in ("read", "read1", "readinto", "readinto1", "readline"):
            original = getattr(file, name, None)
            if callable(original):
                setattr(file, name, wrap(name, original))
    except (AttributeError, TypeError):
        read.give_up_hash()
        return False
    return True


# -- fsspec ---------------------------------------------------------------------------------------
def _protocol(fs: Any) -> str:
    protocol = getattr(fs, "protocol", "")
    if isinstance(protocol, (tuple, list)):
        protocol = protocol[0] if protocol else ""
    return str(protocol)


def _is_dvc_filesystem(fs: Any) -> bool:
    return type(fs).__module__.startswith("dvc.fs") and type(fs).__name__ == "_DVCFileSystem"


def _patch_fsspec(module: Any) -> None:
    spec = sys.modules.get("fsspec.spec") or getattr(module, "spec", None)
    base = getattr(spec, "AbstractFileSystem", None)
    if base is None or getattr(base.open, "_nb2pipe_sources", False):
        return
    original = base.open

    def open(self: Any, path: Any, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
        if (
            not _listening() or "b" not in mode or "r" not in mode or "+" in mode
            or not isinstance(path, str)
        ):
            return original(self, path, mode, *args, **kwargs)
        dvc = _is_dvc_filesystem(self)
        protocol = "dvc" if dvc else _protocol(self)
        if protocol in _LOCAL_PROTOCOLS or not _the_scripts_read(dvc_read=dvc):
            return original(self, path, mode, *args, **kwargs)
        return _fsspec_open(self, original, protocol, path, mode, args, kwargs)

    open._nb2pipe_sources = True  # type: ignore[attr-defined]
    base.open = open


def _fsspec_open(
    fs: Any, original: Callable[..., Any], protocol: str, path: str, mode: str,
    args: tuple[Any, ...], kwargs: dict[str, Any],
) -> Any:
    _SOURCE_STATE.busy = True  # what fsspec opens inside this open is part of it
    try:
        asked = pinned_version(path) if "?versionId=" in path else None
        opener = fs
        if asked is not None and getattr(fs, "version_aware", None) is False:
            # s3fs reads the latest version of a `?versionId=` URL unless the filesystem is
            # version-aware: read the version asked for with a version-aware twin
            try:
                opener = type(fs)(**{**fs.storage_options, "version_aware": True})
            except Exception as exc:  # noqa: BLE001
                raise VersionRefused(
                    f"{public_url(_url(fs, protocol, path))}: cannot read version {asked}: "
                    f"{type(fs).__name__} is not version-aware ({exc})"
                ) from None
        try:
            file = original(opener, path, mode, *args, **kwargs)
        except Exception as exc:
            if asked is None:
                raise
            # a version that is not there (or a store that cannot read versions): one line
            raise VersionRefused(
                f"{public_url(_url(fs, protocol, path))}: cannot read version {asked}: "
                f"{type(exc).__name__}: {' '.join(str(exc).split()) or 'no such version'}"
            ) from None
        read = SourceRead(public_url(_url(fs, protocol, path)), protocol)
        read.pinned = asked
        if protocol == "dvc":
            _dvc_versions(read, fs, path)
        else:
            _details_versions(read, getattr(file, "details", None))
            if getattr(file, "version_id", None):
                read.version_id = str(file.version_id)
        if asked is not None and read.version_id != asked:
            try:
                file.close()
            except Exception:  # noqa: BLE001, S110
                pass
            raise VersionRefused(
                f"{read.url}: asked for version {asked}, but {type(fs).__name__} read "
                f"{read.version_id or 'an unversioned object'}"
            )
        size = getattr(file, "size", None)
        if read.size is None and isinstance(size, int) and not isinstance(size, bool):
            read.size = size
        if protocol == "dvc" or kwargs.get("compression") or not _hash_reads(file, read):
            read.give_up_hash()
        _note(read)
        return file
    finally:
        _SOURCE_STATE.busy = False


def _url(fs: Any, protocol: str, path: str) -> str:
    if protocol == "dvc":
        return f"dvc://{path.lstrip('/')}"
    try:
        return str(fs.unstrip_protocol(path))
    except Exception:  # noqa: BLE001
        return f"{protocol}://{path}"


# -- DVC ---------------------------------------------------------------------------------------
def _dvc_asked() -> list[tuple[str | None, str | None]]:
    """What ``dvc.api.open``/``read`` asked for in this thread, innermost last: (repo, rev)."""
    asked: list[tuple[str | None, str | None]] | None = getattr(_SOURCE_STATE, "dvc", None)
    if asked is None:
        asked = _SOURCE_STATE.dvc = []
    return asked


def _dvc_versions(read: SourceRead, fs: Any, path: str) -> None:
    """The repository, revision, commit and md5 of a read through DVC's file system."""
    repo_kwargs = getattr(fs, "_repo_kwargs", None) or {}
    asked = _dvc_asked()
    repo, rev = asked[-1] if asked else (repo_kwargs.get("url"), repo_kwargs.get("rev"))
    read.dvc_repo = str(repo) if repo else ""
    read.dvc_rev = str(rev) if rev else None
    read.dvc_path = path.lstrip("/")
    read.pinned = read.dvc_rev
    try:
        dvc_repo = fs.repo
        read.dvc_commit = _text(dvc_repo.get_rev())
    except Exception:  # noqa: BLE001 - not a git repository: no commit
        read.dvc_commit = None
    try:
        info = fs.info(path)
        dvc_info = info.get("dvc_info") or {}
        md5 = dvc_info.get("md5") or (dvc_info.get("entry") or {}).get("md5")
        read.dvc_md5 = _text(md5)
        size = info.get("size")
        if isinstance(size, int):
            read.size = size
    except Exception:  # noqa: BLE001 - a git-tracked file: no md5
        read.dvc_md5 = None
    where = read.dvc_repo or "."
    read.url = f"dvc://{where}#{read.dvc_path}" if read.dvc_repo else f"dvc://{read.dvc_path}"


def _patch_dvc_api(module: Any) -> None:
    data = sys.modules.get("dvc.api.data")
    inner = getattr(data, "_open", None)
    if inner is None or getattr(inner, "_nb2pipe_sources", False):
        return

    def _open(path: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        # a generator, as dvc.api's own: ``open`` makes a context manager of it
        asked = _dvc_asked()
        asked.append((kwargs.get("repo"), kwargs.get("rev")))
        try:
            yield from inner(path, *args, **kwargs)
        finally:
            asked.pop()

    _open._nb2pipe_sources = True  # type: ignore[attr-defined]
    data._open = _open  # type: ignore[union-attr]


# -- urllib ---------------------------------------------------------------------------------------
def _patch_urllib(module: Any) -> None:
    director = getattr(module, "OpenerDirector", None)
    if director is None or getattr(director.open, "_nb2pipe_sources", False):
        return
    original = director.open

    def open(self: Any, fullurl: Any, data: Any = None, *args: Any, **kwargs: Any) -> Any:
        if not _listening() or data is not None:
            return original(self, fullurl, data, *args, **kwargs)
        url = fullurl if isinstance(fullurl, str) else getattr(fullurl, "full_url", "")
        method = "GET" if isinstance(fullurl, str) else fullurl.get_method()
        scheme = str(url).partition(":")[0].lower()
        if method != "GET" or scheme not in ("http", "https") or not _the_scripts_read():
            return original(self, fullurl, data, *args, **kwargs)
        _SOURCE_STATE.busy = True
        try:
            response = original(self, fullurl, data, *args, **kwargs)
        finally:
            _SOURCE_STATE.busy = False
        read = SourceRead(public_url(str(url)), scheme)
        _headers_versions(read, getattr(response, "headers", None))
        if getattr(response, "status", 200) == 206 or not _hash_reads(response, read):
            read.give_up_hash()  # a range of the object: not its version
        _note(read)
        return response

    open._nb2pipe_sources = True  # type: ignore[attr-defined]
    director.open = open


# -- requests -------------------------------------------------------------------------------------
def _patch_requests(module: Any) -> None:
    sessions = sys.modules.get("requests.sessions") or getattr(module, "sessions", None)
    session = getattr(sessions, "Session", None)
    if session is None or getattr(session.send, "_nb2pipe_sources", False):
        return
    original = session.send

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        if (
            not _listening() or getattr(request, "method", "") != "GET"
            or not _the_scripts_read()
        ):
            return original(self, request, **kwargs)
        _SOURCE_STATE.busy = True  # redirects are sent from inside: one read
        try:
            response = original(self, request, **kwargs)
        finally:
            _SOURCE_STATE.busy = False
        url = str(getattr(request, "url", ""))
        read = SourceRead(public_url(url), url.partition(":")[0].lower())
        _headers_versions(read, getattr(response, "headers", None))
        if getattr(response, "status_code", 200) == 206:
            read.give_up_hash()
        elif not kwargs.get("stream"):
            content = getattr(response, "_content", None)
            if isinstance(content, bytes):
                read.size = len(content)
                read.feed(content, None, True)
            else:
                read.give_up_hash()
        else:
            _hash_stream(response, read)
        _note(read)
        return response

    send._nb2pipe_sources = True  # type: ignore[attr-defined]
    session.send = send


def _hash_stream(response: Any, read: SourceRead) -> None:
    """A streamed response: its content is read through ``iter_content`` (``.content`` and
    ``iter_lines`` too)."""
    original = response.iter_content
    read.size = None  # the decoded content, not the bytes on the wire

    def iter_content(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for chunk in original(*args, **kwargs):
            if isinstance(chunk, (bytes, bytearray)):
                read.feed(chunk, None, False)
            else:
                read.give_up_hash()
            yield chunk
        read.complete()
        _note_change(read)

    try:
        response.iter_content = iter_content
    except AttributeError:
        read.give_up_hash()


# -- hooking what the script imports ----------------------------------------------------------
#: module name -> how to wrap it once it is imported
_PATCHES: dict[str, Callable[[Any], None]] = {
    "fsspec.spec": _patch_fsspec,
    "urllib.request": _patch_urllib,
    "requests.sessions": _patch_requests,
    "dvc.api.data": _patch_dvc_api,
}


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Wraps a module of :data:`_PATCHES` right after it is imported (finds nothing itself)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        patch = _PATCHES.get(name)
        if patch is None or getattr(_SOURCE_STATE, "importing", None) == name:
            return None
        _SOURCE_STATE.importing = name
        try:
            import importlib.util

            spec = importlib.util.find_spec(name)
        finally:
            _SOURCE_STATE.importing = None
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _PatchingLoader(spec.loader, patch)
        return spec


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, patch: Callable[[Any], None]) -> None:
        self.loader = loader
        self.patch = patch

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        try:
            self.patch(module)
        except Exception:  # noqa: BLE001, S110 - a reader of another shape stays unwrapped
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


_SOURCE_HOOKS: list[_PatchOnImport] = []


def install_source_hooks() -> None:
    """Wrap the readers already imported, and the others when they are (once a process)."""
    if _SOURCE_HOOKS:
        return
    finder = _PatchOnImport()
    _SOURCE_HOOKS.append(finder)
    sys.meta_path.insert(0, finder)
    for name, patch in _PATCHES.items():
        module = sys.modules.get(name)
        if module is not None:
            try:
                patch(module)
            except Exception:  # noqa: BLE001, S110
                pass
