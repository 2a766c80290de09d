"""Axes and numbers as views show them: linear or log axes, their ticks, units and significant figures.

A log axis works in ``log10`` of the values (plot coordinates), so a design
is drawn in the pixel whose tick labels bracket its value, on every axis.

>>> axis = Axis("cycle_life", log=True, lo=1.0, hi=3.0)
>>> axis.to_plot(np.array([10.0, 1000.0])).tolist(), axis.from_plot(2.0)
([1.0, 3.0], 100.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: outputs spread over decades: shown (and aggregated) on log axes
LOG_AXES = frozenset({"cycle_life", "cycle_life_p10", "cycle_life_p90", "cost_per_cycle", "knee_cycles"})
#: share of an axis's span added on each side, so that no design sits on the frame
PADDING = 0.05


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
        return out or [
            (self.lo, format_value(self.from_plot(self.lo))),
            (self.hi, format_value(self.from_plot(self.hi))),
        ]


def display_unit(unit: str) -> str:
    """A unit as tables and axes show it.

    >>> display_unit("mAh/cm^2"), display_unit("degC"), display_unit("1")
    ('mAh/cm²', '°C', '')
    """
    return {
        "1": "",
        "percent": "%",
        "degC": "°C",
        "1/h": "C",
        "um": "µm",
        "mAh/cm^2": "mAh/cm²",
        "mA/cm^2": "mA/cm²",
    }.get(unit, unit)


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
    text = np.where(
        np.abs(distinct) >= 10.0**digits, np.char.mod("%.0f", distinct), np.char.mod(f"%.{digits}g", distinct)
    )[index.reshape(values.shape)]
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
