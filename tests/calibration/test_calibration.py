"""CE calibration: chain targets, synthetic recovery, signs, publication effects and folds, bands."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from dse.calibration import (
    CHAIN_SURPLUS,
    _outputs_at,
    band_coverage,
    calibrate,
    chain_retention,
    cross_validate,
    design_matrix,
    fit_posterior,
    invert_chain_retention,
    row_design,
    sample_cycle_life,
    select_rows,
    source_folds,
)
from dse.coefficients import (
    DEFAULT_PATH,
    constraint_bounds,
    constraints,
    load_coefficients,
    prior_coefficients,
)
from dse.errors import CalibrationError
from dse.literature import DEFAULT_PATH as LITERATURE
from dse.literature import file_sha256, load_literature
from dse.materials.catalogue import load_catalogue
from dse.modelchain import ModelChain
from dse.models.ce import FEATURE_NAMES, ce_features
from dse.models.lifetime import capacity_curve, cycle_life
from dse.spec import parse_design
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def shipped_fit():
    return calibrate()


# --------------------------------------------------------------------------- synthetic recovery
#: group: (solid, minimum stack pressure [MPa], decay onset [°C] of its first catalogue entry)
GROUPS = {
    "Li/ether": (False, 0.0, 45.0),
    "Li/sulfide": (True, 2.0, 80.0),
    "Na/ether": (False, 0.0, 40.0),
    "K/ether": (False, 0.0, 40.0),
}


def _truth(prior):
    """Known coefficients: the priors with the parameters the synthetic rows inform moved."""
    truth = np.asarray(prior.mean, dtype=float).copy()
    for name, value in {
        "Li/ether": -5.6,
        "Li/sulfide": -6.2,
        "Na/ether": -6.8,
        "K/ether": -5.0,
        "coating/alloy": -0.5,
        "coating/carbon": -0.1,
        "coating/composite": -0.8,
        "slope/pressure": -0.9,
        "slope/contact": 1.2,
        "slope/current_density": 0.5,
        "slope/temperature": -0.2,
        "slope/cold": 0.5,
        "slope/hot": 0.6,
        "slope/areal_capacity": -0.2,  # net loading term +0.3: inside every constraint (NET_MINIMUM 0.2)
        "slope/depth_of_discharge": -0.6,
        "slope/rate_ratio": 0.4,
    }.items():
        truth[prior.index(name)] = value
    return truth


def _synthetic(path, n=400, sigma=0.3, seed=7, per_source=5, tau=0.4):
    """Rows generated from the surrogate with known coefficients, written as a user CSV.

    Rows come in publications of ``per_source`` rows (``reference`` column), each with a
    normal effect of sd ``tau`` on ln(1 - CE); a publication keeps one group, as papers do.
    """
    prior = prior_coefficients()
    rng = np.random.default_rng(seed)
    truth = _truth(prior)
    sources = n // per_source
    group = np.repeat(rng.choice(list(GROUPS), sources), per_source)
    source = np.repeat(np.arange(sources), per_source)
    metal, family = zip(*(g.split("/") for g in group), strict=True)
    solid = np.array([GROUPS[g][0] for g in group])
    pmin = np.array([GROUPS[g][1] for g in group])
    onset = np.array([GROUPS[g][2] for g in group])
    rows = pd.DataFrame(
        {
            "seed": "900",
            "reference": [f"[{k}]" for k in source],
            "metal": metal,
            "electrolyte_family": family,
            "electrolyte_state": np.where(solid, "solid", "liquid"),
            "coating": rng.choice(["none", "Ag", "C", "Ag-C", "other-alloy"], n),
            "stack_pressure": np.where(solid, rng.uniform(0.0, 4.0, n), rng.uniform(0.0, 3.0, n)),
            "temperature": rng.uniform(-20.0, 60.0, n),
            "cathode_loading": rng.uniform(0.5, 8.0, n),
            "charge_rate": rng.uniform(0.1, 2.0, n),
            "discharge_rate": rng.uniform(0.1, 2.0, n),
            "depth_of_discharge": rng.uniform(0.5, 1.0, n),
        }
    )
    z = np.column_stack(
        ce_features(
            rows["stack_pressure"].to_numpy(),
            pmin,
            solid,
            (rows["charge_rate"] * rows["cathode_loading"]).to_numpy(),
            rows["temperature"].to_numpy(),
            onset,
            rows["cathode_loading"].to_numpy(),
            rows["depth_of_discharge"].to_numpy(),
            rows["charge_rate"].to_numpy(),
            rows["discharge_rate"].to_numpy(),
        )
    )
    frame = rows.assign(
        group=group,
        coating_class=rows["coating"].map(
            {
                "none": "none",
                "Ag": "alloy",
                "other-alloy": "alloy",
                "C": "carbon",
                "Ag-C": "composite",
            }
        ),
    )
    for j, name in enumerate(prior.features):
        frame[f"z_{name}"] = z[:, j]
    effect = tau * rng.standard_normal(sources)
    y = design_matrix(frame, prior) @ truth + effect[source] + sigma * rng.standard_normal(n)
    loss = np.exp(y)
    # report the retention after about 0.3 / loss cycles (75 %), as papers report N80-like points
    rows["cycles"] = np.maximum(1, np.round(0.3 / loss)).astype(int)
    rows["retention"] = 100.0 * np.exp(rows["cycles"] * np.log1p(-loss))
    rows.to_csv(path, index=False, float_format="%.17g")
    return truth, prior


#: informed parameters of the synthetic rows: 4 groups, 3 classes, 3 materials (Ag, C, Ag-C), the slopes
INFORMED = 4 + 3 + 3 + len(FEATURE_NAMES)


def test_recovers_known_coefficients_from_synthetic_data(tmp_path):
    path = tmp_path / "synthetic.csv"
    truth, prior = _synthetic(path)
    result = calibrate(path, output_path=tmp_path / "coeffs.yaml", folds=4)
    assert result.summary["rows_used"] == 400 and result.summary["sources"] == 80
    # no cathode column: no design, so every row keeps the retention = CE**n target
    assert (result.rows["target"] == "ce_n").all()
    assert result.rows["target_note"].str.contains("not a catalogue id").all()
    table = result.parameter_table()
    informed = table["rows"] > 0
    assert informed.sum() == INFORMED
    z = (table["mean"] - truth) / table["sd"]
    # every informed parameter within its 99 % interval, nearly all within 95 %
    assert (z[informed].abs() < 2.576).all(), z[informed]
    assert (z[informed].abs() < 1.96).mean() >= 0.85
    # coating materials without rows keep their prior exactly (independent a priori); groups
    # without rows borrow from the groups of their metal and family (hierarchical prior)
    lonely = ~informed & table.index.str.startswith("coating/")
    assert lonely.sum() == 7
    np.testing.assert_allclose(table.loc[lonely, ["mean", "sd"]], table.loc[lonely, ["prior_mean", "prior_sd"]])
    assert abs(table.loc["Na/carbonate", "mean"] - table.loc["Na/carbonate", "prior_mean"]) > 0.1
    # the publication effect (sd 0.4) and the residual (0.3) are told apart: 80 publications of 5 rows
    assert 0.25 < result.summary["source_sd"] < 0.6, result.summary["source_sd"]
    assert 0.22 < result.summary["within_source_sd"] < 0.4, result.summary["within_source_sd"]
    # a new design's residual sd carries both: sqrt(0.3² + 0.4²) = 0.5
    assert 0.4 < result.coefficients.residual_sd < 0.65
    # held out by publication, the p10-p90 band holds about 80 % of the rows (16 rows per fold
    # publication-correlated: a wide tolerance, but without the publication effect in the band
    # coverage would fall to about 60 %)
    assert 0.68 < result.summary["cross_validated"]["coverage_p10_p90"] < 0.92
    assert not result.coefficients.violations()
    assert load_coefficients(tmp_path / "coeffs.yaml").mean == result.coefficients.mean


# --------------------------------------------------------------------------- chain-consistent target
#: catalogue cathodes of the synthetic chain rows (first-cycle efficiencies 0.85–0.97)
CATHODES = {"Li": ["NMC811", "LFP", "NMC622"], "Na": ["NVP", "NaCrO2", "O3-layered"], "K": ["KPW"]}


@pytest.fixture
def no_cathode_fade(monkeypatch):
    """The shipped catalogue with cathodes that fade least (2 million cycles), in the calibration and the chains.

    The CE is what these tests recover; a cathode that fades first would end some synthetic
    cells' lives by itself, so their retention would say nothing of the CE (and dropping those
    cells would select on the noise).
    """
    from dse import calibration

    base = load_catalogue()
    catalogue = base.with_overrides({c: {"fade_per_cycle": 1.0e-7} for c in base.ids("cathode")})
    monkeypatch.setattr(calibration, "load_catalogue", lambda: catalogue)
    return catalogue


def _chain_synthetic(path, n=300, sigma=0.3, seed=11, catalogue=None):
    """Rows whose retention the model chain predicts for known coefficients, as a user CSV.

    Each row is a design (catalogue cathode, stated loading, rates up to 5C so that the
    transport model leaves capacity undelivered, depth of discharge); the chain with the true
    coefficients gives its CE, inventory and cycled capacity. ln(1 - CE) gets normal noise,
    the inventory is rebuilt at the noisy CE (the formation loss scales with 1 - CE, as in
    sample_cycle_life), and the row reports the retention after the last cycle that keeps 75 %.
    """
    prior = prior_coefficients()
    truth = _truth(prior)
    rng = np.random.default_rng(seed)
    group = rng.choice(list(GROUPS), n)
    metal, family = zip(*(g.split("/") for g in group), strict=True)
    solid = np.array([GROUPS[g][0] for g in group])
    rows = pd.DataFrame(
        {
            "row_id": [f"syn{i}" for i in range(n)],
            "metal": metal,
            "electrolyte_family": family,
            "electrolyte_state": np.where(solid, "solid", "liquid"),
            "cathode": [rng.choice(CATHODES[m]) for m in metal],
            "coating": rng.choice(["none", "Ag", "C", "Ag-C", "other-alloy"], n),
            "stack_pressure": np.where(solid, rng.uniform(0.0, 4.0, n), rng.uniform(0.0, 3.0, n)),
            "temperature": rng.uniform(0.0, 60.0, n),
            "cathode_loading": rng.uniform(0.5, 8.0, n),
            "charge_rate": rng.uniform(0.1, 2.0, n),
            "discharge_rate": rng.uniform(0.1, 5.0, n),
            "depth_of_discharge": rng.uniform(0.5, 1.0, n),
            "collector": "",
            "electrolyte_verbatim": "",
            "current_density": np.nan,
            "reservoir": np.nan,
        }
    )
    designs = [parse_design(row_design(row)[0]) for _, row in rows.iterrows()]
    inputs = {name: [d.inputs[name] for d in designs] for name in designs[0].inputs}
    chain = ModelChain(
        catalogue=catalogue, coefficients=prior.model_copy(update={"mean": truth.tolist()}), uncertainty=False
    )
    out = chain.evaluate(inputs)
    # the surrogate's CE (of the plating alone: the chain's CE without the calendar loss) plus noise
    log_loss = log_loss_of(chain, inputs) + sigma * rng.standard_normal(n)
    # the chain at that CE, every mechanism included: retention after the last cycle that keeps 75 %
    at = _outputs_at(chain, inputs, log_loss)
    cycles = cycle_life(at.cyclable_inventory, at.cycled_capacity, at.coulombic_efficiency, 0.75).cycle_life - 1.0
    retention = (
        capacity_curve(
            cycles + 1.0,
            at.cyclable_inventory,
            at.cycled_capacity,
            at.coulombic_efficiency,
            at.cathode_fade,
            np.where(np.isfinite(at.dry_out_life), at.dry_out_life, np.inf),
        )
        / at.capacity
    )
    rows["cycles"] = cycles.astype(int)
    rows["retention"] = 100.0 * retention
    rows.to_csv(path, index=False, float_format="%.17g")
    return truth, log_loss, out


def log_loss_of(chain, inputs):
    """The surrogate's ln(1 - CE) of designs (the CE of plating and stripping, before any calendar loss)."""
    from dse.models.ce import ce_features, log_loss_mean

    p = chain.parameters(inputs)
    d, e = p.design, p.electrolyte
    z = ce_features(
        d.stack_pressure,
        e.min_stack_pressure,
        e.solid > 0.5,
        d.charge_rate * d.cathode_loading,
        d.temperature,
        e.decay_onset_temperature,
        d.cathode_loading,
        d.depth_of_discharge,
        d.charge_rate,
        d.discharge_rate,
    )
    return np.asarray(log_loss_mean(p.ce.base, z, chain.constants.slopes), dtype=float)


def test_chain_target_inverts_the_chain():
    chain = ModelChain(uncertainty=False)
    # flooded, so that the metal inventory ends life and the retention tells the CE
    designs = {**DESIGNS, "electrolyte_amount": 10.0}
    out = chain.evaluate(designs)
    y_chain = log_loss_of(chain, designs)
    cycles = out["knee_cycles"] + 100.0
    dry = np.where(np.isfinite(out["dry_out_life"]), out["dry_out_life"], np.inf)
    reported = (
        capacity_curve(
            cycles + 1.0,
            out["cyclable_inventory"],
            out["cycled_capacity"],
            out["coulombic_efficiency"],
            out["cathode_fade"],
            dry,
        )
        / out["capacity"]
    )
    # the constant-CE evaluation reproduces the chain at its own CE (reservoir, coating uptake)
    np.testing.assert_allclose(chain_retention(chain, designs, y_chain, cycles), reported)
    y, status = invert_chain_retention(chain, designs, reported, cycles)
    assert (status == "ok").all()
    np.testing.assert_allclose(y, y_chain, atol=1e-8)
    # invariant: retention falls monotonically with the loss (what the bisection relies on)
    grid = np.linspace(-10.0, -2.5, 40)[:, None]
    retention = chain_retention(chain, designs, grid, cycles)
    assert retention.shape == (40, len(cycles))
    assert np.all(np.diff(retention, axis=0) <= 1e-12)


def test_recovers_known_coefficients_from_chain_retentions(tmp_path, no_cathode_fade):
    path = tmp_path / "chain.csv"
    truth, log_loss, out = _chain_synthetic(path, catalogue=no_cathode_fade)
    result = calibrate(path, folds=3)
    rows = result.rows
    assert result.summary["rows_used"] == len(log_loss)
    assert (rows["target"] == "chain").all() and result.summary["rows_target_chain"] == 300
    # every target is the CE the chain was run at (the rows keep their order)
    np.testing.assert_allclose(rows["y"], log_loss, atol=1e-7)
    # the data need the chain target: the surplus is large (high rate, cathode inefficiency)
    assert (out["knee_cycles"] > 0).mean() > 0.5
    assert np.median(rows["y"] - rows["y_ce_n"]) > 0.1
    table = result.parameter_table()
    informed = table["rows"] > 0
    assert informed.sum() == INFORMED - 1  # no row below 0 °C: the cold slope keeps its prior
    z = (table["mean"] - truth) / table["sd"]
    assert (z[informed].abs() < 2.576).all(), z[informed]
    assert (z[informed].abs() < 1.96).mean() >= 0.85
    # every row its own publication: no publication effect, the residual is all of it
    assert result.summary["source_sd"] == 0.0
    assert 0.25 < result.coefficients.residual_sd < 0.4
    # the retention = CE**n target misreads the same cells: the surplus left by partial depth
    # of discharge and fast discharge ends up in the slopes (z of 5 to 12 on this seed)
    naive = calibrate(path, folds=3, target="ce_n")
    z_naive = (naive.parameter_table()["mean"] - truth) / naive.parameter_table()["sd"]
    assert z_naive[informed].abs().max() > 5.0
    assert naive.coefficients.residual_sd > 1.2 * result.coefficients.residual_sd


def test_rows_the_chain_cannot_reproduce_are_excluded(tmp_path):
    path = tmp_path / "cells.csv"
    pd.DataFrame(
        {
            "row_id": ["plain", "reservoir"],
            "metal": ["Li", "Li"],
            "electrolyte_family": ["dual-salt", "dual-salt"],
            "cathode": ["NMC811", "NMC811"],
            "cathode_loading": [3.0, 3.0],
            "reservoir": [np.nan, 10.0],
            "retention": [80.0, 50.0],
            "cycles": [200, 5],
        }
    ).to_csv(path, index=False)
    frame = load_literature(path)
    # 10 mAh/cm² of excess Li cannot be spent in 5 cycles at any CE above 90 %
    selection = select_rows(frame)
    assert selection.used["row_id"].tolist() == ["plain"]
    assert selection.used["target"].tolist() == ["chain"]
    assert selection.excluded.set_index("row_id").loc["reservoir", "reason"] == CHAIN_SURPLUS
    assert select_rows(frame, target="ce_n").used["row_id"].tolist() == ["plain", "reservoir"]
    with pytest.raises(CalibrationError, match="target"):
        select_rows(frame, target="cycles")


def test_gaussian_limit_matches_closed_form_ridge():
    # with nu = inf and a fixed scale the posterior is the textbook normal-normal one
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 3))
    y = x @ [1.0, -2.0, 0.5] + 0.5 * rng.normal(size=60)
    m0, s0 = np.zeros(3), np.full(3, 2.0)
    post = fit_posterior(x, y, m0, s0, nu=float("inf"))
    s2 = post.scale**2
    cov = np.linalg.inv(np.diag(1 / s0**2) + x.T @ x / s2)
    np.testing.assert_allclose(post.covariance, cov, rtol=1e-8)
    np.testing.assert_allclose(post.mean, cov @ (x.T @ y / s2), rtol=1e-8)
    # EM fixed point: s² = mean of expected squared residuals
    e = (y - x @ post.mean) ** 2 + np.einsum("ij,jk,ik->i", x, cov, x)
    assert s2 == pytest.approx(e.mean(), rel=1e-6)


def test_posterior_intervals_are_calibrated_on_repeated_data():
    # 40 replicate data sets from one truth: the pooled z-scores (posterior mean - truth) / sd of
    # the t-residual fit should be ~N(0, 1); with 40 x 4 draws the sd of z is known to ±12 %
    # (two standard errors).
    rng = np.random.default_rng(5)
    truth = np.array([-6.0, 0.4, -0.3, 0.2])
    z = []
    for _ in range(40):
        x = np.column_stack([np.ones(80), rng.normal(size=(80, 3))])
        y = x @ truth + 0.5 * rng.normal(size=80)
        post = fit_posterior(x, y, np.zeros(4), np.full(4, 10.0))
        z.append((post.mean - truth) / np.sqrt(np.diag(post.covariance)))
    assert 0.85 < np.std(z) < 1.15


def test_robust_weights_down_weight_outliers():
    rng = np.random.default_rng(4)
    x = np.ones((50, 1))
    y = -6.0 + 0.2 * rng.normal(size=50)
    y[:3] += 5.0  # three gross outliers
    robust = fit_posterior(x, y, np.zeros(1), np.full(1, 10.0))
    plain = fit_posterior(x, y, np.zeros(1), np.full(1, 10.0), nu=float("inf"))
    assert abs(robust.mean[0] + 6.0) < 0.1 < abs(plain.mean[0] + 6.0)
    assert robust.weights[:3].max() < 0.2 < robust.weights[3:].min()


# --------------------------------------------------------------------------- cross-validation
def test_cross_validation_runs_and_is_seeded(shipped_fit):
    cv = shipped_fit.summary["cross_validated"]
    assert set(cv) >= {
        "median_abs_log_loss",
        "median_abs_log10_n80",
        "within_2x_n80",
        "coverage_p10_p90",
    }
    assert all(np.isfinite(v) for v in cv.values())
    rows = shipped_fit.rows
    assert sorted(rows["fold"].unique()) == [0, 1, 2, 3, 4]
    assert len(shipped_fit.fold_coefficients) == 5
    # held-out error is worse than in-sample but better than the priors alone
    assert (
        shipped_fit.summary["in_sample"]["median_abs_log10_n80"]
        <= cv["median_abs_log10_n80"]
        < shipped_fit.summary["prior_only"]["median_abs_log10_n80"]
    )
    # whole publications are held out
    assert rows.groupby("source")["fold"].nunique().max() == 1
    # same seed, same folds; another seed, other folds
    x = design_matrix(rows, shipped_fit.prior)
    y = rows["y"].to_numpy()
    m0 = np.asarray(shipped_fit.prior.mean)
    c0 = np.asarray(shipped_fit.prior.covariance)
    matrix, labels = constraints(shipped_fit.prior.names)
    sources = rows["source"].to_numpy()
    mean, _, fold, _ = cross_validate(
        x,
        y,
        m0,
        c0,
        folds=5,
        seed=0,
        sources=sources,
        constraint=matrix,
        constraint_bound=constraint_bounds(shipped_fit.prior.names),
    )
    np.testing.assert_array_equal(fold, rows["fold"])
    np.testing.assert_allclose(mean, rows["cv_mean"])
    assert not np.array_equal(cross_validate(x, y, m0, c0, folds=5, seed=1, sources=sources)[2], fold)
    with pytest.raises(CalibrationError, match="folds"):
        cross_validate(x, y, m0, c0, folds=1)
    # the constraint's cost is reported beside the constrained figures
    free = shipped_fit.summary["cross_validated_unconstrained"]
    assert set(free) == set(cv)


def test_source_folds_never_split_a_source():
    rng = np.random.default_rng(3)
    sources = rng.choice([f"p{k}" for k in range(40)], 200)
    counts = pd.Series(sources).value_counts()
    for seed in range(5):
        fold = source_folds(sources, 5, seed)
        assert pd.DataFrame({"s": sources, "f": fold}).groupby("s")["f"].nunique().max() == 1
        load = np.bincount(fold, minlength=5)
        assert load.max() - load.min() <= counts.max()  # balanced to within one publication
    assert not np.array_equal(source_folds(sources, 5, 0), source_folds(sources, 5, 1))
    with pytest.raises(CalibrationError, match="sources"):
        source_folds(["a", "a", "b"], 3)


def _signed_problem(seed=0, n=300):
    """Rows of a design matrix in the shipped parameter order, with wrong-sign true slopes."""
    prior = prior_coefficients()
    rng = np.random.default_rng(seed)
    names = prior.names
    x = np.zeros((n, len(names)))
    x[np.arange(n), rng.integers(0, 3, n)] = 1.0  # three groups
    for f in FEATURE_NAMES:
        x[:, names.index(f"slope/{f}")] = rng.normal(size=n)
    truth = np.asarray(prior.mean).copy()
    truth[names.index("slope/current_density")] = -0.5  # the data say: faster is better
    truth[names.index("slope/rate_ratio")] = -0.4
    truth[names.index("slope/pressure")] = 0.3
    y = x @ truth + 0.3 * rng.normal(size=n)
    return prior, x, y


def test_constrained_slopes_never_take_the_wrong_sign():
    prior, x, y = _signed_problem()
    names = prior.names
    m0, c0 = np.asarray(prior.mean), np.asarray(prior.covariance)
    matrix, labels = constraints(names)
    free = fit_posterior(x, y, m0, c0)
    signed = fit_posterior(x, y, m0, c0, constraint=matrix, constraint_labels=labels)
    j = {f: names.index(f"slope/{f}") for f in ("current_density", "rate_ratio", "pressure", "areal_capacity")}
    # unconstrained, the data pull the slopes far across their bounds
    assert free.mean[j["current_density"]] < -0.4 and free.mean[j["rate_ratio"]] < -0.3
    assert free.mean[j["pressure"]] > 0.2
    # constrained, each sits exactly on its bound, and the net loading term stays >= 0
    assert signed.mean[j["current_density"]] == 0.0
    assert signed.mean[j["rate_ratio"]] == 0.0 and signed.mean[j["pressure"]] == 0.0
    assert signed.mean[j["current_density"]] + signed.mean[j["areal_capacity"]] >= -1e-9
    assert {"slope/current_density >= 0", "slope/rate_ratio >= 0", "slope/pressure <= 0"} <= set(signed.active)
    assert np.all(matrix @ signed.mean >= -1e-9)
    # on the bound the posterior is a half-normal: its spread stays positive and below the prior's
    for k in j.values():
        assert 0.0 < signed.covariance[k, k] < c0[k, k]
    # the same in cross-validation: every fold fit obeys every sign
    _, _, _, posts = cross_validate(x, y, m0, c0, folds=3, constraint=matrix)
    assert all(np.all(matrix @ p.mean >= -1e-9) for p in posts)


def test_band_coverage_on_a_known_variance():
    rng = np.random.default_rng(8)
    n = 20_000
    mean = rng.normal(size=n)
    sd = rng.uniform(0.2, 2.0, n)
    y = mean + sd * rng.standard_normal(n)
    se = np.sqrt(0.8 * 0.2 / n)  # binomial standard error of an 80 % coverage
    assert band_coverage(y, mean, sd) == pytest.approx(0.8, abs=4 * se)
    # a band twice too wide covers P(|z| < 2.563) = 98.96 %; half too wide, P(|z| < 0.641) = 47.8 %
    assert band_coverage(y, mean, 2 * sd) == pytest.approx(0.9896, abs=0.004)
    assert band_coverage(y, mean, 0.5 * sd) == pytest.approx(0.478, abs=0.015)
    # a band off by 1.2816 sd spans z from 0 to 2.563: P = 49.5 %
    assert band_coverage(y, mean + 1.2816 * sd, sd) == pytest.approx(0.4948, abs=0.015)


def test_report_names_rows_and_parameters(shipped_fit):
    text = shipped_fit.report_text()
    assert "s001-T5-618" in text and "Li/dual-salt" in text and "5-fold CV" in text
    assert str(shipped_fit.summary["rows_used"]) in text


# --------------------------------------------------------------------------- row selection
def test_selection_rules():
    sel = select_rows(load_literature())
    used, excluded = sel.used, sel.excluded.set_index("row_id")["reason"]
    assert excluded["s001-T4-356"] == "flag reservoir"
    assert excluded["s003-T1-N05"].startswith("pre-metallated")
    # of a table/text conflict the table row is the one kept: s000-T1-10 is not refused for the
    # conflict (the chain then refuses it: 98.8 % after 150 cycles at C/10 in a carbonate is more
    # than NMC811's own fade and 20-hour cycles of corrosion leave, whatever the CE)
    assert excluded["s000-X-100-42"].startswith("table_text_conflict")
    assert "s000-T1-10" in set(used["row_id"]) or excluded["s000-T1-10"].startswith("chain fades more")
    assert excluded["s003-T1-K02"] == "flag duplicate_of"
    assert excluded["s001-T5-620"] == "flag projection"
    assert not used["row_id"].isin(["s001-T4-346", "s001-T4-347"]).any()  # first-cycle CEs
    # a row that makes a design: the CE at which the chain keeps 80 % after 200 cycles
    row = used.set_index("row_id").loc["s001-T5-618"]
    assert row["target"] == "chain" and row["observation"] == "retention"
    assert (-np.expm1(row["y_ce_n"])) ** 200 == pytest.approx(0.80)
    literature = load_literature().set_index("row_id", drop=False)
    design = parse_design(row_design(literature.loc["s001-T5-618"])[0])
    chain = ModelChain(coefficients=prior_coefficients(), uncertainty=False)
    assert float(chain_retention(chain, design.inputs, row["y"], 200)) == pytest.approx(0.80)
    # no catalogue cathode, no design: retention = CE**n
    plain = used.set_index("row_id").loc["s000-T1-13"]
    assert plain["target"] == "ce_n" and plain["y"] == plain["y_ce_n"]
    assert plain["ce_observed"] ** 30 == pytest.approx(0.6145)
    # the chain's surplus raises the loss that explains a retention; the cathode's own fade and the
    # corrosion of slow cycles take a share of the fade, which lowers it: both happen in the table
    by_chain = used[used["target"] == "chain"]
    assert len(by_chain) > 50
    assert (by_chain["y"] > by_chain["y_ce_n"] + 0.05).any() and (by_chain["y"] < by_chain["y_ce_n"] - 0.05).any()
    # charge-rate × loading gives the current-density feature: 0.2 C × 3.1 mAh/cm2
    assert row["z_current_density"] == pytest.approx(np.log(0.62))
    assert row["z_pressure"] == pytest.approx(1 - np.exp(-1.17 / 0.5))
    assert row["z_temperature"] == pytest.approx(1.5)
    # every used row has a finite target and features
    z = used[[c for c in used if c.startswith("z_")]].to_numpy()
    assert np.isfinite(used["y"]).all() and np.isfinite(z).all()


# --------------------------------------------------------------------------- shipped coefficients
def test_shipped_coefficients_match_a_fresh_fit(shipped_fit):
    shipped = load_coefficients(DEFAULT_PATH)
    fresh = shipped_fit.coefficients
    assert shipped.provenance["data_sha256"] == file_sha256(LITERATURE)
    assert shipped.provenance["rows_used"] == shipped_fit.summary["rows_used"]
    assert shipped.groups == fresh.groups
    np.testing.assert_allclose(shipped.mean, fresh.mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(shipped.covariance, fresh.covariance, rtol=1e-9, atol=1e-12)
    assert shipped.residual_sd == pytest.approx(fresh.residual_sd, rel=1e-9)
    assert shipped.formation_loss_multiplier == 15.0 and shipped.coating_trapped_fraction == 0.2
    # the fit report records which target each row used
    rows = shipped_fit.rows
    assert shipped.fit_report["targets"] == dict(zip(rows["row_id"], rows["target"], strict=True))
    assert set(shipped.fit_report["targets"].values()) == {"chain", "ce_n"}


def test_shipped_coefficients_satisfy_every_sign(shipped_fit):
    shipped = load_coefficients()
    assert shipped.violations() == []
    assert all(c.violations() == [] for c in shipped_fit.fold_coefficients)
    slopes = dict(zip(shipped.features, shipped.slopes, strict=True))
    from dse.models.ce import NET_SIGNS, SLOPE_SIGNS

    for name, sign in SLOPE_SIGNS.items():
        assert sign * slopes[name] >= 0, name
    for names, sign in NET_SIGNS.items():
        assert sign * sum(slopes[n] for n in names) >= -1e-9, names


def test_shipped_reference_ces_are_sane():
    coeffs = load_coefficients()
    assert 0.99 < coeffs.reference_ce("Li/dual-salt") < 0.9999
    for group in coeffs.groups:
        assert 0.95 < coeffs.reference_ce(group) < 0.99999, group
    # every catalogue electrolyte has its group, so the default chain builds
    cat = load_catalogue()
    for e in cat.ids("electrolyte"):
        entry = cat.get("electrolyte", e)
        assert f"{entry.metal}/{entry.family}" in coeffs.groups
    assert 0.2 < coeffs.residual_sd < 2.0


def test_generated_calibration_section_is_current(shipped_fit):
    spec = importlib.util.spec_from_file_location("build_validation", ROOT / "tools" / "build_validation.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.row_design is row_design  # one row → design translation for fit and validation
    text = (ROOT / "docs" / "calibration.md").read_text()
    assert build.render_calibration(text, shipped_fit) == text, "run python tools/build_validation.py"


# --------------------------------------------------------------------------- uncertainty
DESIGNS = {
    "cathode": ["NMC811", "NMC811", "LFP", "NMC622", "NVP", "NMC811"],
    "metal": ["Li", "Li", "Li", "Li", "Na", "Li"],
    "cathode_loading": [2.0, 4.0, 3.0, 6.0, 2.0, 5.0],
    "electrolyte": ["Li-dual-salt", "Li-carbonate", "Li-ether", "Li-LHCE", "Na-ether", "Li-LPSCl"],
    "current_collector": ["Cu", "Cu", "Cu", "Cu", "Al", "SUS"],
    "coating": ["none", "Ag", "C", "none", "C", "Ag-C"],
    "coating_thickness": [0.0, 0.5, 1.0, 0.0, 1.0, 5.0],
    "stack_pressure": [1.0, 0.0, 0.5, 2.0, 0.0, 3.0],
    "metal_excess": [0.0, 0.0, 5.0, 0.0, 0.0, 0.0],
    "temperature": [25.0, 25.0, 40.0, 25.0, 25.0, 60.0],
}


def test_monte_carlo_agrees_with_closed_form_quantiles():
    chain = ModelChain()
    out = chain.evaluate(DESIGNS)
    samples = 20_000
    q, lives = sample_cycle_life(DESIGNS, chain, samples=samples, return_samples=True, seed=11)
    # Cycle life is a non-increasing step function of ln(1 - CE), so the chain's p10 (life at the
    # 90th percentile of ln(1 - CE)) must sit at the sampled 10th percentile: the empirical CDF
    # just below and at it brackets 0.10. 4 binomial standard errors: false alarm < 1e-4.
    se = np.sqrt(0.1 * 0.9 / samples)
    for level, closed in ((0.1, out["cycle_life_p10"]), (0.9, out["cycle_life_p90"])):
        below = (lives < closed).mean(axis=0)
        at = (lives <= closed).mean(axis=0)
        assert np.all(below <= level + 4 * se), (level, below)
        assert np.all(at >= level - 4 * se), (level, at)
    # the sampled median is the life at the mean (a monotone map of a symmetric distribution)
    np.testing.assert_allclose(q[1], out["cycle_life"], rtol=0.05)


def test_sampling_without_uncertainty_reproduces_the_chain():
    coeffs = load_coefficients()
    n = len(coeffs.mean)
    exact = coeffs.model_copy(update={"covariance": np.zeros((n, n)).tolist(), "residual_sd": 0.0})
    chain = ModelChain(coefficients=exact)
    lives = sample_cycle_life(DESIGNS, chain, samples=3, return_samples=True)[1]
    np.testing.assert_array_equal(lives, np.broadcast_to(chain.evaluate(DESIGNS)["cycle_life"], lives.shape))


def test_fit_converges_when_publication_effects_could_absorb_every_residual():
    """Two rows per publication, few rows: the residual scale stops at its floor instead of crawling to 0."""
    from dse.calibration import MIN_RESIDUAL_SCALE, fit_posterior

    rng = np.random.default_rng(5)
    n = 12
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    sources = np.repeat(np.arange(n // 2), 2)
    y = x @ np.array([-6.0, 0.3]) + rng.normal(0.0, 0.6, n // 2)[sources]
    post = fit_posterior(x, y, np.array([-5.0, 0.0]), np.array([1.0, 1.0]), sources=sources, max_iter=2000)
    assert post.iterations < 500
    assert post.scale >= MIN_RESIDUAL_SCALE - 1e-12
