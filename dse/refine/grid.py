"""One scenario's grid during refinement: its live cells, its evaluated points, and the kernel that evaluates them.

Grid points are evaluated by flat index with the sweep's fused kernel
(:class:`_PointEvaluator`), on the Dask cluster when a batch is large
(:data:`DASK_MIN_BATCH`), else on :data:`THREADS` threads in this process.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numba
import numpy as np

from dse.refine.cells import BLOCK_CELLS, Split, corner_flats, join_blocks, lattice_lookups, live_cells
from dse.refine.memory import growable
from dse.refine.points import PointTable
from dse.spec import SweepSpec
from dse.vocabulary import INPUTS

__all__ = ["DASK_MIN_BATCH", "TASK_SIZE", "THREADS", "THREAD_MIN_BATCH"]

#: batches of at least this many designs are evaluated on the Dask cluster, smaller ones in this process
DASK_MIN_BATCH = 200_000
#: designs per Dask task
TASK_SIZE = 500_000
#: threads that evaluate a batch in this process (the kernel releases the GIL), for batches of at least
THREADS = 2
THREAD_MIN_BATCH = 20_000
#: points per call of the kernel when a batch is evaluated into the value array
EVAL_CHUNK = 1 << 16
#: evaluated points of a scenario that room is held for from the start (corner rows are int32)
MAX_POINTS = 1 << 31


@numba.njit(cache=True, nogil=True)
def _gather_inputs(flats, shape, column_axis, column_values, column_start, starts, out):  # pragma: no cover
    """The kernel's inputs of the grid points ``flats`` in the sampled layout, in one pass.

    Column ``j`` takes ``column_values[column_start[j] + index along column_axis[j]]`` for each point at
    ``out[starts[j]:]``, or its one value when ``column_axis[j] < 0`` (fixed).
    """
    n = flats.size
    index = np.empty(shape.size, np.int64)
    inverse = 1.0 / shape  # a multiply and a correction instead of an integer division (flats < 2^53)
    for j in range(column_axis.size):
        if column_axis[j] < 0:
            out[starts[j]] = column_values[column_start[j]]
    for i in range(n):
        f = flats[i]
        for a in range(shape.size - 1, -1, -1):  # row-major: the last axis varies fastest
            m = shape[a]
            q = np.int64(f * inverse[a])
            r = f - q * m
            if r < 0:
                q -= 1
                r += m
            elif r >= m:
                q += 1
                r -= m
            index[a] = r
            f = q
        for j in range(column_axis.size):
            a = column_axis[j]
            if a >= 0:
                out[starts[j] + i] = column_values[column_start[j] + index[a]]


class _PointEvaluator:
    """Evaluates grid points of one scenario, given by flat index, with the fused kernel (sampled layout)."""

    def __init__(self, scenario, chain, outputs: list[str]):
        from dse.models.kernel import INPUT_ORDER

        self.shape = np.array([len(a.values) for a in scenario.axes], np.int64)
        self.chain, self.outputs = chain, list(outputs)
        axes = {a.name: j for j, a in enumerate(scenario.axes)}
        # per kernel input: the grid axis it varies along (-1: fixed) and its values as float64 (codes if categorical)
        columns = []
        for name in INPUT_ORDER:
            values = scenario.axes[axes[name]].values if name in axes else [scenario.fixed[name]]
            if INPUTS[name].categorical:
                values = chain.codes(name, np.asarray([str(v) for v in values], dtype=object))
            columns.append((axes.get(name, -1), np.asarray(values, dtype=np.float64)))
        self.column_axis = np.array([a for a, _ in columns], np.int64)
        self.column_values = np.concatenate([v for _, v in columns])
        self.column_start = np.cumsum([0] + [v.size for _, v in columns[:-1]]).astype(np.int64)

    def __call__(self, flats: np.ndarray) -> np.ndarray:
        flats = np.ascontiguousarray(flats, np.int64)
        sizes = np.where(self.column_axis >= 0, flats.size, 1)
        starts = np.concatenate([[0], np.cumsum(sizes[:-1])]).astype(np.int64)
        values = np.empty(int(sizes.sum()), np.float64)
        _gather_inputs(flats, self.shape, self.column_axis, self.column_values, self.column_start, starts, values)
        axis_of = [0 if a >= 0 else -1 for a in self.column_axis.tolist()]
        return self.chain.evaluate_block((flats.size,), axis_of, starts.tolist(), values, self.outputs)


def _evaluate(
    evaluator: _PointEvaluator, flats: np.ndarray, threads: int = THREADS, out: np.ndarray | None = None
) -> np.ndarray:
    """``(len(outputs), n)`` values of the points ``flats``, in ``threads`` pieces (the kernel releases the GIL).

    With ``out``, an ``(n, len(outputs))`` float32 array, the values are written
    there instead (transposed) in pieces of :data:`EVAL_CHUNK` points, so the
    temporaries of a batch (indices, inputs, outputs) take a few MB however
    large it is, and ``out`` is returned.
    """
    small = threads < 2 or flats.size < THREAD_MIN_BATCH
    from concurrent.futures import ThreadPoolExecutor

    if out is None:
        if small:
            return evaluator(flats)
        pieces = np.array_split(flats, threads)
        with ThreadPoolExecutor(threads) as pool:
            return np.concatenate(list(pool.map(evaluator, pieces)), axis=1)
    starts = range(0, flats.size, EVAL_CHUNK)

    def work(t: int) -> None:
        for s in starts[t :: 1 if small else threads]:
            out[s : s + EVAL_CHUNK] = evaluator(flats[s : s + EVAL_CHUNK]).T

    if small:
        work(0)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, range(threads)))
    return out


def _task(args) -> np.ndarray:
    """Dask task: evaluate grid points of one scenario on a worker (spec and chain cached per process)."""
    from dse.sweep import Block, _prepare

    spec_data, source, base_dir, chunk_size, spec_hash, scenario, outputs, flats = args
    spec, _, chains = _prepare(Block(spec_data, source, base_dir, chunk_size, spec_hash, scenario, "", -1, "refine"))
    sc = next(s for s in spec.scenarios if s.name == scenario)
    return _PointEvaluator(sc, chains[scenario], outputs)(flats)


class _Scenario:
    """One scenario's grid during refinement: live cells, the table of evaluated points and their values."""

    def __init__(self, spec: SweepSpec, scenario, outputs: list[str], client, coarse: int):
        from dse.modelchain import ModelChain

        self.name = scenario.name
        self.shape = tuple(len(a.values) for a in scenario.axes)
        self.strides = np.array([math.prod(self.shape[a + 1 :]) for a in range(len(self.shape))], np.int64)
        self.axes = np.array(
            [a for a, ax in enumerate(scenario.axes) if not ax.categorical and len(ax.values) > 1], np.int64
        )
        self.evaluator = _PointEvaluator(
            scenario, ModelChain.from_design(scenario, uncertainty=spec.uncertainty), outputs
        )
        self.spec, self.outputs, self.client = spec, outputs, client
        self.keys_below = math.prod(self.shape)
        self.n = 0  # evaluated points: rows 0 … n-1
        self.batches: list[np.ndarray] = []  # the flat indices of the points each level evaluated
        self.batch_levels: list[int] = []
        self._room(min(self.keys_below, MAX_POINTS))
        lo, hi = self._first_cells(coarse)
        flats = corner_flats(lo, hi, self.strides, self.axes)
        rows, self.pending = PointTable(keys_below=self.keys_below).find_or_add(flats)  # pending: not evaluated yet
        self.new_share = 0.5  # of the last split's look-ups, the share that were new points: sizes the next table
        # the live cells in blocks of at most BLOCK_CELLS: (lo, hi, rows of the corners)
        self.blocks = [(lo, hi, rows.reshape(flats.shape).astype(np.int32))]

    def _room(self, rows: int, least: int = 0) -> None:
        """A value array with room for ``rows`` points as address space (no copies as it fills).

        Where address space cannot be held, an ordinary array of ``least``
        rows that :meth:`evaluate_pending` grows by doubling.
        """
        k = len(self.outputs)
        values = growable(rows, np.float32, k)
        self.values = np.empty((least, k), np.float32) if values is None else values  # a cache line per corner

    @property
    def flats(self) -> np.ndarray:
        """Flat grid index of every evaluated point, in row order."""
        return np.concatenate([np.empty(0, np.int64), *self.batches])

    @property
    def level(self) -> np.ndarray:
        """Refinement level of every evaluated point, in row order."""
        return np.repeat(np.asarray(self.batch_levels, np.int16), [b.size for b in self.batches])

    def _first_cells(self, coarse: int) -> tuple[np.ndarray, np.ndarray]:
        """Cells of level 0: every categorical combination × ``coarse`` index ranges per numeric axis."""
        ranges = []
        for a, n in enumerate(self.shape):
            if a in self.axes:
                cuts = np.unique(np.linspace(0, n - 1, min(coarse, n - 1) + 1).round().astype(np.int64))
                ranges.append(list(zip(cuts[:-1], cuts[1:], strict=True)))
            else:
                ranges.append([(i, i) for i in range(n)])
        cells = np.array(list(itertools.product(*ranges)), dtype=self.cell_dtype).reshape(-1, len(self.shape), 2)
        return np.ascontiguousarray(cells[:, :, 0]), np.ascontiguousarray(cells[:, :, 1])

    @property
    def cell_dtype(self) -> np.dtype:
        """Grid indices of the cells' bounds: int16 when every axis has at most 32,768 points, else int32.

        16 bits save a fifth of a cell's record (bounds and corner rows; 88 bytes instead of 112 with 6
        axes and 16 corners); signed, so the kernels' arithmetic on them is in int64, as with int32.
        """
        return np.dtype(np.int16 if max(self.shape) <= 1 << 15 else np.int32)

    def evaluate_pending(self, level: int) -> np.ndarray:
        """Evaluate the points added to the table since the last call; their values, ``(n, outputs)``."""
        flats, self.pending = self.pending, np.empty(0, np.int64)
        if not flats.size:
            return np.empty((0, len(self.outputs)), np.float32)
        end = self.n + flats.size
        if end > self.values.shape[0]:  # grow by doubling (without address space held for every point)
            size = max(end, 2 * self.values.shape[0], 1024)
            grown = np.empty((size, len(self.outputs)), np.float32)
            grown[: self.n] = self.values[: self.n]
            self.values = grown
        values = self.values[self.n : end]
        if self.client is None or flats.size < DASK_MIN_BATCH:
            _evaluate(self.evaluator, flats, out=values)
        else:
            spec = self.spec
            args = [
                (
                    spec.data,
                    spec.source,
                    spec.base_dir,
                    spec.chunk_size,
                    spec.hash(),
                    self.name,
                    self.outputs,
                    flats[i : i + TASK_SIZE],
                )
                for i in range(0, flats.size, TASK_SIZE)
            ]
            values[:] = np.concatenate(self.client.gather(self.client.map(_task, args, pure=False)), axis=1).T
        self.batches.append(flats)
        self.batch_levels.append(level)
        self.n = end
        return values

    @property
    def cells(self) -> int:
        """Live cells."""
        return sum(b[0].shape[0] for b in self.blocks)

    def state(self) -> dict[str, np.ndarray]:
        """The arrays that :meth:`restore` needs to continue this scenario at the next level."""
        lo, hi, corners = join_blocks(self.blocks, self.cell_dtype, len(self.shape), 1 << self.axes.size)
        return {
            "flats": self.flats,
            "values": self.values[: self.n],
            "level": self.level,
            "lo": lo.astype(np.int32),  # the checkpoint's layout, whatever the cells' dtype
            "hi": hi.astype(np.int32),
            "corners": corners,
            "pending": self.pending,
        }

    def restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Continue from :meth:`state` (checked by :func:`read_checkpoint`)."""
        self.n = arrays["flats"].size
        self._room(max(self.n, min(self.keys_below, MAX_POINTS)), least=self.n)
        self.values[: self.n] = arrays["values"]
        level = arrays["level"]
        cuts = [0, *(np.flatnonzero(np.diff(level)) + 1).tolist(), self.n]  # one batch per run of a level
        self.batches = [arrays["flats"][a:b].copy() for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]
        self.batch_levels = [int(level[a]) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]
        lo, hi, corners = arrays["lo"], arrays["hi"], arrays["corners"]
        self.blocks = [
            (
                lo[i : i + BLOCK_CELLS].astype(self.cell_dtype),
                hi[i : i + BLOCK_CELLS].astype(self.cell_dtype),
                corners[i : i + BLOCK_CELLS].copy(),
            )
            for i in range(0, len(lo), BLOCK_CELLS)
        ]
        self.pending = arrays["pending"].copy()
        # rows are in order of first sight: the evaluated points, then the pending ones
        known = np.concatenate([self.flats, self.pending])
        _, added = PointTable(capacity=2 * known.size, keys_below=self.keys_below).find_or_add(known)
        if added.size != known.size:
            raise ValueError("a point is listed twice")

    def refine(self, signs: np.ndarray, front: np.ndarray, margin: float) -> None:
        """Drop the cells that cannot hold a new front design, split the rest (their new corners pend).

        Block by block, each parent block dropped once split, so a level's
        cells and their children are not held whole at once. The split's
        table is sized from its look-ups and the last split's share of them
        that were new.
        """
        keeps = [live_cells(lo, hi, corners, self.values, signs, front, margin) for lo, hi, corners in self.blocks]
        lookups = sum(lattice_lookups(b[0], b[1], keep, self.axes) for b, keep in zip(self.blocks, keeps, strict=True))
        expected = math.ceil(self.new_share * lookups)  # the share falls level by level: an upper estimate
        split = Split(
            self.axes, self.strides, self.n + self.pending.size, keys_below=self.keys_below, expected=expected
        )
        children = []
        blocks, self.blocks = self.blocks, []
        while blocks:
            lo, hi, corners = blocks.pop(0)
            children += split(lo, hi, corners, keeps.pop(0))
            del lo, hi, corners
        self.blocks, self.pending = children, split.added
        if lookups:
            self.new_share = self.pending.size / lookups
