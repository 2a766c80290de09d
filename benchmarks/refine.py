"""Time to the front of a fine grid: adaptive refinement vs a full evaluation of the same grid.

    python benchmarks/refine.py [--repeats 3] [--huge-repeats 1] [--skip-huge]
    python benchmarks/refine.py --profile [--profile-grid 1001,201,201,61]

Both sides run the same fused kernel in this process on ``dse.refine.THREADS``
threads (the kernel releases the GIL) and compute only the three objectives
and ``infeasible_reason``; the full side evaluates the grid block by block and
keeps each block's front, without writing a store, so its time is a lower
bound for ``dse sweep`` + ``dse pareto``. The first part runs both on a
~10^7-design grid (medians of ``--repeats`` runs) and checks that the two
fronts are the same set of designs; the second refines a ~10^10-design grid
and compares with the full evaluation's rate extrapolated to that grid.

``--profile`` instead refines the ~10^10 grid once with each phase timed per
level (wall time: the union of the intervals the phase's calls ran, so two
threads in the same phase count once) and the resident memory after each
level; the phases are wrapped by name, so the script profiles older code too
(``PYTHONPATH=/other/tree``), skipping names that tree lacks.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from dse.design import DesignSpace
from dse.modelchain import ModelChain
from dse.pareto import nondominated
from dse.refine import THREADS, describe, refine
from dse.spec import parse_sweep

OBJECTIVES = {"specific_energy": "max", "cycle_life": "max", "cost": "min"}
OUTPUTS = [*OBJECTIVES, "infeasible_reason"]
FINE = (129, 33, 33, 17)  # 9.55e6 designs
HUGE = (1001, 201, 201, 61)  # 9.87e9 designs


def grid(loading: int, collector: int, pressure: int, dod: int) -> dict:
    return {
        "name": "refine benchmark",
        "inputs": {
            "metal": "Li",
            "cathode": ["NMC811", "LFP"],
            "electrolyte": ["Li-dual-salt", "Li-LHCE"],
            "cathode_loading": {"linspace": ["1 mAh/cm^2", "8 mAh/cm^2", loading]},
            "current_collector_thickness": {"linspace": ["2 um", "12 um", collector]},
            "stack_pressure": {"linspace": [0.0, 3.0, pressure]},
            "depth_of_discharge": {"linspace": [0.6, 1.0, dod]},
        },
    }


def brute_force(spec) -> tuple[np.ndarray, float]:
    """Evaluate every block, keep each block's front, then the front of those: (front rows, seconds)."""
    t = time.perf_counter()
    sc = spec.scenarios[0]
    space = DesignSpace(sc, spec.chunk_size)
    chain = ModelChain.from_design(sc, uncertainty=False)
    senses = list(OBJECTIVES.values())

    def block(b: int) -> np.ndarray:
        shape, axis_of, starts, values, _ = space.kernel_inputs(b, chain)
        out = chain.evaluate_block(shape, axis_of, starts, values, OUTPUTS)
        x = out[:-1, out[-1] == 0].T.astype(np.float64)
        return x[nondominated(x, senses)]

    with ThreadPoolExecutor(THREADS) as pool:
        kept = np.concatenate(list(pool.map(block, range(space.n_blocks))))
    front = kept[nondominated(kept, senses)]
    return front, time.perf_counter() - t


def refined_front(result) -> np.ndarray:
    values = np.concatenate(list(result.values.values()), axis=1)
    x = values[:-1, values[-1] == 0].T.astype(np.float64)
    return x[nondominated(x, list(OBJECTIVES.values()))]


def same_front(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(np.unique(a, axis=0), np.unique(b, axis=0))


PHASES = [  # (module, attribute, phase): wrapped by --profile when the module has it
    ("dse.refine.grid", "_Scenario.evaluate_pending", "evaluate"),
    ("dse.refine.grid", "_evaluate", "  kernel"),
    ("dse.refine.loop", "undominated", "undominated"),  # older trees
    ("dse.refine.loop", "new_candidates", "undominated"),
    ("dse.refine.loop", "_exact_front", "exact front"),
    ("dse.refine.loop", "_volume", "hypervolume"),
    ("dse.refine.grid", "_Scenario.refine", "cells"),
    ("dse.refine.grid", "live_cells", "  live cells"),
    ("dse.refine.cells", "_children", "  children"),
    ("dse.refine.points", "PointTable.reserve", "  reserve/rehash"),
    ("dse.refine.cells", "_lattice_half", "  lattice half"),
    ("dse.refine.cells", "_set_rows", "  set rows"),
    ("dse.refine.cells", "_write_children", "  write children"),
]


def _rss() -> tuple[float, float]:
    """Current and peak resident memory of this process, GB."""
    with open("/proc/self/status") as fh:
        kb = {line.split(":")[0]: int(line.split()[1]) for line in fh if line.startswith(("VmRSS", "VmHWM"))}
    return kb["VmRSS"] / 2**20, kb["VmHWM"] / 2**20


def profile(shape: tuple[int, ...]) -> None:
    """Refine the grid of ``shape`` once with every phase of :data:`PHASES` timed per level."""
    import importlib
    import threading
    from collections import defaultdict

    spans: dict[tuple[int, str], list[tuple[float, float]]] = defaultdict(list)
    memory: dict[int, tuple[float, float]] = {}
    level = [0]
    lock = threading.Lock()

    def timed(fn, phase):
        def wrapper(*args, **kwargs):
            if phase == "evaluate":
                level[0] = args[1] if len(args) > 1 else kwargs["level"]
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with lock:
                    spans[level[0], phase].append((t, time.perf_counter()))
                if phase == "cells":
                    memory[level[0]] = _rss()

        return wrapper

    refine(parse_sweep(grid(9, 5, 5, 5), text="", chunk_size=1 << 20), OBJECTIVES)  # compile
    phases = []
    for module, name, phase in PHASES:
        owner = importlib.import_module(module)
        *path, attr = name.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        if owner is None or not hasattr(owner, attr):
            print(f"(no {module}.{name} in this tree)")
            continue
        setattr(owner, attr, timed(getattr(owner, attr), phase))
        phases += [phase] if phase not in phases else []

    def wall(intervals: list[tuple[float, float]]) -> float:
        total, end = 0.0, -np.inf
        for a, b in sorted(intervals):
            if b > end:
                total += b - max(a, end)
                end = b
        return total

    huge = parse_sweep(grid(*shape), text="")
    result = refine(huge, OBJECTIVES)
    levels = sorted({lv for lv, _ in spans})
    print(f"profile of one refinement of {huge.n_designs:,} designs: {describe(result)}")
    print("seconds per level (wall time of each phase; cells: bound, prune and split); memory after the split, GB")
    header = f"{'phase':<17}" + "".join(f"{lv:>7}" for lv in levels) + f"{'total':>8}"
    print(header)
    for phase in phases:
        row = [wall(spans.get((lv, phase), [])) for lv in levels]
        print(f"{phase:<17}" + "".join(f"{v:>7.2f}" for v in row) + f"{sum(row):>8.2f}")
    subs = [p for p in phases if p.startswith("  ") and p != "  kernel"]
    row = [
        wall(spans.get((lv, "cells"), [])) - wall([s for p in subs for s in spans.get((lv, p), [])]) for lv in levels
    ]
    print(f"{'  cells, other':<17}" + "".join(f"{v:>7.2f}" for v in row) + f"{sum(row):>8.2f}")
    tops = [p for p in phases if not p.startswith("  ")]
    print(
        f"{'not in a phase':<17}{'':>{7 * len(levels)}}{result.seconds - sum(wall(spans.get((lv, p), [])) for lv in levels for p in tops):>8.2f}"
    )
    print(f"{'rss now':<17}" + "".join(f"{memory.get(lv, (np.nan, 0))[0]:>7.2f}" for lv in levels))
    print(f"{'rss peak':<17}" + "".join(f"{memory.get(lv, (0, np.nan))[1]:>7.2f}" for lv in levels))
    print(f"cells per level: {[r['cells'] for r in result.history]}")
    print(f"new per level: {[r['new'] for r in result.history]}")
    print(f"total {result.seconds:.2f} s, peak rss {_rss()[1]:.2f} GB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side on the ~1e7 grid")
    parser.add_argument("--huge-repeats", type=int, default=1, help="refinements of the ~1e10 grid")
    parser.add_argument("--skip-huge", action="store_true", help="only the ~1e7 grid")
    parser.add_argument("--profile", action="store_true", help="time each phase of one refinement, per level")
    parser.add_argument("--profile-grid", default=",".join(map(str, HUGE)), help="grid points per numeric axis")
    args = parser.parse_args()
    if args.profile:
        profile(tuple(int(v) for v in args.profile_grid.split(",")))
        return
    fine = parse_sweep(grid(*FINE), text="", chunk_size=1 << 20)
    warm = parse_sweep(grid(9, 5, 5, 5), text="", chunk_size=1 << 20)
    refine(warm, OBJECTIVES)  # compile
    brute_force(warm)
    brute, refined = [], []
    for _ in range(args.repeats):
        front, seconds = brute_force(fine)
        brute.append(seconds)
        result = refine(fine, OBJECTIVES)
        refined.append(result.seconds)
    equal = same_front(front, refined_front(result))
    b, r = statistics.median(brute), statistics.median(refined)
    rate = fine.n_designs / b
    rows = [
        ("~1e7 grid", "full evaluation", fine.n_designs, fine.n_designs, b, ""),
        ("", "refinement", fine.n_designs, result.evaluated, r, f"{b / r:.1f}×"),
    ]
    notes = [
        f"~1e7 grid: front of {len(front)} designs; refined front == full front: {'yes' if equal else 'NO'}",
        f"  refinement: {describe(result)}",
    ]
    if not args.skip_huge:
        huge = parse_sweep(grid(*HUGE), text="")
        seconds = []
        for _ in range(args.huge_repeats):  # each result dropped before the next run (1.6 GB of arrays)
            result = refine(huge, OBJECTIVES)
            seconds.append(result.seconds)
            evaluated, line = result.evaluated, describe(result)
            del result
        h = statistics.median(seconds)
        extrapolated = huge.n_designs / rate
        rows += [
            ("~1e10 grid", "full (extrapolated)", huge.n_designs, huge.n_designs, extrapolated, ""),
            ("", "refinement", huge.n_designs, evaluated, h, f"{extrapolated / h:,.0f}×"),
        ]
        notes += [
            f"~1e10 grid: full evaluation extrapolated at {rate:,.0f} designs/s ({extrapolated / 3600:.1f} h); "
            f"target 60 s: {'met' if h <= 60 else 'missed'}",
            f"  refinement: {line}; runs: {', '.join(f'{x:.1f}' for x in seconds)} s",
        ]
    print(
        f"time to the front ({', '.join(f'{k}:{v}' for k, v in OBJECTIVES.items())}), {THREADS} threads, "
        f"medians of {args.repeats} (1e7) and {args.huge_repeats} (1e10) run(s)"
    )
    print(f"{'grid':<11} {'method':<20} {'grid designs':>15} {'evaluated':>15} {'seconds':>10} {'speed-up':>9}")
    for name, method, n, evaluated, seconds, ratio in rows:
        print(f"{name:<11} {method:<20} {n:>15,} {evaluated:>15,} {seconds:>10.2f} {ratio:>9}")
    print("\n".join(notes))


if __name__ == "__main__":
    main()
