"""Write examples/cells: four SYNTHETIC anode-free cells (BDF + sidecars) from the model chain plus noise.

Not measurements. Each cell's true ln(1 - CE) is the shipped surrogate's
for its design plus a group shift (the "lab" cycles Li dual-salt cells a
little worse than the literature predicts), cycled by
:func:`dse.cells.synthetic_cell` for a few hundred cycles with noise on
CE and capacity. Run: ``python tools/make_example_cells.py``.
"""

from __future__ import annotations

from pathlib import Path

from dse.cells import read_sidecars, surrogate_log_loss, synthetic_cell
from dse.coefficients import load_coefficients

OUT = Path(__file__).resolve().parents[1] / "examples" / "cells"
FOLDER = """# SYNTHETIC example cells (tools/make_example_cells.py): not measurements
metal: Li
cathode: NMC811
current_collector: Cu
coating: none
electrolyte: Li-dual-salt
electrolyte_amount: 3 g/Ah
stack_pressure: 0.5 MPa
temperature: 25 degC
discharge_rate: 0.5 C
"""
#: cell id -> (its own sidecar keys, shift of ln(1 - CE), regular cycles); cell_mass and cell_volume are the
#: model's single-layer stack for the 1.54 cm² electrode plus ~6 % (synthetic, like the data)
CELLS = {
    "A01": (
        "cathode_loading: 2 mAh/cm^2\ncharge_rate: 0.2 C\ncell_mass: 0.036 g\ncell_volume: 0.0166 cm^3\n",
        0.6,
        300,
    ),
    "A02": (
        "cathode_loading: 3 mAh/cm^2\ncharge_rate: 0.2 C\ncell_mass: 0.048 g\ncell_volume: 0.0230 cm^3\n",
        0.6,
        300,
    ),
    "A03": (
        "cathode_loading: 3 mAh/cm^2\ncharge_rate: 0.5 C\ncell_mass: 0.048 g\ncell_volume: 0.0230 cm^3\n",
        0.6,
        250,
    ),
    "A04": (
        "cathode_loading: 4 mAh/cm^2\ncharge_rate: 0.33 C\ncell_mass: 0.060 g\ncell_volume: 0.0295 cm^3\n",
        0.6,
        200,
    ),
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "cells.yaml").write_text(FOLDER)
    coefficients = load_coefficients()
    for k, (cell, (keys, shift, cycles)) in enumerate(CELLS.items()):
        (OUT / f"{cell}.yaml").write_text(keys)
        path = OUT / f"{cell}.bdf.csv.gz"
        design, _, _ = read_sidecars(path)
        truth = surrogate_log_loss(design, coefficients) + shift
        synthetic_cell(path, design, truth, cycles, coefficients, seed=k)
        print(f"{path.name}: {cycles} cycles, true ln(1 - CE) {truth:.3f}")


if __name__ == "__main__":
    main()
