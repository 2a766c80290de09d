"""Fronts turned into answers: a table, its knee, the best design under constraints.

:func:`front_table` lists the members of a front with their inputs,
:func:`knee_point` picks the member closest to the utopia point (each
objective scaled over the front), :func:`epsilon_constraint` the best design of one objective with
bounds on the others.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from dse.errors import SpecError, suggest
from dse.pareto.chunked import _is_dask
from dse.pareto.senses import _senses_of_table, _signs, objective_senses
from dse.vocabulary import INPUTS

__all__ = [
    "OPERATORS",
    "decode_categories",
    "front_table",
    "knee_point",
    "epsilon_constraint",
]

#: comparison operators accepted by :func:`epsilon_constraint`
OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


def _default_inputs(ds: xr.Dataset, dims: Sequence[str]) -> list[str]:
    """Dimension coordinates (but ``design``) and input variables over ``dims``."""
    names = [d for d in dims if d in ds.coords and d != "design"]
    for name, var in ds.variables.items():
        if name in INPUTS and name not in names and set(var.dims) <= set(dims) and var.dims:
            names.append(name)
    return names


def _design_labels(ds: xr.Dataset, dims: Sequence[str], shape: tuple[int, ...], idx: np.ndarray) -> Any:
    """The ``design`` coordinate of 1-D results, else the row-major flat position."""
    if tuple(dims) == ("design",) and "design" in ds.coords:
        return np.asarray(ds["design"].values)[idx[:, 0]]
    return np.ravel_multi_index(tuple(idx.T), shape) if idx.size else np.zeros(0, np.int64)


def decode_categories(table: pd.DataFrame, ds) -> pd.DataFrame:
    """Categorical columns of a front table from their stored codes to their names, in place."""
    from dse.store import decode_codes

    for col in table.columns:
        cats = ds[col].attrs.get("dse_categories") if col in ds.variables else None
        if cats:
            table[col] = decode_codes(table[col].to_numpy(), cats)
    return table


def front_table(
    ds: xr.Dataset,
    mask: xr.DataArray,
    objectives: Mapping[str, str | None] | Sequence[str] | None = None,
    inputs: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The front designs as a table, best first in the first objective.

    Parameters
    ----------
    ds : xarray.Dataset
        Results.
    mask : xarray.DataArray
        Boolean mask, e.g. from :func:`pareto_mask` (only the selected
        positions are loaded).
    objectives : mapping or sequence, optional
        See :func:`objective_senses`.
    inputs : sequence of str, optional
        Input columns; default the dimension coordinates and the input
        variables (:data:`dse.vocabulary.INPUTS`) over the mask's dimensions.

    Returns
    -------
    pandas.DataFrame
        One row per front design; the index ``design`` is the ``design``
        coordinate of sampled results, else the row-major flat position.
        ``attrs["dse_sense"]`` holds the senses.

    Examples
    --------
    >>> from dse.pareto import pareto_mask
    >>> ds = xr.Dataset(
    ...     {
    ...         "specific_energy": ("cathode_loading", [350.0, 400.0, 380.0], {"dse_sense": "max"}),
    ...         "cycle_life": ("cathode_loading", [900.0, 300.0, 200.0], {"dse_sense": "max"}),
    ...     },
    ...     coords={"cathode_loading": [2.0, 4.0, 6.0]},
    ... )
    >>> front_table(ds, pareto_mask(ds))  # doctest: +NORMALIZE_WHITESPACE
            cathode_loading  specific_energy  cycle_life
    design
    1                   4.0            400.0       300.0
    0                   2.0            350.0       900.0
    """
    senses = objective_senses(ds, objectives)
    dims = mask.dims
    idx = da.argwhere(mask.data).compute() if _is_dask(mask) else np.argwhere(mask.values)
    names = list(inputs) if inputs is not None else _default_inputs(ds, dims)
    for name in names:
        if name not in ds.variables:
            raise SpecError(f"{name!r} is no input of the results" + suggest(name, ds.variables), where="inputs")
    columns = [n for n in names if n not in senses] + list(senses)
    picked = [_pick(ds[n], dims, idx) for n in columns]
    values = dask.compute(*picked)
    df = pd.DataFrame(
        dict(zip(columns, values, strict=True)),
        index=pd.Index(_design_labels(ds, dims, mask.shape, idx), name="design"),
    )
    first, sense = next(iter(senses.items()))
    df = df.sort_values(first, ascending=sense == "min", kind="stable", na_position="last")
    df.attrs["dse_sense"] = dict(senses)
    return df


def _pick(var: xr.DataArray, dims: Sequence[str], idx: np.ndarray) -> Any:
    """Values of ``var`` at the positions ``idx`` (rows of indices along ``dims``)."""
    sel = {d: xr.DataArray(idx[:, j], dims="front") for j, d in enumerate(dims) if d in var.dims}
    out = var.isel(sel) if sel else var
    if "front" not in out.dims:
        out = out.expand_dims(front=idx.shape[0])
    return out.data


def knee_point(front_df: pd.DataFrame, objectives: Mapping[str, str | None] | Sequence[str] | None = None) -> Any:
    """Index label of the front member closest to the utopia point.

    Each objective is scaled to [0, 1] over the front, 1 being its best front
    value (its max for "max", its min for "min"; a constant objective scores
    1). The utopia point is all ones; the knee is the member with the smallest
    Euclidean distance to it, the first one in table order on ties. Rows with
    NaN objectives are ignored.

    Parameters
    ----------
    front_df : pandas.DataFrame
        Front members, e.g. from :func:`front_table`.
    objectives : mapping or sequence, optional
        ``{name: sense}``, or names with senses from ``front_df.attrs["dse_sense"]``.

    Returns
    -------
    object
        The index label of the knee.

    Examples
    --------
    >>> df = pd.DataFrame({"specific_energy": [450.0, 400.0, 300.0], "cost": [200.0, 110.0, 100.0]})
    >>> knee_point(df, {"specific_energy": "max", "cost": "min"})
    1
    """
    senses = _senses_of_table(front_df, objectives)
    x = front_df[list(senses)].to_numpy(dtype=np.float64) * np.asarray(_signs(list(senses.values())))
    valid = ~np.isnan(x).any(axis=1)
    if not valid.any():
        raise SpecError("the front holds no member with finite objectives", where="knee_point")
    lo, hi = np.nanmin(x[valid], axis=0), np.nanmax(x[valid], axis=0)
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1.0), 1.0)
    distance = np.where(valid, np.sqrt(((1.0 - scaled) ** 2).sum(axis=1)), np.inf)
    return front_df.index[int(np.argmin(distance))]


def _check_constraints(constraints: Mapping[str, tuple[str, float]], names: Any, where: str) -> None:
    for name, rule in constraints.items():
        if name not in names:
            raise SpecError(f"{name!r} names no variable" + suggest(str(name), names), where=where)
        if not isinstance(rule, tuple | list) or len(rule) != 2 or rule[0] not in OPERATORS:
            raise SpecError(
                f"{name!r}: {rule!r} is not (op, value) with op one of {', '.join(OPERATORS)}",
                where=where,
            )


def epsilon_constraint(
    data: xr.Dataset | pd.DataFrame,
    maximise: str,
    constraints: Mapping[str, tuple[str, float]],
    *,
    sense: str | None = None,
) -> pd.Series | None:
    """The best design in one objective subject to bounds on others.

    "The longest-lived design with specific_energy >= 400" is
    ``epsilon_constraint(ds, "cycle_life", {"specific_energy": (">=", 400)})``.
    Only feasible designs (``feasible``, when present) with a non-NaN
    objective count; the first best design (row-major) wins ties.

    Parameters
    ----------
    data : xarray.Dataset or pandas.DataFrame
        Results, or a table such as :func:`front_table`.
    maximise : str
        The objective to optimise: maximised unless its sense is "min".
    constraints : mapping
        ``{name: (op, value)}`` with op one of ``>= > <= < == !=``.
    sense : {"max", "min"}, optional
        Override the sense; default the ``dse_sense`` attribute
        (``attrs["dse_sense"]`` of a table), else "max".

    Returns
    -------
    pandas.Series or None
        The inputs and variables of the best design, named by its design
        label; None when no design satisfies the constraints.

    Examples
    --------
    >>> df = pd.DataFrame({"specific_energy": [450.0, 410.0, 380.0], "cycle_life": [300.0, 600.0, 900.0]})
    >>> epsilon_constraint(df, "cycle_life", {"specific_energy": (">=", 400)}).name
    1
    """
    if isinstance(data, pd.DataFrame):
        return _epsilon_table(data, maximise, constraints, sense)
    return _epsilon_dataset(data, maximise, constraints, sense)


def _epsilon_table(
    df: pd.DataFrame, target: str, constraints: Mapping[str, tuple[str, float]], sense: str | None
) -> pd.Series | None:
    if target not in df.columns:
        raise SpecError(f"{target!r} is no column" + suggest(str(target), df.columns), where="maximise")
    _check_constraints(constraints, df.columns, "constraints")
    sense = sense or df.attrs.get("dse_sense", {}).get(target, "max")
    sign = _signs([sense])[0]
    keep = df[target].notna().to_numpy().copy()
    if "feasible" in df.columns:
        keep &= df["feasible"].astype(bool).to_numpy()
    for name, (op, value) in constraints.items():
        keep &= np.asarray(OPERATORS[op](df[name], value), dtype=bool)
    if not keep.any():
        return None
    score = np.where(keep, sign * df[target].to_numpy(dtype=np.float64), -np.inf)
    best = np.flatnonzero(keep & (score == score[keep].max()))[0]
    return df.iloc[best]


def _epsilon_dataset(
    ds: xr.Dataset, target: str, constraints: Mapping[str, tuple[str, float]], sense: str | None
) -> pd.Series | None:
    if target not in ds.data_vars:
        raise SpecError(f"{target!r} is no variable" + suggest(str(target), ds.data_vars), where="maximise")
    _check_constraints(constraints, ds.variables, "constraints")
    sense = sense or ds[target].attrs.get("dse_sense", "max")
    sign = _signs([sense])[0]
    keep = ds[target].notnull()
    if "feasible" in ds.variables:
        keep = keep & ds["feasible"].astype(bool)
    for name, (op, value) in constraints.items():
        keep = keep & OPERATORS[op](ds[name], value)
    score = xr.where(keep, sign * ds[target].astype(np.float64), -np.inf)
    any_, best = dask.compute(keep.any(), score.max())
    if not bool(any_):
        return None
    hit = (score == float(best)) & keep
    idx = da.argwhere(hit.data).compute() if _is_dask(hit) else np.argwhere(hit.values)
    point = {d: int(i) for d, i in zip(hit.dims, idx[0], strict=True)}
    row = ds.isel({d: i for d, i in point.items() if d in ds.dims}).compute()
    values = {n: v.item() for n, v in row.variables.items() if v.ndim == 0 and n != "design"}
    label = _design_labels(ds, hit.dims, hit.shape, idx[:1])[0]
    return pd.Series(values, name=label.item() if hasattr(label, "item") else label)
