"""Catalogs of results stores: publish, discover, verify and open shared results.

A catalog is a `STAC <https://stacspec.org>`_ Collection (one JSON file) with
one STAC Item per results store (``docs/catalogs.md`` says why STAC). For a
catalog ``team.json`` the files are::

    team.json                    STAC Collection: title, extent, one "item" link per entry
    team/<id>.json               STAC Item: provenance of one store and its assets
    team/<id>.<digest>.manifest.json   every object of the store: size and SHA-256

The item's ``zarr`` asset points at the store: relative to the item when the
store lies on the same file system as a local catalog (so a clone of the
repository opens it from anywhere), absolute for object storage. Its
``manifest`` asset carries its own checksum (``file:checksum``, a multihash),
so :func:`verify` trusts nothing it has not checked.

Everything is read and written through fsspec: local paths, ``s3://`` (s3fs)
and ``http(s)://`` (read-only). Credentials come from the standard AWS
environment or configuration files only; ``storage_options`` (for example an
``endpoint_url``) are passed to object storage and never written anywhere.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import functools
import hashlib
import json
import os
import posixpath
import re
import stat
import tempfile
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dse.errors import DseError, StoreError

__all__ = [
    "Catalog",
    "Entry",
    "add",
    "load",
    "entries",
    "show",
    "open",
    "open_all",
    "verify",
    "verify_entry",
    "build_manifest",
    "copy_store",
    "manifest_problems",
    "store_location",
]

MANIFEST_FORMAT = "dse-manifest/1"
ZARR_MEDIA_TYPE = "application/vnd+zarr"
ITEM_MEDIA_TYPE = "application/geo+json"
#: objects read or written per request batch: at most this many bytes ...
BATCH_BYTES = 64 * 2**20
#: ... and this many objects
BATCH_OBJECTS = 256
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_READ_ONLY_SCHEMES = ("http", "https")


# --------------------------------------------------------------------------- locations
def _scheme(url: str) -> str:
    """The URL scheme, or "" for a local path."""
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _absolute(location: str | os.PathLike) -> str:
    """A URL unchanged, a local path made absolute (``file://`` stripped)."""
    text = os.fspath(location)
    if _scheme(text) == "file":
        text = text[len("file://"):]
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
    """fsspec options for ``url``: the caller's for object storage, none otherwise."""
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


# --------------------------------------------------------------------------- reading and writing files
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
    """At most ``limit`` bytes of a regular file; a larger one raises DseError (or, without
    ``variable``, is returned cut at ``limit + 1`` bytes for the caller to judge)."""
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
    """Replace ``path`` by ``data`` in one step: readers see the old or the new file."""
    try:
        path.parent.mkdir(exist_ok=True)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise DseError(f"cannot write ({exc.strerror or exc})", where=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise DseError(f"cannot write ({exc.strerror or exc})", where=str(path)) from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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


# --------------------------------------------------------------------------- manifests
def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _multihash(data: bytes) -> str:
    """SHA-256 multihash (hex), the form of STAC's ``file:checksum``.

    >>> _multihash(b"")[:8]
    '1220e3b0'
    """
    return "1220" + _digest(data)


def _list_objects(fs, root: str) -> dict[str, int]:
    """Every object below ``root``: relative key → size in bytes."""
    prefix = root.rstrip("/") + "/"
    found = fs.find(root, detail=True)
    return {path[len(prefix):]: int(info.get("size") or 0) for path, info in found.items()
            if info.get("type") != "directory" and path.startswith(prefix)}


def _batches(sizes: Iterable[tuple[str, int]]) -> Iterator[list[str]]:
    """Keys grouped so that one batch is at most BATCH_BYTES or BATCH_OBJECTS."""
    batch: list[str] = []
    total = 0
    for key, size in sizes:
        if batch and (total + size > BATCH_BYTES or len(batch) >= BATCH_OBJECTS):
            yield batch
            batch, total = [], 0
        batch.append(key)
        total += size
    if batch:
        yield batch


def _join(root: str, key: str) -> str:
    return f"{root.rstrip('/')}/{key}"


def _check_key(key: object, where: str) -> str:
    """A manifest key: a relative path inside the store (no ``..``, no absolute path).

    >>> _check_key("li/cost/c/0", "m")
    'li/cost/c/0'
    >>> _check_key("../../../etc/shadow", "m")
    Traceback (most recent call last):
    ...
    dse.errors.DseError: m: object key '../../../etc/shadow' is not a relative path inside the store
    """
    ok = (isinstance(key, str) and key and not key.startswith("/") and "\\" not in key and "\x00" not in key
          and ":" not in key.split("/", 1)[0] and all(part not in ("", ".", "..") for part in key.split("/")))
    if not ok:
        raise DseError(f"object key {str(key)[:200]!r} is not a relative path inside the store", where=where)
    return key


def _local_object(root: str, key: str, limit: int) -> bytes | None | str:
    """At most ``limit`` bytes of one object of a local store; None when missing; a
    problem (str) when it leaves the store or is not a regular file."""
    path = os.path.join(root, *key.split("/"))
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if not real.startswith(real_root.rstrip(os.sep) + os.sep):
        return "links outside the store (not read)"
    try:
        return _read_regular(path, limit, path)
    except FileNotFoundError:
        return None
    except DseError as exc:
        return exc.message


def _read_batch(fs, root: str, keys: list[str], url: str,
                sizes: Mapping[str, int] | None = None) -> dict[str, bytes | None]:
    """Bytes of each key (None when the object is missing).

    A local store's objects are read only inside the store and only from
    regular files, each at most one byte past its expected size (``sizes``),
    so a link to ``/dev/zero``, a FIFO or a grown file costs nothing.
    """
    if not _scheme(url):
        out: dict[str, bytes | None] = {}
        for key in keys:
            limit = (sizes or {}).get(key, BATCH_BYTES) + 1
            value = _local_object(root, _check_key(key, url), limit)
            if isinstance(value, str):
                raise DseError(f"object {key}: {value}", where=url)
            out[key] = value
        return out
    paths = {key: _join(root, key) for key in keys}
    try:
        found = fs.cat(list(paths.values()), on_error="return")
    except Exception as exc:
        raise DseError(f"cannot read ({_describe(exc)})", where=url) from None
    out: dict[str, bytes | None] = {}
    for key, path in paths.items():
        value = found.get(path)
        if isinstance(value, FileNotFoundError) or value is None:
            out[key] = None
        elif isinstance(value, BaseException):
            raise DseError(f"cannot read {key} ({_describe(value)})", where=url)
        else:
            out[key] = bytes(value)
    return out


def _store_objects(url: str, storage_options: Mapping | None) -> tuple[Any, str, dict[str, int]]:
    try:
        fs, root = _fs(url, storage_options)
        sizes = _list_objects(fs, root)
    except Exception as exc:
        raise StoreError(f"cannot list the store ({_describe(exc)})", where=url) from None
    if not sizes:
        raise StoreError("has no objects (not a store, or empty)", where=url)
    return fs, root, sizes


def build_manifest(store: str, storage_options: Mapping | None = None) -> dict:
    """Size and SHA-256 of every object of a store.

    Parameters
    ----------
    store : str
        Local path or URL of a Zarr store (any file system fsspec lists).
    storage_options : mapping, optional
        fsspec options for object storage (e.g. ``{"endpoint_url": ...}``).

    Returns
    -------
    dict
        ``{"format": "dse-manifest/1", "algorithm": "sha256",
        "objects": {key: [size, sha256-hex]}}`` with keys relative to the
        store root (``li/cycle_life/c/0/0/0/0/0/0/0/0``).
    """
    url = _absolute(store)
    fs, root, sizes = _store_objects(url, storage_options)
    objects: dict[str, list] = {}
    for batch in _batches(sorted(sizes.items())):
        for key, data in _read_batch(fs, root, batch, url, sizes).items():
            if data is None:
                raise StoreError(f"object {key} vanished while it was read", where=url)
            if len(data) > sizes[key]:
                raise StoreError(f"object {key} grew while it was read", where=url)
            objects[key] = [len(data), _digest(data)]
    return {"format": MANIFEST_FORMAT, "algorithm": "sha256", "objects": objects}


def copy_store(source: str, target: str, storage_options: Mapping | None = None) -> dict:
    """Copy every object of a store to ``target`` and return its manifest.

    Each object is read once, hashed and written; the target's listing is then
    compared with the source's (sizes), so a short upload raises.

    Parameters
    ----------
    source, target : str
        Local paths or URLs (``s3://bucket/prefix/name.zarr``).
    storage_options : mapping, optional
        fsspec options for object storage, used for both ends.
    """
    source, target = _absolute(source), _absolute(target)
    src_fs, src_root, sizes = _store_objects(source, storage_options)
    dst_fs, dst_root = _fs(target, storage_options)
    objects: dict[str, list] = {}
    for batch in _batches(sorted(sizes.items())):
        data = _read_batch(src_fs, src_root, batch, source, sizes)
        try:
            dst_fs.pipe({_join(dst_root, key): value for key, value in data.items() if value is not None})
        except Exception as exc:
            raise DseError(f"cannot write ({_describe(exc)})", where=target) from None
        objects.update({key: [len(value), _digest(value)] for key, value in data.items() if value is not None})
    dst_fs.invalidate_cache()
    landed = _list_objects(dst_fs, dst_root)
    short = [k for k, (size, _) in objects.items() if landed.get(k) != size]
    if short:
        raise StoreError(f"copy incomplete: {len(short)} object(s) missing or short, e.g. {short[0]}", where=target)
    return {"format": MANIFEST_FORMAT, "algorithm": "sha256", "objects": objects}


def manifest_problems(store: str, manifest: Mapping, storage_options: Mapping | None = None) -> list[str]:
    """Objects of ``store`` that differ from ``manifest`` (one line each).

    Missing, truncated and changed objects are named by key; objects added
    after the manifest are reported where the store can be listed (local
    paths, object storage; not http).
    """
    url = _absolute(store)
    expected: dict[str, list] = manifest["objects"]
    fs, root = _fs(url, storage_options)
    if hasattr(fs, "invalidate_cache"):
        fs.invalidate_cache()
    problems: list[str] = []
    missing = 0
    local = not _scheme(url)
    for batch in _batches((key, size) for key, (size, _) in sorted(expected.items())):
        if local:  # contained, regular files, bounded: a problem per object, never an exception
            found = {key: _local_object(root, key, expected[key][0] + 1) for key in batch}
        else:
            found = _read_batch(fs, root, batch, url)
        for key, data in found.items():
            size, digest = expected[key]
            if isinstance(data, str):
                problems.append(f"{key}: {data}")
            elif data is None:
                missing += 1
                problems.append(f"{key}: missing")
            elif len(data) < size:
                problems.append(f"{key}: truncated ({len(data):,} of {size:,} bytes)")
            elif len(data) > size:
                problems.append(f"{key}: changed ({len(data):,} bytes, expected {size:,})")
            elif _digest(data) != digest:
                problems.append(f"{key}: changed (sha256 {_digest(data)[:12]}…, expected {digest[:12]}…)")
    if expected and missing == len(expected):
        return [f"store is missing: none of its {len(expected):,} objects found"]
    if _scheme(url) not in _READ_ONLY_SCHEMES:
        try:
            extra = sorted(set(_list_objects(fs, root)) - set(expected))
        except Exception:  # a listing is a bonus; reading was the check
            extra = []
        problems += [f"{key}: not in the manifest (added after the store was catalogued)" for key in extra]
    return problems


# --------------------------------------------------------------------------- validation
def _field(doc: Mapping, path: str, kind: type | tuple[type, ...], where: str) -> Any:
    """The value at a dotted path, or a DseError naming the missing or wrong field."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise DseError(f"field {path!r} is missing", where=where)
        value = value[part]
    if not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise DseError(f"field {path!r} must be {_article(names)}, not {type(value).__name__}", where=where)
    return value


def _article(name: str) -> str:
    return {"str": "a string", "dict": "an object", "list": "a list", "int": "an integer"}.get(name, name)


def _check_collection(doc: dict, url: str) -> None:
    """The STAC Collection fields dse relies on (named when absent or wrong)."""
    if doc.get("type") != "Collection":
        raise DseError(f"field 'type' must be 'Collection' (a STAC Collection), not {doc.get('type')!r}", where=url)
    for path, kind in (("stac_version", str), ("id", str), ("description", str), ("license", str),
                       ("extent.spatial.bbox", list), ("extent.temporal.interval", list), ("links", list)):
        _field(doc, path, kind, url)
    for i, link in enumerate(doc["links"]):
        where = f"{url}: links[{i}]"
        if not isinstance(link, Mapping):
            raise DseError("must be an object", where=where)
        _field(link, "rel", str, where)
        _field(link, "href", str, where)


def _check_item(doc: dict, url: str) -> None:
    """The STAC Item fields dse relies on (named when absent or wrong)."""
    if doc.get("type") != "Feature":
        raise DseError(f"field 'type' must be 'Feature' (a STAC Item), not {doc.get('type')!r}", where=url)
    for path, kind in (("stac_version", str), ("id", str), ("properties", dict), ("properties.datetime", str),
                       ("properties.dse:store_format", str), ("properties.dse:scenarios", dict),
                       ("assets.zarr.href", str), ("assets.manifest.href", str),
                       ("assets.manifest.file:checksum", str)):
        _field(doc, path, kind, url)
    if not _ID_PATTERN.match(doc["id"]):
        raise DseError(f"field 'id' {doc['id']!r} is not a valid entry id", where=url)


# --------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class Entry:
    """One results store listed in a catalog (read from its STAC Item).

    ``href`` is the store's absolute location, resolved against the item.
    """

    id: str
    title: str
    description: str
    href: str
    item_url: str
    manifest_url: str
    manifest_checksum: str
    created: str
    license: str
    citation: str | None
    doi: str | None
    dse_version: str
    scenarios: dict[str, dict]
    objectives: dict[str, str]
    n_designs: int
    n_objects: int
    size: int
    spec: str
    spec_hash: str
    git_commit: str

    @classmethod
    def from_item(cls, item: Mapping, item_url: str) -> Entry:
        """The entry of a checked item; a malformed optional field raises DseError naming it."""
        props = item["properties"]
        zarr_asset, manifest_asset = item["assets"]["zarr"], item["assets"]["manifest"]
        text = functools.partial(_optional, props, kind=str, where=item_url)
        scenarios = props["dse:scenarios"]
        for name, value in scenarios.items():
            dims = value.get("dims") if isinstance(value, Mapping) else None
            if (not isinstance(value, Mapping) or not isinstance(value.get("kind"), str)
                    or not isinstance(dims, Mapping) or any(type(n) is not int for n in dims.values())
                    or type(value.get("n_designs")) is not int):
                raise DseError(f"field 'properties.dse:scenarios.{str(name)[:80]}' must be "
                               "{kind: text, dims: {name: count}, n_designs: count}", where=item_url)
        objectives = _optional(props, "dse:objectives", {}, dict, item_url)
        if any(sense not in ("max", "min") for sense in objectives.values()):
            raise DseError("field 'properties.dse:objectives' must map outputs to 'max' or 'min'", where=item_url)
        return cls(
            id=item["id"], title=text("title", "") or item["id"], description=text("description", ""),
            href=_resolve(zarr_asset["href"], item_url), item_url=item_url,
            manifest_url=_resolve(manifest_asset["href"], item_url),
            manifest_checksum=manifest_asset["file:checksum"], created=text("created", "") or props["datetime"],
            license=text("license", ""), citation=text("sci:citation", None), doi=text("sci:doi", None),
            dse_version=str(_optional(props, "dse:version", "", str | int | float, item_url)),
            scenarios=dict(scenarios), objectives=dict(objectives),
            n_designs=_optional(props, "dse:n_designs", 0, int, item_url),
            n_objects=_optional(zarr_asset, "dse:objects", 0, int, item_url, "assets.zarr."),
            size=_optional(zarr_asset, "dse:bytes", 0, int, item_url, "assets.zarr."),
            spec=text("dse:spec", ""), spec_hash=text("dse:spec_hash", ""), git_commit=text("dse:git_commit", ""),
        )


def _optional(doc: Mapping, key: str, default: Any, kind: Any, where: str, prefix: str = "properties.") -> Any:
    """An optional field: ``default`` when absent or null, else a value of ``kind`` (DseError otherwise).

    Integers must be whole, non-negative and not booleans.
    """
    value = doc.get(key)
    if value is None:
        return default
    if kind is int:
        ok = type(value) is int and value >= 0
    else:
        ok = isinstance(value, kind) and not isinstance(value, bool)
    if not ok:
        want = {str: "a string", int: "a whole number ≥ 0", dict: "an object"}.get(kind, "a string or number")
        raise DseError(f"field '{prefix}{key}' must be {want}, not {json.dumps(value)[:60]}", where=where)
    return value


@dataclass
class Catalog:
    """A loaded catalog: its Collection and Items as JSON documents."""

    url: str
    collection: dict
    items: dict[str, dict] = field(default_factory=dict)
    item_urls: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.collection.get("title") or self.collection["id"])

    def entries(self) -> list[Entry]:
        return [Entry.from_item(self.items[i], self.item_urls[i]) for i in self.items]

    def entry(self, entry_id: str) -> Entry:
        """One entry by id; an unknown id raises DseError with suggestions."""
        if entry_id not in self.items:
            raise DseError(_unknown(entry_id, list(self.items)), where=self.url)
        return Entry.from_item(self.items[entry_id], self.item_urls[entry_id])


def _unknown(entry_id: str, known: list[str]) -> str:
    from dse.materials.catalogue import suggest

    if not known:
        return f"unknown entry {entry_id!r}: the catalog is empty"
    listed = ", ".join(known[:12]) + (f", … ({len(known)} in all)" if len(known) > 12 else "")
    return f"unknown entry {entry_id!r}{suggest(entry_id, known)} (entries: {listed})"


def _new_collection(catalog_url: str) -> dict:
    import pystac

    stem = posixpath.basename(catalog_url.rstrip("/")).removesuffix(".json")
    extent = pystac.Extent(pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]), pystac.TemporalExtent([[None, None]]))
    collection = pystac.Collection(id=stem, title=stem, license="other", extent=extent,
                                   description="Results stores of dse (design-space exploration of anode-free cells).")
    doc = collection.to_dict(include_self_link=False, transform_hrefs=False)
    doc["links"] = [{"rel": "root", "href": f"./{posixpath.basename(catalog_url)}", "type": "application/json"}]
    return doc


def load(catalog: str | os.PathLike, storage_options: Mapping | None = None) -> Catalog:
    """Read and check a catalog and every item it links.

    Parameters
    ----------
    catalog : str or path
        The Collection JSON: a local path, ``s3://`` or ``http(s)://`` URL.
    storage_options : mapping, optional
        fsspec options for object storage (e.g. ``{"endpoint_url": ...}``).

    Raises
    ------
    DseError
        The file is missing or unreachable, is not JSON, or lacks a field
        (the message names the file and the field).
    """
    import pystac

    url = _absolute(catalog)
    doc = _parse_json(_read_bytes(url, storage_options), url)
    _check_collection(doc, url)
    result = Catalog(url=url, collection=doc)
    for link in doc["links"]:
        if link["rel"] != "item":
            continue
        item_url = _resolve(link["href"], url)
        item = _parse_json(_read_bytes(item_url, storage_options), item_url)
        _check_item(item, item_url)
        try:
            pystac.Item.from_dict(item, href=item_url, preserve_dict=True)
        except Exception as exc:
            raise DseError(f"not a STAC item ({_describe(exc)})", where=item_url) from None
        if item["id"] in result.items:
            raise DseError(f"entry id {item['id']!r} appears twice", where=url)
        result.items[item["id"]] = item
        result.item_urls[item["id"]] = item_url
    return result


def entries(catalog: str | os.PathLike, storage_options: Mapping | None = None) -> list[Entry]:
    """Every entry of a catalog, in catalog order."""
    return load(catalog, storage_options).entries()


def show(catalog: str | os.PathLike, entry_id: str, storage_options: Mapping | None = None) -> Entry:
    """One entry of a catalog (unknown ids raise DseError listing the known ones)."""
    return load(catalog, storage_options).entry(entry_id)


def store_location(catalog: str | os.PathLike, entry_id: str, storage_options: Mapping | None = None) -> str:
    """Absolute path or URL of an entry's store."""
    return show(catalog, entry_id, storage_options).href


# --------------------------------------------------------------------------- verify and open
def verify(catalog: str | os.PathLike, entry_id: str, storage_options: Mapping | None = None) -> list[str]:
    """Check every object of an entry's store against its manifest.

    Returns
    -------
    list of str
        One line per problem (``li/cycle_life/c/0/0/0/0/0/0/0/0: changed
        (…)``, ``…: truncated``, ``…: missing``); empty when the store is
        exactly what was catalogued.
    """
    return verify_entry(show(catalog, entry_id, storage_options), storage_options)


def verify_entry(entry: Entry, storage_options: Mapping | None = None) -> list[str]:
    """:func:`verify` for an entry already loaded (the manifest's own checksum first)."""
    return manifest_problems(entry.href, _read_manifest(entry, storage_options), storage_options)


def _read_manifest(entry: Entry, storage_options: Mapping | None) -> dict:
    data = _read_bytes(entry.manifest_url, storage_options)
    if _multihash(data) != entry.manifest_checksum:
        raise DseError("checksum mismatch: the manifest differs from the one catalogued", where=entry.manifest_url)
    doc = _parse_json(data, entry.manifest_url)
    if doc.get("format") != MANIFEST_FORMAT:
        raise DseError(f"field 'format' must be {MANIFEST_FORMAT!r}", where=entry.manifest_url)
    _check_manifest_objects(_field(doc, "objects", dict, entry.manifest_url), entry.manifest_url)
    return doc


def _check_manifest_objects(objects: Mapping, where: str) -> None:
    """Every manifest entry: a contained key and ``[size, sha256-hex]``."""
    for key, value in objects.items():
        _check_key(key, where)
        if (not isinstance(value, list) or len(value) != 2 or type(value[0]) is not int or value[0] < 0
                or not isinstance(value[1], str) or not re.fullmatch(r"[0-9a-f]{64}", value[1])):
            raise DseError(f"object {key}: must be [size in bytes, sha256 hex], not {json.dumps(value)[:80]}",
                           where=where)


def open_all(catalog: str | os.PathLike, entry_id: str, storage_options: Mapping | None = None,
             verify: bool = False, decode_categories: bool = False) -> dict:
    """Every scenario of an entry's store as lazy xarray Datasets (name → Dataset).

    With ``verify=True`` the store is first checked against its manifest and
    any difference raises DseError naming the object.
    """
    from dse.store import open_results

    entry = show(catalog, entry_id, storage_options)
    if verify:
        problems = verify_entry(entry, storage_options)
        if problems:
            more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
            raise DseError(f"checksum mismatch: {problems[0]}{more}", where=entry.href)
    return open_results(entry.href, _store_options(entry.href, storage_options), decode_categories=decode_categories)


def open(catalog: str | os.PathLike, entry_id: str, scenario: str | None = None,
         storage_options: Mapping | None = None, verify: bool = False):
    """One scenario of an entry's store as a lazy :class:`xarray.Dataset`.

    Parameters
    ----------
    catalog : str or path
        The catalog (local path, ``s3://`` or ``http(s)://`` URL).
    entry_id : str
        The entry (``dse catalog list`` shows them).
    scenario : str, optional
        Needed when the store holds several scenarios.
    storage_options : mapping, optional
        fsspec options for object storage.
    verify : bool, default False
        Check every object against the manifest first.
    """
    datasets = open_all(catalog, entry_id, storage_options, verify=verify)
    if scenario is None:
        if len(datasets) == 1:
            return next(iter(datasets.values()))
        raise DseError(f"holds {len(datasets)} scenarios ({', '.join(datasets)}): choose one", where=entry_id)
    if scenario not in datasets:
        from dse.materials.catalogue import suggest

        raise DseError(f"unknown scenario {scenario!r}{suggest(scenario, datasets)} "
                       f"(scenarios: {', '.join(datasets)})", where=entry_id)
    return datasets[scenario]


# --------------------------------------------------------------------------- add
def _slug(text: str) -> str:
    """An entry id from a title.

    >>> _slug("Li vs Na, 2 MPa (v2)")
    'li-vs-na-2-mpa-v2'
    """
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _check_id(entry_id: str) -> str:
    if not _ID_PATTERN.match(entry_id):
        raise DseError(f"{entry_id!r} is not a valid entry id (letters, digits, '.', '_', '-')", where="id")
    return entry_id


def _store_metadata(store: str, storage_options: Mapping | None,
                    allow_incomplete: bool = False) -> tuple[dict, dict[str, dict], dict[str, str]]:
    """Root attributes, scenario dimensions and objectives of a complete (or allowed incomplete), valid store."""
    from dse.store import open_results, read_root_attrs, require_complete
    from dse.validate import validate_store

    options = _store_options(store, storage_options)
    attrs = read_root_attrs(store, options)
    require_complete(store, options, allow_incomplete)
    # every chunk read: a damaged one is never published
    problems = validate_store(store, options, full=True, allow_incomplete=allow_incomplete)
    if problems:
        more = f" (and {len(problems) - 1} more; see dse validate)" if len(problems) > 1 else ""
        raise StoreError(f"only complete, valid stores can be catalogued: {problems[0]}{more}", where=store)
    scenarios: dict[str, dict] = {}
    objectives: dict[str, str] = {}
    for name, ds in open_results(store, options).items():
        dims = list(ds.attrs["dse_dims"])
        scenarios[name] = {"kind": ds.attrs["dse_kind"], "dims": {d: int(ds.sizes[d]) for d in dims},
                           "n_designs": int(ds.attrs["dse_n_designs"])}
        for var_name, var in ds.data_vars.items():
            if var.attrs.get("dse_sense") in ("max", "min"):
                objectives.setdefault(str(var_name), var.attrs["dse_sense"])
    return attrs, scenarios, objectives


def _publish_target(publish: str, entry_id: str) -> str:
    """Where a store is published: ``URL`` itself if it ends in ``.zarr``, else ``URL/<id>.zarr``."""
    url = _absolute(publish).rstrip("/")
    return url if url.endswith(".zarr") else f"{url}/{entry_id}.zarr"


def _created(attrs: Mapping) -> _dt.datetime:
    try:
        value = _dt.datetime.fromisoformat(str(attrs.get("created")))
    except ValueError:
        value = _dt.datetime.now(_dt.UTC)
    return value if value.tzinfo else value.replace(tzinfo=_dt.UTC)


def _manifest_url(catalog_url: str, entry_id: str, manifest_bytes: bytes) -> str:
    """The manifest's file: named after its digest, so replacing an entry never rewrites
    the manifest the old item points at."""
    return _item_url(catalog_url, entry_id, f".{_digest(manifest_bytes)[:12]}.manifest.json")


def _make_item(entry_id: str, item_url: str, catalog_url: str, collection_id: str, *, title: str,
               description: str, store_href: str, manifest: dict, manifest_bytes: bytes, attrs: Mapping,
               scenarios: dict, objectives: dict, license: str, citation: str | None, doi: str | None) -> dict:
    """The STAC Item of one store (pystac builds it; links are relative)."""
    import pystac
    from pystac.extensions.file import FileExtension
    from pystac.extensions.scientific import ScientificExtension

    created = _created(attrs)
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    properties = {
        "title": title, "description": description, "license": license,
        "created": created.isoformat().replace("+00:00", "Z"), "updated": now.isoformat().replace("+00:00", "Z"),
        "dse:version": attrs.get("dse_version", ""), "dse:store_format": attrs.get("dse_store_format", ""),
        "dse:spec": attrs.get("dse_spec", ""), "dse:spec_hash": attrs.get("dse_spec_hash", ""),
        "dse:catalogue_hash": attrs.get("dse_catalogue_hash", ""), "dse:git_commit": attrs.get("dse_git_commit", ""),
        "dse:scenarios": scenarios, "dse:objectives": objectives,
        "dse:n_designs": sum(s["n_designs"] for s in scenarios.values()),
    }
    feasible = (attrs.get("dse_summary") or {}).get("feasible")
    if feasible is not None:
        properties["dse:feasible"] = int(feasible)
    item = pystac.Item(id=entry_id, geometry=None, bbox=None, datetime=created, properties=properties,
                       collection=collection_id)
    sizes = [size for size, _ in manifest["objects"].values()]
    item.add_asset("zarr", pystac.Asset(
        href=store_href, title="Results store (Zarr v3, docs/results-spec.md)", media_type=ZARR_MEDIA_TYPE,
        roles=["data"], extra_fields={"dse:objects": len(sizes), "dse:bytes": int(sum(sizes))}))
    manifest_asset = pystac.Asset(
        href=_relative(_manifest_url(catalog_url, entry_id, manifest_bytes), item_url),
        title="Size and SHA-256 of every object of the store",
        media_type="application/json", roles=["metadata", "checksums"])
    item.add_asset("manifest", manifest_asset)
    file_ext = FileExtension.ext(manifest_asset, add_if_missing=True)
    file_ext.checksum = _multihash(manifest_bytes)
    file_ext.size = len(manifest_bytes)
    if citation or doi:
        sci = ScientificExtension.ext(item, add_if_missing=True)
        sci.citation = citation or None
        sci.doi = doi or None
    doc = item.to_dict(include_self_link=False, transform_hrefs=False)
    to_catalog = _relative(catalog_url, item_url)
    doc["links"] = [{"rel": rel, "href": to_catalog, "type": "application/json"}
                    for rel in ("collection", "parent", "root")]
    return doc


def _with_item(collection: dict, catalog_url: str, item: dict, item_url: str, items: Mapping[str, dict]) -> dict:
    """The collection with a link to ``item`` (replacing an old one) and its extent updated."""
    doc = json.loads(json.dumps(collection))
    href = _relative(item_url, catalog_url)
    links = [link for link in doc["links"] if not (link["rel"] == "item" and link["href"] == href)]
    links.append({"rel": "item", "href": href, "type": ITEM_MEDIA_TYPE, "title": item["properties"].get("title")})
    doc["links"] = links
    times = sorted({i["properties"]["datetime"] for i in items.values()} | {item["properties"]["datetime"]})
    doc["extent"]["temporal"]["interval"] = [[times[0], times[-1]]]
    return doc


def add(store: str | os.PathLike, catalog: str | os.PathLike, *, title: str, description: str | None = None,
        id: str | None = None, publish: str | None = None, license: str = "other",
        citation: str | None = None, doi: str | None = None, replace: bool = False,
        storage_options: Mapping | None = None, allow_incomplete: bool = False) -> Entry:
    """Register a results store in a catalog, optionally publishing a copy first.

    The store must be complete and valid (``dse validate``). Its manifest
    (every object's size and SHA-256) is written next to its STAC Item; the
    Collection is updated last, atomically and under an advisory lock for a
    local catalog, so a failed ``add`` leaves the catalog as it was and two
    concurrent ``add`` both land. A new catalog file is created if absent.

    Parameters
    ----------
    store : str or path
        The results store (path or URL).
    catalog : str or path
        The catalog's Collection JSON (local path or ``s3://`` URL).
    title, description : str
        Human-readable title and description of the entry (the description
        defaults to the spec's).
    id : str, optional
        Entry id; defaults to a slug of the title.
    publish : str, optional
        Copy the store there first (``s3://bucket/prefix`` → ``…/prefix/<id>.zarr``;
        a URL ending in ``.zarr`` is used as is) and list the copy.
    license : str, default "other"
        SPDX id of the results' license (e.g. ``CC-BY-4.0``).
    citation, doi : str, optional
        How to cite the results (STAC scientific extension).
    replace : bool, default False
        Replace an entry (and a published copy) with the same id.
    storage_options : mapping, optional
        fsspec options for object storage (e.g. ``{"endpoint_url": ...}``);
        credentials come from the AWS environment and are never written.

    Returns
    -------
    Entry
        The new entry as a colleague will read it.
    """
    catalog_url, store_url = _absolute(catalog), _absolute(store)
    if _scheme(catalog_url) in _READ_ONLY_SCHEMES:
        raise DseError("an http(s) catalog is read-only: add to a local or object-storage copy", where=catalog_url)
    if not catalog_url.endswith(".json"):
        raise DseError("a catalog file name must end in .json", where=catalog_url)
    if publish and _scheme(publish) in _READ_ONLY_SCHEMES:
        raise DseError("cannot publish to http(s): use object storage (s3://…) or a path", where=publish)
    if _scheme(catalog_url) and not _scheme(store_url) and not publish:
        raise DseError("a local store cannot be listed in a remote catalog: publish it with --publish URL",
                       where=store_url)
    if not _scheme(catalog_url) and not Path(catalog_url).parent.is_dir():
        raise DseError(f"directory {Path(catalog_url).parent} does not exist", where=catalog_url)
    entry_id = _check_id(id or _slug(title))
    _check_free(_load_or_new(catalog_url, storage_options), entry_id, replace)
    attrs, scenarios, objectives = _store_metadata(store_url, storage_options, allow_incomplete)
    if publish:
        href = _publish_target(publish, entry_id)
        if href.rstrip("/") == store_url.rstrip("/"):
            raise DseError("the store is already there: add it without --publish", where=publish)
        _prepare_target(href, replace, storage_options)
        manifest = copy_store(store_url, href, storage_options)
    else:
        href = store_url
        manifest = build_manifest(store_url, storage_options)
    manifest_bytes = _json_bytes(manifest, compact=True)
    with _locked(catalog_url):
        current = _load_or_new(catalog_url, storage_options)
        _check_free(current, entry_id, replace)
        item_url = _item_url(catalog_url, entry_id)
        if description is None:
            description = _spec_description(attrs)
        item = _make_item(entry_id, item_url, catalog_url, current.collection["id"], title=title,
                          description=description, store_href=_relative(href, item_url), manifest=manifest,
                          manifest_bytes=manifest_bytes, attrs=attrs, scenarios=scenarios, objectives=objectives,
                          license=license, citation=citation, doi=doi)
        if allow_incomplete:
            _label_incomplete(item, store_url, storage_options)
        _commit(current, entry_id, item, item_url, manifest_bytes, storage_options)
    return Entry.from_item(item, item_url)


def _spec_description(attrs: Mapping) -> str:
    import yaml

    try:
        spec = yaml.safe_load(attrs.get("dse_spec") or "") or {}
    except yaml.YAMLError:
        return ""
    return str(spec.get("description", "")) if isinstance(spec, dict) else ""


def _load_or_new(catalog_url: str, storage_options: Mapping | None) -> Catalog:
    if _exists(catalog_url, storage_options):
        return load(catalog_url, storage_options)
    return Catalog(url=catalog_url, collection=_new_collection(catalog_url))


def _exists(url: str, storage_options: Mapping | None) -> bool:
    if not _scheme(url):
        return Path(url).exists()
    try:
        fs, path = _fs(url, storage_options)
        fs.invalidate_cache()
        return fs.exists(path)
    except Exception as exc:
        raise DseError(f"cannot reach ({_describe(exc)})", where=url) from None


def _check_free(catalog: Catalog, entry_id: str, replace: bool) -> None:
    if entry_id in catalog.items and not replace:
        raise DseError(f"entry {entry_id!r} is already in the catalog (use --replace, or another --id)",
                       where=catalog.url)


def _prepare_target(href: str, replace: bool, storage_options: Mapping | None) -> None:
    """Refuse to overwrite a published store unless replacing; clear it when replacing.

    Only a dse results store (or an empty directory) is ever removed
    (:func:`dse.safety.remove_store`).
    """
    from dse.safety import remove_store

    if not _exists(href, storage_options):
        return
    if not replace:
        raise DseError("already exists: use --replace to overwrite the published copy", where=href)
    remove_store(href, _store_options(href, storage_options), option="--replace")


def _label_incomplete(item: dict, store: str, storage_options: Mapping | None) -> None:
    """Say in the item how much of an incomplete store is missing (``dse:blocks_missing``, ``dse:blocks``)."""
    from dse.store import completeness

    state = completeness(store, _store_options(store, storage_options))
    if not state.complete:
        item["properties"]["dse:blocks_missing"] = state.missing
        item["properties"]["dse:blocks"] = state.total


def _commit(catalog: Catalog, entry_id: str, item: dict, item_url: str, manifest_bytes: bytes,
            storage_options: Mapping | None) -> None:
    """Write manifest, item, then the collection; undo what was new if a step fails.

    A replaced entry's old manifest is removed once the new one is in place.
    """
    manifest_url = _manifest_url(catalog.url, entry_id, manifest_bytes)
    old = catalog.entry(entry_id) if entry_id in catalog.items else None
    collection = _with_item(catalog.collection, catalog.url, item, item_url,
                            {k: v for k, v in catalog.items.items() if k != entry_id})
    item_written = False
    try:
        _write_bytes(manifest_url, manifest_bytes, storage_options)
        _write_bytes(item_url, _json_bytes(item), storage_options)
        item_written = True
        _write_bytes(catalog.url, _json_bytes(collection), storage_options)
    except BaseException:
        if old is None or not item_written:  # a replaced item, once written, is the entry
            if old is None or manifest_url != old.manifest_url:
                _remove(manifest_url, storage_options)
            if old is None and item_written:
                _remove(item_url, storage_options)
        raise
    if old is not None and old.manifest_url != manifest_url:
        _remove(old.manifest_url, storage_options)
