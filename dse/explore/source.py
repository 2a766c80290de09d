"""The feasible designs of a store as compact columns, read lazily: :class:`ResultsSource`.

A store is opened once; its feasible designs become numbered rows (scenario
by scenario, in store order), and each column is read from Zarr the first
time a view asks for it, then kept as one compact array: numbers as float32,
categorical inputs as small integer codes into a sorted list of names. Codes
stay codes everywhere: a filter turns its few names into codes once and
looks rows up in a boolean table (:mod:`dse.explore.selection`), counts are
``bincount`` of codes (:mod:`dse.explore.kernels`); fronts come from cached
fronts of chunks of rows (:mod:`dse.explore.fronts`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cached_property

import numpy as np
import pandas as pd

from dse.explore.display import LOG_AXES, PADDING, Axis, display_unit
from dse.explore.fronts import ChunkFronts
from dse.explore.kernels import _bin_index, _finite_range, _masked_bincount, _polylines
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
        # feasible flat indices of every scenario (the only full read at start)
        self._feasible: dict[str, np.ndarray] = {}
        for name, ds in self.datasets.items():
            feasible = ds["feasible"]
            if ds.attrs.get("dse_kind") != "sampled":
                feasible = feasible.transpose(*self._dims(ds))
            self._feasible[name] = np.flatnonzero(np.asarray(feasible.values).ravel())
        self.n = int(sum(idx.size for idx in self._feasible.values()))
        self._fronts = ChunkFronts(self.n, self.chunk_rows)

    def __len__(self) -> int:
        return self.n

    @staticmethod
    def warm_up() -> None:
        """Compile the counting kernels for the column types a store has."""
        x = np.linspace(0, 1, 10, dtype=np.float32)
        _finite_range(x)
        _bin_index(x, 0.0, 3.0, 3, np.empty(10, dtype=np.uint8))
        keep = np.ones(10, dtype=bool)
        _masked_bincount(np.zeros(10, dtype=np.uint8), keep, np.zeros(1, dtype=np.int64))
        _masked_bincount(np.zeros(10, dtype=np.int16), keep, np.zeros(1, dtype=np.int64))

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
        grid positions, so a table of a few front designs costs nothing per
        input; other columns are read whole (and cached) as by :meth:`column`.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if name in self._columns or name in self.outputs or name in self.extras:
            return self.column(name)[rows]
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

    def plot_column(self, name: str) -> np.ndarray:
        """Plot coordinates of ``name`` (``log10`` on a log axis; cached)."""
        if not self.is_log(name):
            return self.column(name)
        if name not in self._plot_columns:
            values = self.column(name)
            with np.errstate(divide="ignore", invalid="ignore"):
                self._plot_columns[name] = np.where(values > 0, np.log10(values), np.float32(np.nan)).astype(np.float32)
        return self._plot_columns[name]

    def extent(self, name: str) -> tuple[float, float]:
        """Smallest and largest finite value of a numeric column (cached)."""
        if name not in self._extents:
            lo, hi, seen = _finite_range(self.column(name))
            self._extents[name] = (float(lo), float(hi)) if seen else (0.0, 1.0)
        return self._extents[name]

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
        if name in self.categorical:
            codes, size = self.column(name), len(self.categories[name])
        else:
            codes, size = self.bins(name), HISTOGRAM_BINS
        out = np.zeros(size, dtype=np.int64)
        _masked_bincount(codes, keep, out)
        return out

    def counts_all(self, name: str) -> np.ndarray:
        """:meth:`counts` over every feasible row, without reading the column where the store is a grid.

        A grid input's counts come from each scenario's feasible designs per
        coordinate of its axis (one pass over the feasible indices), binned
        like the column would be: the same float32 values, extent and bins,
        so the counts are the same. A store with a sampled scenario, or a
        column already read, takes :meth:`counts`.
        """
        if (
            name in self._columns
            or name not in self.inputs
            or any(ds.attrs.get("dse_kind") == "sampled" for ds in self.datasets.values())
        ):
            return self.counts(name, np.ones(self.n, dtype=bool))
        categorical = name in self.categorical
        values, weights = [], []  # each scenario's distinct values of the column, and its feasible rows at each
        for scenario, ds in self.datasets.items():
            idx = self._feasible[scenario]
            dims = self._dims(ds)
            if name in dims:
                k = dims.index(name)
                stride = int(np.prod([ds.sizes[d] for d in dims[k + 1 :]], dtype=np.int64))
                weights.append(np.bincount((idx // stride) % ds.sizes[name], minlength=ds.sizes[name]))
                coord = ds[name].values
                values.append(
                    self._code_lut(name, [str(c) for c in coord]) if categorical else coord.astype(np.float32)
                )
            else:  # fixed in this scenario (as _read_scenarios reads it)
                value = ds.coords[name].values.item() if name in ds.coords else INPUTS[name].default
                weights.append(np.array([idx.size]))
                values.append(
                    np.array([self.categories[name].index(str(value))], dtype=np.int16)
                    if categorical
                    else np.array([value], dtype=np.float32)
                )
        v, w = np.concatenate(values), np.concatenate(weights).astype(np.int64)
        if categorical:
            return np.bincount(v.astype(np.int64), weights=w, minlength=len(self.categories[name])).astype(np.int64)
        if name not in self._extents:  # the extent of the rows' values: the values present
            lo, hi, seen = _finite_range(np.ascontiguousarray(v[w > 0]))
            self._extents[name] = (float(lo), float(hi)) if seen else (0.0, 1.0)
        edges = self.edges(name)
        bins = np.empty(v.size, dtype=np.uint8)
        _bin_index(v, float(edges[0]), HISTOGRAM_BINS / (edges[-1] - edges[0]), HISTOGRAM_BINS, bins)
        return np.bincount(bins, weights=w, minlength=HISTOGRAM_BINS).astype(np.int64)

    def counts_at(self, name: str, rows: np.ndarray) -> np.ndarray:
        """:meth:`counts` of ``rows`` (a few rows, e.g. a front), from :meth:`values` at those rows."""
        values = self.values(name, rows)
        if name in self.categorical:
            return np.bincount(values.astype(np.int64), minlength=len(self.categories[name])).astype(np.int64)
        edges = self.edges(name)
        bins = np.empty(values.size, dtype=np.uint8)
        _bin_index(
            np.ascontiguousarray(values, dtype=np.float32),
            float(edges[0]),
            HISTOGRAM_BINS / (edges[-1] - edges[0]),
            HISTOGRAM_BINS,
            bins,
        )
        return np.bincount(bins, minlength=HISTOGRAM_BINS).astype(np.int64)

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
            scaled[i] = (axis.to_plot(self.column(name)[rows]) - axis.lo) / (axis.hi - axis.lo)
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
        scenario = self.categories["scenario"][int(self.column("scenario")[row])]
        return f"{scenario} design {int(self.column('design')[row])}"

    def design_labels(self, rows: np.ndarray) -> np.ndarray:
        """:meth:`design_label` of many rows at once (an object array of text).

        >>> import types
        >>> fake = types.SimpleNamespace(categories={"scenario": ["li", "na"]},
        ...     column=lambda n: {"scenario": np.array([0, 1]), "design": np.array([7, 3])}[n])
        >>> ResultsSource.design_labels(fake, np.array([1, 0])).tolist()
        ['na design 3', 'li design 7']
        """
        rows = np.asarray(rows, dtype=np.int64)
        scenarios = np.asarray(self.categories["scenario"], dtype=str)[self.column("scenario")[rows]]
        numbers = self.column("design")[rows].astype(np.int64).astype(str)
        return np.char.add(np.char.add(scenarios, " design "), numbers).astype(object)

    def design(self, row: int):
        """The full :class:`~dse.spec.Design` of a row."""
        scenario = self.categories["scenario"][int(self.column("scenario")[row])]
        return row_design(self.results, scenario, int(self.column("design")[row]))

    def table(self, keep: np.ndarray | None = None) -> pd.DataFrame:
        """Every column of the rows in ``keep`` (all rows without): for exports of modest size."""
        rows = np.flatnonzero(keep) if keep is not None else np.arange(self.n)
        return self.frame(rows, ["scenario", "design", *self.inputs, *self.outputs]).reset_index(drop=True)
