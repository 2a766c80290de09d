"""Lifetime model: worked examples, a naive oracle, and invariants through the chain."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from dse.modelchain import ModelChain
from dse.models.lifetime import capacity_at_cycle, cycle_life, first_cycle_loss, initial_inventory
from dse.testing import examples

TIE = 1e-9  # relative distance from a threshold inside which the oracle calls a tie


# --------------------------------------------------------------------------- worked examples
def test_seed003_example_992_percent_after_80_cycles():
    # seed 003 L113: "an average CE of 99.2 % ... only 52.6 % of capacity after 80 cycles";
    # retention after n cycles = capacity of cycle n + 1 / capacity of cycle 1 = CE**n.
    # 0.992**80 = 0.52623..., so the printed 52.6 % is matched to its last digit (tolerance 5e-4).
    retention = capacity_at_cycle(81.0, 3.0, 3.0, 0.992) / 3.0
    assert retention == pytest.approx(0.526, abs=5e-4)


def test_seed004_example_999_percent_keeps_80_percent_over_200_cycles():
    # seed 004 L123: CE >= 99.9 % is needed for 80 % after 200 cycles (0.999**200 = 0.8186).
    life = cycle_life(3.0, 3.0, 0.999)
    assert capacity_at_cycle(201.0, 3.0, 3.0, 0.999) / 3.0 >= 0.8
    assert life.cycle_life >= 200
    # and 99.8 % is not enough (0.998**200 = 0.670)
    assert cycle_life(3.0, 3.0, 0.998).cycle_life < 200


@pytest.mark.parametrize(
    ("ce", "expected"),
    [
        # floor(ln 0.8 / ln CE) + 1, worked by hand:
        (0.999, 224),  # ln0.8/ln0.999 = 223.03
        (0.998, 112),  # 111.46
        (0.995, 45),  # 44.52
        (0.992, 28),  # 27.78
        (0.99, 23),  # 22.20
        (0.9999, 2232),  # 2231.32
    ],
)
def test_exact_cycles_to_80_percent_without_reservoir(ce, expected):
    assert int(cycle_life(2.0, 2.0, ce).cycle_life) == expected
    # the capacity of the last counted cycle is >= 80 %, the next one is below
    assert capacity_at_cycle(float(expected), 2.0, 2.0, ce) / 2.0 >= 0.8
    assert capacity_at_cycle(float(expected + 1), 2.0, 2.0, ce) / 2.0 < 0.8


@pytest.mark.parametrize(
    ("reservoir", "q", "ce"),
    [(1.0, 3.0, 0.999), (0.5, 2.0, 0.995), (10.0, 1.8, 0.997), (0.001, 4.0, 0.999)],
)
def test_reservoir_knee_position(reservoir, q, ce):
    life = cycle_life(q + reservoir, q, ce)
    flat = math.floor(reservoir / ((1 - ce) * q)) + 1
    assert int(life.knee) == flat
    # capacity stays at q through the knee and drops just after it
    assert capacity_at_cycle(float(flat), q + reservoir, q, ce) == pytest.approx(q, rel=1e-15)
    assert capacity_at_cycle(float(flat + 1), q + reservoir, q, ce) < q
    # after the knee the decay is geometric: the tail is the no-reservoir life of the remainder
    remaining = q + reservoir - flat * (1 - ce) * q
    tail = math.floor(math.log(0.8 * q / remaining) / math.log(ce)) + 1
    assert int(life.cycle_life) == flat + tail


def test_no_reservoir_when_inventory_below_demand():
    life = cycle_life(2.0, 3.0, 0.999)
    assert int(life.knee) == 0
    assert life.first_capacity == pytest.approx(2.0)
    assert int(life.cycle_life) == 224  # the same 224 cycles as A = q: retention is relative


# --------------------------------------------------------------------------- oracle
def simulate(inventory: float, demand: float, ce: float, end_of_life: float = 0.8, max_cycles=10**6):
    """Plain cycle-by-cycle recursion; also reports whether a threshold was a near tie.

    The inventory is updated with compensated (Kahan) subtraction: over 10^5
    cycles a naive running difference drifts by ~n·eps·A/I, which would exceed
    the 1e-9 comparison for large reservoirs.
    """
    level = inventory
    carry = 0.0
    first = min(demand, inventory)
    capacities: list[float] = []
    tie = False
    for _ in range(max_cycles):
        if abs(level - demand) <= TIE * demand:
            tie = True
        delivered = min(demand, level)
        if abs(delivered - end_of_life * first) <= TIE * first:
            tie = True
        if delivered < end_of_life * first:
            break
        capacities.append(delivered)
        step = -(1.0 - ce) * delivered - carry
        updated = level + step
        carry = (updated - level) - step
        level = updated
    else:
        raise AssertionError("oracle did not finish")
    return np.asarray(capacities), tie


@settings(max_examples=int(os.environ.get("DSE_ORACLE_EXAMPLES", examples(60))), deadline=None)
@given(
    demand=st.floats(0.1, 10.0),
    ratio=st.one_of(st.floats(0.3, 1.0), st.just(1.0), st.floats(1.0, 500.0)),
    # up to 0.25 cycle_life takes its short series; above, the general functions
    loss=st.one_of(st.floats(1e-5, 0.2), st.floats(1e-7, 1e-5), st.floats(0.2, 0.3), st.floats(0.3, 0.9)),
)
@example(demand=3.0, ratio=2.0 / 3.0, loss=0.001)  # A < q
@example(demand=3.0, ratio=1.0, loss=0.001)  # A = q
@example(demand=1.0, ratio=300.0, loss=0.01)  # huge reservoir: ~30 000 flat cycles
@example(demand=2.0, ratio=1.0, loss=1e-6)  # CE close to 1: ~223 000 cycles
@example(demand=2.0, ratio=1.5, loss=2e-6)  # CE close to 1 with a reservoir
@example(demand=2.0, ratio=3.0, loss=0.25)  # the last CE of the short series
@example(demand=2.0, ratio=3.0, loss=0.2500001)  # the first of the general functions
def test_closed_form_equals_cycle_by_cycle_simulation(demand, ratio, loss):
    inventory = ratio * demand
    ce = 1.0 - loss
    # keep the naive loop affordable: flat cycles + tail below ~4e5
    assume(max(ratio - 1.0, 0.0) / loss + 0.23 / loss < 4e5)
    capacities, tie = simulate(inventory, demand, ce)
    life = cycle_life(inventory, demand, ce)
    if tie:
        assert abs(life.cycle_life - len(capacities)) <= 1
    else:
        assert life.cycle_life == len(capacities)
    n = min(len(capacities), int(life.cycle_life))
    cycles = np.arange(1, n + 1, dtype=float)
    np.testing.assert_allclose(capacity_at_cycle(cycles, inventory, demand, ce), capacities[:n], rtol=1e-9)
    if not tie:
        np.testing.assert_allclose(life.delivered, capacities.sum(), rtol=1e-9)
    assert life.first_capacity == pytest.approx(capacities[0], rel=1e-12)


def test_capacity_before_a_very_long_knee():
    # 665 q of reservoir at 12.5 % loss: 5321 flat cycles; CE**-5320 overflows
    with np.errstate(over="ignore", invalid="ignore"):
        capacity = capacity_at_cycle(np.array([1.0, 100.0]), 666.0, 1.0, 0.875)
    np.testing.assert_allclose(capacity, 1.0)


def test_huge_reservoir_and_vectorised_inputs():
    # 1e4 mAh/cm2 over 1 mAh/cm2 at 99.99 %: 1e8 flat cycles, no overflow or precision loss
    life = cycle_life(np.array([1.0e4 + 1.0, 2.0]), np.array([1.0, 2.0]), np.array([0.9999, 0.9999]))
    assert life.knee[0] == math.floor(1.0e4 / 1.0e-4) + 1
    assert life.cycle_life[1] == 2232
    with np.errstate(divide="ignore", invalid="ignore"):
        assert np.all(np.isnan(cycle_life(np.array([0.0]), 1.0, 0.99).cycle_life))


# --------------------------------------------------------------------------- formation
def test_formation_loss_and_coating_trap_reduce_inventory():
    base = initial_inventory(3.0, 0.9, 0.0, 0.0, 0.0, 0.2, 0.0).inventory
    with_formation = initial_inventory(3.0, 0.9, 0.0, 0.0, 0.0, 0.2, first_cycle_loss(0.995, 15.0)).inventory
    with_trap = initial_inventory(3.0, 0.9, 0.0, 0.0, 0.5, 0.2, 0.0).inventory
    assert with_formation < base
    assert with_trap == pytest.approx(base - 0.2 * 0.5)


# --------------------------------------------------------------------------- chain invariants
DESIGN = {
    "metal": "Li",
    "cathode": "NMC811",
    "cathode_loading": 3.0,
    "electrolyte": "Li-dual-salt",
    "coating": "none",
    "stack_pressure": 1.0,
}


@pytest.fixture(scope="module")
def base_chain() -> ModelChain:
    return ModelChain()


def _life(chain: ModelChain, **inputs) -> np.ndarray:
    return chain.evaluate({**DESIGN, **inputs})["cycle_life"]


def test_cycle_life_rises_with_ce_through_a_base_shift(base_chain):
    coeffs = base_chain.coefficients
    lives = []
    for shift in (1.0, 0.5, 0.0, -0.5, -1.0):  # shift of ln(1 - CE) for Li/dual-salt
        mean = list(coeffs.mean)
        mean[coeffs.index("Li/dual-salt")] += shift
        chain = ModelChain(coefficients=coeffs.model_copy(update={"mean": mean}))
        lives.append(float(_life(chain)[0]))
    assert lives == sorted(lives) and lives[0] < lives[-1]


@settings(max_examples=examples(25), deadline=None)
@given(
    loading=st.floats(1.0, 8.0),
    pressure=st.floats(0.0, 3.0),
    low=st.floats(0.0, 20.0),
    high=st.floats(0.0, 20.0),
)
def test_cycle_life_rises_with_metal_excess(base_chain, loading, pressure, low, high):
    low, high = sorted((low, high))
    lives = _life(base_chain, cathode_loading=loading, stack_pressure=pressure, metal_excess=[low, high])
    assert lives[0] <= lives[1]


@settings(max_examples=examples(25), deadline=None)
@given(loading=st.floats(1.0, 8.0), low=st.floats(0.0, 0.5), high=st.floats(0.0, 0.5))
def test_cycle_life_rises_with_prelithiation(base_chain, loading, low, high):
    low, high = sorted((low, high))
    lives = _life(base_chain, cathode_loading=loading, prelithiation=[low, high])
    assert lives[0] <= lives[1]


@settings(max_examples=examples(25), deadline=None)
@given(loading=st.floats(1.0, 8.0), low=st.floats(0.3, 1.0), high=st.floats(0.3, 1.0))
def test_cycle_life_rises_as_depth_of_discharge_falls(base_chain, loading, low, high):
    low, high = sorted((low, high))
    lives = _life(base_chain, cathode_loading=loading, depth_of_discharge=[high, low])
    assert lives[0] <= lives[1]


def test_quantiles_are_ordered(base_chain):
    rng = np.random.default_rng(3)
    n = 200
    out = base_chain.evaluate(
        {
            "cathode": rng.choice(["NMC811", "NMC622", "LFP"], n),
            "cathode_loading": rng.uniform(1, 8, n),
            "electrolyte": rng.choice(["Li-dual-salt", "Li-carbonate", "Li-LHCE", "Li-LPSCl"], n),
            "coating": rng.choice(["none", "Ag", "C", "Ag-C"], n),
            "coating_thickness": rng.uniform(0, 5, n),
            "stack_pressure": rng.uniform(0, 5, n),
            "metal_excess": rng.uniform(0, 20, n),
            "depth_of_discharge": rng.uniform(0.5, 1, n),
        }
    )
    p10, p50, p90 = out["cycle_life_p10"], out["cycle_life"], out["cycle_life_p90"]
    assert np.all(p10 <= p50) and np.all(p50 <= p90)
    assert np.all(p10 < p90)


def test_formation_and_coating_trap_reduce_inventory_in_the_chain(base_chain):
    design = {**DESIGN, "coating": "Ag", "coating_thickness": 1.0}
    default = base_chain.evaluate(design)
    no_formation = ModelChain(ce_overrides={"formation_loss_multiplier": 0.0}).evaluate(design)
    no_trap = ModelChain(ce_overrides={"coating_trapped_fraction": 0.0}).evaluate(design)
    assert default["formation_loss"][0] > 0 and default["coating_loss"][0] > 0
    assert default["inventory"][0] < no_formation["inventory"][0]
    assert default["inventory"][0] < no_trap["inventory"][0]
    assert default["cycle_life"][0] <= no_formation["cycle_life"][0]
