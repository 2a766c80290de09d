"""Load, validate, look up and override the materials catalogue.

>>> cat = load_catalogue()
>>> cat.get("cathode", "NMC622").specific_capacity.value
175.0
>>> cat.get("cathode", "NMC612")
Traceback (most recent call last):
...
dse.errors.CatalogueError: cathode 'NMC612': unknown id; did you mean 'NMC622'?
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from dse.errors import CatalogueError, suggest  # suggest: re-exported, its home was here
from dse.materials.schema import ENTRY_TYPES, SEED_SOURCE, Reference, _Entry, field_units
from dse.units import to_canonical

__all__ = ["Catalogue", "load_catalogue", "DATA_DIR", "suggest"]

DATA_DIR = Path(__file__).parent / "data"
KIND_DIRS = {
    "metal": "metals",
    "cathode": "cathodes",
    "collector": "collectors",
    "coating": "coatings",
    "electrolyte": "electrolytes",
    "separator": "separators",
    "packaging": "packaging",
    "anode": "anodes",
}
SEEDS = ("000", "001", "002", "003", "004")


def _format_error(exc: ValidationError) -> str:
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    err = errors[0]
    loc = ".".join(str(x) for x in err["loc"] if not str(x).startswith("function-"))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    return f"{loc}: {msg}" if loc else msg


class Catalogue:
    """Validated catalogue entries by kind and id, plus the references.

    Parameters
    ----------
    entries : dict
        ``{kind: {id: entry}}``.
    references : dict
        ``{key: Reference}`` that sources resolve against.
    """

    def __init__(self, entries: dict[str, dict[str, _Entry]], references: dict[str, Reference]):
        self.entries = entries
        self.references = references

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={len(v)}" for k, v in self.entries.items())
        return f"Catalogue({counts})"

    # lookups -------------------------------------------------------------
    def ids(self, kind: str) -> list[str]:
        """Sorted ids of one kind (the order used for categorical codes)."""
        return sorted(self.entries[kind])

    def get(self, kind: str, id: str) -> _Entry:
        """One entry; unknown ids raise with a suggestion."""
        try:
            return self.entries[kind][id]
        except KeyError:
            raise CatalogueError(
                "unknown id" + suggest(str(id), self.entries.get(kind, {})), where=f"{kind} {id!r}"
            ) from None

    def kinds_of(self, id: str) -> list[str]:
        """The kinds (cathode, electrolyte, ...) under which ``id`` is defined."""
        return [k for k, v in self.entries.items() if id in v]

    def value(self, kind: str, id: str, prop: str, default: float = np.nan) -> float:
        """A property value in canonical units (``uptake_capacity.Li`` allowed)."""
        entry = self.get(kind, id)
        v = entry.cited().get(prop)
        return default if v is None else v.value

    def table(self, kind: str, props: list[str], defaults: Mapping[str, float] | None = None) -> np.ndarray:
        """A float64 table ``(n_ids, n_props)`` in :meth:`ids` order."""
        defaults = defaults or {}
        rows = [[self.value(kind, i, p, defaults.get(p, np.nan)) for p in props] for i in self.ids(kind)]
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(props))

    def describe_source(self, source: str) -> str:
        """Human-readable form of a source key."""
        m = SEED_SOURCE.match(source)
        if m:
            ref = self.references.get(f"seed-{m['seed']}")
            title = ref.title if ref else ""
            return f"seed {m['seed']} ({title}), line {m['lines']}"
        key, _, loc = source.partition(":")
        ref = self.references.get(key)
        if ref is None:
            return source
        text = f"{ref.authors + ', ' if ref.authors else ''}{ref.title}"
        text += f" ({ref.year})" if ref.year else ""
        return text + (f", {loc}" if loc else "")

    # identity ------------------------------------------------------------
    def to_dict(self) -> dict:
        """The catalogue as plain data, kinds and ids sorted (what its hash is taken of)."""
        return {
            kind: {i: e.model_dump(mode="json") for i, e in sorted(v.items())}
            for kind, v in sorted(self.entries.items())
        }

    def hash(self) -> str:
        """SHA-256 of the canonical JSON of every entry (provenance)."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    # overrides -----------------------------------------------------------
    def with_overrides(
        self, overrides: Mapping[str, Mapping[str, object]] | None, where: str = "overrides"
    ) -> Catalogue:
        """A copy with some properties replaced.

        Parameters
        ----------
        overrides : mapping
            ``{id: {property: value}}``; an id present in several kinds is
            written ``kind:id``. Values accept unit strings. The source of an
            overridden value becomes ``"override"``.

        Examples
        --------
        >>> cat = load_catalogue().with_overrides({"NMC622": {"specific_capacity": "180 mAh/g"}})
        >>> cat.get("cathode", "NMC622").specific_capacity.value
        180.0
        """
        if not overrides:
            return self
        entries = {k: dict(v) for k, v in self.entries.items()}
        for key, props in overrides.items():
            kind, _, id = str(key).rpartition(":")
            kinds = [kind] if kind else self.kinds_of(id)
            if not kinds or kind and id not in self.entries.get(kind, {}):
                all_ids = [i for v in self.entries.values() for i in v]
                raise CatalogueError("unknown material id" + suggest(id, all_ids), where=f"{where}.{key}")
            if len(kinds) > 1:
                raise CatalogueError(
                    f"id is ambiguous between {kinds}; write e.g. '{kinds[0]}:{id}'", where=f"{where}.{key}"
                )
            kind = kinds[0]
            if not isinstance(props, Mapping):
                raise CatalogueError("expected a mapping of property: value", where=f"{where}.{key}")
            entry = entries[kind][id]
            fields = type(entry).model_fields
            data = entry.model_dump()
            for prop, raw in props.items():
                path = f"{where}.{key}.{prop}"
                base, _, sub = prop.partition(".")
                if base not in fields or base in ("id", "kind"):
                    raise CatalogueError(
                        "unknown property" + suggest(base, [f for f in fields if f not in ("id", "kind")]),
                        where=path,
                    )
                units = _units_of(entry, base, sub)
                if units is None:
                    data[base] = raw
                    continue
                value = {"value": to_canonical(raw, units, where=path), "source": "override"}
                value["value"] = f"{value['value']} {units}" if units not in ("1", "") else value["value"]
                if sub:
                    data[base] = {**data[base], sub: value}
                else:
                    data[base] = value
            data = _plain(data)
            try:
                entries[kind][id] = type(entry).model_validate(data)
            except ValidationError as exc:
                raise CatalogueError(_format_error(exc), where=f"{where}.{key}") from None
        return Catalogue(entries, self.references)


def _units_of(entry: _Entry, base: str, sub: str) -> str | None:
    return field_units(type(entry), base)


def _plain(data):
    """Turn dumped Cited dicts back into ``{value, source, note}`` input form."""
    if isinstance(data, dict):
        if set(data) >= {"value", "units", "source"}:
            units = data["units"]
            val = data["value"]
            text = val if isinstance(val, str) else (f"{val} {units}" if units not in ("1", "") else val)
            return {"value": text, "source": data["source"], "note": data.get("note", "")}
        return {k: _plain(v) for k, v in data.items()}
    return data


def _check_source(source: str, references: Mapping[str, Reference], where: str) -> None:
    if source == "override":
        return
    m = SEED_SOURCE.match(source)
    if m:
        if m["seed"] not in SEEDS:
            raise CatalogueError(f"unknown seed {m['seed']!r} in source {source!r}", where=where)
        return
    key = source.partition(":")[0]
    if key not in references:
        raise CatalogueError(f"source {source!r} does not resolve" + suggest(key, references), where=where)


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load and validate every entry below ``path`` (default: the shipped data).

    Raises
    ------
    CatalogueError
        For an invalid file, a duplicate id, a file name that differs from its
        id, or a source that does not resolve.
    """
    return _load(str(Path(path) if path else DATA_DIR))


@lru_cache(maxsize=4)
def _load(root: str) -> Catalogue:
    base = Path(root)
    ref_file = base / "references.yaml"
    from dse.errors import SpecError
    from dse.safe_yaml import load_file

    try:
        raw_refs = load_file(ref_file, "references file") or {}
        references = {k: Reference.model_validate(v) for k, v in raw_refs.items()}
    except (SpecError, ValidationError, AttributeError) as exc:
        raise CatalogueError(f"cannot load references ({exc.__class__.__name__})", where=str(ref_file)) from None
    entries: dict[str, dict[str, _Entry]] = {k: {} for k in KIND_DIRS}
    for kind, sub in KIND_DIRS.items():
        for file in sorted((base / sub).glob("*.yaml")):
            where = f"{file.relative_to(base)}"
            try:
                data = load_file(file, "catalogue file")
            except SpecError as exc:
                raise CatalogueError(exc.message, where=where) from None
            if not isinstance(data, dict):
                raise CatalogueError("expected a mapping", where=where)
            if data.get("kind") != kind:
                raise CatalogueError(f"kind must be {kind!r} in {sub}/", where=where)
            try:
                entry = ENTRY_TYPES[kind].model_validate(data)
            except ValidationError as exc:
                raise CatalogueError(_format_error(exc), where=where) from None
            if file.stem != entry.id.replace("/", "_"):
                raise CatalogueError(f"file name must match id {entry.id!r}", where=where)
            if entry.id in entries[kind]:
                raise CatalogueError(f"duplicate id {entry.id!r}", where=where)
            for prop, cited in entry.cited().items():
                _check_source(cited.source, references, f"{where}: {prop}")
            if getattr(entry, "alloys_with_source", ""):
                _check_source(entry.alloys_with_source, references, f"{where}: alloys_with")
            entries[kind][entry.id] = entry
    return Catalogue(entries, references)
