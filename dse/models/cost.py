"""Bill of materials per unit energy.

Cost of a layer is its areal mass times a price per kg, or its area times a
price per m² (separators, laminate, thin-film process cost). Silver and gold
coatings are expensive per kg; sputtered nanometre layers weigh almost
nothing but carry a process cost per m² (DESIGN.md §4 "Cost"; seed 001 L675
asks for life-cycle cost of coatings).

Units: areal mass [mg/cm²], prices [USD/kg] and [USD/m²], areal cost
[USD/cm²], energy [mWh/cm²], cost per energy [USD/kWh].
"""

from __future__ import annotations

from numba.extending import register_jitable

__all__ = ["mass_cost", "area_cost", "cost_per_energy"]


@register_jitable(error_model="numpy")
def mass_cost(mass, price):
    """Areal cost [USD/cm²] of ``mass`` [mg/cm²] at ``price`` [USD/kg].

    >>> mass_cost(35.9, 25.0)
    0.0008975
    """
    return 1.0e-6 * mass * price


@register_jitable(error_model="numpy")
def area_cost(price):
    """Areal cost [USD/cm²] of a sheet priced per m².

    >>> area_cost(1.0)
    0.0001
    """
    return 1.0e-4 * price


@register_jitable(error_model="numpy")
def cost_per_energy(areal_cost, energy):
    """Cost per energy [USD/kWh] from [USD/cm²] and [mWh/cm²].

    >>> round(cost_per_energy(0.0015, 22.8), 1)
    65.8
    """
    return 1.0e6 * areal_cost / energy
