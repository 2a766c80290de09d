"""Verify an entry's store against its manifest and open it as xarray Datasets.

The manifest is trusted only once its own checksum (the item's
``file:checksum``) matches; ``verify=True`` checks every object before
the store is opened.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping

from dse.catalog.files import _parse_json, _read_bytes, _store_options
from dse.catalog.manifests import MANIFEST_FORMAT, _check_key, _multihash, manifest_problems
from dse.catalog.stac import Entry, _field, show
from dse.errors import DseError

__all__ = [
    "verify",
    "verify_entry",
    "open_all",
    "open",
]


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
        if (
            not isinstance(value, list)
            or len(value) != 2
            or type(value[0]) is not int
            or value[0] < 0
            or not isinstance(value[1], str)
            or not re.fullmatch(r"[0-9a-f]{64}", value[1])
        ):
            raise DseError(
                f"object {key}: must be [size in bytes, sha256 hex], not {json.dumps(value)[:80]}", where=where
            )


def open_all(
    catalog: str | os.PathLike,
    entry_id: str,
    storage_options: Mapping | None = None,
    verify: bool = False,
    decode_categories: bool = False,
) -> dict:
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


def open(
    catalog: str | os.PathLike,
    entry_id: str,
    scenario: str | None = None,
    storage_options: Mapping | None = None,
    verify: bool = False,
):
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
        from dse.errors import suggest

        raise DseError(
            f"unknown scenario {scenario!r}{suggest(scenario, datasets)} (scenarios: {', '.join(datasets)})",
            where=entry_id,
        )
    return datasets[scenario]
