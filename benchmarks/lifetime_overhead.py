"""What lifetime, cost and feasibility add to the energy model, per design.

Issue "lifetime, cost and feasibility": the whole chain should cost at most
1.5× the energy-only model. Both run element by element in numba over the
same 4 million designs (pouch cells, default sweep outputs):

* energy only: cathode, separator, collectors, coating, plated metal at the
  nominal inventory (no formation loss), electrolyte fill, utilisation,
  repeat-unit and pouch energy — the same model functions, composed here;
* full chain: ``dse.models.chain.evaluate`` as sweeps run it.

Run: ``python benchmarks/lifetime_overhead.py``
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import numba  # noqa: E402
import numpy as np  # noqa: E402
from _common import median_time  # noqa: E402
from model_chain import grid_block  # noqa: E402

from dse.chain import ModelChain  # noqa: E402
from dse.models.energy import energy_density, pouch_cell, specific_energy, utilisation  # noqa: E402
from dse.models.stack import (  # noqa: E402
    cathode_layer,
    deposit_porosity,
    metal_thickness_per_capacity,
    plated_metal,
    porous_layer,
    solid_layer,
)
from dse.spec import DEFAULT_OUTPUTS  # noqa: E402


@numba.njit(nogil=True)
def energy_only(loading, cc, tables, out):  # pragma: no cover - compiled
    tm, tc, tco, te, ts, tp = tables
    for i in range(loading.size):
        q0 = loading[i]
        cat = cathode_layer(q0, tc[0], 0.955, 0.3, tc[1], tc[2], 0.0, te[0], 0.0)
        sep = porous_layer(20.0, ts[0], ts[1])
        pos = solid_layer(7.5, 2.71)
        neg = solid_layer(0.5 * cc[i], 8.96)
        coat = solid_layer(0.0, tco[0])
        u = utilisation(0.5, q0, te[1])
        q = u * q0
        per = metal_thickness_per_capacity(tm[0], tm[1])
        phi = deposit_porosity(0.0, tm[2], tm[3], tm[4], False)
        metal = plated_metal(q0 / tc[3], 0.0, per, 0.259, phi)
        fill = 0.1 * te[0] * (cat.pore_volume + sep.pore_volume + metal.pore_volume)
        mass = cat.mass + sep.mass + pos.mass + neg.mass + coat.mass + fill
        thick = cat.thickness + sep.thickness + pos.thickness + neg.thickness + coat.thickness + metal.thickness
        energy = q * tc[4]
        pouch = pouch_cell(energy, mass, thick, tp[0], tp[1], tp[2], tp[3], tp[4], tp[5], tp[6], 0.0, tp[7], tp[8],
                           tp[9])
        out[0, i] = specific_energy(energy, mass)
        out[1, i] = energy_density(energy, thick)
        out[2, i] = 1000.0 * pouch.energy / pouch.mass
        out[3, i] = 1000.0 * pouch.energy / pouch.volume


def main() -> None:
    n_side = 2000
    n = n_side * n_side
    chain = ModelChain(uncertainty=False)
    block = grid_block(chain, n_side, {"cell_format": "pouch"})
    full = median_time(lambda: chain.evaluate_block(*block, list(DEFAULT_OUTPUTS)))

    m, c, co, e, s, p = (chain.tables[i] for i in (0, 1, 3, 4, 5, 6))
    li, nmc, none = chain.ids["metal"].index("Li"), chain.ids["cathode"].index("NMC811"), 0
    el, sep, pouch = chain.ids["electrolyte"].index("Li-dual-salt"), chain.ids["separator"].index("PE"), \
        chain.ids["cell_format"].index("pouch")
    tables = (
        np.array([m[li, 1], m[li, 2], m[li, 3], m[li, 4], m[li, 5]]),
        np.array([c[nmc, 1], c[nmc, 4], c[nmc, 5], c[nmc, 6], c[nmc, 2]]),
        np.array([co[none, 1]]),
        np.array([e[el, 2], e[el, 7]]),
        np.array([s[sep, 0], s[sep, 1]]),
        np.array([p[pouch, j] for j in (2, 3, 4, 5, 6, 7, 9, 10, 11, 12)]),
    )
    loading = np.repeat(np.linspace(1, 10, n_side), n_side)
    cc = np.tile(np.linspace(1, 20, n_side), n_side)
    out = np.empty((4, n), np.float32)
    energy = median_time(lambda: energy_only(loading, cc, tables, out))
    print(f"{n:,} designs, one core, median of 5")
    print(f"  energy only:  {1e9 * energy / n:6.1f} ns/design ({n / energy / 1e6:.2f} M/s)")
    print(f"  full chain:   {1e9 * full / n:6.1f} ns/design ({n / full / 1e6:.2f} M/s)")
    ratio = full / energy
    print(f"ratio full / energy-only: {ratio:.2f}  (target ≤ 1.5: {'met' if ratio <= 1.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
