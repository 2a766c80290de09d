"""Evaluate one design: outputs, per-layer breakdown and capacity curve.

This is the single-design path (``dse evaluate``): the same vectorized chain
as a sweep, run on arrays of length 1.

>>> from dse.spec import parse_design
>>> ev = evaluate_design(parse_design({"cathode": "NMC811", "cathode_loading": "4 mAh/cm^2"}))
>>> 300 < ev.outputs["specific_energy"] < 600
True
>>> abs(sum(ev.breakdown()["mass"].values()) - ev.outputs["unit_mass"]) < 1e-9
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dse.chain import ModelChain
from dse.models.feasibility import REASONS, describe_reason
from dse.models.lifetime import capacity_at_cycle
from dse.spec import Design
from dse.vocabulary import INPUTS, OUTPUTS

__all__ = ["Evaluation", "evaluate_design", "LAYERS"]

#: layers of the repeat unit, in stacking order
LAYERS = (
    "positive_collector",
    "cathode",
    "separator",
    "electrolyte",
    "anode",
    "metal",
    "coating",
    "negative_collector",
)
EXTRA_UNITS = {
    "unit_mass": "mg/cm^2",
    "unit_thickness": "um",
    "unit_energy": "mWh/cm^2",
    "cell_energy": "Wh",
    "cell_mass": "g",
    "cell_volume": "cm^3",
    "formation_loss": "mAh/cm^2",
    "coating_loss": "mAh/cm^2",
    "cycled_capacity": "mAh/cm^2",
}


@dataclass
class Evaluation:
    """The result of evaluating one design."""

    design: Design
    outputs: dict[str, float]
    chain: ModelChain

    @property
    def feasible(self) -> bool:
        return self.outputs["infeasible_reason"] == 0

    @property
    def reasons(self) -> list[str]:
        return describe_reason(int(self.outputs["infeasible_reason"]))

    def breakdown(self) -> dict[str, dict[str, float]]:
        """Per-layer areal mass (as assembled) [mg/cm²] and thickness (full charge) [µm]."""
        return {
            "mass": {layer: self.outputs[f"mass_{layer}"] for layer in LAYERS},
            "thickness": {layer: self.outputs[f"thickness_{layer}"] for layer in LAYERS},
        }

    def curve(self, cycles: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Discharge capacity [mAh/cm²] per cycle, up to end of life (or ``cycles``)."""
        life = self.outputs["cycle_life"]
        if cycles is None:
            cycles = int(min(max(life * 1.25, 10), 100_000)) if math.isfinite(life) else 100
        n = np.arange(1, cycles + 1, dtype=float)
        cap = capacity_at_cycle(n, self.outputs["inventory"], self.outputs["cycled_capacity"],
                                self.outputs["coulombic_efficiency"])
        return n, np.asarray(cap, dtype=float)

    def to_dict(self) -> dict:
        """JSON-ready: inputs, outputs with units, breakdown, feasibility, provenance."""
        def clean(v):
            return None if isinstance(v, float) and not math.isfinite(v) else v

        outputs = {}
        for name, value in self.outputs.items():
            if name.startswith(("mass_", "thickness_")):
                continue
            units = OUTPUTS[name].units if name in OUTPUTS else EXTRA_UNITS.get(name, "")
            outputs[name] = {"value": clean(value), "units": units}
        outputs["feasible"] = {"value": self.feasible, "units": ""}
        inputs = {k: {"value": v, "units": INPUTS[k].units} for k, v in self.design.inputs.items()}
        return {
            "name": self.design.name,
            "inputs": inputs,
            "outputs": outputs,
            "breakdown": {
                "mass": {"units": "mg/cm^2", "basis": "repeat unit as assembled", **self.breakdown()["mass"]},
                "thickness": {"units": "um", "basis": "repeat unit at full charge", **self.breakdown()["thickness"]},
            },
            "infeasible_reasons": [{"code": bit, "name": REASONS[bit][0], "meaning": REASONS[bit][1]}
                                   for bit in REASONS if int(self.outputs["infeasible_reason"]) & bit],
            "provenance": self.chain.attrs(),
        }


def evaluate_design(design: Design, uncertainty: bool = True, chain: ModelChain | None = None) -> Evaluation:
    """Run the model chain on one design."""
    chain = chain or ModelChain.from_design(design, uncertainty=uncertainty)
    out = chain.evaluate(design.inputs)
    outputs = {k: float(v[0]) for k, v in out.items() if k != "feasible"}
    return Evaluation(design, outputs, chain)
