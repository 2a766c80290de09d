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

from dse.modelchain import ModelChain
from dse.models.feasibility import REASONS, describe_reason
from dse.models.lifetime import LIFE_LIMITS, capacity_at_cycle, capacity_curve
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
        """Whether the design is feasible (its infeasibility reason is 0)."""
        return self.outputs["infeasible_reason"] == 0

    @property
    def reasons(self) -> list[str]:
        """Why the design is infeasible, in words (empty when it is feasible)."""
        return describe_reason(int(self.outputs["infeasible_reason"]))

    @property
    def life_limit(self) -> tuple[str, str]:
        """Name and meaning of the mechanism that ended life (:data:`~dse.models.lifetime.LIFE_LIMITS`)."""
        code = self.outputs.get("life_limit", 0.0)
        return LIFE_LIMITS[int(code) if math.isfinite(code) else 0]

    def breakdown(self) -> dict[str, dict[str, float]]:
        """Per-layer areal mass (as assembled) [mg/cm²] and thickness (full charge) [µm]."""
        return {
            "mass": {layer: self.outputs[f"mass_{layer}"] for layer in LAYERS},
            "thickness": {layer: self.outputs[f"thickness_{layer}"] for layer in LAYERS},
        }

    def curve(self, cycles: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Discharge capacity [mAh/cm²] per cycle, up to end of life (or ``cycles``)."""
        n, mechanisms = self.mechanisms(cycles)
        return n, mechanisms["capacity"]

    def mechanisms(self, cycles: int | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Capacity per cycle and what each mechanism alone would leave [mAh/cm²].

        ``capacity`` (every mechanism, :func:`~dse.models.lifetime.capacity_curve`),
        ``inventory`` (the metal inventory alone), ``cathode`` (the cathode's fade
        alone) and ``dry_out`` (the capacity while the electrolyte lasts: q, then 0).
        """
        o = self.outputs
        life = o["cycle_life"]
        if cycles is None:
            cycles = int(min(max(life * 1.25, 10), 100_000)) if math.isfinite(life) else 100
        n = np.arange(1, cycles + 1, dtype=float)
        q = o["cycled_capacity"]
        dry = o["dry_out_life"] if math.isfinite(o["dry_out_life"]) else np.inf
        fade = o["cathode_fade"] if math.isfinite(o["cathode_fade"]) else 0.0
        inventory = o["cyclable_inventory"] if math.isfinite(o["cyclable_inventory"]) else o["inventory"]
        ce = o["coulombic_efficiency"]
        return n, {
            "capacity": np.asarray(capacity_curve(n, inventory, q, ce, fade, dry), dtype=float),
            "inventory": np.asarray(capacity_at_cycle(n, inventory, q, ce), dtype=float),
            "cathode": q * np.exp((n - 1.0) * np.log1p(-fade)),
            "dry_out": np.where(n <= dry, q, 0.0),
        }

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
        outputs["life_limit"]["name"], outputs["life_limit"]["meaning"] = self.life_limit
        inputs = {k: {"value": v, "units": INPUTS[k].units} for k, v in self.design.inputs.items()}
        return {
            "name": self.design.name,
            "inputs": inputs,
            "outputs": outputs,
            "breakdown": {
                "mass": {"units": "mg/cm^2", "basis": "repeat unit as assembled", **self.breakdown()["mass"]},
                "thickness": {"units": "um", "basis": "repeat unit at full charge", **self.breakdown()["thickness"]},
            },
            "infeasible_reasons": [
                {"code": bit, "name": REASONS[bit][0], "meaning": REASONS[bit][1]}
                for bit in REASONS
                if int(self.outputs["infeasible_reason"]) & bit
            ],
            "provenance": self.chain.attrs(),
        }


def evaluate_design(design: Design, uncertainty: bool = True, chain: ModelChain | None = None) -> Evaluation:
    """Run the model chain on one design."""
    chain = chain or ModelChain.from_design(design, uncertainty=uncertainty)
    out = chain.evaluate(design.inputs)
    outputs = {k: float(v[0]) for k, v in out.items() if k != "feasible"}
    return Evaluation(design, outputs, chain)
