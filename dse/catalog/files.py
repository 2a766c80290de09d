"""Locations and files of a catalog, through fsspec.

Local paths, ``s3://`` (s3fs) and ``http(s)://`` (read-only). A location is
resolved against the file that names it; a local file is read only when it
is a regular file, and no file beyond ``DSE_MAX_JSON_BYTES``; a local write
replaces the file in one step, and a local catalog is updated under an
advisory lock. ``storage_options`` go to object storage only.
"""

from __future__ import annotations

import builtins
import json
import os
import posixpath
import stat
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from dse.atomic import write_atomic
from dse.errors import DseError

#: helpers of the other catalog modules: nothing here is public
__all__: list[str] = []

_READ_ONLY_SCHEMES = ("http", "https")


def _scheme(url: str) -> str:
    """The URL scheme, or "" for a local path."""
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _absolute(location: str | os.PathLike) -> str:
    """A URL unchanged, a local path made absolute (``file://`` stripped)."""
    text = os.fspath(location)
    if _scheme(text) == "file":
        text = text[len("file://") :]
    return text if _scheme(text) else os.path.abspath(text)


def _resolve(href: str, base: str) -> str:
    """Resolve ``href`` against the document at ``base`` (a path or URL).

    >>> _resolve("../store.zarr", "/data/catalogs/team/x.json")
    '/data/catalogs/store.zarr'
    >>> _resolve("./team/x.json", "s3://bucket/catalogs/team.json")
    's3://bucket/catalogs/team/x.json'
    >>> _resolve("s3://other/store.zarr", "/data/team.json")
    's3://other/store.zarr'
    """
    if _scheme(href):
        return href
    scheme = _scheme(base)
    if not scheme:
        return href if os.path.isabs(href) else os.path.normpath(os.path.join(os.path.dirname(base), href))
    if scheme in _READ_ONLY_SCHEMES:
        return urllib.parse.urljoin(base, href)
    rest = base.split("://", 1)[1]
    return f"{scheme}://{posixpath.normpath(posixpath.join(posixpath.dirname(rest), href))}"


def _relative(target: str, base: str) -> str:
    """An href for ``target`` written in the document at ``base``.

    Relative when both are local paths (the pair can move together), else
    the absolute location.

    >>> _relative("/data/stores/a.zarr", "/data/catalogs/team/a.json")
    '../../stores/a.zarr'
    >>> _relative("/data/catalogs/team/a.json", "/data/catalogs/team.json")
    './team/a.json'
    """
    if _scheme(target) or _scheme(base):
        return target
    rel = os.path.relpath(target, os.path.dirname(base)).replace(os.sep, "/")
    return rel if rel.startswith("..") else f"./{rel}"


def _options(url: str, storage_options: Mapping | None) -> dict:
    """Fsspec options for ``url``: the caller's for object storage, none otherwise."""
    scheme = _scheme(url)
    if not scheme:
        return {"auto_mkdir": True}
    if scheme in _READ_ONLY_SCHEMES:
        return {}
    return dict(storage_options or {})


def _store_options(url: str, storage_options: Mapping | None) -> dict | None:
    """Options for :func:`dse.store.open_results` and friends (None for a local store)."""
    return _options(url, storage_options) if _scheme(url) else None


def _fs(url: str, storage_options: Mapping | None):
    import fsspec

    return fsspec.core.url_to_fs(url, **_options(url, storage_options))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text[:160]}" if text else exc.__class__.__name__


def _item_url(catalog_url: str, entry_id: str, suffix: str = ".json") -> str:
    stem = posixpath.basename(catalog_url.rstrip("/")).removesuffix(".json")
    return _resolve(f"./{stem}/{entry_id}{suffix}", catalog_url)


def _json_limit() -> tuple[int, str]:
    from dse.limits import Limits, current_limits

    return current_limits().max_json_bytes, Limits.variable("max_json_bytes")


def _open_regular(path: str, where: str) -> tuple[int, int]:
    """A read-only descriptor of a regular file and its size; anything else raises DseError.

    Opened without blocking, so a FIFO cannot hang the open; a device
    (``/dev/zero``), FIFO or socket, also behind a symbolic link, is refused
    before a byte is read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise DseError("is a directory, not a file", where=where) from None
    except OSError as exc:
        raise DseError(f"cannot read ({exc.strerror or exc})", where=where) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file (a device, FIFO or socket)"
        raise DseError(f"is {kind}, not read", where=where)
    return fd, info.st_size


def _read_regular(path: str, limit: int, where: str, variable: str | None = None) -> bytes:
    """At most ``limit`` bytes of a regular file.

    A larger file raises DseError (or, without ``variable``, is returned cut at
    ``limit + 1`` bytes for the caller to judge).
    """
    fd, size = _open_regular(path, where)
    with builtins.open(fd, "rb", closefd=True) as fh:
        if variable and size > limit:
            raise DseError(f"is {size:,} bytes, over the limit of {limit:,} ({variable})", where=where)
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise DseError(f"cannot read ({exc.strerror or exc})", where=where) from None
    if variable and len(data) > limit:
        raise DseError(f"is over the limit of {limit:,} bytes ({variable})", where=where)
    return data


def _read_bytes(url: str, storage_options: Mapping | None) -> bytes:
    """The bytes of one catalog, item or manifest file, at most ``DSE_MAX_JSON_BYTES``.

    A missing or unreachable file, a local file that is not a regular file,
    or one over the limit raises DseError.
    """
    limit, variable = _json_limit()
    if not _scheme(url):
        try:
            return _read_regular(url, limit, url, variable)
        except FileNotFoundError:
            raise DseError("does not exist", where=url) from None
    try:
        fs, path = _fs(url, storage_options)
        data = fs.cat_file(path, start=0, end=limit + 1)  # a range request: S3 and HTTP servers stop there
    except FileNotFoundError:
        raise DseError("not found", where=url) from None
    except Exception as exc:  # connection refused, DNS, access denied, ...
        raise DseError(f"cannot read ({_describe(exc)})", where=url) from None
    if len(data) > limit:
        raise DseError(f"is over the limit of {limit:,} bytes ({variable})", where=url)
    return data


def _write_bytes(url: str, data: bytes, storage_options: Mapping | None) -> None:
    """Write a file: atomically (temporary file and rename) when local."""
    if not _scheme(url):
        _atomic_write(Path(url), data)
        return
    if _scheme(url) in _READ_ONLY_SCHEMES:
        raise DseError("http(s) locations are read-only", where=url)
    try:
        fs, path = _fs(url, storage_options)
        fs.pipe_file(path, data)
    except Exception as exc:
        raise DseError(f"cannot write ({_describe(exc)})", where=url) from None


def _atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` in one step (:func:`dse.atomic.write_atomic`).

    Readers see the old or the new file; the folder is made when missing
    (a new catalog's item folder) and an OSError becomes one DseError.
    """
    try:
        path.parent.mkdir(exist_ok=True)
        write_atomic(path, data)
    except OSError as exc:
        raise DseError(f"cannot write ({exc.strerror or exc})", where=str(path)) from None


def _remove(url: str, storage_options: Mapping | None) -> None:
    """Best-effort removal of a file written by a failed add."""
    try:
        if not _scheme(url):
            Path(url).unlink(missing_ok=True)
        else:
            fs, path = _fs(url, storage_options)
            fs.rm_file(path)
    except Exception:  # cleanup must not hide the original error
        pass


def _json_bytes(doc: Mapping, compact: bool = False) -> bytes:
    if compact:
        return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def _parse_json(data: bytes, url: str) -> dict:
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno}: {exc.msg})" if isinstance(exc, json.JSONDecodeError) else ""
        raise DseError(f"not valid JSON{where}", where=url) from None
    if not isinstance(doc, dict):
        raise DseError(f"must hold a JSON object, not {type(doc).__name__}", where=url)
    return doc


@contextmanager
def _locked(catalog_url: str) -> Iterator[None]:
    """Hold an advisory lock on a local catalog (``.<name>.lock`` next to it).

    Object-storage catalogs have no lock: their update is a plain
    read-modify-write (``docs/catalogs.md``).
    """
    if _scheme(catalog_url):
        yield
        return
    import fcntl

    path = Path(catalog_url)
    try:
        handle = builtins.open(path.with_name(f".{path.name}.lock"), "a")
    except OSError as exc:
        raise DseError(f"cannot lock the catalog ({exc.strerror or exc})", where=catalog_url) from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
