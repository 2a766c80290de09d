"""Quantile fronts and the probability of non-domination under CE posterior draws."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from dse.cli import main
from dse.coefficients import load_coefficients
from dse.modelchain import ModelChain
from dse.pareto import nondominated, pareto_store
from dse.robust import coefficient_draws, pareto_probability
from dse.store import open_results, read_root_attrs
from dse.store.table import design_table
from dse.store.validate import validate_store

OBJECTIVES = {"specific_energy": "max", "energy_density": "max", "cycle_life": "max", "cost": "min"}


@pytest.fixture()
def store(small_store, tmp_path):
    path = tmp_path / "copy.zarr"
    shutil.copytree(small_store, path)
    return str(path)


def test_quantile_front_is_the_front_on_p10_cycle_life(store, tmp_path, capsys):
    csv = tmp_path / "front.csv"
    assert main(["pareto", store, "--quantile", "0.1", "--csv", str(csv)]) == 0
    assert "cycle_life_p10 (max)" in capsys.readouterr().out
    table = design_table(store, feasible_only=True)
    objectives = {**OBJECTIVES, "cycle_life_p10": "max"}
    del objectives["cycle_life"]
    expect = table[nondominated(table[list(objectives)].to_numpy(float), list(objectives.values()))]
    front = pd.read_csv(csv)
    assert sorted(zip(front.scenario, front.design, strict=True)) == sorted(
        zip(expect.scenario, expect.design, strict=True)
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--quantile", "0.3"], "--quantile: 0.3 is not stored"),
        (["--quantile", "0.1", "--objective", "cost:min"], "none of the objectives cost has quantiles"),
        (["--probability", "1.5"], "--probability: expected a probability in (0, 1]"),
        (["--probability", "0.5", "--draws", "0"], "--draws: expected a number of draws"),
        (["--probability", "0.5", "--quantile", "0.1"], "choose --quantile or --probability"),
        (["--reference", "cost=abc"], "--reference: expected NAME=NUMBER"),
    ],
)
def test_bad_robust_options_are_one_line_errors(store, capsys, args, message):
    assert main(["pareto", store, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_dominated_in_every_draw_means_probability_zero(store):
    """An 8 µm collector twin has the 4 µm twin's cycle life and more mass, volume and cost in every draw."""
    p = pareto_probability(store, OBJECTIVES, draws=20, seed=3)
    li = p["li"]
    assert float(li.sel(current_collector_thickness=8.0).max()) == 0.0
    for prob in p.values():
        values = prob.values
        assert ((values >= 0) & (values <= 1)).all()
        assert np.allclose(values * 20, np.round(values * 20))  # a share of the draws
    assert max(float(v.max()) for v in p.values()) == 1.0 or sum(float(v.sum()) for v in p.values()) > 0
    attrs = open_results(store)["li"].pareto_probability.attrs
    assert (attrs["dse_draws"], attrs["dse_seed"]) == (20, 3)
    assert validate_store(store) == []


def test_probability_matches_a_naive_loop_over_draws(store):
    """Oracle: each draw as a chain with the drawn coefficients (numpy path), its front found naively."""
    draws, seed = 4, 11
    p = pareto_probability(store, OBJECTIVES, draws=draws, seed=seed, write=False)
    table = design_table(store)
    stored = load_coefficients().model_validate(yaml.safe_load(read_root_attrs(store)["dse_ce_coefficients"]))
    theta = coefficient_draws(stored, draws, seed)
    counts = np.zeros(len(table))
    inputs = [
        c
        for c in table.columns
        if c in ModelChain().ids
        or c in ("cathode_loading", "stack_pressure", "current_collector_thickness", "temperature", "coating_thickness")
    ]
    fixed = {
        "li": {"metal": "Li", "coating_thickness": 1.0},
        "na": {"metal": "Na", "electrolyte": "Na-diglyme", "current_collector": "Al"},
    }
    for s in range(draws):
        chain = ModelChain(coefficients=stored.model_copy(update={"mean": list(theta[s])}))
        values = np.empty((len(table), len(OBJECTIVES)))
        feasible = np.empty(len(table), bool)
        for name, rows in table.groupby("scenario", observed=True):
            ds = open_results(store)[name]
            given = {
                c: rows[c].astype(str).to_numpy() if rows[c].dtype.name == "category" else rows[c].to_numpy()
                for c in inputs
                if c in ds.variables and ds[c].attrs.get("dse_role") == "input"
            }
            out = chain.evaluate({**fixed[name], **given})
            idx = rows.index.to_numpy()
            values[idx] = np.stack([out[o].astype(np.float32) for o in OBJECTIVES], axis=1)
            feasible[idx] = out["feasible"]
        on = np.zeros(len(table), bool)
        on[feasible] = nondominated(values[feasible], list(OBJECTIVES.values()))
        counts += on
    got = np.concatenate(
        [
            p[name].values.reshape(-1)[rows["design"].to_numpy()]
            for name, rows in table.groupby("scenario", observed=True)
        ]
    )
    order = np.concatenate([rows.index.to_numpy() for _, rows in table.groupby("scenario", observed=True)])
    np.testing.assert_array_equal(got, (counts / draws)[order].astype(np.float32))


def test_zero_variance_probability_front_is_the_median_front(cluster, tmp_path):
    from dse.spec import parse_sweep
    from dse.sweep import run_sweep

    zero = load_coefficients()
    n = len(zero.mean)
    zero = zero.model_copy(update={"covariance": [[0.0] * n for _ in range(n)]})
    coeffs = tmp_path / "zero.yaml"
    zero.save(coeffs)
    spec_data = {
        "name": "zero",
        "ce_coefficients": str(coeffs),
        "uncertainty": True,
        "inputs": {
            "metal": "Li",
            "cathode": ["NMC811", "LFP"],
            "electrolyte": ["Li-dual-salt", "Li-LHCE"],
            "cathode_loading": {"linspace": ["2 mAh/cm^2", "6 mAh/cm^2", 5]},
            "stack_pressure": [0.0, 1.0],
        },
    }
    path = str(tmp_path / "zero.zarr")
    run_sweep(
        parse_sweep(spec_data, text=yaml.safe_dump(spec_data), chunk_size=8), path, scheduler=cluster.scheduler_address
    )
    median = pareto_store(path, OBJECTIVES, write=True)
    p = pareto_probability(path, OBJECTIVES, draws=7, seed=0)
    (name,) = p
    on_median = open_results(path)[name].pareto_front.values
    assert on_median.sum() == len(median) > 0
    np.testing.assert_array_equal(p[name].values, on_median.astype(np.float32))


def test_draw_indicators_rebuild_the_chain_s_ce_table():
    """At the posterior mean a draw's base per (electrolyte, coating) pair is the chain's own (coating materials too)."""
    from dse.modelchain import ModelChain
    from dse.robust import _indicators

    chain = ModelChain()
    mean = np.asarray(chain.coefficients.mean, dtype=float)
    np.testing.assert_allclose(_indicators(chain) @ mean, chain.ce_table[:, 0], rtol=1e-12, atol=1e-12)
