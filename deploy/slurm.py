"""Run a dse sweep on SLURM workers started by dask-jobqueue.

Usage: python deploy/slurm.py SPEC.yaml OUT.zarr [--jobs N] [--cores C]
Queue, account and walltime come from your Dask config (see jobqueue.yaml).
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("spec")
    parser.add_argument("output")
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--cores", type=int, default=8)
    args = parser.parse_args()

    from dask_jobqueue import SLURMCluster
    from distributed import Client

    from dse.spec import load_sweep
    from dse.sweep import run_sweep

    # one single-threaded worker process per core, as on a laptop
    cluster = SLURMCluster(cores=args.cores, processes=args.cores, memory=f"{2 * args.cores}GB")
    cluster.scale(jobs=args.jobs)
    with Client(cluster) as client:
        client.wait_for_workers(1)
        summary = run_sweep(load_sweep(args.spec), args.output, scheduler=cluster.scheduler_address)
    print(summary.as_dict())


if __name__ == "__main__":
    main()
