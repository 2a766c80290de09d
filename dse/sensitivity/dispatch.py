"""One entry point: the estimator that each scenario's design allows (:func:`sensitivity`)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import pandas as pd
import xarray as xr

from dse.errors import SpecError, suggest
from dse.sensitivity.binned import binned_first_order
from dse.sensitivity.grid import main_effects
from dse.sensitivity.sobol import sobol_indices
from dse.sensitivity.tables import _frame, _kind, _scenario_of


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
            df = binned_first_order(data, outputs, bins, n_boot, seed, conf, feasible_only=feasible_only)
        df["scenario"] = name
        labels.update(df.attrs["dse_outputs"])
        frames.append(df)
    out = pd.concat(frames, ignore_index=True) if frames else _frame([], {})
    out.attrs["dse_outputs"] = labels
    return out
