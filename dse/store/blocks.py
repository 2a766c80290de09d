"""Block writes and the completion record: what ``--resume`` continues from.

Every block writes its region of each variable and then marks itself
complete in ``_dse/completed``; :func:`completeness` counts the record and
:func:`require_complete` refuses a partial store. :func:`finalize_store`
and :func:`set_status` keep the root attribute ``dse_status``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import zarr

from dse.errors import StoreError
from dse.store.format import COMPLETED, WRITE_CONFIG, _consolidate, zarr_store
from dse.store.reading import read_root_attrs

__all__ = [
    "write_block",
    "completed_blocks",
    "finalize_store",
    "set_status",
    "Completeness",
    "completeness",
    "require_complete",
]


def completed_blocks(path: str, group: str, storage_options: Mapping | None = None) -> np.ndarray:
    """The completion record of a scenario (1 = block written); a damaged entry raises DamagedChunkError."""
    from dse.store.integrity import CheckedStore

    store = CheckedStore(zarr_store(path, storage_options, read_only=True), path)
    root = zarr.open_group(store, mode="r", zarr_format=3)
    g = root[group] if group else root
    try:
        return np.asarray(g[COMPLETED][:])
    except KeyError:
        raise StoreError("has no completion record (_dse/completed)", where=f"{path}/{group}") from None


def _array(group, name: str):
    """An array of a group, opened to write every chunk (:data:`WRITE_CONFIG`)."""
    return group[name].with_config(WRITE_CONFIG)


def write_block(
    path: str,
    group: str,
    block: int,
    region: tuple[slice, ...],
    shape: tuple[int, ...],
    outputs: tuple[str, ...],
    values: np.ndarray,
    sampled: Mapping[str, np.ndarray],
    categories: Mapping[str, list],
    storage_options: Mapping | None = None,
) -> int:
    """Write one evaluated block to its region and mark it complete.

    Returns the number of feasible designs in the block.
    """
    root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
    g = root[group] if group else root
    reason = None
    for j, name in enumerate(outputs):
        data = values[j].reshape(shape)
        if name == "infeasible_reason":
            reason = data.astype(np.uint16)
            data = reason
        _array(g, name)[region] = data
    feasible = (reason == 0) if reason is not None else np.ones(shape, dtype=bool)
    _array(g, "feasible")[region] = feasible
    for name, vals in sampled.items():
        if name in categories:
            lookup = {c: i for i, c in enumerate(categories[name])}
            data = np.fromiter((lookup[str(v)] for v in vals), dtype=np.int16, count=len(vals))
        else:
            data = np.asarray(vals, dtype=np.float64)
        _array(g, name)[region] = data.reshape(shape)
    _array(g, COMPLETED)[block] = 1
    return int(feasible.sum())


def finalize_store(path: str, summary: Mapping, storage_options: Mapping | None = None) -> None:
    """Record the run summary, mark the store complete, consolidate metadata."""
    root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
    root.attrs.update({"dse_status": "complete", "dse_summary": json.loads(json.dumps(dict(summary), default=float))})
    _consolidate(path, storage_options)


def set_status(path: str, status: str, storage_options: Mapping | None = None) -> None:
    """Set the root attribute ``dse_status`` (``running`` while blocks are written, then ``complete``)."""
    root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
    root.attrs.update({"dse_status": status})
    _consolidate(path, storage_options)


@dataclass(frozen=True)
class Completeness:
    """Blocks written of a store, in total and per scenario.

    >>> c = Completeness(done=28, total=40, scenarios={"li": (28, 40)})
    >>> c.describe("out.zarr")
    'store out.zarr is incomplete: 12 of 40 blocks (30 %) missing'
    """

    done: int
    total: int
    scenarios: dict[str, tuple[int, int]]

    @property
    def missing(self) -> int:
        """Blocks not marked complete."""
        return self.total - self.done

    @property
    def complete(self) -> bool:
        """Whether every block is marked complete."""
        return self.missing == 0

    def describe(self, path: str) -> str:
        """One line saying how much of the store at ``path`` is missing."""
        pct = 100 * self.missing / self.total if self.total else 0.0
        return f"store {path} is incomplete: {self.missing:,} of {self.total:,} blocks ({pct:.3g} %) missing"


def completeness(path: str, storage_options: Mapping | None = None) -> Completeness:
    """How many blocks of each scenario are marked complete (the record ``--resume`` uses)."""
    attrs = read_root_attrs(path, storage_options)
    scenarios = {}
    for name, group in attrs.get("dse_groups", {}).items():
        done = completed_blocks(path, group, storage_options)
        scenarios[name] = (int((done != 0).sum()), int(done.size))
    return Completeness(
        done=sum(d for d, _ in scenarios.values()), total=sum(t for _, t in scenarios.values()), scenarios=scenarios
    )


def require_complete(path: str, storage_options: Mapping | None = None, allow_incomplete: bool = False) -> str | None:
    """Refuse an incomplete store, or (``allow_incomplete``) return the line that says how much is missing.

    Returns None for a complete store.

    Raises
    ------
    StoreError
        The store is incomplete and ``allow_incomplete`` is False.
    """
    state = completeness(path, storage_options)
    if state.complete:
        return None
    if not allow_incomplete:
        raise StoreError(
            f"is incomplete: {state.describe(path).split(': ', 1)[1]}; finish it with "
            "dse sweep SPEC -o STORE --resume, or pass --allow-incomplete to use the blocks written "
            "so far",
            where=path,
        )
    return f"{state.describe(path)}; results cover only the blocks written so far"
