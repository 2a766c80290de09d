"""The fused numba kernel gives the same numbers as the array path."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dse.modelchain import ModelChain
from dse.models import chain as physics
from dse.models.chain import OUTPUT_FIELDS
from dse.models.kernel import INPUT_ORDER
from dse.testing import examples
from dse.vocabulary import INPUTS
from tests.conftest import ROOT


def _random_designs(chain: ModelChain, n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = {}
    for name in INPUT_ORDER:
        var = INPUTS[name]
        if var.categorical:
            d[name] = rng.integers(0, len(chain.ids[name]), n).astype(float)
        else:
            lo, hi = var.typical or var.bounds
            d[name] = rng.uniform(lo, hi, n)
    # a few invalid values must be masked, not crash
    d["cathode_porosity"][:3] = [1.2, -0.1, np.nan]
    return d


@pytest.mark.parametrize("uncertainty", [True, False])
def test_kernel_matches_array_path_on_random_designs(uncertainty):
    chain = ModelChain(uncertainty=uncertainty)
    d = _random_designs(chain, 4000, seed=1)
    ref = chain.evaluate(d)
    axis_of = [0] * len(INPUT_ORDER)
    starts = np.cumsum([0] + [4000] * (len(INPUT_ORDER) - 1))
    values = np.concatenate([d[name] for name in INPUT_ORDER])
    out = chain.evaluate_block([4000], axis_of, starts, values, list(OUTPUT_FIELDS), dtype=np.float64)
    for j, name in enumerate(OUTPUT_FIELDS):
        # identical formulas; libm vs numpy exp/log may differ in the last bit
        np.testing.assert_allclose(out[j], ref[name], rtol=1e-11, atol=1e-12, equal_nan=True, err_msg=name)
    assert np.all(out[OUTPUT_FIELDS.index("infeasible_reason")][:3].astype(int) & 512)


def _grid_block(chain: ModelChain, axes: dict):
    """Block arguments for a grid over ``axes`` (values, or category names), other inputs at their default."""
    names = list(axes)
    axis_of, starts, parts, off = [], [], [], 0
    for name in INPUT_ORDER:
        var = INPUTS[name]
        v = axes.get(name, [var.default])
        v = chain.codes(name, v) if var.categorical else np.asarray(v, float)
        axis_of.append(names.index(name) if name in axes else -1)
        starts.append(off)
        parts.append(np.asarray(v, float))
        off += len(v)
    shape = [len(axes[n]) for n in names]
    return shape, axis_of, starts, np.concatenate(parts)


def test_kernel_grid_enumerates_in_c_order():
    chain = ModelChain()
    # (loading, pressure and the rates also carry the derived inputs, their logs, along their axes)
    axes = {
        "cathode_loading": np.array([2.0, 4.0, 6.0]),
        "current_collector_thickness": np.array([4.0, 8.0]),
        "stack_pressure": np.array([0.0, 0.5, 1.0, 2.0]),
        "discharge_rate": np.array([0.5, 2.0]),
        "charge_rate": np.array([0.1, 0.3, 1.0]),
    }
    outputs = ["specific_energy", "coulombic_efficiency", "cycle_life"]
    out = chain.evaluate_block(*_grid_block(chain, axes), outputs, dtype=np.float64)
    grid = np.meshgrid(*axes.values(), indexing="ij")
    ref = chain.evaluate({n: g.ravel() for n, g in zip(axes, grid, strict=True)})
    assert np.unique(ref["coulombic_efficiency"]).size == 3 * 4 * 2 * 3  # CE varies along every axis but the collector
    for row, name in zip(out, outputs, strict=True):
        np.testing.assert_allclose(row, ref[name], rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("varying", ["electrolyte", "coating", "metal"])
def test_kernel_refreshes_varying_categories_in_every_tile(varying):
    """Over many tiles, rows of fixed inputs are written once and rows of varying ones every tile."""
    chain = ModelChain()
    axes = {
        varying: list(chain.ids[varying]),
        "cathode_loading": np.linspace(1.0, 8.0, 97),
        "stack_pressure": np.array([0.0, 1.0, 3.0]),
    }
    shape, axis_of, starts, values = _grid_block(chain, axes)
    assert np.prod(shape) > 3 * 256  # several tiles, the last one short
    out = chain.evaluate_block(shape, axis_of, starts, values, list(OUTPUT_FIELDS), dtype=np.float64)
    grid = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    inputs = {n: np.asarray(axes[n])[g.ravel()] for n, g in zip(axes, grid, strict=True)}
    ref = chain.evaluate(inputs)
    for j, name in enumerate(OUTPUT_FIELDS):
        np.testing.assert_allclose(out[j], ref[name], rtol=1e-11, atol=1e-12, equal_nan=True, err_msg=name)


def test_energy_only_kernel_matches_the_array_path_and_drops_the_ce_model():
    """The energy-only baseline of benchmarks/lifetime_overhead.py: same kernel, CE model and its outputs off."""

    chain = ModelChain(uncertainty=False)
    d = _random_designs(chain, 1000, seed=2)
    axis_of = [0] * len(INPUT_ORDER)
    starts = np.cumsum([0] + [1000] * (len(INPUT_ORDER) - 1))
    values = np.concatenate([d[name] for name in INPUT_ORDER])
    out = chain.evaluate_block([1000], axis_of, starts, values, list(OUTPUT_FIELDS), dtype=np.float64, energy_only=True)
    with np.errstate(all="ignore"):
        ref = physics.chain_outputs(chain.parameters(d), chain.constants, energy_only=True)._asdict()
    full = chain.evaluate(d)
    for j, name in enumerate(OUTPUT_FIELDS):
        np.testing.assert_allclose(out[j], ref[name], rtol=1e-11, atol=1e-12, equal_nan=True, err_msg=name)
    row = dict(zip(OUTPUT_FIELDS, out, strict=True))
    for name in ("coulombic_efficiency", "cycle_life", "cost", "infeasible_reason"):
        assert np.isnan(row[name]).all(), name
    # without a formation loss the inventory can only be larger than the full chain's
    ok = np.isfinite(full["inventory"]) & np.isfinite(row["inventory"])
    assert ok.sum() > 900
    assert np.all(row["inventory"][ok] >= full["inventory"][ok])
    assert np.any(row["inventory"][ok] > full["inventory"][ok])


def test_kernel_writes_into_a_given_output_array_and_rejects_a_wrong_one():
    """Sweeps evaluate block after block into one array: the second block must not see the first."""
    chain = ModelChain()
    outputs = ["specific_energy", "cycle_life", "infeasible_reason"]
    first = _grid_block(chain, {"cathode_loading": np.linspace(1.0, 8.0, 300)})
    second = _grid_block(chain, {"cathode_loading": np.linspace(2.0, 9.0, 300), "metal": ["Na"]})
    out = np.full((3, 300), np.nan, np.float32)
    assert chain.evaluate_block(*first, outputs, out=out) is out
    np.testing.assert_array_equal(out, chain.evaluate_block(*first, outputs))
    chain.evaluate_block(*second, outputs, out=out)
    np.testing.assert_array_equal(out, chain.evaluate_block(*second, outputs))
    for bad in (np.empty((3, 299), np.float32), np.empty((3, 300), np.float64), np.empty((300, 3), np.float32).T):
        with pytest.raises(ValueError, match="out must be a C-contiguous float32 array of shape"):
            chain.evaluate_block(*first, outputs, out=bad)


def _flat(cycled) -> list[np.ndarray]:
    ce, inv, life, *rest = cycled
    return [ce, *inv, *life, *rest]


@pytest.mark.parametrize("seed", [3, 4])
def test_lifetime_half_depends_on_the_cycling_inputs_only(seed):
    """The kernel evaluates the lifetime half once per combination of CYCLING_INPUTS in a block.

    That is only right if no other input changes what it computes: redraw each
    of the others in turn and the lifetime half must give the same bits.
    """

    chain = ModelChain(uncertainty=True)
    d = _random_designs(chain, 2000, seed=seed)
    redrawn = _random_designs(chain, 2000, seed=seed + 100)
    with np.errstate(all="ignore"):
        ref = _flat(physics.cycling(chain.parameters(d), chain.constants, True))
        others = [name for name in INPUT_ORDER if name not in physics.CYCLING_INPUTS]
        assert {"current_collector_thickness", "separator_thickness", "cell_format", "anode"} <= set(others)
        for name in others:
            got = _flat(physics.cycling(chain.parameters({**d, name: redrawn[name]}), chain.constants, True))
            for a, b in zip(ref, got, strict=True):
                np.testing.assert_array_equal(a, b, err_msg=name)
        # and each cycling input does change it somewhere (the list is not padded)
        for name in physics.CYCLING_INPUTS:
            got = _flat(physics.cycling(chain.parameters({**d, name: redrawn[name]}), chain.constants, True))
            assert any(not np.array_equal(a, b, equal_nan=True) for a, b in zip(ref, got, strict=True)), name


@pytest.mark.parametrize("uncertainty", [True, False])
def test_kernel_lifetime_sub_grid_matches_the_array_path(uncertainty):
    """Axes that only the rest of the chain reads, slowest, in between and fastest.

    The lifetime half is evaluated on the 37 × 3 loading × pressure sub-grid
    and looked up for 33,300 designs; tiles repeat sub-grid points (fastest
    axis of 50 collectors) and change them mid-tile.
    """
    chain = ModelChain(uncertainty=uncertainty)
    axes = {
        "separator_thickness": np.array([10.0, 20.0, 30.0]),
        "cathode_loading": np.linspace(1.0, 8.0, 37),
        "cell_format": ["pouch", "stack"],
        "stack_pressure": np.array([0.0, 1.0, 3.0]),
        "current_collector_thickness": np.linspace(4.0, 12.0, 50),
        # electrolyte beyond the pores, so that the inventory (a lifetime-half result) ends life
        "electrolyte_amount": np.array([4.0]),
    }
    shape, axis_of, starts, values = _grid_block(chain, axes)
    out = chain.evaluate_block(shape, axis_of, starts, values, list(OUTPUT_FIELDS), dtype=np.float64)
    grid = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    ref = chain.evaluate({n: np.asarray(axes[n])[g.ravel()] for n, g in zip(axes, grid, strict=True)})
    # (the lifetime half's results vary over the sub-grid: the comparison below is not vacuous)
    assert np.unique(ref["inventory"]).size > 50 and np.unique(ref["cycle_life"]).size > 5
    for j, name in enumerate(OUTPUT_FIELDS):
        np.testing.assert_allclose(out[j], ref[name], rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=name)


def test_kernel_sub_grid_and_per_design_lifetime_give_the_same_bits(monkeypatch):
    """Without room for the sub-grid (or with too few repeats) every design runs both halves: same numbers."""
    from dse.models import kernel

    chain = ModelChain(uncertainty=True)
    axes = {
        "cathode_loading": np.linspace(1.0, 8.0, 29),
        "separator_thickness": np.array([8.0, 16.0, 25.0]),
        "temperature": np.array([0.0, 25.0, 60.0]),
        "cathode_porosity": np.linspace(0.2, 0.4, 11),
    }
    block = _grid_block(chain, axes)
    sub_grid = chain.evaluate_block(*block, list(OUTPUT_FIELDS), dtype=np.float64)
    monkeypatch.setattr(kernel, "_SUB_GRID_BYTES", 0)
    per_design = chain.evaluate_block(*block, list(OUTPUT_FIELDS), dtype=np.float64)
    np.testing.assert_array_equal(sub_grid, per_design)


_AXIS_CHOICES = {
    "cathode_loading": (1.0, 9.0),
    "current_collector_thickness": (2.0, 15.0),
    "stack_pressure": (0.0, 4.0),
    "separator_thickness": (5.0, 30.0),
    "temperature": (-10.0, 70.0),
    "cathode_porosity": (0.15, 0.45),
    "charge_rate": (0.1, 2.0),
}


@settings(max_examples=examples(30), deadline=None)
@given(data=st.data())
def test_kernel_matches_the_array_path_on_any_grid(data):
    """Random axes, sizes and order: tiles see slow and fast axes change at every offset within a tile,
    categorical axes refresh their property rows, and the lifetime sub-grid is used or not."""
    chain = ModelChain(uncertainty=data.draw(st.booleans(), label="uncertainty"))
    names = data.draw(
        st.lists(
            st.sampled_from(sorted(_AXIS_CHOICES) + ["electrolyte", "cell_format"]), min_size=1, max_size=4, unique=True
        ),
        label="axes",
    )
    axes = {}
    for name in names:
        size = data.draw(st.integers(1, 70 if len(names) < 3 else 9), label=f"size of {name}")
        if name in _AXIS_CHOICES:
            axes[name] = np.linspace(*_AXIS_CHOICES[name], size)
        else:
            ids = list(chain.ids[name])
            axes[name] = [ids[j % len(ids)] for j in range(size)]
    shape, axis_of, starts, values = _grid_block(chain, axes)
    out = chain.evaluate_block(shape, axis_of, starts, values, list(OUTPUT_FIELDS), dtype=np.float64)
    grid = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    with np.errstate(all="ignore"):
        ref = chain.evaluate({n: np.asarray(axes[n])[g.ravel()] for n, g in zip(axes, grid, strict=True)})
    for j, name in enumerate(OUTPUT_FIELDS):
        np.testing.assert_allclose(out[j], ref[name], rtol=1e-11, atol=1e-12, equal_nan=True, err_msg=name)


def _low_ce_chain(uncertainty: bool) -> ModelChain:
    """A chain whose every other (electrolyte, coating) pair loses 245× more metal per cycle.

    With the shipped coefficients CE stayed above 0.98 in 4,000 random designs
    over the whole input bounds; with ln(1 - CE) raised by 5.5, about a tenth
    of random designs fall below CE = 0.75, where ``cycle_life`` leaves its
    short series for the general functions, and every tile of 64 has some.
    """
    chain = ModelChain(uncertainty=uncertainty)
    chain.ce_table = chain.ce_table.copy()
    chain.ce_table[::2, 0] += 5.5
    return chain


def _sampled_block(d: dict, n: int):
    starts = np.cumsum([0] + [n] * (len(INPUT_ORDER) - 1))
    return [n], [0] * len(INPUT_ORDER), starts, np.concatenate([d[name] for name in INPUT_ORDER])


@pytest.mark.parametrize("uncertainty", [True, False])
def test_kernel_matches_the_array_path_where_ce_is_low(uncertainty):
    chain = _low_ce_chain(uncertainty)
    d = _random_designs(chain, 4000, seed=5)
    ref = chain.evaluate(d)
    low = np.flatnonzero(ref["coulombic_efficiency"] < 0.75)
    assert low.size > 200 and np.unique(low // 64).size > 40
    out = chain.evaluate_block(*_sampled_block(d, 4000), list(OUTPUT_FIELDS), dtype=np.float64)
    for j, name in enumerate(OUTPUT_FIELDS):
        np.testing.assert_allclose(out[j], ref[name], rtol=1e-11, atol=1e-12, equal_nan=True, err_msg=name)


def test_designs_get_the_same_bits_whether_or_not_their_tile_needs_the_general_functions():
    """The kernel takes a tile's cycle lives by short series alone unless some design there has CE < 0.75.

    Designs with a high CE are evaluated among low-CE neighbours (tiles that
    re-run with the general functions), then on their own (tiles that never
    do): each must get the same bits.
    """
    chain = _low_ce_chain(uncertainty=True)
    d = _random_designs(chain, 4000, seed=6)
    mixed = chain.evaluate_block(*_sampled_block(d, 4000), list(OUTPUT_FIELDS), dtype=np.float64)
    # designs whose CE, p10 and p90 CE are all in the short series' range
    with np.errstate(all="ignore"):
        series = physics.cycling(chain.parameters(d), chain.constants, True).series
    high = np.flatnonzero(series)
    assert high.size > 500 and np.unique(high // 64).size > 40
    assert np.all(np.bincount(np.arange(4000) // 64, weights=~series) > 0)  # every tile re-runs
    alone = chain.evaluate_block(
        *_sampled_block({k: v[high] for k, v in d.items()}, high.size), list(OUTPUT_FIELDS), dtype=np.float64
    )
    np.testing.assert_array_equal(alone, mixed[:, high])


def test_generated_row_io_is_current():
    """dse/models/_kernel_io.py is what tools/build_kernel_io.py writes from the declared groups and outputs."""
    spec = importlib.util.spec_from_file_location("build_kernel_io", ROOT / "tools" / "build_kernel_io.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.TARGET.read_text() == build.render(), (
        "dse/models/_kernel_io.py is stale: run python tools/build_kernel_io.py"
    )


_LOOP_PROBE = r"""
import re, sys
import numpy as np
from dse.modelchain import ModelChain
from dse.models import kernel
from dse.spec import DEFAULT_OUTPUTS
from dse.vocabulary import INPUTS
chain = ModelChain(uncertainty=True)
inputs = {"cathode_loading": np.linspace(1, 10, 40), "current_collector_thickness": np.linspace(2, 12, 40)}
names = list(inputs)
axis_of, starts, parts = [], [], []
for name in kernel.INPUT_ORDER:
    value = inputs.get(name)
    if value is None:
        d = INPUTS[name].default
        value = chain.codes(name, [d]) if INPUTS[name].categorical else np.array([float(d)])
        axis_of.append(-1)
    else:
        axis_of.append(names.index(name))
    starts.append(sum(len(p) for p in parts))
    parts.append(np.asarray(value, float))
chain.evaluate_block([40, 40], axis_of, starts, np.concatenate(parts), list(DEFAULT_OUTPUTS))
(asm,) = kernel._kernel.inspect_asm().values()
lines = asm.splitlines()
labels = {m.group(1): i for i, line in enumerate(lines) if (m := re.match(r"^(\.?\w+):", line))}
for i, line in enumerate(lines):
    m = re.match(r"\s+j\w+\s+(\.?\w+)", line)
    if m and labels.get(m.group(1), i) < i:
        body = [x for x in lines[labels[m.group(1)]:i + 1] if re.match(r"\s+[a-z]", x)]
        scalar = sum(bool(re.match(r"\s+v\w+sd\s", x)) for x in body)
        packed = sum(bool(re.match(r"\s+v\w+pd\s", x)) for x in body)
        if scalar + packed >= 100 and not any("call" in x for x in body):
            print(len(body), scalar, packed)
"""


@pytest.mark.slow
def test_compute_loops_vectorize(tmp_path):
    """Every compute loop of a freshly compiled kernel runs on packed (SIMD) doubles.

    A loop that LLVM does not vectorize still gives the right numbers, 2-3x
    slower (it happened: a select of a quotient in one model function became
    a branch, docs/performance.md), so only its machine code shows it. The
    kernel is compiled in a fresh process with an empty cache, and each loop
    without calls that does 100 floating-point operations or more (the two
    halves of the chain, the series and general lifetime copies) must do most
    of them on packed doubles.
    """
    env = {**os.environ, "DSE_CACHE_DIR": str(tmp_path), "NUMBA_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-c", _LOOP_PROBE], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
    )
    assert run.returncode == 0, run.stderr[-2000:]
    loops = [tuple(map(int, line.split())) for line in run.stdout.split("\n") if line.strip()]
    assert len(loops) >= 5, run.stdout  # lifetime: 2 x (series, general); the rest of the chain
    scalar_loops = [loop for loop in loops if loop[2] < loop[1]]
    assert not scalar_loops, f"loops (instructions, scalar ops, packed ops) not vectorized: {scalar_loops} of {loops}"
