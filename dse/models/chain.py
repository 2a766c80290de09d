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

from collections import namedtuple

import numpy as np
from numba.extending import register_jitable

from dse.models.ce import (
    ce_features_from_logs,
    coulombic_efficiency,
    log_loss_mean,
    log_loss_variance,
)
from dse.models.constants import MAX_CATHODE_LOADING, MIN_CATHODE_LOADING
from dse.models.cost import area_cost, cost_per_energy, mass_cost
from dse.models.energy import (
    discharge_voltage,
    energy_density,
    pouch_cell,
    pouch_layers,
    specific_energy,
    utilisation,
)
from dse.models.feasibility import critical_current_density, infeasible_reason
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
    Inventory,
    Lifetime,
    _cycle_life,
    calendar_loss,
    cycle_hours,
    dry_out_life,
    first_cycle_loss,
    host_fade,
    host_fade_life,
    in_series_range,
    initial_inventory,
)
from dse.models.stack import (
    cathode_layer,
    deposit_porosity,
    host_anode_layer,
    metal_mass_per_capacity,
    metal_thickness_per_capacity,
    plated_metal,
    porous_layer,
    solid_layer,
)
from dse.models.vmath import select, sqrt

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


@register_jitable(error_model="numpy")
def _lifetime(d, c, k, q, excess_capacity, uptake, log_loss, series_only, calendar, stranded):
    """Inventory and inventory-limited cycle life at one value of ``ln(1 - CE)``.

    The cycle loses ``(1 - CE) · q`` to plating and stripping and ``calendar``
    to corrosion, so the inventory recursion runs at the full-cell CE
    ``CE - calendar / q``. Metal the cathode cannot take back at the
    discharge rate (``stranded``) stays on the collector but is not counted
    as a reservoir (docs/assumptions.md, "Rate and inventory").
    """
    ce = coulombic_efficiency(log_loss)
    formation = first_cycle_loss(ce, k.formation_loss_multiplier)
    inv = initial_inventory(
        d.cathode_loading,
        c.first_cycle_efficiency,
        d.prelithiation,
        excess_capacity,
        uptake,
        k.coating_trapped_fraction,
        formation,
    )
    cell_ce = np.maximum(ce - calendar / q, 0.0)
    # (a formation that leaves no metal beyond the stranded one is refused by the no_inventory rule at the
    # median CE; at a p10 CE it is a cell that dies at once, not an undefined one)
    cycled = np.maximum(inv.inventory - stranded, 1.0e-12 * q)
    return cell_ce, inv, _cycle_life(cycled, q, cell_ce, k.end_of_life, series_only)


#: the inputs :func:`cycling` depends on: design fields it reads (with their DERIVED
#: functions), and the categorical inputs whose properties it reads. The sweep kernel
#: evaluates it once per combination of these in a block (``tests/models/test_kernel.py``
#: checks that no other input changes its results).
CYCLING_INPUTS = (
    "cathode_loading",
    "metal_excess",
    "coating_thickness",
    "prelithiation",
    "stack_pressure",
    "temperature",
    "charge_rate",
    "discharge_rate",
    "depth_of_discharge",
    "metal",
    "cathode",
    "coating",
    "electrolyte",
)
Cycling = namedtuple(
    "Cycling",
    (
        "coulombic_efficiency",
        "inventory",
        "life",
        "cycle_life_low",
        "cycle_life_high",
        "critical_current_density",
        "cycled_capacity",
        "ce_low",
        "ce_high",
        "host_life",
        "calendar_loss",
        "cyclable",
        "series",
    ),
)
#: the named tuples nested in Cycling (the kernel's row I/O flattens them)
CYCLING_NESTED = {"inventory": Inventory, "life": Lifetime}
Cycling.__doc__ = """What :func:`cycling` gives :func:`outputs_from_cycling`: the full-cell CE
(corrosion included), :class:`Inventory`, the inventory-limited
:class:`Lifetime`, its p10/p90 cycle life (NaN unless asked for), the
critical current density of the electrolyte [mA/cm²], the capacity cycled
[mAh/cm²], the full-cell CE at p10/p90, the cathode's own cycle life, the
calendar loss per cycle [mAh/cm²], the inventory that cycles (without the
rate-stranded metal) [mAh/cm²], and whether every cycle life of the
design (p10/p90 too) was in the range of the short series
(:func:`dse.models.lifetime.in_series_range`)."""


@register_jitable(inline="always", error_model="numpy")
def _cycled(p):
    """Cycled capacity and the metal on the negative side at assembly, per design."""
    d, m, co, e = p.design, p.metal, p.coating, p.electrolyte
    loading = d.cathode_loading
    usable = utilisation(d.discharge_rate, loading, e.transport_current)
    q = d.depth_of_discharge * usable * loading
    per_capacity = metal_thickness_per_capacity(m.molar_mass, m.density)
    excess_capacity = d.metal_excess / per_capacity
    coated = co.ce_class > 0.5
    coating = solid_layer(select(coated, d.coating_thickness, 0.0), co.density)
    uptake_specific = select(m.code < 0.5, co.uptake_li, select(m.code < 1.5, co.uptake_na, co.uptake_k))
    uptake = 1.0e-3 * coating.mass * uptake_specific
    return q, per_capacity, excess_capacity, coated, coating, uptake, usable


@register_jitable(inline="always", error_model="numpy")
def cycling(p, k, uncertain, energy_only=False):
    """The lifetime half of the chain: CE surrogate, inventory after formation, cycle life, critical current.

    :func:`chain_outputs` is ``outputs_from_cycling(p, k, cycling(p, k, ...))``. This
    half depends on the chemistry and the cycling conditions only
    (:data:`CYCLING_INPUTS`), not on the collectors, separator, porosity,
    electrolyte amount or cell format, so the sweep kernel evaluates it once
    per distinct combination of those inputs in a block and the rest of the
    chain once per design.

    With ``energy_only`` there is no CE surrogate: no formation loss, and
    CE, cycle life and the critical current are NaN.
    """
    return _cycling(p, k, uncertain, energy_only, False)


@register_jitable(inline="always", error_model="numpy")
def _cycling(p, k, uncertain, energy_only, series_only):
    """:func:`cycling`; with ``series_only``, cycle lives by the short series alone.

    The sweep kernel's speed variant (see ``dse.models.lifetime._cycle_life``):
    it passes ``series_only`` for a tile and evaluates the tile again without
    it unless ``series`` holds for every design.
    """
    d, c, e = p.design, p.cathode, p.electrolyte
    q, per_capacity, excess_capacity, coated, coating, uptake, usable = _cycled(p)
    nan = np.nan
    if energy_only:
        ce = nan + 0.0 * q
        inv = initial_inventory(
            d.cathode_loading,
            c.first_cycle_efficiency,
            d.prelithiation,
            excess_capacity,
            uptake,
            k.coating_trapped_fraction,
            0.0 * q,
        )
        return Cycling(
            ce,
            inv,
            Lifetime(np.minimum(q, inv.inventory), ce, ce, ce),
            ce,
            ce,
            ce,
            q,
            ce,
            ce,
            ce,
            ce,
            inv.inventory,
            0.0 * q == 0.0,
        )
    calendar = calendar_loss(
        e.corrosion_current, cycle_hours(d.depth_of_discharge, usable, d.charge_rate, d.discharge_rate), q
    )
    stranded = (1.0 - usable) * d.cathode_loading
    dv = p.derived
    features = ce_features_from_logs(
        dv.pressure_saturation,
        d.stack_pressure,
        e.min_stack_pressure,
        e.solid > 0.5,
        dv.log_charge_rate + dv.log_cathode_loading,
        d.temperature,
        e.decay_onset_temperature,
        dv.log_cathode_loading,
        d.depth_of_discharge,
        dv.log_charge_rate - dv.log_discharge_rate,
    )
    mean = log_loss_mean(p.ce.base, features, k.slopes)
    ce, inv, life = _lifetime(d, c, k, q, excess_capacity, uptake, mean, series_only, calendar, stranded)
    if uncertain:
        spread = k.quantile_z * sqrt(
            log_loss_variance(p.ce.variance, p.ce.covariance, features, k.slope_covariance, k.residual_variance)
        )
        ce_low, _, low = _lifetime(d, c, k, q, excess_capacity, uptake, mean + spread, series_only, calendar, stranded)
        ce_high, _, high = _lifetime(
            d, c, k, q, excess_capacity, uptake, mean - spread, series_only, calendar, stranded
        )
        life_low = low.cycle_life
        life_high = high.cycle_life
        series = in_series_range(ce) & in_series_range(ce_low) & in_series_range(ce_high)
    else:
        life_low = life_high = ce_low = ce_high = nan + 0.0 * q
        series = in_series_range(ce)
    ccd = p.coating.ccd_factor * critical_current_density(
        e.critical_current_density, e.ccd_activation_energy, e.ccd_pressure_scale, d.temperature, d.stack_pressure
    )
    host = np.floor(host_fade_life(c.fade_per_cycle, d.depth_of_discharge, k.end_of_life))
    return Cycling(
        ce, inv, life, life_low, life_high, ccd, q, ce_low, ce_high, host, calendar, inv.inventory - stranded, series
    )


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
    return outputs_from_cycling(p, k, cycling(p, k, uncertain, energy_only), energy_only)


@register_jitable(inline="always", error_model="numpy")
def outputs_from_cycling(p, k, cycled, energy_only=False):
    """:func:`chain_outputs` with the lifetime half already computed.

    ``cycled`` is the :class:`Cycling` of these designs, from :func:`cycling`
    with the same ``energy_only``. The sweep kernel evaluates it in a loop of
    its own, or once per point of a block's lifetime sub-grid, and reads it
    back here.
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
    se_stack = specific_energy(unit_energy, unit_mass)
    ed_stack = energy_density(unit_energy, unit_thickness)
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
    se_cell = select(is_pouch, 1000.0 * pouch.energy / cell_mass, se_stack)
    ed_cell = select(is_pouch, 1000.0 * pouch.energy / cell_volume, ed_stack)
    se_system = select(is_pouch, 1000.0 * pouch.energy / pouch.mass, se_stack)
    ed_system = select(is_pouch, 1000.0 * pouch.energy / pouch.volume, ed_stack)

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
    life_low = np.minimum(
        np.minimum(life_low, host_life),
        np.maximum(np.floor(dry_out_life(liquid, fill, consumption, (1.0 - ce_low) * q)), 1.0),
    )
    life_high = np.minimum(
        np.minimum(life_high, host_life),
        np.maximum(np.floor(dry_out_life(liquid, fill, consumption, (1.0 - ce_high) * q)), 1.0),
    )

    if energy_only:
        cost = cost_system = reason = nan + 0.0 * q
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
        # USD per kWh of the cell, or of the repeat unit for a bare stack (cost_per_energy)
        cost = cost_per_energy(
            select(is_pouch, 1.0e-3 * pouch_cost, unit_cost), select(is_pouch, pouch.energy, unit_energy)
        )
        cost_system = cost_per_energy(
            select(is_pouch, 1.0e-3 * (pouch_cost + hardware_cost), unit_cost),
            select(is_pouch, pouch.energy, unit_energy),
        )

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
                + cost / life.cycle_life
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
        select(baseline, nan, cost / cycles),
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
