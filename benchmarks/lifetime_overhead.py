"""What lifetime, cost and feasibility add to the energy model, per design.

Issue "lifetime, cost and feasibility": the whole chain should cost at most
1.5× the energy-only model. Both run through the same kernel code, over the
same 4 million designs (pouch cells, default sweep outputs), with the same
gather of inputs and properties and the same scatter of outputs:

* energy only: ``evaluate(..., energy_only=True)``, the layers, utilisation,
  plated metal at the nominal inventory, electrolyte fill, repeat-unit and
  pouch energy; no CE surrogate, cycle life, cost or feasibility;
* full chain: ``dse.models.chain.evaluate`` as sweeps run it.

It is measured on two grids of 2000 × 2000, because the kernel evaluates the
lifetime half of the chain (CE, inventory, cycle life, critical current) once
per combination of the inputs it depends on
(``dse.models.chain.CYCLING_INPUTS``):

* **loading × collector thickness**: the collector does not enter the
  lifetime half, so it is evaluated for the 2000 loadings only, as in any
  grid sweep with an axis of collector or separator thickness, porosity,
  electrolyte amount or cell format;
* **loading × stack pressure**: every design has its own lifetime inputs, as
  in a sampled sweep, and both halves run for every design.

Both write into one reused output array, as sweeps do, so neither pays the
operating system for zeroing fresh pages (which would add the same 10–25 ns
to both and flatter the ratio). The energy-only and full runs are timed
alternately, twice five runs each in one process, so load on a shared machine
falls on both; ratios are of the medians of the ten.

Run: ``python benchmarks/lifetime_overhead.py``
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
from _common import run_times  # noqa: E402
from model_chain import grid_block  # noqa: E402

from dse.chain import ModelChain  # noqa: E402
from dse.spec import DEFAULT_OUTPUTS  # noqa: E402


def main() -> None:
    n_side = 2000
    n = n_side * n_side
    chain = ModelChain(uncertainty=False)
    outputs = list(DEFAULT_OUTPUTS)
    out = np.empty((len(outputs), n), np.float32)  # reused, as sweeps do (dse.sweep._scratch)
    print(f"{n:,} designs per grid, one core, median of 2 × 5 runs each, alternated")
    for label, second in (("loading × collector thickness (lifetime on 2,000 points)", "current_collector_thickness"),
                          ("loading × stack pressure (lifetime for every design)", "stack_pressure")):
        block = grid_block(chain, n_side, {"cell_format": "pouch"}, second)
        times = {False: [], True: []}
        for _ in range(2):
            for energy_only in (True, False):
                times[energy_only] += run_times(
                    lambda b=block, e=energy_only: chain.evaluate_block(*b, outputs, energy_only=e, out=out))
        energy, full = np.median(times[True]), np.median(times[False])
        ratio = full / energy
        print(label)
        print(f"  energy only:  {1e9 * energy / n:6.1f} ns/design ({n / energy / 1e6:.2f} M/s)")
        print(f"  full chain:   {1e9 * full / n:6.1f} ns/design ({n / full / 1e6:.2f} M/s)")
        print(f"  ratio full / energy-only: {ratio:.2f}  (target ≤ 1.5: {'met' if ratio <= 1.5 else 'NOT met'}); "
              f"of the best runs: {min(times[False]) / min(times[True]):.2f}")


if __name__ == "__main__":
    main()
