"""What dse may delete, and the checks of counts that must be positive.

dse removes a directory in two places only: ``dse sweep --overwrite`` replaces
a results store, and ``dse catalog add --publish … --replace`` replaces a
published copy. Both go through :func:`check_deletable`, the one place that
decides whether a path may be removed: only an empty directory or a dse
results store (root attribute ``dse_store_format``, docs/results-spec.md),
and never the current directory, one of its parents, the home directory or
one of its parents, nor a symbolic link.

>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> open(os.path.join(d, "thesis.tex"), "w").close()
>>> try:
...     check_deletable(d, option="--overwrite")
... except StoreError as exc:
...     print(exc.message.split(";")[0])
is not empty and not a dse results store (no dse_store_format root attribute)
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

from dse.errors import DseError, StoreError

__all__ = ["check_deletable", "is_dse_store", "remove_store", "check_count", "sibling_path"]

#: the root metadata of a store is read to recognise it; a larger zarr.json is not a dse store's
MAX_ROOT_METADATA_BYTES = 64 * 2**20


def _is_remote(path: str) -> bool:
    return "://" in str(path)


def _fs(url: str, storage_options: Mapping | None):
    import fsspec

    return fsspec.core.url_to_fs(url, **dict(storage_options or {}))


def _root_format(data: bytes) -> str | None:
    """``dse_store_format`` of a root ``zarr.json``, or None when absent or unreadable."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    attrs = doc.get("attributes") if isinstance(doc, dict) else None
    return attrs.get("dse_store_format") if isinstance(attrs, dict) else None


def is_dse_store(path: str, storage_options: Mapping | None = None) -> bool:
    """True when ``path`` holds a dse results store: its root ``zarr.json`` names the dse format.

    >>> is_dse_store("/nonexistent.zarr")
    False
    """
    try:
        if _is_remote(path):
            fs, root = _fs(path, storage_options)
            key = root.rstrip("/") + "/zarr.json"
            if fs.size(key) > MAX_ROOT_METADATA_BYTES:
                return False
            data = fs.cat_file(key)
        else:
            meta = Path(path) / "zarr.json"
            if not meta.is_file() or meta.is_symlink() or meta.stat().st_size > MAX_ROOT_METADATA_BYTES:
                return False
            data = meta.read_bytes()
    except (OSError, ValueError):
        return False
    from dse.store import READABLE_FORMATS

    return _root_format(data) in READABLE_FORMATS


def _refuse(path: str, why: str, option: str) -> StoreError:
    return StoreError(
        f"{why}; {option} deletes only a dse results store or an empty directory: "
        "remove or rename it yourself, or choose another path",
        where=path,
    )


def _check_local(path: str, option: str) -> None:
    p = Path(path).expanduser()
    if p.is_symlink():
        raise _refuse(path, "is a symbolic link", option)
    resolved = p.resolve()
    cwd, home = Path.cwd().resolve(), Path.home().resolve()
    if resolved == cwd or cwd.is_relative_to(resolved):
        raise _refuse(path, "is the current directory or one of its parents", option)
    if resolved == home or home.is_relative_to(resolved):
        raise _refuse(path, "is the home directory or one of its parents", option)
    if not p.exists():
        return
    if not p.is_dir():
        raise _refuse(path, "is a file, not a store directory", option)
    try:
        with os.scandir(p) as entries:
            empty = next(entries, None) is None
    except OSError as exc:
        raise StoreError(f"cannot list it ({exc.strerror or exc})", where=path) from None
    if not empty and not is_dse_store(path):
        raise _refuse(path, "is not empty and not a dse results store (no dse_store_format root attribute)", option)


def _check_remote(path: str, storage_options: Mapping | None, option: str) -> None:
    try:
        fs, root = _fs(path, storage_options)
        root = root.rstrip("/")
        if "/" not in root:
            raise _refuse(path, "is a whole bucket", option)
        fs.invalidate_cache()
        if not fs.exists(root):
            return
        if fs.isfile(root):
            raise _refuse(path, "is an object, not a store prefix", option)
        empty = not fs.ls(root, detail=False)
    except StoreError:
        raise
    except Exception as exc:  # connection refused, access denied, ...
        raise StoreError(
            f"cannot check it before deleting ({exc.__class__.__name__}: {str(exc)[:120]})", where=path
        ) from None
    if not empty and not is_dse_store(path, storage_options):
        raise _refuse(path, "is not empty and not a dse results store (no dse_store_format root attribute)", option)


def check_deletable(path: str, storage_options: Mapping | None = None, option: str = "--overwrite") -> None:
    """Refuse to delete ``path`` unless it is missing, an empty directory or a dse results store.

    Parameters
    ----------
    path : str
        Local path or fsspec URL (``s3://bucket/prefix/out.zarr``).
    storage_options : mapping, optional
        fsspec options for URLs.
    option : str
        The option that asked for the deletion, named in the message.

    Raises
    ------
    StoreError
        One line naming the path and the reason: not a store and not empty, a
        file, a symbolic link, the current or home directory or one of their
        parents, a whole bucket.
    """
    if _is_remote(path):
        _check_remote(path, storage_options, option)
    else:
        _check_local(path, option)


def remove_store(path: str, storage_options: Mapping | None = None, option: str = "--overwrite") -> None:
    """Delete a store after :func:`check_deletable` allowed it (a missing path is left alone)."""
    check_deletable(path, storage_options, option)
    try:
        if _is_remote(path):
            fs, root = _fs(path, storage_options)
            if fs.exists(root):
                fs.rm(root, recursive=True)
        elif Path(path).exists():
            shutil.rmtree(path)
    except OSError as exc:
        raise StoreError(f"cannot remove the old store ({exc.strerror or exc})", where=path) from None


def sibling_path(path: str, tag: str) -> str:
    """A new path beside ``path``: ``OUT.zarr`` → ``OUT.zarr.<tag>-<random>``.

    >>> sibling_path("runs/out.zarr/", "new").startswith("runs/out.zarr.new-")
    True
    """
    return f"{str(path).rstrip('/')}.{tag}-{uuid.uuid4().hex[:8]}"


def check_count(value: object, where: str, minimum: int = 1) -> int:
    """``value`` as an int of at least ``minimum`` (a worker count, replicates, rows).

    >>> check_count(4, "--workers")
    4
    >>> check_count(0, "--workers")
    Traceback (most recent call last):
    ...
    dse.errors.DseError: --workers: must be a whole number >= 1, got 0
    """
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    if not ok:
        raise DseError(f"must be a whole number >= {minimum}, got {value!r}", where=where)
    return value
