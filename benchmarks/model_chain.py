"""Throughput of the model chain alone on one core (issue: sweep engine, performance).

Prints designs/s of
* the fused numba kernel (the path sweeps use), per output set and cell format,
* the numpy array path (the same source, run on arrays), and
* a per-design Python loop over the same formulas (``ModelChain.evaluate`` on
  one design at a time),
and the ratios between them, measured side by side in one run.

Run: ``python benchmarks/model_chain.py``
"""

from __future__ import annotations

import os
import statistics
import sys

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
from _common import median_time, run_times  # noqa: E402

from dse.modelchain import ModelChain  # noqa: E402
from dse.models.chain import OUTPUT_FIELDS  # noqa: E402
from dse.models.kernel import INPUT_ORDER  # noqa: E402
from dse.spec import DEFAULT_OUTPUTS, UNCERTAINTY_OUTPUTS  # noqa: E402
from dse.vocabulary import INPUTS  # noqa: E402

#: the second axis of the benchmark grids (the first is cathode loading, 1–10 mAh/cm²)
SECOND_AXES = {
    # not an input of the lifetime half: the kernel evaluates that for the 2000 loadings only
    "current_collector_thickness": np.linspace(1, 20, 2000),
    # an input of the lifetime half: every design has its own, as in a sampled sweep
    "stack_pressure": np.linspace(0, 3, 2000),
}


def grid_block(chain: ModelChain, n_side: int, fixed: dict, second: str = "current_collector_thickness"):
    """A loading × ``second`` grid of ``n_side`` × ``n_side`` designs (``n_side`` ≤ 2000), other inputs fixed."""
    axes = {
        "cathode_loading": np.linspace(1, 10, n_side),
        second: np.linspace(SECOND_AXES[second][0], SECOND_AXES[second][-1], n_side),
    }
    names = list(axes)
    axis_of, starts, parts, off = [], [], [], 0
    for name in INPUT_ORDER:
        if name in axes:
            v, a = axes[name], names.index(name)
        else:
            d = fixed.get(name, INPUTS[name].default)
            v = chain.codes(name, [d]) if INPUTS[name].categorical else np.array([float(d)])
            a = -1
        axis_of.append(a)
        starts.append(off)
        parts.append(np.asarray(v, float))
        off += len(v)
    return [n_side, n_side], axis_of, starts, np.concatenate(parts)


def main() -> None:
    n_side = 2000  # 4 million designs per block
    n = n_side * n_side
    repeat = 9
    print(f"model chain on one core, blocks of {n:,} designs (median of {repeat} runs, and the best run)")
    print("(sweeps evaluate every block of a worker thread into one reused output array; the time with a")
    print(" freshly allocated array per block is shown for comparison)")
    print("(loading × collector thickness grids, except the one marked 'by pressure': loading × stack pressure,")
    print(" where every design has its own lifetime inputs, as in a sampled sweep; see dse.models.kernel)")
    rows = []
    for label, uncertainty, outputs, fmt, second in (
        ("default outputs, stack", False, DEFAULT_OUTPUTS, "stack", "current_collector_thickness"),
        ("default outputs, pouch", False, DEFAULT_OUTPUTS, "pouch", "current_collector_thickness"),
        ("same, by pressure", False, DEFAULT_OUTPUTS, "pouch", "stack_pressure"),
        ("with p10/p90, pouch", True, DEFAULT_OUTPUTS + UNCERTAINTY_OUTPUTS, "pouch", "current_collector_thickness"),
        ("same, by pressure", True, DEFAULT_OUTPUTS + UNCERTAINTY_OUTPUTS, "pouch", "stack_pressure"),
        ("every output, pouch", True, OUTPUT_FIELDS, "pouch", "current_collector_thickness"),
    ):
        chain = ModelChain(uncertainty=uncertainty)
        block = grid_block(chain, n_side, {"cell_format": fmt}, second)
        out = np.empty((len(outputs), n), np.float32)
        # as sweeps run it: every block into the same output array (dse.sweep._scratch)
        times = run_times(lambda c=chain, b=block, o=outputs, r=out: c.evaluate_block(*b, list(o), out=r), repeat)
        # a fresh output array per block: the first touch of each page makes the OS zero it
        t_fresh = median_time(lambda c=chain, b=block, o=outputs: c.evaluate_block(*b, list(o)), repeat)
        t, best = statistics.median(times), min(times)
        rows.append((label, n / t))
        print(
            f"  kernel, {label:24s} {n / t / 1e6:6.2f} M designs/s ({1e9 * t / n:5.1f} ns/design; "
            f"best run {n / best / 1e6:5.2f} M/s); into a fresh array {n / t_fresh / 1e6:5.2f} M/s"
        )
    # the array path and the Python loop evaluate every design in full: compared with the
    # kernel where every design has its own lifetime inputs
    grid_rate, kernel_rate = rows[1][1], rows[2][1]

    chain = ModelChain(uncertainty=False)
    m = 200_000
    inputs = {
        "cathode_loading": np.linspace(1, 10, m),
        "current_collector_thickness": np.linspace(1, 20, m),
        "cell_format": "pouch",
    }
    t = median_time(lambda: chain.evaluate(inputs), repeat=3)
    numpy_rate = m / t
    print(f"  numpy array path (same source)    {numpy_rate / 1e6:8.2f} M designs/s")

    k = 300
    singles = [
        {"cathode_loading": float(x), "current_collector_thickness": 5.0, "cell_format": "pouch"}
        for x in np.linspace(1, 10, k)
    ]

    def loop():
        for d in singles:
            chain.evaluate(d)

    t = median_time(loop, repeat=3)
    python_rate = k / t
    print(f"  per-design Python loop            {python_rate:12,.0f} designs/s")
    print()
    for label, r in (("loading × collector", grid_rate), ("loading × pressure", kernel_rate)):
        print(
            f"kernel (default outputs, pouch, {label}): {r:,.0f} designs/s  target ≥ 10,000,000 "
            f"({'met' if r >= 1e7 else 'NOT met'})"
        )
    print("ratios of the kernel by pressure:")
    print(
        f"ratio kernel / per-design Python loop: {kernel_rate / python_rate:,.0f}×  target ≥ 1000× "
        f"({'met' if kernel_rate / python_rate >= 1000 else 'NOT met'})"
    )
    print(f"ratio kernel / numpy array path: {kernel_rate / numpy_rate:,.1f}×")


if __name__ == "__main__":
    main()
