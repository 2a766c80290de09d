"""The results of a store as views need them: columns, filters, fronts, counts and pictures.

:class:`ResultsSource` is the data layer of the dashboard (``dse serve``), of
``dse report`` and of notebooks; it imports no plotting library. A store is
opened once; its feasible designs become numbered rows (scenario by
scenario, in store order), and each column is read from Zarr the first time
a view asks for it, then kept as one compact array: numbers as float32,
categorical inputs as small integer codes into a sorted list of names. Codes
stay codes everywhere: a filter turns its few names into codes once and
looks rows up in a boolean table, counts are ``bincount`` of codes.

The front of a filtered set comes from fronts of fixed chunks of rows,
computed once per set of objectives: the front of a union is the front of
the fronts of its parts, so a chunk that a filter keeps whole contributes its
cached front, a chunk it drops contributes nothing, and only chunks it cuts
are recomputed (after discarding their rows that the cached chunk front, cut
the same way, already dominates).

Pictures are aggregated in the axis's own space (:class:`Axis`): a log axis
bins ``log10`` of the values, so a design is counted in the pixel whose tick
labels bracket its value, on every axis.

>>> axis = Axis("cycle_life", log=True, lo=1.0, hi=3.0)
>>> axis.to_plot(np.array([10.0, 1000.0])).tolist(), axis.from_plot(2.0)
([1.0, 3.0], 100.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np
import pandas as pd

from dse.pareto import nondominated
from dse.table import Results, row_design, swept_inputs
from dse.vocabulary import INPUTS, OUTPUTS

__all__ = ["ResultsSource", "Axis", "LOG_AXES", "CHUNK_ROWS", "aggregate", "nice_ticks", "format_value",
           "format_values", "display_unit", "read_sensitivity", "SENSITIVITY_COLUMNS",
           "significant_format"]

#: outputs spread over decades: shown (and aggregated) on log axes
LOG_AXES = frozenset({"cycle_life", "cycle_life_p10", "cycle_life_p90", "cost_per_cycle", "knee_cycles"})
#: rows per chunk of the cached fronts
CHUNK_ROWS = 1 << 17
#: share of an axis's span added on each side, so that no design sits on the frame
PADDING = 0.05
#: bins of the histograms of numeric columns
HISTOGRAM_BINS = 30
SKIP = {"scenario", "design", "feasible", "infeasible_reason", "pareto_front"}
#: integer per-design variables that views may colour by (read as float columns; not outputs, so never axes)
EXTRA_COLUMNS = ("refinement_level",)


#: what a sensitivity table must hold to be drawn (the columns of :data:`dse.sensitivity.COLUMNS` it uses)
SENSITIVITY_COLUMNS = ("scenario", "output", "input", "method", "first_order", "total_order")


# --------------------------------------------------------------------------- sensitivity
def read_sensitivity(path: str, source: ResultsSource | None = None) -> pd.DataFrame:
    """A table of :func:`dse.sensitivity.sensitivity` saved as CSV (``df.to_csv(path, index=False)``) or Parquet.

    Checked at the edge: the file must exist, be readable, hold the columns
    :data:`SENSITIVITY_COLUMNS` and at least one row; with ``source``, its
    outputs and inputs must be the store's. Each failure is one
    :class:`~dse.errors.DseError` line naming the file.
    """
    from dse.errors import DseError

    try:
        df = pd.read_parquet(path) if str(path).endswith(".parquet") else pd.read_csv(path)
    except FileNotFoundError:
        raise DseError("no such file", where=str(path)) from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DseError(f"not a sensitivity table ({str(exc).splitlines()[0][:120]})", where=str(path)) from None
    missing = [c for c in SENSITIVITY_COLUMNS if c not in df.columns]
    if missing:
        raise DseError(f"not a sensitivity table: no column {', '.join(missing)} (write one with "
                       "dse.sensitivity.sensitivity(STORE).to_csv(FILE, index=False))", where=str(path))
    if not len(df):
        raise DseError("the sensitivity table has no rows", where=str(path))
    if source is not None:
        foreign = sorted({*df["output"].astype(str)} - set(source.outputs)) + \
            sorted({*df["input"].astype(str)} - {*source.inputs, *INPUTS})
        if foreign:
            raise DseError(f"the sensitivity table names {', '.join(foreign[:3])}, not in {source.path}",
                           where=str(path))
    for c in ("first_order", "total_order"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


# --------------------------------------------------------------------------- axes
@dataclass(frozen=True)
class Axis:
    """One plot axis: a column, linear or log10, and its extent in plot coordinates.

    Plot coordinates are the values on a linear axis and ``log10`` of the
    values on a log axis; ``lo`` and ``hi`` are in plot coordinates.
    """

    name: str
    log: bool
    lo: float
    hi: float

    def to_plot(self, values: np.ndarray) -> np.ndarray:
        """Plot coordinates of values (non-positive values on a log axis: NaN)."""
        values = np.asarray(values, dtype=np.float64)
        if not self.log:
            return values
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)

    def from_plot(self, t: float) -> float:
        """The value at plot coordinate ``t``."""
        return float(10.0**t) if self.log else float(t)

    def ticks(self, count: int = 6) -> list[tuple[float, str]]:
        """Tick positions (plot coordinates) and labels in the column's own units."""
        if not self.log:
            return [(v, format_value(v)) for v in nice_ticks(self.lo, self.hi, count)]
        decades = self.hi - self.lo
        mantissas = (1,) if decades > 4 else (1, 3) if decades > 1.5 else (1, 2, 5)
        out = []
        for k in range(math.floor(self.lo), math.ceil(self.hi) + 1):
            for m in mantissas:
                t = k + math.log10(m)
                if self.lo <= t <= self.hi:
                    out.append((t, f"{m * 10.0**k:,g}"))
        return out or [(self.lo, format_value(self.from_plot(self.lo))), (self.hi, format_value(self.from_plot(self.hi)))]


def display_unit(unit: str) -> str:
    """A unit as tables and axes show it.

    >>> display_unit("mAh/cm^2"), display_unit("degC"), display_unit("1")
    ('mAh/cm²', '°C', '')
    """
    return {"1": "", "percent": "%", "degC": "°C", "1/h": "C", "um": "µm", "mAh/cm^2": "mAh/cm²",
            "mA/cm^2": "mA/cm²"}.get(unit, unit)


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """About ``count`` round numbers between ``lo`` and ``hi``.

    >>> nice_ticks(0.0, 1.0, 5)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step)
    return [round(k * step, 12) for k in range(first, math.floor(hi / step) + 1)]


def format_value(v: float, digits: int = 3) -> str:
    """A number with ``digits`` significant figures, without exponent for everyday magnitudes.

    >>> format_value(1234.5), format_value(0.01234), format_value(2e-7), format_value(100.0)
    ('1,234', '0.0123', '2e-07', '100')
    """
    if not np.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(v)))
    if magnitude >= 3:
        return f"{v:,.0f}"
    if magnitude < -4:
        return f"{v:.{digits}g}"
    return f"{v:.{max(0, digits - 1 - magnitude)}f}"


def format_values(values: np.ndarray, digits: int = 3) -> np.ndarray:
    """Many numbers as text at once: ``digits`` significant figures, whole numbers from 1,000 up ('' for NaN).

    The vectorized cousin of :func:`format_value` (without its thousands
    separators), for hover fields of every pixel of a picture.

    >>> format_values(np.array([1234.7, 412.34, 0.01234, np.nan])).tolist()
    ['1235', '412', '0.0123', '']
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return np.zeros(values.shape, dtype=object)
    finite = np.isfinite(values)
    safe = np.where(finite, values, 0.0)
    with np.errstate(divide="ignore"):
        magnitude = np.floor(np.log10(np.where(safe != 0, np.abs(safe), 1.0)))
    scale = 10.0 ** (digits - 1 - magnitude)
    rounded = np.where(np.abs(safe) >= 10.0**digits, np.round(safe), np.round(safe * scale) / scale)
    # numbers are formatted one by one: format each distinct rounded value once
    distinct, index = np.unique(rounded, return_inverse=True)
    text = np.where(np.abs(distinct) >= 10.0**digits, np.char.mod("%.0f", distinct),
                    np.char.mod(f"%.{digits}g", distinct))[index.reshape(values.shape)]
    return np.where(finite, text, "").astype(object)


def significant_format(values: np.ndarray, digits: int = 3) -> str:
    """A numeral.js format (Bokeh ``NumberFormatter``) with about ``digits`` significant figures.

    >>> significant_format(np.array([350.0, 420.0])), significant_format(np.array([0.012, 0.02]))
    ('0,0', '0.0000')
    """
    finite = np.abs(np.asarray(values, dtype=np.float64))
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.size == 0:
        return "0.[000]"
    magnitude = math.floor(math.log10(float(np.median(finite))))
    decimals = max(0, digits - 1 - magnitude)
    return "0,0" if decimals == 0 else "0." + "0" * min(decimals, 8)


# --------------------------------------------------------------------------- kernels
@numba.njit(nogil=True, cache=True)
def _cells(x, y, keep, x0, sx, y0, sy, width, height, codes, ncat, weights, counts, sums):  # pragma: no cover
    """Count (per category) and sum ``weights`` of kept rows per pixel; rows outside are skipped."""
    use_codes = codes.size > 0
    use_weights = weights.size > 0
    for i in range(x.size):
        if not keep[i]:
            continue
        fx = (x[i] - x0) * sx
        fy = (y[i] - y0) * sy
        if not (fx >= 0.0 and fx < width and fy >= 0.0 and fy < height):  # NaN fails too
            continue
        cell = int(fy) * width + int(fx)
        if use_codes:
            counts[cell * ncat + codes[i]] += 1
        else:
            counts[cell] += 1
        if use_weights:
            w = weights[i]
            if w == w:
                sums[cell] += w
                sums[cell + width * height] += 1.0


@numba.njit(nogil=True, cache=True)
def _first_rows(x, y, keep, x0, sx, y0, sy, width, height, first):  # pragma: no cover
    """The first kept row of every pixel (``first`` holds -1 where none falls)."""
    for i in range(x.size):
        if not keep[i]:
            continue
        fx = (x[i] - x0) * sx
        fy = (y[i] - y0) * sy
        if not (fx >= 0.0 and fx < width and fy >= 0.0 and fy < height):
            continue
        cell = int(fy) * width + int(fx)
        if first[cell] < 0:
            first[cell] = i


@numba.njit(nogil=True, cache=True)
def _masked_bincount(codes, keep, out):  # pragma: no cover
    for i in range(codes.size):
        if keep[i]:
            out[codes[i]] += 1


@numba.njit(nogil=True, cache=True)
def _bin_index(values, lo, scale, nbins, out):  # pragma: no cover
    """Histogram bin of every value (NaN and values below the first edge: bin 0; above: the last)."""
    for i in range(values.size):
        b = (values[i] - lo) * scale
        out[i] = 0 if not b > 0 else (nbins - 1 if b >= nbins - 1 else int(b))


@numba.njit(nogil=True, cache=True)
def _finite_range(values):  # pragma: no cover
    lo, hi, seen = np.inf, -np.inf, False
    for v in values:
        if v - v == 0:  # finite
            seen = True
            lo = min(lo, v)
            hi = max(hi, v)
    return lo, hi, seen


@numba.njit(nogil=True, cache=True)
def _polylines(scaled, width, height, image):  # pragma: no cover
    """Add one polyline per column of ``scaled`` (axes × rows, 0-1) to ``image`` (rows bottom first)."""
    k, n = scaled.shape
    step = width / (k - 1)
    for j in range(n):
        for i in range(k - 1):
            a = scaled[i, j]
            b = scaled[i + 1, j]
            if not (a == a and b == b):
                continue
            c0 = int(i * step)
            c1 = int((i + 1) * step) if i < k - 2 else width
            for c in range(c0, c1):
                s = (c + 0.5 - i * step) / step
                r = int((a + s * (b - a)) * height)
                if 0 <= r < height:
                    image[r, c] += 1


def aggregate(x, y, keep, xaxis: Axis, yaxis: Axis, width: int, height: int, *, codes=None, ncat: int = 1,
              weights=None, first: bool = False) -> dict[str, np.ndarray]:
    """Pixels of a cloud in plot coordinates: row 0 is the bottom row, ``[lo, hi)`` split evenly.

    Parameters
    ----------
    x, y : numpy.ndarray
        Plot coordinates (already log10 on a log axis), one per row.
    keep : numpy.ndarray of bool
        Rows to count.
    codes : numpy.ndarray of int, optional
        Category of each row: counts get a last axis of ``ncat`` categories.
    weights : numpy.ndarray, optional
        Values to average per pixel (``mean``; NaN where a pixel is empty).
    first : bool
        Also return the first kept row of every pixel (its representative,
        as Datashader's ``first`` selector; -1 where a pixel is empty).

    Returns
    -------
    dict
        ``count`` (``height × width`` or ``height × width × ncat``) and, with
        weights, ``mean``; with ``first``, ``first`` (``height × width``).

    Examples
    --------
    >>> ax = Axis("a", False, 0.0, 2.0)
    >>> out = aggregate(np.array([0.5, 1.5, 1.5]), np.array([0.5, 1.5, 1.9]), np.ones(3, bool), ax, ax, 2, 2,
    ...                 first=True)
    >>> out["count"].tolist(), out["first"].tolist()
    ([[1, 0], [0, 2]], [[0, -1], [-1, 1]])
    """
    ncat = int(ncat) if codes is not None else 1
    counts = np.zeros(width * height * ncat, dtype=np.int64)
    sums = np.zeros(2 * width * height if weights is not None else 1, dtype=np.float64)
    empty_codes = np.zeros(0, dtype=np.int16)
    empty_weights = np.zeros(0, dtype=np.float32)
    _cells(x, y, keep, float(xaxis.lo), width / (xaxis.hi - xaxis.lo), float(yaxis.lo),
           height / (yaxis.hi - yaxis.lo), width, height,
           empty_codes if codes is None else codes, ncat,
           empty_weights if weights is None else weights, counts, sums)
    out = {"count": counts.reshape((height, width, ncat)) if codes is not None else counts.reshape((height, width))}
    if weights is not None:
        n = sums[width * height:].reshape((height, width))
        with np.errstate(invalid="ignore", divide="ignore"):
            out["mean"] = np.where(n > 0, sums[: width * height].reshape((height, width)) / n, np.nan)
    if first:
        rows = np.full(width * height, -1, dtype=np.int64)
        _first_rows(x, y, keep, float(xaxis.lo), width / (xaxis.hi - xaxis.lo), float(yaxis.lo),
                    height / (yaxis.hi - yaxis.lo), width, height, rows)
        out["first"] = rows.reshape((height, width))
    return out


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
                if (v not in SKIP and v not in self.inputs and var.attrs.get("dse_role") != "input"
                        and var.dtype.kind == "f" and v not in outputs):
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
        self._chunk_fronts: dict[tuple, dict[int, np.ndarray]] = {}
        # feasible flat indices of every scenario (the only full read at start)
        self._feasible: dict[str, np.ndarray] = {}
        for name, ds in self.datasets.items():
            feasible = ds["feasible"]
            if ds.attrs.get("dse_kind") != "sampled":
                feasible = feasible.transpose(*self._dims(ds))
            self._feasible[name] = np.flatnonzero(np.asarray(feasible.values).ravel())
        self.n = int(sum(idx.size for idx in self._feasible.values()))
        starts = np.arange(0, max(self.n, 1), self.chunk_rows)
        self._chunk_starts = starts if self.n else np.zeros(0, dtype=np.int64)

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

    def _read(self, name: str) -> np.ndarray:
        if name not in {"scenario", "design", *self.inputs, *self.outputs, *self.extras}:
            raise KeyError(f"{name!r} is not a column of {self.path}")
        parts = []
        categorical = name in self.categorical or name == "scenario"
        for k, (scenario, ds) in enumerate(self.datasets.items()):
            idx = self._feasible[scenario]
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
                stride = int(np.prod([ds.sizes[d] for d in dims[k + 1:]], dtype=np.int64))
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
                self._plot_columns[name] = np.where(values > 0, np.log10(values), np.float32(np.nan)).astype(
                    np.float32)
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
    def mask(self, filters: Mapping[str, object] | None = None,
             constraints: Mapping[str, object] | None = None) -> np.ndarray:
        """Rows that pass ``filters`` (inputs) and ``constraints`` (outputs).

        A categorical rule is a list of names; a numeric rule ``[low, high]``
        (either may be None: unbounded). Rules arrive from URLs too, so a
        name that is not a column or a rule of the wrong shape is ignored:
        ``mask({"cathode": ["LFP"]}, {"cost": [None, 120]})`` keeps the LFP
        designs that cost at most 120 USD/kWh.
        """
        keep = np.ones(self.n, dtype=bool)
        for rules in (filters, constraints):
            if not isinstance(rules, Mapping):
                continue
            for name, rule in rules.items():
                if not isinstance(name, str) or name not in {*self.categorical, *self.numeric_inputs, *self.outputs}:
                    continue
                if name in self.categorical:
                    allowed = self.allowed_codes(name, rule)
                    if allowed is not None:
                        keep &= allowed[self.column(name)]
                    continue
                bounds = _bounds(rule)
                if bounds is None:
                    continue
                values = self.column(name)
                lo, hi = bounds
                if lo is not None:
                    keep &= values >= np.float32(lo - 1e-6 * abs(lo))
                if hi is not None:
                    keep &= values <= np.float32(hi + 1e-6 * abs(hi))
        return keep

    def allowed_codes(self, name: str, rule) -> np.ndarray | None:
        """Boolean table over the codes of ``name``: True for the names in ``rule``."""
        if not isinstance(rule, list | tuple) or len(rule) > 10_000:
            return None
        names = self.categories[name]
        index = {c: i for i, c in enumerate(names)}
        allowed = np.zeros(len(names), dtype=bool)
        for value in rule:
            if str(value) in index:
                allowed[index[str(value)]] = True
        return allowed

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
        cache = self._chunk_fronts.setdefault((tuple(names), tuple(senses)), {})
        columns = [self.column(n) for n in names]
        kept = np.add.reduceat(keep, self._chunk_starts) if self.n else np.zeros(0, dtype=np.int64)
        candidates = []
        for c in np.flatnonzero(kept):
            lo = int(self._chunk_starts[c])
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
            _bin_index(self.column(name), float(edges[0]), HISTOGRAM_BINS / (edges[-1] - edges[0]), HISTOGRAM_BINS,
                       out)
            self._bins[name] = out
        return self._bins[name]

    def parallel_density(self, names: Sequence[str], keep: np.ndarray, width: int = 900, height: int = 300,
                         samples: int = 100_000) -> tuple[np.ndarray, int]:
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
            values = self.column(name)[rows]
            if name in self.categorical or name == "scenario":
                data[name] = np.asarray(self.categories[name], dtype=object)[values] if rows.size else \
                    np.zeros(0, dtype=object)
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


def _bounds(rule) -> tuple[float | None, float | None] | None:
    if not isinstance(rule, list | tuple) or len(rule) != 2:
        return None
    out = []
    for v in rule:
        if v is None:
            out.append(None)
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        out.append(f if math.isfinite(f) else None)
    return out[0], out[1]


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
