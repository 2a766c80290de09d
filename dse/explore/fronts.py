"""The exact Pareto front of any subset of rows, from cached fronts of fixed chunks of rows.

The front of a union is the front of the fronts of its parts, so a chunk
that a filter keeps whole contributes its cached front, a chunk it drops
contributes nothing, and only chunks it cuts are recomputed (after
discarding their rows that the cached chunk front, cut the same way, already
dominates).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dse.explore.kernels import _chunk_counts
from dse.pareto import nondominated


class ChunkFronts:
    """Fronts of the chunks of ``chunk_rows`` rows (of ``n``), cached per set of objectives and senses."""

    def __init__(self, n: int, chunk_rows: int):
        self.n = int(n)
        self.chunk_rows = int(chunk_rows)
        starts = np.arange(0, max(self.n, 1), self.chunk_rows)
        self.starts = starts if self.n else np.zeros(0, dtype=np.int64)
        self._cache: dict[tuple, dict[int, np.ndarray]] = {}

    def front(
        self, keep: np.ndarray, names: Sequence[str], senses: Sequence[str], columns: list[np.ndarray]
    ) -> np.ndarray:
        """Rows of the exact front of the rows in ``keep`` over ``columns`` (one per objective), in row order."""
        cache = self._cache.setdefault((tuple(names), tuple(senses)), {})
        kept = np.zeros(self.starts.size, dtype=np.int64)
        _chunk_counts(keep, self.chunk_rows, kept)
        candidates = []
        for c in np.flatnonzero(kept):
            lo = int(self.starts[c])
            hi = min(lo + self.chunk_rows, self.n)
            if c not in cache:
                cache[c] = lo + np.flatnonzero(nondominated(_stack(columns, slice(lo, hi)), senses))
            whole = cache[c]
            if kept[c] == hi - lo:
                candidates.append(whole)
                continue
            rows = lo + np.flatnonzero(keep[lo:hi])
            values = _stack(columns, rows)
            if len(names) == 2:
                sure = whole[keep[whole]]
                if sure.size:
                    values, rows = _prune(values, rows, _stack(columns, sure), senses)
            candidates.append(rows[nondominated(values, senses)])
        if not candidates:
            return np.zeros(0, dtype=np.int64)
        rows = np.concatenate(candidates)
        return np.sort(rows[nondominated(_stack(columns, rows), senses)])


def _stack(columns: list[np.ndarray], rows) -> np.ndarray:
    return np.column_stack([c[rows] for c in columns]).astype(np.float64, copy=False)


def _prune(values: np.ndarray, rows: np.ndarray, front: np.ndarray, senses: Sequence[str]):
    """Drop the rows of ``values`` (2 objectives) that a point of ``front`` dominates."""
    signs = np.array([1.0 if s == "max" else -1.0 for s in senses])
    v = values * signs
    f = front * signs
    f = f[np.isfinite(f).all(axis=1)]
    if f.size == 0:
        return values, rows
    order = np.lexsort((-f[:, 1], f[:, 0]))  # x ascending; y non-increasing along a front
    fx, fy = f[order, 0], f[order, 1]
    # the best y among front points with x >= x_p is the first of them
    best_y = np.maximum.accumulate(fy[::-1])[::-1]
    idx = np.searchsorted(fx, v[:, 0], side="left")
    inside = idx < fx.size
    j = np.minimum(idx, fx.size - 1)
    dominated = inside & (best_y[j] >= v[:, 1]) & ((fx[j] > v[:, 0]) | (best_y[j] > v[:, 1]))
    return values[~dominated], rows[~dominated]
