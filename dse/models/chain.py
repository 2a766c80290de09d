"""The model chain: stack → energy → CE → lifetime → cost → feasibility.

:func:`chain_outputs` composes the model functions of this package for one set of
:class:`Parameters`. It is written with arithmetic, ufuncs and
:func:`~dse.models.vmath.select` only, so the same source runs

* on arrays (numpy; one call for a whole block of designs), and
* element by element inside the numba-compiled sweep kernel
  (:mod:`dse.models.kernel`), where it is compiled with ``numba.njit``.

Parameters arrive as nested named tuples: the numeric design inputs and, for
each categorical input, the catalogue properties already looked up (models
never see strings). Chain-level constants (CE slopes and their covariance,
fixed prices) arrive as :class:`Constants`.

:func:`chain_outputs` is two halves: :func:`cycling` (CE surrogate, inventory,
cycle life, critical current), which depends only on :data:`CYCLING_INPUTS`,
and :func:`outputs_from_cycling` (layers, energy, cost, feasibility), so that the
kernel can evaluate the first once per combination of those inputs.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from dse.models.constants import MAX_CATHODE_LOADING, MIN_CATHODE_LOADING, WH_KG_PER_MWH_MG, WH_L_PER_MWH_CM2_UM
from dse.models.cost import area_cost, cost_per_energy, mass_cost
from dse.models.cycling import CYCLING_INPUTS, CYCLING_NESTED, Cycling, _cycled, _cycling, cycling  # noqa: F401
from dse.models.energy import (
    discharge_voltage,
    energy_ratios,
    pouch_cell,
    pouch_layers,
)
from dse.models.feasibility import infeasible_reason
from dse.models.fields import (  # noqa: F401 - declared there, part of this module's interface
    _GROUP_TYPES,
    CE_FIELDS,
    DERIVED,
    DESIGN_FIELDS,
    GROUPS,
    OUTPUT_FIELDS,
    CeTerms,
    Constants,
    DerivedInputs,
    DesignInputs,
    Outputs,
    Parameters,
    derived_inputs,
)
from dse.models.lifetime import (
    dry_out_life,
    host_fade,
)
from dse.models.stack import (
    cathode_layer,
    deposit_porosity,
    host_anode_layer,
    metal_mass_per_capacity,
    plated_metal,
    porous_layer,
    solid_layer,
)
from dse.models.vmath import select

__all__ = [
    "GROUPS",
    "Parameters",
    "Constants",
    "Outputs",
    "OUTPUT_FIELDS",
    "chain_outputs",
    "cycling",
    "outputs_from_cycling",
    "Cycling",
    "CYCLING_INPUTS",
    "DESIGN_FIELDS",
    "DERIVED",
    "derived_inputs",
]


@register_jitable(inline="always", error_model="numpy")
def chain_outputs(p, k, uncertain=None, energy_only=False):
    """Evaluate the whole chain for one block of designs (or one design).

    Parameters
    ----------
    p : Parameters
        Design inputs and looked-up properties; floats or arrays of one shape.
    k : Constants
    uncertain : bool, optional
        Whether to compute the p10/p90 cycle life; default ``k.uncertainty``.
        The fused kernel passes a constant so that its loop has no branch.
    energy_only : bool, default False
        Evaluate the energy model alone, as it stands without the CE
        surrogate: no formation loss (the inventory is the first charge plus
        any excess), and cycle life, cost and feasibility are NaN. This is the
        baseline of ``benchmarks/lifetime_overhead.py``.

    Returns
    -------
    Outputs
        Energies per repeat unit and per cell, lifetime, cost, feasibility and
        the per-layer breakdown. Units as in :mod:`dse.vocabulary`; breakdown
        masses [mg/cm²] and thicknesses [µm] per repeat unit.
    """
    if uncertain is None:
        uncertain = k.uncertainty > 0.5
    return outputs_from_cycling(p, k, cycling(p, k, uncertain, energy_only), energy_only, uncertain)


@register_jitable(inline="always", error_model="numpy")
def outputs_from_cycling(p, k, cycled, energy_only=False, uncertain=True):
    """:func:`chain_outputs` with the lifetime half already computed.

    ``cycled`` is the :class:`Cycling` of these designs, from :func:`cycling`
    with the same ``energy_only`` and ``uncertain`` (without it, the p10/p90
    cycle lives are NaN and their dry-out lives are not computed; the kernel
    passes a constant, so each of its two copies of the loop has no branch).
    The sweep kernel evaluates it in a loop of its own, or once per point of
    a block's lifetime sub-grid, and reads it back here.
    """
    d = p.design
    m, c, cc, co, e, s, pk, a = (
        p.metal,
        p.cathode,
        p.collector,
        p.coating,
        p.electrolyte,
        p.separator,
        p.packaging,
        p.anode,
    )
    solid = e.solid > 0.5
    baseline = a.np_ratio > 0.0
    loading = d.cathode_loading
    valid = (
        (loading >= MIN_CATHODE_LOADING)
        & (loading <= MAX_CATHODE_LOADING)
        & (d.cathode_porosity >= 0.0)
        & (d.cathode_porosity < 1.0)
        & (d.cathode_active_fraction > 0.0)
        & (d.cathode_active_fraction <= 1.0)
        & (d.positive_collector_thickness >= 0.0)
        & (d.current_collector_thickness >= 0.0)
        & (d.coating_thickness >= 0.0)
        & (d.metal_excess >= 0.0)
        & (d.prelithiation >= 0.0)
        & (d.electrolyte_amount >= 0.0)
        & (d.separator_thickness > 0.0)
        & (d.stack_pressure >= 0.0)
        & (d.temperature > -273.15)
        & (d.charge_rate * loading > 0.0)
        & (d.discharge_rate * loading > 0.0)
        & (d.depth_of_discharge > 0.0)
        & (d.depth_of_discharge <= 1.0)
    )

    # --- stack layers -------------------------------------------------------
    catholyte = select(solid, e.catholyte_fraction, 0.0)
    cathode = cathode_layer(
        loading,
        c.specific_capacity,
        d.cathode_active_fraction,
        d.cathode_porosity,
        c.density,
        c.inactive_density,
        catholyte,
        e.density,
        c.coating_density,
    )
    # (divisions by chain constants are written as products with a quotient of constants,
    # which compiled code computes once per block instead of once per design)
    additive_mass = d.prelithiation * loading * (1000.0 / k.additive_capacity)
    cathode_mass = cathode.mass + additive_mass
    cathode_thickness = cathode.thickness + additive_mass * (10.0 / k.additive_density)
    separator = porous_layer(d.separator_thickness, select(solid, e.density, s.density), select(solid, 0.0, s.porosity))
    host = host_anode_layer(loading, a.np_ratio, a.specific_capacity, a.active_fraction, a.coating_density, a.porosity)
    positive = solid_layer(0.5 * d.positive_collector_thickness, k.positive_collector_density)
    negative = solid_layer(0.5 * d.current_collector_thickness, cc.density)

    # --- capacity and inventory ----------------------------------------------
    # (q is read from the lifetime half: the kernel then never recomputes the utilisation)
    _, per_capacity, excess_capacity, coated, coating, _, _ = _cycled(p)
    current_density = d.charge_rate * loading
    mass_per_capacity = metal_mass_per_capacity(m.molar_mass)
    ce, inv, life, life_low, life_high, _, q, ce_low, ce_high, host_life, calendar, cyclable, _ = cycled
    nan = np.nan
    inventory = select(baseline, q, inv.inventory)
    first = select(baseline, q, life.first_capacity)

    # --- metal on the negative side (full charge) ----------------------------
    porosity = deposit_porosity(
        d.stack_pressure, m.deposit_porosity, m.dense_deposit_porosity, m.densification_pressure, solid
    )
    plated_capacity = select(baseline, 0.0, np.maximum(inventory - excess_capacity - inv.alloyed, 0.0))
    metal = plated_metal(plated_capacity, d.metal_excess, per_capacity, mass_per_capacity, porosity)
    # metal alloyed into the coating swells it by (at most) its dense metal volume
    alloy_thickness = (inv.alloyed + inv.coating_loss) * per_capacity
    stripped_alloy = np.minimum(inv.alloyed, np.maximum(first - plated_capacity, 0.0))
    discharged_metal = plated_metal(
        np.maximum(plated_capacity - first, 0.0), d.metal_excess, per_capacity, mass_per_capacity, porosity
    )
    discharged_alloy = alloy_thickness - stripped_alloy * per_capacity
    excess_metal_mass = excess_capacity * mass_per_capacity

    # --- electrolyte ---------------------------------------------------------
    pores = cathode.pore_volume + separator.pore_volume + host.pore_volume + metal.pore_volume
    fill = 0.1 * e.density * pores
    specified = d.electrolyte_amount * loading
    given = d.electrolyte_amount > 0.0
    liquid = select(solid, 0.0, select(given, specified, fill))
    starved = (solid == False) & given & (specified < fill)  # noqa: E712 (scalar-safe in numba)
    excess_liquid = select(solid, 0.0, np.maximum(liquid - fill, 0.0) / (0.1 * e.density))

    # --- totals per repeat unit ----------------------------------------------
    unit_mass = (
        positive.mass
        + cathode_mass
        + separator.mass
        + liquid
        + host.mass
        + excess_metal_mass
        + coating.mass
        + negative.mass
    )
    base_thickness = (
        positive.thickness
        + cathode_thickness
        + separator.thickness
        + excess_liquid
        + host.thickness
        + coating.thickness
        + negative.thickness
    )
    unit_thickness = base_thickness + metal.thickness + alloy_thickness
    discharged_thickness = base_thickness + discharged_metal.thickness + discharged_alloy
    voltage = discharge_voltage(c.average_voltage, c.upper_cutoff_voltage, d.depth_of_discharge, a.voltage_offset)
    unit_energy = first * voltage
    # (specific_energy and energy_density of the repeat unit, with one division)
    se_stack, ed_stack = energy_ratios(unit_energy, unit_mass, unit_thickness, WH_KG_PER_MWH_MG, WH_L_PER_MWH_CM2_UM)
    swelling = select(baseline, 0.0, 100.0 * (unit_thickness - discharged_thickness) / discharged_thickness)

    # --- pouch cell ----------------------------------------------------------
    is_pouch = pk.pouch > 0.5
    layers = pouch_layers(pk.layers, pk.target_capacity, loading, pk.electrode_width, pk.electrode_length)
    pouch = pouch_cell(
        unit_energy,
        unit_mass,
        unit_thickness,
        layers,
        pk.electrode_width,
        pk.electrode_length,
        pk.seal_width,
        pk.laminate_thickness,
        pk.laminate_density,
        pk.tab_mass,
        d.stack_pressure,
        pk.plate_density,
        pk.plate_strength,
        pk.cells_per_module,
    )
    # the cell as published, without the plates that hold its pressure; the system with them
    cell_mass = pouch.mass - pouch.hardware_mass
    cell_volume = pouch.volume - 0.1 * pouch.hardware_thickness * pouch.footprint
    se_pouch, ed_pouch = energy_ratios(pouch.energy, cell_mass, cell_volume, 1000.0, 1000.0)
    se_plates, ed_plates = energy_ratios(pouch.energy, pouch.mass, pouch.volume, 1000.0, 1000.0)
    se_cell = select(is_pouch, se_pouch, se_stack)
    ed_cell = select(is_pouch, ed_pouch, ed_stack)
    se_system = select(is_pouch, se_plates, se_stack)
    ed_system = select(is_pouch, ed_plates, ed_stack)

    # --- lifetime: the first mechanism to end it ----------------------------
    consumption = select(solid, 0.0, e.consumption)
    dry = np.maximum(np.floor(dry_out_life(liquid, fill, consumption, (1.0 - ce) * q)), 1.0)
    inventory_life = life.cycle_life
    cycles_all = np.minimum(np.minimum(inventory_life, dry), host_life)
    corroded = calendar > 0.5 * (1.0 - ce) * q
    limit = select(
        inventory_life <= np.minimum(dry, host_life), select(corroded, 2.0, 1.0), select(dry <= host_life, 3.0, 4.0)
    )
    cycles = select(baseline, nan, cycles_all)
    # delivered capacity up to the end of life: each cycle gives at most q
    delivered = np.minimum(life.delivered, cycles_all * q)
    lifetime_energy = select(baseline, nan, 1.0e-3 * se_cell * delivered / first)
    # (p10/p90 through the same mechanisms; selects, not a branch, so the kernel's loop stays vectorized)
    if uncertain:
        life_low = np.minimum(
            np.minimum(life_low, host_life),
            np.maximum(np.floor(dry_out_life(liquid, fill, consumption, (1.0 - ce_low) * q)), 1.0),
        )
        life_high = np.minimum(
            np.minimum(life_high, host_life),
            np.maximum(np.floor(dry_out_life(liquid, fill, consumption, (1.0 - ce_high) * q)), 1.0),
        )
    else:
        life_low = life_high = nan + 0.0 * q

    if energy_only:
        cost = cost_system = cost_per_cycle = reason = nan + 0.0 * q
    else:
        # --- cost ----------------------------------------------------------------
        inactive_mass = cathode.mass - cathode.active_mass - cathode.catholyte_mass
        unit_cost = (
            mass_cost(cathode.active_mass, c.price)
            + mass_cost(inactive_mass, k.inactive_price)
            + mass_cost(cathode.catholyte_mass, e.price)
            + mass_cost(additive_mass, k.additive_price)
            + select(solid, mass_cost(separator.mass, e.price), area_cost(s.price))
            + mass_cost(liquid, e.price)
            + mass_cost(host.mass, a.price)
            + mass_cost(positive.mass, k.positive_collector_price)
            + mass_cost(negative.mass, cc.price)
            + 0.5 * area_cost(cc.process_cost)
            + mass_cost(coating.mass, co.price)
            + select(coated, area_cost(co.process_cost), 0.0)
            + mass_cost(excess_metal_mass, m.price)
        )
        electrode_area = 0.01 * pk.electrode_width * pk.electrode_length
        pouch_cost = layers * electrode_area * unit_cost + 2.0 * area_cost(pk.laminate_price) * pouch.footprint
        hardware_cost = 1.0e-3 * k.hardware_price * pouch.hardware_mass
        # USD per kWh of the cell, or of the repeat unit for a bare stack (cost_per_energy), with
        # one division for the cell and the system
        per_energy = cost_per_energy(1.0, select(is_pouch, pouch.energy, unit_energy))
        cost = per_energy * select(is_pouch, 1.0e-3 * pouch_cost, unit_cost)
        cost_system = per_energy * select(is_pouch, 1.0e-3 * (pouch_cost + hardware_cost), unit_cost)
        # (per cycle of the life the first mechanism ends; checked below to be defined)
        cost_per_cycle = cost / cycles_all

        # --- feasibility ---------------------------------------------------------
        alloys = select(m.code < 0.5, cc.alloys_li, select(m.code < 1.5, cc.alloys_na, cc.alloys_k))
        # every output the design defines, summed: the sum is finite only if each term is
        # (a NaN or an infinity propagates), at the price of one addition per output; the
        # per-layer masses and thicknesses are terms of unit_mass and unit_thickness
        defined = (
            se_cell
            + ed_cell
            + se_stack
            + ed_stack
            + se_system
            + ed_system
            + first
            + voltage
            + inventory
            + cost
            + cost_system
            + swelling
            + metal.thickness
            + current_density
            + unit_mass
            + unit_thickness
            + discharged_thickness
            + unit_energy
            + inv.formation_loss
            + inv.coating_loss
            + q
            + select(is_pouch, pouch.energy + pouch.mass + pouch.volume, 0.0)
            + select(
                baseline,
                0.0,
                ce
                + life.cycle_life
                + life.knee
                + lifetime_energy
                + cost_per_cycle
                + select(k.uncertainty > 0.5, life_low + life_high, 0.0),
            )
        )
        reason = infeasible_reason(
            m.code,
            c.metal_code,
            e.metal_code,
            alloys,
            c.upper_cutoff_voltage,
            e.oxidative_limit,
            d.temperature,
            e.min_temperature,
            e.max_temperature,
            current_density,
            cycled.critical_current_density,
            d.stack_pressure,
            pk.max_stack_pressure,
            starved,
            select(baseline, inventory, cyclable),
            select(baseline, 0.0, inv.first_charge),
            valid,
            defined - defined == 0.0,
            cycles,
            cost,
        )

    return Outputs(
        se_cell,
        ed_cell,
        se_stack,
        ed_stack,
        se_system,
        ed_system,
        first,
        voltage,
        select(baseline, nan, ce),
        cycles,
        select(baseline, nan, life_low),
        select(baseline, nan, life_high),
        select(baseline, nan, np.minimum(life.knee, cycles_all)),
        inventory,
        lifetime_energy,
        cost,
        select(baseline, nan, cost_per_cycle),
        cost_system,
        swelling,
        metal.thickness,
        current_density,
        reason,
        select((reason == 0.0) & (baseline == False), limit, 0.0),  # noqa: E712 (scalar-safe in numba)
        select(baseline, nan, inventory_life),
        select(baseline | solid, nan, dry),
        select(baseline, nan, host_life),
        select(baseline, nan, cyclable),
        select(baseline, nan, host_fade(c.fade_per_cycle, d.depth_of_discharge)),
        positive.mass,
        cathode_mass,
        separator.mass,
        liquid,
        host.mass,
        excess_metal_mass,
        coating.mass,
        negative.mass,
        positive.thickness,
        cathode_thickness,
        separator.thickness,
        excess_liquid,
        host.thickness,
        metal.thickness,
        coating.thickness + alloy_thickness,
        negative.thickness,
        unit_mass,
        unit_thickness,
        unit_energy,
        select(is_pouch, pouch.energy, nan),
        select(is_pouch, cell_mass, nan),
        select(is_pouch, cell_volume, nan),
        select(is_pouch, 1.0e-3 * layers * 0.01 * pk.electrode_width * pk.electrode_length * first, nan),
        select(is_pouch, layers, nan),
        select(baseline, 0.0, inv.formation_loss),
        select(baseline, 0.0, inv.coating_loss),
        q,
    )
