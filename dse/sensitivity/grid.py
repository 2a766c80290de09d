"""Grids: exact main-effect and total-effect shares of the variance, with lazy xarray reductions (:func:`main_effects`)."""

from __future__ import annotations

from collections.abc import Sequence

import dask
import numpy as np
import pandas as pd
import xarray as xr

from dse.errors import SpecError
from dse.sensitivity.tables import (
    _check_varies,
    _feasible,
    _frame,
    _input_names,
    _kind,
    _labels,
    _output_names,
    _row,
    _where,
)


def main_effects(
    ds: xr.Dataset, outputs: str | Sequence[str] | None = None, *, feasible_only: bool = False
) -> pd.DataFrame:
    """Main-effect and total-effect shares of the variance over a grid scenario.

    The grid is treated as the uniform distribution over its levels. For each
    swept dimension ``i`` the conditional means ``m_i`` are the output averaged
    over every other dimension; the first-order share is their variance
    (weighted by the number of finite values behind each mean) over the total
    variance, and the total-order share the mean variance along ``i`` over the
    total variance. On a complete grid both are exact ANOVA shares of that
    uniform distribution, so there are no intervals (NaN). Non-finite values
    (NaN, ±inf) are left out of every mean.

    Parameters
    ----------
    ds : xarray.Dataset
        A grid scenario (dimensions ``dse_dims``); NumPy- or Dask-backed.
        Every reduction is an xarray reduction, computed once at the end.
    outputs : str or sequence of str, optional
        Outputs to analyse; default every variable with ``dse_sense``.
    feasible_only : bool, default False
        Leave infeasible designs out of every mean (changes the question).

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`; ``effect_range`` is max - min of the conditional
        means in output units, ``n_used`` the number of finite values.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> a, b = np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0])
    >>> ds = xr.Dataset(
    ...     {"y": (("a", "b"), a[:, None] + 3.0 * b[None, :], {"dse_sense": "max", "units": "W"})},
    ...     coords={"a": a, "b": b}, attrs={"dse_kind": "grid", "dse_dims": ["a", "b"]},
    ... )
    >>> main_effects(ds)[["input", "first_order", "total_order", "effect_range"]].round(4)
      input  first_order  total_order  effect_range
    0     a       0.2286       0.2286           2.0
    1     b       0.7714       0.7714           3.0
    """
    where = _where(ds)
    if _kind(ds) != "grid":
        raise SpecError("main effects need a grid scenario; use sensitivity()", where=where)
    dims = _input_names(ds)
    _check_varies(where, {d: int(ds.sizes[d]) for d in dims})
    names = _output_names(ds, outputs)
    feasible = _feasible(ds, feasible_only)
    lazy: dict[str, xr.DataArray] = {}
    for out in names:
        y = ds[out].astype(np.float64)
        y = y.where(np.isfinite(y))
        if feasible is not None:
            y = y.where(feasible)
        count = y.count()
        mean = y.mean()
        lazy[f"{out}/n"] = count
        lazy[f"{out}/var"] = y.var()
        for d in dims:
            if d not in y.dims:
                continue
            others = [o for o in y.dims if o != d]
            cond = y.mean(others)
            lazy[f"{out}/{d}/first"] = ((cond - mean) ** 2 * y.count(others)).sum() / count
            lazy[f"{out}/{d}/total"] = (y.var(d) * y.count(d)).sum() / count
            lazy[f"{out}/{d}/range"] = cond.max() - cond.min()
    keys = list(lazy)
    values = dict(zip(keys, dask.compute(*[lazy[k].data for k in keys]), strict=True))
    rows = []
    for out in names:
        used = int(values[f"{out}/n"])
        var = float(values[f"{out}/var"])
        var = var if var > 0.0 else np.nan
        for d in dims:
            first = float(values.get(f"{out}/{d}/first", 0.0)) / var
            total = float(values.get(f"{out}/{d}/total", 0.0)) / var
            spread = float(values.get(f"{out}/{d}/range", 0.0))
            rows.append(
                _row(
                    ds,
                    out,
                    d,
                    "main_effect",
                    (first, np.nan, np.nan),
                    (total, np.nan, np.nan),
                    used,
                    spread,
                )
            )
    return _frame(rows, _labels(ds, names))
