"""Sweep engine: spec → Dask (real LocalCluster) → Zarr, resumable and deterministic."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
import yaml

from dse.errors import SpecError, StoreError
from dse.modelchain import ModelChain
from dse.spec import parse_sweep
from dse.store import open_results
from dse.store.validate import validate_store
from dse.sweep import run_sweep

GRID = {
    "name": "grid test",
    "inputs": {
        "cathode": ["NMC811", "LFP", "NVP"],
        "cathode_loading": {"linspace": ["2 mAh/cm^2", "7 mAh/cm^2", 11]},
        "current_collector_thickness": {"logspace": ["2 um", "12 um", 4]},
        "stack_pressure": [0, 1.0, 2.5],
        "electrolyte": ["Li-dual-salt", "Li-LPSCl"],
        "coating": ["none", "Ag-C"],
        "coating_thickness": "1 um",
    },
}


def spec_of(data, chunk_size=None):
    return parse_sweep(data, text=yaml.safe_dump(data), chunk_size=chunk_size)


@pytest.fixture(scope="module")
def grid_store(tmp_path_factory, cluster):
    path = str(tmp_path_factory.mktemp("grid") / "grid.zarr")
    summary = run_sweep(spec_of(GRID, chunk_size=97), path, scheduler=cluster.scheduler_address)
    return path, summary


def test_grid_store_matches_direct_evaluation_and_slices_by_name(grid_store):
    path, summary = grid_store
    ds = xr.open_zarr(path)
    assert summary.designs == ds.specific_energy.size == 3 * 11 * 4 * 3 * 2 * 2
    assert ds.specific_energy.dims == (
        "cathode",
        "cathode_loading",
        "current_collector_thickness",
        "stack_pressure",
        "electrolyte",
        "coating",
    )
    dims = ds.specific_energy.dims
    index = np.array(np.meshgrid(*[np.arange(ds.sizes[d]) for d in dims], indexing="ij")).reshape(len(dims), -1)
    inputs = {d: ds[d].values[index[i]] for i, d in enumerate(dims)} | {"coating_thickness": 1.0}
    ref = ModelChain(uncertainty=False).evaluate(inputs)
    for name in ("specific_energy", "energy_density", "cycle_life", "cost", "coulombic_efficiency"):
        np.testing.assert_array_equal(ds[name].values.ravel(), ref[name].astype(np.float32), err_msg=name)
    np.testing.assert_array_equal(ds.feasible.values.ravel(), ref["infeasible_reason"] == 0)
    # slice by input names as DESIGN.md §5 promises
    best = ds.sel(cathode="NMC811", electrolyte="Li-dual-salt").cycle_life.max("stack_pressure")
    assert best.dims == ("cathode_loading", "current_collector_thickness", "coating")
    assert ds.cathode_loading.attrs["units"] == "mAh/cm^2" and ds.cost.attrs["dse_sense"] == "min"
    # NVP in a Li cell is masked with the cathode_metal bit, not an error
    assert np.all(ds.sel(cathode="NVP").infeasible_reason.values & 1)


def test_store_has_provenance_and_validates(grid_store):
    path, _ = grid_store
    ds = xr.open_zarr(path)
    for key in (
        "dse_version",
        "dse_spec",
        "dse_spec_hash",
        "dse_catalogue_hash",
        "dse_ce_coefficients",
        "dse_git_commit",
        "created",
        "Conventions",
    ):
        assert key in ds.attrs, key
    assert "grid test" in ds.attrs["dse_spec"]
    assert ds.attrs["dse_status"] == "complete"
    assert validate_store(path) == []


@pytest.mark.parametrize("method", ["sobol", "latin_hypercube", "random", "saltelli"])
def test_sampled_sweeps_store_inputs_and_match_evaluation(tmp_path, cluster, method):
    data = {
        "inputs": {
            "cathode": ["NMC811", "NCA"],
            "cathode_loading": {"range": ["1 mAh/cm^2", "8 mAh/cm^2"]},
            "stack_pressure": {"range": [0.01, 3], "log": True},
            "electrolyte": "Li-dual-salt",
        },
        "sampler": {"method": method, "n": 300, "seed": 3},
    }
    path = str(tmp_path / "s.zarr")
    run_sweep(spec_of(data, chunk_size=128), path, scheduler=cluster.scheduler_address)
    (ds,) = open_results(path, decode_categories=True).values()
    n = 300 * (3 + 2) if method == "saltelli" else 300
    assert ds.sizes["design"] == n
    load = ds.cathode_loading.values
    assert load.min() >= 1 and load.max() <= 8
    assert set(ds.cathode.values) == {"NMC811", "NCA"}
    ref = ModelChain(uncertainty=False).evaluate(
        {"cathode": ds.cathode.values.astype(str), "cathode_loading": load, "stack_pressure": ds.stack_pressure.values}
    )
    np.testing.assert_array_equal(ds.specific_energy.values, ref["specific_energy"].astype(np.float32))
    assert validate_store(path) == []


def test_same_spec_is_bit_identical_for_any_chunking_and_worker_count(tmp_path, cluster):
    stores = []
    for chunk, sched in ((7, cluster.scheduler_address), (1000, cluster.scheduler_address), (97, None)):
        path = str(tmp_path / f"c{chunk}.zarr")
        run_sweep(spec_of(GRID, chunk_size=chunk), path, scheduler=sched, n_workers=1)
        stores.append(xr.open_zarr(path).load())
    data = {
        "inputs": {"cathode_loading": {"range": [1, 8]}, "metal_excess": {"range": [0, 20]}},
        "sampler": {"method": "latin_hypercube", "n": 500, "seed": 1},
    }
    sampled = []
    for chunk in (13, 500):
        path = str(tmp_path / f"lhs{chunk}.zarr")
        run_sweep(spec_of(data, chunk_size=chunk), path, scheduler=cluster.scheduler_address)
        sampled.append(xr.open_zarr(path).load())
    for group in (stores, sampled):
        for other in group[1:]:
            for name in group[0].data_vars:
                np.testing.assert_array_equal(group[0][name].values, other[name].values, err_msg=name)


def test_several_scenarios_are_groups(tmp_path, cluster):
    data = {
        "scenarios": [
            {
                "name": "li",
                "inputs": {
                    "metal": "Li",
                    "cathode": ["NMC811", "LFP"],
                    "electrolyte": "Li-dual-salt",
                    "cathode_loading": [2, 4, 6],
                },
            },
            {
                "name": "na",
                "inputs": {
                    "metal": "Na",
                    "cathode": ["NVP", "NaPW"],
                    "electrolyte": "Na-diglyme",
                    "current_collector": "Al",
                    "cathode_loading": {"linspace": [1, 3, 3]},
                },
            },
        ]
    }
    path = str(tmp_path / "multi.zarr")
    run_sweep(spec_of(data), path, scheduler=cluster.scheduler_address)
    results = open_results(path)
    assert set(results) == {"li", "na"}
    assert bool(results["na"].feasible.all())
    assert xr.open_zarr(path, group="li").sizes == {"cathode": 2, "cathode_loading": 3}
    assert validate_store(path) == []


def test_existing_store_is_refused_then_overwritten(tmp_path, cluster, grid_store):
    path, _ = grid_store
    with pytest.raises(StoreError, match="already exists; use --resume"):
        run_sweep(spec_of(GRID, chunk_size=97), path, scheduler=cluster.scheduler_address)
    other = dict(GRID, inputs={**GRID["inputs"], "stack_pressure": [0, 2.0]})
    with pytest.raises(StoreError, match="different spec"):
        run_sweep(spec_of(other, chunk_size=97), path, scheduler=cluster.scheduler_address, resume=True)
    # nothing was damaged
    assert validate_store(path) == []
    target = str(tmp_path / "o.zarr")
    small = {"inputs": {"cathode_loading": [2, 3]}}
    run_sweep(spec_of(small), target, scheduler=cluster.scheduler_address)
    run_sweep(
        spec_of({"inputs": {"cathode_loading": [2, 3, 4]}}), target, scheduler=cluster.scheduler_address, overwrite=True
    )
    assert xr.open_zarr(target).sizes["cathode_loading"] == 3


def test_resume_finishes_only_missing_blocks(tmp_path, cluster):
    import zarr

    path = str(tmp_path / "r.zarr")
    spec = spec_of(GRID, chunk_size=50)
    full = run_sweep(spec, path, scheduler=cluster.scheduler_address)
    reference = xr.open_zarr(path).load()
    # lose some blocks as if workers died: wipe their data and completion flags
    g = zarr.open_group(path, mode="r+")
    done = g["_dse/completed"]
    lost = [1, 5, 17, full.blocks - 1]
    from dse.design import DesignSpace

    space = DesignSpace(spec.scenarios[0], spec.chunk_size)
    for b in lost:
        done[b] = 0
        g["specific_energy"][space.block_slices(b)] = np.nan
    resumed = run_sweep(spec, path, scheduler=cluster.scheduler_address, resume=True)
    assert resumed.blocks == len(lost) and resumed.skipped_blocks == full.blocks - len(lost)
    again = xr.open_zarr(path).load()
    np.testing.assert_array_equal(again.specific_energy.values, reference.specific_energy.values)
    assert validate_store(path) == []


def test_bad_targets(tmp_path, cluster):
    spec = spec_of({"inputs": {"cathode_loading": [2, 3]}})
    afile = tmp_path / "file.zarr"
    afile.write_text("not a store")
    with pytest.raises(StoreError, match="is a file"):
        run_sweep(spec, str(afile), scheduler=cluster.scheduler_address)
    assert afile.read_text() == "not a store"
    foreign = str(tmp_path / "foreign.zarr")
    xr.Dataset({"x": ("t", np.arange(3))}).to_zarr(foreign, zarr_format=3)
    with pytest.raises(StoreError, match="not a dse results store"):
        run_sweep(spec, foreign, scheduler=cluster.scheduler_address, resume=True)
    assert xr.open_zarr(foreign).x.values.tolist() == [0, 1, 2]
    assert "not a dse results store" in validate_store(foreign)[0]
    with pytest.raises(StoreError, match="nothing to resume"):
        run_sweep(spec, str(tmp_path / "none.zarr"), scheduler=cluster.scheduler_address, resume=True)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"inputs": {"cathode_loading": {"linspace": [2, 8, 0]}}}, "integer ≥ 1"),
        ({"inputs": {"cathode_loading": []}}, "empty list"),
        ({"inputs": {"cathode_loading": {"range": [8, 2]}}, "sampler": {"method": "sobol", "n": 8}}, "empty range"),
        ({"inputs": {"cathode_loading": {"range": [2, 8]}}}, "range needs a sampler"),
        ({"inputs": {"cathode_loading": "8 kg"}}, "expected an areal capacity"),
        ({"inputs": {"cathod_loading": [2, 3]}}, "did you mean 'cathode_loading'"),
        ({"inputs": {"cathode": ["NMC811", "NMC812"]}}, "did you mean 'NMC811'"),
        (
            {"inputs": {"cathode_loading": {"range": [2, 8]}}, "sampler": {"method": "sobl", "n": 8}},
            "did you mean 'sobol'",
        ),
        ({"inputs": {"cathode_loading": [2]}, "sampler": {"method": "sobol", "n": 0}}, "integer ≥ 1"),
        ({"inputs": {"separator_thickness": [-5]}}, "outside the physical range"),
        ({"scenarios": [{"name": "a"}, {"name": "a"}]}, "duplicate scenario"),
        ({"inputs": {}, "scenarios": []}, "either scenarios or top-level inputs"),
    ],
)
def test_bad_specs_are_one_line_errors(data, message):
    with pytest.raises(SpecError, match=message) as info:
        spec_of(data)
    assert "\n" not in str(info.value)
