"""The numba kernels of the exact fronts (maximisation, no NaN).

Sweeps over the first objective for two and three objectives (for three, a
Fenwick tree holds the best third objective per rank of the second),
sort-filter-skyline for more, and the dominance and membership tests that
the prefilter and the chunked front use. ``docs/pareto.md`` gives the
algorithms.
"""

from __future__ import annotations

import numba
import numpy as np

#: the kernels are the other pareto modules' helpers: nothing here is public
__all__: list[str] = []


@numba.njit(cache=True)
def _dense_ranks_of(x: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, int]:  # pragma: no cover
    """Dense ascending ranks of x (equal values share one) given its ascending ``order``."""
    out = np.empty(x.size, np.int64)
    rank = 0
    for t in range(order.size):
        if t > 0 and x[order[t]] != x[order[t - 1]]:
            rank += 1
        out[order[t]] = rank
    return out, rank + 1


@numba.njit(cache=True)
def _sweep2(x0: np.ndarray, x1: np.ndarray, order: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Front of two objectives; ``order`` sorts x0 descending (ties in any order).

    In a group of equal x0 only the points with the group's best x1 can be on
    the front, and they are when that x1 beats every group of larger x0.
    """
    n = order.size
    out = np.zeros(n, np.bool_)
    have_prev = False
    prev = -np.inf
    i = 0
    while i < n:
        head = x0[order[i]]
        top = x1[order[i]]
        j = i
        while j < n and x0[order[j]] == head:
            if x1[order[j]] > top:
                top = x1[order[j]]
            j += 1
        if (not have_prev) or top > prev:
            for t in range(i, j):
                if x1[order[t]] == top:
                    out[order[t]] = True
            prev = top
            have_prev = True
        i = j
    return out


@numba.njit(cache=True)
def _fenwick_best(tree: np.ndarray, k: int) -> int:  # pragma: no cover
    """Largest value stored at positions 1..k of a prefix-max Fenwick tree (-1 if none)."""
    best = -1
    while k > 0:
        if tree[k] > best:
            best = tree[k]
        k -= k & -k
    return best


@numba.njit(cache=True)
def _fenwick_raise(tree: np.ndarray, k: int, value: int) -> None:  # pragma: no cover
    while k < tree.size:
        if tree[k] < value:
            tree[k] = value
        k += k & -k


@numba.njit(cache=True)
def _sweep3(
    x0: np.ndarray, r1: np.ndarray, r2: np.ndarray, order: np.ndarray, n1: int, n2: int
) -> np.ndarray:  # pragma: no cover
    """Front of three objectives from a sweep over x0 with a Fenwick staircase.

    ``r1`` is the descending dense rank of x1 (0 = largest), ``r2`` the
    ascending dense rank of x2, ``order`` sorts x0 descending (ties in any
    order). A group of equal x0 is sorted by r1 ascending then r2 descending;
    its 2-D front is kept if no earlier point (strictly larger x0) has
    x1 >= and x2 >=, which the Fenwick tree answers: for every x1 rank it holds
    the best x2 rank of the front found so far.
    """
    n = order.size
    out = np.zeros(n, np.bool_)
    tree = np.full(n1 + 1, -1, np.int64)
    i = 0
    while i < n:
        head = x0[order[i]]
        j = i
        while j < n and x0[order[j]] == head:
            j += 1
        group = order[i:j]
        if j - i > 1:
            key = r1[group] * n2 + (n2 - 1 - r2[group])
            group = group[np.argsort(key)]
        prev = -1  # best r2 of the group at strictly larger x1
        a = 0
        while a < group.size:
            rank1 = r1[group[a]]
            top = r2[group[a]]
            b = a
            while b < group.size and r1[group[b]] == rank1:
                p = group[b]
                if r2[p] == top and top > prev and _fenwick_best(tree, rank1 + 1) < top:
                    out[p] = True
                b += 1
            if top > prev:
                prev = top
            a = b
        for p in group:
            if out[p]:
                _fenwick_raise(tree, r1[p] + 1, r2[p])
        i = j
    return out


@numba.njit(cache=True)
def _row_dominates(x: np.ndarray, a: int, y: np.ndarray, b: int) -> bool:  # pragma: no cover
    """Row a of x is >= row b of y everywhere and > somewhere."""
    strict = False
    for j in range(x.shape[1]):
        if x[a, j] < y[b, j]:
            return False
        if x[a, j] > y[b, j]:
            strict = True
    return strict


@numba.njit(cache=True)
def _dominates(x: np.ndarray, a: int, b: int) -> bool:  # pragma: no cover
    """Row a of x is >= row b everywhere and > somewhere."""
    return _row_dominates(x, a, x, b)


@numba.njit(cache=True)
def _sfs(x: np.ndarray, order: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Sort-filter-skyline: ``order`` puts every dominator before the points it dominates."""
    n = order.size
    out = np.zeros(n, np.bool_)
    window = np.empty(n, np.int64)
    m = 0
    for t in range(n):
        p = order[t]
        free = True
        for w in range(m):
            if _dominates(x, window[w], p):
                free = False
                # move the dominator forward: fronts are found faster next time
                if w > 0:
                    window[w], window[w - 1] = window[w - 1], window[w]
                break
        if free:
            window[m] = p
            m += 1
            out[p] = True
    return out


@numba.njit(cache=True)
def _undominated_by(x: np.ndarray, s: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Rows of x that no row of s strictly dominates."""
    n = x.shape[0]
    keep = np.ones(n, np.bool_)
    for i in range(n):
        for r in range(s.shape[0]):
            if _row_dominates(s, r, x, i):
                keep[i] = False
                break
    return keep


@numba.njit(cache=True)
def _rows_in(x: np.ndarray, table: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Whether each row of x equals a row of ``table`` (sorted lexicographically)."""
    n, k = x.shape
    out = np.zeros(n, np.bool_)
    for i in range(n):
        lo = 0
        hi = table.shape[0]
        while lo < hi:
            mid = (lo + hi) // 2
            cmp = 0
            for j in range(k):
                if table[mid, j] < x[i, j]:
                    cmp = -1
                    break
                if table[mid, j] > x[i, j]:
                    cmp = 1
                    break
            if cmp == 0:
                out[i] = True
                break
            if cmp < 0:
                lo = mid + 1
            else:
                hi = mid
    return out
