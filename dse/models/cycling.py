"""The lifetime half of the model chain: CE surrogate, inventory after formation, cycle life, critical current.

:func:`cycling` depends only on :data:`CYCLING_INPUTS`, so the sweep kernel
evaluates it once per combination of those inputs in a block;
:func:`dse.models.chain.outputs_from_cycling` takes its :class:`Cycling` to
the cell's energy, cost and feasibility. Written, like the rest of the
chain, with arithmetic, ufuncs and :func:`~dse.models.vmath.select` only.
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
from dse.models.energy import (
    utilisation,
)
from dse.models.feasibility import critical_current_density_from
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
    cycle_hours_from,
    first_cycle_loss,
    host_fade_life,
    in_series_range,
    initial_inventory,
)
from dse.models.stack import (
    metal_thickness_per_capacity,
    solid_layer,
)
from dse.models.vmath import select, sqrt

__all__ = ["cycling", "Cycling", "CYCLING_INPUTS", "CYCLING_NESTED"]


@register_jitable(error_model="numpy")
def _lifetime(d, c, k, q, excess_capacity, uptake, log_loss, series_only, calendar_share, stranded):
    """Inventory and inventory-limited cycle life at one value of ``ln(1 - CE)``.

    The cycle loses ``(1 - CE) · q`` to plating and stripping and ``calendar_share · q``
    to corrosion, so the inventory recursion runs at the full-cell CE
    ``CE - calendar_share``. Metal the cathode cannot take back at the
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
    cell_ce = np.maximum(ce - calendar_share, 0.0)
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
    dv = p.derived
    # corrosion per cycle, as a share of the capacity cycled (calendar_loss is proportional to it)
    calendar_share = calendar_loss(
        e.corrosion_current, cycle_hours_from(d.depth_of_discharge, usable, dv.charge_hours, dv.discharge_hours), 1.0
    )
    calendar = calendar_share * q
    stranded = (1.0 - usable) * d.cathode_loading
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
    ce, inv, life = _lifetime(d, c, k, q, excess_capacity, uptake, mean, series_only, calendar_share, stranded)
    if uncertain:
        spread = k.quantile_z * sqrt(
            log_loss_variance(p.ce.variance, p.ce.covariance, features, k.slope_covariance, k.residual_variance)
        )
        ce_low, _, low = _lifetime(
            d, c, k, q, excess_capacity, uptake, mean + spread, series_only, calendar_share, stranded
        )
        ce_high, _, high = _lifetime(
            d, c, k, q, excess_capacity, uptake, mean - spread, series_only, calendar_share, stranded
        )
        life_low = low.cycle_life
        life_high = high.cycle_life
        series = in_series_range(ce) & in_series_range(ce_low) & in_series_range(ce_high)
    else:
        life_low = life_high = ce_low = ce_high = nan + 0.0 * q
        series = in_series_range(ce)
    ccd = p.coating.ccd_factor * critical_current_density_from(
        e.critical_current_density,
        e.ccd_activation_energy,
        e.ccd_pressure_scale,
        dv.arrhenius_temperature,
        d.stack_pressure,
    )
    host = np.floor(host_fade_life(c.fade_per_cycle, d.depth_of_discharge, k.end_of_life))
    return Cycling(
        ce, inv, life, life_low, life_high, ccd, q, ce_low, ce_high, host, calendar, inv.inventory - stranded, series
    )
