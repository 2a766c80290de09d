"""The store format: its version, the codecs of every array, Zarr store objects.

Every array dse writes ends its codec chain with a CRC-32C of the compressed
bytes and is written with ``write_empty_chunks`` (:mod:`dse.store.integrity`).

>>> is_remote("s3://bucket/out.zarr"), is_remote("out.zarr")
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping

import zarr
from zarr.codecs import BloscCodec, Crc32cCodec

__all__ = ["FORMAT", "READABLE_FORMATS", "COMPLETED", "COMPRESSOR", "WRITE_CONFIG", "is_remote", "zarr_store"]

FORMAT = "dse-results/2"
#: formats this version reads: ``dse-results/1`` stores (no chunk checksums) open read-only as before
READABLE_FORMATS = ("dse-results/1", FORMAT)
COMPLETED = "_dse/completed"
COMPRESSOR = {"cname": "lz4", "clevel": 5, "shuffle": "shuffle"}


def is_remote(path: str) -> bool:
    """Whether ``path`` is a URL (object storage, or any fsspec protocol) rather than a local path."""
    return "://" in str(path)


def zarr_store(path: str, storage_options: Mapping | None = None, read_only: bool = False):
    """A zarr store object for a local path or an fsspec URL."""
    if is_remote(path):
        from zarr.storage import FsspecStore

        return FsspecStore.from_url(str(path), storage_options=dict(storage_options or {}), read_only=read_only)
    from zarr.storage import LocalStore

    return LocalStore(str(path), read_only=read_only)


def _consolidate(path: str, storage_options: Mapping | None) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # consolidated metadata is not yet in the v3 spec
        zarr.consolidate_metadata(zarr_store(path, storage_options))


def _compressors():
    """Bytes-to-bytes codecs of every array: Blosc, then a CRC-32C of the compressed bytes (dse.store.integrity)."""
    return [BloscCodec(**COMPRESSOR), Crc32cCodec()]


#: array configuration of every write: chunks equal to the fill value are written too, so that a missing
#: chunk of a completed block is damage, never a block of fill values (dse.store.integrity)
WRITE_CONFIG = {"write_empty_chunks": True}
