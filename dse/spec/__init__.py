"""Edge validation of designs and sweep specs (YAML with unit strings).

Everything a user writes passes through here: unit strings are parsed with
pint into the canonical units of :mod:`dse.vocabulary`, unknown keys are
rejected with a suggestion, out-of-range values name their key, and
catalogue ids are checked. Errors are :class:`~dse.errors.SpecError` (or
:class:`~dse.errors.CatalogueError`) with one line saying what and where.

One module per job; this package re-exports every name ``dse.spec`` had as a
single module:

=================  ==========================================================
``values``         :func:`parse_input`: one value in canonical units; counts, overrides, files
``designs``        :class:`Design`, :func:`parse_design`, :func:`load_design`
``sweeps``         :class:`SweepSpec` and its scenarios, axes and samplers; keys and default outputs
``sweep_parsing``  :func:`parse_sweep`, :func:`load_sweep`: YAML → :class:`SweepSpec`
=================  ==========================================================

>>> d = parse_design({"cathode": "NMC811", "current_collector_thickness": "8 um"})
>>> d.inputs["current_collector_thickness"], d.inputs["cathode_loading"]
(8.0, 3.0)
>>> parse_design({"cathod_loading": 3})
Traceback (most recent call last):
...
dse.errors.SpecError: design: unknown key 'cathod_loading'; did you mean 'cathode_loading'?
"""

from __future__ import annotations

# names are looked up here when they are called from outside (``dse.cli`` imports
# load_design and load_sweep from this package at call time), so replacing one
# of them on the package reaches those callers; the private names are re-exported
# so that every name of the former module keeps working
from dse.errors import suggest
from dse.spec.designs import CE_OVERRIDE_KEYS, DESIGN_META_KEYS, Design, load_design, parse_design
from dse.spec.sweep_parsing import _check_axis_length as _check_axis_length
from dse.spec.sweep_parsing import _dump as _dump
from dse.spec.sweep_parsing import _parse_scenario_inputs as _parse_scenario_inputs
from dse.spec.sweep_parsing import _range_values as _range_values
from dse.spec.sweep_parsing import _refine_options as _refine_options
from dse.spec.sweep_parsing import load_sweep, parse_sweep
from dse.spec.sweeps import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_OUTPUTS,
    REFINE_KEYS,
    SAMPLERS,
    SCENARIO_KEYS,
    SWEEP_KEYS,
    UNCERTAINTY_OUTPUTS,
    Axis,
    SampledInput,
    Sampler,
    Scenario,
    SweepSpec,
)
from dse.spec.values import MAX_SEED, parse_input, read_yaml, split_overrides
from dse.spec.values import _check_bounds as _check_bounds
from dse.spec.values import _coefficients_path as _coefficients_path
from dse.spec.values import _positive_int as _positive_int

__all__ = [
    "Design",
    "parse_design",
    "load_design",
    "parse_input",
    "read_yaml",
    "DESIGN_META_KEYS",
    "CE_OVERRIDE_KEYS",
    "SweepSpec",
    "Scenario",
    "Axis",
    "SampledInput",
    "Sampler",
    "parse_sweep",
    "load_sweep",
    # public names that were not listed before the split
    "SWEEP_KEYS",
    "REFINE_KEYS",
    "SCENARIO_KEYS",
    "SAMPLERS",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_OUTPUTS",
    "UNCERTAINTY_OUTPUTS",
    "MAX_SEED",
    "split_overrides",
    "suggest",
]
