"""A table of grid points: flat grid index → row, an open-addressing hash table in numba.

A grid point is named by its row-major flat index. :class:`PointTable` maps
flat indices to rows of the refinement's value array in order of first
sight, so a point shared by neighbouring cells is evaluated once. The split
of :mod:`dse.refine.cells` keeps one table per level, of that level's new
points only (numbered from the rows already taken, ``first_row``); the
probing kernels (:func:`_slot`, :func:`_next`, :func:`_probe`) are shared
with it, where each of two threads owns one half of the table (linear
probing never leaves a slot's half).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

__all__ = ["PointTable"]

_EMPTY = -1
#: most keys per slot before the table grows (linear probing: about 2 slots read per hit, 6 per miss)
MAX_LOAD = 0.7
_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: multiply, keep the high bits


@numba.njit(cache=True, inline="always")
def _slot(key, shift):  # pragma: no cover
    return np.int64((np.uint64(key) * np.uint64(_GOLDEN)) >> np.uint64(shift))


@numba.njit(cache=True, inline="always")
def _next(slot, half_mask):  # pragma: no cover
    """Linear probing that stays in the slot's half of the table (so each half can be filled by its own thread)."""
    return (slot & ~half_mask) | ((slot + 1) & half_mask)


@numba.njit(cache=True, inline="always")
def _key_of(entry, row_bits):  # pragma: no cover
    """The key of a slot's first word: the word itself (two columns) or its high bits (packed)."""
    if row_bits == 0:
        return entry
    return np.int64(np.uint64(entry) >> np.uint64(row_bits))


@numba.njit(cache=True, inline="always")
def _row_at(table, slot, row_bits):  # pragma: no cover
    """The row of a slot: column 1, or the low ``row_bits`` of the word (top one set: provisional row)."""
    if row_bits == 0:
        return table[slot, 1]
    field = table[slot, 0] & ((np.int64(1) << row_bits) - 1)
    flag = np.int64(1) << (row_bits - 1)
    return -((field ^ flag) + 2) if field & flag else field


@numba.njit(cache=True, inline="always")
def _put(table, slot, key, row, row_bits):  # pragma: no cover
    """Store ``key`` with ``row`` (a provisional row ``-(j + 2)`` packs as ``j`` with the top row bit set)."""
    if row_bits == 0:
        table[slot, 0] = key
        table[slot, 1] = row
    else:
        field = row if row >= 0 else (-row - 2) | (np.int64(1) << (row_bits - 1))
        table[slot, 0] = np.int64((np.uint64(key) << np.uint64(row_bits)) | np.uint64(field))


@numba.njit(cache=True, inline="always")
def _probe(table, slot, key, new_row, half_mask, row_bits):  # pragma: no cover
    """Row of ``key``, probed from ``slot``; a missing key is inserted with ``new_row``. Returns (row, inserted)."""
    while True:
        entry = table[slot, 0]
        if entry == _EMPTY:
            _put(table, slot, key, new_row, row_bits)
            return new_row, True
        if _key_of(entry, row_bits) == key:
            return _row_at(table, slot, row_bits), False
        slot = _next(slot, half_mask)


@numba.njit(cache=True, inline="always")
def _lookup(table, shift, key, count, added, n_added, row_bits):  # pragma: no cover
    """Row of ``key``; a missing key gets row ``count + n_added`` and is appended to ``added``."""
    row, inserted = _probe(table, _slot(key, shift), key, count + n_added, (table.shape[0] >> 1) - 1, row_bits)
    if inserted:
        added[n_added] = key
        n_added += 1
    return row, n_added


@numba.njit(cache=True)
def _find_or_add(table, shift, flats, count, row_bits):  # pragma: no cover
    out = np.empty(flats.size, np.int64)
    added = np.empty(flats.size, np.int64)
    n_added = 0
    for i in range(flats.size):
        out[i], n_added = _lookup(table, shift, flats[i], count, added, n_added, row_bits)
    return out, added[:n_added]


@numba.njit(cache=True, nogil=True)
def _set_rows(table, shift, keys, first, row_bits):  # pragma: no cover
    """Give ``keys`` (in the table) the rows ``first, first + 1, …``."""
    half_mask = (table.shape[0] >> 1) - 1
    for j in range(keys.size):
        slot = _slot(keys[j], shift)
        while _key_of(table[slot, 0], row_bits) != keys[j]:
            slot = _next(slot, half_mask)
        _put(table, slot, keys[j], first + j, row_bits)


@numba.njit(cache=True, nogil=True)
def _rehash(table, row_bits, new_table, new_row_bits, shift, half):  # pragma: no cover
    """Empty ``half`` (0 or 1) of ``new_table``, then copy into it the keys of ``table`` whose slot lies there.

    The two halves touch disjoint slots, so both calls can run at once.
    """
    half_size = new_table.shape[0] >> 1
    half_mask = half_size - 1
    new_table[half * half_size : (half + 1) * half_size] = _EMPTY
    for i in range(table.shape[0]):
        entry = table[i, 0]
        if entry == _EMPTY:
            continue
        key = _key_of(entry, row_bits)
        slot = _slot(key, shift)
        if (slot >= half_size) != (half == 1):
            continue
        while new_table[slot, 0] != _EMPTY:
            slot = _next(slot, half_mask)
        _put(new_table, slot, key, _row_at(table, i, row_bits), new_row_bits)


class PointTable:
    """Flat grid index → row, for every point seen so far (rows ``first_row, first_row + 1, …`` in order of first sight).

    Key and row share a table row, so a lookup touches one cache line. Given
    ``keys_below`` (the grid's size), key and row are packed in one 64-bit
    word, the key in the high bits (8 bytes a slot instead of 16), as long as
    the rows fit in the bits left (:attr:`max_rows`); the table falls back to
    a key and a row column when it grows past that. ``capacity`` is the
    number of slots to start with (rounded up to a power of two); the table
    grows by rehashing past :data:`MAX_LOAD` keys a slot.

    Examples
    --------
    >>> t = PointTable()
    >>> rows, new = t.find_or_add(np.array([7, 3, 7]))
    >>> rows.tolist(), new.tolist(), len(t)
    ([0, 1, 0], [7, 3], 2)
    >>> rows, new = t.find_or_add(np.array([3, 11]))
    >>> rows.tolist(), new.tolist(), len(t)
    ([1, 2], [11], 3)
    >>> packed = PointTable(keys_below=10**10)
    >>> packed.row_bits, packed.table.shape[1], packed.max_rows
    (30, 1, 536870910)
    >>> later = PointTable(first_row=100)
    >>> later.find_or_add(np.array([5, 9, 5]))[0].tolist(), later.next_row
    ([100, 101, 100], 102)
    """

    def __init__(self, capacity: int = 1 << 12, keys_below: int | None = None, first_row: int = 0):
        self.bits = max(4, int(capacity - 1).bit_length())
        # packed: the key takes the bits of keys_below - 1, the row the rest, less one bit that marks a
        # provisional row of the split; a key's field is never all ones, so no entry is the empty word -1
        key_bits = None if keys_below is None else max(1, int(keys_below - 1).bit_length())
        self.packed_row_bits = 0 if key_bits is None or key_bits > 64 - 8 else 64 - key_bits
        self.row_bits = self.packed_row_bits
        self.table = np.full((1 << self.bits, 1 if self.row_bits else 2), _EMPTY, np.int64)
        self.first_row = first_row
        self.count = 0  # keys in the table

    def __len__(self) -> int:
        return self.count

    @property
    def next_row(self) -> int:
        """The row the next new key gets."""
        return self.first_row + self.count

    @property
    def shift(self) -> int:
        """The right shift that turns a 64-bit hash into a slot of the table (64 minus its bits)."""
        return 64 - self.bits

    @property
    def max_rows(self) -> int:
        """Rows below this number fit the table's layout (any number in two columns)."""
        return (1 << (self.row_bits - 1)) - 2 if self.row_bits else (1 << 62)

    def reserve(self, extra: int) -> None:
        """Room for ``extra`` more keys at a load factor of at most :data:`MAX_LOAD` (two columns if rows need them)."""
        bits = self.bits
        while (1 << bits) * MAX_LOAD < self.count + extra:
            bits += 1
        row_bits = self.row_bits if self.next_row + extra <= self.max_rows else 0
        if bits != self.bits or row_bits != self.row_bits:
            table = np.empty((1 << bits, 1 if row_bits else 2), np.int64)  # each thread empties its half
            with ThreadPoolExecutor(2) as pool:
                futures = [
                    pool.submit(_rehash, self.table, self.row_bits, table, row_bits, 64 - bits, half) for half in (0, 1)
                ]
                for f in futures:
                    f.result()
            self.table, self.bits, self.row_bits = table, bits, row_bits

    def find_or_add(self, flats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``flats`` and the flat indices that were not in the table yet (now added)."""
        flats = np.ascontiguousarray(flats, np.int64).reshape(-1)
        self.reserve(flats.size)
        rows, added = _find_or_add(self.table, self.shift, flats, self.next_row, self.row_bits)
        self.count += added.size
        return rows, added
