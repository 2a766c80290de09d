"""The public vocabulary: names, units and meanings of every input and output.

This table is the single source for spec validation (:mod:`dse.spec`), store
attributes (:mod:`dse.store`), CLI tables and dashboard axis labels. Names are
full words without unit suffixes; the unit lives here and in the stored
``units`` attribute (DESIGN.md §3).

>>> INPUTS["cathode_loading"].units
'mAh/cm^2'
>>> OUTPUTS["cycle_life"].sense
'max'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dse.models.constants import MAX_CATHODE_LOADING, MIN_CATHODE_LOADING

__all__ = ["Variable", "INPUTS", "OUTPUTS", "CATEGORICAL", "NUMERIC", "OBJECTIVES"]


@dataclass(frozen=True)
class Variable:
    """One named quantity of the public vocabulary.

    Parameters
    ----------
    name : str
        Canonical name, also the Zarr variable or dimension name.
    units : str
        Canonical unit as a pint expression ("1" for dimensionless).
    long_name : str
        Human-readable label (CF ``long_name``).
    bounds : tuple of float, optional
        Physically admissible closed range; values outside are rejected at the
        edge (spec) and masked inside a block.
    typical : tuple of float, optional
        Range a battery engineer would normally explore (documentation only).
    default : float or str, optional
        Value used when a design does not set the input.
    catalogue : str, optional
        For categorical inputs, the catalogue kind whose ids are allowed.
    sense : {"max", "min"}, optional
        For objectives, whether larger or smaller is better.
    display_units : str, optional
        Unit shown in tables and plots when different from ``units``.
    """

    name: str
    units: str
    long_name: str
    bounds: tuple[float, float] | None = None
    typical: tuple[float, float] | None = None
    default: float | str | None = None
    catalogue: str | None = None
    sense: str | None = None
    open_bounds: tuple[bool, bool] = (False, False)
    description: str = ""
    aliases: tuple[str, ...] = field(default=())

    @property
    def categorical(self) -> bool:
        """Whether the input is a categorical choice (a catalogue id) rather than a number."""
        return self.catalogue is not None


def _inputs() -> dict[str, Variable]:
    v = [
        Variable("metal", "", "Plated metal", catalogue="metal", default="Li"),
        Variable("cathode", "", "Cathode active material", catalogue="cathode", default="NMC811"),
        Variable(
            "cathode_loading",
            "mAh/cm^2",
            "Cathode areal capacity",
            bounds=(MIN_CATHODE_LOADING, MAX_CATHODE_LOADING),
            typical=(0.5, 10.0),
            default=3.0,
            description="Reversible areal capacity of one cathode coating.",
        ),
        Variable(
            "cathode_porosity",
            "1",
            "Cathode porosity",
            bounds=(0.0, 1.0),
            open_bounds=(False, True),
            typical=(0.15, 0.40),
            default=0.30,
        ),
        Variable(
            "cathode_active_fraction",
            "1",
            "Cathode active mass fraction",
            bounds=(0.0, 1.0),
            open_bounds=(True, False),
            typical=(0.70, 0.98),
            default=0.955,
            description="Active material in the cathode solids other than catholyte.",
        ),
        Variable("current_collector", "", "Negative current collector", catalogue="collector", default="Cu"),
        Variable(
            "current_collector_thickness",
            "um",
            "Negative collector thickness",
            bounds=(0.0, 200.0),
            typical=(1.0, 20.0),
            default=8.0,
        ),
        Variable(
            "positive_collector_thickness",
            "um",
            "Positive (Al) collector thickness",
            bounds=(0.0, 200.0),
            typical=(8.0, 20.0),
            default=15.0,
            description="Aluminium foil under the cathode; 15 um as in seed 001 L65.",
        ),
        Variable("coating", "", "Collector coating", catalogue="coating", default="none"),
        Variable(
            "coating_thickness",
            "um",
            "Coating thickness",
            bounds=(0.0, 200.0),
            typical=(0.005, 15.0),
            default=0.0,
        ),
        Variable(
            "metal_excess",
            "um",
            "Pre-deposited metal thickness",
            bounds=(0.0, 1000.0),
            typical=(0.0, 50.0),
            default=0.0,
            description="Dense metal reservoir on the collector; 0 is anode-free.",
        ),
        Variable(
            "prelithiation",
            "1",
            "Cathode prelithiation",
            bounds=(0.0, 2.0),
            typical=(0.0, 0.3),
            default=0.0,
            description="Extra first-charge inventory from cathode additives, as a fraction of cathode capacity.",
        ),
        Variable("electrolyte", "", "Electrolyte", catalogue="electrolyte", default="Li-dual-salt"),
        Variable(
            "electrolyte_amount",
            "g/Ah",
            "Liquid electrolyte amount",
            bounds=(0.0, 100.0),
            typical=(0.0, 7.0),
            default=0.0,
            description="0 (or 'fill') fills the pores of cathode, separator and deposit exactly.",
        ),
        Variable("separator", "", "Separator", catalogue="separator", default="PE"),
        Variable(
            "separator_thickness",
            "um",
            "Separator or solid-electrolyte thickness",
            bounds=(0.0, 2000.0),
            open_bounds=(True, False),
            typical=(5.0, 100.0),
            default=20.0,
        ),
        Variable(
            "stack_pressure",
            "MPa",
            "Stack pressure",
            bounds=(0.0, 500.0),
            typical=(0.0, 30.0),
            default=0.0,
        ),
        Variable(
            "temperature",
            "degC",
            "Temperature",
            bounds=(-80.0, 200.0),
            typical=(-40.0, 80.0),
            default=25.0,
        ),
        Variable(
            "charge_rate",
            "1/h",
            "Charge rate",
            bounds=(0.0, 100.0),
            open_bounds=(True, False),
            typical=(0.05, 5.0),
            default=0.2,
            description="C-rate of charge (1/h); '0.5C' and 'C/5' are accepted.",
        ),
        Variable(
            "discharge_rate",
            "1/h",
            "Discharge rate",
            bounds=(0.0, 100.0),
            open_bounds=(True, False),
            typical=(0.05, 5.0),
            default=0.5,
        ),
        Variable(
            "depth_of_discharge",
            "1",
            "Depth of discharge",
            bounds=(0.0, 1.0),
            open_bounds=(True, False),
            typical=(0.5, 1.0),
            default=1.0,
        ),
        Variable("cell_format", "", "Cell format", catalogue="packaging", default="stack"),
        Variable(
            "anode",
            "",
            "Negative electrode",
            catalogue="anode",
            default="none",
            description="'none' for anode-free or metal-foil cells; 'graphite' for the Li-ion baseline.",
        ),
    ]
    return {x.name: x for x in v}


def _outputs() -> dict[str, Variable]:
    v = [
        Variable(
            "specific_energy",
            "Wh/kg",
            "Specific energy (cell)",
            sense="max",
            description="The cell as published: repeat units, pouch and tabs, without pressure plates.",
        ),
        Variable(
            "energy_density",
            "Wh/L",
            "Energy density (cell)",
            sense="max",
            description="The cell as published, without pressure plates.",
        ),
        Variable("specific_energy_stack", "Wh/kg", "Specific energy (repeat unit)"),
        Variable("energy_density_stack", "Wh/L", "Energy density (repeat unit)"),
        Variable(
            "specific_energy_system",
            "Wh/kg",
            "Specific energy (cell with pressure plates)",
            description="With its share of the end plates that hold the stack pressure.",
        ),
        Variable("energy_density_system", "Wh/L", "Energy density (cell with pressure plates)"),
        Variable("capacity", "mAh/cm^2", "First discharge capacity"),
        Variable("average_voltage", "V", "Average discharge voltage"),
        Variable("coulombic_efficiency", "1", "Coulombic efficiency"),
        Variable("cycle_life", "1", "Cycles to 80 % capacity", sense="max"),
        Variable("cycle_life_p10", "1", "Cycle life, 10th percentile"),
        Variable("cycle_life_p90", "1", "Cycle life, 90th percentile"),
        Variable("knee_cycles", "1", "Cycles before the reservoir is spent"),
        Variable("inventory", "mAh/cm^2", "Initial metal inventory"),
        Variable("lifetime_energy", "kWh/kg", "Energy delivered over life per cell mass"),
        Variable("cost", "USD/kWh", "Materials cost", sense="min"),
        Variable("cost_per_cycle", "USD/kWh", "Materials cost per cycle"),
        Variable("cost_system", "USD/kWh", "Materials cost with pressure plates"),
        Variable("swelling", "percent", "Thickness change on charge"),
        Variable("plated_thickness", "um", "Metal thickness at full charge"),
        Variable("current_density", "mA/cm^2", "Charge current density"),
        Variable("feasible", "", "Feasible design"),
        Variable("infeasible_reason", "", "Infeasibility reason code"),
        Variable(
            "life_limit",
            "",
            "Mechanism that ended life",
            description="Code of dse.models.lifetime.LIFE_LIMITS: 1 inventory, 2 corrosion, 3 dry-out, "
            "4 cathode; 0 for an infeasible design.",
        ),
        Variable("inventory_life", "1", "Cycles until the metal inventory runs out"),
        Variable("dry_out_life", "1", "Cycles until the electrolyte dries out (liquids)"),
        Variable("cathode_life", "1", "Cycles until the cathode alone fades to end of life"),
        Variable("cyclable_inventory", "mAh/cm^2", "Metal inventory that cycles (without rate-stranded metal)"),
        Variable("cathode_fade", "1", "Cathode capacity lost per cycle"),
        Variable("cell_capacity", "A*h", "Cell capacity"),
        Variable("layers", "1", "Repeat units in the cell"),
    ]
    return {x.name: x for x in v}


INPUTS: dict[str, Variable] = _inputs()
OUTPUTS: dict[str, Variable] = _outputs()
CATEGORICAL: tuple[str, ...] = tuple(k for k, v in INPUTS.items() if v.categorical)
NUMERIC: tuple[str, ...] = tuple(k for k, v in INPUTS.items() if not v.categorical)
OBJECTIVES: dict[str, str] = {k: v.sense for k, v in OUTPUTS.items() if v.sense}
