"""Deliverable capacity, voltage and energy; the pouch cell around the stack.

Per-area units as in :mod:`dse.models.stack`; energies per area [mWh/cm²].
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba.extending import register_jitable

from dse.models.constants import WH_KG_PER_MWH_MG, WH_L_PER_MWH_CM2_UM
from dse.models.vmath import select, sqrt

__all__ = [
    "utilisation",
    "specific_energy",
    "energy_density",
    "energy_ratios",
    "EnergyRatios",
    "pouch_cell",
    "PouchCell",
    "Plates",
    "pressure_plates",
    "discharge_voltage",
    "pouch_layers",
]

PouchCell = namedtuple(
    "PouchCell",
    ["energy", "mass", "volume", "thickness", "packaging_mass", "hardware_mass", "hardware_thickness", "footprint"],
)
Plates = namedtuple("Plates", ["thickness", "areal_mass"])
EnergyRatios = namedtuple("EnergyRatios", ["per_mass", "per_size"])
EnergyRatios.__doc__ = "Energy per mass and per size (:func:`energy_ratios`)."
Plates.__doc__ = "Pressure plates per cell: thickness [mm] and areal mass [g/cm²]."
PouchCell.__doc__ = """A pouch cell: energy [Wh], mass [g] (including its share of
pressure hardware), volume [cm³], thickness [mm], packaging and hardware mass
[g], hardware thickness [mm] and footprint [cm²]."""


@register_jitable(error_model="numpy")
def utilisation(discharge_rate, cathode_loading, transport_current):
    """Fraction of the cathode capacity deliverable at a discharge rate.

    A thick electrode at high rate is limited by ion transport through its
    pores: beyond a characteristic current density ``J_t`` the deliverable
    capacity approaches ``J_t / rate`` (the depth the electrolyte can feed).
    The smooth form used is

    ``u = (1 + x**4) ** (-1/4)``, with ``x = rate · loading / J_t``,

    which is 1 for thin electrodes at low rate, 0.84 at ``x = 1`` and ``1/x``
    far beyond. ``J_t`` is a property of the electrolyte
    (``transport_current``; see docs/assumptions.md). Seed 001 (L88, L332)
    states the trend but gives no numbers, so this is a heuristic.

    Parameters
    ----------
    discharge_rate : array_like
        [1/h] (C-rate).
    cathode_loading : array_like
        [mAh/cm²]
    transport_current : array_like
        [mA/cm²]

    Examples
    --------
    >>> round(float(utilisation(0.1, 6.0, 12.0)), 4)
    1.0
    >>> round(float(utilisation(2.0, 6.0, 12.0)), 3)
    0.841
    """
    x = discharge_rate * cathode_loading / transport_current
    x2 = x * x
    return 1.0 / sqrt(sqrt(1.0 + x2 * x2))


@register_jitable(error_model="numpy")
def discharge_voltage(average_voltage, upper_cutoff_voltage, depth_of_discharge, anode_offset):
    """Average discharge voltage of a cycle of depth ``DoD`` from full charge [V].

    The cathode's voltage is taken as falling linearly with depth from its
    cut-off, through its full-depth average at half depth, so a cycle of
    depth ``DoD`` averages ``V_cut - DoD · (V_cut - V_avg)``: the catalogue
    average at full depth, higher for shallow cycles, which stay at the top
    of charge. A host anode (graphite baseline) sits ``anode_offset`` above
    the metal. A measured full-cell voltage is given directly by overriding
    the cathode's ``average_voltage`` and ``upper_cutoff_voltage``
    (docs/assumptions.md).

    >>> round(float(discharge_voltage(3.8, 4.2, 1.0, 0.0)), 3), round(float(discharge_voltage(3.8, 4.2, 0.5, 0.0)), 3)
    (3.8, 4.0)
    """
    return upper_cutoff_voltage - depth_of_discharge * (upper_cutoff_voltage - average_voltage) - anode_offset


@register_jitable(error_model="numpy")
def pouch_layers(layers, target_capacity, cathode_loading, electrode_width, electrode_length):
    """Repeat units of a pouch cell: given, or sized to a nominal capacity.

    A format with a ``target_capacity`` [Ah] (e.g. the 1, 2, 5 and 10 Ah
    pouches of the catalogue) stacks as many repeat units as bring the
    cathode's reversible capacity nearest to it (at least one); otherwise
    ``layers`` is the format's fixed count.

    >>> int(pouch_layers(20.0, 1.0, 4.0, 43.0, 58.0))
    10
    """
    area = 0.01 * electrode_width * electrode_length
    sized = np.maximum(np.floor(1000.0 * target_capacity / (cathode_loading * area) + 0.5), 1.0)
    return select(target_capacity > 0.0, sized, layers)


@register_jitable(error_model="numpy")
def specific_energy(energy, mass):
    """Specific energy [Wh/kg] from areal energy [mWh/cm²] and mass [mg/cm²].

    >>> float(specific_energy(22.8, 50.0))
    456.0
    """
    return WH_KG_PER_MWH_MG * energy / mass


@register_jitable(error_model="numpy")
def energy_density(energy, thickness):
    """Energy density [Wh/L] from areal energy [mWh/cm²] and thickness [µm].

    >>> float(energy_density(22.8, 190.0))
    1200.0
    """
    return WH_L_PER_MWH_CM2_UM * energy / thickness


@register_jitable(error_model="numpy")
def energy_ratios(energy, mass, size, per_mass=1.0, per_size=1.0):
    """``per_mass · energy / mass`` and ``per_size · energy / size``, with one division.

    ``energy / (mass · size)``, times the other denominator: in the sweep
    kernel's loop, which runs four designs per instruction, one packed
    division takes as long as a dozen multiplications. Within a few ulp of the
    two quotients for positive, finite ``mass`` and ``size``.

    >>> se, ed = energy_ratios(22.8, 50.0, 190.0, WH_KG_PER_MWH_MG, WH_L_PER_MWH_CM2_UM)
    >>> round(float(se), 9), round(float(ed), 9)  # specific_energy and energy_density of 22.8 mWh/cm²
    (456.0, 1200.0)
    """
    r = energy / (mass * size)
    return EnergyRatios(per_mass * (r * size), per_size * (r * mass))


@register_jitable(error_model="numpy")
def pressure_plates(stack_pressure, span, plate_density, plate_strength, cells_per_module, plate_factor=0.29):
    """End plates that hold a module of cells at ``stack_pressure``.

    A flat plate under uniform pressure ``p`` with short span ``b`` reaches a
    bending stress ``σ = β p (b/t)²`` (Roark, β ≈ 0.29 for a square simply
    supported plate), so the thickness needed is ``t = b · sqrt(β p / σ)``.
    Two plates serve ``cells_per_module`` cells, so each cell carries
    ``2 t / cells_per_module`` of plate thickness over its footprint.

    Parameters
    ----------
    stack_pressure : array_like
        [MPa]
    span : array_like
        Short side of the plate [mm].
    plate_density : array_like
        [g/cm³]
    plate_strength : array_like
        Allowable bending stress [MPa].
    cells_per_module : array_like
        [-]

    Returns
    -------
    Plates
        Plate thickness per cell [mm] and plate areal mass per cell [g/cm²].

    Examples
    --------
    >>> t, m = pressure_plates(1.0, 100.0, 7.9, 250.0, 12.0)
    >>> round(float(t), 3), round(float(m), 3)
    (0.568, 0.448)
    """
    # 2 t / n = 2 b · sqrt(β p / (σ n²)): one division
    per_cell = (
        2.0
        * span
        * sqrt(plate_factor * np.maximum(stack_pressure, 0.0) / (plate_strength * cells_per_module * cells_per_module))
    )
    return Plates(per_cell, per_cell * 0.1 * plate_density)


@register_jitable(error_model="numpy")
def pouch_cell(
    unit_energy,
    unit_mass,
    unit_thickness,
    layers,
    electrode_width,
    electrode_length,
    seal_width,
    laminate_thickness,
    laminate_density,
    tab_mass,
    stack_pressure,
    plate_density,
    plate_strength,
    cells_per_module,
):
    """A pouch cell of ``layers`` repeat units plus packaging and pressure hardware.

    Parameters
    ----------
    unit_energy, unit_mass, unit_thickness : array_like
        Repeat unit [mWh/cm²], [mg/cm²], [µm].
    layers : array_like
        Number of repeat units [-].
    electrode_width, electrode_length, seal_width : array_like
        [mm]; the footprint is the electrode plus the seal on every side.
    laminate_thickness : array_like
        Pouch foil thickness per face [µm].
    laminate_density : array_like
        [g/cm³]
    tab_mass : array_like
        Both tabs [g].
    stack_pressure, plate_density, plate_strength, cells_per_module : array_like
        See :func:`pressure_plates`.

    Returns
    -------
    PouchCell

    Examples
    --------
    >>> c = pouch_cell(22.8, 50.0, 190.0, 20, 90, 140, 5, 113, 1.55, 2.0, 0.0, 7.9, 250, 12)
    >>> round(float(c.energy / c.mass * 1000)), round(float(c.energy / c.volume * 1000))
    (431, 951)
    """
    area = 0.01 * electrode_width * electrode_length
    footprint = 0.01 * (electrode_width + 2.0 * seal_width) * (electrode_length + 2.0 * seal_width)
    energy = 1.0e-3 * layers * area * unit_energy
    packaging = 2.0 * 1.0e-4 * laminate_thickness * laminate_density * footprint + tab_mass
    stack_mass = 1.0e-3 * layers * area * unit_mass
    plate_thickness, plate_areal = pressure_plates(
        stack_pressure,
        np.minimum(electrode_width, electrode_length) + 2.0 * seal_width,
        plate_density,
        plate_strength,
        cells_per_module,
    )
    hardware = plate_areal * footprint
    thickness = 1.0e-3 * (layers * unit_thickness + 2.0 * laminate_thickness) + plate_thickness
    volume = 0.1 * thickness * footprint
    return PouchCell(
        energy, stack_mass + packaging + hardware, volume, thickness, packaging, hardware, plate_thickness, footprint
    )
