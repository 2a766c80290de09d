"""The rows the model chain reads and writes: design inputs, property groups, constants and outputs.

Declared once here; :mod:`dse.models.chain` computes with them, the sweep
kernel's row I/O (``dse/models/_kernel_io.py``) is generated from them by
``tools/build_kernel_io.py``, and adding an output or a material property is
one edit of this module (then rerun the generator).
"""

from __future__ import annotations

from collections import namedtuple

from dse.models.ce import FEATURE_NAMES, pressure_saturation
from dse.models.feasibility import arrhenius_temperature
from dse.models.lifetime import rate_hours
from dse.models.vmath import log

__all__ = [
    "DESIGN_FIELDS",
    "GROUPS",
    "CE_FIELDS",
    "DesignInputs",
    "DERIVED",
    "DerivedInputs",
    "derived_inputs",
    "CeTerms",
    "Parameters",
    "Constants",
    "OUTPUT_FIELDS",
    "Outputs",
]

#: numeric design inputs, in this order
DESIGN_FIELDS = (
    "cathode_loading",
    "cathode_porosity",
    "cathode_active_fraction",
    "positive_collector_thickness",
    "current_collector_thickness",
    "coating_thickness",
    "metal_excess",
    "prelithiation",
    "electrolyte_amount",
    "separator_thickness",
    "stack_pressure",
    "temperature",
    "charge_rate",
    "discharge_rate",
    "depth_of_discharge",
)

#: property groups: name → (categorical input it is looked up by, fields)
GROUPS = {
    "metal": (
        "metal",
        (
            "code",
            "molar_mass",
            "density",
            "deposit_porosity",
            "dense_deposit_porosity",
            "densification_pressure",
            "price",
        ),
    ),
    "cathode": (
        "cathode",
        (
            "metal_code",
            "specific_capacity",
            "average_voltage",
            "upper_cutoff_voltage",
            "density",
            "inactive_density",
            "first_cycle_efficiency",
            "price",
            "coating_density",
            "fade_per_cycle",
        ),
    ),
    "collector": ("current_collector", ("density", "price", "process_cost", "alloys_li", "alloys_na", "alloys_k")),
    "coating": (
        "coating",
        ("ce_class", "density", "uptake_li", "uptake_na", "uptake_k", "price", "process_cost", "ccd_factor"),
    ),
    "electrolyte": (
        "electrolyte",
        (
            "metal_code",
            "solid",
            "density",
            "oxidative_limit",
            "min_temperature",
            "max_temperature",
            "price",
            "transport_current",
            "critical_current_density",
            "ccd_activation_energy",
            "ccd_pressure_scale",
            "min_stack_pressure",
            "catholyte_fraction",
            "decay_onset_temperature",
            "consumption",
            "corrosion_current",
        ),
    ),
    "separator": ("separator", ("density", "porosity", "price")),
    "packaging": (
        "cell_format",
        (
            "pouch",
            "max_stack_pressure",
            "layers",
            "electrode_width",
            "electrode_length",
            "seal_width",
            "laminate_thickness",
            "laminate_density",
            "laminate_price",
            "tab_mass",
            "plate_density",
            "plate_strength",
            "cells_per_module",
            "target_capacity",
        ),
    ),
    "anode": (
        "anode",
        ("specific_capacity", "coating_density", "porosity", "active_fraction", "np_ratio", "voltage_offset", "price"),
    ),
}
#: CE surrogate terms looked up per (electrolyte, coating) pair
CE_FIELDS = ("base", "variance") + tuple(f"covariance_{j}" for j in range(len(FEATURE_NAMES)))

DesignInputs = namedtuple("DesignInputs", DESIGN_FIELDS)

#: transcendental functions of one design input each: name → (input, function). The
#: sweep kernel evaluates them once per value of the input (in a grid, once per axis
#: value rather than once per design) and reads them like inputs; the array path
#: computes them with :func:`derived_inputs`.
DERIVED = {
    "log_cathode_loading": ("cathode_loading", log),
    "log_charge_rate": ("charge_rate", log),
    "log_discharge_rate": ("discharge_rate", log),
    "pressure_saturation": ("stack_pressure", pressure_saturation),
    "charge_hours": ("charge_rate", rate_hours),
    "discharge_hours": ("discharge_rate", rate_hours),
    "arrhenius_temperature": ("temperature", arrhenius_temperature),
}
DerivedInputs = namedtuple("DerivedInputs", tuple(DERIVED))


def derived_inputs(design):
    """:class:`DerivedInputs` of :class:`DesignInputs` given as arrays (or floats)."""
    return DerivedInputs(*(f(getattr(design, name)) for name, f in DERIVED.values()))


_GROUP_TYPES = {name: namedtuple(name.capitalize() + "Properties", fields) for name, (_, fields) in GROUPS.items()}
CeTerms = namedtuple("CeTerms", ("base", "variance", "covariance"))
Parameters = namedtuple("Parameters", ("design", "derived") + tuple(GROUPS) + ("ce",))
Parameters.__doc__ = "Per-design inputs, their DERIVED functions and looked-up properties (nested named tuples)."

Constants = namedtuple(
    "Constants",
    (
        "slopes",  # tuple of len(FEATURE_NAMES) floats, β of the CE surrogate
        "slope_covariance",  # its covariance as a tuple of tuples
        "residual_variance",  # σ² of ln(1 - CE)
        "formation_loss_multiplier",  # first-cycle loss = m · (1 - CE)
        "coating_trapped_fraction",  # share of alloyed metal never released
        "quantile_z",  # standard-normal quantile of the uncertainty band (1.2816 for p10/p90)
        "positive_collector_density",  # [g/cm³] Al
        "positive_collector_price",  # [USD/kg]
        "additive_capacity",  # prelithiation additive [mAh/g]
        "additive_density",  # [g/cm³]
        "additive_price",  # [USD/kg]
        "inactive_price",  # binder and carbon [USD/kg]
        "hardware_price",  # pressure plates [USD/kg]
        "end_of_life",  # retention that ends life [-]
        "uncertainty",  # 1 to compute cycle_life_p10/p90, 0 to skip them (NaN)
    ),
)
Constants.__doc__ = "Chain-level constants shared by every design of a block."

OUTPUT_FIELDS = (
    "specific_energy",
    "energy_density",
    "specific_energy_stack",
    "energy_density_stack",
    "specific_energy_system",
    "energy_density_system",
    "capacity",
    "average_voltage",
    "coulombic_efficiency",
    "cycle_life",
    "cycle_life_p10",
    "cycle_life_p90",
    "knee_cycles",
    "inventory",
    "lifetime_energy",
    "cost",
    "cost_per_cycle",
    "cost_system",
    "swelling",
    "plated_thickness",
    "current_density",
    "infeasible_reason",
    "life_limit",
    "inventory_life",
    "dry_out_life",
    "cathode_life",
    "cyclable_inventory",
    "cathode_fade",
    # per-layer breakdown of the repeat unit (mass as assembled, thickness at full charge)
    "mass_positive_collector",
    "mass_cathode",
    "mass_separator",
    "mass_electrolyte",
    "mass_anode",
    "mass_metal",
    "mass_coating",
    "mass_negative_collector",
    "thickness_positive_collector",
    "thickness_cathode",
    "thickness_separator",
    "thickness_electrolyte",
    "thickness_anode",
    "thickness_metal",
    "thickness_coating",
    "thickness_negative_collector",
    "unit_mass",
    "unit_thickness",
    "unit_energy",
    "cell_energy",
    "cell_mass",
    "cell_volume",
    "cell_capacity",
    "layers",
    "formation_loss",
    "coating_loss",
    "cycled_capacity",
)
Outputs = namedtuple("Outputs", OUTPUT_FIELDS)
Outputs.__doc__ = "Every output of :func:`chain_outputs` (see dse.vocabulary.OUTPUTS for units)."
