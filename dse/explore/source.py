"""The feasible designs of a store as compact columns, read lazily: :class:`ResultsSource`.

A store is opened once; its feasible designs become numbered rows (scenario
by scenario, in store order), and each column is read from Zarr the first
time a view asks for it, then kept as one compact array: numbers as float32,
categorical inputs as small integer codes into a sorted list of names. Codes
stay codes everywhere: a filter turns its few names into codes once and
looks rows up in a boolean table (:mod:`dse.explore.selection`), counts are
``bincount`` of codes (:mod:`dse.explore.kernels`); fronts come from cached
fronts of chunks of rows (:mod:`dse.explore.fronts`).

The inputs of a store whose scenarios are all grids are never read whole
(unless a view colours by one): an input's value at a row is a coordinate
of its axis at the row's grid position, so a filter on it is a table over
the axis's positions and a histogram a count per position, both taken in one
walk over each scenario's feasible flat indices (:func:`_grid_filter`,
:func:`_grid_counts`); labels and tables compute the inputs at their rows
(:meth:`ResultsSource.values`). The scenario of a row is its segment.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property

import numpy as np
import pandas as pd

from dse.explore.display import LOG_AXES, PADDING, Axis, display_unit
from dse.explore.fronts import ChunkFronts
from dse.explore.kernels import (
    _bin_index,
    _block_range,
    _chunk_counts,
    _finite_range,
    _grid_counts,
    _grid_filter,
    _masked_bincount,
    _polylines,
)
from dse.explore.selection import allowed_codes, passing_rows
from dse.store.table import Results, row_design, swept_inputs
from dse.vocabulary import INPUTS, OUTPUTS

#: rows per chunk of the cached fronts
CHUNK_ROWS = 1 << 17
#: bins of the histograms of numeric columns
HISTOGRAM_BINS = 30
SKIP = {"scenario", "design", "feasible", "infeasible_reason", "pareto_front"}
#: integer per-design variables that views may colour by (read as float columns; not outputs, so never axes)
EXTRA_COLUMNS = ("refinement_level",)
#: feasible flags turned into flat indices per block of this many designs (no full int64 copy)
FLAT_BLOCK = 1 << 24


def flat_indices(flags: np.ndarray) -> np.ndarray:
    """Ascending indices of the True entries of a flat boolean array: int32 below 2**31 entries, else int64.

    Filled block by block, so the int64 indices ``np.flatnonzero`` gives are
    never all held at once.

    >>> flat_indices(np.array([False, True, True, False, True])).tolist()
    [1, 2, 4]
    >>> flat_indices(np.zeros(3, dtype=bool)).dtype
    dtype('int32')
    """
    dtype = np.int32 if flags.size < 2**31 else np.int64
    out = np.empty(int(np.count_nonzero(flags)), dtype=dtype)
    done = 0
    for start in range(0, flags.size, FLAT_BLOCK):
        part = np.flatnonzero(flags[start : start + FLAT_BLOCK])
        out[done : done + part.size] = part + start
        done += part.size
    return out


def _flat_block_range(values: np.ndarray, feasible: np.ndarray) -> tuple[float, float, bool]:
    """:func:`_block_range` of one stored block (any shape and order)."""
    return _block_range(np.ascontiguousarray(values).ravel(), np.ascontiguousarray(feasible).ravel())


# --------------------------------------------------------------------------- the source
class ResultsSource:
    """The feasible designs of a store as lazily read, compact columns.

    Parameters
    ----------
    path : str
        Store path or URL.
    storage_options : mapping, optional
    chunk_rows : int
        Rows per chunk of the cached fronts.
    """

    def __init__(self, path: str, storage_options: Mapping | None = None, chunk_rows: int = CHUNK_ROWS):
        self.path = path
        self.results = Results(path, storage_options)
        self.datasets = self.results.datasets
        self.chunk_rows = int(chunk_rows)
        self.attrs: dict[str, dict] = {}
        for ds in self.datasets.values():
            for name, var in ds.variables.items():
                self.attrs.setdefault(str(name), dict(var.attrs))
        self.objectives = {n: a["dse_sense"] for n, a in self.attrs.items() if a.get("dse_sense") in ("max", "min")}
        self.inputs: list[str] = []
        for ds in self.datasets.values():
            for v in swept_inputs(ds):
                if v not in self.inputs:
                    self.inputs.append(v)
        outputs: list[str] = []
        for ds in self.datasets.values():
            for v, var in ds.data_vars.items():
                if (
                    v not in SKIP
                    and v not in self.inputs
                    and var.attrs.get("dse_role") != "input"
                    and var.dtype.kind == "f"
                    and v not in outputs
                ):
                    outputs.append(str(v))
        self.outputs = outputs
        #: per-design diagnostics of the store (e.g. ``refinement_level`` of a refined store)
        self.extras = [n for n in EXTRA_COLUMNS if any(n in ds.data_vars for ds in self.datasets.values())]
        self.categorical = [c for c in self.inputs if INPUTS[c].categorical]
        self.numeric_inputs = [c for c in self.inputs if c not in self.categorical]
        if len(self.datasets) > 1:
            self.categorical = ["scenario", *self.categorical]
        self.title = self.results.attrs.get("title", path)
        self.n_designs = int(sum(ds.attrs.get("dse_n_designs", 0) for ds in self.datasets.values()))
        self._columns: dict[str, np.ndarray] = {}
        self._plot_columns: dict[str, np.ndarray] = {}
        self._bins: dict[str, np.ndarray] = {}
        self._extents: dict[str, tuple[float, float]] = {}
        # feasible flat indices of every scenario (the only full read at start; int32 below 2**31 designs)
        self._feasible: dict[str, np.ndarray] = {}
        for name, ds in self.datasets.items():
            feasible = ds["feasible"]
            if ds.attrs.get("dse_kind") != "sampled":
                feasible = feasible.transpose(*self._dims(ds))
            self._feasible[name] = flat_indices(np.asarray(feasible.values).ravel())
        self.n = int(sum(idx.size for idx in self._feasible.values()))
        #: the first row of every scenario, and the end of the last
        self._starts = np.cumsum([0, *(idx.size for idx in self._feasible.values())])
        #: every scenario is a grid: its inputs are computed from grid positions, never read whole
        self.grid = all(ds.attrs.get("dse_kind") != "sampled" for ds in self.datasets.values())
        self._position_counts: dict[int, dict[int, np.ndarray]] = {}
        self._fronts = ChunkFronts(self.n, self.chunk_rows)

    def __len__(self) -> int:
        return self.n

    @property
    def feasible_per_scenario(self) -> dict[str, int]:
        """Feasible designs (rows) of every scenario, in row order."""
        return {name: int(idx.size) for name, idx in self._feasible.items()}

    @staticmethod
    def warm_up() -> None:
        """Compile the counting kernels for the column types a store has."""
        x = np.linspace(0, 1, 10, dtype=np.float32)
        _finite_range(x)
        _bin_index(x, 0.0, 3.0, 3, np.empty(10, dtype=np.uint8))
        _chunk_counts(np.ones(10, dtype=bool), 4, np.zeros(3, dtype=np.int64))
        for values in (x, x.astype(np.float64)):
            _block_range(values, values > 0)
        keep = np.ones(10, dtype=bool)
        _masked_bincount(np.zeros(10, dtype=np.uint8), keep, np.zeros(1, dtype=np.int64))
        _masked_bincount(np.zeros(10, dtype=np.int16), keep, np.zeros(1, dtype=np.int64))
        shape, dims = np.array([2, 5], dtype=np.int64), np.array([1], dtype=np.int64)
        for flat in (np.arange(10, dtype=np.int32), np.arange(10, dtype=np.int64)):
            _grid_filter(flat, shape, dims, np.ones((1, 5), dtype=bool), keep.copy())
            _grid_counts(flat, shape, dims, keep, np.zeros((1, 5), dtype=np.int64))
            _grid_counts(flat, shape, dims, np.zeros(0, dtype=bool), np.zeros((1, 5), dtype=np.int64))

    # -- names ------------------------------------------------------------------
    def label(self, name: str, units: bool = True) -> str:
        """Label with units, from the vocabulary (or the store's attributes)."""
        var = INPUTS.get(name) or OUTPUTS.get(name)
        a = self.attrs.get(name, {})
        long_name = var.long_name if var is not None else a.get("long_name") or name.replace("_", " ")
        unit = display_unit(var.units if var is not None else a.get("units", ""))
        if name == "scenario":
            return "Scenario"
        return f"{long_name} [{unit}]" if units and unit else long_name

    def is_log(self, name: str) -> bool:
        """True when ``name`` is shown on a log axis (a log quantity with positive values)."""
        return name in LOG_AXES and self.extent(name)[0] > 0

    # -- columns ----------------------------------------------------------------
    @staticmethod
    def _dims(ds) -> list[str]:
        return list(ds.attrs.get("dse_dims", ds["feasible"].dims))

    @cached_property
    def categories(self) -> dict[str, list[str]]:
        """Sorted names of every categorical column (codes index into these)."""
        out: dict[str, list[str]] = {"scenario": list(self.datasets)}
        for v in self.categorical:
            if v == "scenario":
                continue
            names: set[str] = set()
            for ds in self.datasets.values():
                names.update(self._scenario_categories(ds, v))
            out[v] = sorted(names)
        return out

    @staticmethod
    def _scenario_categories(ds, v: str) -> list[str]:
        if v in ds.data_vars and ds[v].attrs.get("dse_categories"):
            return [str(c) for c in ds[v].attrs["dse_categories"]]
        if v in ds.coords:
            return [str(c) for c in np.atleast_1d(ds.coords[v].values)]
        return [str(INPUTS[v].default)]

    def column(self, name: str) -> np.ndarray:
        """The values of ``name`` for every row: float32, or integer codes for categories."""
        if name not in self._columns:
            self._columns[name] = self._read(name)
        return self._columns[name]

    def values(self, name: str, rows: np.ndarray) -> np.ndarray:
        """``column(name)[rows]``, without reading the whole column where it need not be read.

        A swept or fixed input of a grid scenario is computed from the rows'
        grid positions, the scenario and design number from the rows'
        segments and flat indices, so a table or the labels of a few designs
        cost nothing per input; outputs are read whole (and cached) as by
        :meth:`column`.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if name in self._columns or name in self.outputs or name in self.extras:
            return self.column(name)[rows]
        if name in ("scenario", "design"):
            if rows.size and not (0 <= rows.min() and rows.max() < self.n):
                raise IndexError(f"rows out of range 0-{self.n - 1}")
            scenario = np.searchsorted(self._starts, rows, side="right") - 1  # an empty scenario's start is the next's
            if name == "scenario":
                return scenario.astype(np.int16)
            out = np.empty(rows.size, dtype=np.int64)
            for k, flat in enumerate(self._feasible.values()):
                at = scenario == k
                out[at] = flat[rows[at] - self._starts[k]]
            return out
        return self._read(name, rows)

    def _read(self, name: str, rows: np.ndarray | None = None) -> np.ndarray:
        """The column ``name`` (all rows, or only ``rows``, in their order)."""
        if name not in {"scenario", "design", *self.inputs, *self.outputs, *self.extras}:
            raise KeyError(f"{name!r} is not a column of {self.path}")
        if rows is not None:  # scenario by scenario, then back in the rows' order
            first, order, parts = 0, [], []
            for scenario, feasible in self._feasible.items():
                inside = np.flatnonzero((rows >= first) & (rows < first + feasible.size))
                order.append(inside)
                parts.append(self._read_scenarios(name, {scenario: feasible[rows[inside] - first]}))
                first += feasible.size
            out = np.empty(rows.size, dtype=parts[0].dtype if parts else np.float32)
            for inside, part in zip(order, parts, strict=True):
                out[inside] = part
            return out
        return self._read_scenarios(name, self._feasible)

    def _read_scenarios(self, name: str, positions: Mapping[str, np.ndarray]) -> np.ndarray:
        """The values of ``name`` at the given grid or sample positions of each scenario, concatenated."""
        parts = []
        categorical = name in self.categorical or name == "scenario"
        for k, (scenario, ds) in enumerate(self.datasets.items()):
            if scenario not in positions:
                continue
            idx = positions[scenario]
            if name == "scenario":
                parts.append(np.full(idx.size, k, dtype=np.int16))
            elif name == "design":
                parts.append(idx.astype(np.int64))
            elif ds.attrs.get("dse_kind") == "sampled" and name in ds.data_vars:
                values = np.asarray(ds[name].values)[idx]
                if categorical:
                    lut = self._code_lut(name, self._scenario_categories(ds, name))
                    parts.append(lut[values.astype(np.int64)])
                else:
                    parts.append(values.astype(np.float32))
            elif name in (*self.outputs, *self.extras) and name in ds.data_vars:
                values = np.asarray(ds[name].transpose(*self._dims(ds)).values).ravel()[idx]
                parts.append(values.astype(np.float32))
            elif name in self._dims(ds):
                dims = self._dims(ds)
                k = dims.index(name)
                stride = int(np.prod([ds.sizes[d] for d in dims[k + 1 :]], dtype=np.int64))
                position = (idx // stride) % ds.sizes[name]  # C order: one division, not a full unravel
                coord = ds[name].values
                if categorical:
                    lut = self._code_lut(name, [str(c) for c in coord])
                    parts.append(lut[position])
                else:
                    parts.append(coord.astype(np.float32)[position])
            else:  # an input fixed in this scenario, or an output it lacks
                if name in self.outputs or name in self.extras:
                    parts.append(np.full(idx.size, np.nan, dtype=np.float32))
                    continue
                value = ds.coords[name].values.item() if name in ds.coords else INPUTS[name].default
                if categorical:
                    code = self.categories[name].index(str(value))
                    parts.append(np.full(idx.size, code, dtype=np.int16))
                else:
                    parts.append(np.full(idx.size, value, dtype=np.float32))
        if not parts:
            return np.zeros(0, dtype=np.int16 if categorical else np.float32)
        return np.concatenate(parts)

    def _code_lut(self, name: str, local: Sequence[str]) -> np.ndarray:
        """Store codes of one scenario → codes into :attr:`categories`."""
        names = self.categories[name]
        return np.array([names.index(str(c)) for c in local], dtype=np.int16)

    # -- virtual columns: grid inputs from grid positions --------------------------
    def virtual(self, name: str) -> bool:
        """True when filters and counts of ``name`` come from grid positions, with no column of it.

        The scenario always (a row's scenario is its segment of rows); an
        input when every scenario is a grid and no view has read its column
        whole (then the column is there, and faster).
        """
        return name == "scenario" or (self.grid and name in self.inputs and name not in self._columns)

    def _positions(self, k: int, name: str) -> tuple[int | None, np.ndarray]:
        """How ``name`` varies in scenario ``k``: its axis and its value per position, or ``None`` and its one value.

        Values as :meth:`column` has them (float32, or codes into
        :attr:`categories`), from the coordinates of a grid scenario's axis
        (as :meth:`_read_scenarios` reads them).
        """
        scenario, ds = list(self.datasets.items())[k]
        if name == "scenario":
            return None, np.array([k], dtype=np.int16)
        categorical = name in self.categorical
        dims = self._dims(ds)
        if name in dims:
            coord = ds[name].values
            values = self._code_lut(name, [str(c) for c in coord]) if categorical else coord.astype(np.float32)
            return dims.index(name), values
        value = ds.coords[name].values.item() if name in ds.coords else INPUTS[name].default
        if categorical:
            return None, np.array([self.categories[name].index(str(value))], dtype=np.int16)
        return None, np.array([value], dtype=np.float32)

    def _shape(self, k: int) -> np.ndarray:
        ds = list(self.datasets.values())[k]
        return np.array([ds.sizes[d] for d in self._dims(ds)], dtype=np.int64)

    def _walk_counts(self, k: int, axes: Sequence[int], keep: np.ndarray | None) -> dict[int, np.ndarray]:
        """Rows of scenario ``k`` (those of ``keep``, a slice of its rows, or all) per position along each axis."""
        if keep is None:  # all rows: once per scenario, every axis
            if k not in self._position_counts:
                shape = self._shape(k)
                self._position_counts[k] = self._walk_counts(k, range(shape.size), np.ones(0, dtype=bool))
            return self._position_counts[k]
        shape = self._shape(k)
        axes = list(axes)
        out = np.zeros((len(axes), int(shape.max(initial=1))), dtype=np.int64)
        if axes:
            flat = list(self._feasible.values())[k]
            _grid_counts(flat, shape, np.asarray(axes, dtype=np.int64), keep, out)
        return {a: out[j, : shape[a]] for j, a in enumerate(axes)}

    def keep_where(self, tests: Sequence[tuple[str, Callable[[np.ndarray], np.ndarray]]]) -> np.ndarray:
        """Rows where every ``test`` holds for the values of its column (``test`` maps values to booleans).

        A test sees what :meth:`column` holds (float32, or codes). A column
        that is not read (:meth:`virtual`) is tested on its few values per
        grid position instead, and the rows are looked up by their positions
        in one walk per scenario: the same rows, with no column read.
        """
        keep = np.ones(self.n, dtype=bool)
        virtual = []
        for name, test in tests:
            if self.virtual(name):
                virtual.append((name, test))
            else:
                keep &= test(self.column(name))
        if not virtual:
            return keep
        for k, flat in enumerate(self._feasible.values()):
            part = keep[self._starts[k] : self._starts[k + 1]]
            axes, tables = [], []
            for name, test in virtual:
                axis, values = self._positions(k, name)
                ok = np.asarray(test(values), dtype=bool)
                if axis is None:
                    if not ok[0]:
                        part[:] = False
                elif not ok.all():
                    axes.append(axis)
                    tables.append(ok)
            if axes and flat.size:
                shape = self._shape(k)
                allowed = np.zeros((len(axes), int(shape.max())), dtype=bool)
                for j, ok in enumerate(tables):
                    allowed[j, : ok.size] = ok
                _grid_filter(flat, shape, np.asarray(axes, dtype=np.int64), allowed, part)
        return keep

    def plot_column(self, name: str) -> np.ndarray:
        """Plot coordinates of ``name`` (``log10`` on a log axis; cached)."""
        if not self.is_log(name):
            return self.column(name)
        if name not in self._plot_columns:
            values = self.column(name)
            out = np.full(values.shape, np.nan, dtype=np.float32)  # one array: no temporaries of the column's size
            np.log10(values, out=out, where=values > 0)
            self._plot_columns[name] = out
        return self._plot_columns[name]

    def extent(self, name: str) -> tuple[float, float]:
        """Smallest and largest finite value of a numeric column (cached)."""
        if name not in self._extents:
            if self.virtual(name):  # the values present: those at positions with a feasible design
                present = [np.zeros(0, dtype=np.float32)]
                for k, flat in enumerate(self._feasible.values()):
                    axis, values = self._positions(k, name)
                    if flat.size:
                        present.append(values if axis is None else values[self._walk_counts(k, (), None)[axis] > 0])
                lo, hi, seen = _finite_range(np.ascontiguousarray(np.concatenate(present)))
            elif name not in self._columns and (name in self.outputs or name in self.extras):
                lo, hi, seen = self._stored_range(name)
            else:
                lo, hi, seen = _finite_range(self.column(name))
            self._extents[name] = (float(lo), float(hi)) if seen else (0.0, 1.0)
        return self._extents[name]

    def _stored_range(self, name: str) -> tuple[float, float, bool]:
        """The finite range of an output over the feasible designs, from its stored blocks (no column kept).

        One Dask task per Zarr block of each scenario (on the default
        scheduler, or a Client's), each the float32 range of the block's
        feasible values: the range of the column :meth:`column` would read,
        for a slider, without holding it.
        """
        import dask
        import dask.array as da

        tasks = []
        for scenario, ds in self.datasets.items():
            if name not in ds.data_vars or not self._feasible[scenario].size:
                continue
            if set(ds[name].dims) != set(ds["feasible"].dims):  # not one value per design: as the column reads it
                lo, hi, seen = _finite_range(self.column(name))
                return float(lo), float(hi), seen
            values = ds[name].data  # in its stored order: a range does not care
            feasible = ds["feasible"].transpose(*ds[name].dims).data
            if not isinstance(values, da.Array):
                values = da.from_array(values, chunks=values.shape)
            feasible = da.asarray(feasible).rechunk(values.chunks)
            blocks = zip(values.to_delayed().ravel(), feasible.to_delayed().ravel(), strict=True)
            tasks += [dask.delayed(_flat_block_range)(v, f) for v, f in blocks]
        lo, hi, seen = np.inf, -np.inf, False
        for block_lo, block_hi, block_seen in dask.compute(*tasks):
            if block_seen:
                lo, hi, seen = min(lo, block_lo), max(hi, block_hi), True
        return lo, hi, seen

    @property
    def ranges(self) -> dict[str, tuple[float, float]]:
        """Extent of every numeric input."""
        return {c: self.extent(c) for c in self.numeric_inputs}

    def axis(self, name: str, zoom: Sequence[float] | None = None) -> Axis:
        """The axis of ``name``: its extent padded on both sides, or the zoomed values ``(lo, hi)``."""
        log = self.is_log(name)
        lo, hi = self.extent(name)
        if log:
            lo, hi = math.log10(lo), math.log10(hi)
        pad = PADDING * (hi - lo) if hi > lo else (0.5 if log else max(abs(lo) * 0.05, 0.5))
        axis = Axis(name, log, lo - pad, hi + pad)
        if zoom is not None:
            z0, z1 = (float(v) for v in zoom)
            t0, t1 = (math.log10(z0), math.log10(z1)) if log and z0 > 0 and z1 > 0 else (z0, z1)
            if log and not (z0 > 0 and z1 > 0):
                return axis
            if np.isfinite(t0) and np.isfinite(t1) and t1 > t0:
                axis = Axis(name, log, t0, t1)
        return axis

    # -- filtering --------------------------------------------------------------
    def mask(
        self, filters: Mapping[str, object] | None = None, constraints: Mapping[str, object] | None = None
    ) -> np.ndarray:
        """Rows that pass ``filters`` (inputs) and ``constraints`` (outputs).

        A categorical rule is a list of names; a numeric rule ``[low, high]``
        (either may be None: unbounded). Rules arrive from URLs too, so a
        name that is not a column or a rule of the wrong shape is ignored:
        ``mask({"cathode": ["LFP"]}, {"cost": [None, 120]})`` keeps the LFP
        designs that cost at most 120 USD/kWh.
        """
        return passing_rows(self, filters, constraints)

    def allowed_codes(self, name: str, rule) -> np.ndarray | None:
        """Boolean table over the codes of ``name``: True for the names in ``rule``."""
        return allowed_codes(self.categories, name, rule)

    # -- fronts -----------------------------------------------------------------
    def front(self, keep: np.ndarray, objectives: Mapping[str, str]) -> np.ndarray:
        """Rows of the exact Pareto front of the rows in ``keep``, in row order.

        Per chunk of :attr:`chunk_rows` rows: a whole chunk contributes its
        cached front, a cut chunk the front of its kept rows; the answer is
        the front of these fronts.
        """
        names = list(objectives)
        senses = [objectives[n] for n in names]
        if self.n == 0 or not names:
            return np.zeros(0, dtype=np.int64)
        return self._fronts.front(keep, names, senses, [self.column(n) for n in names])

    # -- counts -----------------------------------------------------------------
    def counts(self, name: str, keep: np.ndarray) -> np.ndarray:
        """Rows in ``keep`` per category (categorical) or per bin of :meth:`edges` (numeric)."""
        return self.counts_many([name], keep)[name]

    def counts_all(self, name: str) -> np.ndarray:
        """:meth:`counts` over every feasible row (for a grid input: from counts per grid position, cached)."""
        return self.counts_many([name], None)[name]

    def counts_many(self, names: Sequence[str], keep: np.ndarray | None) -> dict[str, np.ndarray]:
        """:meth:`counts` of several columns (``keep`` None: every row), with one walk per scenario for all.

        A column that is not read (:meth:`virtual`) is counted per grid
        position of each scenario (one pass over its feasible flat indices
        for every such column at once), and the positions' counts go to the
        category or bin of the position's value: the same float32 values,
        extent and bins as the column, so the same counts. Other columns
        are ``bincount`` of their codes or bins (:meth:`bins`).
        """
        out: dict[str, np.ndarray] = {}
        virtual = [n for n in dict.fromkeys(names) if self.virtual(n)]
        for name in names:
            if name in virtual or name in out:
                continue
            if name in self.categorical:
                codes, size = self.column(name), len(self.categories[name])
            else:
                codes, size = self.bins(name), HISTOGRAM_BINS
            out[name] = np.zeros(size, dtype=np.int64)
            _masked_bincount(codes, np.ones(self.n, dtype=bool) if keep is None else keep, out[name])
        if not virtual:
            return out
        for name in virtual:
            out[name] = np.zeros(len(self.categories[name]) if name in self.categorical else HISTOGRAM_BINS, np.int64)
        for k, flat in enumerate(self._feasible.values()):
            part = None if keep is None else keep[self._starts[k] : self._starts[k + 1]]
            where = {name: self._positions(k, name) for name in virtual}
            axes = sorted({axis for axis, _ in where.values() if axis is not None})
            counts = self._walk_counts(k, axes, part) if axes and flat.size else {}
            rows = None
            for name, (axis, values) in where.items():
                codes = self._codes(name, values)
                if axis is not None:
                    if counts:
                        np.add.at(out[name], codes, counts[axis])
                    continue
                if rows is None:
                    rows = flat.size if part is None else int(np.count_nonzero(part))
                out[name][codes[0]] += rows
        return out

    def _codes(self, name: str, values: np.ndarray) -> np.ndarray:
        """The category codes, or the histogram bins (:meth:`bins`), of some values of ``name``."""
        if name in self.categorical:
            return values.astype(np.int64)
        edges = self.edges(name)
        bins = np.empty(values.size, dtype=np.uint8)
        _bin_index(
            np.ascontiguousarray(values, dtype=np.float32),
            float(edges[0]),
            HISTOGRAM_BINS / (edges[-1] - edges[0]),
            HISTOGRAM_BINS,
            bins,
        )
        return bins.astype(np.int64)

    def counts_at(self, name: str, rows: np.ndarray) -> np.ndarray:
        """:meth:`counts` of ``rows`` (a few rows, e.g. a front), from :meth:`values` at those rows."""
        size = len(self.categories[name]) if name in self.categorical else HISTOGRAM_BINS
        return np.bincount(self._codes(name, self.values(name, rows)), minlength=size).astype(np.int64)

    def edges(self, name: str) -> np.ndarray:
        """Bin edges of the histogram of a numeric column (over all feasible designs)."""
        lo, hi = self.extent(name)
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        return np.linspace(lo, hi, HISTOGRAM_BINS + 1)

    def bins(self, name: str) -> np.ndarray:
        """Histogram bin of every row (cached; values on the last edge in the last bin, NaN in the first)."""
        if name not in self._bins:
            edges = self.edges(name)
            out = np.empty(self.n, dtype=np.uint8)
            _bin_index(self.column(name), float(edges[0]), HISTOGRAM_BINS / (edges[-1] - edges[0]), HISTOGRAM_BINS, out)
            self._bins[name] = out
        return self._bins[name]

    def parallel_density(
        self, names: Sequence[str], keep: np.ndarray, width: int = 900, height: int = 300, samples: int = 100_000
    ) -> tuple[np.ndarray, int]:
        """Parallel coordinates of the rows in ``keep``, rasterized: lines per pixel, bottom row first.

        Every axis runs from its padded minimum to its maximum (log10 on a
        log axis); at most ``samples`` rows, evenly spaced (so the picture
        does not flicker between redraws). Returns the image and the rows drawn.
        """
        rows = np.flatnonzero(keep)
        if rows.size > samples:
            rows = rows[np.linspace(0, rows.size - 1, samples).astype(np.int64)]
        scaled = np.empty((len(names), rows.size), dtype=np.float64)
        for i, name in enumerate(names):
            axis = self.axis(name)
            scaled[i] = (axis.to_plot(self.values(name, rows)) - axis.lo) / (axis.hi - axis.lo)
        image = np.zeros((height, width), dtype=np.int64)
        if len(names) >= 2:
            _polylines(scaled, width, height, image)
        return image, int(rows.size)

    # -- rows -------------------------------------------------------------------
    def frame(self, rows: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
        """A small table of ``rows``: names decoded, numbers as stored."""
        rows = np.asarray(rows, dtype=np.int64)
        data = {}
        for name in names:
            values = self.values(name, rows)
            if name in self.categorical or name == "scenario":
                data[name] = (
                    np.asarray(self.categories[name], dtype=object)[values] if rows.size else np.zeros(0, dtype=object)
                )
            else:
                data[name] = values
        return pd.DataFrame(data, index=rows)

    def design_label(self, row: int) -> str:
        """How a row is named everywhere (hover, table, card): ``"<scenario> design <n>"``."""
        return str(self.design_labels(np.array([row]))[0])

    def design_labels(self, rows: np.ndarray) -> np.ndarray:
        """:meth:`design_label` of many rows at once (an object array of text).

        >>> import types
        >>> fake = types.SimpleNamespace(categories={"scenario": ["li", "na"]},
        ...     values=lambda n, r: {"scenario": np.array([0, 1]), "design": np.array([7, 3])}[n][r])
        >>> ResultsSource.design_labels(fake, np.array([1, 0])).tolist()
        ['na design 3', 'li design 7']
        """
        rows = np.asarray(rows, dtype=np.int64)
        scenarios = np.asarray(self.categories["scenario"], dtype=str)[self.values("scenario", rows)]
        numbers = self.values("design", rows).astype(np.int64).astype(str)
        return np.char.add(np.char.add(scenarios, " design "), numbers).astype(object)

    def design(self, row: int):
        """The full :class:`~dse.spec.Design` of a row."""
        rows = np.array([row], dtype=np.int64)
        scenario = self.categories["scenario"][int(self.values("scenario", rows)[0])]
        return row_design(self.results, scenario, int(self.values("design", rows)[0]))

    def table(self, keep: np.ndarray | None = None) -> pd.DataFrame:
        """Every column of the rows in ``keep`` (all rows without): for exports of modest size."""
        rows = np.flatnonzero(keep) if keep is not None else np.arange(self.n)
        return self.frame(rows, ["scenario", "design", *self.inputs, *self.outputs]).reset_index(drop=True)
