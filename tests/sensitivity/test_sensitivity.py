"""Sensitivity indices: analytic references, oracles, laziness, errors and a real sweep."""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from dse.design import saltelli_samples, unit_samples
from dse.errors import SpecError
from dse.sensitivity import (
    COLUMNS,
    binned_first_order,
    main_effects,
    plot_sensitivity,
    sensitivity,
    sobol_indices,
)

# Ishigami & Homma (1990), a = 7, b = 0.1, inputs uniform on [-π, π]. Analytic variances:
# V = a²/8 + bπ⁴/5 + b²π⁸/18 + 1/2, V1 = (1 + bπ⁴/5)²/2, V2 = a²/8, V13 = b²π⁸(1/18 - 1/50),
# V3 = 0; S1 = (V1, V2, 0)/V and ST = (V1 + V13, V2, V13)/V, to four decimals.
ISHIGAMI_S1 = np.array([0.3139, 0.4424, 0.0])
ISHIGAMI_ST = np.array([0.5576, 0.4424, 0.2437])


def ishigami(u: np.ndarray) -> np.ndarray:
    x = -np.pi + 2.0 * np.pi * u
    return np.sin(x[:, 0]) + 7.0 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


def sampled_dataset(u, y, method, n=None, names=None, dtype=np.float32, **extra):
    """A sampled scenario as ``dse sweep`` writes it (inputs, one objective, feasible)."""
    names = names or [f"x{j + 1}" for j in range(u.shape[1])]
    variables = {x: ("design", u[:, j], {"dse_role": "input", "units": "1"}) for j, x in enumerate(names)}
    variables["y"] = (
        "design",
        np.asarray(y, dtype=dtype),
        {"dse_sense": "max", "units": "W", "long_name": "Test output"},
    )
    variables["feasible"] = ("design", np.ones(len(u), dtype=bool))
    variables.update(extra)
    attrs = {
        "dse_scenario": "test",
        "dse_kind": "sampled",
        "dse_sampler": method,
        "dse_sampler_n": n or len(u),
        "dse_sampler_seed": 0,
        "dse_sampled_inputs": names,
    }
    return xr.Dataset(variables, coords={"design": np.arange(len(u))}, attrs=attrs)


def saltelli_dataset(f, n, d, seed=0, dtype=np.float32):
    u = saltelli_samples(n, d, seed, 0, n * (d + 2))
    return sampled_dataset(u, f(u), "saltelli", n=n, dtype=dtype)


# --------------------------------------------------------------------------------- Sobol'
@pytest.fixture(scope="module")
def ishigami_indices() -> pd.DataFrame:
    return sobol_indices(saltelli_dataset(ishigami, 2**13, 3), n_boot=300)


def test_ishigami_sobol_indices_match_the_analytic_values(ishigami_indices):
    df = ishigami_indices
    assert list(df.columns) == list(COLUMNS)
    assert (df["n_used"] == 2**13).all() and (df["method"] == "sobol").all()
    # Tolerance: with n = 2^13 i.i.d. base rows the standard errors of these estimators are
    # 0.005-0.015 (half the bootstrap 95 % intervals below, ≈ 0.02-0.03, over 1.96); the
    # scrambled Sobol' design is more accurate still (errors < 0.002 over five seeds), so
    # 0.02 is ≥ 1.3 i.i.d. standard errors and ~10 times the observed error.
    np.testing.assert_allclose(df["first_order"], ISHIGAMI_S1, atol=0.02)
    np.testing.assert_allclose(df["total_order"], ISHIGAMI_ST, atol=0.02)
    # the 95 % bootstrap intervals cover the truth and are neither empty nor vacuous
    for order, truth in (("first_order", ISHIGAMI_S1), ("total_order", ISHIGAMI_ST)):
        low, high = df[f"{order}_low"].to_numpy(), df[f"{order}_high"].to_numpy()
        assert np.all((low <= truth) & (truth <= high)), order
        assert np.all((high - low > 0.005) & (high - low < 0.1)), order
    # S1 ≤ ST within the intervals; x3 acts only through its interaction with x1
    assert (df["first_order_low"] <= df["total_order_high"]).all()


def test_sobol_indices_do_not_depend_on_an_output_offset():
    """Centring (Sobol' 2001) makes the estimates invariant to adding a constant."""
    base = sobol_indices(saltelli_dataset(ishigami, 512, 3, dtype=np.float64), n_boot=50)
    shifted = sobol_indices(saltelli_dataset(lambda u: ishigami(u) + 1e4, 512, 3, dtype=np.float64), n_boot=50)
    cols = ["first_order", "first_order_low", "first_order_high", "total_order"]
    np.testing.assert_allclose(shifted[cols], base[cols], atol=1e-8)


def _naive_sobol(f: np.ndarray, n_boot: int, seed: int, conf: float):
    """Oracle: a plain loop over bootstrap replicates drawn as in dse.sensitivity."""
    d = f.shape[0] - 2
    n = f.shape[1]

    def estimate(g):
        fa, fb, fab = g[0], g[1], g[2:]
        pooled = np.r_[fa, fb]
        v = pooled.var(ddof=1)
        s1 = [np.mean((fb - pooled.mean()) * (fab[j] - fa)) / v for j in range(d)]
        st = [np.mean((fa - fab[j]) ** 2) / (2 * v) for j in range(d)]
        return np.array(s1), np.array(st)

    point = estimate(f)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    reps = [estimate(f[:, i]) for i in idx]
    q = [(1 - conf) / 2, (1 + conf) / 2]
    s1 = np.quantile([r[0] for r in reps], q, axis=0)
    st = np.quantile([r[1] for r in reps], q, axis=0)
    return point, s1, st


def test_vectorised_bootstrap_matches_a_naive_loop():
    n, d = 300, 3
    ds = saltelli_dataset(ishigami, n, d, dtype=np.float64)
    df = sobol_indices(ds, n_boot=64, seed=5, conf=0.9)
    (s1, st), s1_ci, st_ci = _naive_sobol(ds["y"].values.reshape(d + 2, n), 64, 5, 0.9)
    np.testing.assert_allclose(df["first_order"], s1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(df["total_order"], st, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(df[["first_order_low", "first_order_high"]].T, s1_ci, rtol=1e-9)
    np.testing.assert_allclose(df[["total_order_low", "total_order_high"]].T, st_ci, rtol=1e-9)


def _drop_base_rows(ds: xr.Dataset, n: int, d: int, bad: np.ndarray) -> xr.Dataset:
    """Oracle: the Saltelli dataset of the base rows not in ``bad``."""
    keep = np.setdiff1d(np.arange(n), bad)
    rows = np.concatenate([k * n + keep for k in range(d + 2)])
    out = ds.isel(design=rows).assign_coords(design=np.arange(len(rows)))
    return out.assign_attrs(dse_sampler_n=len(keep))


def test_non_finite_values_drop_their_base_rows():
    n, d = 256, 3
    ds = saltelli_dataset(ishigami, n, d, dtype=np.float64)
    y = ds["y"].values.copy()
    # NaN in A (row 3), inf in B (row 10), -inf and NaN in AB_1 / AB_3 (rows 10 and 40)
    y[3], y[n + 10], y[2 * n + 10], y[4 * n + 40] = np.nan, np.inf, -np.inf, np.nan
    ds["y"].values[:] = y
    df = sobol_indices(ds, n_boot=0)
    assert (df["n_used"] == n - 3).all()
    assert df[["first_order", "total_order"]].notna().all().all()
    assert df[["first_order_low", "total_order_high"]].isna().all().all()  # n_boot=0: no intervals
    ref = sobol_indices(_drop_base_rows(ds, n, d, np.array([3, 10, 40])), n_boot=0)
    np.testing.assert_allclose(df[["first_order", "total_order"]], ref[["first_order", "total_order"]])


def test_feasible_only_drops_base_rows_with_any_infeasible_design():
    n, d = 256, 3
    ds = saltelli_dataset(ishigami, n, d, dtype=np.float64)
    feasible = np.ones(n * (d + 2), dtype=bool)
    feasible[[5, n + 7, 3 * n + 7, 4 * n + 100]] = False  # base rows 5, 7, 100
    ds["feasible"].values[:] = feasible
    every = sobol_indices(ds, n_boot=0)
    assert (every["n_used"] == n).all()  # infeasible designs are included by default
    only = sobol_indices(ds, n_boot=0, feasible_only=True)
    assert (only["n_used"] == n - 3).all()
    ref = sobol_indices(_drop_base_rows(ds, n, d, np.array([5, 7, 100])), n_boot=0)
    np.testing.assert_allclose(only[["first_order", "total_order"]], ref[["first_order", "total_order"]])


def test_constant_or_unusable_output_gives_nan_not_an_error():
    n, d = 64, 2
    u = saltelli_samples(n, d, 0, 0, n * (d + 2))
    ds = sampled_dataset(u, np.full(len(u), 3.0), "saltelli", n=n)
    ds["z"] = ("design", np.full(len(u), np.nan, dtype=np.float32), {"long_name": "undefined"})
    df = sobol_indices(ds, ["y", "z"], n_boot=20)
    assert df[["first_order", "total_order", "first_order_low"]].isna().all().all()
    assert df.set_index("output")["n_used"].to_dict() == {"y": n, "z": 0}


# --------------------------------------------------------------------------------- grids
def linear_grid() -> tuple[xr.Dataset, dict[str, float], dict[str, float]]:
    """y = 2 a + b + 0 c + offset[coating] on a full grid, with its analytic ANOVA shares."""
    a, b, c = np.linspace(0.0, 1.0, 5), np.linspace(0.0, 1.0, 4), np.array([1.0, 2.0, 3.0])
    coating, offset = np.array(["none", "Ag-C"], dtype=object), np.array([0.0, 1.5])
    y = (
        2.0 * a[:, None, None, None]
        + b[None, :, None, None]
        + 0.0 * c[None, None, :, None]
        + offset[None, None, None, :]
    )
    dims = ("a", "b", "c", "coating")
    ds = xr.Dataset(
        {
            "y": (
                dims,
                y.astype(np.float32),
                {"dse_sense": "max", "units": "W", "long_name": "Power"},
            ),
            "feasible": (dims, np.ones(y.shape, dtype=bool)),
        },
        coords={"a": a, "b": b, "c": c, "coating": coating},
        attrs={"dse_scenario": "grid", "dse_kind": "grid", "dse_dims": list(dims)},
    )
    # variance of each term over its equally weighted levels (ddof = 0); additive → ST = S1
    parts = {"a": np.var(2.0 * a), "b": np.var(b), "c": 0.0, "coating": np.var(offset)}
    total = sum(parts.values())
    ranges = {"a": 2.0, "b": 1.0, "c": 0.0, "coating": 1.5}
    return ds, {k: v / total for k, v in parts.items()}, ranges


def test_main_effects_of_an_additive_grid_are_the_analytic_shares():
    ds, shares, ranges = linear_grid()
    df = main_effects(ds).set_index("input")
    assert list(df.index) == ["a", "b", "c", "coating"] and (df["method"] == "main_effect").all()
    # exact up to float32 storage of y
    np.testing.assert_allclose(df["first_order"], pd.Series(shares)[df.index], atol=1e-6)
    np.testing.assert_allclose(df["total_order"], df["first_order"], atol=1e-6)
    np.testing.assert_allclose(df["effect_range"], pd.Series(ranges)[df.index], atol=1e-6)
    assert df["first_order"].sum() == pytest.approx(1.0, abs=1e-6)
    assert (df["n_used"] == ds["y"].size).all() and df["first_order_low"].isna().all()


def test_main_effects_see_interactions_in_the_total_order():
    x = np.array([-1.0, 1.0])
    ds = xr.Dataset(
        {"y": (("p", "q"), np.outer(x, x), {"dse_sense": "max"})},
        coords={"p": x, "q": x},
        attrs={"dse_kind": "grid", "dse_dims": ["p", "q"]},
    )
    df = main_effects(ds)
    np.testing.assert_allclose(df["first_order"], [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(df["total_order"], [1.0, 1.0])


def test_main_effects_are_lazy_and_compute_once():
    ds, shares, _ = linear_grid()
    lazy = ds.chunk({"a": 2, "b": 3})
    calls = []

    def counting_scheduler(dsk, keys, **kwargs):
        calls.append(keys)
        return dask.get(dsk, keys, **kwargs)

    with dask.config.set(scheduler=counting_scheduler):
        df = main_effects(lazy)
    assert len(calls) == 1  # one graph for every output and dimension, nothing hidden
    np.testing.assert_allclose(df["first_order"], list(shares.values()), atol=1e-6)


def test_main_effects_skip_non_finite_and_optionally_infeasible_values():
    ds, _, _ = linear_grid()
    y = ds["y"].values
    y[0, 0, 0, 0], y[4, 3, 2, 1] = np.nan, np.inf
    ds["feasible"].values[1] = False  # every design with a = 0.25
    df = main_effects(ds)
    assert (df["n_used"] == y.size - 2).all() and np.isfinite(df["first_order"]).all()
    only = main_effects(ds, feasible_only=True)
    assert (only["n_used"] == y.size - 2 - y[1].size).all()
    assert not np.allclose(only["first_order"], df["first_order"])


# --------------------------------------------------------------------------------- binned
@pytest.mark.parametrize("method", ["sobol", "latin_hypercube", "random"])
def test_binned_first_order_of_an_additive_model(method):
    n = 4096
    u = unit_samples(method, n, 3, 7, 0, n)
    coating = np.minimum((u[:, 2] * 3).astype(np.int16), 2)  # categorical: 3 codes
    offset = np.array([0.0, 0.5, 1.0])
    y = 2.0 * u[:, 0] + u[:, 1] + offset[coating]
    ds = sampled_dataset(
        u[:, :2],
        y,
        method,
        names=["x1", "x2"],
        coating=("design", coating, {"dse_role": "input", "dse_categories": ["a", "b", "c"]}),
    )
    ds.attrs["dse_sampled_inputs"] = ["x1", "x2", "coating"]
    parts = np.array([4.0 / 12.0, 1.0 / 12.0, np.var(offset)])  # uniform inputs, equal categories
    truth = parts / parts.sum()
    df = binned_first_order(ds, n_boot=200)
    assert list(df["input"]) == ["x1", "x2", "coating"] and df["total_order"].isna().all()
    # Tolerance: the i.i.d. standard error at n = 4096 is ≈ 0.01 (bootstrap interval width
    # ≈ 0.04); binning bias of a linear effect with √n = 64 bins is < 0.1 % of the index.
    np.testing.assert_allclose(df["first_order"], truth, atol=0.03)
    assert (df["first_order_low"] <= truth).all() and (truth <= df["first_order_high"]).all()
    # replicates are corrected for repeated rows, so the interval brackets the estimate
    assert (df["first_order_low"] < df["first_order"]).all()
    assert (df["first_order"] < df["first_order_high"]).all()
    np.testing.assert_allclose(df["effect_range"].iloc[2], 1.0, atol=0.1)  # category means


def test_binned_estimate_matches_a_naive_epsilon_squared():
    """Oracle: Kelley's ε² from a pandas group-by over rank bins."""
    rng = np.random.default_rng(3)
    u = rng.random((500, 2))
    y = np.exp(u[:, 0]) + rng.normal(0.0, 0.3, 500)
    df = binned_first_order(sampled_dataset(u, y, "random"), bins=7, n_boot=0)
    for j in range(2):
        labels = u[:, j].argsort().argsort() * 7 // 500
        groups = pd.Series(y).groupby(labels)
        ssb = (groups.size() * (groups.mean() - y.mean()) ** 2).sum()
        sst = ((y - y.mean()) ** 2).sum()
        epsilon2 = (ssb - 6 * (sst - ssb) / (500 - 7)) / sst
        assert df["first_order"].iloc[j] == pytest.approx(epsilon2, rel=1e-6)
        assert df["effect_range"].iloc[j] == pytest.approx(np.ptp(groups.mean()), rel=1e-6)


def test_binned_first_order_of_ishigami_is_close_and_ignores_x3():
    n = 2**14
    u = unit_samples("latin_hypercube", n, 3, 1, 0, n)
    df = binned_first_order(sampled_dataset(u, ishigami(u), "latin_hypercube"), n_boot=0)
    # given-data estimates of a strongly curved effect: 0.02 covers sampling error (≈ 0.006)
    # plus the remaining binning bias measured over ten seeds (≤ 0.01 at this n)
    np.testing.assert_allclose(df["first_order"], ISHIGAMI_S1, atol=0.02)


# --------------------------------------------------------------------------------- dispatch
def test_sensitivity_dispatches_on_the_kind_of_scenario():
    grid, _, _ = linear_grid()
    n = 256
    u = saltelli_samples(n, 2, 0, 0, 4 * n)
    salt = sampled_dataset(u, u[:, 0] + u[:, 1], "saltelli", n=n).assign_attrs(dse_scenario="salt")
    lhs = sampled_dataset(u[:n], u[:n, 0], "latin_hypercube").assign_attrs(dse_scenario="lhs")
    df = sensitivity({"grid": grid, "salt": salt, "lhs": lhs}, n_boot=20)
    assert list(df.columns) == list(COLUMNS)
    methods = df.groupby("scenario", sort=False)["method"].first().to_dict()
    assert methods == {"grid": "main_effect", "salt": "sobol", "lhs": "binned"}
    assert df.attrs["dse_outputs"]["y"] == {"long_name": "Test output", "units": "W"}
    one = sensitivity({"grid": grid, "salt": salt}, scenario="salt", n_boot=0)
    assert set(one["scenario"]) == {"salt"} and len(one) == 2


# --------------------------------------------------------------------------------- errors
def test_errors_are_one_line_spec_errors_with_suggestions():
    grid, _, _ = linear_grid()
    with pytest.raises(SpecError, match=r"^outputs: 'yy' is no output of the results; did you mean 'y'\?$"):
        main_effects(grid, "yy")
    with pytest.raises(SpecError, match="'a' is an input"):
        main_effects(grid, ["a"])
    plain = grid.copy(deep=True)
    del plain["y"].attrs["dse_sense"]
    with pytest.raises(SpecError, match="no output has a dse_sense"):
        main_effects(plain)
    with pytest.raises(SpecError, match="scenario: 'gird' is no scenario of the results; did you mean 'grid'"):
        sensitivity({"grid": grid}, scenario="gird")
    with pytest.raises(SpecError, match="need a Saltelli scenario"):
        sobol_indices(grid)
    with pytest.raises(SpecError, match="need a grid scenario"):
        main_effects(saltelli_dataset(ishigami, 8, 3))
    for kw, where in [({"n_boot": -1}, "n_boot"), ({"conf": 1.5}, "conf"), ({"bins": 1}, "bins")]:
        with pytest.raises(SpecError, match=f"^{where}: "):
            sensitivity(saltelli_dataset(ishigami, 8, 3).assign_attrs(dse_sampler="random"), **kw)


def test_a_scenario_without_varying_inputs_is_refused():
    single = xr.Dataset(
        {"y": (("a",), [1.0], {"dse_sense": "max"})},
        coords={"a": [2.0]},
        attrs={"dse_scenario": "flat", "dse_kind": "grid", "dse_dims": ["a"]},
    )
    with pytest.raises(SpecError, match="^scenario 'flat': no swept input takes two or more values"):
        sensitivity(single)
    u = np.full((16, 2), 0.5)
    with pytest.raises(SpecError, match="no swept input takes two"):
        binned_first_order(sampled_dataset(u, u[:, 0], "random"))


def test_saltelli_attributes_are_checked():
    ds = saltelli_dataset(ishigami, 16, 3)
    with pytest.raises(SpecError, match=r"80 designs is not n·\(d \+ 2\) = 15·5"):
        sobol_indices(ds.assign_attrs(dse_sampler_n=15))
    with pytest.raises(SpecError, match="feasible_only needs a 'feasible' variable"):
        sobol_indices(ds.drop_vars("feasible"), feasible_only=True)


def test_plot_needs_a_non_empty_table(tmp_path):
    with pytest.raises(SpecError, match="empty"):
        plot_sensitivity(pd.DataFrame(columns=list(COLUMNS)), tmp_path / "x.png")
    with pytest.raises(SpecError, match="not a sensitivity table"):
        plot_sensitivity(pd.DataFrame({"a": [1]}), tmp_path / "x.png")


# --------------------------------------------------------------------------------- end to end
SWEEP = {
    "name": "sensitivity e2e",
    "scenarios": [
        {
            "name": "salt",
            "sampler": {"method": "saltelli", "n": 256, "seed": 1},
            "inputs": {
                "electrolyte": "Li-dual-salt",
                "cathode_loading": {"range": ["2 mAh/cm^2", "7 mAh/cm^2"]},
                "current_collector_thickness": {"range": ["4 um", "12 um"]},
                "stack_pressure": {"range": [0.1, 3.0]},
            },
        },
        {
            "name": "grid",
            "inputs": {
                "electrolyte": "Li-dual-salt",
                "cathode_loading": {"linspace": ["2 mAh/cm^2", "7 mAh/cm^2", 6]},
                "current_collector_thickness": ["4 um", "12 um"],
                "stack_pressure": [0.1, 1.0, 3.0],
            },
        },
    ],
}


@pytest.mark.cluster
def test_sensitivity_of_a_real_saltelli_sweep(tmp_path, cluster):
    from dse.spec import parse_sweep
    from dse.sweep import run_sweep

    path = str(tmp_path / "sens.zarr")
    run_sweep(
        parse_sweep(SWEEP, text=yaml.safe_dump(SWEEP), chunk_size=512),
        path,
        scheduler=cluster.scheduler_address,
    )
    df = sensitivity(path, n_boot=200)
    salt = df[df["scenario"] == "salt"]
    methods = df.groupby("scenario")["method"].unique().map(list).to_dict()
    assert methods == {"salt": ["sobol"], "grid": ["main_effect"]}
    assert set(salt["output"]) == {"specific_energy", "energy_density", "cycle_life", "cost"}
    indices = salt.loc[:, "first_order":"total_order_high"].to_numpy(float)
    assert np.isfinite(indices).all() and (salt["n_used"] > 200).all()
    for name in ("salt", "grid"):
        energy = df[(df["scenario"] == name) & (df["output"] == "specific_energy")]
        energy = energy.set_index("input")
        # thicker cathodes dilute the fixed masses: loading dominates the specific energy
        assert energy["first_order"].idxmax() == "cathode_loading"
        assert energy.loc["cathode_loading", "first_order"] > 0.5
    assert (salt["first_order_low"] <= salt["total_order_high"]).all()  # S1 ≤ ST within the CI
    png = plot_sensitivity(df, tmp_path / "sensitivity.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_the_documented_saltelli_spec_parses():
    from dse.spec import parse_sweep
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "sensitivity.md").read_text()
    block = text.split("```yaml", 1)[1].split("```", 1)[0]
    spec = parse_sweep(yaml.safe_load(block), text=block)
    (scenario,) = spec.scenarios
    assert scenario.sampler.method == "saltelli" and len(scenario.sampled) == 4
    assert spec.n_designs == 1024 * (4 + 2)


@pytest.mark.cluster
def test_grid_and_sobol_scenarios_of_a_real_store(small_store):
    """Categorical grid dimensions (strings) and int16-coded sampled choices from a store."""
    df = sensitivity(small_store, "specific_energy", n_boot=50)
    grid = df[df["scenario"] == "li"].set_index("input")
    assert set(grid["method"]) == {"main_effect"} and "cathode" in grid.index
    assert np.isfinite(grid[["first_order", "total_order", "effect_range"]]).all().all()
    assert (grid["first_order"] <= grid["total_order"] + 1e-9).all()  # exact on a grid
    na = df[df["scenario"] == "na"].set_index("input")
    assert set(na["method"]) == {"binned"} and set(na.index) >= {"cathode", "cathode_loading"}
    assert np.isfinite(na["first_order"]).all() and na["total_order"].isna().all()


# ----------------------------------------------------------------- the file of dse serve --sensitivity
def _shipped_store() -> str:
    from tests.conftest import ROOT

    return str(ROOT / "catalogs" / "stores" / "anode-free-small.zarr")


SAVED = ["sensitivity", _shipped_store(), "--output", "specific_energy", "--output", "cycle_life", "--bootstrap", "0"]


@pytest.mark.parametrize("name", ["sensitivity.csv", "sensitivity.parquet"])
def test_the_saved_table_is_what_the_dashboard_reads(tmp_path, capsys, name):
    from dse.cli import main
    from dse.explore import ResultsSource, read_sensitivity

    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    option = "--csv" if name.endswith(".csv") else "--parquet"
    path = tmp_path / name
    assert main([*SAVED, option, str(path)]) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    read = read_sensitivity(str(path), ResultsSource(_shipped_store()))  # as dse serve --sensitivity reads it
    want = sensitivity(_shipped_store(), ["specific_energy", "cycle_life"], n_boot=0)
    assert list(read.columns) == list(COLUMNS) and len(read) == len(want) > 0
    labels = ["scenario", "output", "input", "method"]
    assert read[labels].astype(str).values.tolist() == want[labels].astype(str).values.tolist()
    numbers = [c for c in COLUMNS if c not in labels]
    np.testing.assert_allclose(read[numbers].to_numpy(float), want[numbers].to_numpy(float), rtol=1e-12, equal_nan=True)
    # an existing file is kept unless --overwrite, and no temporary file is left behind
    before = path.read_bytes()
    assert main([*SAVED, option, str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{option} {path}: exists" in err[0] and "--overwrite" in err[0]
    assert path.read_bytes() == before
    assert main([*SAVED, option, str(path), "--overwrite"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_an_unwritable_table_path_is_one_line_before_the_work(tmp_path, capsys):
    import time

    from dse.cli import main

    a_dir = tmp_path / "dir"
    a_dir.mkdir()
    cases = [
        ("/nonexistent/s.csv", "--csv /nonexistent/s.csv: folder /nonexistent does not exist"),
        (str(a_dir), f"--csv {a_dir}: is a directory"),
        ("/proc/s.csv", "--csv /proc/s.csv: "),
    ]
    for target, expect in cases:
        t = time.perf_counter()
        assert main([*SAVED, "--csv", target]) == 2
        captured = capsys.readouterr()
        err = captured.err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {expect}"), err
        assert "Traceback" not in captured.err and captured.out == ""  # refused before any table
        assert time.perf_counter() - t < 15, target
    assert [p.name for p in tmp_path.iterdir()] == ["dir"] and list(a_dir.iterdir()) == []


@pytest.mark.parametrize("option, name", [("--parquet", "s.pq"), ("--parquet", "s.csv"), ("--csv", "s.parquet")])
def test_a_table_name_that_the_dashboard_would_misread_is_refused(tmp_path, capsys, option, name):
    """dse serve --sensitivity reads a file as Parquet by its .parquet suffix, else as CSV: --parquet s.pq or
    --csv s.parquet would write a file it cannot read, so each is one line before any work, nothing written."""
    from dse.cli import main

    assert main([*SAVED, option, str(tmp_path / name)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and f"{option} {tmp_path / name}: " in err[0] and ".parquet" in err[0], err
    assert captured.out == "" and list(tmp_path.iterdir()) == []


def test_write_sensitivity_refuses_an_existing_file_and_says_why_it_cannot_write(tmp_path):
    from dse.errors import DseError
    from dse.sensitivity import write_sensitivity

    ds = xr.Dataset({"y": ("a", [1.0, 3.0], {"dse_sense": "max"})}, coords={"a": [0, 1]}, attrs={"dse_kind": "grid"})
    table = sensitivity(ds)
    path = write_sensitivity(table, tmp_path / "s.csv")
    with pytest.raises(DseError, match="exists"):
        write_sensitivity(table, path)
    assert write_sensitivity(table, path, overwrite=True) == path
    with pytest.raises(DseError, match="cannot be written"):
        write_sensitivity(table, tmp_path / "missing" / "s.csv")
