"""Saltelli designs: first- and total-order Sobol' indices with bootstrap intervals (:func:`sobol_indices`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from dse.errors import SpecError
from dse.sensitivity.bootstrap import _boot_weights, _interval
from dse.sensitivity.tables import (
    _check_options,
    _check_varies,
    _feasible,
    _frame,
    _kind,
    _labels,
    _output_names,
    _row,
    _where,
)


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
        raise SpecError(f"{total} designs is not n·(d + 2) = {n}·{d + 2} of a Saltelli design", where=where)
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
