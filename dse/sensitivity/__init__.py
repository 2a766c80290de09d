"""Global sensitivity of sweep outputs to the swept inputs.

Which inputs drive the spread of an output over a scenario? Three estimators,
one per kind of scenario, all returning the same tidy table (one row per
output and input, columns :data:`COLUMNS`):

* :func:`sobol_indices` — Saltelli designs: first-order (Saltelli et al. 2010)
  and total-order (Jansen 1999) Sobol' indices with bootstrap intervals;
* :func:`binned_first_order` — other sampled designs (Sobol', Latin
  hypercube, random): a given-data first-order index from the variance of
  conditional means over equal-count bins;
* :func:`main_effects` — grids: exact main-effect and total-effect shares of
  the variance over the grid, with lazy xarray reductions.

:func:`sensitivity` picks the estimator from the scenario's attributes and
:func:`plot_sensitivity` draws the table. Meaning, estimators, references and
the feasibility caveat are written down in ``docs/sensitivity.md``.

>>> import xarray as xr
>>> ds = xr.Dataset(
...     {"energy": (("loading", "pressure"), [[1.0, 1.0], [3.0, 3.0]], {"dse_sense": "max"})},
...     coords={"loading": [2.0, 6.0], "pressure": [0.0, 1.0]},
...     attrs={"dse_kind": "grid", "dse_dims": ["loading", "pressure"]},
... )
>>> sensitivity(ds)[["input", "method", "first_order", "total_order"]]
      input       method  first_order  total_order
0   loading  main_effect          1.0          1.0
1  pressure  main_effect          0.0          0.0
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import xarray as xr

from dse.errors import SpecError
from dse.materials.catalogue import suggest

__all__ = [
    "COLUMNS",
    "sobol_indices",
    "binned_first_order",
    "main_effects",
    "sensitivity",
    "plot_sensitivity",
    "default_bins",
]

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
#: bootstrap weights are drawn in batches of at most this many numbers
_BOOT_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------------------------
# checks shared by the estimators
# --------------------------------------------------------------------------------------------
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
    inputs = set(_input_names(ds)) | {
        str(v) for v in ds.data_vars if ds[v].attrs.get("dse_role") == "input"
    }
    candidates = [str(v) for v in ds.data_vars if str(v) not in inputs]
    if outputs is None:
        names = [v for v in candidates if "dse_sense" in ds[v].attrs]
        if not names:
            raise SpecError(
                "no output has a dse_sense attribute; name the outputs", where="outputs"
            )
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


def _interval(replicates: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap replicates ``(n_boot, k)`` (NaN if none)."""
    k = replicates.shape[1]
    finite = np.where(np.isfinite(replicates), replicates, np.nan)
    if finite.shape[0] == 0 or np.isnan(finite).all():
        return np.full(k, np.nan), np.full(k, np.nan)
    alpha = (1.0 - float(conf)) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN
        low, high = np.nanquantile(finite, [alpha, 1.0 - alpha], axis=0)
    return low, high


def _boot_weights(rng: np.random.Generator, n: int, n_boot: int) -> Iterator[np.ndarray]:
    """Bootstrap replicates as row counts ``(batch, n)``: resampling n rows with replacement."""
    batch = max(1, min(n_boot, _BOOT_ELEMENTS // max(n, 1)))
    done = 0
    while done < n_boot:
        b = min(batch, n_boot - done)
        idx = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        yield np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        done += b


# --------------------------------------------------------------------------------------------
# Saltelli designs: Sobol' indices
# --------------------------------------------------------------------------------------------
def _sobol_from_sums(s: np.ndarray, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """S1 and ST ``(b, d)`` from weighted row means ``s`` of the columns of :func:`_sobol_columns`."""
    m_a, m_b, q_a, q_b = s[:, 0], s[:, 1], s[:, 2], s[:, 3]
    fb_diff, diff, diff2 = s[:, 4 : 4 + d], s[:, 4 + d : 4 + 2 * d], s[:, 4 + 2 * d :]
    mean = (m_a + m_b) / 2.0
    var = ((q_a + q_b) / 2.0 - mean**2) * (2.0 * n / (2.0 * n - 1.0))
    var = np.where(var > 0.0, var, np.nan)[:, None]
    first = (fb_diff - mean[:, None] * diff) / var
    total = diff2 / (2.0 * var)
    return first, total


def _sobol_columns(fa: np.ndarray, fb: np.ndarray, fab: np.ndarray) -> np.ndarray:
    """Per-row statistics whose means give the Saltelli 2010 / Jansen estimates."""
    diff = (fab - fa).T  # (n, d): f(AB_j) - f(A)
    return np.column_stack([fa, fb, fa**2, fb**2, fb[:, None] * diff, diff, diff**2])


def sobol_indices(
    ds: xr.Dataset,
    outputs: str | Sequence[str] | None = None,
    n_boot: int = 200,
    seed: int = 0,
    conf: float = 0.95,
    *,
    feasible_only: bool = False,
) -> pd.DataFrame:
    """First- and total-order Sobol' indices of a Saltelli scenario, with bootstrap intervals.

    The scenario holds ``n (d + 2)`` designs ``[A; B; AB_1; …; AB_d]``
    (:func:`dse.design.saltelli_samples`). With ``V`` the variance of the pooled
    ``f(A)`` and ``f(B)``, the first-order index of input ``j`` is the
    Saltelli et al. (2010) estimate ``mean(f(B) (f(AB_j) - f(A))) / V`` and the
    total-order index the Jansen (1999) estimate
    ``mean((f(A) - f(AB_j))²) / (2 V)``; outputs are centred on their mean
    first (Sobol' 2001), which leaves both estimators unbiased and keeps their
    variance from growing with the output's offset.

    Parameters
    ----------
    ds : xarray.Dataset
        A sampled scenario with ``dse_sampler = "saltelli"``, ``dse_sampler_n``
        and ``dse_sampled_inputs`` (as written by ``dse sweep``); NumPy- or
        Dask-backed (the outputs are read in one pass).
    outputs : str or sequence of str, optional
        Outputs to analyse; default every variable with ``dse_sense``.
    n_boot : int, default 200
        Bootstrap replicates (the ``n`` base rows resampled with replacement);
        0 gives no intervals.
    seed : int, default 0
        Seed of the bootstrap.
    conf : float, default 0.95
        Confidence level of the percentile intervals.
    feasible_only : bool, default False
        Also drop base rows in which any of the ``d + 2`` designs is infeasible.
        This changes the question (see ``docs/sensitivity.md``): by default the
        indices describe the model output over the whole sampled space.

    Returns
    -------
    pandas.DataFrame
        One row per output and input (:data:`COLUMNS`); ``n_used`` is the
        number of base rows in which ``f(A)``, ``f(B)`` and every ``f(AB_j)``
        were finite (and feasible, if asked). Indices are NaN for an output
        that does not vary or has fewer than two usable rows.

    Raises
    ------
    SpecError
        Not a Saltelli scenario, a design count other than ``n (d + 2)``, an
        unknown output, no input taking two values, or bad options.

    Examples
    --------
    >>> import xarray as xr
    >>> from dse.design import saltelli_samples
    >>> n, d = 1024, 2
    >>> u = saltelli_samples(n, d, seed=0, start=0, stop=n * (d + 2))
    >>> ds = xr.Dataset(
    ...     {"x1": ("design", u[:, 0], {"dse_role": "input"}),
    ...      "x2": ("design", u[:, 1], {"dse_role": "input"}),
    ...      "y": ("design", 2.0 * u[:, 0] + u[:, 1], {"dse_sense": "max"})},
    ...     attrs={"dse_kind": "sampled", "dse_sampler": "saltelli", "dse_sampler_n": n,
    ...            "dse_sampled_inputs": ["x1", "x2"]},
    ... )
    >>> sobol_indices(ds)[["input", "first_order", "total_order", "n_used"]].round(2)
      input  first_order  total_order  n_used
    0    x1          0.8          0.8    1024
    1    x2          0.2          0.2    1024
    """
    _check_options(n_boot, conf)
    where = _where(ds)
    if _kind(ds) != "sampled" or ds.attrs.get("dse_sampler") != "saltelli":
        raise SpecError(
            "Sobol' indices need a Saltelli scenario (sampler: {method: saltelli}); "
            "use sensitivity() for other designs",
            where=where,
        )
    inputs = [str(v) for v in ds.attrs.get("dse_sampled_inputs", [])]
    if "dse_sampler_n" not in ds.attrs or not inputs:
        raise SpecError("needs the attributes dse_sampler_n and dse_sampled_inputs", where=where)
    n, d = int(ds.attrs["dse_sampler_n"]), len(inputs)
    total = int(ds.sizes.get("design", 0))
    if total != n * (d + 2):
        raise SpecError(
            f"{total} designs is not n·(d + 2) = {n}·{d + 2} of a Saltelli design", where=where
        )
    names = _output_names(ds, outputs)
    feasible = _feasible(ds, feasible_only)
    present = [x for x in inputs if x in ds.variables]
    wanted = names + present + (["feasible"] if feasible is not None else [])
    data = ds[list(dict.fromkeys(wanted))].compute()
    _check_varies(where, {x: np.unique(data[x].values[: 2 * n]).size for x in present})
    keep = np.ones(n, dtype=bool)
    if feasible is not None:
        keep = np.asarray(data["feasible"].values, dtype=bool).reshape(d + 2, n).all(axis=0)
    rows = []
    for out in names:
        f = np.asarray(data[out].values, dtype=np.float64).reshape(d + 2, n)
        ok = keep & np.isfinite(f).all(axis=0)
        used = int(ok.sum())
        first = total_ = np.full(d, np.nan)
        bounds = [np.full(d, np.nan)] * 4
        if used >= 2:
            g = f[:, ok]
            g = g - (g[0].mean() + g[1].mean()) / 2.0
            z = _sobol_columns(g[0], g[1], g[2:])
            with np.errstate(all="ignore"):
                first, total_ = (x[0] for x in _sobol_from_sums(z.mean(axis=0)[None], used, d))
                reps = [
                    _sobol_from_sums(w @ z / used, used, d)
                    for w in _boot_weights(np.random.default_rng(seed), used, n_boot)
                ]
            if reps:
                s1 = np.concatenate([r[0] for r in reps])
                st = np.concatenate([r[1] for r in reps])
                bounds = [*_interval(s1, conf), *_interval(st, conf)]
        for j, x in enumerate(inputs):
            rows.append(
                _row(
                    ds,
                    out,
                    x,
                    "sobol",
                    (first[j], bounds[0][j], bounds[1][j]),
                    (total_[j], bounds[2][j], bounds[3][j]),
                    used,
                )
            )
    return _frame(rows, _labels(ds, names))


# --------------------------------------------------------------------------------------------
# other sampled designs: binned first-order indices
# --------------------------------------------------------------------------------------------
def default_bins(n: int) -> int:
    """Default number of equal-count bins for ``n`` designs: ``round(√n)``, at least 2.

    With the ε² correction of :func:`binned_first_order` the noise of many
    small bins cancels on average, so fine bins (small binning bias) win: on
    the Ishigami function √n bins gave the smallest error for n = 512 … 32768.

    >>> default_bins(1000), default_bins(4096), default_bins(10**6)
    (32, 64, 1000)
    """
    return max(2, round(math.sqrt(n)))


def _bin_labels(x: np.ndarray, bins: int, categorical: bool) -> np.ndarray:
    """Bin of every row: categories, distinct values (if few), else equal-count rank bins."""
    values, inverse = np.unique(x, return_inverse=True)
    if categorical or values.size <= bins:
        return inverse.ravel()
    labels = np.empty(x.size, dtype=np.int64)
    labels[np.argsort(x, kind="stable")] = np.arange(x.size) * bins // x.size
    return labels


def _binned_from_weights(
    w: np.ndarray, y: np.ndarray, order: np.ndarray, starts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """ε² ``(b,)`` and bin means ``(b, M)`` for rows counted ``w`` times (``(b, n)``).

    A bin mean over rows counted ``w_i`` times carries a noise variance
    ``σ² Σw² / (Σw)²``, so the expected noise in SS_between is
    ``σ² (Σ_k Q_k / W_k - Q / W)`` and SS_within has ``W - Σ_k Q_k / W_k``
    degrees of freedom (``W``, ``Q``: sums of ``w`` and ``w²``, per bin ``k``).
    With ``w = 1`` these are ``M - 1`` and ``N - M``: Kelley's ε². For bootstrap
    replicates (counts with duplicates) the same correction keeps the replicates
    centred on the estimate.
    """
    ws = w[:, order]
    count = np.add.reduceat(ws, starts, axis=1)
    square = np.add.reduceat(ws**2, starts, axis=1)
    sums = np.add.reduceat(ws * y[order], starts, axis=1)
    n, q = w.sum(axis=1), (w**2).sum(axis=1)
    total = sums.sum(axis=1)
    sst = (w * y**2).sum(axis=1) - total**2 / n
    with np.errstate(all="ignore"):
        means = sums / count
        filled = count > 0
        ssb = np.where(filled, sums * means, 0.0).sum(axis=1) - total**2 / n
        effective = np.where(filled, square / count, 0.0).sum(axis=1)
        within_df = n - effective
        within = np.where(within_df > 0.0, (sst - ssb) / within_df, 0.0)
        eta = (ssb - (effective - q / n) * within) / np.where(sst > 0.0, sst, np.nan)
    return eta, means


def binned_first_order(
    ds: xr.Dataset,
    outputs: str | Sequence[str] | None = None,
    bins: int | None = None,
    n_boot: int = 200,
    seed: int = 0,
    conf: float = 0.95,
    *,
    feasible_only: bool = False,
) -> pd.DataFrame:
    """Given-data first-order indices of a sampled scenario from binned conditional means.

    For each input the designs are split into ``M`` equal-count bins of its
    value (categorical inputs: one bin per category; numeric inputs with at
    most ``M`` distinct values: one bin per value). The first-order index is
    the share of the output variance explained by the bin means, corrected for
    the noise of finite bins (Kelley's ε²):
    ``(SS_between - (M - 1) SS_within / (N - M)) / SS_total``. Binning averages
    the conditional mean over each bin, a downward bias of order ``1/M²`` for
    smooth effects; the default ``M ≈ √N`` keeps it small.
    Total-order indices are not available (NaN): they need a Saltelli design.

    Parameters
    ----------
    ds : xarray.Dataset
        A sampled scenario (any sampler; for Saltelli designs prefer
        :func:`sobol_indices`). Categorical inputs are int16 codes with
        ``dse_categories``.
    outputs : str or sequence of str, optional
        Outputs to analyse; default every variable with ``dse_sense``.
    bins : int, optional
        Bins per numeric input; default :func:`default_bins` of the rows used.
    n_boot, seed, conf
        Bootstrap replicates (rows resampled with replacement, bins kept),
        their seed and the confidence level of the percentile intervals.
    feasible_only : bool, default False
        Use feasible designs only (changes the question, see the docs).

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`; ``effect_range`` is the range of the bin means in
        output units, ``n_used`` the designs with a finite output.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(1)
    >>> x = rng.random((3, 4096))
    >>> ds = xr.Dataset(
    ...     {"x1": ("design", x[0], {"dse_role": "input"}),
    ...      "x2": ("design", x[1], {"dse_role": "input"}),
    ...      "x3": ("design", x[2], {"dse_role": "input"}),
    ...      "y": ("design", 2.0 * x[0] + x[1], {"dse_sense": "max"})},
    ...     attrs={"dse_kind": "sampled", "dse_sampler": "random"},
    ... )
    >>> binned_first_order(ds)[["input", "first_order"]].round(1)
      input  first_order
    0    x1          0.8
    1    x2          0.2
    2    x3          0.0
    """
    _check_options(n_boot, conf, bins)
    where = _where(ds)
    if _kind(ds) != "sampled":
        raise SpecError("binned indices need a sampled scenario; use main_effects()", where=where)
    inputs = _input_names(ds)
    missing = [x for x in inputs if x not in ds.variables]
    if not inputs or missing:
        raise SpecError(f"the sampled input variables are missing ({missing or 'none'})", where)
    names = _output_names(ds, outputs)
    feasible = _feasible(ds, feasible_only)
    wanted = names + inputs + (["feasible"] if feasible is not None else [])
    data = ds[list(dict.fromkeys(wanted))].compute()
    x_all = {x: np.asarray(data[x].values).ravel() for x in inputs}
    _check_varies(where, {x: np.unique(v).size for x, v in x_all.items()})
    keep = np.ones(ds.sizes["design"], dtype=bool)
    if feasible is not None:
        keep = np.asarray(data["feasible"].values, dtype=bool).ravel()
    rows = []
    for out in names:
        y_all = np.asarray(data[out].values, dtype=np.float64).ravel()
        ok = keep & np.isfinite(y_all)
        used = int(ok.sum())
        y = y_all[ok] - (y_all[ok].mean() if used else 0.0)
        m = bins if bins is not None else default_bins(max(used, 1))
        for x in inputs:
            first, low, high, spread = np.nan, np.nan, np.nan, np.nan
            if used >= 2:
                cat = "dse_categories" in ds[x].attrs
                labels = _bin_labels(x_all[x][ok], m, cat)
                order = np.argsort(labels, kind="stable")
                starts = np.flatnonzero(np.r_[True, np.diff(labels[order]) != 0])
                eta, means = _binned_from_weights(np.ones((1, used)), y, order, starts)
                first, spread = float(eta[0]), float(np.ptp(means[0]))
                reps = [
                    _binned_from_weights(w, y, order, starts)[0]
                    for w in _boot_weights(np.random.default_rng(seed), used, n_boot)
                ]
                if reps:
                    low, high = (
                        float(v[0]) for v in _interval(np.concatenate(reps)[:, None], conf)
                    )
            rows.append(
                _row(ds, out, x, "binned", (first, low, high), n_used=used, effect_range=spread)
            )
    return _frame(rows, _labels(ds, names))


# --------------------------------------------------------------------------------------------
# grids: main effects
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# dispatch and plot
# --------------------------------------------------------------------------------------------
def _scenarios(
    source: xr.Dataset | Mapping[str, xr.Dataset] | str | os.PathLike,
    scenario: str | None,
) -> dict[str, xr.Dataset]:
    if isinstance(source, xr.Dataset):
        found = {_scenario_of(source): source}
    elif isinstance(source, Mapping):
        found = dict(source)
    else:
        from dse.store import open_results

        found = open_results(str(source))
    if scenario is not None:
        if scenario not in found:
            raise SpecError(
                f"{scenario!r} is no scenario of the results" + suggest(scenario, found),
                where="scenario",
            )
        found = {scenario: found[scenario]}
    return found


def sensitivity(
    ds: xr.Dataset | Mapping[str, xr.Dataset] | str | os.PathLike,
    outputs: str | Sequence[str] | None = None,
    *,
    scenario: str | None = None,
    n_boot: int = 200,
    seed: int = 0,
    conf: float = 0.95,
    bins: int | None = None,
    feasible_only: bool = False,
) -> pd.DataFrame:
    """Sensitivity indices of one or every scenario, with the estimator its design allows.

    Grid scenarios get :func:`main_effects`, Saltelli scenarios
    :func:`sobol_indices`, other sampled scenarios :func:`binned_first_order`.

    Parameters
    ----------
    ds : xarray.Dataset, mapping of them, or path
        One scenario, ``{name: Dataset}`` from :func:`dse.store.open_results`,
        or the path (or URL) of a results store.
    outputs : str or sequence of str, optional
        Outputs to analyse; default every variable with ``dse_sense``.
    scenario : str, optional
        Analyse this scenario only (with a mapping or a path).
    n_boot, seed, conf, bins, feasible_only
        Passed to the estimator that takes them.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`, scenarios in store order; ``attrs["dse_outputs"]``
        holds each output's ``long_name`` and ``units`` (for plots).

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({"y": ("a", [1.0, 2.0], {"dse_sense": "max"})}, coords={"a": [0, 1]},
    ...                 attrs={"dse_kind": "grid", "dse_dims": ["a"], "dse_scenario": "s"})
    >>> sensitivity({"s": ds}, "yy")
    Traceback (most recent call last):
    ...
    dse.errors.SpecError: outputs: 'yy' is no output of the results; did you mean 'y'?
    """
    found = _scenarios(ds, scenario)
    frames, labels = [], {}
    for name, data in found.items():
        if _kind(data) == "grid":
            df = main_effects(data, outputs, feasible_only=feasible_only)
        elif data.attrs.get("dse_sampler") == "saltelli":
            df = sobol_indices(data, outputs, n_boot, seed, conf, feasible_only=feasible_only)
        else:
            df = binned_first_order(
                data, outputs, bins, n_boot, seed, conf, feasible_only=feasible_only
            )
        df["scenario"] = name
        labels.update(df.attrs["dse_outputs"])
        frames.append(df)
    out = pd.concat(frames, ignore_index=True) if frames else _frame([], {})
    out.attrs["dse_outputs"] = labels
    return out


def plot_sensitivity(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Draw a sensitivity table as a PNG: one horizontal bar panel per output.

    Each panel shows the first-order and (when available) total-order index
    of every input with its interval as an error bar, inputs sorted by total
    order (else first order), largest at the top; the title is the output's
    ``long_name`` and ``units`` (from ``df.attrs["dse_outputs"]``).

    Parameters
    ----------
    df : pandas.DataFrame
        A table from :func:`sensitivity` (or one of the estimators).
    path : str or path-like
        The PNG to write.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, xarray as xr
    >>> ds = xr.Dataset({"y": (("a", "b"), [[1.0, 2.0], [3.0, 5.0]], {"dse_sense": "max"})},
    ...                 coords={"a": [0, 1], "b": [0, 1]}, attrs={"dse_kind": "grid"})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     png = plot_sensitivity(sensitivity(ds), Path(tmp) / "s.png")
    ...     png.read_bytes()[:4]
    b'\\x89PNG'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    missing = [c for c in ("output", "input", "first_order") if c not in df.columns]
    if missing:
        raise SpecError(f"not a sensitivity table (no column {missing[0]!r})", where="plot")
    if df.empty:
        raise SpecError("the sensitivity table is empty: nothing to plot", where="plot")
    df = df.copy()
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = "" if c in ("scenario", "method") else np.nan
    labels = df.attrs.get("dse_outputs", {})
    panels = list(dict.fromkeys(zip(df["scenario"], df["output"], strict=True)))
    several = len({s for s, _ in panels}) > 1
    ncols = min(2, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    n_in = int(df.groupby(["scenario", "output"]).size().max())
    height = 1.4 + 0.42 * n_in
    fig = Figure(figsize=(5.4 * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    for k, (scen, out) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        sub = df[(df["scenario"] == scen) & (df["output"] == out)]
        has_total = bool(np.isfinite(sub["total_order"].to_numpy(float)).any())
        key = sub["total_order"] if has_total else sub["first_order"]
        sub = sub.assign(_key=key.fillna(-np.inf)).sort_values("_key", kind="stable")
        pos = np.arange(len(sub), dtype=float)
        bars = [("first_order", "first order", "tab:blue")]
        if has_total:
            bars.append(("total_order", "total order", "tab:orange"))
        h = 0.8 / len(bars)
        for i, (col, label, color) in enumerate(bars):
            est = sub[col].to_numpy(float)
            low = sub[f"{col}_low"].to_numpy(float)
            high = sub[f"{col}_high"].to_numpy(float)
            err = np.nan_to_num(np.clip(np.vstack([est - low, high - est]), 0.0, None))
            offset = (len(bars) - 1) / 2.0 * h - i * h
            ax.barh(
                pos + offset,
                np.nan_to_num(est),
                height=h,
                color=color,
                label=label,
                xerr=err if err.any() else None,
                capsize=2,
                ecolor="0.25",
            )
        ax.set_yticks(pos, [str(x).replace("_", " ") for x in sub["input"]])
        ax.axvline(0.0, color="0.5", linewidth=0.8)
        lab = labels.get(out, {})
        units = lab.get("units", "")
        title = lab.get("long_name", out) + (f" [{units}]" if units and units != "1" else "")
        ax.set_title(title + (f" — {scen}" if several and scen else ""), fontsize=10)
        method = ", ".join(str(m) for m in dict.fromkeys(sub["method"]) if m)
        used = int(sub["n_used"].max()) if sub["n_used"].notna().any() else 0
        ax.set_xlabel(f"share of variance ({method}, n = {used:,})", fontsize=9)
        shown = sub[[f"{c}{s}" for c, _, _ in bars for s in ("", "_low", "_high")]]
        shown = shown.to_numpy(float).ravel()
        shown = shown[np.isfinite(shown)]
        ax.set_xlim(min(0.0, *shown) - 0.02, max(1.0, *shown) + 0.05)
        if k == 0:
            ax.legend(loc="lower right", fontsize=8, frameon=False)
    path = Path(path)
    fig.savefig(path, format="png", dpi=120)
    return path
