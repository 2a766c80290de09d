"""Pareto fronts: exact kernels against a naive oracle, properties, the chunked Dask front."""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dse import pareto
from dse.errors import SpecError
from dse.pareto import (
    epsilon_constraint,
    front_table,
    knee_point,
    nondominated,
    objective_senses,
    pareto_mask,
)
from dse.testing import examples

SENSES = ["max", "min", "max", "min", "max"]


# ------------------------------------------------------------------------------------------------
# the oracle and random instances
# ------------------------------------------------------------------------------------------------
def oracle(values, senses) -> np.ndarray:
    """Naive O(n²) non-dominated mask, straight from the definition."""
    x = np.asarray(values, dtype=np.float64) * np.where(np.asarray(senses) == "max", 1.0, -1.0)
    valid = ~np.isnan(x).any(axis=1)
    others = x[valid]
    out = np.zeros(len(x), bool)
    for i in np.flatnonzero(valid):
        dominated = (others >= x[i]).all(axis=1) & (others > x[i]).any(axis=1)
        out[i] = not dominated.any()
    return out


def instance(rng: np.random.Generator, n: int, k: int, kind: str) -> np.ndarray:
    """Random objective values of one of several awkward kinds."""
    if kind == "uniform":
        x = rng.random((n, k))
    elif kind == "integers":  # heavily tied, equal first objectives everywhere
        x = rng.integers(0, 4, (n, k)).astype(float)
    elif kind == "tradeoff":  # most points near a front: worst case for window sizes
        x = rng.dirichlet(np.ones(k), n) + rng.normal(0, 0.01, (n, k))
    elif kind == "correlated":
        base = rng.random((n, 1))
        x = base + 0.1 * rng.random((n, k))
    elif kind == "specials":  # inf, signed zeros, float32-rounded values
        x = rng.choice([-np.inf, -1.0, -0.0, 0.0, 0.5, 1.0, np.inf], (n, k))
    else:
        raise ValueError(kind)
    if n > 4:
        dup = rng.integers(0, n, n // 5)
        x[rng.integers(0, n, n // 5)] = x[dup]  # exact duplicates
        x[rng.integers(0, n, max(1, n // 20)), rng.integers(0, k)] = np.nan  # NaN rows
    return x


KINDS = ["uniform", "integers", "tradeoff", "correlated", "specials"]


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("kind", KINDS)
def test_nondominated_matches_oracle(k, kind):
    rng = np.random.default_rng(100 * k + KINDS.index(kind))
    for trial in range(30):
        n = int(rng.integers(0, 300)) if trial else 0
        x = instance(rng, n, k, kind)
        senses = SENSES[:k]
        np.testing.assert_array_equal(nondominated(x, senses), oracle(x, senses), err_msg=f"trial {trial}")


@pytest.mark.parametrize("k", [2, 3, 4, 5])
@pytest.mark.parametrize("kind", KINDS)
def test_prefilter_keeps_the_exact_front(k, kind):
    rng = np.random.default_rng(7 + k)
    for _ in range(5):
        x = instance(rng, 1500, k, kind)
        x = np.ascontiguousarray(x[~np.isnan(x).any(axis=1)])
        np.testing.assert_array_equal(pareto._exact_front(x, prefilter=True), oracle(x, ["max"] * k))


def test_nondominated_on_a_large_instance_uses_the_prefilter():
    rng = np.random.default_rng(3)
    x = instance(rng, pareto.PREFILTER_MIN + 500, 3, "correlated")
    front = nondominated(x, ["max", "max", "max"])
    kept = np.flatnonzero(~np.isnan(x).any(axis=1))
    # the oracle on the front plus a random sample of the rest: no sampled point escapes
    sample = np.union1d(np.flatnonzero(front), rng.choice(kept, 2000, replace=False))
    np.testing.assert_array_equal(front[sample], oracle(x[sample], ["max"] * 3) & front[sample])
    assert all(not ((x[front] >= x[i]).all(1) & (x[front] > x[i]).any(1)).any() for i in np.flatnonzero(front))


def test_ties_in_the_first_objective():
    x = [[1, 1, 3], [1, 2, 2], [1, 2, 1], [1, 1, 3], [0, 5, 5], [0, 2, 2]]
    assert nondominated(x, ["max"] * 3).tolist() == [True, True, False, True, True, False]
    assert nondominated(np.array(x)[:, :2], ["max"] * 2).tolist() == [
        False, True, True, False, True, False,
    ]  # fmt: skip


def test_nan_rows_neither_win_nor_dominate():
    x = np.array([[np.nan, 10.0], [1.0, 1.0], [0.0, 0.0]])
    assert nondominated(x, ["max", "max"]).tolist() == [False, True, False]
    assert not nondominated(np.full((3, 2), np.nan), ["max", "max"]).any()


def test_senses_and_shapes_are_checked():
    with pytest.raises(SpecError, match="'maximum' is not 'max' or 'min'"):
        nondominated([[1.0, 2.0]], ["max", "maximum"])
    with pytest.raises(SpecError, match="do not match"):
        nondominated([[1.0, 2.0]], ["max"])


# ------------------------------------------------------------------------------------------------
# properties
# ------------------------------------------------------------------------------------------------
def _arrays(draw_values):
    return st.integers(1, 5).flatmap(
        lambda k: hnp.arrays(np.float64, st.tuples(st.integers(0, 60), st.just(k)), elements=draw_values)
    )


TIED = _arrays(st.sampled_from([-1.0, 0.0, 1.0, 2.0, np.nan]))
FLOATS = _arrays(st.one_of(st.floats(-1e6, 1e6, width=32), st.just(np.nan), st.just(np.inf)))


def _dominates(a, b):
    return bool((a >= b).all() and (a > b).any())


@settings(max_examples=examples(150), deadline=None)
@given(x=st.one_of(TIED, FLOATS), seed=st.integers(0, 2**32 - 1))
def test_permutation_invariance(x, seed):
    senses = SENSES[: x.shape[1]]
    perm = np.random.default_rng(seed).permutation(len(x))
    np.testing.assert_array_equal(nondominated(x[perm], senses), nondominated(x, senses)[perm])


@settings(max_examples=examples(150), deadline=None)
@given(x=st.one_of(TIED, FLOATS), data=st.data())
def test_adding_a_dominated_point_changes_nothing(x, data):
    valid = np.flatnonzero(~np.isnan(x).any(axis=1))
    if not valid.size:
        return
    k = x.shape[1]
    senses = ["max"] * k
    base = x[data.draw(st.sampled_from(valid.tolist()))]
    worse = base.copy()
    j = data.draw(st.integers(0, k - 1))
    if base[j] == -np.inf:
        return
    worse[j] = np.finfo(float).max if base[j] == np.inf else base[j] - data.draw(st.sampled_from([1.0, 0.5, 1e3]))
    grown = np.vstack([x, worse])
    front = nondominated(grown, senses)
    np.testing.assert_array_equal(front[:-1], nondominated(x, senses))
    assert not front[-1]


@settings(max_examples=examples(150), deadline=None)
@given(x=st.one_of(TIED, FLOATS))
def test_front_is_mutually_nondominated_and_dominates_the_rest(x):
    k = x.shape[1]
    front = nondominated(x, ["max"] * k)
    members = x[front]
    for a in members:
        assert not any(_dominates(b, a) for b in members)
    for i in np.flatnonzero(~front & ~np.isnan(x).any(axis=1)):
        assert any(_dominates(a, x[i]) for a in members)


# ------------------------------------------------------------------------------------------------
# Datasets
# ------------------------------------------------------------------------------------------------
OBJECTIVES = {"specific_energy": "max", "cycle_life": "max", "cost": "min"}


def grid_dataset(seed: int = 0, integer: bool = False) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    shape = (3, 7, 11)
    coords = {
        "cathode": ["LFP", "NMC622", "NMC811"],
        "cathode_loading": np.linspace(1.0, 7.0, 7),
        "stack_pressure": np.linspace(0.0, 5.0, 11),
    }
    dims = tuple(coords)
    data = {}
    for name, sense in OBJECTIVES.items():
        v = rng.integers(0, 5, shape) if integer else rng.random(shape)
        v = v.astype(np.float32)
        v[rng.random(shape) < 0.05] = np.nan
        data[name] = (dims, v, {"units": "1", "long_name": name, "dse_sense": sense})
    data["feasible"] = (dims, rng.random(shape) < 0.8)
    data["capacity"] = (dims, rng.random(shape).astype(np.float32), {"units": "mAh/cm^2"})
    return xr.Dataset(data, coords=coords)


def design_dataset(n: int = 1000, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    energy = rng.uniform(200, 500, n)
    life = 4000 - 7 * energy + rng.normal(0, 200, n)  # energy vs life trade-off
    cost = 50 + 0.1 * energy + rng.normal(0, 10, n)
    data = {
        "specific_energy": ("design", energy.astype(np.float32), {"dse_sense": "max"}),
        "cycle_life": ("design", life.astype(np.float32), {"dse_sense": "max"}),
        "cost": ("design", cost.astype(np.float32), {"dse_sense": "min"}),
        "feasible": ("design", rng.random(n) < 0.9),
        "cathode": ("design", rng.choice(["LFP", "NMC811"], n)),
        "cathode_loading": ("design", rng.uniform(1, 8, n)),
    }
    return xr.Dataset(data, coords={"design": np.arange(n) + 10})


def expected_mask(ds: xr.Dataset, objectives=OBJECTIVES, where=None) -> np.ndarray:
    cols = [ds[n].values.astype(np.float64).reshape(-1) for n in objectives]
    x = np.stack(cols, axis=1)
    cand = ds["feasible"].values.reshape(-1).copy()
    if where is not None:
        template = ds[next(iter(objectives))]
        cand &= xr.broadcast(where, template)[0].transpose(*template.dims).values.reshape(-1)
    out = np.zeros(len(x), bool)
    out[cand] = oracle(x[cand], list(objectives.values()))
    return out.reshape(ds[next(iter(objectives))].shape)


def _raise(*args, **kwargs):
    raise AssertionError("computed while building the graph")


@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize(
    "chunks",
    [
        None,
        {"cathode": 1},
        {"cathode_loading": 2, "stack_pressure": 3},
        {"cathode": 2, "stack_pressure": 4},
    ],
)
def test_pareto_mask_on_grid_matches_oracle(chunks, integer):
    ds = grid_dataset(seed=5, integer=integer)
    expect = expected_mask(ds)
    data = ds if chunks is None else ds.chunk(chunks)
    with dask.config.set(scheduler=_raise):
        mask = pareto_mask(data, OBJECTIVES)
    assert mask.name == "pareto_front" and mask.dtype == bool
    assert mask.dims == ds["cost"].dims
    if chunks is not None:
        assert mask.chunks == data["cost"].chunks
    np.testing.assert_array_equal(mask.values, expect)
    np.testing.assert_array_equal(mask["cathode"].values, ds["cathode"].values)


@pytest.mark.parametrize("chunks", [None, 1000, 333, 50, 7])
def test_pareto_mask_on_designs_matches_oracle(chunks):
    ds = design_dataset(1000, seed=2)
    data = ds if chunks is None else ds.chunk({"design": chunks})
    with dask.config.set(scheduler=_raise):
        mask = pareto_mask(data)  # objectives from the dse_sense attributes
    np.testing.assert_array_equal(mask.compute().values, expected_mask(ds))
    two = {"specific_energy": "max", "cycle_life": "max"}
    np.testing.assert_array_equal(pareto_mask(data, two).values, expected_mask(ds, two))


def test_pareto_mask_with_where_on_grid_and_designs():
    ds = grid_dataset(seed=9)
    where = (ds["cathode"] != "LFP") & (ds["stack_pressure"] <= 2.0)
    expect = expected_mask(ds, where=where)
    for data in (ds, ds.chunk({"cathode_loading": 3})):
        with dask.config.set(scheduler=_raise):
            by_array = pareto_mask(data, OBJECTIVES, where=where)
            by_text = pareto_mask(data, OBJECTIVES, where="cathode != 'LFP' and stack_pressure <= 2")
        np.testing.assert_array_equal(by_array.values, expect)
        np.testing.assert_array_equal(by_text.values, expect)
    designs = design_dataset(500, seed=4)
    where = designs["cathode"] == "NMC811"
    for data in (designs, designs.chunk({"design": 64})):
        got = pareto_mask(data, where="cathode == 'NMC811'")
        np.testing.assert_array_equal(got.values, expected_mask(designs, where=where))


def test_chunks_that_are_entirely_dominated():
    n = 400
    rng = np.random.default_rng(0)
    energy = np.concatenate([rng.uniform(0, 1, n), rng.uniform(2, 3, n)])
    life = np.concatenate([rng.uniform(0, 1, n), 3 - energy[n:]])
    ds = xr.Dataset(
        {
            "specific_energy": ("design", energy, {"dse_sense": "max"}),
            "cycle_life": ("design", life, {"dse_sense": "max"}),
        }
    )
    mask = pareto_mask(ds.chunk({"design": 100})).values
    assert not mask[:n].any()
    np.testing.assert_array_equal(mask, oracle(np.stack([energy, life], 1), ["max", "max"]))


def test_duplicates_across_chunks_all_stay_on_the_front():
    values = np.array([1.0, 2.0, 2.0, 0.5, 2.0, 1.0])
    ds = xr.Dataset(
        {
            "specific_energy": ("design", values, {"dse_sense": "max"}),
            "cost": ("design", values * 0 + 1, {"dse_sense": "min"}),
        }
    )
    assert pareto_mask(ds.chunk({"design": 2})).values.tolist() == [
        False,
        True,
        True,
        False,
        True,
        False,
    ]


def test_no_candidates_give_an_empty_front():
    ds = grid_dataset()
    ds["feasible"][:] = False
    assert not pareto_mask(ds.chunk({"cathode": 1})).values.any()
    assert not pareto_mask(ds).values.any()


def test_lazy_mask_loads_no_variable_into_the_client():
    ds = design_dataset(2000).chunk({"design": 500})
    with dask.config.set(scheduler=_raise):
        mask = pareto_mask(ds, where="cathode_loading > 2")
        assert isinstance(mask.data, dask.array.Array)
    # only the per-block local fronts feed the global step: its inputs are small
    graph = dict(mask.data.__dask_graph__())
    local = [k for k in graph if isinstance(k, tuple) and str(k[0]).startswith("pareto-local")]
    assert len(local) == 4


@pytest.mark.slow
@pytest.mark.cluster
def test_pareto_mask_on_a_local_cluster():
    distributed = pytest.importorskip("distributed")
    ds = design_dataset(3000, seed=8)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster):  # fmt: skip
        mask = pareto_mask(ds.chunk({"design": 700})).compute()
    np.testing.assert_array_equal(mask.values, expected_mask(ds))


# ------------------------------------------------------------------------------------------------
# validation and helpers
# ------------------------------------------------------------------------------------------------
def test_objective_validation():
    ds = grid_dataset()
    with pytest.raises(SpecError, match="'costs' is no variable of the results; did you mean 'cost'"):
        pareto_mask(ds, {"costs": "min"})
    with pytest.raises(SpecError, match="'capacity' has no dse_sense"):
        pareto_mask(ds, ["specific_energy", "capacity"])
    with pytest.raises(SpecError, match="sense 'minimum' of 'cost' is not 'max' or 'min'"):
        pareto_mask(ds, {"cost": "minimum"})
    with pytest.raises(SpecError, match="no variable has a dse_sense"):
        pareto_mask(ds[["capacity"]])
    assert objective_senses(ds, {"capacity": "max", "cost": None}) == {
        "capacity": "max",
        "cost": "min",
    }
    with pytest.raises(SpecError, match="where: has dimensions"):
        pareto_mask(ds, where=xr.DataArray([True], dims="other"))


def test_front_table_on_grid_and_designs():
    ds = grid_dataset(seed=1)
    mask = pareto_mask(ds.chunk({"cathode": 1}))
    df = front_table(ds.chunk({"cathode": 1}), mask)
    assert len(df) == int(expected_mask(ds).sum())
    assert list(df.columns[:3]) == ["cathode", "cathode_loading", "stack_pressure"]
    assert df["specific_energy"].is_monotonic_decreasing
    flat = np.flatnonzero(expected_mask(ds))
    assert sorted(df.index) == flat.tolist()
    i, j, m = np.unravel_index(df.index[0], ds["cost"].shape)
    assert df.iloc[0]["cathode"] == ds["cathode"].values[i]
    assert df.iloc[0]["cost"] == pytest.approx(float(ds["cost"].values[i, j, m]))

    designs = design_dataset(300, seed=3)
    two = {"cost": "min", "cycle_life": "max"}
    table = front_table(designs, pareto_mask(designs, two), two)
    assert table["cost"].is_monotonic_increasing
    assert set(table.columns) == {"cathode", "cathode_loading", "cost", "cycle_life"}
    assert set(table.index) == set(designs["design"].values[expected_mask(designs, two)])
    assert table.attrs["dse_sense"] == {"cost": "min", "cycle_life": "max"}


def test_knee_point_is_closest_to_utopia():
    df = pd.DataFrame(
        {
            "specific_energy": [500.0, 450.0, 300.0, 200.0],
            "cycle_life": [100.0, 700.0, 900.0, 1000.0],
        },
        index=[7, 8, 9, 10],
    )
    assert knee_point(df, {"specific_energy": "max", "cycle_life": "max"}) == 8
    df.attrs["dse_sense"] = {"specific_energy": "max", "cycle_life": "min"}
    assert knee_point(df, ["specific_energy", "cycle_life"]) == 7
    with pytest.raises(SpecError, match="did you mean 'cycle_life'"):
        knee_point(df, {"cycle_lif": "max"})


def test_epsilon_constraint_on_dataset_and_table():
    ds = design_dataset(500, seed=6)
    best = epsilon_constraint(ds, "cycle_life", {"specific_energy": (">=", 400)})
    ok = ds["feasible"].values & (ds["specific_energy"].values >= 400)
    i = np.flatnonzero(ok)[np.nanargmax(ds["cycle_life"].values[ok])]
    assert best.name == ds["design"].values[i]
    assert best["cycle_life"] == pytest.approx(float(ds["cycle_life"].values[i]))
    lazy = epsilon_constraint(ds.chunk({"design": 100}), "cycle_life", {"specific_energy": (">=", 400)})
    assert lazy.name == best.name
    cheapest = epsilon_constraint(ds, "cost", {"cycle_life": (">", 1000)})
    ok = ds["feasible"].values & (ds["cycle_life"].values > 1000)
    assert cheapest["cost"] == pytest.approx(float(np.nanmin(ds["cost"].values[ok])))
    assert epsilon_constraint(ds, "cycle_life", {"specific_energy": (">", 1e9)}) is None

    grid = grid_dataset(seed=2)
    row = epsilon_constraint(grid, "specific_energy", {"cathode": ("==", "NMC811"), "cost": ("<", 0.5)})
    assert row["cathode"] == "NMC811" and row["cost"] < 0.5

    table = front_table(ds, pareto_mask(ds))
    row = epsilon_constraint(table, "cycle_life", {"specific_energy": (">=", 400)})
    assert row["cycle_life"] == pytest.approx(best["cycle_life"])
    with pytest.raises(SpecError, match="did you mean 'specific_energy'"):
        epsilon_constraint(ds, "cycle_life", {"specific_enrgy": (">=", 400)})
    with pytest.raises(SpecError, match="is not \\(op, value\\)"):
        epsilon_constraint(ds, "cycle_life", {"specific_energy": ("=>", 400)})


def test_each_block_front_is_computed_once(monkeypatch):
    calls = []
    original = pareto._local_front

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(pareto, "_local_front", counting)
    ds = design_dataset(1000).chunk({"design": 250})
    with dask.config.set(scheduler="sync"):
        pareto_mask(ds).compute()
    assert len(calls) == 4


def test_in_memory_objectives_take_the_chunks_of_a_lazy_where():
    ds = grid_dataset(seed=4)
    where = (ds["stack_pressure"] < 3).chunk({"stack_pressure": 2})
    mask = pareto_mask(ds, OBJECTIVES, where=where)
    assert mask.chunks is not None
    np.testing.assert_array_equal(mask.values, expected_mask(ds, where=where.compute()))
    with pytest.raises(SpecError, match="where: its coordinates differ"):
        pareto_mask(ds, OBJECTIVES, where=where.isel(stack_pressure=slice(0, 4)))
