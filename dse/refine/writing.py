"""A refinement as a results store: one sampled-style scenario per grid scenario, every output.

The designs are stored in grid order with ``refinement_level`` and
``grid_index``; the store is written beside its path and moved into place
complete, as a sweep's template is (:func:`dse.store.create_store`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import numpy as np

from dse.refine.grid import _evaluate, _PointEvaluator
from dse.refine.loop import RefineResult
from dse.spec import SweepSpec
from dse.vocabulary import INPUTS

__all__ = ["write_refined"]


def write_refined(
    result: RefineResult, spec: SweepSpec, path: str, overwrite: bool = False, storage_options: Mapping | None = None
) -> None:
    """Write a refinement as a results store (one sampled-style scenario per grid scenario).

    Written beside ``path`` first and moved into place complete, as a sweep's
    template is (:func:`dse.store.create_store`).
    """
    from dse.safety import sibling_path
    from dse.store.target import _discard, _swap_in, check_target

    check_target(path, False, overwrite, storage_options)
    tmp = sibling_path(path, "new")
    try:
        _write(result, spec, tmp, storage_options)
        _swap_in(tmp, path, overwrite, storage_options)
    finally:
        _discard(tmp, storage_options)


def _dataset(result: RefineResult, spec: SweepSpec, scenario, chain):
    import xarray as xr

    from dse.store.format import _compressors
    from dse.store.template import _input_attrs, _output_attrs

    name = scenario.name
    order = np.argsort(result.points[name], kind="stable")  # designs in grid order
    flat, levels = result.points[name][order], result.levels[name][order]
    # every output of the spec, by the same kernel (refinement kept only the objectives)
    values = _evaluate(_PointEvaluator(scenario, chain, list(spec.outputs)), flat)
    n = flat.size
    chunk = max(1, min(spec.chunk_size, n))
    shape = tuple(len(a.values) for a in scenario.axes)
    idx = np.unravel_index(flat, shape) if n else [np.zeros(0, np.int64)] * len(shape)
    data_vars, encoding = {}, {}

    def put(var_name, data, attrs, fill):
        data_vars[var_name] = xr.Variable(("design",), data, attrs=attrs)
        encoding[var_name] = {"chunks": (chunk,), "compressors": _compressors(), "fill_value": fill}

    for j, out in enumerate(spec.outputs):
        if out == "infeasible_reason":
            put(out, values[j].astype(np.uint16), _output_attrs(out), 0)
        else:
            put(out, values[j].astype(np.float32), _output_attrs(out), np.nan)
    put("feasible", values[spec.outputs.index("infeasible_reason")] == 0, _output_attrs("feasible"), False)
    swept = []
    for a, axis in enumerate(scenario.axes):
        attrs = _input_attrs(axis.name)
        if axis.categorical:
            attrs.update(
                {
                    "flag_values": list(range(len(axis.values))),
                    "flag_meanings": " ".join(axis.values),
                    "dse_categories": list(axis.values),
                }
            )
            put(axis.name, idx[a].astype(np.int16), attrs, -1)
        else:
            put(axis.name, np.asarray(axis.values, np.float64)[idx[a]], attrs, np.nan)
        swept.append(axis.name)
    put(
        "refinement_level",
        levels.astype(np.int16),
        {"long_name": "Refinement level that evaluated the design", "units": "1"},
        -1,
    )
    put(
        "grid_index",
        flat.astype(np.int64),
        {"long_name": "Row-major position of the design in the scenario's grid", "units": "1"},
        -1,
    )
    coords = {"design": xr.Variable("design", np.arange(n, dtype=np.int64), attrs={"long_name": "design index"})}
    encoding["design"] = {"compressors": _compressors()}
    for key, value in scenario.fixed.items():
        if key in swept:
            continue
        coords[key] = xr.Variable(
            (), np.array(value, dtype=object) if INPUTS[key].categorical else value, attrs=_input_attrs(key)
        )
        encoding[key] = {"compressors": _compressors()}
    n_blocks = max(1, math.ceil(n / chunk))
    attrs = {
        "dse_scenario": name,
        "dse_kind": "sampled",
        "dse_dims": ["design"],
        "dse_chunks": [chunk],
        "dse_block_grid": [n_blocks],
        "dse_n_designs": n,
        "dse_description": scenario.description,
        "dse_sampler": "refinement",
        "dse_sampled_inputs": swept,
        "dse_grid_shape": list(shape),
        "dse_grid_dims": swept,
        **chain.attrs(),
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs), encoding, n_blocks


def _write(result: RefineResult, spec: SweepSpec, path: str, storage_options: Mapping | None) -> None:

    import zarr

    from dse.modelchain import ModelChain
    from dse.store.format import _compressors, _consolidate, zarr_store
    from dse.store.template import root_attrs, scenario_groups

    groups = scenario_groups(spec)
    chains = {s.name: ModelChain.from_design(s, uncertainty=spec.uncertainty) for s in spec.scenarios}
    first = True
    for sc in spec.scenarios:
        ds, encoding, n_blocks = _dataset(result, spec, sc, chains[sc.name])
        ds.to_zarr(
            path,
            group=groups[sc.name] or None,
            mode="w" if first else "a",
            zarr_format=3,
            consolidated=False,
            encoding=encoding,
            storage_options=storage_options,
            write_empty_chunks=True,
        )
        first = False
        root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
        g = root[groups[sc.name]] if groups[sc.name] else root
        done = g.require_group("_dse").create_array(
            "completed",
            shape=(n_blocks,),
            chunks=(1,),
            dtype="uint8",
            fill_value=0,
            overwrite=True,
            compressors=_compressors(),
        )
        done[:] = 1
    chain = next(iter(chains.values()))
    summary = {
        "designs": result.evaluated,
        "evaluated": result.evaluated,
        "grid_designs": result.grid_designs,
        "seconds": round(result.seconds, 3),
        "stopped": result.stopped,
    }
    root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
    root.attrs.update(
        {
            **root_attrs(spec, groups, chain, "complete"),
            "dse_summary": summary,
            "dse_refinement": json.loads(
                json.dumps(
                    {
                        "objectives": result.objectives,
                        "options": result.options,
                        "stopped": result.stopped,
                        "exact": result.exact,
                        "history": result.history,
                    }
                )
            ),
            **chain.attrs(),
        }
    )
    _consolidate(path, storage_options)
