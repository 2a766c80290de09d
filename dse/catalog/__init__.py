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

One module per job; this package re-exports what ``dse.catalog`` has always
offered:

=============  ===========================================================
``files``      locations and file I/O through fsspec, atomic local writes, the lock
``manifests``  objects, sizes and SHA-256 of a store: build, copy, compare
``stac``       the Collection and its Items, validated: :class:`Catalog`, :class:`Entry`
``opening``    :func:`verify` an entry's store, :func:`open` it as xarray
``publish``    :func:`add` a store (and copy it to a publish target)
``cli``        ``dse catalog add|list|show|open|verify``
=============  ===========================================================

(The *catalog* of results stores is not the materials *catalogue* of
:mod:`dse.materials.catalogue`.)
"""

from __future__ import annotations

# _multihash, imported as itself, is re-exported because the tests import it
from dse.catalog.manifests import (
    BATCH_BYTES,
    BATCH_OBJECTS,
    MANIFEST_FORMAT,
    build_manifest,
    copy_store,
    manifest_problems,
)
from dse.catalog.manifests import _multihash as _multihash
from dse.catalog.opening import open, open_all, verify, verify_entry
from dse.catalog.publish import ITEM_MEDIA_TYPE, ZARR_MEDIA_TYPE, add
from dse.catalog.stac import Catalog, Entry, entries, load, show, store_location

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
