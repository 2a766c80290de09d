"""Feasibility rules: infeasible designs are masked with a reason code.

A block of a million designs never raises; each design gets
``infeasible_reason``, a bit mask (0 = feasible). Several reasons can apply
at once. The table is documented in ``docs/feasibility.md`` and kept in
:data:`REASONS`.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from dse.models.constants import BOLTZMANN, ZERO_CELSIUS
from dse.models.vmath import exp, select

__all__ = [
    "REASONS",
    "critical_current_density",
    "critical_current_density_from",
    "arrhenius_temperature",
    "infeasible_reason",
    "describe_reason",
    "MAX_CYCLE_LIFE",
    "MAX_COST",
    "NO_INVENTORY_FRACTION",
]

#: cycle life beyond which the lifetime model has left its domain (``implausible_output``):
#: ten times the longest-lived anode-free cells reported ("cycle life beyond 1000 cycles",
#: solid-state, seed 001 L655; the best liquid rows of dse/data/literature.csv extrapolate to
#: ~6,000 cycles to 80 %, s000-T1-26). Only a shallow effective depth of discharge (a small
#: DoD, or a discharge far beyond the cathode's rate capability) over a large reservoir
#: reaches it, a regime no calibration row covers
MAX_CYCLE_LIFE = 1.0e4
#: materials cost beyond which a design is not a cell anyone would build
#: (``implausible_output``) [USD/kWh]: ten thousand times a commercial cell; above it
#: the energy in the denominator is vanishing (a cathode all binder, a depth of
#: discharge of 10⁻⁹, a coating hundreds of times dearer than the cell)
MAX_COST = 1.0e6
#: inventory after formation, as a fraction of the first charge, at or below which no
#: metal is left to cycle (``no_inventory``): what rounding leaves of a formation that
#: consumes it all, and far below any cell that delivers a measurable capacity
NO_INVENTORY_FRACTION = 1.0e-9

#: bit → (name, meaning)
REASONS = {
    1: ("cathode_metal", "the cathode stores another metal than the cell plates"),
    2: ("electrolyte_metal", "the electrolyte conducts another metal ion"),
    4: ("collector_alloys", "the negative collector alloys with the metal (e.g. Al with Li)"),
    8: ("oxidative_limit", "the cathode upper cut-off exceeds the electrolyte's oxidative limit"),
    16: ("temperature_window", "the temperature is outside the electrolyte's window (e.g. polymer below 60 °C)"),
    32: (
        "critical_current",
        "the charge current density exceeds the electrolyte's critical current density (dendrites "
        "short a liquid cell; a solid one fails by voids and penetration)",
    ),
    64: ("pressure_limit", "the stack pressure exceeds the practical limit of the cell format"),
    128: ("electrolyte_starved", "less liquid electrolyte than the pores need"),
    256: ("no_inventory", "no metal is left to cycle after formation"),
    512: ("invalid_input", "an input is outside its physical range or not a number"),
    1024: ("invalid_output", "an output of a design that passes every other rule is not a finite number"),
    2048: (
        "implausible_output",
        "the cycle life of a design that passes every other rule exceeds 10,000, or its "
        "cost 1,000,000 USD/kWh (outside the models' domain)",
    ),
}


@register_jitable(error_model="numpy")
def critical_current_density(reference, activation_energy, pressure_scale, temperature, stack_pressure):
    """Critical current density of a solid electrolyte [mA/cm²].

    ``CCD = CCD_25 · exp(Ea/k · (1/298.15 K - 1/T)) · (1 + p / p_s)``: metal
    creep and interfacial contact improve with temperature (Arrhenius) and
    with stack pressure (seed 001 L480, L585; Kasemchainan et al. 2019).

    Parameters
    ----------
    reference : array_like
        CCD at 25 °C and zero pressure [mA/cm²].
    activation_energy : array_like
        [eV]
    pressure_scale : array_like
        Pressure that doubles the CCD [MPa].
    temperature : array_like
        [°C]
    stack_pressure : array_like
        [MPa]

    Examples
    --------
    >>> round(float(critical_current_density(0.5, 0.3, 5.0, 25.0, 5.0)), 3)
    1.0
    """
    return critical_current_density_from(
        reference, activation_energy, pressure_scale, arrhenius_temperature(temperature), stack_pressure
    )


@register_jitable(error_model="numpy")
def arrhenius_temperature(temperature):
    """``(1 / 298.15 K - 1 / T) / k_B`` [1/eV]: the Arrhenius factor is ``exp(Ea · this)``.

    A derived input of the chain (``dse.models.fields.DERIVED``): the sweep
    kernel divides once per temperature, not once per design.

    >>> float(arrhenius_temperature(25.0))
    0.0
    """
    kelvin = temperature + ZERO_CELSIUS
    return (1.0 / BOLTZMANN) * (1.0 / 298.15 - 1.0 / kelvin)


@register_jitable(error_model="numpy")
def critical_current_density_from(reference, activation_energy, pressure_scale, arrhenius, stack_pressure):
    """:func:`critical_current_density` with the temperature as its :func:`arrhenius_temperature`.

    >>> round(float(critical_current_density_from(0.5, 0.3, 5.0, 0.0, 5.0)), 3)
    1.0
    """
    return reference * exp(activation_energy * arrhenius) * (1.0 + np.maximum(stack_pressure, 0.0) / pressure_scale)


@register_jitable(error_model="numpy")
def infeasible_reason(
    metal_code,
    cathode_metal_code,
    electrolyte_metal_code,
    collector_alloys,
    upper_cutoff_voltage,
    oxidative_limit,
    temperature,
    min_temperature,
    max_temperature,
    current_density,
    ccd,
    stack_pressure,
    max_stack_pressure,
    electrolyte_starved,
    inventory,
    first_charge,
    valid_inputs,
    finite_outputs,
    cycle_life,
    cost,
):
    """Bit mask of the rules a design breaks (0 = feasible).

    Codes are the keys of :data:`REASONS`. ``collector_alloys`` is 1 where
    the collector alloys with the cell's metal. ``no_inventory`` fires where
    the inventory is at most :data:`NO_INVENTORY_FRACTION` of the first
    charge. ``implausible_output`` fires where ``cycle_life`` exceeds
    :data:`MAX_CYCLE_LIFE` or ``cost`` exceeds :data:`MAX_COST`.
    Both output bits are set only where no other rule fails (an invalid
    input or an empty inventory explains its NaNs and extremes already), and
    at most one of them: ``invalid_output`` where ``finite_outputs`` is
    false, else ``implausible_output``. They flag results of the models for
    designs the rules would accept.

    Examples
    --------
    Al collector (alloys with Li) in a Li cell, ether limit 4.0 V below a
    4.3 V cut-off:

    >>> int(infeasible_reason(0, 0, 0, 1.0, 4.3, 4.0, 25, -20, 60, 1.0, 1.0,
    ...                       0.0, 10.0, False, 3.0, 3.2, True, True, 500.0, 120.0))
    12

    A NaN output of an otherwise feasible design:

    >>> int(infeasible_reason(0, 0, 0, 0.0, 4.3, 4.4, 25, -20, 60, 1.0, 1.0,
    ...                       0.0, 10.0, False, 3.0, 3.2, True, False, np.nan, 120.0))
    1024
    """
    # (each bit as a select, not a product with a boolean: compiled loops then keep
    # the comparison masks in vector registers instead of converting them to numbers)
    code = select(cathode_metal_code != metal_code, 1.0, 0.0)
    code = code + select(electrolyte_metal_code != metal_code, 2.0, 0.0)
    code = code + select(collector_alloys > 0.5, 4.0, 0.0)
    code = code + select(upper_cutoff_voltage > oxidative_limit, 8.0, 0.0)
    code = code + select((temperature < min_temperature) | (temperature > max_temperature), 16.0, 0.0)
    code = code + select(current_density > ccd, 32.0, 0.0)
    code = code + select(stack_pressure > max_stack_pressure, 64.0, 0.0)
    code = code + select(electrolyte_starved, 128.0, 0.0)
    code = code + select(inventory > NO_INVENTORY_FRACTION * first_charge, 0.0, 256.0)
    code = code + select(valid_inputs, 0.0, 512.0)
    # the outputs are judged where the rules pass: a design they refuse has its reason
    passed = code == 0.0
    implausible = (cycle_life > MAX_CYCLE_LIFE) | (cost > MAX_COST)
    code = code + select(passed & (finite_outputs == False), 1024.0, 0.0)  # noqa: E712 (scalar-safe in numba)
    return code + select(passed & finite_outputs & implausible, 2048.0, 0.0)


def describe_reason(code: int) -> list[str]:
    """Names of the reasons in a code.

    >>> describe_reason(12)
    ['collector_alloys', 'oxidative_limit']
    """
    return [name for bit, (name, _) in REASONS.items() if int(code) & bit]
