"""The sensitivity table (:data:`COLUMNS`, one row per output and input) and the checks every estimator makes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from dse.errors import SpecError, suggest

#: columns of every sensitivity table, in order
COLUMNS = (
    "scenario",
    "output",
    "input",
    "method",
    "first_order",
    "first_order_low",
    "first_order_high",
    "total_order",
    "total_order_low",
    "total_order_high",
    "n_used",
    "effect_range",
)


def _scenario_of(ds: xr.Dataset) -> str:
    return str(ds.attrs.get("dse_scenario", ""))


def _where(ds: xr.Dataset) -> str:
    name = _scenario_of(ds)
    return f"scenario {name!r}" if name else "results"


def _kind(ds: xr.Dataset) -> str:
    kind = ds.attrs.get("dse_kind", "sampled" if "design" in ds.dims else "grid")
    if kind not in ("grid", "sampled"):
        raise SpecError(f"dse_kind {kind!r} is not 'grid' or 'sampled'", where=_where(ds))
    return kind


def _input_names(ds: xr.Dataset) -> list[str]:
    """Swept inputs: grid dimensions, or sampled input variables in sampler order."""
    if _kind(ds) == "grid":
        dims = [str(d) for d in ds.attrs.get("dse_dims", list(ds.dims))]
        return [d for d in dims if d in ds.dims]
    names = [str(v) for v in ds.attrs.get("dse_sampled_inputs", [])]
    if not names:
        names = [str(v) for v in ds.data_vars if ds[v].attrs.get("dse_role") == "input"]
    return names


def _output_names(ds: xr.Dataset, outputs: str | Sequence[str] | None) -> list[str]:
    """Outputs to analyse, checked: default every variable with ``dse_sense``."""
    inputs = set(_input_names(ds)) | {str(v) for v in ds.data_vars if ds[v].attrs.get("dse_role") == "input"}
    candidates = [str(v) for v in ds.data_vars if str(v) not in inputs]
    if outputs is None:
        names = [v for v in candidates if "dse_sense" in ds[v].attrs]
        if not names:
            raise SpecError("no output has a dse_sense attribute; name the outputs", where="outputs")
    else:
        names = [outputs] if isinstance(outputs, str) else list(outputs)
        if not names:
            raise SpecError("at least one output is needed", where="outputs")
    for name in names:
        if name in inputs:
            raise SpecError(f"{name!r} is an input, not an output", where="outputs")
        if name not in candidates:
            raise SpecError(
                f"{name!r} is no output of the results" + suggest(str(name), candidates),
                where="outputs",
            )
    return list(dict.fromkeys(names))


def _check_options(n_boot: int, conf: float, bins: int | None = None) -> None:
    if not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise SpecError(f"must be a whole number ≥ 0, got {n_boot!r}", where="n_boot")
    if not 0.0 < float(conf) < 1.0:
        raise SpecError(f"must be between 0 and 1, got {conf!r}", where="conf")
    if bins is not None and (not isinstance(bins, int | np.integer) or bins < 2):
        raise SpecError(f"must be a whole number ≥ 2, got {bins!r}", where="bins")


def _check_varies(where: str, distinct: Mapping[str, int]) -> None:
    """Refuse a scenario in which no input takes two or more values."""
    if distinct and max(distinct.values()) < 2:
        raise SpecError(
            "no swept input takes two or more values: there is no variance to attribute",
            where=where,
        )


def _feasible(ds: xr.Dataset, feasible_only: bool) -> xr.DataArray | None:
    if not feasible_only:
        return None
    if "feasible" not in ds.variables:
        raise SpecError("feasible_only needs a 'feasible' variable", where=_where(ds))
    return ds["feasible"]


def _labels(ds: xr.Dataset, names: Sequence[str]) -> dict[str, dict[str, str]]:
    return {
        n: {
            "long_name": str(ds[n].attrs.get("long_name", n)),
            "units": str(ds[n].attrs.get("units", "")),
        }
        for n in names
    }


def _row(
    ds: xr.Dataset,
    output: str,
    name: str,
    method: str,
    first: tuple[float, float, float],
    total: tuple[float, float, float] = (np.nan, np.nan, np.nan),
    n_used: int = 0,
    effect_range: float = np.nan,
) -> dict:
    """One row of a sensitivity table; ``first`` and ``total`` are (estimate, low, high)."""
    values = (_scenario_of(ds), output, name, method, *first, *total, n_used, effect_range)
    return dict(zip(COLUMNS, values, strict=True))


def _frame(rows: list[dict], labels: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["n_used"] = df["n_used"].astype(np.int64)
    df.attrs["dse_outputs"] = {k: dict(v) for k, v in labels.items()}
    return df
