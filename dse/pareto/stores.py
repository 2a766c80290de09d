"""The front of every feasible design of a results store (``dse pareto``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from dse.errors import SpecError
from dse.pareto.answers import decode_categories, front_table
from dse.pareto.chunked import pareto_mask
from dse.pareto.exact import nondominated
from dse.pareto.senses import objective_senses

__all__ = [
    "pareto_store",
]


def pareto_store(
    path: str,
    objectives: Mapping[str, str | None] | Sequence[str] | None = None,
    where: str | None = None,
    storage_options: Mapping | None = None,
    write: bool = True,
    reference: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """The exact front of every feasible design of a store, across scenarios.

    Each scenario's front is computed chunk-wise (:func:`pareto_mask`); the
    front of the union of scenario fronts is the global one (a globally
    non-dominated design is non-dominated in its scenario). With ``write``,
    each scenario gets a boolean variable ``pareto_front`` marking its members
    of the global front, with the objectives, filter, hypervolume and its
    reference point in its attributes.

    ``reference`` is the hypervolume's reference point ``{objective: value}``;
    default the front's nadir (:func:`dse.hypervolume.default_reference`).

    Returns
    -------
    pandas.DataFrame
        The global front: ``scenario``, ``design``, inputs and objectives,
        best first in the first objective. ``attrs`` holds ``dse_sense``,
        ``dse_hypervolume`` and ``dse_hypervolume_reference``.
    """
    from dse.hypervolume import default_reference, hypervolume
    from dse.store import open_results, read_root_attrs, store_state, write_variable

    attrs = read_root_attrs(path, storage_options)
    state = store_state(path, storage_options) if write else None  # before reading: blocks may still arrive
    datasets = open_results(path, storage_options)
    first = next(iter(datasets.values()))
    senses = objective_senses(first, objectives)
    frames, masks = [], {}
    for name, ds in datasets.items():
        for obj in senses:
            if obj not in ds:
                raise SpecError(f"objective {obj!r} is not stored in scenario {name!r}", where=path)
        mask = pareto_mask(ds, senses, where=where).compute()
        masks[name] = mask
        if not bool(mask.any()):
            continue
        table = front_table(ds, mask, senses)
        decode_categories(table, ds)
        table.insert(0, "scenario", name)
        frames.append(table.reset_index())
    if not frames:
        front = pd.DataFrame(columns=["scenario", "design", *senses])
    else:
        union = pd.concat(frames, ignore_index=True)
        keep = nondominated(union[list(senses)].to_numpy(dtype=np.float64), list(senses.values()))
        front = union[keep].reset_index(drop=True)
        first_obj, sense = next(iter(senses.items()))
        front = front.sort_values(first_obj, ascending=sense == "min", kind="stable").reset_index(drop=True)
    names, sense_list = list(senses), list(senses.values())
    ref = dict(reference) if reference else default_reference(front, names, sense_list)
    volume = hypervolume(front, names, sense_list, ref) if len(front) else 0.0
    if write:
        groups = attrs.get("dse_groups", {})
        for name, mask in masks.items():
            members = set(front.loc[front["scenario"] == name, "design"].astype(int))
            flat = mask.values.ravel()
            if flat.any():
                positions = np.flatnonzero(flat)
                if "design" in mask.dims:
                    ids = mask["design"].values.ravel()[positions]
                else:
                    ids = positions
                flat = flat.copy()
                flat[positions[~np.isin(ids, list(members))]] = False
            out = xr.DataArray(
                flat.reshape(mask.shape),
                dims=mask.dims,
                name="pareto_front",
                attrs={
                    "long_name": "On the Pareto front of the store",
                    "units": "1",
                    "dse_objectives": ", ".join(f"{n}:{s}" for n, s in senses.items()),
                    "dse_where": where or "",
                    **({"dse_hypervolume": volume, "dse_hypervolume_reference": ref} if len(front) else {}),
                },
            )
            write_variable(path, groups.get(name, ""), out, storage_options, state=state)
    front.attrs["dse_sense"] = dict(senses)
    front.attrs["dse_hypervolume"] = volume
    front.attrs["dse_hypervolume_reference"] = ref
    return front
