"""The table of evaluated grid points: flat grid index → row, an open-addressing hash table in numba.

A grid point is named by its row-major flat index. :class:`PointTable` maps
the flat indices evaluated so far to rows of the refinement's value array,
so a point shared by neighbouring cells is evaluated once. The probing
kernels (:func:`_slot`, :func:`_next`, :func:`_probe`) are shared with the
split of :mod:`dse.refine.cells`, where each of two threads owns one half of
the table (linear probing never leaves a slot's half).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

__all__ = ["PointTable"]

_EMPTY = -1
_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: multiply, keep the high bits


@numba.njit(cache=True, inline="always")
def _slot(key, shift):  # pragma: no cover
    return np.int64((np.uint64(key) * np.uint64(_GOLDEN)) >> np.uint64(shift))


@numba.njit(cache=True, inline="always")
def _next(slot, half_mask):  # pragma: no cover
    """Linear probing that stays in the slot's half of the table (so each half can be filled by its own thread)."""
    return (slot & ~half_mask) | ((slot + 1) & half_mask)


@numba.njit(cache=True, inline="always")
def _probe(table, slot, key, new_row, half_mask):  # pragma: no cover
    """Row of ``key``, probed from ``slot``; a missing key is inserted with ``new_row``. Returns (row, inserted)."""
    while True:
        k = table[slot, 0]
        if k == key:
            return table[slot, 1], False
        if k == _EMPTY:
            table[slot, 0] = key
            table[slot, 1] = new_row
            return new_row, True
        slot = _next(slot, half_mask)


@numba.njit(cache=True, inline="always")
def _lookup(table, shift, key, count, added, n_added):  # pragma: no cover
    """Row of ``key``; a missing key gets row ``count + n_added`` and is appended to ``added``."""
    row, inserted = _probe(table, _slot(key, shift), key, count + n_added, (table.shape[0] >> 1) - 1)
    if inserted:
        added[n_added] = key
        n_added += 1
    return row, n_added


@numba.njit(cache=True)
def _find_or_add(table, shift, flats, count):  # pragma: no cover
    out = np.empty(flats.size, np.int64)
    added = np.empty(flats.size, np.int64)
    n_added = 0
    for i in range(flats.size):
        out[i], n_added = _lookup(table, shift, flats[i], count, added, n_added)
    return out, added[:n_added]


@numba.njit(cache=True, nogil=True)
def _set_rows(table, shift, keys, first):  # pragma: no cover
    """Give ``keys`` (in the table) the rows ``first, first + 1, …``."""
    half_mask = (table.shape[0] >> 1) - 1
    for j in range(keys.size):
        slot = _slot(keys[j], shift)
        while table[slot, 0] != keys[j]:
            slot = _next(slot, half_mask)
        table[slot, 1] = first + j


@numba.njit(cache=True, nogil=True)
def _rehash(table, new_table, shift, half):  # pragma: no cover
    """Empty ``half`` (0 or 1) of ``new_table``, then copy into it the keys of ``table`` whose slot lies there.

    The two halves touch disjoint slots, so both calls can run at once.
    """
    half_size = new_table.shape[0] >> 1
    half_mask = half_size - 1
    new_table[half * half_size : (half + 1) * half_size] = _EMPTY
    for i in range(table.shape[0]):
        key = table[i, 0]
        if key == _EMPTY:
            continue
        slot = _slot(key, shift)
        if (slot >= half_size) != (half == 1):
            continue
        while new_table[slot, 0] != _EMPTY:
            slot = _next(slot, half_mask)
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
        """The right shift that turns a 64-bit hash into a slot of the table (64 minus its bits)."""
        return 64 - self.bits

    def reserve(self, extra: int) -> None:
        """Room for ``extra`` more keys at a load factor of at most 1/2."""
        bits = self.bits
        while (1 << bits) < 2 * (self.count + extra):
            bits += 1
        if bits != self.bits:
            table = np.empty((1 << bits, 2), np.int64)  # each thread empties its half
            with ThreadPoolExecutor(2) as pool:
                for f in [pool.submit(_rehash, self.table, table, 64 - bits, half) for half in (0, 1)]:
                    f.result()
            self.table, self.bits = table, bits

    def find_or_add(self, flats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``flats`` and the flat indices that were not in the table yet (now added)."""
        flats = np.ascontiguousarray(flats, np.int64).reshape(-1)
        self.reserve(flats.size)
        rows, added = _find_or_add(self.table, self.shift, flats, self.count)
        self.count += added.size
        return rows, added
