"""Time to the front of a fine grid: adaptive refinement vs a full evaluation of the same grid.

    python benchmarks/refine.py [--repeats 3] [--huge-only]

Both sides run the same fused kernel in this process (refinement's batches
are below dse.refine.DASK_MIN_BATCH here); the full side only evaluates and
finds the front, without writing a store, so the ratio is a lower bound for a
`dse sweep` + `dse pareto`. The second part refines a ~10^10-design grid and
compares with the full evaluation's rate extrapolated to that grid.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import yaml

from dse.chain import ModelChain
from dse.design import DesignSpace
from dse.pareto import nondominated
from dse.refine import describe, refine
from dse.spec import parse_sweep

OBJECTIVES = {"specific_energy": "max", "cycle_life": "max", "cost": "min"}


def grid(loading: int, collector: int, pressure: int, dod: int) -> dict:
    return {"name": "refine benchmark", "inputs": {
        "metal": "Li", "cathode": ["NMC811", "LFP"], "electrolyte": ["Li-dual-salt", "Li-LHCE"],
        "cathode_loading": {"linspace": ["1 mAh/cm^2", "8 mAh/cm^2", loading]},
        "current_collector_thickness": {"linspace": ["2 um", "12 um", collector]},
        "stack_pressure": {"linspace": [0.0, 3.0, pressure]},
        "depth_of_discharge": {"linspace": [0.6, 1.0, dod]}}}


def brute_force(spec) -> tuple[int, float]:
    """Evaluate every block, keep each block's front, then the front of those: (front size, seconds)."""
    t = time.perf_counter()
    sc = spec.scenarios[0]
    space = DesignSpace(sc, spec.chunk_size)
    chain = ModelChain.from_design(sc, uncertainty=False)
    rows = [spec.outputs.index(o) for o in OBJECTIVES]
    reason = spec.outputs.index("infeasible_reason")
    kept = []
    for b in range(space.n_blocks):
        shape, axis_of, starts, values, _ = space.kernel_inputs(b, chain)
        out = chain.evaluate_block(shape, axis_of, starts, values, spec.outputs)
        x = out[rows].T.astype(np.float64)
        x = x[out[reason] == 0]
        kept.append(x[nondominated(x, list(OBJECTIVES.values()))])
    x = np.concatenate(kept)
    front = int(nondominated(x, list(OBJECTIVES.values())).sum())
    return front, time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    fine = parse_sweep(grid(129, 33, 33, 17), text="", chunk_size=1 << 20)
    fine_spec = parse_sweep(fine.data, text=yaml.safe_dump(fine.data), chunk_size=1 << 20)
    refine(parse_sweep(grid(9, 5, 5, 5)), OBJECTIVES)  # compile
    brute_force(parse_sweep(grid(9, 5, 5, 5)))
    brute, refined = [], []
    for _ in range(args.repeats):
        n_front, seconds = brute_force(fine_spec)
        brute.append(seconds)
        t = time.perf_counter()
        result = refine(fine_spec, OBJECTIVES)
        refined.append(time.perf_counter() - t)
    b, r = statistics.median(brute), statistics.median(refined)
    print(f"fine grid: {fine_spec.n_designs:,} designs, front {n_front} (objectives {', '.join(OBJECTIVES)})")
    print(f"  full evaluation + front: median {b:.2f} s ({fine_spec.n_designs / b:,.0f} designs/s)")
    print(f"  refinement:              median {r:.2f} s  — {describe(result)}")
    print(f"  ratio full / refined: {b / r:.1f}×")
    rate = fine_spec.n_designs / b
    huge = parse_sweep(grid(1001, 201, 201, 61), text="")
    t = time.perf_counter()
    result = refine(huge, OBJECTIVES)
    seconds = time.perf_counter() - t
    extrapolated = huge.n_designs / rate
    print(f"huge grid: {huge.n_designs:,} designs: refinement {seconds:.1f} s (target 60 s) — {describe(result)}")
    print(f"  full evaluation extrapolated at {rate:,.0f} designs/s: {extrapolated:,.0f} s "
          f"({extrapolated / 3600:.1f} h); ratio {extrapolated / seconds:,.0f}×")


if __name__ == "__main__":
    main()
