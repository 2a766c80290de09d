"""The results of a store as views need them: columns, filters, fronts, counts and pictures.

:class:`ResultsSource` is the data layer of the dashboard (``dse serve``), of
``dse report`` and of notebooks; it imports no plotting library. One module
per job:

* :mod:`dse.explore.source`: :class:`ResultsSource`, the feasible designs of
  a store as compact columns read lazily (numbers as float32, categories as
  codes), their labels, extents, axes, counts and rows;
* :mod:`dse.explore.selection`: which rows pass the filters (inputs) and
  constraints (outputs) of a view;
* :mod:`dse.explore.fronts`: the exact front of a selection, from cached
  fronts of fixed chunks of rows (the front of a union is the front of the
  fronts of its parts);
* :mod:`dse.explore.kernels`: the numba loops, and :func:`aggregate`, the
  pixels of a cloud in the axes' own coordinates;
* :mod:`dse.explore.display`: :class:`Axis` (linear or log10), ticks, units
  and numbers as views show them;
* :mod:`dse.explore.sensitivity`: :func:`read_sensitivity`, a saved
  sensitivity table checked at the edge.

Every name that ``dse.explore`` had as a single module is importable from
here.

>>> axis = Axis("cycle_life", log=True, lo=1.0, hi=3.0)
>>> axis.to_plot(np.array([10.0, 1000.0])).tolist(), axis.from_plot(2.0)
([1.0, 3.0], 100.0)
"""

from __future__ import annotations

from dse.explore.display import (
    LOG_AXES,
    PADDING,
    Axis,
    display_unit,
    format_value,
    format_values,
    nice_ticks,
    significant_format,
)
from dse.explore.fronts import ChunkFronts, _prune, _stack
from dse.explore.kernels import (
    _bin_index,
    _cells,
    _finite_range,
    _first_rows,
    _masked_bincount,
    _polylines,
    aggregate,
)
from dse.explore.selection import _bounds, allowed_codes, passing_rows
from dse.explore.sensitivity import SENSITIVITY_COLUMNS, read_sensitivity
from dse.explore.source import CHUNK_ROWS, EXTRA_COLUMNS, HISTOGRAM_BINS, SKIP, ResultsSource

__all__ = [
    "ResultsSource",
    "Axis",
    "LOG_AXES",
    "CHUNK_ROWS",
    "aggregate",
    "nice_ticks",
    "format_value",
    "format_values",
    "display_unit",
    "read_sensitivity",
    "SENSITIVITY_COLUMNS",
    "significant_format",
    # the former module's other names, kept importable (docs/architecture.md, "Re-exports")
    "PADDING",
    "HISTOGRAM_BINS",
    "SKIP",
    "EXTRA_COLUMNS",
    "ChunkFronts",
    "passing_rows",
    "allowed_codes",
    "_bounds",
    "_stack",
    "_prune",
    "_cells",
    "_first_rows",
    "_masked_bincount",
    "_bin_index",
    "_finite_range",
    "_polylines",
]
