"""Design spaces: a scenario expanded into chunked blocks of designs.

A grid scenario has one dimension per swept input, in the order the spec
lists them; a sampled scenario has one ``design`` dimension. Blocks are the
unit of work (a Dask task evaluates and writes one block) and match the Zarr
chunks one to one. Every design's inputs depend only on its global index, so
results are identical whatever the chunk size or the number of workers.

>>> from dse.spec import parse_sweep
>>> spec = parse_sweep({"inputs": {"cathode": ["NMC811", "LFP"],
...                                "cathode_loading": {"linspace": [2, 6, 5]}}}, chunk_size=4)
>>> space = DesignSpace(spec.scenarios[0], spec.chunk_size)
>>> space.dims, space.shape, space.chunks, space.n_blocks
(('cathode', 'cathode_loading'), (2, 5), (1, 4), 4)
"""

from __future__ import annotations

import math
import warnings
from functools import cached_property

import numpy as np

from dse.spec import Scenario
from dse.vocabulary import INPUTS

__all__ = ["DesignSpace", "unit_samples", "grid_chunks"]


def grid_chunks(shape: tuple[int, ...], target: int) -> tuple[int, ...]:
    """Chunk sizes per dimension: trailing dimensions whole, ``prod ≈ target``.

    >>> grid_chunks((3, 10, 100), 250)
    (1, 2, 100)
    >>> grid_chunks((3, 10, 100), 10**6)
    (3, 10, 100)
    """
    chunks = [1] * len(shape)
    size = 1
    for i in range(len(shape) - 1, -1, -1):
        if size * shape[i] <= target:
            chunks[i] = shape[i]
            size *= shape[i]
        else:
            chunks[i] = max(1, target // size)
            break
    return tuple(chunks)


# --------------------------------------------------------------------------- samplers
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser: a bijective mix of 64-bit integers."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _uniform(index: np.ndarray, column: int, seed: int, stream: int = 0) -> np.ndarray:
    """Counter-based uniform [0, 1) numbers: a hash of (seed, stream, column, index)."""
    key = np.uint64((seed * 1_000_003 + stream * 7919 + column * 104_729) & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        bits = _splitmix64(_splitmix64(index.astype(np.uint64) ^ key) + key)
    return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _permute(index: np.ndarray, n: int, key: int) -> np.ndarray:
    """A keyed bijection of ``range(n)`` (balanced Feistel network, cycle walking)."""
    bits = max(2, math.ceil(math.log2(max(n, 2))))
    bits += bits % 2
    half = bits // 2
    mask = np.uint64((1 << half) - 1)
    x = index.astype(np.uint64)
    todo = np.ones(x.shape, dtype=bool)
    while todo.any():
        y = x[todo]
        left, right = y >> np.uint64(half), y & mask
        for r in range(4):
            f = _splitmix64(right ^ np.uint64(key * 31 + r)) & mask
            left, right = right, left ^ f
        y = (left << np.uint64(half)) | right
        x[todo] = y
        todo = x >= n
    return x.astype(np.int64)


def unit_samples(method: str, n: int, d: int, seed: int, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of an ``(n, d)`` sample of the unit hypercube.

    Any row range gives the same numbers as the full sample, so blocks can be
    drawn independently on workers.

    Parameters
    ----------
    method : {"sobol", "latin_hypercube", "random"}
        Scrambled Sobol' sequence (scipy), a Latin hypercube built from keyed
        permutations, or counter-based uniform random numbers.

    Examples
    --------
    >>> full = unit_samples("latin_hypercube", 8, 2, 1, 0, 8)
    >>> np.array_equal(full[3:6], unit_samples("latin_hypercube", 8, 2, 1, 3, 6))
    True
    >>> sorted((full[:, 0] * 8).astype(int).tolist())
    [0, 1, 2, 3, 4, 5, 6, 7]
    """
    start, stop = int(start), int(stop)
    index = np.arange(start, stop, dtype=np.int64)
    if method == "sobol":
        from scipy.stats import qmc

        engine = qmc.Sobol(d, scramble=True, seed=seed)
        if start:
            engine.fast_forward(start)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # balance warning for n not a power of two
            return engine.random(stop - start)
    if method == "random":
        return np.stack([_uniform(index, j, seed) for j in range(d)], axis=1) if d else np.empty((len(index), 0))
    if method == "latin_hypercube":
        cols = []
        for j in range(d):
            stratum = _permute(index, n, key=seed * 1013 + j)
            cols.append((stratum + _uniform(index, j, seed, stream=1)) / n)
        return np.stack(cols, axis=1) if cols else np.empty((len(index), 0))
    raise ValueError(f"unknown sampler {method!r}")


def saltelli_samples(n: int, d: int, seed: int, start: int, stop: int) -> np.ndarray:
    """Rows of the Saltelli design ``[A; B; AB_1; …; AB_d]`` (n (d + 2) rows).

    ``A`` and ``B`` are the two halves of a scrambled Sobol' sample of
    dimension ``2d``; ``AB_j`` is ``A`` with column ``j`` taken from ``B``.
    """
    out = np.empty((stop - start, d))
    i = start
    while i < stop:
        m, r = divmod(i, n)
        end = min(stop, (m + 1) * n)
        rows = unit_samples("sobol", n, 2 * d, seed, r, r + end - i)
        a, b = rows[:, :d], rows[:, d:]
        block = a if m == 0 else b if m == 1 else a.copy()
        if m >= 2:
            block[:, m - 2] = b[:, m - 2]
        out[i - start : end - start] = block
        i = end
    return out


# --------------------------------------------------------------------------- design space
class DesignSpace:
    """A scenario laid out as dimensions, coordinates and blocks.

    Parameters
    ----------
    scenario : Scenario
    chunk_size : int
        Target number of designs per block (and Zarr chunk).
    """

    def __init__(self, scenario: Scenario, chunk_size: int):
        self.scenario = scenario
        self.kind = scenario.kind
        if self.kind == "grid":
            self.dims = tuple(a.name for a in scenario.axes)
            self.shape = tuple(len(a.values) for a in scenario.axes)
            self.chunks = grid_chunks(self.shape, chunk_size)
        else:
            self.dims = ("design",)
            self.shape = (scenario.n_designs,)
            self.chunks = (min(chunk_size, scenario.n_designs),)
        self.block_grid = tuple(math.ceil(s / c) for s, c in zip(self.shape, self.chunks, strict=True))

    def __repr__(self) -> str:
        dims = ", ".join(f"{d}: {s}" for d, s in zip(self.dims, self.shape, strict=True))
        return (
            f"<DesignSpace {self.scenario.name!r} ({self.kind}; {dims}) {self.n_blocks} blocks of ≤{self.block_size}>"
        )

    @property
    def n_designs(self) -> int:
        """Number of designs in the space (the product of its shape)."""
        return math.prod(self.shape)

    @property
    def n_blocks(self) -> int:
        """Number of blocks the space is evaluated and stored in."""
        return math.prod(self.block_grid)

    @property
    def block_size(self) -> int:
        """Designs per full block (the product of the chunk sizes)."""
        return math.prod(self.chunks)

    def block_slices(self, block: int) -> tuple[slice, ...]:
        """Region of block number ``block`` (C order over the block grid)."""
        idx = np.unravel_index(block, self.block_grid) if self.block_grid else ()
        return tuple(
            slice(int(i) * c, min((int(i) + 1) * c, s)) for i, c, s in zip(idx, self.chunks, self.shape, strict=True)
        )

    @cached_property
    def coords(self) -> dict[str, np.ndarray]:
        """Dimension coordinates (grid) — catalogue ids as object arrays."""
        if self.kind != "grid":
            return {"design": np.arange(self.n_designs, dtype=np.int64)}
        out = {}
        for a in self.scenario.axes:
            out[a.name] = np.array(a.values, dtype=object) if a.categorical else np.asarray(a.values, float)
        return out

    # -- inputs of a block ---------------------------------------------------
    def sampled_values(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Sampled inputs of designs ``start:stop`` (floats, or ids for choices)."""
        s = self.scenario
        d = len(s.sampled)
        if s.sampler.method == "saltelli":
            u = saltelli_samples(s.sampler.n, d, s.sampler.seed, start, stop)
        else:
            u = unit_samples(s.sampler.method, s.sampler.n, d, s.sampler.seed, start, stop)
        out = {}
        for j, x in enumerate(s.sampled):
            col = u[:, j]
            if x.choices is not None:
                k = len(x.choices)
                idx = np.minimum((col * k).astype(np.int64), k - 1)
                out[x.name] = np.asarray(x.choices, dtype=object)[idx]
            elif x.log:
                out[x.name] = np.exp(np.log(x.low) + col * (np.log(x.high) - np.log(x.low)))
            else:
                out[x.name] = x.low + col * (x.high - x.low)
        return out

    def kernel_inputs(self, block: int, chain) -> tuple[tuple[int, ...], list[int], list[int], np.ndarray, dict]:
        """Describe a block for :meth:`dse.modelchain.ModelChain.evaluate_block`.

        Returns ``(shape, axis_of, starts, values, sampled)``; ``sampled`` holds
        the drawn inputs of a sampled block (to store alongside the outputs).
        """
        from dse.models.kernel import INPUT_ORDER

        region = self.block_slices(block)
        shape = tuple(r.stop - r.start for r in region)
        varying: dict[str, tuple[int, np.ndarray]] = {}
        sampled: dict[str, np.ndarray] = {}
        if self.kind == "grid":
            for axis, (a, r) in enumerate(zip(self.scenario.axes, region, strict=True)):
                varying[a.name] = (axis, np.asarray(a.values[r.start : r.stop], dtype=object))
        else:
            sampled = self.sampled_values(region[0].start, region[0].stop)
            varying = {k: (0, v) for k, v in sampled.items()}
        axis_of, starts, parts, offset = [], [], [], 0
        for name in INPUT_ORDER:
            if name in varying:
                axis, vals = varying[name]
            else:
                axis, vals = -1, np.array([self.scenario.fixed[name]], dtype=object)
            if INPUTS[name].categorical:
                vals = chain.codes(name, vals.astype(str))
            vals = np.asarray(vals, dtype=np.float64)
            axis_of.append(axis)
            starts.append(offset)
            parts.append(vals)
            offset += len(vals)
        return shape, axis_of, starts, np.concatenate(parts), sampled

    def to_dataset(self):
        """Inputs as a lazy, chunked xarray Dataset (for notebooks and tests).

        Grid scenarios: coordinates only (plus fixed inputs as scalar
        coordinates). Sampled scenarios: one dask-backed variable per sampled
        input along ``design``, computed block by block on demand.
        """
        import dask
        import dask.array as da
        import xarray as xr

        fixed = {
            k: v
            for k, v in self.scenario.fixed.items()
            if k not in self.dims and k not in [x.name for x in self.scenario.sampled]
        }
        if self.kind == "grid":
            return xr.Dataset(coords={**self.coords, **fixed})
        variables = {}
        n_blocks = self.n_blocks
        for x in self.scenario.sampled:
            dtype = object if x.choices is not None and INPUTS[x.name].categorical else np.float64
            blocks = []
            for b in range(n_blocks):
                (r,) = self.block_slices(b)
                delayed = dask.delayed(lambda s, e, name=x.name: self.sampled_values(s, e)[name])(r.start, r.stop)
                blocks.append(da.from_delayed(delayed, shape=(r.stop - r.start,), dtype=dtype))
            variables[x.name] = ("design", da.concatenate(blocks))
        return xr.Dataset(variables, coords={"design": self.coords["design"], **fixed})
