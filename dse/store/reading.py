"""Opening results stores: root attributes, the checked Zarr store every reader goes through, Datasets.

Foreign or broken stores raise one :class:`~dse.errors.StoreError` line;
damaged chunks raise :class:`~dse.store.integrity.DamagedChunkError`
(docs/results-spec.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import xarray as xr
import zarr

from dse.errors import StoreError
from dse.store.format import COMPLETED, FORMAT, READABLE_FORMATS, is_remote, zarr_store

__all__ = ["open_results", "read_root_attrs", "checked_store", "decode_codes", "store_size"]


def read_root_attrs(path: str, storage_options: Mapping | None = None) -> dict:
    """Root attributes of a store; foreign or broken stores raise StoreError."""
    try:
        root = zarr.open_group(zarr_store(path, storage_options, read_only=True), mode="r", zarr_format=3)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError):
        raise StoreError("not a Zarr store (no group metadata)", where=path) from None
    except Exception as exc:  # corrupted JSON and similar
        raise StoreError(f"cannot open as Zarr ({exc.__class__.__name__}: {str(exc)[:120]})", where=path) from None
    attrs = dict(root.attrs)
    if attrs.get("dse_store_format") not in READABLE_FORMATS:
        found = attrs.get("dse_store_format")
        what = f"format {found!r}" if found else "no dse_store_format attribute"
        raise StoreError(f"not a dse results store ({what}; expected {FORMAT!r})", where=path)
    return attrs


def checked_store(path: str, attrs: Mapping, storage_options: Mapping | None = None):
    """The store every reader goes through: damaged chunks raise one line (:mod:`dse.store.integrity`).

    The completion record of each scenario is read first, so that a chunk
    missing from a block recorded as done is an error, not fill values.
    """
    from dse.store.integrity import CheckedStore

    base = zarr_store(path, storage_options, read_only=True)
    groups = dict(attrs.get("dse_groups", {}))
    root = zarr.open_group(CheckedStore(base, path, groups), mode="r", zarr_format=3)
    completed = {}
    for group in groups.values():
        try:
            g = root[group] if group else root
            completed[group] = np.asarray(g[COMPLETED][:])
        except KeyError:
            continue  # no record: missing chunks cannot be told from blocks not written (dse validate says so)
    return CheckedStore(base, path, groups, completed)


def open_results(
    path: str, storage_options: Mapping | None = None, decode_categories: bool = False
) -> dict[str, xr.Dataset]:
    """Open every scenario of a results store as a (lazy) xarray Dataset.

    Parameters
    ----------
    path : str
        Local path or URL (``s3://bucket/results.zarr``).
    storage_options : mapping, optional
        Passed to fsspec (e.g. ``{"endpoint_url": ...}``).
    decode_categories : bool, default False
        Replace coded categorical sample variables by their catalogue ids.
    """
    from dse.store.integrity import DamagedChunkError

    attrs = read_root_attrs(path, storage_options)
    store = checked_store(path, attrs, storage_options)
    out = {}
    for name, group in attrs.get("dse_groups", {}).items():
        try:
            ds = xr.open_zarr(store, group=group or None, consolidated=None, zarr_format=3)
        except DamagedChunkError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot open scenario {name!r} ({exc.__class__.__name__})", where=path) from None
        if decode_categories:
            for var in list(ds.data_vars):
                cats = ds[var].attrs.get("dse_categories")
                if cats:
                    attrs = {
                        k: v
                        for k, v in ds[var].attrs.items()
                        if k not in ("dse_categories", "flag_values", "flag_meanings")
                    }
                    decoded = ds[var].copy(data=decode_codes(ds[var].data, cats))
                    decoded.attrs = attrs
                    ds[var] = decoded
        out[name] = ds
    return out


def decode_codes(codes, categories):
    """Catalogue ids for int16 category codes (numpy or dask arrays)."""
    table = np.asarray(list(categories), dtype=object)
    if hasattr(codes, "map_blocks"):
        return codes.map_blocks(lambda c: table[np.asarray(c, dtype=np.int64)], dtype=object)
    return table[np.asarray(codes, dtype=np.int64)]


def store_size(path: str, storage_options: Mapping | None = None) -> int:
    """Bytes on disk (or in the bucket) of a store."""
    if is_remote(path):
        import fsspec

        fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
        return int(sum(fs.du(root, total=False).values())) if fs.exists(root) else 0
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, f))
            except OSError:
                pass
    return total
