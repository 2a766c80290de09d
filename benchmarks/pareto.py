"""Throughput of the Pareto front: 10^7 designs x 3 objectives on a 2-worker LocalCluster.

Run with ``python benchmarks/pareto.py`` (``--designs``, ``--repeats`` to change
the size). Prints medians of repeated runs of

- ``pareto_mask(ds).compute()`` on persisted, chunked data (target <= 10 s);
- the naive O(n^2) algorithm on 10^4 points, extrapolated to n with n^2;
- a single-threaded numpy sort-based reference on a subsample, extrapolated
  with n log n, and :func:`dse.pareto.nondominated` on the same subsample.

The designs mimic a sweep: specific energy against cycle life (a trade-off
with scatter) and cost falling with energy, float32, 15 % infeasible.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import dask.array as da
import numpy as np
import xarray as xr

from dse.pareto import nondominated, pareto_mask

OBJECTIVES = {"specific_energy": "max", "cycle_life": "max", "cost": "min"}


def designs_numpy(n: int, seed: int) -> np.ndarray:
    """(n, 3) objectives with the benchmark's distribution, in memory."""
    rng = np.random.default_rng(seed)
    energy = rng.uniform(200.0, 500.0, n)
    life = 4000.0 * np.exp(-(energy - 200.0) / 150.0) * rng.lognormal(0.0, 0.3, n)
    cost = 60.0 + 20000.0 / energy + rng.normal(0.0, 8.0, n)
    return np.stack([energy, life, cost], axis=1).astype(np.float32)


def designs_dataset(n: int, chunk: int, seed: int) -> xr.Dataset:
    """The same distribution as a lazy ``design`` Dataset generated on the workers."""
    rng = da.random.default_rng(seed)
    energy = rng.uniform(200.0, 500.0, n, chunks=chunk)
    life = 4000.0 * da.exp(-(energy - 200.0) / 150.0) * rng.lognormal(0.0, 0.3, n, chunks=chunk)
    cost = 60.0 + 20000.0 / energy + rng.normal(0.0, 8.0, n, chunks=chunk)
    feasible = rng.random(n, chunks=chunk) < 0.85
    data = {
        name: (
            "design",
            values.astype(np.float32),
            {"units": "1", "long_name": name, "dse_sense": s},
        )
        for (name, s), values in zip(OBJECTIVES.items(), (energy, life, cost), strict=True)
    }
    data["feasible"] = ("design", feasible)
    return xr.Dataset(data)


TIMES: dict[str, list[float]] = {}


def median_time(fn: Callable[[], object], repeats: int, label: str = "") -> tuple[float, object]:
    """Median wall time [s] of ``repeats`` calls, and the last result; all times go to TIMES."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    TIMES[label] = times
    return statistics.median(times), out


def naive(x: np.ndarray) -> np.ndarray:
    """O(n^2): every point against every other, vectorised over the others."""
    out = np.zeros(len(x), bool)
    for i in range(len(x)):
        out[i] = not ((x >= x[i]).all(axis=1) & (x > x[i]).any(axis=1)).any()
    return out


def sort_reference(x: np.ndarray) -> np.ndarray:
    """Sort by the objectives descending, then test each point against the front so far."""
    order = np.lexsort(tuple(-x[:, j] for j in range(x.shape[1] - 1, -1, -1)))
    front = np.empty_like(x)
    m = 0
    out = np.zeros(len(x), bool)
    for i in order:
        f = front[:m]
        if not ((f >= x[i]).all(axis=1) & (f > x[i]).any(axis=1)).any():
            front[m] = x[i]
            m += 1
            out[i] = True
    return out


def maximised(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) * np.array([1.0 if s == "max" else -1.0 for s in OBJECTIVES.values()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", type=int, default=10**7)
    parser.add_argument("--chunk", type=int, default=2_500_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--subsample", type=int, default=100_000)
    args = parser.parse_args()
    n = args.designs

    from distributed import Client, LocalCluster, wait

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        ds = designs_dataset(n, args.chunk, seed=0).persist()
        wait(ds)
        pareto_mask(designs_dataset(200_000, 50_000, seed=1)).compute()  # compile on the workers
        t_dask, mask = median_time(lambda: pareto_mask(ds).compute(), args.repeats, "dask")
        front = int(mask.sum())
        client.cancel(ds)
    print(f"designs: {n:.0e} x {len(OBJECTIVES)} objectives, chunks of {args.chunk:.1e}, 2 workers x 1 thread")
    print(f"pareto_mask(...).compute(): {t_dask:.2f} s median of {args.repeats}"
          f" (min {min(TIMES['dask']):.2f}, max {max(TIMES['dask']):.2f});"
          f" {n / t_dask / 1e6:.1f} M designs/s, front {front} designs")  # fmt: skip
    print("  runs [s]: " + ", ".join(f"{t:.2f}" for t in TIMES["dask"]))

    small = maximised(designs_numpy(10_000, seed=2))
    t_naive, _ = median_time(lambda: naive(small), 3)
    t_naive_n = t_naive * (n / len(small)) ** 2
    print(f"naive O(n^2): {t_naive:.2f} s on 1e4 -> {t_naive_n:.3g} s ({t_naive_n / 86400:.1f} days)"
          f" extrapolated to {n:.0e}; ratio {t_naive_n / t_dask:.3g}x")  # fmt: skip

    m = min(args.subsample, n)
    sub = maximised(designs_numpy(m, seed=3))
    t_ref, ref = median_time(lambda: sort_reference(sub), 3)
    t_ours, ours = median_time(lambda: nondominated(sub, ["max"] * 3), args.repeats)
    assert (ref == ours).all(), "the reference and nondominated disagree"
    scale = n * math.log(n) / (m * math.log(m))
    print(f"numpy sort-based reference: {t_ref:.2f} s on {m:.0e} -> {t_ref * scale:.3g} s"
          f" extrapolated (n log n) to {n:.0e}; ratio {t_ref * scale / t_dask:.3g}x")  # fmt: skip
    print(f"nondominated, 1 thread, same {m:.0e} points: {t_ours * 1e3:.1f} ms;"
          f" ratio {t_ref / t_ours:.3g}x")  # fmt: skip


if __name__ == "__main__":
    main()
