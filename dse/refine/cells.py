"""Cells of adaptive refinement in numba: their corners, their bounds, and their split.

A cell is a box of grid indices, ``lo[i, a] ≤ index ≤ hi[i, a]`` along each
axis ``a`` of a scenario's grid (categorical axes have ``lo == hi``); a grid
point is named by its row-major flat index. Each live cell carries the rows
of its ``2^d`` corners (``d`` numeric axes) in the refinement's value array.

:func:`live_cells` bounds each cell by its corners and tests the bound against
a front (:mod:`dse.refine.dominance`); :func:`split_cells` halves the cells
that stay along every numeric axis wider than one step and finds the rows of
the children's corners: the ``3^d`` lattice of the parent's low, middle and
high indices, of which the parent's own corners are known and the rest are
new points of this split, shared only with the neighbouring parents: they go
through a :class:`~dse.refine.points.PointTable` of this split's points
alone, so each is evaluated once and the table never holds the points of
earlier levels. All of it is O(cells × 3^d) per level, with no sorting and
no copy of evaluated values.

The work runs on two threads (the kernels release the GIL): :func:`live_cells`
on two halves of the cells, :func:`split_cells` with each thread owning one
half of the hash table (linear probing never leaves a slot's half), the
second half's new points renumbered once the first half's count is known, so
the rows are the same however the threads are scheduled.
"""

from __future__ import annotations

import functools
import itertools
import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from dse.refine.dominance import dominated, front_index, on_two_threads
from dse.refine.points import MAX_LOAD, PointTable, _probe, _set_rows, _slot

__all__ = [
    "corner_flats",
    "live_cells",
    "lattice_lookups",
    "split_cells",
    "Split",
    "join_blocks",
    "SPLIT_CHUNK",
    "BLOCK_CELLS",
]

#: kept parents per call of the split kernel (bounds the table's headroom and the scratch buffer)
SPLIT_CHUNK = 1 << 13
#: most cells in a block of a level's cells (a block's children are written into new blocks of at most this)
BLOCK_CELLS = 1 << 20


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


@numba.njit(cache=True, nogil=True)
def _live_cells(
    lo, hi, corners, values, signs, front, margin, first, start, second, third, begin, end, keep
):  # pragma: no cover
    c = corners.shape[1]
    k = signs.size
    bound = np.empty(k)
    for i in range(begin, end):
        keep[i] = False
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
        keep[i] = not dominated(bound, front, first, start, second, third)


def live_cells(lo, hi, corners, values, signs, front, margin):
    """Cells that may still hold a front design not yet evaluated.

    ``values`` has one row per evaluated point: the objectives, then the
    infeasibility reason (0: feasible); ``signs`` turns each objective into
    one to maximise; ``corners`` holds the rows of each cell's corners. A cell
    is done when it is at most one step wide along every axis (its corners are
    all its points); it is dropped when none of its corners is feasible, or
    when a row of ``front`` (maximised) strictly dominates its bound: per
    objective the best corner value (NaN ignored; ``+inf`` when no corner has
    a value), plus ``margin`` times the corners' spread. The dominance test
    goes through :func:`front_index`.

    Examples
    --------
    >>> front = np.array([[3.0, 1.0], [1.0, 3.0]])
    >>> lo, hi = np.array([[0, 0], [0, 0]], np.int32), np.array([[2, 2], [2, 2]], np.int32)
    >>> values = np.array([[2.0, 0.5, 0], [0.5, 0.5, 0], [4.0, 0.0, 0], [0.0, 0.0, 0]], np.float32)
    >>> corners = np.array([[0, 1, 1, 1], [2, 3, 3, 3]], np.int32)
    >>> live_cells(lo, hi, corners, values, np.ones(2), front, 0.0).tolist()  # (2, 0.5) < (3, 1); (4, 0) is not
    [False, True]
    """
    front = np.ascontiguousarray(front, np.float64)
    index = front_index(front)
    keep = np.zeros(corners.shape[0], np.bool_)
    on_two_threads(_live_cells, corners.shape[0], lo, hi, corners, values, signs, front, margin, *index, out=keep)
    return keep


@numba.njit(cache=True)
def _children(lo, hi, parents, axes):  # pragma: no cover
    """Number of children of each parent that are not done.

    Of the 2 per numeric axis wider than one step, those more than one step
    wide along some axis (a done child's points are all its corners: nothing
    to bound).
    """
    out = np.empty(parents.size, np.int64)
    for p in range(parents.size):
        i = parents[p]
        every, done = 1, 1
        for j in range(axes.size):
            a = axes[j]
            if hi[i, a] - lo[i, a] > 1:
                mid = (lo[i, a] + hi[i, a]) // 2
                every *= 2
                done *= (mid - lo[i, a] <= 1) + (hi[i, a] - mid <= 1)  # halves one step wide or less
        out[p] = every - done
    return out


@numba.njit(cache=True)
def lattice_lookups(lo, hi, keep, axes):  # pragma: no cover
    """Points of the kept cells' lattices that are not their corners: the look-ups of their split.

    >>> lo, hi = np.array([[0, 0], [0, 0]]), np.array([[4, 1], [4, 4]])
    >>> lattice_lookups(lo, hi, np.array([True, True]), np.array([0, 1]))  # (3·2 - 4) + (3·3 - 4)
    7
    """
    total = 0
    for i in range(lo.shape[0]):
        if keep[i]:
            n = 1
            for j in range(axes.size):
                a = axes[j]
                n *= 3 if hi[i, a] - lo[i, a] > 1 else 2
            total += n - (1 << axes.size)
    return total


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
    needed = np.zeros((1 << d, 3**d), np.int64)
    n_needed = np.zeros(1 << d, np.int64)
    child_q = np.zeros((1 << d, 1 << d, 1 << d), np.int64)
    for mask in range(1 << d):
        wide = [(mask >> j) & 1 for j in range(d)]
        ok = np.flatnonzero(~((digits == 1) & (np.array(wide) == 0)).any(axis=1))
        needed[mask, : ok.size], n_needed[mask] = ok, ok.size
        wide_axes = [j for j in range(d) if wide[j]]
        for c in range(1 << len(wide_axes)):
            half = np.zeros(d, np.int64)
            for w, j in enumerate(wide_axes):
                half[j] = (c >> w) & 1
            for b in range(1 << d):
                up = np.array([(b >> j) & 1 for j in range(d)])
                child_q[mask, c, b] = int((np.where(wide, half + up, 2 * up) * place).sum())
    return digits, corner, needed, n_needed, child_q


@numba.njit(cache=True, nogil=True)
def _lattice_half(
    lo,
    hi,
    corners,
    parents,
    axes,
    strides,
    table,
    shift,
    row_bits,
    count,
    half,
    rows,
    digits,
    corner_of,
    needed,
    n_needed,
):  # pragma: no cover
    """Rows of the lattice points of ``parents`` whose table slot lies in ``half`` (0 or 1) of the table.

    Fills ``rows[p, q]`` for those points (half 0 also the parent's corners);
    a point not in the table is added, with row ``count + j`` in half 0 and
    the provisional row ``-(j + 2)`` in half 1 (renumbered once half 0's
    count is known). The halves touch disjoint slots and entries of
    ``rows``, so the two calls can run at once. Returns the keys added, and
    an XOR of the slots read ahead (returned so the reads are not optimized
    away).
    """
    d = axes.size
    n_axes = lo.shape[1]
    half_size = table.shape[0] >> 1
    half_mask = half_size - 1
    added = np.empty(parents.size * 3**d, np.int64)
    n_added = 0
    offset = np.zeros((d, 3), np.int64)  # flat offset of the low, middle, high index along each axis
    point = np.empty(3**d, np.int64)
    key = np.empty(3**d, np.int64)
    where = np.empty(3**d, np.int64)
    touched = 0
    for p in range(parents.size):
        i = parents[p]
        base = 0
        for a in range(n_axes):
            base += np.int64(lo[i, a]) * strides[a]
        mask = 0
        for j in range(d):
            a = axes[j]
            mid = (lo[i, a] + hi[i, a]) // 2
            offset[j, 1] = np.int64(mid - lo[i, a]) * strides[a]
            offset[j, 2] = np.int64(hi[i, a] - lo[i, a]) * strides[a]
            if hi[i, a] - lo[i, a] > 1:
                mask |= 1 << j
        # two passes over the parent's points: the first computes their keys and reads their slots (loads
        # that do not wait on each other, so the cache misses of a random table overlap), the second probes
        m = 0
        for t in range(n_needed[mask]):
            q = needed[mask, t]
            if corner_of[q] >= 0:
                if half == 0:
                    rows[p, q] = corners[i, corner_of[q]]
                continue
            flat = base
            for j in range(d):
                flat += offset[j, digits[q, j]]
            slot = _slot(flat, shift)
            if (slot >= half_size) != (half == 1):
                continue
            point[m], key[m], where[m] = q, flat, slot
            touched ^= table[slot, 0]
            m += 1
        for t in range(m):
            rows[p, point[t]], inserted = _probe(
                table, where[t], key[t], count + n_added if half == 0 else -(n_added + 2), half_mask, row_bits
            )
            if inserted:
                added[n_added] = key[t]
                n_added += 1
    return added[:n_added].copy(), touched  # a copy: the buffer is 3^d keys a parent


@numba.njit(cache=True, nogil=True)
def _write_children(lo, hi, parents, axes, rows, renumber, out_lo, out_hi, out_corners, o, child_q):  # pragma: no cover
    """Write the children of ``parents`` from output row ``o`` on; returns the next output row.

    Their corners come from ``rows`` (provisional rows ``-(j + 2)`` become
    ``renumber + j``); done children are left out.
    """
    d = axes.size
    n_axes = lo.shape[1]
    mid = np.empty(d, np.int64)
    for p in range(parents.size):
        i = parents[p]
        mask = 0
        n_wide = 0
        for j in range(d):
            a = axes[j]
            mid[j] = (lo[i, a] + hi[i, a]) // 2
            if hi[i, a] - lo[i, a] > 1:
                mask |= 1 << j
                n_wide += 1
        for c in range(1 << n_wide):
            w = 0
            done = True
            for j in range(d):
                if (mask >> j) & 1:
                    a = axes[j]
                    width = hi[i, a] - mid[j] if (c >> w) & 1 else mid[j] - lo[i, a]
                    done &= width <= 1
                    w += 1
            if done:  # its corners are new points or known ones; the cell itself has nothing left to bound
                continue
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
                r = rows[p, child_q[mask, c, b]]
                out_corners[o, b] = r if r >= 0 else renumber - r - 2
            o += 1
    return o


class Split:
    """One level's split, block after block of cells: the children of each block, and the level's new points.

    The blocks of a level are split in order through one table of the
    level's new points (:func:`split_cells` on the whole level gives the same
    children and rows); the children come in blocks of at most
    :data:`BLOCK_CELLS`, so a refinement can drop each parent block as soon as
    it is split and the level's cells are never held twice.

    Parameters
    ----------
    axes, strides : numpy.ndarray
        The numeric axes of the grid, and the flat-index stride of every axis.
    first_row : int
        The row of the first new point (the rows taken so far).
    keys_below : int, optional
        The grid's size, for the table's packed layout.
    expected : int
        New points the table is first sized for (it grows as needed).
    """

    def __init__(self, axes, strides, first_row, *, keys_below=None, expected=0):
        self.axes, self.strides = axes, strides
        slots = math.ceil(max(int(expected), 1) / MAX_LOAD)
        self.table = PointTable(capacity=slots, keys_below=keys_below, first_row=int(first_row))
        self.tables = _lattice_tables(axes.size)
        self._added: list[np.ndarray] = []

    @property
    def added(self) -> np.ndarray:
        """Flat indices of the new points so far, in order of their rows (``first_row`` on)."""
        return np.concatenate(self._added) if self._added else np.empty(0, np.int64)

    def __call__(self, lo, hi, corners, keep) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Split the kept cells of one block: ``[(lo, hi, corners), …]`` of their children, in order."""
        parents = np.flatnonzero(keep).astype(np.int64)
        counts = _children(lo, hi, parents, self.axes)
        ends = np.cumsum(counts)
        blocks, start = [], 0
        while start < parents.size:  # parents whose children fill a block (at least one parent)
            base = ends[start - 1] if start else 0
            stop = max(start + 1, int(np.searchsorted(ends, base + BLOCK_CELLS, side="right")))
            blocks.append(self._split(lo, hi, corners, parents[start:stop], counts[start:stop]))
            start = stop
        return [b for b in blocks if b[0].shape[0]]

    def _split(self, lo, hi, corners, parents, counts):
        axes, strides, table = self.axes, self.strides, self.table
        digits, corner_of, needed, n_needed, child_q = self.tables
        total = int(counts.sum())
        out_lo = np.empty((total, lo.shape[1]), lo.dtype)
        out_hi = np.empty((total, lo.shape[1]), hi.dtype)
        out_corners = np.empty((total, corners.shape[1]), corners.dtype)
        lattice = 3**axes.size
        o = 0
        scratch = np.empty((min(SPLIT_CHUNK, parents.size), lattice), np.int64)  # one buffer for every chunk
        with ThreadPoolExecutor(2) as pool:
            for start in range(0, parents.size, SPLIT_CHUNK):
                chunk = parents[start : start + SPLIT_CHUNK]
                table.reserve(chunk.size * lattice)
                if table.next_row + chunk.size * lattice >= min(np.iinfo(corners.dtype).max, table.max_rows):
                    raise OverflowError("more evaluated points than corner rows can number")
                rows = scratch[: chunk.size]
                halves = [
                    pool.submit(
                        _lattice_half,
                        lo,
                        hi,
                        corners,
                        chunk,
                        axes,
                        strides,
                        table.table,
                        table.shift,
                        table.row_bits,
                        table.next_row,
                        half,
                        rows,
                        digits,
                        corner_of,
                        needed,
                        n_needed,
                    )
                    for half in (0, 1)
                ]
                new = [h.result()[0] for h in halves]
                renumber = table.next_row + new[0].size
                fix = pool.submit(_set_rows, table.table, table.shift, new[1], renumber, table.row_bits)
                cut = chunk.size // 2  # the children of each half of the chunk, on their own thread
                middle = o + int(counts[start : start + cut].sum())
                second = pool.submit(
                    _write_children,
                    lo,
                    hi,
                    chunk[cut:],
                    axes,
                    rows[cut:],
                    renumber,
                    out_lo,
                    out_hi,
                    out_corners,
                    middle,
                    child_q,
                )
                _write_children(
                    lo, hi, chunk[:cut], axes, rows[:cut], renumber, out_lo, out_hi, out_corners, o, child_q
                )
                o = second.result()
                fix.result()
                table.count += new[0].size + new[1].size
                self._added += new
        return out_lo, out_hi, out_corners


def split_cells(lo, hi, corners, keep, axes, strides, first_row, *, keys_below=None, expected=0):
    """Halve the kept cells along every numeric axis wider than one step.

    Returns the children's ``lo``, ``hi`` and corner rows, and the flat indices
    of the corner points not seen before, which take the rows ``first_row,
    first_row + 1, …`` in that order (to be evaluated before the children are
    bounded). A child at most one step wide along every axis is done: its
    points are all its corners, which are among the points returned or known,
    so the cell is not. (:class:`Split` does the same block by block.)

    Only the points of this split go through a table (``expected`` of them
    sizes it; ``keys_below`` is the grid's size, for its packed layout): in a
    refinement every cell of a level is its level's node of the same halving
    tree along each axis, so a point that is not a parent's corner has an
    index born at this split along some axis, and no earlier split made it.
    The cells must come from such a refinement (:func:`refine`'s first cells,
    then splits).

    Examples
    --------
    A 5 × 2 grid (flat index ``2 * i + j``), one cell over all of it, whose
    corners are rows 0-3:

    >>> axes, strides = np.array([0, 1]), np.array([2, 1])
    >>> lo, hi = np.array([[0, 0]], np.int32), np.array([[4, 1]], np.int32)
    >>> corner_flats(lo, hi, strides, axes).tolist()
    [[0, 8, 1, 9]]
    >>> corners = np.array([[0, 1, 2, 3]], np.int32)
    >>> lo2, hi2, corners, added = split_cells(lo, hi, corners, np.array([True]), axes, strides, 4)
    >>> lo2.tolist(), hi2.tolist(), added.tolist()
    ([[0, 0], [2, 0]], [[2, 1], [4, 1]], [4, 5])
    >>> corners.tolist()
    [[0, 4, 2, 5], [4, 1, 5, 3]]

    Halving the first child gives two cells one step wide: done, so no
    cell is returned, only their new corners (grid points 2 and 3), rows 6 and 7:

    >>> lo3, hi3, _, added = split_cells(lo2, hi2, corners, np.array([True, False]), axes, strides, 6)
    >>> lo3.shape[0], added.tolist()
    (0, [2, 3])
    """
    split = Split(axes, strides, first_row, keys_below=keys_below, expected=expected)
    blocks = split(lo, hi, corners, keep)
    return (*join_blocks(blocks, lo.dtype, lo.shape[1], corners.shape[1]), split.added)


def join_blocks(blocks, dtype, n_axes: int, n_corners: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``lo``, ``hi`` and corner rows of cells kept in blocks ``[(lo, hi, corners), …]``, each as one array.

    >>> block = (np.zeros((2, 3), np.int16), np.ones((2, 3), np.int16), np.zeros((2, 4), np.int32))
    >>> [a.shape for a in join_blocks([block, block], np.int16, 3, 4)], join_blocks([], np.int16, 3, 4)[2].shape
    ([(4, 3), (4, 3), (4, 4)], (0, 4))
    """
    empty = (np.empty((0, n_axes), dtype), np.empty((0, n_axes), dtype), np.empty((0, n_corners), np.int32))
    return tuple(np.concatenate(parts) for parts in zip(empty, *blocks, strict=True))
