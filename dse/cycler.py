"""Cycler data in: Battery Data Format (BDF) time series to per-cycle tables.

The Battery Data Format (Battery Data Alliance) stores one time series per
cell with unit-bearing headers ``"Quantity / unit"``: ``Test Time / s``,
``Voltage / V`` and ``Current / A`` are required; ``Cycle Count / 1``,
``Charging Capacity / Ah``, ``Discharging Capacity / Ah``, ``Charging
Energy / Wh`` and ``Discharging Energy / Wh`` are recommended or optional.
Files are ``*.bdf.csv`` (optionally gzip-compressed, ``*.bdf.csv.gz``) or
``*.bdf.parquet``. They are read with the ``batterydf`` package (import name
``bdf``, the ``cells`` extra of dse): ``bdf.io.load`` parses CSV and Parquet
and maps legacy labels to the preferred ones. batterydf 0.1.0 does not
recognise a ``.bdf.csv.gz`` name, so gzip files are decompressed by pandas
and passed through the same label canonicalisation. batterydf keeps the
unit of a header as written (``Charging Capacity / mAh`` stays in mAh), so
dse reads the unit of every header it uses itself, with :data:`dse.units.ureg`,
and converts to A h, V, s; a header without a unit is refused.

From the time series (:func:`cycle_table`), per cycle:

* ``charge_capacity``, ``discharge_capacity`` [A h]: from the capacity
  columns when present, as the sum of the positive increments of each
  counter within the cycle (counters that reset per step or per cycle and
  counters that accumulate over the test give the same sum); otherwise the
  trapezoidal integral of the positive (charge) and negative (discharge)
  parts of the current (BDF sign: charge positive);
* ``coulombic_efficiency`` = discharge / charge of the same cycle (an
  anode-free cycle plates on charge and strips on discharge);
* ``retention`` = discharge capacity / that of the first regular cycle;
* ``discharge_energy`` [W h] from ``Discharging Energy`` or ∫ V·|I| dt;
* ``rest_time`` [s]: time at ``|I|`` below 0.1 % of the largest current;
* ``formation``: leading cycles (at most :data:`MAX_FORMATION_CYCLES`) whose
  mean charge current is below :data:`FORMATION_RATE_RATIO` of the median
  of the later cycles (slow formation cycles);
* ``incomplete``: cycles without both a charge and a discharge (a leading
  rest, a last cycle cut off), left out of everything else.

Cycle numbers come from ``Cycle Count`` when present; otherwise a cycle
starts at every charge that follows a discharge.

The time series is checked before anything is derived: time must be finite
and strictly increasing, and no step may exceed :func:`max_gap` (a gap in
logging loses charge or discharge that the counters cannot tell).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dse.errors import CalibrationError
from dse.literature import file_sha256

__all__ = [
    "BDF_SUFFIXES",
    "QUANTITIES",
    "MIN_CYCLES",
    "MAX_FORMATION_CYCLES",
    "FORMATION_RATE_RATIO",
    "CE_ABOVE_ONE_TOLERANCE",
    "CycleData",
    "is_bdf",
    "read_bdf",
    "max_gap",
    "cycle_table",
    "load_cycles",
    "synthetic_series",
    "write_bdf",
    "read_frame",
]

#: file names read as BDF
BDF_SUFFIXES = (".bdf.csv", ".bdf.csv.gz", ".bdf.parquet")
#: BDF quantities used: (preferred label without unit) -> (key, canonical unit, required)
QUANTITIES = {
    "test time": ("time", "s", True),
    "voltage": ("voltage", "V", True),
    "current": ("current", "A", True),
    "cycle count": ("cycle", "", False),
    "charging capacity": ("charge_capacity", "A*h", False),
    "discharging capacity": ("discharge_capacity", "A*h", False),
    "discharging energy": ("discharge_energy", "W*h", False),
}
#: fewest regular cycles a cell needs to be fitted
MIN_CYCLES = 5
#: formation cycles are looked for among this many leading cycles
MAX_FORMATION_CYCLES = 5
#: a leading cycle charged below this fraction of the later cycles' median current is formation
FORMATION_RATE_RATIO = 0.7
#: a cycle's CE above 1 + this is not measurement noise (soft short, swapped columns, lost data)
CE_ABOVE_ONE_TOLERANCE = 0.005
#: a time step longer than this many median steps (and longer than an hour) is a gap
GAP_FACTOR = 50.0
_HEADER = re.compile(r"^\s*(?P<base>.*?)\s*/\s*(?P<unit>[^/]*?)\s*$")


@dataclass
class CycleData:
    """Per-cycle table of one cell and what was found while deriving it.

    Attributes
    ----------
    path : Path
    sha256 : str
        Of the file as read.
    cycles : pandas.DataFrame
        One row per cycle: ``cycle``, ``charge_capacity`` [A h],
        ``discharge_capacity`` [A h], ``coulombic_efficiency`` [-],
        ``retention`` [-], ``discharge_energy`` [W h], ``charge_current``
        and ``discharge_current`` (mean magnitudes) [A], ``rest_time`` [s],
        ``formation``, ``incomplete`` (bool).
    notes : list of str
    """

    path: Path
    sha256: str
    cycles: pd.DataFrame
    notes: list = field(default_factory=list)

    @property
    def regular(self) -> pd.DataFrame:
        """Cycles that are neither formation nor incomplete."""
        c = self.cycles
        return c[~c["formation"] & ~c["incomplete"]]

    def ce_above_one(self) -> pd.DataFrame:
        """Regular cycles whose CE exceeds 1 + :data:`CE_ABOVE_ONE_TOLERANCE`."""
        r = self.regular
        return r[r["coulombic_efficiency"] > 1.0 + CE_ABOVE_ONE_TOLERANCE]

    def problem(self) -> str | None:
        """Why the cell cannot be fitted, or None (fewer than 5 cycles; CE above 100 %)."""
        r = self.regular
        if len(r) < MIN_CYCLES:
            return f"fewer than {MIN_CYCLES} regular cycles ({len(r)})"
        high = self.ce_above_one()
        if len(high):
            first = high.iloc[0]
            return (
                f"CE above 100 % in {len(high)} of {len(r)} cycles (first: cycle "
                f"{int(first['cycle'])}, {100 * first['coulombic_efficiency']:.2f} %): soft short, "
                "swapped columns or lost data; not fitted"
            )
        if float(r["coulombic_efficiency"].mean()) >= 1.0:
            return "mean CE is not below 100 %: no loss to fit"
        return None

    def cycles_to(self, retention: float = 0.8) -> tuple[float, bool]:
        """Regular cycles until ``retention`` of the first, interpolated; and whether it was reached.

        Counts as :func:`dse.calibration.chain_retention` does: retention
        after n cycles is the capacity of regular cycle n + 1 over that of
        the first. Not reached: the number of cycles measured and False.
        """
        r = self.regular["retention"].to_numpy(float)
        below = np.flatnonzero(r < retention)
        if len(below) == 0:
            return float(len(r) - 1), False
        k = int(below[0])
        if k == 0:
            return 0.0, True
        frac = (r[k - 1] - retention) / (r[k - 1] - r[k])
        return float(k - 1 + frac), True


def is_bdf(path: str | Path) -> bool:
    """Whether a file name is a BDF file dse reads.

    >>> is_bdf("cell-01.bdf.csv.gz"), is_bdf("cell-01.csv")
    (True, False)
    """
    return str(path).lower().endswith(BDF_SUFFIXES)


def _load_frame(path: Path) -> pd.DataFrame:
    """The file as a DataFrame with batterydf's preferred labels."""
    try:
        import bdf.io
        from bdf.normalize import canonicalize_legacy_labels
    except ImportError:
        raise CalibrationError(
            "reading BDF files needs the batterydf package: pip install 'dse[cells]'", where=str(path)
        ) from None
    with warnings.catch_warnings():
        # batterydf warns when it renames legacy labels; dse checks the labels itself
        warnings.simplefilter("ignore")
        try:
            if path.name.lower().endswith(".gz"):
                frame = pd.read_csv(path, compression="gzip", on_bad_lines="error", engine="python")
                frame, _ = canonicalize_legacy_labels(frame)
                return frame
            return bdf.io.load(path)
        except (ValueError, OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise CalibrationError(f"not a readable BDF file ({text[:200]})", where=str(path)) from None
        except Exception as exc:  # pyarrow and friends raise their own kinds for a file that is not theirs
            raise CalibrationError(f"not a readable BDF file ({type(exc).__name__})", where=str(path)) from None


def read_bdf(path: str | Path) -> pd.DataFrame:
    """One BDF file as columns ``time`` [s], ``voltage`` [V], ``current`` [A] and the optional ones.

    Optional columns (NaN-free when present): ``cycle``, ``charge_capacity``
    [A h], ``discharge_capacity`` [A h], ``discharge_energy`` [W h]. Units
    are read from each header and converted.

    Raises
    ------
    CalibrationError
        Not readable, a required quantity missing, a used header without a
        unit or with a unit of the wrong dimension, non-numeric values, or a
        time series with non-finite, decreasing or repeated times or a gap
        (:func:`max_gap`).
    """
    from dse.units import ureg

    path = Path(path)
    if not is_bdf(path):
        raise CalibrationError(f"not a BDF file name (expected {', '.join(BDF_SUFFIXES)})", where=str(path))
    frame = _load_frame(path)
    out: dict[str, np.ndarray] = {}
    for column in frame.columns:
        text = str(column)
        match = _HEADER.match(text)
        base = (match["base"] if match else text).strip().lower()
        if base not in QUANTITIES:
            continue
        key, unit, _ = QUANTITIES[base]
        if match is None or not match["unit"]:
            raise CalibrationError(
                f"column {text!r} has no unit (BDF headers are 'Quantity / unit', e.g. '{base.title()} / {unit or 1}')",
                where=str(path),
            )
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise CalibrationError(
                f"column {text!r} has a missing or non-numeric value at data row {row + 1}", where=str(path)
            )
        try:
            factor = float(ureg.Quantity(1.0, match["unit"]).to(unit or "dimensionless").magnitude)
        except Exception:
            raise CalibrationError(
                f"column {text!r}: unit {match['unit']!r} is not a unit of {unit or 'count'}", where=str(path)
            ) from None
        out[key] = values * factor
    missing = [f"'{b.title()} / {u}'" for b, (k, u, req) in QUANTITIES.items() if req and k not in out]
    if missing:
        found = ", ".join(repr(str(c))[:40] for c in list(frame.columns)[:6])
        raise CalibrationError(
            f"not a BDF file: no {' or '.join(missing)} column (found {found or 'none'})", where=str(path)
        )
    table = pd.DataFrame(out)
    _check_time(table["time"].to_numpy(float), path)
    if "cycle" in table and np.any(np.diff(table["cycle"].to_numpy(float)) < 0):
        row = int(np.flatnonzero(np.diff(table["cycle"].to_numpy(float)) < 0)[0]) + 2
        raise CalibrationError(f"cycle count decreases at data row {row}", where=str(path))
    return table


def max_gap(time) -> float:
    """Longest time step that is not a gap in logging [s].

    ``max(GAP_FACTOR × median step, 1 h)``: cyclers log every few seconds
    to minutes, also at rest, so a step of fifty typical steps is missing
    data, not a slow sample.

    >>> max_gap([0.0, 60.0, 120.0, 180.0])
    3600.0
    """
    steps = np.diff(np.asarray(time, dtype=float))
    steps = steps[steps > 0]
    typical = float(np.median(steps)) if len(steps) else 0.0
    return max(GAP_FACTOR * typical, 3600.0)


def _check_time(time: np.ndarray, path: Path) -> None:
    if len(time) < 2:
        raise CalibrationError(f"time series has {len(time)} row(s)", where=str(path))
    steps = np.diff(time)
    if np.any(steps <= 0):
        row = int(np.flatnonzero(steps <= 0)[0]) + 2
        raise CalibrationError(
            f"time is not increasing at data row {row} ({time[row - 2]:g} s then {time[row - 1]:g} s)", where=str(path)
        )
    limit = max_gap(time)
    if np.any(steps > limit):
        row = int(np.flatnonzero(steps > limit)[0]) + 2
        raise CalibrationError(
            f"gap of {steps[row - 2] / 3600:.1f} h in the time series at data row {row} "
            f"(more than {limit / 3600:.1f} h without a record)",
            where=str(path),
        )


def _cycle_numbers(current: np.ndarray) -> np.ndarray:
    """Cycle of every row when the file has no ``Cycle Count``: a charge after a discharge starts one."""
    sign = np.sign(np.where(np.abs(current) > 1e-3 * np.max(np.abs(current), initial=0.0), current, 0.0))
    cycle = np.zeros(len(current), dtype=np.int64)
    n, last = 1, 0.0
    for i, s in enumerate(sign):
        if s > 0 and last < 0:
            n += 1
        if s != 0:
            last = s
        cycle[i] = n
    return cycle


def _increments(values: np.ndarray) -> np.ndarray:
    """Positive increments of a counter per row (row 0 counts from 0)."""
    return np.clip(np.diff(values, prepend=0.0), 0.0, None)


def cycle_table(series: pd.DataFrame) -> pd.DataFrame:
    """Per-cycle capacities, CE, retention, energy, rests and formation (module docstring).

    Examples
    --------
    Two cycles, 1 A h in and 0.99 A h out, sampled every 36 s (the
    trapezoid shares each switch of current between two steps):

    >>> t = np.arange(0.0, 4.0, 0.01) * 3600
    >>> current = np.where((t % 7200) < 3600, 1.0, -0.99)
    >>> series = pd.DataFrame({"time": t, "voltage": 3.8, "current": current})
    >>> cycle_table(series)["coulombic_efficiency"].round(3).tolist()
    [0.99, 0.99]
    """
    time = series["time"].to_numpy(float)
    current = series["current"].to_numpy(float)
    voltage = series["voltage"].to_numpy(float)
    cycle = (series["cycle"].to_numpy(float) if "cycle" in series else _cycle_numbers(current)).astype(np.int64)
    dt = np.diff(time, prepend=time[0])
    # trapezoid: each step belongs to the row that ends it
    mid = 0.5 * (current + np.concatenate([[current[0]], current[:-1]]))
    power = voltage * current
    mid_power = 0.5 * (power + np.concatenate([[power[0]], power[:-1]]))
    if "charge_capacity" in series:
        charged = _increments(series["charge_capacity"].to_numpy(float))
    else:
        charged = np.clip(mid, 0.0, None) * dt / 3600.0
    if "discharge_capacity" in series:
        discharged = _increments(series["discharge_capacity"].to_numpy(float))
    else:
        discharged = np.clip(-mid, 0.0, None) * dt / 3600.0
    if "discharge_energy" in series:
        energy = _increments(series["discharge_energy"].to_numpy(float))
    else:
        energy = np.clip(-mid_power, 0.0, None) * dt / 3600.0
    threshold = 1e-3 * np.max(np.abs(current), initial=0.0)
    resting = np.abs(mid) <= threshold
    frame = pd.DataFrame(
        {
            "cycle": cycle,
            "charge_capacity": charged,
            "discharge_capacity": discharged,
            "discharge_energy": energy,
            "charge_time": np.where(mid > threshold, dt, 0.0),
            "discharge_time": np.where(mid < -threshold, dt, 0.0),
            "rest_time": np.where(resting, dt, 0.0),
        }
    )
    out = frame.groupby("cycle", sort=True).sum().reset_index()
    scale = max(float(out["charge_capacity"].max()), 1e-300)
    out["incomplete"] = (out["charge_capacity"] < 1e-3 * scale) | (out["discharge_capacity"] < 1e-3 * scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["coulombic_efficiency"] = np.where(
            out["incomplete"], np.nan, out["discharge_capacity"] / out["charge_capacity"]
        )
        out["charge_current"] = out["charge_capacity"] * 3600.0 / out["charge_time"]
        out["discharge_current"] = out["discharge_capacity"] * 3600.0 / out["discharge_time"]
    complete = np.flatnonzero(~out["incomplete"].to_numpy())
    formation = np.zeros(len(out), dtype=bool)
    if len(complete) > MAX_FORMATION_CYCLES + 1:
        rate = out["charge_current"].to_numpy(float)
        later = float(np.median(rate[complete[MAX_FORMATION_CYCLES:]]))
        for k in complete[:MAX_FORMATION_CYCLES]:
            if rate[k] < FORMATION_RATE_RATIO * later:
                formation[k] = True
            else:
                break
    out["formation"] = formation
    regular = ~out["formation"] & ~out["incomplete"]
    first = out.loc[regular, "discharge_capacity"]
    reference = float(first.iloc[0]) if len(first) else np.nan
    out["retention"] = np.where(out["incomplete"], np.nan, out["discharge_capacity"] / reference)
    columns = [
        "cycle",
        "charge_capacity",
        "discharge_capacity",
        "coulombic_efficiency",
        "retention",
        "discharge_energy",
        "charge_current",
        "discharge_current",
        "rest_time",
        "formation",
        "incomplete",
    ]
    return out[columns]


def load_cycles(path: str | Path) -> CycleData:
    """Read one BDF file (:func:`read_bdf`) and derive its cycles (:func:`cycle_table`)."""
    path = Path(path)
    series = read_bdf(path)
    table = cycle_table(series)
    notes = []
    n_form = int(table["formation"].sum())
    if n_form:
        notes.append(f"{n_form} formation cycle(s)")
    n_inc = int(table["incomplete"].sum())
    if n_inc:
        notes.append(f"{n_inc} incomplete cycle(s) left out")
    return CycleData(path=path, sha256=file_sha256(path), cycles=table, notes=notes)


def synthetic_series(
    charge_capacity,
    discharge_capacity,
    charge_current,
    discharge_current,
    points_per_step: int = 6,
    rest: float = 600.0,
) -> pd.DataFrame:
    """A BDF time series (preferred labels) that cycles the given capacities.

    Every cycle: constant-current charge of ``charge_capacity[k]`` at
    ``charge_current[k]``, a rest of ``rest`` seconds, constant-current
    discharge of ``discharge_capacity[k]``, a rest. Each step is sampled at
    ``points_per_step`` points including its ends (1 s after the previous
    step's last record), the capacity counters restart at every step as
    many cyclers do, and the voltage is a plain ramp. For tests and for
    ``tools/make_example_cells.py``; the capacities read back by
    :func:`cycle_table` are the ones given.

    Parameters
    ----------
    charge_capacity, discharge_capacity : array_like
        Per cycle [A h].
    charge_current, discharge_current : array_like
        Per cycle, magnitudes [A].
    points_per_step : int, default 6
    rest : float, default 600
        [s]

    Returns
    -------
    pandas.DataFrame
        ``Test Time / s``, ``Voltage / V``, ``Current / A``, ``Cycle Count / 1``,
        ``Charging Capacity / Ah``, ``Discharging Capacity / Ah``,
        ``Discharging Energy / Wh``.

    Examples
    --------
    >>> s = synthetic_series([1.0, 1.0], [0.99, 0.98], [0.5, 0.5], [1.0, 1.0])
    >>> cycle_table(read_frame(s))["coulombic_efficiency"].round(3).tolist()
    [0.99, 0.98]
    """
    qc, qd, ic, idis = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (charge_capacity, discharge_capacity, charge_current, discharge_current))
    )
    parts = []
    t0 = 0.0
    frac = np.linspace(0.0, 1.0, points_per_step)
    zero = np.zeros(points_per_step)
    for k in range(len(qc)):
        cycle = np.full(points_per_step, k + 1.0)
        # charge
        dur = max(3600.0 * qc[k] / ic[k], float(points_per_step))
        parts.append(
            np.column_stack(
                [t0 + 1.0 + dur * frac, 3.4 + 0.8 * frac, np.full_like(frac, ic[k]), cycle, qc[k] * frac, zero, zero]
            )
        )
        t0 = t0 + 1.0 + dur
        parts.append(
            np.array([[t0 + 1.0, 4.15, 0.0, k + 1.0, 0.0, 0.0, 0.0], [t0 + rest, 4.15, 0.0, k + 1.0, 0.0, 0.0, 0.0]])
        )
        t0 += rest
        dur = max(3600.0 * qd[k] / idis[k], float(points_per_step))
        volts = 4.1 - 1.1 * frac
        energy = qd[k] * (4.1 * frac - 0.55 * frac**2)  # ∫ V dq of the linear ramp
        parts.append(
            np.column_stack(
                [t0 + 1.0 + dur * frac, volts, np.full_like(frac, -idis[k]), cycle, zero, qd[k] * frac, energy]
            )
        )
        t0 = t0 + 1.0 + dur
        parts.append(
            np.array([[t0 + 1.0, 3.05, 0.0, k + 1.0, 0.0, 0.0, 0.0], [t0 + rest, 3.05, 0.0, k + 1.0, 0.0, 0.0, 0.0]])
        )
        t0 += rest
    labels = [
        "Test Time / s",
        "Voltage / V",
        "Current / A",
        "Cycle Count / 1",
        "Charging Capacity / Ah",
        "Discharging Capacity / Ah",
        "Discharging Energy / Wh",
    ]
    return pd.DataFrame(np.vstack(parts), columns=labels)


def read_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of :func:`read_bdf` from an in-memory frame with BDF labels (no file)."""
    out = {}
    for column in frame.columns:
        match = _HEADER.match(str(column))
        base = (match["base"] if match else str(column)).strip().lower()
        if base in QUANTITIES and match:
            out[QUANTITIES[base][0]] = frame[column].to_numpy(float)
    return pd.DataFrame(out)


def write_bdf(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a BDF frame as ``.bdf.csv``, ``.bdf.csv.gz`` or ``.bdf.parquet`` (by the name)."""
    path = Path(path)
    if not is_bdf(path):
        raise CalibrationError(f"not a BDF file name (expected {', '.join(BDF_SUFFIXES)})", where=str(path))
    if path.name.lower().endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(
            path,
            index=False,
            float_format="%.9g",
            compression={"method": "gzip", "mtime": 0} if path.name.lower().endswith(".gz") else None,
        )
    return path
