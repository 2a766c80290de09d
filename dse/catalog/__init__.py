"""Catalogs of results stores: publish, discover, verify and open shared results.

The package re-exports what ``dse.catalog`` has always offered; the modules
behind it are listed in ``docs/architecture.md``.
"""

from __future__ import annotations

# _multihash, imported as itself, is re-exported because the tests import it
from dse.catalog.publish import (
    BATCH_BYTES,
    BATCH_OBJECTS,
    ITEM_MEDIA_TYPE,
    MANIFEST_FORMAT,
    ZARR_MEDIA_TYPE,
    Catalog,
    Entry,
    add,
    build_manifest,
    copy_store,
    entries,
    load,
    manifest_problems,
    open,
    open_all,
    show,
    store_location,
    verify,
    verify_entry,
)
from dse.catalog.publish import _multihash as _multihash

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
    # public names that were not listed before the split
    "MANIFEST_FORMAT",
    "ZARR_MEDIA_TYPE",
    "ITEM_MEDIA_TYPE",
    "BATCH_BYTES",
    "BATCH_OBJECTS",
]
