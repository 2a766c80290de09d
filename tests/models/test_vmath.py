"""The models' own exp, log, log1p and expm1 against numpy's (the C library's).

They are written in plain arithmetic so that the sweep kernel's loop over
designs vectorizes (``dse.models.vmath``). The reference is numpy, whose
functions are within about 1 ulp of the correctly rounded result; the bounds
below are the error each construction allows, not a measured maximum widened:

* exp: Taylor remainder < 1e-17 on |r| <= ln(2)/2, a few roundings → 2 ulp;
* log, log1p: one division for s = (m-1)/(m+1), then a series → 3 ulp;
* expm1: exp(x) - 1 for |x| >= 0.35 loses up to ~3 ulp to the subtraction → 5 ulp;
* the short series of ``dse.models.lifetime.cycle_life``, on the ranges they
  are used on: the same series as log and expm1 without range reduction, so
  the same bounds (3 ulp and 2 ulp).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dse.models.vmath import (
    exp,
    expm1,
    expm1_series,
    log,
    log1p,
    log1p_series,
    log_ratio_series,
    sqrt,
)
from dse.testing import examples

FINITE = dict(allow_nan=False, allow_infinity=False)


def _ulps(got, ref):
    got, ref = np.asarray(got, float), np.asarray(ref, float)
    with np.errstate(invalid="ignore"):
        return np.abs(got - ref) / np.spacing(np.abs(ref))


def _wide_samples(rng):
    """Arguments over the whole useful range of each function, log-uniform where that matters."""
    return {
        exp: np.concatenate(
            [rng.uniform(-745.0, 709.7, 200_000), rng.uniform(-1.0, 1.0, 200_000), rng.uniform(-1e-6, 1e-6, 20_000)]
        ),
        log: np.concatenate(
            [
                np.exp(rng.uniform(-744.0, 709.0, 200_000)),
                rng.uniform(0.5, 2.0, 200_000),
                5e-324 * rng.integers(1, 2**40, 20_000),
            ]
        ),
        log1p: np.concatenate(
            [
                rng.uniform(-0.999, 1.0, 200_000),
                np.exp(rng.uniform(-700.0, 700.0, 200_000)),
                -np.exp(rng.uniform(-700.0, -1e-3, 200_000)),
            ]
        ),
        expm1: np.concatenate(
            [rng.uniform(-1.0, 1.0, 200_000), rng.uniform(-40.0, 709.0, 200_000), rng.uniform(-1e-8, 1e-8, 20_000)]
        ),
    }


REFERENCE = {exp: np.exp, log: np.log, log1p: np.log1p, expm1: np.expm1}
BOUND_ULPS = {exp: 2, log: 3, log1p: 3, expm1: 5}


@pytest.mark.parametrize("f", [exp, log, log1p, expm1], ids=lambda f: f.__name__)
def test_within_a_few_ulps_of_numpy_over_the_whole_range(f):
    x = _wide_samples(np.random.default_rng(7))[f]
    ref = REFERENCE[f](x)
    ok = np.isfinite(ref) & (ref != 0)
    assert ok.mean() > 0.99
    assert _ulps(f(x)[ok], ref[ok]).max() <= BOUND_ULPS[f]


SPECIAL = np.array(
    [
        0.0,
        -0.0,
        np.inf,
        -np.inf,
        np.nan,
        -1.0,
        1.0,
        -2.0,
        709.78,
        709.8,
        710.0,
        -745.1,
        -746.0,
        1e-320,
        5e-324,
        2.2250738585072014e-308,
        1e-300,
        -1e-300,
        1e300,
        -1e300,
    ]
)


@pytest.mark.parametrize("f", [exp, log, log1p, expm1], ids=lambda f: f.__name__)
def test_special_values_as_numpy(f):
    with np.errstate(all="ignore"):
        got, ref = f(SPECIAL), REFERENCE[f](SPECIAL)
    same = (got == ref) | (np.isnan(got) & np.isnan(ref))
    close = np.isfinite(ref) & (_ulps(got, ref) <= BOUND_ULPS[f])
    assert np.all(same | close), SPECIAL[~(same | close)]


@settings(max_examples=examples(300), deadline=None)
@given(st.floats(-700.0, 700.0, **FINITE))
def test_exp_and_log_invert_each_other(x):
    assert abs(float(log(exp(x))) - x) <= 4 * np.spacing(max(abs(x), 1.0))


@settings(max_examples=examples(300), deadline=None)
@given(st.floats(-0.5, 0.5, **FINITE))
def test_log1p_and_expm1_keep_small_arguments(x):
    # near zero both are x (1 + O(x)); relative accuracy must not be lost there
    y = float(expm1(x))
    assert abs(float(log1p(y)) - x) <= 8 * np.spacing(abs(x)) + 1e-300


def test_sqrt_is_correctly_rounded():
    x = np.random.default_rng(3).uniform(0.0, 1e6, 10_000)
    assert np.array_equal(sqrt(x), np.sqrt(x))
    with np.errstate(invalid="ignore"):
        assert np.isnan(sqrt(-1.0))


def test_short_series_within_a_few_ulps_on_their_ranges():
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.uniform(-0.29, 0.41, 200_000), -np.exp(rng.uniform(-40.0, np.log(0.29), 100_000))])
    assert _ulps(log1p_series(x), np.log1p(x)).max() <= 3
    b = rng.uniform(0.1, 10.0, 200_000)
    a = b * np.concatenate([rng.uniform(0.71, 1.41, 100_000), 1.0 - np.exp(rng.uniform(-35.0, -1.3, 100_000))])
    # a - b is exact and / b rounds once, so numpy's log1p of it is a reference to ~1 ulp (3 + 1)
    assert _ulps(log_ratio_series(a, b), np.log1p((a - b) / b)).max() <= 4
    y = np.concatenate([rng.uniform(-0.35, 0.35, 200_000), rng.uniform(-1e-8, 1e-8, 20_000)])
    assert _ulps(expm1_series(y), np.expm1(y)).max() <= 2


def test_plain_math_switch_runs_the_kernel_on_the_c_library(tmp_path):
    """DSE_PLAIN_MATH=1: the same sweep block through the kernel agrees with the default to rounding."""
    import json
    import os
    import subprocess
    import sys

    script = (
        "import json, numpy as np\n"
        "from dse.modelchain import ModelChain\n"
        "from dse.models import vmath\n"
        "from dse.models.kernel import INPUT_ORDER\n"
        "chain = ModelChain(uncertainty=True)\n"
        "rng = np.random.default_rng(3)\n"
        "n = 256\n"
        "cols = {'cathode_loading': rng.uniform(0.5, 10, n), 'stack_pressure': rng.uniform(0, 5, n),\n"
        "        'temperature': rng.uniform(-10, 60, n), 'charge_rate': rng.uniform(0.05, 2, n),\n"
        "        'electrolyte_amount': rng.uniform(2, 6, n)}\n"
        "from dse.vocabulary import INPUTS\n"
        "full = {k: (chain.codes(k, [INPUTS[k].default] * n) if INPUTS[k].categorical else\n"
        "            np.asarray(cols.get(k, np.full(n, float(INPUTS[k].default))), dtype=float)) for k in INPUT_ORDER}\n"
        "names = ['cycle_life', 'specific_energy', 'cycle_life_p10']\n"
        "block = chain.evaluate_block([n], [0] * len(INPUT_ORDER), np.arange(len(INPUT_ORDER)) * n,\n"
        "                             np.concatenate([full[k] for k in INPUT_ORDER]), names, dtype=np.float64)\n"
        "out = dict(zip(names, block))\n"
        "print(json.dumps({'plain': bool(vmath.PLAIN_MATH), 'life': out['cycle_life'].tolist(),\n"
        "                  'se': out['specific_energy'].tolist(), 'p10': out['cycle_life_p10'].tolist()}))\n"
    )
    results = {}
    for flag in ("0", "1"):
        # (the default kernel comes from the on-disk cache other tests filled; the plain one has its own)
        env = {**os.environ, "DSE_PLAIN_MATH": flag}
        proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        results[flag] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results["1"]["plain"] and not results["0"]["plain"]
    for key in ("life", "se", "p10"):
        a, b = np.asarray(results["0"][key]), np.asarray(results["1"][key])
        assert np.isfinite(a).sum() > 100
        # energies to rounding; cycle counts are whole numbers, a last-place difference may move one by one
        tol = 1e-12 if key == "se" else 0.0
        close = np.isclose(a, b, rtol=tol, atol=1.0 if key != "se" else 0.0, equal_nan=True)
        assert close.all(), (key, a[~close][:5], b[~close][:5])
