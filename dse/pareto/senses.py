"""Objective senses: which outputs are maximised and which minimised.

A results store records each output's sense (``dse_sense``); a caller may
name objectives with or without a sense. :func:`objective_senses` checks
them against a Dataset and a front table's ``attrs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import xarray as xr

from dse.errors import SpecError, suggest

__all__ = [
    "SENSES",
    "objective_senses",
]

#: allowed objective senses and the sign that turns them into maximisation
SENSES = {"max": 1.0, "min": -1.0}


def _signs(senses: Sequence[str]) -> list[float]:
    for sense in senses:
        if sense not in SENSES:
            raise SpecError(f"sense {sense!r} is not 'max' or 'min'", where="objectives")
    return [SENSES[s] for s in senses]


def objective_senses(
    ds: xr.Dataset, objectives: Mapping[str, str | None] | Sequence[str] | None = None
) -> dict[str, str]:
    """Objective names and senses, checked against ``ds``.

    Parameters
    ----------
    ds : xarray.Dataset
        Results; objectives carry ``dse_sense`` attributes.
    objectives : mapping or sequence, optional
        ``{name: sense}`` (a None sense falls back to the attribute), or names
        whose senses come from the attributes; default every variable with a
        ``dse_sense`` attribute.

    Returns
    -------
    dict
        ``{name: "max" | "min"}`` in the given order.

    Examples
    --------
    >>> ds = xr.Dataset({"cost": ("design", [1.0], {"dse_sense": "min"})})
    >>> objective_senses(ds)
    {'cost': 'min'}
    >>> objective_senses(ds, ["costs"])
    Traceback (most recent call last):
    ...
    dse.errors.SpecError: objectives: 'costs' is no variable of the results; did you mean 'cost'?
    """
    if objectives is None:
        items = [(n, v.attrs["dse_sense"]) for n, v in ds.data_vars.items() if "dse_sense" in v.attrs]
        if not items:
            raise SpecError("no variable has a dse_sense attribute; name the objectives", where="objectives")
    elif isinstance(objectives, str):
        items = [(objectives, None)]
    elif isinstance(objectives, Mapping):
        items = list(objectives.items())
    else:
        items = [(name, None) for name in objectives]
    if not items:
        raise SpecError("at least one objective is needed", where="objectives")
    return {name: _sense_of(ds, name, sense) for name, sense in items}


def _sense_of(ds: xr.Dataset, name: str, sense: str | None) -> str:
    if name not in ds.data_vars:
        raise SpecError(
            f"{name!r} is no variable of the results" + suggest(str(name), ds.data_vars),
            where="objectives",
        )
    sense = sense if sense is not None else ds[name].attrs.get("dse_sense")
    if sense is None:
        raise SpecError(f"{name!r} has no dse_sense: give 'max' or 'min'", where="objectives")
    if sense not in SENSES:
        raise SpecError(f"sense {sense!r} of {name!r} is not 'max' or 'min'", where="objectives")
    return sense


def _senses_of_table(df: pd.DataFrame, objectives: Mapping[str, str | None] | Sequence[str] | None) -> dict:
    known = dict(df.attrs.get("dse_sense", {}))
    if objectives is None:
        items = list(known.items())
    elif isinstance(objectives, str):
        items = [(objectives, known.get(objectives))]
    elif isinstance(objectives, Mapping):
        items = [(n, s if s is not None else known.get(n)) for n, s in objectives.items()]
    else:
        items = [(n, known.get(n)) for n in objectives]
    if not items:
        raise SpecError("at least one objective is needed", where="objectives")
    for name, sense in items:
        if name not in df.columns:
            raise SpecError(
                f"{name!r} is no column of the table" + suggest(name, df.columns),
                where="objectives",
            )
        if sense not in SENSES:
            raise SpecError(f"sense {sense!r} of {name!r} is not 'max' or 'min'", where="objectives")
    return dict(items)
