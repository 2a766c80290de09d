"""Flat tables of designs from a results store, and designs back from rows.

Grid scenarios are N-D; sampled scenarios are 1-D. Pareto fronts, the
dashboard and exports all want one row per design with its swept inputs and
outputs, across scenarios. :func:`design_table` builds that (compactly:
float32 numbers, categorical inputs as pandas categoricals);
:func:`row_design` turns a row back into a :class:`~dse.spec.Design` that
``dse evaluate`` reproduces exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property

import numpy as np
import pandas as pd
import xarray as xr

from dse.safe_yaml import loads
from dse.spec import Design, parse_sweep
from dse.store.reading import open_results, read_root_attrs
from dse.vocabulary import INPUTS

__all__ = ["design_table", "swept_inputs", "row_design", "Results"]


def swept_inputs(ds: xr.Dataset) -> list[str]:
    """Inputs that vary in a scenario (grid dims or sampled variables)."""
    if ds.attrs.get("dse_kind") == "sampled":
        return [v for v in ds.data_vars if ds[v].attrs.get("dse_role") == "input"]
    return [d for d in ds.attrs.get("dse_dims", ds.dims) if d in INPUTS]


def _scenario_frame(name: str, ds: xr.Dataset, columns: Sequence[str] | None, feasible_only: bool) -> pd.DataFrame:
    swept = swept_inputs(ds)
    outputs = [v for v in ds.data_vars if ds[v].attrs.get("dse_role") != "input"]
    wanted = outputs if columns is None else [c for c in columns if c in outputs]
    if "feasible" not in wanted:
        wanted = [*wanted, "feasible"]
    if ds.attrs.get("dse_kind") == "sampled":
        n = ds.sizes["design"]
        frame = {"design": np.arange(n, dtype=np.int64)}
        for v in swept:
            if columns is not None and v not in columns:
                continue
            values = ds[v].values
            cats = ds[v].attrs.get("dse_categories")
            frame[v] = (
                pd.Categorical.from_codes(values.astype(np.int64), categories=cats)
                if cats
                else values.astype(np.float32)
            )
        for v in wanted:
            frame[v] = ds[v].values.ravel()
    else:
        dims = list(ds.attrs.get("dse_dims", ds[wanted[0]].dims))
        shape = [ds.sizes[d] for d in dims]
        n = int(np.prod(shape))
        frame = {"design": np.arange(n, dtype=np.int64)}
        index = np.indices(shape).reshape(len(shape), -1) if n else np.zeros((len(shape), 0), dtype=int)
        for i, d in enumerate(dims):
            if columns is not None and d not in columns:
                continue
            coord = ds[d].values
            if INPUTS[d].categorical:
                cats = [str(c) for c in coord]
                frame[d] = pd.Categorical.from_codes(index[i], categories=cats)
            else:
                frame[d] = coord.astype(np.float32)[index[i]]
        for v in wanted:
            frame[v] = ds[v].transpose(*dims).values.ravel()
    df = pd.DataFrame(frame)
    df.insert(0, "scenario", name)
    if feasible_only:
        df = df[df["feasible"]]
    return df


def design_table(
    source: str | Mapping[str, xr.Dataset],
    columns: Sequence[str] | None = None,
    feasible_only: bool = False,
    storage_options: Mapping | None = None,
) -> pd.DataFrame:
    """One row per design across all scenarios of a store.

    Parameters
    ----------
    source : str or mapping
        A store path/URL, or ``{scenario: Dataset}`` as from
        :func:`dse.store.open_results`.
    columns : sequence of str, optional
        Outputs and inputs to include (default: all swept inputs and outputs).
    feasible_only : bool, default False

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario`` (categorical), ``design`` (index within the
        scenario, C order for grids), swept inputs, outputs, ``feasible``.
        Inputs swept in one scenario and fixed in another are filled with the
        fixed value, so filters work across scenarios.
    """
    datasets = open_results(source, storage_options) if isinstance(source, str) else dict(source)
    frames = []
    for name, ds in datasets.items():
        df = _scenario_frame(name, ds, columns, feasible_only)
        frames.append((name, ds, df))
    all_swept = []
    for _, ds, _ in frames:
        for v in swept_inputs(ds):
            if v not in all_swept and (columns is None or v in columns):
                all_swept.append(v)
    out = []
    for _, ds, df in frames:
        for v in all_swept:
            if v not in df:
                value = ds.coords[v].values.item() if v in ds.coords else INPUTS[v].default
                df[v] = str(value) if INPUTS[v].categorical else np.float32(value)
        out.append(df)
    table = pd.concat(out, ignore_index=True) if out else pd.DataFrame()
    for v in all_swept:
        if INPUTS[v].categorical:
            table[v] = table[v].astype(str).astype("category")
    table["scenario"] = table["scenario"].astype("category")
    return table


class Results:
    """A store opened once: datasets, root attributes and the parsed spec."""

    def __init__(self, path: str, storage_options: Mapping | None = None):
        self.path = path
        self.storage_options = storage_options
        self.attrs = read_root_attrs(path, storage_options)
        self.datasets = open_results(path, storage_options)
        text = self.attrs.get("dse_spec", "")
        self.spec = parse_sweep(loads(text, where=f"{path}: dse_spec"), source=path, text=text) if text else None
        from pydantic import ValidationError

        from dse.coefficients import CeCoefficients

        stored = self.attrs.get("dse_ce_coefficients")
        #: the store's CE coefficients; None when it has none, or when they are of a CE model this
        #: version no longer has (an older store: its outputs stand, a design re-evaluated from it
        #: uses the installed coefficients, and ``coefficients_note`` says so)
        self.coefficients = None
        self.coefficients_note = ""
        if stored:
            try:
                self.coefficients = CeCoefficients.model_validate(loads(stored, where=f"{path}: dse_ce_coefficients"))
            except ValidationError:
                self.coefficients_note = (
                    "made with the CE coefficients of an older model version: its stored "
                    "outputs stand; a design re-evaluated from it uses the installed ones"
                )

    @cached_property
    def catalogue_changed(self) -> bool:
        """True when the installed catalogue differs from the one the store used."""
        from dse.materials.catalogue import load_catalogue

        name = next(iter(self.datasets))
        used = self.datasets[name].attrs.get("dse_catalogue_hash")
        overrides = self.scenario(name).overrides
        return used is not None and used != load_catalogue().with_overrides(overrides).hash()

    def scenario(self, name: str):
        """The scenario of the spec named ``name``."""
        return next(s for s in self.spec.scenarios if s.name == name)


def row_design(results: Results, scenario: str, design: int) -> Design:
    """The full design of row ``design`` of ``scenario``, as ``dse evaluate`` reads it."""
    ds = results.datasets[scenario]
    sc = results.scenario(scenario)
    inputs = dict(sc.fixed)
    if ds.attrs.get("dse_kind") == "sampled":
        row = ds.isel(design=int(design))
        for v in swept_inputs(ds):
            value = row[v].values.item()
            cats = ds[v].attrs.get("dse_categories")
            inputs[v] = cats[int(value)] if cats else float(value)
    else:
        dims = list(ds.attrs["dse_dims"])
        idx = np.unravel_index(int(design), [ds.sizes[d] for d in dims])
        for d, i in zip(dims, idx, strict=True):
            value = ds[d].values[i]
            inputs[d] = str(value) if INPUTS[d].categorical else float(value)
    return Design(
        inputs=inputs,
        given=tuple(inputs),
        name=f"{scenario} design {design}",
        overrides=dict(sc.overrides),
        ce_overrides=dict(sc.ce_overrides),
        ce_coefficients=sc.ce_coefficients,
        source=f"{results.path}:{scenario}:{design}",
        coefficients=results.coefficients,
    )
