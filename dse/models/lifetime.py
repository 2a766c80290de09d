"""Inventory-limited cycle life of anode-free cells, in closed form.

The cathode is the only metal source (seed 003 L38, seed 002 L40). After
formation the negative side holds an inventory ``A`` [mAh/cm²]. Each cycle
the cell discharges ``d_n = min(q, I_n)`` — the demanded capacity ``q``
(depth of discharge × deliverable capacity) or what inventory is left — and
loses ``(1 - CE) · d_n`` of metal (SEI, dead metal, corrosion)::

    I_1 = A,    I_{n+1} = I_n - (1 - CE) · d_n.

While ``I_n ≥ q`` the capacity is flat at ``q`` and the reservoir ``A - q``
shrinks linearly; once it is spent, capacity decays as ``CE**n`` (with no
reservoir, retention after ``n`` cycles is ``CE**n``: seed 003 L113,
99.2 % → 52.6 % after 80 cycles; seed 004 L123, 99.9 % keeps 80 % over
200 cycles). :func:`cycle_life` solves this recursion exactly; the tests
check it against a cycle-by-cycle simulation.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba.extending import register_jitable

from dse.models.vmath import (
    exp,
    expm1,
    expm1_series,
    log,
    log1p,
    log1p_series,
    log_ratio_series,
    select,
)

__all__ = [
    "Inventory",
    "initial_inventory",
    "Lifetime",
    "cycle_life",
    "capacity_at_cycle",
    "first_cycle_loss",
    "SERIES_LOSS",
    "in_series_range",
    "LIFE_LIMITS",
    "cycle_hours",
    "cycle_hours_from",
    "rate_hours",
    "calendar_loss",
    "host_fade_life",
    "dry_out_life",
    "REFERENCE_CYCLE_HOURS",
    "DRY_OUT_TOLERANCE",
    "host_fade",
    "capacity_curve",
]

Inventory = namedtuple("Inventory", ["first_charge", "coating_loss", "formation_loss", "alloyed", "inventory"])
Inventory.__doc__ = """Formation balance [mAh/cm²]: capacity extracted on the first
charge, metal trapped in the coating, metal lost to the first SEI on the
collector, metal stored reversibly in the coating, and the inventory ``A``
available for cycling (including the pre-deposited excess)."""

Lifetime = namedtuple("Lifetime", ["first_capacity", "knee", "cycle_life", "delivered"])
Lifetime.__doc__ = """First discharge capacity [mAh/cm²], number of flat cycles
before the reservoir is spent, cycles to end of life, and the capacity
delivered over those cycles [mAh/cm²]."""


@register_jitable(error_model="numpy")
def first_cycle_loss(coulombic_efficiency, multiplier, maximum=0.5):
    """Fraction of the first plated capacity lost on a fresh collector.

    The first plating builds the SEI on bare (or coated) collector and loses
    far more than a later cycle (seed 003 L196–L198: "decreased initial
    coulombic efficiency (ICE) caused by the inevitable SEI formation"). It is
    modelled as ``multiplier · (1 - CE)``, capped at ``maximum``.

    >>> round(float(first_cycle_loss(0.995, 15.0)), 3)
    0.075
    """
    return np.minimum(multiplier * (1.0 - coulombic_efficiency), maximum)


@register_jitable(error_model="numpy")
def initial_inventory(
    cathode_loading,
    first_cycle_efficiency,
    prelithiation,
    metal_excess_capacity,
    coating_uptake,
    coating_trapped_fraction,
    formation_loss_fraction,
):
    """Metal inventory after formation (DESIGN.md §4, seed 001 Table 3).

    The first charge extracts ``Q / η_c`` from the cathode (its first-cycle
    inefficiency leaves that extra metal on the anode, seed 003 L213) plus
    ``prelithiation · Q`` from sacrificial additives. The coating alloys first
    (``min(uptake, first charge)``; N/P of seed 001 Table 3 is
    ``uptake / Q``); a fraction of that stays trapped. The rest plates on the
    collector and loses ``formation_loss_fraction`` to the first SEI. A
    pre-deposited reservoir adds ``metal_excess_capacity``.

    Parameters
    ----------
    cathode_loading : array_like
        Reversible cathode capacity ``Q`` [mAh/cm²].
    first_cycle_efficiency : array_like
        Cathode first-cycle efficiency ``η_c`` [-].
    prelithiation : array_like
        Extra first-charge capacity as a fraction of ``Q`` [-].
    metal_excess_capacity : array_like
        Capacity of pre-deposited metal [mAh/cm²].
    coating_uptake : array_like
        Metal the coating can alloy with [mAh/cm²].
    coating_trapped_fraction : array_like
        Fraction of the alloyed metal never released [-].
    formation_loss_fraction : array_like
        Fraction of the first plated capacity lost [-].

    Returns
    -------
    Inventory

    Examples
    --------
    >>> inv = initial_inventory(3.0, 0.9, 0.0, 0.0, 0.0, 0.2, 0.05)
    >>> round(float(inv.inventory), 4)
    3.1667
    """
    first_charge = cathode_loading / first_cycle_efficiency + prelithiation * cathode_loading
    alloyed_total = np.minimum(coating_uptake, first_charge)
    coating_loss = coating_trapped_fraction * alloyed_total
    formation_loss = formation_loss_fraction * (first_charge - alloyed_total)
    inventory = first_charge - coating_loss - formation_loss + metal_excess_capacity
    return Inventory(first_charge, coating_loss, formation_loss, alloyed_total - coating_loss, inventory)


#: largest ``1 - CE`` for which :func:`cycle_life` takes its logarithms and the
#: tail's power by short series (``dse.models.vmath.log1p_series`` and
#: friends): then ``ln CE``, ``ln(I / d_1)`` and the fractional power are all
#: within ``ln 0.75 = -0.288`` of zero, inside the series' ranges
SERIES_LOSS = 0.25


@register_jitable(error_model="numpy")
def in_series_range(coulombic_efficiency):
    """Whether :func:`cycle_life` evaluates this CE by its short series (``1 - CE <= SERIES_LOSS``)."""
    return np.maximum(1.0 - coulombic_efficiency, 1.0e-12) <= SERIES_LOSS


@register_jitable(error_model="numpy")
def cycle_life(inventory, cycled_capacity, coulombic_efficiency, end_of_life=0.8):
    """Cycles until the discharge capacity falls below ``end_of_life`` of the first.

    Exact solution of the recursion in the module docstring. With
    ``loss = 1 - CE``, ``K = floor((A - q) / (loss · q)) + 1`` flat cycles
    (0 when ``A < q``), inventory ``I = A - K · loss · q`` after them, and
    ``d_1 = min(q, A)``; the cycle life is
    ``K + floor(ln(eol · d_1 / I) / ln CE) + 1`` when ``I ≥ eol · d_1``,
    else ``K``. Delivered capacity sums ``K · q`` and the geometric tail.

    For ``CE >= 1 - SERIES_LOSS`` (every cell worth cycling) the logarithms
    are short series: ``ln(eol · d_1 / I) = ln eol + ln(d_1 / I)`` with
    ``d_1 / I`` within ``1 / CE`` of 1, and the tail's last power is
    ``I · CE**n = eol · d_1 · CE**(n - x)``, where ``x`` is the real-valued
    solution and ``n = floor(x) + 1``, so ``0 < n - x <= 1``. Below that,
    general logarithms and exponentials.

    Parameters
    ----------
    inventory : array_like
        ``A`` [mAh/cm²].
    cycled_capacity : array_like
        ``q`` demanded per cycle [mAh/cm²].
    coulombic_efficiency : array_like
        Average CE [-], in [0, 1); 0 (a loss of the whole discharge) lives through its reservoir plus one cycle.
    end_of_life : float, default 0.8
        Retention that ends life [-].

    Returns
    -------
    Lifetime

    Examples
    --------
    No reservoir: 99.9 % keeps ≥ 80 % for 224 cycles (0.999**223 = 0.8002):

    >>> life = cycle_life(3.0, 3.0, 0.999)
    >>> int(life.cycle_life), int(life.knee)
    (224, 1)

    A 1 mAh/cm² reservoir adds 1 / (0.001 · 3) ≈ 333 flat cycles:

    >>> int(cycle_life(4.0, 3.0, 0.999).cycle_life)
    557
    """
    return _cycle_life(inventory, cycled_capacity, coulombic_efficiency, end_of_life, False)


@register_jitable(error_model="numpy")
def _cycle_life(inventory, cycled_capacity, coulombic_efficiency, end_of_life, series_only):
    """:func:`cycle_life`; with ``series_only``, by the short series alone.

    A speed variant for the sweep kernel, which checks :func:`in_series_range`
    for every design of a tile and evaluates the tile again without
    ``series_only`` when one is out of range. Results are the same bits
    either way.
    """
    loss = np.maximum(1.0 - coulombic_efficiency, 1.0e-12)
    q = cycled_capacity
    has_reservoir = inventory >= q
    knee = select(has_reservoir, np.floor((inventory - q) / (loss * q)) + 1.0, 0.0)
    remaining = inventory - knee * loss * q
    first = np.minimum(q, inventory)
    threshold = end_of_life * first
    alive = remaining >= threshold
    # short series: ln(threshold / remaining), ln CE, and
    # remaining · CE**tail = threshold · CE**(tail - exact count)
    log_ratio = log(end_of_life) + log_ratio_series(first, remaining)
    log_ce = log1p_series(-loss)
    tail = np.floor(log_ratio / log_ce) + 1.0
    decayed = remaining - threshold * (1.0 + expm1_series(tail * log_ce - log_ratio))
    if not series_only:
        general_log_ce = log1p(-loss)
        general_tail = np.floor(log(threshold / select(remaining > 0.0, remaining, 1.0)) / general_log_ce) + 1.0
        series = in_series_range(coulombic_efficiency)
        decayed = select(series, decayed, -remaining * expm1(general_tail * general_log_ce))
        tail = select(series, tail, general_tail)
    tail = select(alive, tail, 0.0)
    delivered = knee * q + select(alive, decayed / loss, 0.0)
    # CE = 0 (a loss of the whole discharge each cycle, where the surrogate is capped) is a
    # cell that dies in its first cycles, not an undefined one: ln CE = -inf gives a tail
    # of one cycle and the closed form stays exact
    valid = (inventory > 0.0) & (q > 0.0) & (coulombic_efficiency >= 0.0)
    nan = np.nan
    return Lifetime(
        select(valid, first, nan),
        select(valid, knee, nan),
        select(valid, knee + tail, nan),
        select(valid, delivered, nan),
    )


@register_jitable(error_model="numpy")
def capacity_at_cycle(cycle, inventory, cycled_capacity, coulombic_efficiency):
    """Discharge capacity of cycle ``cycle`` (1-based) [mAh/cm²].

    Examples
    --------
    >>> round(float(capacity_at_cycle(81, 3.0, 3.0, 0.992) / 3.0), 3)   # seed 003 L113
    0.526
    """
    loss = np.maximum(1.0 - coulombic_efficiency, 1.0e-12)
    q = cycled_capacity
    knee = select(inventory >= q, np.floor((inventory - q) / (loss * q)) + 1.0, 0.0)
    remaining = inventory - knee * loss * q
    decayed = remaining * exp(np.maximum(cycle - knee - 1.0, 0.0) * log1p(-loss))
    return select(cycle <= knee, q + 0.0 * decayed, decayed)


#: what ended a design's life (output ``life_limit``): code → (name, meaning)
LIFE_LIMITS = {
    0: ("none", "no cycle life (an infeasible design, or the energy model alone)"),
    1: ("inventory", "the metal inventory ran out, lost mostly to plating and stripping (1 - CE)"),
    2: ("corrosion", "the metal inventory ran out, lost mostly to corrosion during the cycle's hours"),
    3: ("dry_out", "the liquid electrolyte was consumed below what the pores need"),
    4: ("cathode", "the cathode (host) faded to the end-of-life capacity first"),
}
#: hours of one cycle at the reference condition of the CE surrogate (1 mA/cm² on
#: 3 mAh/cm², full depth, equal rates: 3 h charge + 3 h discharge); the corrosion a
#: measured CE already holds, so only the hours beyond it add a calendar loss
REFERENCE_CYCLE_HOURS = 6.0
#: deposit over which the catalogue's corrosion currents are stated [mAh/cm²]: the
#: reference areal capacity of the CE surrogate
REFERENCE_DEPOSIT = 3.0
#: share of the pore electrolyte a cell can lose before its impedance ends life: it dries
#: out when its electrolyte falls below ``(1 - DRY_OUT_TOLERANCE)`` of what the pores hold
DRY_OUT_TOLERANCE = 0.2


@register_jitable(error_model="numpy")
def rate_hours(rate):
    """Hours of a full charge or discharge at ``rate`` [1/h]: ``1 / rate``.

    A derived input of the chain (``dse.models.fields.DERIVED``): the sweep
    kernel divides once per value of the rate, not once per design.

    >>> float(rate_hours(0.2))
    5.0
    """
    return 1.0 / rate


@register_jitable(error_model="numpy")
def cycle_hours(depth_of_discharge, utilisation, charge_rate, discharge_rate):
    """Hours of one cycle: ``DoD · u · (1 / charge_rate + 1 / discharge_rate)``.

    >>> float(cycle_hours(1.0, 1.0, 0.2, 0.5))
    7.0
    """
    return cycle_hours_from(depth_of_discharge, utilisation, rate_hours(charge_rate), rate_hours(discharge_rate))


@register_jitable(error_model="numpy")
def cycle_hours_from(depth_of_discharge, utilisation, charge_hours, discharge_hours):
    """:func:`cycle_hours` from the :func:`rate_hours` of charge and discharge.

    >>> float(cycle_hours_from(1.0, 1.0, 5.0, 2.0))
    7.0
    """
    return depth_of_discharge * utilisation * (charge_hours + discharge_hours)


@register_jitable(error_model="numpy")
def calendar_loss(corrosion_current, hours, cycled_capacity):
    """Metal lost to corrosion per cycle beyond what a measured CE holds [mAh/cm²].

    Plated metal corrodes in a liquid electrolyte whether or not current flows
    (chemical SEI growth and galvanic corrosion at the collector, seed 001
    L127 f–g, L170). Corrosion proceeds over the deposit's surface, which
    grows with the amount plated (Boyle et al., Nat. Energy 6 (2021) 487), so
    the rate is ``i_corr`` per :data:`REFERENCE_DEPOSIT` of metal cycled. A
    measured CE includes the corrosion of its own cycle; a cycle longer than
    :data:`REFERENCE_CYCLE_HOURS` loses
    ``i_corr · (q / 3 mAh/cm²) · (hours - 6 h)`` more, so slow protocols lose
    more per cycle.

    Parameters
    ----------
    corrosion_current : array_like
        [µA/cm²] over a deposit of 3 mAh/cm².
    hours : array_like
        Hours of one cycle (:func:`cycle_hours`).
    cycled_capacity : array_like
        Metal plated and stripped per cycle [mAh/cm²].

    Examples
    --------
    C/20 both ways (40 h) at 1 µA/cm² on 3 mAh/cm² loses 0.034 mAh/cm² more per cycle:

    >>> round(float(calendar_loss(1.0, 40.0, 3.0)), 3)
    0.034
    """
    return (
        (1.0e-3 / REFERENCE_DEPOSIT)
        * corrosion_current
        * cycled_capacity
        * np.maximum(hours - REFERENCE_CYCLE_HOURS, 0.0)
    )


#: the largest fade per cycle whose ``ln(1 - f)`` the short series gives exactly (``vmath.log1p_series``)
SERIES_MAX_FADE = 0.29


@register_jitable(error_model="numpy")
def host_fade(fade_per_cycle, depth_of_discharge):
    """Capacity the cathode loses per cycle of depth ``DoD``: ``f · DoD`` (at most 0.5).

    >>> round(float(host_fade(1.0e-4, 0.5)), 6)
    5e-05
    """
    return np.minimum(fade_per_cycle * depth_of_discharge, 0.5)


@register_jitable(error_model="numpy")
def host_fade_life(fade_per_cycle, depth_of_discharge, end_of_life=0.8):
    """Cycles until the cathode alone fades to ``end_of_life`` of its capacity.

    The host loses ``f · DoD`` of its capacity per cycle (``f`` per full-depth
    cycle at its catalogue cut-off; a partial cycle strains the lattice
    proportionally less), so ``N = ln(eol) / ln(1 - f · DoD)`` (infinite for
    ``f = 0``). No cell outlives its cathode.

    >>> round(float(host_fade_life(1.0e-4, 1.0)))
    2231
    """
    fade = host_fade(fade_per_cycle, depth_of_discharge)
    # ln(1 - f) by the short series, exact to a few ulp for f <= 0.29; the catalogue bounds f at 0.1 per
    # full cycle (dse.materials.schema), so the clamp never acts on a catalogue cathode. (A host that does
    # not fade lives forever: inf, whatever the sign of the zero ln(1 - 0) gives.)
    log_kept = log1p_series(-np.minimum(select(fade > 0.0, fade, 0.5), SERIES_MAX_FADE))
    return select(fade > 0.0, log(end_of_life) / log_kept, np.inf)


@register_jitable(error_model="numpy")
def dry_out_life(liquid, pore_need, consumption, lost_per_cycle):
    """Cycles until the liquid electrolyte falls below what the pores need.

    Every mAh of metal lost builds SEI and dead metal from the electrolyte:
    ``consumption`` g/Ah (= mg/mAh). The cell dries out once the electrolyte
    has fallen to ``(1 - DRY_OUT_TOLERANCE)`` of the pore fill, so
    ``N = (liquid - (1 - tol) · pore_need) / (consumption · lost_per_cycle)``.
    A lean cell dries out early, and metal beyond what its electrolyte can
    turn over adds no life. Solid electrolytes (``consumption = 0``) never
    dry out (infinite).

    Parameters
    ----------
    liquid, pore_need : array_like
        Liquid electrolyte in the cell and what its pores hold [mg/cm²].
    consumption : array_like
        [g/Ah]
    lost_per_cycle : array_like
        Metal lost per cycle [mAh/cm²].

    Examples
    --------
    8 mg/cm² of electrolyte, 6 mg/cm² of pores, 2.5 g/Ah, 0.01 mAh/cm² per cycle:

    >>> round(float(dry_out_life(8.0, 6.0, 2.5, 0.01)))
    128
    """
    budget = np.maximum(liquid - (1.0 - DRY_OUT_TOLERANCE) * pore_need, 0.0)
    rate = consumption * lost_per_cycle
    # (nothing consumed: finite + inf. Not a select of the quotient: LLVM turns that into a
    # branch when it compiles this function, and the sweep kernel's loop around it would
    # then not vectorize, docs/performance.md)
    return budget / np.maximum(rate, 1.0e-300) + select(rate > 0.0, 0.0, np.inf)


@register_jitable(error_model="numpy")
def capacity_curve(cycle, inventory, cycled_capacity, coulombic_efficiency, fade, dry_out):
    """Discharge capacity of cycle ``cycle`` with every mechanism [mAh/cm²].

    The smaller of the inventory-limited capacity (:func:`capacity_at_cycle`
    on the inventory that cycles, at the full-cell CE) and what the cathode
    still holds (``q · (1 - fade)**(cycle - 1)``), until the electrolyte has
    dried out (cycle ``dry_out``), 0 after. Each mechanism is taken as if
    alone; the first to reach the end-of-life retention ends life.

    >>> round(float(capacity_curve(301, 3.0, 3.0, 0.9995, 1.0e-3, 1.0e9) / 3.0), 3)
    0.741
    """
    by_inventory = capacity_at_cycle(cycle, inventory, cycled_capacity, coulombic_efficiency)
    by_host = cycled_capacity * exp(np.maximum(cycle - 1.0, 0.0) * log1p(-fade))
    return select(cycle <= dry_out, np.minimum(by_inventory, by_host), 0.0)
