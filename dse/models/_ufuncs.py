"""Element-wise helpers that keep the array type of their arguments.

``numpy.where`` converts an :class:`xarray.DataArray` to a plain ndarray (and
computes a dask-backed one). :func:`select` is a real ufunc (compiled with
numba), so it dispatches through ``__array_ufunc__``: floats give floats,
ndarrays give ndarrays, DataArrays stay labelled and dask arrays stay lazy.
It is also callable from numba-compiled code, which lets the same model
source run element by element inside the fused sweep kernel.

>>> float(select(True, 1.0, 2.0))
1.0
>>> select(np.array([True, False]), np.array([1.0, 1.0]), 0.0)
array([1., 0.])
"""

from __future__ import annotations

import numba

__all__ = ["select"]


@numba.vectorize(["f8(b1,f8,f8)", "f8(f8,f8,f8)"], nopython=True, cache=True)
def select(condition, x, y):  # pragma: no cover - compiled
    """``x`` where ``condition`` is true, else ``y`` (element-wise)."""
    return x if condition else y
