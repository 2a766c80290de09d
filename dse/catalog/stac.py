"""The STAC side of a catalog: a Collection of Items, read into :class:`Catalog` and :class:`Entry`.

Every field dse relies on is checked and named when absent or of the wrong
type; an item's locations are resolved against the item.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dse.catalog.files import _absolute, _describe, _parse_json, _read_bytes, _resolve
from dse.errors import DseError

__all__ = [
    "Entry",
    "Catalog",
    "load",
    "entries",
    "show",
    "store_location",
]

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


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
    for path, kind in (
        ("stac_version", str),
        ("id", str),
        ("description", str),
        ("license", str),
        ("extent.spatial.bbox", list),
        ("extent.temporal.interval", list),
        ("links", list),
    ):
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
    for path, kind in (
        ("stac_version", str),
        ("id", str),
        ("properties", dict),
        ("properties.datetime", str),
        ("properties.dse:store_format", str),
        ("properties.dse:scenarios", dict),
        ("assets.zarr.href", str),
        ("assets.manifest.href", str),
        ("assets.manifest.file:checksum", str),
    ):
        _field(doc, path, kind, url)
    if not _ID_PATTERN.match(doc["id"]):
        raise DseError(f"field 'id' {doc['id']!r} is not a valid entry id", where=url)


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
            if (
                not isinstance(value, Mapping)
                or not isinstance(value.get("kind"), str)
                or not isinstance(dims, Mapping)
                or any(type(n) is not int for n in dims.values())
                or type(value.get("n_designs")) is not int
            ):
                raise DseError(
                    f"field 'properties.dse:scenarios.{str(name)[:80]}' must be "
                    "{kind: text, dims: {name: count}, n_designs: count}",
                    where=item_url,
                )
        objectives = _optional(props, "dse:objectives", {}, dict, item_url)
        if any(sense not in ("max", "min") for sense in objectives.values()):
            raise DseError("field 'properties.dse:objectives' must map outputs to 'max' or 'min'", where=item_url)
        return cls(
            id=item["id"],
            title=text("title", "") or item["id"],
            description=text("description", ""),
            href=_resolve(zarr_asset["href"], item_url),
            item_url=item_url,
            manifest_url=_resolve(manifest_asset["href"], item_url),
            manifest_checksum=manifest_asset["file:checksum"],
            created=text("created", "") or props["datetime"],
            license=text("license", ""),
            citation=text("sci:citation", None),
            doi=text("sci:doi", None),
            dse_version=str(_optional(props, "dse:version", "", str | int | float, item_url)),
            scenarios=dict(scenarios),
            objectives=dict(objectives),
            n_designs=_optional(props, "dse:n_designs", 0, int, item_url),
            n_objects=_optional(zarr_asset, "dse:objects", 0, int, item_url, "assets.zarr."),
            size=_optional(zarr_asset, "dse:bytes", 0, int, item_url, "assets.zarr."),
            spec=text("dse:spec", ""),
            spec_hash=text("dse:spec_hash", ""),
            git_commit=text("dse:git_commit", ""),
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
        """The collection's title, or its id when it has none."""
        return str(self.collection.get("title") or self.collection["id"])

    def entries(self) -> list[Entry]:
        """Every entry of the catalog, in the order of its items."""
        return [Entry.from_item(self.items[i], self.item_urls[i]) for i in self.items]

    def entry(self, entry_id: str) -> Entry:
        """One entry by id; an unknown id raises DseError with suggestions."""
        if entry_id not in self.items:
            raise DseError(_unknown(entry_id, list(self.items)), where=self.url)
        return Entry.from_item(self.items[entry_id], self.item_urls[entry_id])


def _unknown(entry_id: str, known: list[str]) -> str:
    from dse.errors import suggest

    if not known:
        return f"unknown entry {entry_id!r}: the catalog is empty"
    listed = ", ".join(known[:12]) + (f", … ({len(known)} in all)" if len(known) > 12 else "")
    return f"unknown entry {entry_id!r}{suggest(entry_id, known)} (entries: {listed})"


def _new_collection(catalog_url: str) -> dict:
    import pystac

    stem = posixpath.basename(catalog_url.rstrip("/")).removesuffix(".json")
    extent = pystac.Extent(pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]), pystac.TemporalExtent([[None, None]]))
    collection = pystac.Collection(
        id=stem,
        title=stem,
        license="other",
        extent=extent,
        description="Results stores of dse (design-space exploration of anode-free cells).",
    )
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
