"""Scaling: sweep throughput on 1 vs 2 worker processes, and the Dask
scheduler's task rate, and the chunk size that follows for big clusters.

1. The same grid sweep runs on a 1-worker and a 2-worker LocalCluster
   (processes, one thread each), alternately, ``--repeat`` times each; the
   medians and their ratio are printed (2.0 would be perfect scaling).
2. The scheduler's rate: ``client.map`` of a no-op over ``--tasks`` keys on
   the 2-worker cluster, median of ``--repeat`` runs [tasks/s].
3. The chunk-size rule of docs/scaling.md, evaluated with the measured
   figures for ``--target-designs`` on ``--target-workers``.

Run: ``python benchmarks/scaling.py [--designs 4000000] [--chunk-size 262144]``
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from sweep_throughput import spec_for  # noqa: E402


def noop(x):
    return x


def chunk_rule(
    designs: float,
    workers: int,
    seconds_per_design: float,
    tasks_per_second: float,
    min_task_seconds: float = 1.0,
    scheduler_share: float = 0.1,
    waves: int = 3,
) -> dict:
    """The chunk-size rule of docs/scaling.md.

    * lower bound: a task lasts at least ``min_task_seconds``, and long
      enough that ``workers`` finishing tasks keep the scheduler at most
      ``scheduler_share`` busy: T ≥ max(min_task_seconds, W / (share · R));
    * upper bound: every worker gets at least ``waves`` blocks, so that the
      last, partly idle wave is short: chunk ≤ N / (waves · W).

    When the bounds cross, the sweep is too small for that many workers;
    ``useful_workers`` is the largest W for which they meet. The chunk is
    the lower bound rounded up to a multiple of 2^16 designs.
    """
    task_seconds = max(min_task_seconds, workers / (scheduler_share * tasks_per_second))
    low = task_seconds / seconds_per_design
    high = designs / (waves * workers)
    work = designs * seconds_per_design  # worker-seconds
    useful = min(math.sqrt(work * scheduler_share * tasks_per_second / waves), work / (waves * min_task_seconds))
    chunk = math.ceil(low / 65_536) * 65_536  # a multiple of 2^16 designs
    tasks = math.ceil(designs / chunk)
    return {
        "task_seconds": task_seconds,
        "low": low,
        "high": high,
        "chunk": chunk,
        "tasks": tasks,
        "fits": low <= high,
        "useful_workers": math.floor(useful),
        "work": work,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--designs", type=int, default=4_000_000)
    parser.add_argument("--chunk-size", type=int, default=262_144)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--target-designs", type=float, default=1e9)
    parser.add_argument("--target-workers", type=int, default=300)
    parser.add_argument("--dir", default=None, help="scratch directory (default: a temporary one)")
    args = parser.parse_args()

    from distributed import Client, LocalCluster, wait

    from dse.spec import parse_sweep
    from dse.sweep import run_sweep

    data = spec_for(args.designs)
    spec = parse_sweep(data, text=yaml.safe_dump(data), chunk_size=args.chunk_size)
    scratch = Path(args.dir or tempfile.mkdtemp(prefix="dse-scaling-"))
    scratch.mkdir(parents=True, exist_ok=True)
    n_blocks = math.ceil(spec.n_designs / spec.chunk_size)
    print(
        f"{spec.n_designs:,} designs in {n_blocks} blocks of {spec.chunk_size:,}; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at the start; scratch {scratch}"
    )

    clusters = {
        n: LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
        )
        for n in (1, 2)
    }
    times: dict[int, list[float]] = {1: [], 2: []}
    try:
        for rep in range(args.repeat + 1):  # the first round loads the kernel in every worker: not timed
            for n, cluster in clusters.items():
                out = scratch / f"w{n}.zarr"
                shutil.rmtree(out, ignore_errors=True)
                t = time.perf_counter()
                run_sweep(spec, str(out), scheduler=cluster.scheduler_address)
                if rep:
                    times[n].append(time.perf_counter() - t)
        rate = {n: spec.n_designs / statistics.median(ts) for n, ts in times.items()}
        print(f"1 worker : median {statistics.median(times[1]):.2f} s → {rate[1]:,.0f} designs/s")
        print(f"2 workers: median {statistics.median(times[2]):.2f} s → {rate[2]:,.0f} designs/s")
        print(f"ratio 2/1: {rate[2] / rate[1]:.2f}  (2.00 = perfect scaling on 2 cores)")

        with Client(clusters[2]) as client:
            runs = []
            for _ in range(args.repeat + 1):
                t = time.perf_counter()
                futures = client.map(noop, range(args.tasks), pure=False)
                wait(futures)
                runs.append(time.perf_counter() - t)
                del futures
            tasks_per_second = args.tasks / statistics.median(runs[1:])
        print(
            f"scheduler: {args.tasks:,} no-op tasks on 2 workers, median {statistics.median(runs[1:]):.2f} s "
            f"→ {tasks_per_second:,.0f} tasks/s ({1e3 / tasks_per_second:.2f} ms per task)"
        )
    finally:
        for cluster in clusters.values():
            cluster.close()
        if args.dir is None:
            shutil.rmtree(scratch, ignore_errors=True)

    per_design = 1 / rate[1]  # one worker process, end to end (kernel, compression, local write)
    n, w = args.target_designs, args.target_workers
    rule = chunk_rule(n, w, per_design, tasks_per_second)
    print(
        f"one worker: {per_design * 1e6:.2f} µs per design end to end; {n:.0e} designs = "
        f"{rule['work']:,.0f} worker-seconds"
    )
    print(
        f"rule for {n:.0e} designs on {w} workers: tasks ≥ {rule['task_seconds']:.2f} s → chunk ≥ "
        f"{rule['low']:,.0f}; ≥ 3 blocks per worker → chunk ≤ {rule['high']:,.0f}"
    )
    if rule["fits"]:
        print(f"→ chunk_size {rule['chunk']:,} ({rule['tasks']:,} tasks)")
    else:
        u = rule["useful_workers"]
        fit = chunk_rule(n, u, per_design, tasks_per_second)
        print(
            f"→ the bounds cross: at most {u} workers are useful; on {u} workers chunk_size {fit['chunk']:,} "
            f"({fit['tasks']:,} tasks, {fit['tasks'] / u:.1f} per worker, about "
            f"{fit['work'] / u:,.0f} s of compute each)"
        )


if __name__ == "__main__":
    main()
