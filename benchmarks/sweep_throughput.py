"""End-to-end sweep throughput vs writing the same arrays straight to Zarr.

A grid sweep of 10^7 designs runs on a 2-worker LocalCluster (processes, one
thread each). The same output arrays (same dtype, codec and chunks) are then
written straight to Zarr by the same cluster. The issue's target is
sweep rate / write rate ≥ 0.5: models and orchestration cost at most as much
as the storage.

Run: ``python benchmarks/sweep_throughput.py [--designs 10000000] [--dir DIR]``
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import yaml


def spec_for(n_target: int) -> dict:
    # 4 cathodes × 50 loadings × 50 collector thicknesses × 25 pressures × 40 DoD = 10^7
    dod = max(1, round(n_target / (4 * 50 * 50 * 25)))
    return {
        "name": "throughput benchmark",
        "inputs": {
            "cathode": ["NMC811", "NMC622", "NCA", "LFP"],
            "cathode_loading": {"linspace": [1.0, 10.0, 50]},
            "current_collector_thickness": {"linspace": [1.0, 20.0, 50]},
            "stack_pressure": {"linspace": [0.0, 3.0, 25]},
            "depth_of_discharge": {"linspace": [0.5, 1.0, dod]},
            "electrolyte": "Li-dual-salt",
            "cell_format": "pouch",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--designs", type=int, default=10_000_000)
    parser.add_argument("--dir", default=None, help="scratch directory (default: a temporary one)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import xarray as xr
    from distributed import Client, LocalCluster

    from dse.spec import parse_sweep
    from dse.store import _compressors
    from dse.sweep import run_sweep

    data = spec_for(args.designs)
    spec = parse_sweep(data, text=yaml.safe_dump(data))
    scratch = Path(args.dir or tempfile.mkdtemp(prefix="dse-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    print(f"{spec.n_designs:,} designs, chunks of {spec.chunk_size:,}, 2 workers × 1 thread, scratch {scratch}")
    t0 = time.perf_counter()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        startup = time.perf_counter() - t0
        sweep_times, write_times = [], []
        for i in range(args.repeat):
            out = scratch / f"sweep{i}.zarr"
            shutil.rmtree(out, ignore_errors=True)
            t = time.perf_counter()
            run_sweep(spec, str(out), scheduler=cluster.scheduler_address)
            sweep_times.append(time.perf_counter() - t)
            ds = xr.open_zarr(out)
            plain = xr.Dataset({k: v.copy() for k, v in ds.data_vars.items()})
            plain = plain.drop_vars(list(plain.coords))
            encoding = {
                k: {"chunks": v.data.chunksize, "compressors": _compressors()} for k, v in plain.data_vars.items()
            }
            # load the very same arrays into worker memory, then time only the write
            plain = client.persist(plain)
            from distributed import wait

            wait(plain)
            raw = scratch / f"raw{i}.zarr"
            shutil.rmtree(raw, ignore_errors=True)
            t = time.perf_counter()
            plain.to_zarr(raw, zarr_format=3, consolidated=False, encoding=encoding, mode="w")
            write_times.append(time.perf_counter() - t)
            del plain
            shutil.rmtree(raw, ignore_errors=True)
            if i:
                shutil.rmtree(out, ignore_errors=True)
    import statistics

    n = spec.n_designs
    ts, tw = statistics.median(sweep_times), statistics.median(write_times)
    print(f"cluster start-up (excluded below): {startup:.1f} s")
    print(
        f"sweep, end to end (template, evaluate, write, resume record, summary): "
        f"median {ts:.2f} s → {n / ts:,.0f} designs/s"
    )
    print(
        f"straight Zarr write of the same outputs (same dtype, codec, chunks): median {tw:.2f} s → {n / tw:,.0f} designs/s"
    )
    print(f"ratio sweep / write: {tw / ts:.2f}  (target ≥ 0.5: {'met' if tw / ts >= 0.5 else 'NOT met'})")
    shutil.rmtree(scratch, ignore_errors=True) if args.dir is None else None


if __name__ == "__main__":
    main()
