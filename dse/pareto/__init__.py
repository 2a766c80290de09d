"""Pareto fronts of sweep results: exact kernels, a chunked Dask front and helpers.

The package re-exports what ``dse.pareto`` has always offered; the modules
behind it are listed in ``docs/architecture.md``.
"""

from __future__ import annotations

# the private names imported as themselves are re-exported because dse.refine and
# dse.robust (_exact_front, _signs) and the tests (_exact_front, _local_front) use them
from dse.pareto.exact import (
    N_SENTINELS,
    OPERATORS,
    PREFILTER_MIN,
    SAMPLE_SIZE,
    SENSES,
    decode_categories,
    epsilon_constraint,
    front_table,
    knee_point,
    nondominated,
    objective_senses,
    pareto_mask,
    pareto_store,
)
from dse.pareto.exact import _exact_front as _exact_front
from dse.pareto.exact import _local_front as _local_front
from dse.pareto.exact import _signs as _signs

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
