"""Manifests of results stores: every object's size and SHA-256.

:func:`build_manifest` reads a store in batches and lists its objects,
:func:`copy_store` copies one while hashing it, :func:`manifest_problems`
names every object that differs from its manifest.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from dse.catalog.files import _READ_ONLY_SCHEMES, _absolute, _describe, _fs, _read_regular, _scheme
from dse.errors import DseError, StoreError

__all__ = [
    "MANIFEST_FORMAT",
    "BATCH_BYTES",
    "BATCH_OBJECTS",
    "build_manifest",
    "copy_store",
    "manifest_problems",
]

MANIFEST_FORMAT = "dse-manifest/1"

#: objects read or written per request batch: at most this many bytes ...
BATCH_BYTES = 64 * 2**20
#: ... and this many objects
BATCH_OBJECTS = 256


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
    return {
        path[len(prefix) :]: int(info.get("size") or 0)
        for path, info in found.items()
        if info.get("type") != "directory" and path.startswith(prefix)
    }


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
    ok = (
        isinstance(key, str)
        and key
        and not key.startswith("/")
        and "\\" not in key
        and "\x00" not in key
        and ":" not in key.split("/", 1)[0]
        and all(part not in ("", ".", "..") for part in key.split("/"))
    )
    if not ok:
        raise DseError(f"object key {str(key)[:200]!r} is not a relative path inside the store", where=where)
    return key


def _local_object(root: str, key: str, limit: int) -> bytes | None | str:
    """At most ``limit`` bytes of one object of a local store.

    None when it is missing; a problem (str) when it leaves the store or is not
    a regular file.
    """
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


def _read_batch(
    fs, root: str, keys: list[str], url: str, sizes: Mapping[str, int] | None = None
) -> dict[str, bytes | None]:
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
