"""Layers of the stack repeat unit, per cm² of electrode area.

The repeat unit of a stacked cell with double-sided electrodes is
½ positive collector (Al) + cathode coating + separator (or solid-electrolyte
layer) + plated metal (+ pre-deposited reservoir) + coating + ½ negative
collector (DESIGN.md §4). Every function here is a plain vectorized formula:
it accepts floats, ndarrays, xarray DataArrays or dask arrays, and returns a
named tuple of the same kind. Invalid domains give NaN, never an exception.

Units: areal capacity [mAh/cm²], areal mass [mg/cm²], thickness [µm],
density [g/cm³]. A layer of thickness t [µm] and density ρ [g/cm³] weighs
0.1·ρ·t [mg/cm²].
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba.extending import register_jitable

from dse.models.constants import MAH_PER_MOL, MG_PER_UM_G_CM3, UM_PER_MG_CM3
from dse.models.vmath import exp, select

__all__ = [
    "Layer",
    "CathodeLayer",
    "cathode_layer",
    "porous_layer",
    "solid_layer",
    "host_anode_layer",
    "metal_thickness_per_capacity",
    "metal_mass_per_capacity",
    "deposit_porosity",
    "plated_metal",
    "PlatedMetal",
]

Layer = namedtuple("Layer", ["mass", "thickness", "pore_volume"])
Layer.__doc__ = """A layer: areal mass [mg/cm²], thickness [µm], pore volume [µm]
(pore volume per area, expressed as the thickness of a pore-only layer)."""

CathodeLayer = namedtuple("CathodeLayer", ["active_mass", "mass", "thickness", "pore_volume", "catholyte_mass"])
CathodeLayer.__doc__ = """Composite cathode: active mass, total mass and
catholyte mass [mg/cm²], thickness and pore volume [µm]."""

PlatedMetal = namedtuple("PlatedMetal", ["mass", "thickness", "pore_volume"])
PlatedMetal.__doc__ = """Metal on the negative side: mass [mg/cm²], thickness
[µm] including deposit pores, and the pore volume [µm] (filled by liquid)."""


@register_jitable(error_model="numpy")
def cathode_layer(
    cathode_loading,
    specific_capacity,
    active_fraction,
    porosity,
    active_density,
    inactive_density,
    catholyte_fraction=0.0,
    catholyte_density=1.0,
    coating_density=0.0,
):
    """Composite cathode coating of a given areal capacity.

    The active mass is ``cathode_loading / specific_capacity``. The solids
    other than catholyte hold the active fraction ``a``; the catholyte (solid
    electrolyte mixed into solid-state composites) is the mass fraction ``f``
    of the whole composite, so the composite mass is ``m_am / (a (1 - f))``.
    The thickness follows either from an apparent coating density, when one is
    given (> 0; seed 001 gives 2.7 g/cm³ at 31 % porosity for NMC622, L65), or
    from the skeletal volume of the constituents divided by ``1 - porosity``.

    Parameters
    ----------
    cathode_loading : array_like
        Reversible areal capacity [mAh/cm²].
    specific_capacity : array_like
        Practical specific capacity of the active material [mAh/g].
    active_fraction : array_like
        Mass fraction of active material in the non-catholyte solids [-].
    porosity : array_like
        Pore volume fraction of the coating [-].
    active_density, inactive_density : array_like
        Skeletal densities of active material and of binder plus carbon [g/cm³].
    catholyte_fraction : array_like, default 0
        Mass fraction of solid electrolyte in the composite [-].
    catholyte_density : array_like, default 1
        Skeletal density of the catholyte [g/cm³].
    coating_density : array_like, default 0
        Apparent density of the coating including pores [g/cm³]; 0 means
        derive it from the skeletal densities and the porosity.

    Returns
    -------
    CathodeLayer

    Examples
    --------
    Seed 001 NMC622 at 6 mAh/cm² with the stated 2.7 g/cm³ coating density:

    >>> c = cathode_layer(6.0, 175.0, 0.955, 0.31, 4.75, 1.9, coating_density=2.7)
    >>> round(float(c.mass), 2), round(float(c.thickness), 1)
    (35.9, 133.0)
    """
    active_mass = 1000.0 * cathode_loading / specific_capacity
    solids = active_fraction * (1.0 - catholyte_fraction)
    mass = active_mass / solids
    catholyte_mass = mass * catholyte_fraction
    inactive_mass = mass - active_mass - catholyte_mass
    # thickness = mass / apparent density; without a given one, the apparent density is
    # (1 - porosity) · mass / Σ m_i / ρ_i, written over one common denominator (one division, not five)
    skeletal_volume = (
        active_mass * inactive_density * catholyte_density
        + inactive_mass * active_density * catholyte_density
        + catholyte_mass * active_density * inactive_density
    )
    skeletal_density = active_density * inactive_density * catholyte_density
    given = coating_density > 0.0
    thickness = UM_PER_MG_CM3 * (
        select(given, mass, skeletal_volume) / select(given, coating_density, (1.0 - porosity) * skeletal_density)
    )
    valid = (porosity >= 0.0) & (porosity < 1.0) & (solids > 0.0) & (solids <= 1.0) & (cathode_loading > 0.0)
    thickness = select(valid, thickness, np.nan)
    return CathodeLayer(active_mass, mass, thickness, porosity * thickness, catholyte_mass)


@register_jitable(error_model="numpy")
def porous_layer(thickness, density, porosity):
    """A porous layer (separator) of skeletal ``density`` and ``porosity``.

    Parameters
    ----------
    thickness : array_like
        [µm]
    density : array_like
        Skeletal density [g/cm³].
    porosity : array_like
        [-]

    Returns
    -------
    Layer

    Examples
    --------
    Celgard H2010 of seed 001 (0.95 g/cm³, 46 % porosity) at 20 µm:

    >>> s = porous_layer(20.0, 0.95, 0.46)
    >>> round(float(s.mass), 3), round(float(s.pore_volume), 1)
    (1.026, 9.2)
    """
    mass = MG_PER_UM_G_CM3 * density * (1.0 - porosity) * thickness
    return Layer(mass, thickness + 0.0 * density, porosity * thickness)


@register_jitable(error_model="numpy")
def solid_layer(thickness, density):
    """A dense layer (foil, coating, solid electrolyte).

    >>> round(float(solid_layer(4.0, 8.96).mass), 3)
    3.584
    """
    return Layer(MG_PER_UM_G_CM3 * density * thickness, thickness + 0.0 * density, 0.0 * thickness)


@register_jitable(error_model="numpy")
def host_anode_layer(cathode_loading, np_ratio, specific_capacity, active_fraction, coating_density, porosity):
    """Host anode (graphite baseline) sized by the N/P ratio.

    Mass is ``np_ratio · loading / (specific_capacity · active_fraction)``;
    ``np_ratio = 0`` (anode-free or metal foil) gives an empty layer.

    Examples
    --------
    Graphite of seed 001 L63 at 3 mAh/cm² (N/P 1.1, 370 mAh/g, 93 wt %, 1.6 g/cm³):

    >>> g = host_anode_layer(3.0, 1.1, 370.0, 0.93, 1.6, 0.25)
    >>> round(float(g.mass), 2), round(float(g.thickness), 1)
    (9.59, 59.9)
    """
    present = np_ratio > 0.0
    mass = select(
        present,
        1000.0 * np_ratio * cathode_loading / select(present, specific_capacity * active_fraction, 1.0),
        0.0,
    )
    thickness = select(present, UM_PER_MG_CM3 * mass / select(present, coating_density, 1.0), 0.0)
    return Layer(mass, thickness, porosity * thickness)


@register_jitable(error_model="numpy")
def metal_thickness_per_capacity(molar_mass, density):
    """Thickness of dense metal holding 1 mAh/cm² [µm per mAh/cm²].

    ``3.6 · M / (F · ρ)`` for a monovalent metal.

    Examples
    --------
    >>> round(float(metal_thickness_per_capacity(6.94, 0.534)), 3)   # Li
    4.849
    >>> round(float(metal_thickness_per_capacity(23.0, 0.97)), 2)    # Na
    8.85
    """
    return 1.0e4 * molar_mass / (MAH_PER_MOL * density)


@register_jitable(error_model="numpy")
def metal_mass_per_capacity(molar_mass):
    """Mass of metal holding 1 mAh [mg/mAh].

    >>> round(float(metal_mass_per_capacity(6.94)), 4)
    0.2589
    """
    return (1000.0 / MAH_PER_MOL) * molar_mass


@register_jitable(error_model="numpy")
def deposit_porosity(stack_pressure, unpressed, dense, densification_pressure, solid=False):
    """Porosity of electroplated metal as a function of stack pressure.

    ``dense + (unpressed - dense) · exp(-p / p_d)``: the deposit of a liquid
    cell is porous without pressure (Li plating with ~100 % volume expansion,
    seed 001 L330, i.e. porosity 0.5) and densifies under pressure
    (1–1.2 MPa, seed 001 L618, seed 000 L168). Under a solid electrolyte the
    metal plates as a dense film, so ``solid=True`` gives ``dense``.

    Parameters
    ----------
    stack_pressure : array_like
        [MPa]
    unpressed, dense : array_like
        Porosity at zero pressure and the dense limit [-].
    densification_pressure : array_like
        e-folding pressure [MPa].
    solid : array_like of bool, default False

    Examples
    --------
    >>> round(float(deposit_porosity(0.0, 0.5, 0.05, 0.4)), 3)
    0.5
    >>> round(float(deposit_porosity(1.2, 0.5, 0.05, 0.4)), 3)
    0.072
    """
    liquid = dense + (unpressed - dense) * exp(-stack_pressure / densification_pressure)
    return select(solid, dense + 0.0 * liquid, liquid)


@register_jitable(error_model="numpy")
def plated_metal(plated_capacity, metal_excess, thickness_per_capacity, mass_per_capacity, porosity):
    """Metal on the negative collector: a dense reservoir plus a porous deposit.

    Parameters
    ----------
    plated_capacity : array_like
        Capacity held as electroplated metal [mAh/cm²].
    metal_excess : array_like
        Dense pre-deposited metal [µm].
    thickness_per_capacity : array_like
        [µm per mAh/cm²], see :func:`metal_thickness_per_capacity`.
    mass_per_capacity : array_like
        [mg/mAh], see :func:`metal_mass_per_capacity`.
    porosity : array_like
        Deposit porosity [-], see :func:`deposit_porosity`.

    Returns
    -------
    PlatedMetal

    Examples
    --------
    6 mAh/cm² of dense Li on a bare collector:

    >>> m = plated_metal(6.0, 0.0, 4.849, 0.2589, 0.0)
    >>> round(float(m.thickness), 2), round(float(m.mass), 3)
    (29.09, 1.553)
    """
    dense_deposit = np.maximum(plated_capacity, 0.0) * thickness_per_capacity
    deposit = dense_deposit / (1.0 - porosity)
    excess_mass = metal_excess / thickness_per_capacity * mass_per_capacity
    mass = np.maximum(plated_capacity, 0.0) * mass_per_capacity + excess_mass
    return PlatedMetal(mass, deposit + metal_excess, deposit - dense_deposit)
