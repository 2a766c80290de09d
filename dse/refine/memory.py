"""Cheap page faults for a refinement: small pages for numpy's arrays, and freed memory kept for reuse.

A refinement allocates and frees arrays of gigabytes every level (the cells'
children, a grown point table, the kernel's batches), so it touches fresh
pages all the time, and the system zeroes each on first touch. Two settings
made that cost dominate on the benchmark machine of ``docs/pareto.md`` (a
virtual machine, transparent huge pages on ``madvise`` with direct
compaction):

* numpy asks for huge pages (``madvise(MADV_HUGEPAGE)``) on every array of
  4 MB or more; there a fresh 3 GB array took 29-38 s to fill against
  1.5-4.6 s without (most of it system time: compaction, zeroing 2 MB pages);
* glibc's ``malloc`` serves each large array with a fresh ``mmap`` and
  gives it back with ``munmap``, so every level faults its pages in again.

:func:`refinement_memory` turns both off while a refinement runs (numpy's
``_set_madvise_hugepage``; ``mallopt`` without ``mmap`` and without trimming
the heap, glibc only), and restores them afterwards, trimming the heap once.
:data:`HUGE_PAGES` and :data:`KEEP_FREED` are read on entry (set them to
compare the settings).

:func:`growable` gives the array that only grows during a refinement (the
evaluated points' values) room for every point the grid could need, as
address space only: pages are touched when written, so the array never
moves and is not copied as the points accumulate.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import platform
import threading
from collections.abc import Iterator

import numpy as np

__all__ = ["refinement_memory", "growable", "HUGE_PAGES", "KEEP_FREED"]

#: let numpy madvise huge pages for the arrays of a refinement
HUGE_PAGES = False
#: keep the memory a refinement frees in the heap, for its next allocations (glibc)
KEEP_FREED = True

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameters (malloc.h)
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536  # glibc's defaults
# mallopt takes an int and glibc stores the threshold as a size_t: -1 becomes SIZE_MAX, never trim
_KEEP_TRIM_THRESHOLD = -1
_MAP_NORESERVE = {"x86_64": 0x4000, "aarch64": 0x4000}  # Linux's value on these (asm-generic/mman-common.h)
_lock = threading.Lock()
_depth = 0
_restore: list = []


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:  # pragma: no cover
        return None


def _set_madvise_hugepage(enabled: bool) -> bool | None:
    """Switch numpy's huge pages (a private function of numpy ≥ 1.20): returns the previous setting, None without it."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # pragma: no cover
        return None
    return bool(_set_madvise_hugepage(enabled))


@contextlib.contextmanager
def refinement_memory() -> Iterator[None]:
    """While in the block: no huge pages for new numpy arrays, freed memory kept by ``malloc`` (nests).

    >>> import numpy as np
    >>> with refinement_memory():
    ...     np.zeros(1 << 20).sum()
    np.float64(0.0)
    """
    global _depth
    with _lock:
        if _depth == 0:
            _restore.clear()
            previous = _set_madvise_hugepage(HUGE_PAGES)
            if previous is not None:
                _restore.append(lambda: _set_madvise_hugepage(previous))
            libc = _glibc() if KEEP_FREED else None
            if libc is not None:
                libc.mallopt(_M_MMAP_MAX, 0)
                libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_TRIM_THRESHOLD)

                def release() -> None:
                    libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                    libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
                    libc.malloc_trim(0)

                _restore.append(release)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for undo in _restore:
                    undo()
                _restore.clear()


def growable(rows: int, dtype, *row_shape: int) -> np.ndarray | None:
    """An empty ``(rows, *row_shape)`` array held as address space only, or None where that is not possible.

    The mapping is private and anonymous with ``MAP_NORESERVE`` (Linux): the
    system neither counts nor touches its pages until they are written, so a
    refinement can ask for room for every grid point and pay only for the
    points it evaluates. The caller falls back to ordinary arrays on None.

    >>> a = growable(10**9, np.float32, 4)  # 16 GB of address space
    >>> a is None or (a.shape, a.dtype.name, a.flags.writeable)
    ((1000000000, 4), 'float32', True)
    >>> a is None or float(a[123_456_789].sum())
    0.0
    """
    flag = getattr(mmap, "MAP_NORESERVE", _MAP_NORESERVE.get(platform.machine()))  # in mmap from Python 3.13
    nbytes = int(rows) * int(np.prod(row_shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if flag is None or platform.system() != "Linux" or nbytes <= 0:
        return None
    try:
        buffer = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | flag)
    except (OSError, OverflowError, ValueError):  # pragma: no cover - address space refused
        return None
    return np.frombuffer(buffer, dtype).reshape(int(rows), *row_shape)
