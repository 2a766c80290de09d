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
from dse.store.format import COMPLETED, FORMAT, READABLE_FORMATS, zarr_store
from dse.store.integrity import CHECKSUM, DamagedChunkError, has_checksum, scan_store
from dse.store.reading import open_results, read_root_attrs
from dse.vocabulary import INPUTS

__all__ = ["validate_store", "validate_report", "stale_derived", "REQUIRED_ROOT_ATTRS"]

REQUIRED_ROOT_ATTRS = (
    "Conventions",
    "dse_store_format",
    "dse_version",
    "dse_spec",
    "dse_spec_hash",
    "dse_scenarios",
    "dse_groups",
    "dse_catalogue_hash",
    "dse_ce_coefficients",
    "dse_ce_coefficients_hash",
    "dse_models",
    "dse_git_commit",
    "created",
    "dse_status",
)
#: variables a store may hold besides inputs and model outputs
DERIVED = ("feasible", "pareto_front", "pareto_probability")
#: variables of a refined store (dse refine) besides inputs and outputs
REFINEMENT = ("refinement_level", "grid_index")
REQUIRED_SCENARIO_ATTRS = ("dse_scenario", "dse_kind", "dse_dims", "dse_chunks", "dse_block_grid", "dse_n_designs")


def stale_derived(path: str, storage_options: Mapping | None = None) -> list[str]:
    """One problem per derived variable computed from another state of the store than the present one."""
    from dse.store.derived import derived_variables, store_state

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
                problems.append(
                    f"{where} records no store state (written by an older dse); recompute it with dse pareto"
                )
            elif recorded != now:
                problems.append(
                    f"{where} is stale: computed from store state {recorded}, the store is now "
                    f"{now}; recompute it with dse pareto"
                )
    return problems


def validate_store(
    path: str, storage_options: Mapping | None = None, full: bool = False, allow_incomplete: bool = False
) -> list[str]:
    """Problems found in a store; an empty list means it conforms.

    MUST-level violations, incomplete stores (unless ``allow_incomplete``) and
    stale derived results are reported; the check reads metadata, the
    completion records and one chunk of each scenario. With
    ``full``, every chunk of every array is read as well (:func:`validate_report`).
    """
    return validate_report(path, storage_options, full, allow_incomplete)[0]


def validate_report(
    path: str, storage_options: Mapping | None = None, full: bool = False, allow_incomplete: bool = False
) -> tuple[list[str], list[str]]:
    """Problems (the store does not conform) and warnings (it conforms, but see) found in a store.

    Parameters
    ----------
    path : str
        Store path or URL.
    storage_options : mapping, optional
        fsspec options of a remote store.
    full : bool, default False
        Read every chunk of every array (checksums verified, each chunk of a
        completed block present, no link or directory in place of a chunk)
        and check ``feasible == (infeasible_reason == 0)`` in every completed
        block; each damaged chunk is one problem.
    allow_incomplete : bool, default False
        Do not report blocks not yet written (stale derived results still are).

    Returns
    -------
    problems, warnings : list of str
        A ``dse-results/1`` store (written before chunk checksums) is a
        warning: it conforms to the version it declares, but damage to its
        chunks cannot be told from numbers.
    """
    warnings: list[str] = []
    try:
        attrs = read_root_attrs(path, storage_options)
    except StoreError as exc:
        return [exc.message], warnings
    problems = [f"root attribute {a!r} is missing" for a in REQUIRED_ROOT_ATTRS if a not in attrs]
    if problems:
        return problems, warnings
    if attrs.get("dse_store_format") != FORMAT:
        warnings.append(
            f"written as {attrs.get('dse_store_format')!r}, without chunk checksums: a damaged chunk "
            "cannot be told from numbers (rewrite it with dse sweep … --overwrite to add them)"
        )
    try:
        datasets = open_results(path, storage_options)
    except DamagedChunkError as exc:  # a coordinate or the completion record: the full scan names them all
        problems.append(exc.message)
        datasets = None
    except StoreError as exc:
        return [exc.message], warnings
    if datasets is not None:
        try:
            problems += _check_scenarios(path, attrs, datasets, storage_options, allow_incomplete)
        except DamagedChunkError as exc:  # in the first chunk of a scenario
            problems.append(exc.message)
    if full:
        scan = scan_store(path, storage_options, decode=True)
        problems += [d.line(path) for d in scan.damage] + scan.problems
    return list(dict.fromkeys(problems)), warnings


def _check_scenarios(
    path: str, attrs: Mapping, datasets: Mapping, storage_options: Mapping | None, allow_incomplete: bool = False
) -> list[str]:
    """The metadata checks of every scenario (and the first chunk of a complete one)."""
    problems: list[str] = []
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
        if attrs.get("dse_store_format") == FORMAT:
            g = root[group] if group else root
            unchecked = [a for a, arr in g.arrays() if not has_checksum(arr.metadata.to_dict().get("codecs", []))]
            if unchecked:
                problems.append(f"{where}: arrays {sorted(unchecked)} carry no {CHECKSUM} checksum codec")
        for vname, var in ds.data_vars.items():
            if tuple(var.dims) != dims:
                problems.append(f"{where}: variable {vname!r} has dims {var.dims}, expected {dims}")
            if "long_name" not in var.attrs:
                problems.append(f"{where}: variable {vname!r} has no long_name")
            role = var.attrs.get("dse_role")
            if role == "input":
                if vname not in INPUTS:
                    problems.append(f"{where}: input variable {vname!r} is not an input name")
            elif vname not in OUTPUT_FIELDS and vname not in DERIVED and vname not in REFINEMENT:
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
            problems.append(
                f"{where}: completion record has {done.size} entries for {math.prod(ds.attrs['dse_block_grid'])} blocks"
            )
        missing_blocks = int((done == 0).sum())
        if missing_blocks and not allow_incomplete:
            problems.append(
                f"{where}: incomplete: {missing_blocks} of {done.size} blocks not written "
                "(finish with dse sweep … --resume)"
            )
        elif not missing_blocks and "feasible" in ds and "infeasible_reason" in ds:
            first = {d: slice(0, c) for d, c in zip(dims, chunks, strict=True)}
            f = ds.feasible.isel(first).values
            r = ds.infeasible_reason.isel(first).values
            if not np.array_equal(f, r == 0):
                problems.append(f"{where}: 'feasible' disagrees with 'infeasible_reason' in the first chunk")
    problems += stale_derived(path, storage_options)
    if attrs.get("dse_status") == "complete" and any("incomplete" in p for p in problems):
        problems.append("dse_status is 'complete' but blocks are missing")
    if attrs.get("dse_store_format") not in READABLE_FORMATS:
        problems.append("wrong dse_store_format")
    return problems
