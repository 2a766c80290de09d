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

One module per job: :mod:`~dse.sensitivity.tables` (the table and the checks
the estimators share), :mod:`~dse.sensitivity.bootstrap`,
:mod:`~dse.sensitivity.sobol`, :mod:`~dse.sensitivity.binned`,
:mod:`~dse.sensitivity.grid` (one estimator each),
:mod:`~dse.sensitivity.dispatch` (:func:`sensitivity`),
:mod:`~dse.sensitivity.plot` and :mod:`~dse.sensitivity.files`
(:func:`write_sensitivity`, the file of ``dse serve --sensitivity``). The
package re-exports every name that ``dse.sensitivity`` had as a single module.

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

from dse.sensitivity.binned import binned_first_order, default_bins
from dse.sensitivity.dispatch import sensitivity
from dse.sensitivity.files import write_sensitivity
from dse.sensitivity.grid import main_effects
from dse.sensitivity.plot import plot_sensitivity
from dse.sensitivity.sobol import sobol_indices
from dse.sensitivity.tables import COLUMNS

__all__ = [
    "COLUMNS",
    "sobol_indices",
    "binned_first_order",
    "main_effects",
    "sensitivity",
    "plot_sensitivity",
    "default_bins",
    "write_sensitivity",
]
