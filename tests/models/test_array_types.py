"""Every model function accepts float, ndarray, DataArray and dask-backed DataArray.

The last stays lazy: evaluating it under a scheduler that refuses to compute
proves no hidden ``compute()``.
"""

from __future__ import annotations

import inspect

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr

from dse.models import ce, chain, cost, energy, feasibility, lifetime, stack

SAMPLES = {
    stack.cathode_layer: dict(
        cathode_loading=4.0,
        specific_capacity=200.0,
        active_fraction=0.95,
        porosity=0.3,
        active_density=4.75,
        inactive_density=1.9,
        catholyte_fraction=0.1,
        catholyte_density=1.9,
        coating_density=0.0,
    ),
    stack.porous_layer: dict(thickness=20.0, density=0.95, porosity=0.4),
    stack.solid_layer: dict(thickness=8.0, density=8.96),
    stack.host_anode_layer: dict(
        cathode_loading=3.0,
        np_ratio=1.1,
        specific_capacity=370.0,
        active_fraction=0.93,
        coating_density=1.6,
        porosity=0.25,
    ),
    stack.metal_thickness_per_capacity: dict(molar_mass=6.94, density=0.534),
    stack.metal_mass_per_capacity: dict(molar_mass=6.94),
    stack.deposit_porosity: dict(
        stack_pressure=1.0, unpressed=0.5, dense=0.05, densification_pressure=0.4, solid=False
    ),
    stack.plated_metal: dict(
        plated_capacity=4.0, metal_excess=5.0, thickness_per_capacity=4.85, mass_per_capacity=0.259, porosity=0.2
    ),
    energy.utilisation: dict(discharge_rate=1.0, cathode_loading=6.0, transport_current=12.0),
    energy.specific_energy: dict(energy=22.8, mass=50.0),
    energy.energy_density: dict(energy=22.8, thickness=190.0),
    energy.energy_ratios: dict(energy=22.8, mass=50.0, size=190.0, per_mass=1000.0, per_size=1.0e4),
    energy.pressure_plates: dict(
        stack_pressure=1.0, span=100.0, plate_density=7.9, plate_strength=250.0, cells_per_module=12.0
    ),
    energy.pouch_cell: dict(
        unit_energy=22.8,
        unit_mass=50.0,
        unit_thickness=190.0,
        layers=20.0,
        electrode_width=90.0,
        electrode_length=140.0,
        seal_width=5.0,
        laminate_thickness=113.0,
        laminate_density=1.55,
        tab_mass=2.0,
        stack_pressure=1.0,
        plate_density=7.9,
        plate_strength=250.0,
        cells_per_module=12.0,
    ),
    lifetime.first_cycle_loss: dict(coulombic_efficiency=0.995, multiplier=15.0),
    lifetime.initial_inventory: dict(
        cathode_loading=3.0,
        first_cycle_efficiency=0.9,
        prelithiation=0.05,
        metal_excess_capacity=0.5,
        coating_uptake=0.2,
        coating_trapped_fraction=0.2,
        formation_loss_fraction=0.05,
    ),
    lifetime.cycle_life: dict(inventory=3.5, cycled_capacity=3.0, coulombic_efficiency=0.998),
    lifetime.in_series_range: dict(coulombic_efficiency=0.998),
    lifetime.capacity_at_cycle: dict(cycle=100.0, inventory=3.5, cycled_capacity=3.0, coulombic_efficiency=0.998),
    lifetime.cycle_hours: dict(depth_of_discharge=0.9, utilisation=0.95, charge_rate=0.2, discharge_rate=0.5),
    lifetime.cycle_hours_from: dict(depth_of_discharge=0.9, utilisation=0.95, charge_hours=5.0, discharge_hours=2.0),
    lifetime.rate_hours: dict(rate=0.2),
    lifetime.calendar_loss: dict(corrosion_current=1.0, hours=20.0, cycled_capacity=3.0),
    lifetime.host_fade_life: dict(fade_per_cycle=1.0e-4, depth_of_discharge=0.8),
    lifetime.host_fade: dict(fade_per_cycle=1.0e-4, depth_of_discharge=0.8),
    lifetime.capacity_curve: dict(
        cycle=300.0, inventory=3.5, cycled_capacity=3.0, coulombic_efficiency=0.999, fade=1.0e-4, dry_out=1000.0
    ),
    lifetime.dry_out_life: dict(liquid=8.0, pore_need=6.0, consumption=2.5, lost_per_cycle=0.01),
    energy.discharge_voltage: dict(
        average_voltage=3.8, upper_cutoff_voltage=4.2, depth_of_discharge=0.8, anode_offset=0.0
    ),
    energy.pouch_layers: dict(
        layers=20.0, target_capacity=2.0, cathode_loading=4.0, electrode_width=60.0, electrode_length=82.0
    ),
    ce.ce_features: dict(
        stack_pressure=1.0,
        min_stack_pressure=0.0,
        solid=False,
        current_density=0.8,
        temperature=30.0,
        decay_onset=45.0,
        cathode_loading=4.0,
        depth_of_discharge=0.9,
        charge_rate=0.2,
        discharge_rate=0.5,
    ),
    ce.ce_features_from_logs: dict(
        pressure_saturation=0.86,
        stack_pressure=1.0,
        min_stack_pressure=0.0,
        solid=False,
        log_current_density=-0.2,
        temperature=30.0,
        decay_onset=45.0,
        log_cathode_loading=1.4,
        depth_of_discharge=0.9,
        log_rate_ratio=-0.9,
    ),
    ce.pressure_saturation: dict(stack_pressure=1.0),
    ce.coulombic_efficiency: dict(log_loss=-6.0),
    cost.mass_cost: dict(mass=30.0, price=25.0),
    cost.area_cost: dict(price=1.0),
    cost.cost_per_energy: dict(areal_cost=0.0015, energy=22.8),
    feasibility.critical_current_density: dict(
        reference=0.5, activation_energy=0.3, pressure_scale=5.0, temperature=40.0, stack_pressure=2.0
    ),
    feasibility.critical_current_density_from: dict(
        reference=0.5, activation_energy=0.3, pressure_scale=5.0, arrhenius=0.5, stack_pressure=2.0
    ),
    feasibility.arrhenius_temperature: dict(temperature=40.0),
    feasibility.infeasible_reason: dict(
        metal_code=0.0,
        cathode_metal_code=0.0,
        electrolyte_metal_code=1.0,
        collector_alloys=0.0,
        upper_cutoff_voltage=4.3,
        oxidative_limit=4.0,
        temperature=25.0,
        min_temperature=-20.0,
        max_temperature=60.0,
        current_density=1.0,
        ccd=0.5,
        stack_pressure=1.0,
        max_stack_pressure=10.0,
        electrolyte_starved=False,
        inventory=3.0,
        first_charge=3.2,
        valid_inputs=True,
        finite_outputs=True,
        cycle_life=500.0,
        cost=120.0,
    ),
}
# functions taking a features tuple or coefficient vectors
_F = ce.CeFeatures(0.5, 0.0, -0.2, 0.5, 0.0, 0.5, 0.3, 0.1, -0.9)
_N = len(ce.FEATURE_NAMES)
SAMPLES[ce.log_loss_mean] = dict(base=-5.5, features=_F, slopes=(-0.7, 1.5, 0.2, -0.15, 0.5, 0.7, -0.3, -0.5, 0.3))
SAMPLES[ce.log_loss_variance] = dict(
    base_variance=0.3,
    base_covariance=(0.01,) * _N,
    features=_F,
    slope_covariance=tuple(tuple(0.01 * (i == j) for j in range(_N)) for i in range(_N)),
    residual_variance=0.25,
)

PUBLIC = [
    f
    for m in (stack, energy, lifetime, ce, cost, feasibility)
    for name in m.__all__
    if inspect.isfunction(f := getattr(m, name)) and name != "describe_reason"
]


def test_every_public_model_function_has_a_sample():
    assert set(PUBLIC) == set(SAMPLES), set(PUBLIC) ^ set(SAMPLES)


def _wrap(value, kind):
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return value  # coefficient vectors stay plain
    if hasattr(value, "_fields"):
        return type(value)(*(_wrap(v, kind) for v in value))
    if kind == "float":
        return value
    arr = np.array([value, value])
    if kind == "ndarray":
        return arr
    if kind == "DataArray":
        return xr.DataArray(arr, dims="design")
    return xr.DataArray(da.from_array(arr, chunks=1), dims="design")


def _leaves(result):
    if hasattr(result, "_fields"):
        return list(result)
    return [result]


def _refuse_compute(*args, **kwargs):
    raise AssertionError("a model function computed a dask array")


@pytest.mark.parametrize("kind", ["float", "ndarray", "DataArray", "dask"])
@pytest.mark.parametrize("func", PUBLIC, ids=lambda f: f"{f.__module__.split('.')[-1]}.{f.__name__}")
def test_model_function_array_types(func, kind):
    args = {k: _wrap(v, kind) for k, v in SAMPLES[func].items()}
    with dask.config.set(scheduler=_refuse_compute):
        result = func(**args)
    reference = [np.asarray(x, dtype=float) for x in _leaves(func(**SAMPLES[func]))]
    for leaf, ref in zip(_leaves(result), reference, strict=True):
        if kind == "float":
            assert np.ndim(leaf) == 0
        elif kind == "ndarray":
            assert isinstance(leaf, np.ndarray) or np.ndim(leaf) == 0
        else:
            assert isinstance(leaf, xr.DataArray) or np.ndim(leaf) == 0
            if kind == "dask" and isinstance(leaf, xr.DataArray):
                assert isinstance(leaf.data, da.Array), "dask-backed input must stay lazy"
        values = np.asarray(leaf.compute() if hasattr(leaf, "compute") else leaf, dtype=float)
        np.testing.assert_allclose(values, np.broadcast_to(ref, values.shape), rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("kind", ["DataArray", "dask"])
def test_whole_chain_runs_on_labelled_and_lazy_arrays(kind):
    # dse.models.chain.chain_outputs is one more model function: the same source the
    # sweep kernel compiles runs on DataArrays and stays lazy on dask.
    from dse.modelchain import ModelChain

    mc = ModelChain()
    p = mc.parameters({"cathode": "NMC811", "cathode_loading": [2.0, 4.0, 6.0], "electrolyte": "Li-dual-salt"})

    def wrap(x):
        if hasattr(x, "_fields"):
            return type(x)(*(wrap(v) for v in x))
        if isinstance(x, tuple):
            return tuple(wrap(v) for v in x)
        arr = np.asarray(x)
        return xr.DataArray(da.from_array(arr, chunks=1) if kind == "dask" else arr, dims="design")

    with dask.config.set(scheduler=_refuse_compute):
        out = chain.chain_outputs(wrap(p), mc.constants)
    ref = chain.chain_outputs(p, mc.constants)
    for name in ("specific_energy", "cycle_life", "cost", "infeasible_reason", "cycle_life_p90"):
        leaf = getattr(out, name)
        assert isinstance(leaf, xr.DataArray)
        if kind == "dask":
            assert isinstance(leaf.data, da.Array)
        np.testing.assert_allclose(leaf.values, getattr(ref, name), rtol=1e-12)
