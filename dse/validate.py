"""Check a results store against the results spec (docs/results-spec.md).

>>> validate_store("/nonexistent.zarr")[0].startswith("not a Zarr store")
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import zarr

from dse.errors import StoreError
from dse.models.chain import OUTPUT_FIELDS
from dse.store import COMPLETED, FORMAT, open_results, read_root_attrs, zarr_store
from dse.vocabulary import INPUTS

__all__ = ["validate_store", "stale_derived", "REQUIRED_ROOT_ATTRS"]

REQUIRED_ROOT_ATTRS = (
    "Conventions", "dse_store_format", "dse_version", "dse_spec", "dse_spec_hash", "dse_scenarios", "dse_groups",
    "dse_catalogue_hash", "dse_ce_coefficients", "dse_ce_coefficients_hash", "dse_models", "dse_git_commit",
    "created", "dse_status",
)
#: variables a store may hold besides inputs and model outputs
DERIVED = ("feasible", "pareto_front")
REQUIRED_SCENARIO_ATTRS = ("dse_scenario", "dse_kind", "dse_dims", "dse_chunks", "dse_block_grid", "dse_n_designs")


def stale_derived(path: str, storage_options: Mapping | None = None) -> list[str]:
    """One problem per derived variable computed from another state of the store than the present one."""
    from dse.store import derived_variables, store_state

    try:
        now = store_state(path, storage_options)
        found = derived_variables(path, storage_options)
    except StoreError as exc:
        return [exc.message]
    problems = []
    for scenario, names in found.items():
        for name, recorded in names.items():
            where = f"scenario {scenario!r}: derived {name!r}"
            if recorded is None:
                problems.append(f"{where} records no store state (written by an older dse); "
                                "recompute it with dse pareto")
            elif recorded != now:
                problems.append(f"{where} is stale: computed from store state {recorded}, the store is now "
                                f"{now}; recompute it with dse pareto")
    return problems


def validate_store(path: str, storage_options: Mapping | None = None, allow_incomplete: bool = False) -> list[str]:
    """Problems found in a store; an empty list means it conforms.

    MUST-level violations, incomplete stores (unless ``allow_incomplete``)
    and stale derived results are reported; the check reads metadata, the
    completion records and one chunk of each scenario.
    """
    try:
        attrs = read_root_attrs(path, storage_options)
    except StoreError as exc:
        return [exc.message]
    problems = [f"root attribute {a!r} is missing" for a in REQUIRED_ROOT_ATTRS if a not in attrs]
    if problems:
        return problems
    try:
        datasets = open_results(path, storage_options)
    except StoreError as exc:
        return [exc.message]
    if list(datasets) != list(attrs["dse_scenarios"]):
        problems.append("dse_scenarios does not match the groups present")
    root = zarr.open_group(zarr_store(path, storage_options, read_only=True), mode="r", zarr_format=3)
    for name, ds in datasets.items():
        group = attrs["dse_groups"][name]
        where = f"scenario {name!r}"
        missing = [a for a in REQUIRED_SCENARIO_ATTRS if a not in ds.attrs]
        if missing:
            problems.append(f"{where}: attributes {missing} are missing")
            continue
        dims = tuple(ds.attrs["dse_dims"])
        chunks = tuple(ds.attrs["dse_chunks"])
        kind = ds.attrs["dse_kind"]
        if kind == "grid":
            for d in dims:
                if d not in INPUTS:
                    problems.append(f"{where}: dimension {d!r} is not an input name")
                if d not in ds.coords:
                    problems.append(f"{where}: dimension {d!r} has no coordinate")
        elif kind == "sampled":
            if dims != ("design",):
                problems.append(f"{where}: a sampled scenario must have the single dimension 'design'")
        else:
            problems.append(f"{where}: dse_kind must be 'grid' or 'sampled'")
        n = math.prod(ds.sizes[d] for d in dims) if all(d in ds.sizes for d in dims) else -1
        if n != ds.attrs["dse_n_designs"]:
            problems.append(f"{where}: dse_n_designs does not match the dimension sizes")
        for var in ("feasible", "infeasible_reason"):
            if var not in ds:
                problems.append(f"{where}: variable {var!r} is missing")
        if "feasible" in ds and ds.feasible.dtype != bool:
            problems.append(f"{where}: 'feasible' must be boolean")
        if "infeasible_reason" in ds and ds.infeasible_reason.dtype != np.uint16:
            problems.append(f"{where}: 'infeasible_reason' must be uint16")
        for vname, var in ds.data_vars.items():
            if tuple(var.dims) != dims:
                problems.append(f"{where}: variable {vname!r} has dims {var.dims}, expected {dims}")
            if "long_name" not in var.attrs:
                problems.append(f"{where}: variable {vname!r} has no long_name")
            role = var.attrs.get("dse_role")
            if role == "input":
                if vname not in INPUTS:
                    problems.append(f"{where}: input variable {vname!r} is not an input name")
            elif vname not in OUTPUT_FIELDS and vname not in DERIVED:
                problems.append(f"{where}: variable {vname!r} is neither an input nor an output name")
            categorical = vname in INPUTS and INPUTS[vname].categorical
            if "units" not in var.attrs and not categorical:
                problems.append(f"{where}: variable {vname!r} has no units")
            sense = var.attrs.get("dse_sense")
            if sense is not None and sense not in ("max", "min"):
                problems.append(f"{where}: variable {vname!r} has dse_sense {sense!r}")
            enc_chunks = var.encoding.get("chunks") or var.encoding.get("preferred_chunks")
            if enc_chunks is not None and tuple(enc_chunks) != chunks and not isinstance(enc_chunks, dict):
                problems.append(f"{where}: variable {vname!r} is chunked {tuple(enc_chunks)}, expected {chunks}")
        g = root[group] if group else root
        try:
            done = np.asarray(g[COMPLETED][:])
        except KeyError:
            problems.append(f"{where}: completion record {COMPLETED} is missing")
            continue
        if done.size != math.prod(ds.attrs["dse_block_grid"]):
            problems.append(f"{where}: completion record has {done.size} entries for "
                            f"{math.prod(ds.attrs['dse_block_grid'])} blocks")
        missing_blocks = int((done == 0).sum())
        if missing_blocks and not allow_incomplete:
            problems.append(f"{where}: incomplete: {missing_blocks} of {done.size} blocks not written "
                            "(finish with dse sweep … --resume)")
        elif not missing_blocks and "feasible" in ds and "infeasible_reason" in ds:
            first = {d: slice(0, c) for d, c in zip(dims, chunks, strict=True)}
            f = ds.feasible.isel(first).values
            r = ds.infeasible_reason.isel(first).values
            if not np.array_equal(f, r == 0):
                problems.append(f"{where}: 'feasible' disagrees with 'infeasible_reason' in the first chunk")
    problems += stale_derived(path, storage_options)
    if attrs.get("dse_status") == "complete" and any("incomplete" in p for p in problems):
        problems.append("dse_status is 'complete' but blocks are missing")
    if attrs.get("dse_store_format") != FORMAT:
        problems.append("wrong dse_store_format")
    return problems
