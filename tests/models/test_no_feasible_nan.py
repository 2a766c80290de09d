"""No feasible NaN: every feasible design has every output it defines finite and within physical bounds.

The inputs range over their whole documented physical box (``dse.vocabulary``
bounds, edges included) and every catalogue entry; both the numpy chain and
the sweep kernel are checked, and must give the same reason codes. The bounds
are those of ``docs/feasibility.md``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dse.errors import SpecError
from dse.modelchain import ModelChain
from dse.models.chain import OUTPUT_FIELDS
from dse.models.feasibility import MAX_COST, MAX_CYCLE_LIFE, REASONS, describe_reason
from dse.models.kernel import INPUT_ORDER
from dse.vocabulary import INPUTS

BATCH = 64
CHAINS = {u: ModelChain(uncertainty=u) for u in (True, False)}
CATALOGUE = CHAINS[True].catalogue
METALS = CHAINS[True].ids["metal"]
#: outputs a design may leave undefined (NaN), and when
LIFETIME = (
    "coulombic_efficiency",
    "cycle_life",
    "cycle_life_p10",
    "cycle_life_p90",
    "knee_cycles",
    "lifetime_energy",
    "cost_per_cycle",
    "inventory_life",
    "dry_out_life",
    "cathode_life",
    "cyclable_inventory",
    "cathode_fade",
)
POUCH_ONLY = ("cell_energy", "cell_mass", "cell_volume", "cell_capacity", "layers")
#: defined for liquid electrolytes only (a solid never dries out)
LIQUID_ONLY = ("dry_out_life",)
UNCERTAIN = ("cycle_life_p10", "cycle_life_p90")
POSITIVE = (
    "specific_energy",
    "energy_density",
    "specific_energy_stack",
    "energy_density_stack",
    "capacity",
    "average_voltage",
    "inventory",
    "lifetime_energy",
    "cost",
    "cost_per_cycle",
    "current_density",
    "unit_mass",
    "unit_thickness",
    "unit_energy",
    "cycled_capacity",
    "cell_energy",
    "cell_mass",
    "cell_volume",
    "specific_energy_system",
    "energy_density_system",
    "cost_system",
    "cell_capacity",
    "layers",
    "inventory_life",
    "dry_out_life",
    "cathode_life",
)
NON_NEGATIVE = ("swelling", "plated_thickness", "formation_loss", "coating_loss", "knee_cycles", "life_limit") + tuple(
    f for f in OUTPUT_FIELDS if f.startswith(("mass_", "thickness_"))
)


def _ids_of_metal(kind: str) -> dict[str, list[str]]:
    return {m: [i for i in CATALOGUE.ids(kind) if CATALOGUE.get(kind, i).metal == m] for m in METALS}


CATHODES = _ids_of_metal("cathode")
ELECTROLYTES = _ids_of_metal("electrolyte")


def _floats(name: str):
    """Any float in the physical range of ``name``, edges included (open edges excluded)."""
    var = INPUTS[name]
    lo, hi = var.bounds
    return st.floats(lo, hi, exclude_min=var.open_bounds[0], exclude_max=var.open_bounds[1])


def _column(name: str, values: np.ndarray, metal: np.ndarray, chain: ModelChain) -> np.ndarray:
    """Codes of a categorical input: cathodes and electrolytes of the design's metal (most designs
    would otherwise fail on a metal mismatch), every entry of the other catalogues."""
    if name in ("cathode", "electrolyte"):
        by_metal = CATHODES if name == "cathode" else ELECTROLYTES
        ids = [by_metal[METALS[m]][v % len(by_metal[METALS[m]])] for m, v in zip(metal, values, strict=True)]
        return chain.codes(name, ids)
    return (values % len(chain.ids[name])).astype(np.float64)


@st.composite
def batches(draw) -> dict[str, np.ndarray]:
    """``BATCH`` designs over the whole input box, as code and value columns in kernel input order."""
    chain = CHAINS[True]
    metal = draw(hnp.arrays(np.int64, BATCH, elements=st.integers(0, len(METALS) - 1)))
    columns = {}
    for name in INPUT_ORDER:
        if INPUTS[name].categorical:
            raw = draw(hnp.arrays(np.int64, BATCH, elements=st.integers(0, 10**6)))
            columns[name] = metal.astype(np.float64) if name == "metal" else _column(name, raw, metal, chain)
        else:
            columns[name] = draw(hnp.arrays(np.float64, BATCH, elements=_floats(name)))
    return columns


def _kernel(chain: ModelChain, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every output of the sweep kernel for the designs of ``columns`` (one block, one axis)."""
    n = len(columns["metal"])
    starts = np.arange(len(INPUT_ORDER)) * n
    values = np.concatenate([columns[name] for name in INPUT_ORDER])
    out = chain.evaluate_block([n], [0] * len(INPUT_ORDER), starts, values, list(OUTPUT_FIELDS), dtype=np.float64)
    return dict(zip(OUTPUT_FIELDS, out, strict=True))


def _one(chain: ModelChain, design: dict) -> dict[str, np.ndarray]:
    """Columns of one design, the inputs it does not set at their defaults."""
    columns = {}
    for name in INPUT_ORDER:
        value = design.get(name, INPUTS[name].default)
        columns[name] = chain.codes(name, [value]) if INPUTS[name].categorical else np.array([float(value)])
    return columns


def check_feasible_outputs(chain: ModelChain, columns: dict[str, np.ndarray], out: dict[str, np.ndarray]) -> int:
    """Assert the bounds of docs/feasibility.md on every feasible design; returns how many there are.

    Every output a design defines is finite; the undefined ones are NaN:
    ``cell_*`` of a bare stack, the lifetime outputs of the graphite
    baseline, p10/p90 without uncertainty.
    """
    reason = out["infeasible_reason"]
    feasible = reason == 0
    pouch = np.asarray(
        [
            CATALOGUE.get("packaging", i).format == "pouch"
            for i in np.asarray(chain.ids["cell_format"])[columns["cell_format"].astype(int)]
        ]
    )
    baseline = np.asarray(chain.ids["anode"])[columns["anode"].astype(int)] != "none"
    solid = np.asarray(
        [
            CATALOGUE.get("electrolyte", i).state == "solid"
            for i in np.asarray(chain.ids["electrolyte"])[columns["electrolyte"].astype(int)]
        ]
    )
    for name in OUTPUT_FIELDS:
        defined = feasible.copy()
        if name in POUCH_ONLY:
            defined &= pouch
        if name in LIFETIME:
            defined &= ~baseline
        if name in LIQUID_ONLY:
            defined &= ~solid
        if name in UNCERTAIN and not chain.uncertainty:
            defined[:] = False
        v = out[name]
        bad = defined & ~np.isfinite(v)
        assert not bad.any(), (name, {k: c[bad][0] for k, c in columns.items()}, v[bad][0])
        assert np.isnan(v[feasible & ~defined]).all(), name
        if name in POSITIVE:
            assert (v[defined] > 0).all(), name
        if name in NON_NEGATIVE:
            assert (v[defined] >= 0).all(), name
    life = feasible & ~baseline
    cycles = out["cycle_life"][life]
    assert ((cycles >= 1) & (cycles <= MAX_CYCLE_LIFE) & (cycles == np.floor(cycles))).all()
    assert (out["knee_cycles"][life] <= cycles).all()
    ce = out["coulombic_efficiency"][life]
    assert ((ce >= 0) & (ce <= 1)).all()
    if chain.uncertainty:
        assert ((out["cycle_life_p10"][life] >= 1) & (out["cycle_life_p10"][life] <= cycles)).all()
        assert (out["cycle_life_p90"][life] >= cycles).all()
    assert (out["cost"][feasible] <= MAX_COST).all()
    assert (out["capacity"][feasible] <= columns["cathode_loading"][feasible]).all()
    return int(feasible.sum())


def _both_paths(chain: ModelChain, columns: dict[str, np.ndarray]) -> tuple[dict, dict]:
    ref = chain.evaluate(columns)
    out = _kernel(chain, columns)
    # the same rules: reason codes bit for bit
    np.testing.assert_array_equal(out["infeasible_reason"], ref["infeasible_reason"])
    return ref, out


@pytest.mark.parametrize("uncertainty", [True, False])
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(columns=batches())
def test_feasible_designs_have_finite_bounded_outputs(uncertainty, columns):
    chain = CHAINS[uncertainty]
    ref, out = _both_paths(chain, columns)
    check_feasible_outputs(chain, columns, ref)
    check_feasible_outputs(chain, columns, out)
    # whether p10/p90 are computed changes no design's feasibility
    other = CHAINS[not uncertainty].evaluate(columns)
    np.testing.assert_array_equal(other["infeasible_reason"], ref["infeasible_reason"])


def _uniform_box(chain: ModelChain, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` designs drawn uniformly (a quarter at each edge of an input) over the box."""
    rng = np.random.default_rng(seed)
    metal = rng.integers(0, len(METALS), n)
    columns = {}
    for name in INPUT_ORDER:
        var = INPUTS[name]
        if var.categorical:
            raw = rng.integers(0, 10**6, n)
            columns[name] = metal.astype(np.float64) if name == "metal" else _column(name, raw, metal, chain)
            continue
        lo, hi = var.bounds
        low = np.nextafter(lo, hi) if var.open_bounds[0] else lo
        high = np.nextafter(hi, lo) if var.open_bounds[1] else hi
        columns[name] = np.select(
            [rng.random(n) < 0.125, rng.random(n) < 0.125 / 0.875], [low, high], rng.uniform(low, high, n)
        )
    return columns


def test_uniform_box_has_feasible_designs_and_they_are_bounded():
    """The property over a fixed sample: it must not hold vacuously (some designs are feasible)."""
    chain = CHAINS[True]
    columns = _uniform_box(chain, 40_000, seed=4)
    ref, out = _both_paths(chain, columns)
    assert check_feasible_outputs(chain, columns, ref) >= 20
    assert check_feasible_outputs(chain, columns, out) >= 20


def test_reason_table_names_the_output_bits():
    assert describe_reason(1024 + 2048) == ["invalid_output", "implausible_output"]
    assert all(bit < 2**16 for bit in REASONS)  # stored as uint16


# -- regressions of the instances ----------------------------------------------------------


@pytest.mark.parametrize("loading", [1e-9, 0.0099])
def test_vanishing_cathode_loading_is_refused_at_the_edge_and_masked_inside(loading, tmp_path):
    from dse.spec import parse_input

    with pytest.raises(SpecError, match=r"outside the physical range \[0.01, 50\]"):
        parse_input("cathode_loading", loading, "design.cathode_loading")
    out = CHAINS[True].evaluate({"cathode_loading": loading})
    assert "invalid_input" in describe_reason(int(out["infeasible_reason"][0]))
    kernel = _kernel(CHAINS[True], _one(CHAINS[True], {"cathode_loading": loading}))
    assert kernel["infeasible_reason"][0] == out["infeasible_reason"][0]


def test_ce_of_zero_has_a_finite_life():
    """A CE capped at 0 (the surrogate's loss at the whole discharge) is a cell that dies at once, not NaN."""
    from dse.models.lifetime import cycle_life

    with np.errstate(invalid="ignore", divide="ignore"):  # (ln 0 on the way; ModelChain does the same)
        life = cycle_life(np.array([10.0, 2.0]), np.array([3.0, 3.0]), np.array([0.0, 0.0]))
    # 10 mAh/cm²: three full cycles (10 -> 7 -> 4 -> 1), then 1 < 0.8 * 3; 2 mAh/cm²: one cycle
    np.testing.assert_array_equal(life.cycle_life, [3.0, 1.0])
    np.testing.assert_array_equal(life.delivered, [9.0, 2.0])
    # a design whose p10 CE reaches 0: its p10 is a number, 1 or more
    out = CHAINS[True].evaluate({"cathode_loading": 0.05, "charge_rate": 5.0, "discharge_rate": 0.05})
    assert out["infeasible_reason"][0] == 0
    assert 1 <= out["cycle_life_p10"][0] <= out["cycle_life"][0]


@pytest.mark.parametrize("trapped", [1.0, 1.0 - 1e-12])
def test_formation_that_consumes_the_inventory_fires_no_inventory(trapped):
    """A coating that traps all but rounding of the first charge leaves no inventory."""
    chain = ModelChain(ce_overrides={"coating_trapped_fraction": trapped})
    design = {"coating": "Sb", "coating_thickness": 50.0}
    ref = chain.evaluate(design)
    assert describe_reason(int(ref["infeasible_reason"][0])) == ["no_inventory"]
    assert _kernel(chain, _one(chain, design))["infeasible_reason"][0] == ref["infeasible_reason"][0]


@pytest.mark.parametrize(
    "inputs, reason",
    [
        ({"depth_of_discharge": 1e-6}, "implausible_output"),  # a million flat cycles of nothing
        ({"cathode_active_fraction": 1e-6}, "implausible_output"),  # a cathode all binder: no energy per dollar
    ],
)
def test_absurd_finite_outputs_are_implausible(inputs, reason):
    out = CHAINS[True].evaluate(inputs)
    assert describe_reason(int(out["infeasible_reason"][0])) == [reason]


@pytest.mark.parametrize(
    "key, value",
    [
        ("residual_sd", math.nan),
        ("formation_loss_multiplier", math.inf),
        ("coating_trapped_fraction", 1.5),
        ("residual_sd", -1.0),
    ],
)
def test_ce_constants_refuse_nan_inf_and_out_of_range(key, value):
    with pytest.raises(SpecError, match=rf"^overrides\.ce\.{key}: expected a"):
        ModelChain(ce_overrides={key: value})


@pytest.mark.parametrize(
    "override",
    [
        "NMC622: {specific_capacity: .nan}",
        "NMC622: {specific_capacity: .inf}",
        "pouch: {layers: .nan}",
        "ce: {residual_sd: .nan}",
        "ce: {coating_trapped_fraction: .inf}",
    ],
)
def test_nan_overrides_are_refused_in_one_line_naming_the_key(override, tmp_path, capsys):
    from dse.cli import main

    path = tmp_path / "design.yaml"
    path.write_text(f"cathode: NMC622\noverrides: {{{override}}}\n")
    code = main(["evaluate", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "finite number" in lines[0], err
    material, prop = override.split(":")[0], override.split("{")[1].split(":")[0]
    assert f"overrides.{material}" in lines[0] and prop in lines[0], lines[0]


def test_coefficients_file_with_nan_is_refused(tmp_path):
    import yaml

    from dse.coefficients import DEFAULT_PATH, load_coefficients
    from dse.errors import CalibrationError

    data = yaml.safe_load(DEFAULT_PATH.read_text())
    data["mean"][0] = float("nan")
    path = tmp_path / "coefficients.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CalibrationError, match=r"mean\.0: Input should be a finite number"):
        load_coefficients(path)


def test_in_range_override_that_divides_by_zero_is_masked_as_invalid_output():
    """A graphite of no capacity passes the catalogue's range but leaves the baseline's energy at 0."""
    chain = ModelChain(overrides={"graphite": {"specific_capacity": 0}})
    design = {"anode": "graphite"}
    ref = chain.evaluate(design)
    assert describe_reason(int(ref["infeasible_reason"][0])) == ["invalid_output"]
    assert _kernel(chain, _one(chain, design))["infeasible_reason"][0] == ref["infeasible_reason"][0]


def test_pouch_of_no_layers_is_refused():
    from dse.errors import CatalogueError

    with pytest.raises(CatalogueError, match=r"overrides\.pouch: layers: 0\.0 is outside \[1, 1000\]"):
        ModelChain(overrides={"pouch": {"layers": 0}})
