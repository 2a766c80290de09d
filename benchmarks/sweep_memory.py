"""Peak worker memory does not grow with sweep size.

Runs grids of 10^6, 10^7 and (with --full) 10^8 designs on a fresh 2-worker
LocalCluster each and reports every worker's peak resident memory
(``ru_maxrss``). Blocks have a fixed size, inputs are generated inside the
kernel and results go straight to Zarr, so the peak should stay flat.

Run: ``python benchmarks/sweep_memory.py [--full] [--dir DIR]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from sweep_throughput import spec_for  # noqa: E402


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="include the 10^8-design sweep (several GB on disk)")
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    from dse.spec import parse_sweep
    from dse.sweep import run_sweep

    scratch = Path(args.dir or tempfile.mkdtemp(prefix="dse-mem-"))
    scratch.mkdir(parents=True, exist_ok=True)
    sizes = [10**6, 10**7] + ([10**8] if args.full else [])
    print("designs        time      peak RSS per worker (MB)")
    for n in sizes:
        data = spec_for(n)
        spec = parse_sweep(data, text=yaml.safe_dump(data))
        out = scratch / f"mem{n}.zarr"
        shutil.rmtree(out, ignore_errors=True)
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            t = time.perf_counter()
            run_sweep(spec, str(out), scheduler=cluster.scheduler_address)
            dt = time.perf_counter() - t
            peaks = client.run(peak_rss_mb)
        print(f"{spec.n_designs:>13,}  {dt:7.1f} s   " + ", ".join(f"{v:,.0f}" for v in peaks.values()))
        shutil.rmtree(out, ignore_errors=True)
    if args.dir is None:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
