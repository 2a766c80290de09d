"""Pareto fronts of sweep results: exact kernels, a chunked Dask front and helpers.

:func:`nondominated` is the exact non-dominated mask of an ``(n, k)`` array;
:func:`pareto_mask` applies it to a results Dataset, lazily and chunk by chunk
when the Dataset is Dask-backed; :func:`front_table`, :func:`knee_point` and
:func:`epsilon_constraint` turn fronts into answers. Semantics and the
algorithm are written down in ``docs/pareto.md``.

One module per job; this package re-exports what ``dse.pareto`` has always
offered:

===========  ==============================================================
``kernels``  numba kernels: sweeps in 2 and 3 objectives, skyline, membership
``exact``    :func:`nondominated`: kernel choice and the sentinel prefilter
``senses``   :func:`objective_senses`: which objectives are maximised
``chunked``  :func:`pareto_mask`: the front of a (lazy) results Dataset
``answers``  :func:`front_table`, :func:`knee_point`, :func:`epsilon_constraint`
``stores``   :func:`pareto_store`: the front of a whole store (``dse pareto``)
===========  ==============================================================

>>> import xarray as xr
>>> ds = xr.Dataset(
...     {
...         "specific_energy": ("design", [400.0, 350.0, 300.0, 420.0], {"dse_sense": "max"}),
...         "cost": ("design", [100.0, 80.0, 90.0, 130.0], {"dse_sense": "min"}),
...     }
... )
>>> pareto_mask(ds).values.tolist()
[True, True, False, True]
"""

from __future__ import annotations

# the private names imported as themselves are re-exported because dse.refine and
# dse.robust (_exact_front, _signs) and the tests (_exact_front, _local_front) use them;
# the chunked front calls _local_front through this package (chunked._block_front)
from dse.pareto.answers import (
    OPERATORS,
    decode_categories,
    epsilon_constraint,
    front_table,
    knee_point,
)
from dse.pareto.chunked import _local_front as _local_front
from dse.pareto.chunked import pareto_mask
from dse.pareto.exact import N_SENTINELS, PREFILTER_MIN, SAMPLE_SIZE, nondominated
from dse.pareto.exact import _exact_front as _exact_front
from dse.pareto.senses import SENSES, objective_senses
from dse.pareto.senses import _signs as _signs
from dse.pareto.stores import pareto_store

__all__ = [
    "nondominated",
    "pareto_mask",
    "objective_senses",
    "front_table",
    "knee_point",
    "epsilon_constraint",
    "SENSES",
    "OPERATORS",
    # public names that were not listed before the split
    "PREFILTER_MIN",
    "N_SENTINELS",
    "SAMPLE_SIZE",
    "decode_categories",
    "pareto_store",
]
