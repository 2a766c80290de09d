"""BDF files in, per-cycle capacities, CE, retention, formation and rests out (issue 23, point 1)."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from dse.cycler import (
    MIN_CYCLES,
    load_cycles,
    read_bdf,
    synthetic_series,
    write_bdf,
)
from dse.errors import CalibrationError


def generated(n=40, formation=2, seed=0):
    """Per-cycle truth: charge, discharge, CE, with slow formation cycles first."""
    rng = np.random.default_rng(seed)
    ce = 0.995 - 0.002 * rng.random(n)
    discharge = 0.010 * np.cumprod(np.r_[1.0, 0.996 + 0.002 * rng.random(n - 1)])
    charge = discharge / ce
    ic = np.where(np.arange(n) < formation, 0.0005, 0.002)
    return charge, discharge, ce, ic


@pytest.mark.parametrize("suffix", [".bdf.csv", ".bdf.csv.gz", ".bdf.parquet"])
def test_per_cycle_ce_is_what_the_generator_put_in(tmp_path, suffix):
    charge, discharge, ce, ic = generated()
    path = write_bdf(synthetic_series(charge, discharge, ic, 0.005), tmp_path / f"cell{suffix}")
    data = load_cycles(path)
    c = data.cycles
    assert len(c) == len(ce)
    np.testing.assert_allclose(c["coulombic_efficiency"], ce, rtol=1e-8)  # CSV keeps 9 digits
    np.testing.assert_allclose(c["charge_capacity"], charge, rtol=1e-8)
    np.testing.assert_allclose(c["discharge_capacity"], discharge, rtol=1e-8)
    assert c["formation"].tolist()[:3] == [True, True, False]
    regular = data.regular
    np.testing.assert_allclose(regular["retention"], discharge[2:] / discharge[2], rtol=1e-8)
    np.testing.assert_allclose(c["rest_time"], 1200.0, atol=4.0)  # two 10-min rests per cycle (+ switch seconds)
    assert data.problem() is None
    assert len(data.sha256) == 64


def test_capacities_in_mAh_headers_and_current_integration(tmp_path):
    charge, discharge, ce, ic = generated(n=12, formation=0)
    frame = synthetic_series(charge, discharge, ic, 0.005, points_per_step=400)
    mah = frame.assign(**{"Charging Capacity / mAh": 1000 * frame["Charging Capacity / Ah"]}).drop(
        columns=["Charging Capacity / Ah"]
    )
    data = load_cycles(write_bdf(mah, tmp_path / "mah.bdf.csv"))
    np.testing.assert_allclose(data.cycles["charge_capacity"], charge, rtol=1e-8)
    # no capacity columns: the current is integrated (the trapezoid shares each 1-s switch)
    bare = frame.drop(columns=["Charging Capacity / Ah", "Discharging Capacity / Ah", "Cycle Count / 1"])
    data = load_cycles(write_bdf(bare, tmp_path / "bare.bdf.csv"))
    np.testing.assert_allclose(data.cycles["coulombic_efficiency"], ce, rtol=1e-3)


def test_cycles_to_80_is_interpolated_and_censoring_is_said():
    from dse.cycler import CycleData

    retention = np.r_[1.0, 0.9, 0.85, 0.75, 0.7, 0.6]
    table = pd.DataFrame(
        {
            "cycle": np.arange(1, 7),
            "retention": retention,
            "formation": False,
            "incomplete": False,
            "coulombic_efficiency": 0.99,
        }
    )
    cells = CycleData(path=None, sha256="", cycles=table)
    n, reached = cells.cycles_to(0.8)
    assert reached and n == pytest.approx(2.5)
    assert cells.cycles_to(0.5) == (5.0, False)


def test_bad_time_series_are_one_error_each(tmp_path):
    charge, discharge, _, ic = generated(n=8, formation=0)
    frame = synthetic_series(charge, discharge, ic, 0.005)
    back = frame.copy()
    back.loc[20, "Test Time / s"] = back.loc[18, "Test Time / s"]
    with pytest.raises(CalibrationError, match="time is not increasing at data row 21"):
        read_bdf(write_bdf(back, tmp_path / "back.bdf.csv"))
    gap = frame.copy()
    gap.loc[30:, "Test Time / s"] += 5 * 86400.0
    with pytest.raises(CalibrationError, match="gap of 120.* h in the time series at data row 31"):
        read_bdf(write_bdf(gap, tmp_path / "gap.bdf.csv"))
    bare = frame.rename(columns={"Voltage / V": "Voltage"})
    with pytest.raises(CalibrationError, match="'Voltage' has no unit"):
        read_bdf(write_bdf(bare, tmp_path / "nounit.bdf.csv"))
    wrong = frame.rename(columns={"Current / A": "Current / V"})
    with pytest.raises(CalibrationError, match="not a unit of A"):
        read_bdf(write_bdf(wrong, tmp_path / "wrong.bdf.csv"))
    (tmp_path / "text.bdf.csv").write_text("hello,world\n1,2\n")
    with pytest.raises(CalibrationError, match="not a BDF file: no 'Test Time / s'"):
        read_bdf(tmp_path / "text.bdf.csv")
    (tmp_path / "junk.bdf.parquet").write_bytes(b"\x00\x01 not parquet")
    with pytest.raises(CalibrationError, match="not a readable BDF file"):
        read_bdf(tmp_path / "junk.bdf.parquet")
    (tmp_path / "junk.bdf.csv.gz").write_bytes(gzip.compress(b"\xff\xfe\x00") + b"trailing")
    with pytest.raises(CalibrationError, match="junk.bdf.csv.gz"):
        read_bdf(tmp_path / "junk.bdf.csv.gz")
    with pytest.raises(CalibrationError, match="not a BDF file name"):
        read_bdf(tmp_path / "cell.csv")


def test_few_cycles_and_ce_above_100_are_flagged_not_fitted(tmp_path):
    charge, discharge, _, ic = generated(n=MIN_CYCLES - 1, formation=0)
    data = load_cycles(write_bdf(synthetic_series(charge, discharge, ic, 0.005), tmp_path / "few.bdf.csv"))
    assert data.problem() == f"fewer than {MIN_CYCLES} regular cycles ({MIN_CYCLES - 1})"
    charge, discharge, _, ic = generated(n=30, formation=0)
    charge[10] = discharge[10] / 1.03
    data = load_cycles(write_bdf(synthetic_series(charge, discharge, ic, 0.005), tmp_path / "short.bdf.csv"))
    assert data.problem().startswith("CE above 100 % in 1 of 30 cycles (first: cycle 11, 103.00 %)")
