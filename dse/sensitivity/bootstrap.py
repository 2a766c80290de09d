"""Bootstrap replicates as row counts, and their percentile intervals."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np

#: bootstrap weights are drawn in batches of at most this many numbers
_BOOT_ELEMENTS = 1 << 22


def _interval(replicates: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap replicates ``(n_boot, k)`` (NaN if none)."""
    k = replicates.shape[1]
    finite = np.where(np.isfinite(replicates), replicates, np.nan)
    if finite.shape[0] == 0 or np.isnan(finite).all():
        return np.full(k, np.nan), np.full(k, np.nan)
    alpha = (1.0 - float(conf)) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN
        low, high = np.nanquantile(finite, [alpha, 1.0 - alpha], axis=0)
    return low, high


def _boot_weights(rng: np.random.Generator, n: int, n_boot: int) -> Iterator[np.ndarray]:
    """Bootstrap replicates as row counts ``(batch, n)``: resampling n rows with replacement."""
    batch = max(1, min(n_boot, _BOOT_ELEMENTS // max(n, 1)))
    done = 0
    while done < n_boot:
        b = min(batch, n_boot - done)
        idx = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        yield np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        done += b
