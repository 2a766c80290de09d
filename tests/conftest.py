"""Shared fixtures: catalogue, model chain and seed 001 designs."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from dse.chain import ModelChain
from dse.evaluate import evaluate_design
from dse.spec import load_design

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def chain() -> ModelChain:
    return ModelChain()


def seed001(case: int, **inputs):
    """Evaluate seed 001 Table 1 case ``case`` with some inputs changed."""
    design = copy.deepcopy(_seed001_design(case))
    design.inputs.update(inputs)
    return evaluate_design(design)


_CACHE: dict[int, object] = {}


def _seed001_design(case: int):
    if case not in _CACHE:
        _CACHE[case] = load_design(EXAMPLES / "seed001" / f"case{case}.yaml")
    return _CACHE[case]


@pytest.fixture(scope="session")
def cluster():
    """A real 2-worker dask.distributed LocalCluster (processes) for the session."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


SMALL_STORE_SPEC = {
    "name": "small store",
    "scenarios": [
        {"name": "li", "inputs": {
            "metal": "Li", "cathode": ["NMC811", "LFP"], "electrolyte": ["Li-dual-salt", "Li-LPSCl"],
            "cathode_loading": {"linspace": ["2 mAh/cm^2", "7 mAh/cm^2", 6]},
            "current_collector_thickness": ["4 um", "8 um"], "stack_pressure": [0.0, 1.0, 3.0],
            "coating": ["none", "Ag-C"], "coating_thickness": "1 um", "temperature": [25, 60]}},
        {"name": "na", "sampler": {"method": "sobol", "n": 256, "seed": 2}, "inputs": {
            "metal": "Na", "cathode": ["NVP", "NaPW"], "electrolyte": "Na-diglyme", "current_collector": "Al",
            "cathode_loading": {"range": [1, 5]}, "stack_pressure": {"range": [0, 2]}}},
    ],
    "uncertainty": True,
}


@pytest.fixture(scope="session")
def small_store(tmp_path_factory, cluster):
    """A two-scenario results store (grid + sampled) shared by several tests."""
    import yaml

    from dse.spec import parse_sweep
    from dse.sweep import run_sweep

    path = str(tmp_path_factory.mktemp("store") / "small.zarr")
    spec = parse_sweep(SMALL_STORE_SPEC, text=yaml.safe_dump(SMALL_STORE_SPEC), chunk_size=64)
    run_sweep(spec, path, scheduler=cluster.scheduler_address)
    return path
