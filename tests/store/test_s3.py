"""Stores on an S3-compatible server on loopback (moto, tests/conftest.py): sweep, open, validate, front."""

from __future__ import annotations

import numpy as np
import xarray as xr
import yaml

from dse.spec import parse_sweep
from dse.store import open_results
from dse.store.validate import validate_store
from dse.sweep import run_sweep


def test_sweep_to_object_storage_and_read_back(s3_endpoint, cluster, tmp_path):
    data = {
        "inputs": {
            "cathode": ["NMC811", "LFP"],
            "cathode_loading": {"linspace": [2, 6, 9]},
            "stack_pressure": [0.0, 1.0],
        }
    }
    spec = parse_sweep(data, text=yaml.safe_dump(data), chunk_size=7)
    # credentials travel with the storage options: the workers are other processes
    options = {
        "endpoint_url": s3_endpoint,
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"region_name": "us-east-1"},
    }
    url = "s3://results/demo.zarr"
    run_sweep(spec, url, scheduler=cluster.scheduler_address, storage_options=options)
    local = str(tmp_path / "local.zarr")
    run_sweep(spec, local, scheduler=cluster.scheduler_address)
    remote = open_results(url, options)["sweep"]
    np.testing.assert_array_equal(remote.cycle_life.values, xr.open_zarr(local).cycle_life.values)
    assert validate_store(url, options) == []
    from dse.pareto import pareto_store

    front = pareto_store(url, storage_options=options)
    assert len(front) > 0
    assert "pareto_front" in open_results(url, options)["sweep"]
    # the dashboard's data layer reads the same URL
    from dse.explore import ResultsSource

    source = ResultsSource(url, options)
    assert len(source) == int(remote.feasible.sum())
