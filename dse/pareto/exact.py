"""The exact non-dominated mask of an ``(n, k)`` array (:func:`nondominated`).

One kernel per number of objectives (:mod:`dse.pareto.kernels`); above
:data:`PREFILTER_MIN` points the front of a sample gives sentinels that
discard most dominated points before the exact kernel runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dse.errors import SpecError
from dse.pareto.kernels import _dense_ranks_of, _sfs, _sweep2, _sweep3, _undominated_by
from dse.pareto.senses import _signs

__all__ = [
    "PREFILTER_MIN",
    "N_SENTINELS",
    "SAMPLE_SIZE",
    "nondominated",
]

#: below this many points the exact kernels run without the sentinel prefilter
PREFILTER_MIN = 20_000
#: the prefilter's sentinels: at most this many members of a sample's front
N_SENTINELS = 64
SAMPLE_SIZE = 4096


def _dense_rank(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense ascending ranks (equal values share a rank) and the number of ranks."""
    x = np.ascontiguousarray(x)
    return _dense_ranks_of(x, np.argsort(x))


def _front1(x: np.ndarray) -> np.ndarray:
    return x[:, 0] == x[:, 0].max()


def _front2(x: np.ndarray) -> np.ndarray:
    x0, x1 = np.ascontiguousarray(x[:, 0]), np.ascontiguousarray(x[:, 1])
    return _sweep2(x0, x1, np.argsort(-x0))


def _front3(x: np.ndarray) -> np.ndarray:
    x0 = np.ascontiguousarray(x[:, 0])
    r1, n1 = _dense_rank(x[:, 1])
    r2, n2 = _dense_rank(x[:, 2])
    return _sweep3(x0, n1 - 1 - r1, r2, np.argsort(-x0), n1, n2)


def _front_any(x: np.ndarray) -> np.ndarray:
    # sum of (clipped) values, ties broken lexicographically: every dominator sorts first,
    # as floating-point addition is monotone and a tie in the sum falls to the lexicographic key
    score = np.clip(x, -1e300, 1e300).sum(axis=1)
    keys = tuple(-x[:, j] for j in range(x.shape[1] - 1, -1, -1)) + (-score,)
    return _sfs(x, np.lexsort(keys))


_KERNELS = {1: _front1, 2: _front2, 3: _front3}


def _sentinels(x: np.ndarray) -> np.ndarray:
    """Up to :data:`N_SENTINELS` front members of a seeded sample of x (actual rows of x)."""
    rng = np.random.default_rng(0)
    sample = x[np.unique(rng.integers(0, x.shape[0], SAMPLE_SIZE))]
    front = sample[_exact_front(sample, prefilter=False)]
    if front.shape[0] > N_SENTINELS:
        front = front[np.linspace(0, front.shape[0] - 1, N_SENTINELS).astype(np.int64)]
    # the best compromise first: it discards most points on its own
    lo, hi = sample.min(axis=0), sample.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        scaled = (front - lo) / span
    score = np.nan_to_num(scaled, nan=0.0, posinf=1.0, neginf=0.0).sum(axis=1)
    return np.ascontiguousarray(front[np.argsort(-score, kind="stable")])


def _exact_front(x: np.ndarray, prefilter: bool | None = None) -> np.ndarray:
    """Non-dominated mask of a NaN-free float64 array to maximise.

    A prefilter first drops the rows strictly dominated by a few sentinel rows
    (front members of a sample); it never drops a front member, as a dominated
    row is never on the front.
    """
    n, k = x.shape
    if n == 0:
        return np.zeros(0, np.bool_)
    if prefilter is None:
        prefilter = k > 1 and n >= PREFILTER_MIN
    if prefilter:
        keep = np.flatnonzero(_undominated_by(x, _sentinels(x)))
        out = np.zeros(n, np.bool_)
        out[keep] = _exact_front(np.ascontiguousarray(x[keep]), prefilter=False)
        return out
    return _KERNELS.get(k, _front_any)(x)


def _maximised(values: np.ndarray, signs: Sequence[float]) -> np.ndarray:
    """Values as float64 with every column turned into one to maximise."""
    x = np.asarray(values, dtype=np.float64) * np.asarray(signs, dtype=np.float64)
    return np.ascontiguousarray(x)


def nondominated(values: np.ndarray, senses: Sequence[str]) -> np.ndarray:
    """Exact non-dominated mask of the rows of ``values``.

    Point a dominates b when a is at least as good as b in every objective and
    strictly better in one. Exact duplicates do not dominate each other: all
    copies of a front point are on the front. Rows holding a NaN are never on
    the front and never dominate; ``±inf`` are ordinary values. Kernels: one
    objective, a max; two, a sort and running max; three, a sort and a Fenwick
    staircase sweep; more, a sort-filter-skyline; all O(n log n) but the last
    (O(n · front size)), after a sentinel prefilter for large n.

    Parameters
    ----------
    values : numpy.ndarray
        Objective values, shape ``(n, k)``.
    senses : sequence of {"max", "min"}
        Whether larger or smaller is better, one per column.

    Returns
    -------
    numpy.ndarray
        Boolean mask, shape ``(n,)``, True on the front.

    Examples
    --------
    >>> nondominated([[1, 5], [2, 4], [2, 4], [1, 3], [np.nan, 9]], ["max", "max"])
    array([ True,  True,  True, False, False])
    >>> nondominated([[400, 100], [350, 80], [300, 90]], ["max", "min"])
    array([ True,  True, False])
    """
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[1] != len(senses) or values.shape[1] == 0:
        raise SpecError(
            f"values of shape {values.shape} do not match {len(senses)} senses",
            where="nondominated",
        )
    x = _maximised(values, _signs(senses))
    valid = ~np.isnan(x).any(axis=1)
    out = np.zeros(x.shape[0], np.bool_)
    if valid.all():
        return _exact_front(x)
    out[valid] = _exact_front(np.ascontiguousarray(x[valid]))
    return out
