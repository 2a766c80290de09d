"""Whether a front dominates a bound, in O(log² F) per query: a Fenwick tree over the front, in numba.

The dominance test of a cell's bound goes through :func:`front_index`, a
Fenwick tree over the front sorted by its first objective, instead of a
scan of the F front designs; that keeps refinement fast on wide fronts.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

#: rows (cells or points) from which :func:`new_candidates` and ``live_cells`` run on two threads
THREAD_MIN_ROWS = 1 << 14

__all__ = ["front_index", "dominated", "new_candidates"]


@numba.njit(cache=True)
def _count_at_least(a, lo, hi, v):  # pragma: no cover
    """How many of ``a[lo:hi]`` (sorted descending) are ≥ ``v``."""
    left, right = lo, hi
    while left < right:
        mid = (left + right) // 2
        if a[mid] >= v:
            left = mid + 1
        else:
            right = mid
    return left - lo


@numba.njit(cache=True)
def front_index(front):  # pragma: no cover
    """An index of a maximised front for :func:`dominated`: O(log² F) per query instead of O(F).

    The rows are sorted by the first objective, descending; a Fenwick tree
    over that order holds in node ``i`` (1-based) the rows ``i - lowbit(i) …
    i - 1``, sorted by the second objective descending, with the running
    maximum of the third. Rows with the first objective ≥ ``b₀`` are then a
    prefix, split into at most log₂ F nodes, and in each node those with the
    second ≥ ``b₁`` are again a prefix whose best third objective is one
    look-up. With two objectives the running maximum of the second over the
    sorted rows is all that is needed. Returns ``(first, start, second,
    third)``; unused for other numbers of objectives.
    """
    n, k = front.shape
    order = np.argsort(-front[:, 0], kind="mergesort")
    first = front[order, 0].copy()
    start = np.zeros(n + 2, np.int64)
    if k == 2:
        second = np.empty(n)
        third = np.empty(0)
        best = -np.inf
        for r in range(n):
            best = max(best, front[order[r], 1])
            second[r] = best
        return first, start, second, third
    if k != 3:
        return first, start, np.empty(0), np.empty(0)
    for i in range(1, n + 1):
        start[i + 1] = start[i] + (i & -i)
    second = np.empty(start[n + 1])
    third = np.empty(start[n + 1])
    for i in range(1, n + 1):
        rows = order[i - (i & -i) : i]
        by_second = rows[np.argsort(-front[rows, 1], kind="mergesort")]
        best = -np.inf
        for t in range(by_second.size):
            second[start[i] + t] = front[by_second[t], 1]
            best = max(best, front[by_second[t], 2])
            third[start[i] + t] = best
    return first, start, second, third


@numba.njit(cache=True)
def dominated(bound, front, first, start, second, third):  # pragma: no cover
    """Whether a row of ``front`` (maximised) strictly dominates ``bound``, with the index of :func:`front_index`.

    A row that is ≥ ``bound`` everywhere and > in the last objective is
    found through the index; when the best candidate only ties the last
    objective (or with more than three objectives) the rows are scanned.
    """
    n, k = front.shape
    tie = False
    if k == 2 or k == 3:
        m = _count_at_least(first, 0, n, bound[0])
        if m == 0:
            return False
        if k == 2:
            if second[m - 1] > bound[1]:
                return True
            tie = second[m - 1] == bound[1]
        else:
            i = m
            while i > 0:
                c = _count_at_least(second, start[i], start[i + 1], bound[1])
                if c > 0:
                    best = third[start[i] + c - 1]
                    if best > bound[2]:
                        return True
                    if best == bound[2]:
                        tie = True
                i -= i & -i
        if not tie:
            return False
    for r in range(n):
        at_least = True
        strictly = False
        for j in range(k):
            if front[r, j] < bound[j]:
                at_least = False
                break
            if front[r, j] > bound[j]:
                strictly = True
        if at_least and strictly:
            return True
    return False


@numba.njit(cache=True, nogil=True)
def _new_candidates(values, signs, front, first, start, second, third, begin, end, out):  # pragma: no cover
    k = signs.size
    x = np.empty(k)
    for i in range(begin, end):
        out[i] = False
        if values[i, k] != 0:
            continue
        finite = True
        for j in range(k):
            x[j] = values[i, j] * signs[j]
            finite &= x[j] == x[j]
        out[i] = finite and not dominated(x, front, first, start, second, third)


def new_candidates(values: np.ndarray, signs: np.ndarray, front: np.ndarray) -> np.ndarray:
    """The designs of a batch that may join the front, maximised: ``(m, k)`` float64.

    ``values`` has a row per design, the ``k`` objectives then the
    infeasibility reason; a design is kept when it is feasible (reason 0),
    has no NaN objective and no row of ``front`` (maximised) strictly
    dominates it. One pass in numba, so no temporary of the whole batch is made.

    >>> values = np.array([[1, 1, 0], [4, 0, 0], [3, 1, 0], [9, 9, 2], [np.nan, 5, 0]], np.float32)
    >>> new_candidates(values, np.ones(2), np.array([[3.0, 1.0], [1.0, 3.0]])).tolist()
    [[4.0, 0.0], [3.0, 1.0]]
    """
    front = np.ascontiguousarray(front, np.float64)
    keep = np.empty(values.shape[0], np.bool_)
    on_two_threads(_new_candidates, values.shape[0], values, signs, front, *front_index(front), out=keep)
    rows = np.flatnonzero(keep)
    return values[rows, : signs.size].astype(np.float64) * signs


def on_two_threads(kernel, n: int, *args, out: np.ndarray) -> None:
    """Run ``kernel(*args, begin, end, out)`` over rows ``0 … n - 1``.

    In two halves on two threads from :data:`THREAD_MIN_ROWS` rows on (the
    kernels release the GIL), else in one call.
    """
    cuts = [0, n // 2, n] if n >= THREAD_MIN_ROWS else [0, n]
    with ThreadPoolExecutor(len(cuts) - 1) as pool:
        for f in [pool.submit(kernel, *args, cuts[r], cuts[r + 1], out) for r in range(len(cuts) - 1)]:
            f.result()
