"""The numba loops of the data layer, and the pixels of a cloud (:func:`aggregate`) built on them.

Pictures are aggregated in the axis's own space (:class:`~dse.explore.display.Axis`):
a log axis bins ``log10`` of the values, so a design is counted in the pixel
whose tick labels bracket its value. The other loops count codes under a
mask, bin values for histograms, find finite extents and draw the
polylines of the parallel coordinates; two walk a grid scenario's feasible
flat indices (:func:`_grid_filter`, :func:`_grid_counts`), so a filter or a
histogram of a grid input needs no column of it.
"""

from __future__ import annotations

import numba
import numpy as np

from dse.explore.display import Axis


@numba.njit(nogil=True, cache=True)
def _cells(x, y, keep, x0, sx, y0, sy, width, height, codes, ncat, weights, counts, sums):  # pragma: no cover
    """Count (per category) and sum ``weights`` of kept rows per pixel; rows outside are skipped."""
    use_codes = codes.size > 0
    use_weights = weights.size > 0
    for i in range(x.size):
        if not keep[i]:
            continue
        fx = (x[i] - x0) * sx
        fy = (y[i] - y0) * sy
        if not (fx >= 0.0 and fx < width and fy >= 0.0 and fy < height):  # NaN fails too
            continue
        cell = int(fy) * width + int(fx)
        if use_codes:
            counts[cell * ncat + codes[i]] += 1
        else:
            counts[cell] += 1
        if use_weights:
            w = weights[i]
            if w == w:
                sums[cell] += w
                sums[cell + width * height] += 1.0


@numba.njit(nogil=True, cache=True)
def _first_rows(x, y, keep, x0, sx, y0, sy, width, height, first):  # pragma: no cover
    """The first kept row of every pixel (``first`` holds -1 where none falls)."""
    for i in range(x.size):
        if not keep[i]:
            continue
        fx = (x[i] - x0) * sx
        fy = (y[i] - y0) * sy
        if not (fx >= 0.0 and fx < width and fy >= 0.0 and fy < height):
            continue
        cell = int(fy) * width + int(fx)
        if first[cell] < 0:
            first[cell] = i


@numba.njit(nogil=True, cache=True)
def _masked_bincount(codes, keep, out):  # pragma: no cover
    for i in range(codes.size):
        if keep[i]:
            out[codes[i]] += 1


@numba.njit(nogil=True, cache=True)
def _chunk_counts(keep, chunk, out):  # pragma: no cover
    """Rows of ``keep`` in every chunk of ``chunk`` rows (``np.add.reduceat`` of a bool array, without its casts)."""
    for i in range(keep.size):
        if keep[i]:
            out[i // chunk] += 1


@numba.njit(nogil=True, cache=True)
def _block_range(values, feasible):  # pragma: no cover
    """Finite range of ``values`` where ``feasible`` (flat arrays), as float32: a stored block's part of an extent."""
    lo, hi, seen = np.float32(np.inf), np.float32(-np.inf), False
    for i in range(values.size):
        if feasible[i]:
            x = np.float32(values[i])
            if x - x == 0:
                seen = True
                lo = min(lo, x)
                hi = max(hi, x)
    return lo, hi, seen


@numba.njit(nogil=True, cache=True)
def _bin_index(values, lo, scale, nbins, out):  # pragma: no cover
    """Histogram bin of every value (NaN and values below the first edge: bin 0; above: the last)."""
    for i in range(values.size):
        b = (values[i] - lo) * scale
        out[i] = 0 if not b > 0 else (nbins - 1 if b >= nbins - 1 else int(b))


@numba.njit(nogil=True, cache=True)
def _finite_range(values):  # pragma: no cover
    lo, hi, seen = np.inf, -np.inf, False
    for v in values:
        if v - v == 0:  # finite
            seen = True
            lo = min(lo, v)
            hi = max(hi, v)
    return lo, hi, seen


@numba.njit(nogil=True, cache=True)
def _advance(digits, shape, delta):  # pragma: no cover
    """Add ``delta`` to the grid position ``digits`` (C order: the last dimension varies fastest)."""
    k = shape.size - 1
    carry = delta
    while carry > 0 and k >= 0:
        v = digits[k] + carry
        n = shape[k]
        if v < n:
            digits[k] = v
            carry = 0
        elif v < 2 * n:  # the common case of a dense walk: no division
            digits[k] = v - n
            carry = 1
        else:
            carry = v // n
            digits[k] = v - carry * n
        k -= 1


@numba.njit(nogil=True, cache=True)
def _grid_filter(flat, shape, dims, allowed, keep):  # pragma: no cover
    """Clear ``keep[i]`` where ``allowed[j, p]`` is False, ``p`` the position of ``flat[i]`` along ``dims[j]``.

    ``flat`` are ascending flat indices into a C-order grid of ``shape``; the
    position is carried from row to row (a division only on long jumps), so
    no column of the grid's inputs is needed. Rows already cleared are
    skipped. While only the last (fastest) position moves, the verdict of
    the other dimensions is kept from the row before.
    """
    last = shape.size - 1
    n_last = shape[last]
    digits = np.zeros(shape.size, dtype=np.int64)
    previous = 0
    m = dims.size
    j_last = -1
    for j in range(m):
        if dims[j] == last:
            j_last = j
    others = True  # the verdict of the dimensions other than the last at the current position
    stale = True
    for i in range(flat.size):
        if not keep[i]:
            continue
        f = np.int64(flat[i])
        v = digits[last] + (f - previous)
        previous = f
        if v < n_last:
            digits[last] = v
        else:
            _advance(digits, shape, v - digits[last])
            stale = True
        if stale:
            others = True
            for j in range(m):
                if j != j_last and not allowed[j, digits[dims[j]]]:
                    others = False
                    break
            stale = False
        if not others or (j_last >= 0 and not allowed[j_last, digits[last]]):
            keep[i] = False


@numba.njit(nogil=True, cache=True)
def _grid_counts(flat, shape, dims, keep, out):  # pragma: no cover
    """``out[j, p]`` += rows of ``keep`` (all rows if it is empty) at position ``p`` along ``dims[j]``.

    ``flat`` as in :func:`_grid_filter`: one pass counts every dimension
    asked for. Rows are counted along the other dimensions once per run of
    rows that share their position there (only the last position moves).
    """
    last = shape.size - 1
    n_last = shape[last]
    digits = np.zeros(shape.size, dtype=np.int64)
    previous = 0
    m = dims.size
    j_last = -1
    for j in range(m):
        if dims[j] == last:
            j_last = j
    everything = keep.size == 0
    run = 0  # rows counted at the current position of the other dimensions
    for i in range(flat.size):
        if not everything and not keep[i]:
            continue
        f = np.int64(flat[i])
        v = digits[last] + (f - previous)
        previous = f
        if v < n_last:
            digits[last] = v
        else:
            for j in range(m):
                if j != j_last:
                    out[j, digits[dims[j]]] += run
            run = 0
            _advance(digits, shape, v - digits[last])
        run += 1
        if j_last >= 0:
            out[j_last, digits[last]] += 1
    for j in range(m):
        if j != j_last:
            out[j, digits[dims[j]]] += run


@numba.njit(nogil=True, cache=True)
def _polylines(scaled, width, height, image):  # pragma: no cover
    """Add one polyline per column of ``scaled`` (axes × rows, 0-1) to ``image`` (rows bottom first)."""
    k, n = scaled.shape
    step = width / (k - 1)
    for j in range(n):
        for i in range(k - 1):
            a = scaled[i, j]
            b = scaled[i + 1, j]
            if not (a == a and b == b):
                continue
            c0 = int(i * step)
            c1 = int((i + 1) * step) if i < k - 2 else width
            for c in range(c0, c1):
                s = (c + 0.5 - i * step) / step
                r = int((a + s * (b - a)) * height)
                if 0 <= r < height:
                    image[r, c] += 1


def aggregate(
    x,
    y,
    keep,
    xaxis: Axis,
    yaxis: Axis,
    width: int,
    height: int,
    *,
    codes=None,
    ncat: int = 1,
    weights=None,
    first: bool = False,
) -> dict[str, np.ndarray]:
    """Pixels of a cloud in plot coordinates: row 0 is the bottom row, ``[lo, hi)`` split evenly.

    Parameters
    ----------
    x, y : numpy.ndarray
        Plot coordinates (already log10 on a log axis), one per row.
    keep : numpy.ndarray of bool
        Rows to count.
    codes : numpy.ndarray of int, optional
        Category of each row: counts get a last axis of ``ncat`` categories.
    weights : numpy.ndarray, optional
        Values to average per pixel (``mean``; NaN where a pixel is empty).
    first : bool
        Also return the first kept row of every pixel (its representative,
        as Datashader's ``first`` selector; -1 where a pixel is empty).

    Returns
    -------
    dict
        ``count`` (``height × width`` or ``height × width × ncat``) and, with
        weights, ``mean``; with ``first``, ``first`` (``height × width``).

    Examples
    --------
    >>> ax = Axis("a", False, 0.0, 2.0)
    >>> out = aggregate(np.array([0.5, 1.5, 1.5]), np.array([0.5, 1.5, 1.9]), np.ones(3, bool), ax, ax, 2, 2,
    ...                 first=True)
    >>> out["count"].tolist(), out["first"].tolist()
    ([[1, 0], [0, 2]], [[0, -1], [-1, 1]])
    """
    ncat = int(ncat) if codes is not None else 1
    counts = np.zeros(width * height * ncat, dtype=np.int64)
    sums = np.zeros(2 * width * height if weights is not None else 1, dtype=np.float64)
    empty_codes = np.zeros(0, dtype=np.int16)
    empty_weights = np.zeros(0, dtype=np.float32)
    _cells(
        x,
        y,
        keep,
        float(xaxis.lo),
        width / (xaxis.hi - xaxis.lo),
        float(yaxis.lo),
        height / (yaxis.hi - yaxis.lo),
        width,
        height,
        empty_codes if codes is None else codes,
        ncat,
        empty_weights if weights is None else weights,
        counts,
        sums,
    )
    out = {"count": counts.reshape((height, width, ncat)) if codes is not None else counts.reshape((height, width))}
    if weights is not None:
        n = sums[width * height :].reshape((height, width))
        with np.errstate(invalid="ignore", divide="ignore"):
            out["mean"] = np.where(n > 0, sums[: width * height].reshape((height, width)) / n, np.nan)
    if first:
        rows = np.full(width * height, -1, dtype=np.int64)
        _first_rows(
            x,
            y,
            keep,
            float(xaxis.lo),
            width / (xaxis.hi - xaxis.lo),
            float(yaxis.lo),
            height / (yaxis.hi - yaxis.lo),
            width,
            height,
            rows,
        )
        out["first"] = rows.reshape((height, width))
    return out
