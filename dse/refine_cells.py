"""Bookkeeping of adaptive refinement in numba: cells, their corners, a table of evaluated points.

A cell is a box of grid indices, ``lo[i, a] ≤ index ≤ hi[i, a]`` along each
axis ``a`` of a scenario's grid (categorical axes have ``lo == hi``); a grid
point is named by its row-major flat index. :class:`PointTable` maps the flat
indices evaluated so far to rows of the refinement's value array (an
open-addressing hash table), so a point shared by neighbouring cells is
evaluated once. Each live cell carries the rows of its ``2^d`` corners
(``d`` numeric axes).

:func:`live_cells` bounds each cell by its corners and tests the bound against
a front; :func:`split_cells` halves the cells that stay along every numeric
axis wider than one step and finds the rows of the children's corners: the
``3^d`` lattice of the parent's low, middle and high indices, of which the
parent's own corners are known and the rest are looked up (and added when
new, to be evaluated). All of it is O(cells × 3^d) per level, with no sorting
and no copy of evaluated values.
"""

from __future__ import annotations

import functools
import itertools

import numba
import numpy as np

__all__ = ["PointTable", "corner_flats", "live_cells", "split_cells"]

_EMPTY = -1
_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: multiply, keep the high bits
#: kept parents per call of the split kernel (bounds the table's headroom and the scratch buffer)
SPLIT_CHUNK = 1 << 12


@numba.njit(cache=True, inline="always")
def _lookup(table, shift, key, count, added, n_added):  # pragma: no cover
    """Row of ``key``; a missing key gets row ``count + n_added`` and is appended to ``added``."""
    mask = table.shape[0] - 1
    slot = np.int64((np.uint64(key) * np.uint64(_GOLDEN)) >> np.uint64(shift))
    while True:
        k = table[slot, 0]
        if k == key:
            return table[slot, 1], n_added
        if k == _EMPTY:
            table[slot, 0] = key
            table[slot, 1] = count + n_added
            added[n_added] = key
            return count + n_added, n_added + 1
        slot = (slot + 1) & mask


@numba.njit(cache=True)
def _find_or_add(table, shift, flats, count):  # pragma: no cover
    out = np.empty(flats.size, np.int64)
    added = np.empty(flats.size, np.int64)
    n_added = 0
    for i in range(flats.size):
        out[i], n_added = _lookup(table, shift, flats[i], count, added, n_added)
    return out, added[:n_added]


@numba.njit(cache=True)
def _rehash(table, new_table, shift):  # pragma: no cover
    mask = new_table.shape[0] - 1
    for i in range(table.shape[0]):
        key = table[i, 0]
        if key == _EMPTY:
            continue
        slot = np.int64((np.uint64(key) * np.uint64(_GOLDEN)) >> np.uint64(shift))
        while new_table[slot, 0] != _EMPTY:
            slot = (slot + 1) & mask
        new_table[slot, 0] = key
        new_table[slot, 1] = table[i, 1]


class PointTable:
    """Flat grid index → row, for every point seen so far (rows in order of first sight).

    Key and row share a table row, so a lookup touches one cache line.

    Examples
    --------
    >>> t = PointTable()
    >>> rows, new = t.find_or_add(np.array([7, 3, 7]))
    >>> rows.tolist(), new.tolist(), len(t)
    ([0, 1, 0], [7, 3], 2)
    >>> rows, new = t.find_or_add(np.array([3, 11]))
    >>> rows.tolist(), new.tolist(), len(t)
    ([1, 2], [11], 3)
    """

    def __init__(self, capacity: int = 1 << 12):
        self.bits = max(4, int(capacity - 1).bit_length())
        self.table = np.full((1 << self.bits, 2), _EMPTY, np.int64)
        self.count = 0

    def __len__(self) -> int:
        return self.count

    @property
    def shift(self) -> int:
        return 64 - self.bits

    def reserve(self, extra: int) -> None:
        """Room for ``extra`` more keys at a load factor of at most 1/2."""
        bits = self.bits
        while (1 << bits) < 2 * (self.count + extra):
            bits += 1
        if bits != self.bits:
            table = np.full((1 << bits, 2), _EMPTY, np.int64)
            _rehash(self.table, table, 64 - bits)
            self.table, self.bits = table, bits

    def find_or_add(self, flats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``flats`` and the flat indices that were not in the table yet (now added)."""
        flats = np.ascontiguousarray(flats, np.int64).reshape(-1)
        self.reserve(flats.size)
        rows, added = _find_or_add(self.table, self.shift, flats, self.count)
        self.count += added.size
        return rows, added


@numba.njit(cache=True)
def corner_flats(lo, hi, strides, axes):  # pragma: no cover
    """``(cells, 2^len(axes))`` flat indices of the corners of every cell.

    Corner ``b`` takes ``hi`` along ``axes[j]`` where bit ``j`` of ``b`` is
    set and ``lo`` elsewhere.

    Examples
    --------
    >>> lo, hi = np.array([[0, 1]]), np.array([[2, 3]])
    >>> corner_flats(lo, hi, np.array([4, 1]), np.array([0, 1])).tolist()
    [[1, 9, 3, 11]]
    """
    n, n_axes = lo.shape
    d = axes.size
    out = np.empty((n, 1 << d), np.int64)
    for i in range(n):
        base = 0
        for a in range(n_axes):
            base += np.int64(lo[i, a]) * strides[a]
        for b in range(1 << d):
            f = base
            for j in range(d):
                if (b >> j) & 1:
                    a = axes[j]
                    f += np.int64(hi[i, a] - lo[i, a]) * strides[a]
            out[i, b] = f
    return out


@numba.njit(cache=True)
def live_cells(lo, hi, corners, values, signs, front, margin):  # pragma: no cover
    """Cells that may still hold a front design not yet evaluated.

    ``values`` has one row per evaluated point: the objectives, then the
    infeasibility reason (0: feasible); ``signs`` turns each objective into
    one to maximise; ``corners`` holds the rows of each cell's corners. A cell
    is done when it is at most one step wide along every axis (its corners are
    all its points); it is dropped when none of its corners is feasible, or
    when a row of ``front`` (maximised) strictly dominates its bound: per
    objective the best corner value (NaN ignored; ``+inf`` when no corner has
    a value), plus ``margin`` times the corners' spread.
    """
    n, c = corners.shape
    k = signs.size
    keep = np.zeros(n, np.bool_)
    bound = np.empty(k)
    for i in range(n):
        wide = False
        for a in range(lo.shape[1]):
            if hi[i, a] - lo[i, a] > 1:
                wide = True
                break
        if not wide:
            continue
        alive = False
        for b in range(c):
            if values[corners[i, b], k] == 0:
                alive = True
                break
        if not alive:
            continue
        for j in range(k):
            best = -np.inf
            worst = np.inf
            seen = False
            for b in range(c):
                v = values[corners[i, b], j] * signs[j]
                if v == v:
                    seen = True
                    best = max(best, v)
                    worst = min(worst, v)
            if not seen:
                bound[j] = np.inf
            elif np.isfinite(best) and np.isfinite(worst):
                bound[j] = best + margin * (best - worst)
            else:
                bound[j] = best
        dominated = False
        for r in range(front.shape[0]):
            at_least = True
            strictly = False
            for j in range(k):
                if front[r, j] < bound[j]:
                    at_least = False
                    break
                if front[r, j] > bound[j]:
                    strictly = True
            if at_least and strictly:
                dominated = True
                break
        keep[i] = not dominated
    return keep


@numba.njit(cache=True)
def _children(lo, hi, parents, axes):  # pragma: no cover
    """Number of children of each parent: 2 per numeric axis wider than one step."""
    out = np.empty(parents.size, np.int64)
    for p in range(parents.size):
        i = parents[p]
        c = 1
        for j in range(axes.size):
            if hi[i, axes[j]] - lo[i, axes[j]] > 1:
                c *= 2
        out[p] = c
    return out


@functools.lru_cache(maxsize=8)
def _lattice_tables(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Index tables of the 3^d lattice of a parent cell, per set of wide axes (a bit mask over the d axes).

    Lattice point ``q`` has base-3 digit ``j`` = 0, 1, 2 for the low, middle,
    high index along axis ``j``. Returns ``digits`` (3^d, d); ``corner``
    (3^d,), the parent corner a point without middle digits is, else -1;
    ``needed`` (2^d, 3^d) and ``n_needed`` (2^d,), the points the children of
    a parent with that mask use; ``child_q`` (2^d, 2^d, 2^d), the lattice point
    of corner ``b`` of child ``c`` (one bit per wide axis, in axis order: 0
    low half, 1 high half).
    """
    digits = np.array(list(itertools.product((0, 1, 2), repeat=d)), np.int64)[:, ::-1].reshape(-1, d)
    place = 3 ** np.arange(d)
    corner = np.where((digits == 1).any(axis=1), -1, ((digits == 2) * (1 << np.arange(d))).sum(axis=1))
    needed = np.zeros((1 << d, 3 ** d), np.int64)
    n_needed = np.zeros(1 << d, np.int64)
    child_q = np.zeros((1 << d, 1 << d, 1 << d), np.int64)
    for mask in range(1 << d):
        wide = [(mask >> j) & 1 for j in range(d)]
        ok = np.flatnonzero(~((digits == 1) & (np.array(wide) == 0)).any(axis=1))
        needed[mask, :ok.size], n_needed[mask] = ok, ok.size
        wide_axes = [j for j in range(d) if wide[j]]
        for c in range(1 << len(wide_axes)):
            half = np.zeros(d, np.int64)
            for w, j in enumerate(wide_axes):
                half[j] = (c >> w) & 1
            for b in range(1 << d):
                up = np.array([(b >> j) & 1 for j in range(d)])
                child_q[mask, c, b] = int((np.where(wide, half + up, 2 * up) * place).sum())
    return digits, corner, needed, n_needed, child_q


@numba.njit(cache=True)
def _split(lo, hi, corners, parents, axes, strides, table, shift, count,
           out_lo, out_hi, out_corners, o, digits, corner_of, needed, n_needed, child_q):  # pragma: no cover
    """Children of ``parents`` from output row ``o`` on; returns the next row and the points added."""
    d = axes.size
    n_axes = lo.shape[1]
    lattice = np.empty(3 ** d, np.int64)  # rows of the parent's lattice points
    added = np.empty(parents.size * 3 ** d, np.int64)
    n_added = 0
    offset = np.zeros((d, 3), np.int64)  # flat offset of the low, middle, high index along each axis
    mid = np.empty(d, np.int64)
    for p in range(parents.size):
        i = parents[p]
        base = 0
        for a in range(n_axes):
            base += np.int64(lo[i, a]) * strides[a]
        mask = 0
        n_wide = 0
        for j in range(d):
            a = axes[j]
            mid[j] = (lo[i, a] + hi[i, a]) // 2
            offset[j, 1] = (mid[j] - lo[i, a]) * strides[a]
            offset[j, 2] = np.int64(hi[i, a] - lo[i, a]) * strides[a]
            if hi[i, a] - lo[i, a] > 1:
                mask |= 1 << j
                n_wide += 1
        for t in range(n_needed[mask]):
            q = needed[mask, t]
            if corner_of[q] >= 0:
                lattice[q] = corners[i, corner_of[q]]
            else:
                flat = base
                for j in range(d):
                    flat += offset[j, digits[q, j]]
                lattice[q], n_added = _lookup(table, shift, flat, count, added, n_added)
        for c in range(1 << n_wide):
            w = 0
            for a in range(n_axes):
                out_lo[o, a] = lo[i, a]
                out_hi[o, a] = hi[i, a]
            for j in range(d):
                if (mask >> j) & 1:
                    if (c >> w) & 1:
                        out_lo[o, axes[j]] = mid[j]
                    else:
                        out_hi[o, axes[j]] = mid[j]
                    w += 1
            for b in range(1 << d):
                out_corners[o, b] = lattice[child_q[mask, c, b]]
            o += 1
    return o, added[:n_added]


def split_cells(lo, hi, corners, keep, axes, strides, table: PointTable):
    """Halve the kept cells along every numeric axis wider than one step.

    Returns the children's ``lo``, ``hi`` and corner rows, and the flat indices
    of the corner points not seen before (added to ``table`` with the next
    rows, to be evaluated before the children are bounded).

    Examples
    --------
    >>> t = PointTable()
    >>> lo, hi = np.array([[0, 0]], np.int32), np.array([[2, 1]], np.int32)
    >>> rows, _ = t.find_or_add(corner_flats(lo, hi, np.array([2, 1]), np.array([0, 1])))
    >>> lo2, hi2, corners, added = split_cells(lo, hi, rows.reshape(1, 4).astype(np.int32), np.array([True]),
    ...                                        np.array([0, 1]), np.array([2, 1]), t)
    >>> lo2.tolist(), hi2.tolist(), added.tolist()
    ([[0, 0], [1, 0]], [[1, 1], [2, 1]], [2, 3])
    >>> corners.tolist()
    [[0, 4, 2, 5], [4, 1, 5, 3]]
    """
    parents = np.flatnonzero(keep).astype(np.int64)
    counts = _children(lo, hi, parents, axes)
    total = int(counts.sum())
    out_lo = np.empty((total, lo.shape[1]), lo.dtype)
    out_hi = np.empty((total, lo.shape[1]), hi.dtype)
    out_corners = np.empty((total, corners.shape[1]), corners.dtype)
    lattice = 3 ** axes.size
    tables = _lattice_tables(axes.size)
    o, added = 0, []
    for start in range(0, parents.size, SPLIT_CHUNK):
        chunk = parents[start:start + SPLIT_CHUNK]
        table.reserve(chunk.size * lattice)
        if table.count + chunk.size * lattice >= np.iinfo(corners.dtype).max:
            raise OverflowError("more evaluated points than corner rows can number")
        o, new = _split(lo, hi, corners, chunk, axes, strides, table.table, table.shift, table.count,
                        out_lo, out_hi, out_corners, o, *tables)
        table.count += new.size
        added.append(new)
    return out_lo, out_hi, out_corners, (np.concatenate(added) if added else np.empty(0, np.int64))
