"""Derived results in a store (``pareto_front``, ``pareto_probability``): written, recognised, removed.

A derived variable records the store state it was computed from
(:func:`store_state`); ``dse validate`` flags it once the store has changed,
and any rewrite of the store removes it (:func:`remove_derived`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import zarr

from dse.errors import StoreError
from dse.store.blocks import completed_blocks
from dse.store.format import WRITE_CONFIG, _compressors, _consolidate, zarr_store
from dse.store.reading import read_root_attrs

__all__ = ["STATE_ATTR", "DERIVED_RESULTS", "write_variable", "store_state", "derived_variables", "remove_derived"]

#: attribute of a derived variable: the store state (:func:`store_state`) it was computed from
STATE_ATTR = "dse_store_state"
#: derived variables a store may hold; also recognised without STATE_ATTR (older stores)
DERIVED_RESULTS = ("pareto_front", "pareto_probability")


def write_variable(
    path: str, group: str, var, storage_options: Mapping | None = None, state: str | None = None
) -> None:
    """Add (or replace) one derived variable in a scenario of an existing store, chunked like the others.

    Used to store derived results such as the Pareto front next to the sweep's
    outputs, so that the dashboard and colleagues see them. Written with zarr
    directly so that nothing else in the group (attributes, other arrays)
    changes. The variable records the store state it was computed from
    (attribute ``dse_store_state``, :func:`store_state`; default: the state
    now): ``dse validate`` flags it once the store has changed, and any
    rewrite of the store removes it (:func:`remove_derived`).
    """
    attrs = {**dict(var.attrs), STATE_ATTR: state or store_state(path, storage_options)}
    root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
    g = root[group] if group else root
    chunks = tuple(g.attrs.get("dse_chunks", var.shape))
    try:
        arr = g.create_array(
            var.name,
            shape=var.shape,
            chunks=chunks,
            dtype=var.dtype,
            compressors=_compressors(),
            fill_value=False if var.dtype == bool else np.nan,
            dimension_names=list(var.dims),
            attributes=attrs,
            overwrite=True,
            config=WRITE_CONFIG,
        )
        arr[...] = np.asarray(var.values)
    except OSError as exc:
        raise StoreError(f"cannot write {var.name!r} ({exc.strerror or exc})", where=path) from None
    _consolidate(path, storage_options)


def store_state(path: str, storage_options: Mapping | None = None) -> str:
    """A fingerprint of what a store holds: ``SWEEP_ID:DONE/TOTAL:DIGEST``.

    ``SWEEP_ID`` changes with every new template (``--overwrite``), ``DONE``
    and ``DIGEST`` (of every scenario's completion record) with every block
    written (``--resume``). A derived result whose recorded state differs
    from the store's is stale.
    """
    import hashlib

    attrs = read_root_attrs(path, storage_options)
    digest = hashlib.sha256()
    done = total = 0
    for name, group in attrs.get("dse_groups", {}).items():
        record = completed_blocks(path, group, storage_options).astype(np.uint8)
        digest.update(name.encode() + b"\0" + record.tobytes())
        done += int((record != 0).sum())
        total += int(record.size)
    sweep_id = str(attrs.get("dse_sweep_id") or attrs.get("created") or "")
    return f"{sweep_id}:{done}/{total}:{digest.hexdigest()[:16]}"


def derived_variables(path: str, storage_options: Mapping | None = None) -> dict[str, dict[str, str | None]]:
    """Derived variables of each scenario: ``{scenario: {name: recorded state or None}}``."""
    attrs = read_root_attrs(path, storage_options)
    root = zarr.open_group(
        zarr_store(path, storage_options, read_only=True), mode="r", use_consolidated=False, zarr_format=3
    )
    out: dict[str, dict[str, str | None]] = {}
    for name, group in attrs.get("dse_groups", {}).items():
        g = root[group] if group else root
        found = {}
        for key, arr in g.arrays():
            recorded = arr.attrs.get(STATE_ATTR)
            if recorded is not None or key in DERIVED_RESULTS:
                found[key] = None if recorded is None else str(recorded)
        out[name] = found
    return out


def remove_derived(path: str, storage_options: Mapping | None = None) -> list[str]:
    """Delete every derived variable (``pareto_front``, …) before a store is rewritten.

    Returns the ``scenario/variable`` names removed.
    """
    attrs = read_root_attrs(path, storage_options)
    found = derived_variables(path, storage_options)
    if not any(found.values()):
        return []
    root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
    removed = []
    for name, names in found.items():
        group = attrs["dse_groups"][name]
        g = root[group] if group else root
        for key in names:
            try:
                del g[key]
            except OSError as exc:
                raise StoreError(
                    f"cannot remove the derived variable {key!r} ({exc.strerror or exc})", where=path
                ) from None
            removed.append(f"{name}/{key}")
    _consolidate(path, storage_options)
    return removed
