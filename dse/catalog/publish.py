"""Add a results store to a catalog (``dse catalog add``).

The store's metadata and manifest become a STAC Item; with a publish
target the store is first copied there (checked object by object). The
catalog is read, changed and written under its lock, and a failed add
leaves it byte for byte as it was.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from dse.catalog.files import (
    _READ_ONLY_SCHEMES,
    _absolute,
    _describe,
    _fs,
    _item_url,
    _json_bytes,
    _locked,
    _relative,
    _remove,
    _scheme,
    _store_options,
    _write_bytes,
)
from dse.catalog.manifests import _digest, _multihash, build_manifest, copy_store
from dse.catalog.stac import _ID_PATTERN, Catalog, Entry, _new_collection, load
from dse.errors import DseError, StoreError

__all__ = [
    "ZARR_MEDIA_TYPE",
    "ITEM_MEDIA_TYPE",
    "add",
]

ZARR_MEDIA_TYPE = "application/vnd+zarr"
ITEM_MEDIA_TYPE = "application/geo+json"


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


def _store_metadata(
    store: str, storage_options: Mapping | None, allow_incomplete: bool = False
) -> tuple[dict, dict[str, dict], dict[str, str]]:
    """Root attributes, scenario dimensions and objectives of a complete (or allowed incomplete), valid store."""
    from dse.store import open_results, read_root_attrs, require_complete
    from dse.store.validate import validate_store

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
        scenarios[name] = {
            "kind": ds.attrs["dse_kind"],
            "dims": {d: int(ds.sizes[d]) for d in dims},
            "n_designs": int(ds.attrs["dse_n_designs"]),
        }
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
    """The manifest's file, named after its digest.

    So replacing an entry never rewrites the manifest the old item points at.
    """
    return _item_url(catalog_url, entry_id, f".{_digest(manifest_bytes)[:12]}.manifest.json")


def _make_item(
    entry_id: str,
    item_url: str,
    catalog_url: str,
    collection_id: str,
    *,
    title: str,
    description: str,
    store_href: str,
    manifest: dict,
    manifest_bytes: bytes,
    attrs: Mapping,
    scenarios: dict,
    objectives: dict,
    license: str,
    citation: str | None,
    doi: str | None,
) -> dict:
    """The STAC Item of one store (pystac builds it; links are relative)."""
    import pystac
    from pystac.extensions.file import FileExtension
    from pystac.extensions.scientific import ScientificExtension

    created = _created(attrs)
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    properties = {
        "title": title,
        "description": description,
        "license": license,
        "created": created.isoformat().replace("+00:00", "Z"),
        "updated": now.isoformat().replace("+00:00", "Z"),
        "dse:version": attrs.get("dse_version", ""),
        "dse:store_format": attrs.get("dse_store_format", ""),
        "dse:spec": attrs.get("dse_spec", ""),
        "dse:spec_hash": attrs.get("dse_spec_hash", ""),
        "dse:catalogue_hash": attrs.get("dse_catalogue_hash", ""),
        "dse:git_commit": attrs.get("dse_git_commit", ""),
        "dse:scenarios": scenarios,
        "dse:objectives": objectives,
        "dse:n_designs": sum(s["n_designs"] for s in scenarios.values()),
    }
    feasible = (attrs.get("dse_summary") or {}).get("feasible")
    if feasible is not None:
        properties["dse:feasible"] = int(feasible)
    item = pystac.Item(
        id=entry_id, geometry=None, bbox=None, datetime=created, properties=properties, collection=collection_id
    )
    sizes = [size for size, _ in manifest["objects"].values()]
    item.add_asset(
        "zarr",
        pystac.Asset(
            href=store_href,
            title="Results store (Zarr v3, docs/results-spec.md)",
            media_type=ZARR_MEDIA_TYPE,
            roles=["data"],
            extra_fields={"dse:objects": len(sizes), "dse:bytes": int(sum(sizes))},
        ),
    )
    manifest_asset = pystac.Asset(
        href=_relative(_manifest_url(catalog_url, entry_id, manifest_bytes), item_url),
        title="Size and SHA-256 of every object of the store",
        media_type="application/json",
        roles=["metadata", "checksums"],
    )
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
    doc["links"] = [
        {"rel": rel, "href": to_catalog, "type": "application/json"} for rel in ("collection", "parent", "root")
    ]
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


def add(
    store: str | os.PathLike,
    catalog: str | os.PathLike,
    *,
    title: str,
    description: str | None = None,
    id: str | None = None,
    publish: str | None = None,
    license: str = "other",
    citation: str | None = None,
    doi: str | None = None,
    replace: bool = False,
    storage_options: Mapping | None = None,
    allow_incomplete: bool = False,
) -> Entry:
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
        raise DseError(
            "a local store cannot be listed in a remote catalog: publish it with --publish URL", where=store_url
        )
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
        item = _make_item(
            entry_id,
            item_url,
            catalog_url,
            current.collection["id"],
            title=title,
            description=description,
            store_href=_relative(href, item_url),
            manifest=manifest,
            manifest_bytes=manifest_bytes,
            attrs=attrs,
            scenarios=scenarios,
            objectives=objectives,
            license=license,
            citation=citation,
            doi=doi,
        )
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
        raise DseError(
            f"entry {entry_id!r} is already in the catalog (use --replace, or another --id)", where=catalog.url
        )


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


def _commit(
    catalog: Catalog, entry_id: str, item: dict, item_url: str, manifest_bytes: bytes, storage_options: Mapping | None
) -> None:
    """Write manifest, item, then the collection; undo what was new if a step fails.

    A replaced entry's old manifest is removed once the new one is in place.
    """
    manifest_url = _manifest_url(catalog.url, entry_id, manifest_bytes)
    old = catalog.entry(entry_id) if entry_id in catalog.items else None
    collection = _with_item(
        catalog.collection, catalog.url, item, item_url, {k: v for k, v in catalog.items.items() if k != entry_id}
    )
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
