"""Templates of results stores: metadata, coordinates, empty chunked variables, the completion record.

A sweep writes the template first (:func:`create_store`), then every block
writes its region and marks itself complete (:mod:`dse.store.blocks`). One
scenario lives at the root group; several scenarios live in one group each
(:func:`scenario_groups`).
"""

from __future__ import annotations

import datetime as _dt
import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr
import yaml
import zarr

from dse import __version__
from dse.design import DesignSpace
from dse.errors import StoreError
from dse.models.feasibility import REASONS
from dse.store.format import FORMAT, _compressors, _consolidate, zarr_store
from dse.store.target import _discard, _swap_in
from dse.vocabulary import INPUTS, OUTPUTS

__all__ = ["create_store", "scenario_groups", "template_dataset", "git_commit"]


def git_commit() -> str:
    """Commit of the dse source tree, or "" outside a git checkout."""
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def _output_attrs(name: str) -> dict:
    from dse.evaluate import EXTRA_UNITS

    var = OUTPUTS.get(name)
    attrs = {
        "units": var.units if var else EXTRA_UNITS.get(name, ""),
        "long_name": var.long_name if var else name.replace("_", " "),
    }
    if var is not None and var.sense:
        attrs["dse_sense"] = var.sense
    if name == "infeasible_reason":
        attrs = {
            "long_name": var.long_name,
            "units": "1",
            "flag_masks": list(REASONS),
            "flag_meanings": " ".join(n for n, _ in REASONS.values()),
        }
    if name == "feasible":
        attrs = {"long_name": "Feasible design", "units": "1"}
    return attrs


def _input_attrs(name: str) -> dict:
    var = INPUTS[name]
    attrs = {"long_name": var.long_name, "dse_role": "input"}
    if var.categorical:
        attrs["dse_catalogue"] = var.catalogue
    else:
        attrs["units"] = var.units
    return attrs


def template_dataset(space: DesignSpace, outputs: tuple[str, ...], chain) -> tuple[xr.Dataset, dict]:
    """The lazy template of one scenario and its Zarr encoding."""
    import dask.array as da

    dims, shape, chunks = space.dims, space.shape, space.chunks
    coords: dict = {}
    for name, values in space.coords.items():
        coords[name] = xr.Variable(
            name, values, attrs=_input_attrs(name) if name in INPUTS else {"long_name": "design index"}
        )
    sampled = {x.name for x in space.scenario.sampled}
    for name, value in space.scenario.fixed.items():
        if name in dims or name in sampled:
            continue
        coords[name] = xr.Variable(
            (), np.array(value, dtype=object) if INPUTS[name].categorical else value, attrs=_input_attrs(name)
        )
    data_vars: dict = {}
    encoding: dict = {}
    for name in outputs:
        if name == "infeasible_reason":
            dtype, fill = np.uint16, 0
        else:
            dtype, fill = np.float32, np.nan
        data_vars[name] = xr.Variable(dims, da.zeros(shape, chunks=chunks, dtype=dtype), attrs=_output_attrs(name))
        encoding[name] = {"chunks": chunks, "compressors": _compressors(), "fill_value": fill}
    data_vars["feasible"] = xr.Variable(
        dims, da.zeros(shape, chunks=chunks, dtype=bool), attrs=_output_attrs("feasible")
    )
    encoding["feasible"] = {"chunks": chunks, "compressors": _compressors(), "fill_value": False}
    for x in space.scenario.sampled:
        attrs = _input_attrs(x.name)
        if x.choices is not None and INPUTS[x.name].categorical:
            attrs.update(
                {
                    "flag_values": list(range(len(x.choices))),
                    "flag_meanings": " ".join(x.choices),
                    "dse_categories": list(x.choices),
                }
            )
            var = xr.Variable(dims, da.zeros(shape, chunks=chunks, dtype=np.int16), attrs=attrs)
            encoding[x.name] = {"chunks": chunks, "compressors": _compressors(), "fill_value": -1}
        else:
            var = xr.Variable(dims, da.zeros(shape, chunks=chunks, dtype=np.float64), attrs=attrs)
            encoding[x.name] = {"chunks": chunks, "compressors": _compressors(), "fill_value": np.nan}
        data_vars[x.name] = var
    attrs = {
        "dse_scenario": space.scenario.name,
        "dse_kind": space.kind,
        "dse_dims": list(dims),
        "dse_chunks": list(chunks),
        "dse_block_grid": list(space.block_grid),
        "dse_n_designs": space.n_designs,
        "dse_description": space.scenario.description,
        **chain.attrs(),
    }
    if space.scenario.sampler is not None:
        sampler = space.scenario.sampler
        attrs.update(
            {
                "dse_sampler": sampler.method,
                "dse_sampler_n": sampler.n,
                "dse_sampler_seed": sampler.seed,
                "dse_sampled_inputs": [x.name for x in space.scenario.sampled],
            }
        )
    for name in coords:  # coordinates and fixed inputs carry the checksum too
        encoding[name] = {"compressors": _compressors()}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs), encoding


def scenario_groups(spec) -> dict[str, str]:
    """Zarr group of each scenario: the root for a single scenario."""
    if len(spec.scenarios) == 1:
        return {spec.scenarios[0].name: ""}
    return {s.name: s.name for s in spec.scenarios}


def create_store(
    path: str,
    spec,
    spaces: dict[str, DesignSpace],
    chains: dict,
    overwrite: bool = False,
    storage_options: Mapping | None = None,
) -> None:
    """Write the template of every scenario, the completion record and the provenance.

    The template is written beside ``path`` (``OUT.zarr.new-XXXXXXXX``) and
    moved to ``path`` only once it is complete, so that a failed or
    interrupted start leaves ``path`` as it was: missing, or (with
    ``overwrite``) the old store, which is deleted only after
    :func:`dse.safety.check_deletable` allowed it. Local paths: two renames
    (old store aside, new one in), then the old store is deleted. Object
    storage has no rename: the old store is deleted and the template's few
    objects are copied in (docs/results-spec.md, "Replacing a store").
    """
    from dse.safety import sibling_path

    tmp = sibling_path(path, "new")
    try:
        _write_template(tmp, spec, spaces, chains, storage_options, where=path)
    except BaseException:
        _discard(tmp, storage_options)
        raise
    try:
        _swap_in(tmp, path, overwrite, storage_options)
    finally:
        _discard(tmp, storage_options)


def _write_template(
    path: str, spec, spaces: dict[str, DesignSpace], chains: dict, storage_options: Mapping | None, where: str
) -> None:
    """Write a whole template at ``path`` (a new, temporary location); errors name ``where``."""
    groups = scenario_groups(spec)
    first = True
    try:
        for name, group in groups.items():
            space = spaces[name]
            ds, encoding = template_dataset(space, spec.outputs, chains[name])
            ds.to_zarr(
                path,
                group=group or None,
                mode="w" if first else "a",
                compute=False,
                zarr_format=3,
                consolidated=False,
                encoding=encoding,
                storage_options=storage_options,
                write_empty_chunks=True,
            )
            first = False
            root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
            g = root[group] if group else root
            g.require_group("_dse").create_array(
                "completed",
                shape=(space.n_blocks,),
                chunks=(1,),
                dtype="uint8",
                fill_value=0,
                overwrite=True,
                compressors=_compressors(),
            )
        root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
        chain = next(iter(chains.values()))
        root.attrs.update({**root_attrs(spec, groups, chain, "running"), **chain.attrs()})
        _consolidate(path, storage_options)
    except PermissionError as exc:
        raise StoreError(f"cannot write the store ({exc.strerror or 'permission denied'})", where=where) from None
    except OSError as exc:
        raise StoreError(f"cannot write the store ({exc.strerror or exc})", where=where) from None


def root_attrs(spec, groups: Mapping[str, str], chain, status: str) -> dict:
    """The attributes every store's root starts with: format, provenance, scenarios, coefficients and ``status``.

    Written by :func:`create_store` (``"running"``) and by a refinement's store
    (``"complete"``), each adding its own after them.
    """
    return {
        "Conventions": "CF-1.10",
        "title": spec.name,
        "dse_store_format": FORMAT,
        "dse_version": __version__,
        "dse_spec": spec.text,
        "dse_spec_hash": spec.hash(),
        "dse_scenarios": list(groups),
        "dse_groups": groups,
        "dse_ce_coefficients": yaml.safe_dump(chain.coefficients.model_dump(mode="json"), sort_keys=False),
        "dse_git_commit": git_commit(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "dse_status": status,
        "dse_sweep_id": uuid.uuid4().hex,
    }
