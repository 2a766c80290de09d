"""What lifetime, cost and feasibility add to the energy model, per design.

Issue "lifetime, cost and feasibility": the whole chain should cost at most
1.5× the energy-only model. Both run through the same kernel code, over the
same 4 million designs (pouch cells, default sweep outputs), with the same
gather of inputs and properties and the same scatter of outputs:

* energy only: ``evaluate(..., energy_only=True)``, the layers, utilisation,
  plated metal at the nominal inventory, electrolyte fill, repeat-unit and
  pouch energy; no CE surrogate, cycle life, cost or feasibility;
* full chain: ``dse.models.chain.chain_outputs`` as sweeps run it.

It is measured on three blocks, because the kernel evaluates the lifetime
half of the chain (CE, inventory, cycle life, critical current) once per
combination of the inputs it depends on (``dse.models.chain.CYCLING_INPUTS``),
and because how much else a design costs depends on how many inputs vary:

* **loading × collector thickness** (2000 × 2000): the collector does not
  enter the lifetime half, so it is evaluated for the 2000 loadings only, as
  in any grid sweep with an axis of collector or separator thickness,
  porosity, electrolyte amount or cell format (every grid of the demo);
* **the demo's sampled sweep** (its ``li_sampled`` scenario: 524,288 Sobol
  designs, fourteen inputs drawn per design, three of them categorical):
  both halves run for every design, and every design also needs its own
  inputs, derived inputs and catalogue properties gathered;
* **loading × stack pressure** (2000 × 2000): the worst case. Every design
  has its own lifetime inputs, yet only two inputs vary, so almost nothing
  else costs anything.

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

from dse.modelchain import ModelChain  # noqa: E402
from dse.spec import DEFAULT_OUTPUTS  # noqa: E402


def sampled_block(chain: ModelChain):
    """The first block of the demo sweep's ``li_sampled`` scenario, as sweeps evaluate it."""
    from dse.design import DesignSpace
    from dse.spec import load_sweep

    spec = load_sweep(os.path.join(os.path.dirname(__file__), os.pardir, "examples", "demo_sweep.yaml"))
    scenario = next(s for s in spec.scenarios if s.name == "li_sampled")
    shape, axis_of, starts, values, _ = DesignSpace(scenario, spec.chunk_size).kernel_inputs(0, chain)
    return shape, axis_of, starts, values


def main() -> None:
    chain = ModelChain(uncertainty=False)
    outputs = list(DEFAULT_OUTPUTS)
    print("one core, median of 2 × 5 runs each, energy-only and full chain alternated")
    cases = (
        (
            "loading × collector thickness, 4,000,000 designs (lifetime on 2,000 points)",
            grid_block(chain, 2000, {"cell_format": "pouch"}, "current_collector_thickness"),
        ),
        ("demo sampled sweep (li_sampled), 524,288 designs, 14 inputs drawn per design", sampled_block(chain)),
        (
            "loading × stack pressure, 4,000,000 designs (lifetime for every design, two inputs vary)",
            grid_block(chain, 2000, {"cell_format": "pouch"}, "stack_pressure"),
        ),
    )
    for label, block in cases:
        n = int(np.prod(block[0]))
        out = np.empty((len(outputs), n), np.float32)  # reused, as sweeps do (dse.sweep._scratch)
        times = {False: [], True: []}
        for _ in range(2):
            for energy_only in (True, False):
                times[energy_only] += run_times(
                    lambda b=block, e=energy_only, o=out: chain.evaluate_block(*b, outputs, energy_only=e, out=o)
                )
        energy, full = np.median(times[True]), np.median(times[False])
        ratio = full / energy
        print(label)
        print(f"  energy only:  {1e9 * energy / n:6.1f} ns/design ({n / energy / 1e6:.2f} M/s)")
        print(f"  full chain:   {1e9 * full / n:6.1f} ns/design ({n / full / 1e6:.2f} M/s)")
        print(
            f"  ratio full / energy-only: {ratio:.2f}  (target ≤ 1.5: {'met' if ratio <= 1.5 else 'NOT met'}); "
            f"of the best runs: {min(times[False]) / min(times[True]):.2f}"
        )


if __name__ == "__main__":
    main()
