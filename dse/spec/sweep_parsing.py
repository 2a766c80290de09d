"""Edge validation of designs and sweep specs (YAML with unit strings).

Everything a user writes passes through here: unit strings are parsed with
pint into the canonical units of :mod:`dse.vocabulary`, unknown keys are
rejected with a suggestion, out-of-range values name their key, and
catalogue ids are checked. Errors are :class:`~dse.errors.SpecError` (or
:class:`~dse.errors.CatalogueError`) with one line saying what and where.

>>> d = parse_design({"cathode": "NMC811", "current_collector_thickness": "8 um"})
>>> d.inputs["current_collector_thickness"], d.inputs["cathode_loading"]
(8.0, 3.0)
>>> parse_design({"cathod_loading": 3})
Traceback (most recent call last):
...
dse.errors.SpecError: design: unknown key 'cathod_loading'; did you mean 'cathode_loading'?
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dse.coefficients import CE_CONSTANTS, load_coefficients
from dse.errors import SpecError
from dse.materials.catalogue import load_catalogue, suggest
from dse.units import to_canonical
from dse.vocabulary import INPUTS, Variable

__all__ = [
    "Design", "parse_design", "load_design", "parse_input", "read_yaml", "DESIGN_META_KEYS", "CE_OVERRIDE_KEYS",
    "SweepSpec", "Scenario", "Axis", "SampledInput", "Sampler", "parse_sweep", "load_sweep",
]

#: keys of a design file other than inputs
DESIGN_META_KEYS = ("name", "description", "overrides", "ce_coefficients", "reference", "notes")
#: scalar CE-model constants a design may override under ``overrides: {ce: ...}``
CE_OVERRIDE_KEYS = CE_CONSTANTS


def read_yaml(path: str | Path, what: str = "file") -> Any:
    """Read a YAML file safely and within :mod:`dse.limits`; errors name the file and line."""
    from dse.safe_yaml import load_file

    return load_file(path, what)


def _check_bounds(var: Variable, value: float, where: str) -> float:
    if math.isnan(value):
        raise SpecError("is not a number", where)
    if var.bounds is None:
        return value
    lo, hi = var.bounds
    lo_open, hi_open = var.open_bounds
    below = value <= lo if lo_open else value < lo
    above = value >= hi if hi_open else value > hi
    if below or above:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        unit = "" if var.units in ("1", "") else f" {var.units}"
        raise SpecError(f"{value:g}{unit} is outside the physical range {left}{lo:g}, {hi:g}{right}", where)
    return value


def parse_input(name: str, raw: Any, where: str, catalogue=None) -> float | str:
    """Parse one input value: a number in canonical units, or a catalogue id.

    Parameters
    ----------
    name : str
        Input name of :data:`dse.vocabulary.INPUTS`.
    raw : object
        As written in YAML.
    where : str
        Key path for messages.

    Examples
    --------
    >>> parse_input("stack_pressure", "250 kPa", "x")
    0.25
    >>> parse_input("electrolyte_amount", "fill", "x")
    0.0
    >>> parse_input("cathode_porosity", 1.2, "design.cathode_porosity")
    Traceback (most recent call last):
    ...
    dse.errors.SpecError: design.cathode_porosity: 1.2 is outside the physical range [0, 1)
    """
    var = INPUTS[name]
    if var.categorical:
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            raise SpecError(f"expected a catalogue id, got {raw!r}", where)
        cat = catalogue or load_catalogue()
        ids = cat.ids(var.catalogue)
        if str(raw) not in ids:
            raise SpecError(f"unknown {var.catalogue} {str(raw)!r}" + suggest(str(raw), ids), where)
        return str(raw)
    if name == "electrolyte_amount" and isinstance(raw, str) and raw.strip().lower() == "fill":
        return 0.0
    return _check_bounds(var, to_canonical(raw, var.units, where=where), where)


@dataclass
class Design:
    """One validated cell design.

    Attributes
    ----------
    inputs : dict
        Every input of the vocabulary, canonical units; defaults filled in.
    given : tuple of str
        Inputs the user set explicitly.
    overrides : dict
        Catalogue overrides ``{id: {property: value}}``.
    ce_overrides : dict
        Overrides of the CE-model constants (see :data:`CE_OVERRIDE_KEYS`).
    ce_coefficients : Path or None
        Coefficients file to use instead of the shipped one.
    """

    inputs: dict[str, float | str]
    given: tuple[str, ...] = ()
    name: str = ""
    description: str = ""
    overrides: dict = field(default_factory=dict)
    ce_overrides: dict = field(default_factory=dict)
    ce_coefficients: Path | None = None
    reference: dict = field(default_factory=dict)
    source: str = "design"
    coefficients: Any = None  # a CeCoefficients object (e.g. read back from a results store)

    def to_yaml(self) -> str:
        """The design as YAML that ``dse evaluate`` reads back."""
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        for k, v in self.inputs.items():
            var = INPUTS[k]
            out[k] = v if var.categorical or var.units in ("1", "") else f"{v:g} {var.units}"
        overrides = dict(self.overrides)
        if self.ce_overrides:
            overrides["ce"] = dict(self.ce_overrides)
        if overrides:
            out["overrides"] = overrides
        if self.ce_coefficients:
            out["ce_coefficients"] = str(self.ce_coefficients)
        return yaml.safe_dump(out, sort_keys=False, allow_unicode=True)


def split_overrides(raw: Any, where: str) -> tuple[dict, dict]:
    """Separate ``overrides.ce`` (CE constants) from catalogue overrides."""
    if raw is None:
        return {}, {}
    if not isinstance(raw, Mapping):
        raise SpecError("expected a mapping of material id to properties", where)
    catalogue_part = {str(k): v for k, v in raw.items() if k != "ce"}
    ce_part = raw.get("ce") or {}
    if not isinstance(ce_part, Mapping):
        raise SpecError("expected a mapping", f"{where}.ce")
    # (unknown keys, NaN, infinities and values out of range, each naming its key)
    load_coefficients().with_constants(ce_part, where=f"{where}.ce")
    # validate catalogue overrides now so errors carry the file location
    load_catalogue().with_overrides(catalogue_part, where=where)
    return catalogue_part, dict(ce_part)


def _coefficients_path(raw: Any, base_dir: Path | None, where: str) -> Path | None:
    """A ``ce_coefficients`` file, relative to the spec's folder; it must exist."""
    if raw is None:
        return None
    path = Path(str(raw))
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.exists():
        raise SpecError(f"coefficients file {str(path)!r} not found", where)
    return path


def parse_design(data: Any, source: str = "design", base_dir: Path | None = None) -> Design:
    """Validate a design mapping (as loaded from YAML).

    Raises
    ------
    SpecError
        Unknown key, wrong unit, out-of-range value, unknown material.
    """
    if not isinstance(data, Mapping):
        raise SpecError(f"expected a mapping of input names to values, got {type(data).__name__}", source)
    unknown = [k for k in data if k not in INPUTS and k not in DESIGN_META_KEYS]
    if unknown:
        k = str(unknown[0])
        raise SpecError(f"unknown key {k!r}" + suggest(k, [*INPUTS, *DESIGN_META_KEYS]), source)
    catalogue = load_catalogue()
    overrides, ce_overrides = split_overrides(data.get("overrides"), f"{source}: overrides")
    inputs: dict[str, float | str] = {}
    for name, var in INPUTS.items():
        raw = data.get(name, var.default)
        if raw is None:
            raise SpecError("has no value", f"{source}: {name}")
        inputs[name] = parse_input(name, raw, f"{source}: {name}" if source != "design" else f"design.{name}",
                                   catalogue)
    coeff_path = _coefficients_path(data.get("ce_coefficients"), base_dir, f"{source}: ce_coefficients")
    reference = data.get("reference") or {}
    if not isinstance(reference, Mapping):
        raise SpecError("expected a mapping", f"{source}: reference")
    return Design(
        inputs=inputs,
        given=tuple(k for k in data if k in INPUTS),
        name=str(data.get("name", "")),
        description=str(data.get("description", "")),
        overrides=overrides,
        ce_overrides=ce_overrides,
        ce_coefficients=coeff_path,
        reference=dict(reference),
        source=source,
    )


def load_design(path: str | Path) -> Design:
    """Read and validate a design YAML file."""
    data = read_yaml(path, "design file")
    return parse_design(data, source=str(path), base_dir=Path(path).parent)


# --------------------------------------------------------------------------- sweep specs
SWEEP_KEYS = ("name", "description", "scenarios", "inputs", "sampler", "overrides", "ce_coefficients",
              "chunk_size", "uncertainty", "outputs", "notes", "refine")
#: keys of a spec's ``refine:`` mapping (options of ``dse refine``)
REFINE_KEYS = ("objectives", "coarse", "margin", "tolerance", "budget")
SCENARIO_KEYS = ("name", "description", "inputs", "sampler", "overrides")
SAMPLERS = ("sobol", "latin_hypercube", "random", "saltelli")
DEFAULT_CHUNK_SIZE = 1 << 20
DEFAULT_OUTPUTS = (
    "specific_energy", "energy_density", "specific_energy_stack", "energy_density_stack", "capacity",
    "average_voltage", "coulombic_efficiency", "cycle_life", "knee_cycles", "inventory", "lifetime_energy",
    "cost", "cost_per_cycle", "swelling", "plated_thickness", "current_density", "infeasible_reason",
)
UNCERTAINTY_OUTPUTS = ("cycle_life_p10", "cycle_life_p90")


@dataclass
class Axis:
    """A swept input of a grid: its dimension name and coordinate values."""

    name: str
    values: list  # floats in canonical units, or catalogue ids

    @property
    def categorical(self) -> bool:
        return INPUTS[self.name].categorical


@dataclass
class SampledInput:
    """An input drawn by a sampler: a continuous range or a set of choices."""

    name: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: list | None = None


@dataclass
class Sampler:
    method: str
    n: int
    seed: int = 0


@dataclass
class Scenario:
    """One grid or one sampled design space of a sweep."""

    name: str
    axes: list[Axis]
    fixed: dict[str, float | str]
    sampler: Sampler | None = None
    sampled: list[SampledInput] = field(default_factory=list)
    overrides: dict = field(default_factory=dict)
    ce_overrides: dict = field(default_factory=dict)
    ce_coefficients: Path | None = None
    description: str = ""

    @property
    def kind(self) -> str:
        return "sampled" if self.sampler else "grid"

    @property
    def n_designs(self) -> int:
        if self.sampler is None:
            n = 1
            for a in self.axes:
                n *= len(a.values)
            return n
        if self.sampler.method == "saltelli":
            return self.sampler.n * (len(self.sampled) + 2)
        return self.sampler.n


@dataclass
class SweepSpec:
    """A validated sweep: scenarios plus run options and the verbatim text."""

    name: str
    scenarios: list[Scenario]
    chunk_size: int = DEFAULT_CHUNK_SIZE
    uncertainty: bool = False
    outputs: tuple[str, ...] = DEFAULT_OUTPUTS
    description: str = ""
    text: str = ""
    source: str = "spec"
    data: dict = field(default_factory=dict)
    base_dir: str | None = None
    refine: dict = field(default_factory=dict)  # validated ``refine:`` options (see _refine_options)

    @property
    def n_designs(self) -> int:
        return sum(s.n_designs for s in self.scenarios)

    def identity(self) -> dict:
        """Everything that determines the stored numbers (hashed for --resume)."""
        from dse.chain import ModelChain

        scen = []
        for s in self.scenarios:
            chain = ModelChain.from_design(s)
            scen.append({
                "name": s.name,
                "axes": [[a.name, a.values] for a in s.axes],
                "fixed": s.fixed,
                "sampler": None if s.sampler is None else [s.sampler.method, s.sampler.n, s.sampler.seed],
                "sampled": [[x.name, x.low, x.high, x.log, x.choices] for x in s.sampled],
                "catalogue": chain.catalogue.hash(),
                "coefficients": chain.coefficients.hash(),
            })
        return {"scenarios": scen, "chunk_size": self.chunk_size, "uncertainty": self.uncertainty,
                "outputs": list(self.outputs)}

    def hash(self) -> str:
        """SHA-256 of :meth:`identity` (computed once per spec object)."""
        import hashlib
        import json

        if getattr(self, "_hash", None) is None:
            blob = json.dumps(self.identity(), sort_keys=True, default=str).encode()
            self._hash = hashlib.sha256(blob).hexdigest()
        return self._hash


#: largest sampler seed (the samplers mix it into 64-bit keys)
MAX_SEED = 2**32 - 1


def _positive_int(raw: Any, where: str, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer count or seed; ``.inf``, ``.nan``, fractions and booleans are refused.

    >>> _positive_int(float("inf"), "n")
    Traceback (most recent call last):
    ...
    dse.errors.SpecError: n: expected an integer ≥ 1, got inf
    """
    if (isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw)
            or int(raw) != raw or raw < minimum):
        raise SpecError(f"expected an integer ≥ {minimum}, got {raw!r}", where)
    if maximum is not None and raw > maximum:
        raise SpecError(f"expected an integer from {minimum} to {maximum:,}, got {int(raw):,}", where)
    return int(raw)


def _check_axis_length(n: int, where: str) -> None:
    """Refuse an axis longer than ``DSE_MAX_AXIS_VALUES`` before building it."""
    from dse.limits import Limits, current_limits

    limit = current_limits().max_axis_values
    if n > limit:
        raise SpecError(f"{n:,} values, over the limit of {limit:,} per input ({Limits.variable('max_axis_values')})",
                        where)


def _range_values(name: str, kind: str, args: Any, where: str) -> list[float]:
    import numpy as np

    if not isinstance(args, list | tuple) or len(args) != 3:
        raise SpecError(f"{kind} needs [start, stop, number]", where)
    start = parse_input(name, args[0], f"{where}[0]")
    stop = parse_input(name, args[1], f"{where}[1]")
    num = _positive_int(args[2], f"{where}[2]", minimum=1)
    _check_axis_length(num, f"{where}[2]")
    if num > 1 and start == stop:
        raise SpecError(f"{kind} from {start:g} to {stop:g} repeats one value {num} times: give the value alone, "
                        "or different ends", where)
    if kind == "linspace":
        return [float(x) for x in np.linspace(start, stop, num)]
    if start <= 0 or stop <= 0:
        raise SpecError("logspace needs positive start and stop", where)
    return [float(x) for x in np.geomspace(start, stop, num)]


def _parse_scenario_inputs(raw: Any, where: str, sampled: bool, catalogue) -> tuple[list, dict, list]:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SpecError("expected a mapping of input names to values", where)
    axes: list[Axis] = []
    fixed: dict[str, float | str] = {}
    draws: list[SampledInput] = []
    for name, value in raw.items():
        key = f"{where}.{name}"
        if name not in INPUTS:
            raise SpecError(f"unknown input {str(name)!r}" + suggest(str(name), INPUTS), where)
        var = INPUTS[name]
        if isinstance(value, list):
            if not value:
                raise SpecError("empty list: a sweep needs at least one value", key)
            _check_axis_length(len(value), key)
            vals = [parse_input(name, v, f"{key}[{i}]", catalogue) for i, v in enumerate(value)]
            if len(set(vals)) != len(vals):
                raise SpecError("repeated values", key)
            if sampled:
                draws.append(SampledInput(name, choices=vals))
            else:
                axes.append(Axis(name, vals))
        elif isinstance(value, Mapping):
            kinds = [k for k in value if k in ("linspace", "logspace", "range")]
            extra = [k for k in value if k not in ("linspace", "logspace", "range", "log")]
            if len(kinds) != 1 or extra:
                raise SpecError("expected one of {linspace: [a, b, n]}, {logspace: [a, b, n]} or "
                                "{range: [low, high]} (with optional log: true)", key)
            kind = kinds[0]
            if var.categorical:
                raise SpecError(f"{kind} needs a numeric input; list catalogue ids instead", key)
            if kind == "range":
                if not sampled:
                    raise SpecError("range needs a sampler (sobol, latin_hypercube, random, saltelli); "
                                    "use linspace/logspace for a grid", key)
                args = value["range"]
                if not isinstance(args, list | tuple) or len(args) != 2:
                    raise SpecError("range needs [low, high]", key)
                lo = parse_input(name, args[0], f"{key}.range[0]")
                hi = parse_input(name, args[1], f"{key}.range[1]")
                if not hi > lo:
                    raise SpecError(f"empty range: high ({hi:g}) must exceed low ({lo:g})", key)
                log = bool(value.get("log", False))
                if log and lo <= 0:
                    raise SpecError("a log range needs a positive low value", key)
                draws.append(SampledInput(name, lo, hi, log))
            else:
                if sampled:
                    raise SpecError(f"{kind} makes a grid axis; in a sampled scenario use range", key)
                axes.append(Axis(name, _range_values(name, kind, value[kind], f"{key}.{kind}")))
        else:
            fixed[name] = parse_input(name, value, key, catalogue)
    return axes, fixed, draws


def parse_sweep(data: Any, source: str = "spec", text: str = "", base_dir: Path | None = None,
                chunk_size: int | None = None) -> SweepSpec:
    """Validate a sweep spec mapping.

    Examples
    --------
    >>> s = parse_sweep({"inputs": {"cathode": ["NMC811", "LFP"],
    ...                             "cathode_loading": {"linspace": ["2 mAh/cm^2", "6 mAh/cm^2", 5]}}})
    >>> s.n_designs, [a.name for a in s.scenarios[0].axes]
    (10, ['cathode', 'cathode_loading'])
    """
    if not isinstance(data, Mapping):
        raise SpecError(f"expected a mapping, got {type(data).__name__}", source)
    unknown = [k for k in data if k not in SWEEP_KEYS]
    if unknown:
        raise SpecError(f"unknown key {str(unknown[0])!r}" + suggest(str(unknown[0]), SWEEP_KEYS), source)
    if "scenarios" in data and ("inputs" in data or "sampler" in data):
        raise SpecError("give either scenarios or top-level inputs, not both", source)
    catalogue = load_catalogue()
    g_over, g_ce = split_overrides(data.get("overrides"), f"{source}: overrides")
    coeff_path = _coefficients_path(data.get("ce_coefficients"), base_dir, f"{source}: ce_coefficients")
    raw_scenarios = data.get("scenarios")
    if raw_scenarios is None:
        import re

        implicit = re.sub(r"[^A-Za-z0-9_-]+", "_", str(data.get("name") or "sweep")).strip("_") or "sweep"
        raw_scenarios = [{"name": implicit, "inputs": data.get("inputs"),
                          "sampler": data.get("sampler")}]
    if not isinstance(raw_scenarios, list) or not raw_scenarios:
        raise SpecError("scenarios must be a non-empty list", source)
    scenarios = []
    names = set()
    for i, raw in enumerate(raw_scenarios):
        where = f"{source}: scenarios[{i}]" if "scenarios" in data else f"{source}: inputs"
        if not isinstance(raw, Mapping):
            raise SpecError("expected a mapping", where)
        bad = [k for k in raw if k not in SCENARIO_KEYS]
        if bad:
            raise SpecError(f"unknown key {str(bad[0])!r}" + suggest(str(bad[0]), SCENARIO_KEYS), where)
        name = str(raw.get("name") or f"scenario{i}")
        if not name.replace("_", "").replace("-", "").isalnum():
            raise SpecError(f"scenario name {name!r} may hold letters, digits, '-' and '_' only", where)
        if name in names:
            raise SpecError(f"duplicate scenario name {name!r}", where)
        names.add(name)
        sampler = None
        if raw.get("sampler") is not None:
            s = raw["sampler"]
            sw = f"{where}.sampler"
            if not isinstance(s, Mapping) or "method" not in s or "n" not in s:
                raise SpecError("sampler needs method and n", sw)
            bad = [k for k in s if k not in ("method", "n", "seed")]
            if bad:
                raise SpecError(f"unknown key {str(bad[0])!r}" + suggest(str(bad[0]), ("method", "n", "seed")), sw)
            if s["method"] not in SAMPLERS:
                raise SpecError(f"unknown sampler {s['method']!r}" + suggest(str(s["method"]), SAMPLERS), sw)
            sampler = Sampler(str(s["method"]), _positive_int(s["n"], f"{sw}.n"),
                              _positive_int(s.get("seed", 0), f"{sw}.seed", minimum=0, maximum=MAX_SEED))
        axes, fixed, draws = _parse_scenario_inputs(raw.get("inputs"), f"{where}.inputs" if "scenarios" in data
                                                    else where, sampler is not None, catalogue)
        if sampler is not None and not draws:
            raise SpecError("a sampler needs at least one range or list input", where)
        s_over, s_ce = split_overrides(raw.get("overrides"), f"{where}.overrides")
        for name_, var in INPUTS.items():
            if name_ not in fixed and name_ not in [a.name for a in axes] and name_ not in [d.name for d in draws]:
                fixed[name_] = parse_input(name_, var.default, f"default {name_}", catalogue)
        scenario = Scenario(
            name=name, axes=axes, fixed=fixed, sampler=sampler, sampled=draws,
            overrides={**g_over, **s_over}, ce_overrides={**g_ce, **s_ce}, ce_coefficients=coeff_path,
            description=str(raw.get("description", "")),
        )
        if scenario.n_designs == 0:
            raise SpecError("the scenario has zero designs", where)
        scenarios.append(scenario)
    size = chunk_size if chunk_size is not None else data.get("chunk_size", DEFAULT_CHUNK_SIZE)
    size = _positive_int(size, f"{source}: chunk_size", minimum=1)
    uncertainty = data.get("uncertainty", False)
    if not isinstance(uncertainty, bool):
        raise SpecError("expected true or false", f"{source}: uncertainty")
    outputs = data.get("outputs")
    if outputs is None:
        outputs = DEFAULT_OUTPUTS + (UNCERTAINTY_OUTPUTS if uncertainty else ())
    else:
        from dse.models.chain import OUTPUT_FIELDS

        if not isinstance(outputs, list) or not outputs:
            raise SpecError("expected a non-empty list of output names", f"{source}: outputs")
        for o in outputs:
            if o not in OUTPUT_FIELDS:
                raise SpecError(f"unknown output {str(o)!r}" + suggest(str(o), OUTPUT_FIELDS), f"{source}: outputs")
        if "infeasible_reason" not in outputs:
            outputs = [*outputs, "infeasible_reason"]
    return SweepSpec(
        name=str(data.get("name") or "sweep"), scenarios=scenarios, chunk_size=size, uncertainty=uncertainty,
        outputs=tuple(outputs), description=str(data.get("description", "")), text=text or _dump(data),
        source=source, data=dict(data), base_dir=str(base_dir) if base_dir is not None else None,
        refine=_refine_options(data.get("refine"), outputs, f"{source}: refine"),
    )


def _refine_options(raw: Any, outputs, where: str) -> dict:
    """Validate a spec's ``refine:`` mapping (the defaults of ``dse refine``; its options override them).

    >>> _refine_options({"objectives": {"cost": "min"}, "tolerance": 0.01}, ["cost"], "refine")
    {'objectives': {'cost': 'min'}, 'tolerance': 0.01}
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SpecError("expected a mapping of " + ", ".join(REFINE_KEYS), where)
    bad = [k for k in raw if k not in REFINE_KEYS]
    if bad:
        raise SpecError(f"unknown key {str(bad[0])!r}" + suggest(str(bad[0]), REFINE_KEYS), where)
    out: dict = {}
    if "objectives" in raw:
        objectives = raw["objectives"]
        if not isinstance(objectives, Mapping) or not objectives:
            raise SpecError("expected a mapping of output name to max or min", f"{where}.objectives")
        for name, sense in objectives.items():
            if name not in outputs:
                raise SpecError(f"{str(name)!r} is not an output of the spec" + suggest(str(name), outputs),
                                f"{where}.objectives")
            if sense not in ("max", "min"):
                raise SpecError(f"expected max or min for {name!r}, got {sense!r}", f"{where}.objectives")
        out["objectives"] = {str(k): str(v) for k, v in objectives.items()}
    if "coarse" in raw:
        out["coarse"] = _positive_int(raw["coarse"], f"{where}.coarse")
    if "budget" in raw:
        out["budget"] = _positive_int(raw["budget"], f"{where}.budget")
    for key, high in (("margin", math.inf), ("tolerance", 1.0)):
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not (0 <= value < high):
                raise SpecError(f"expected a number in [0, {high:g}), got {value!r}", f"{where}.{key}")
            out[key] = float(value)
    return out


def _dump(data: Mapping) -> str:
    return yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True)


def load_sweep(path: str | Path, chunk_size: int | None = None, coefficients: str | Path | None = None) -> SweepSpec:
    """Read and validate a sweep spec YAML file (keeps the verbatim text).

    ``coefficients`` (``dse sweep --coefficients FILE``) replaces the
    spec's ``ce_coefficients`` for every scenario; it enters the spec's
    data (so every worker uses it) and its hash enters the spec hash.
    """
    from dse.limits import Limits, current_limits
    from dse.safe_yaml import loads, read_text_bounded

    limits = current_limits()
    text = read_text_bounded(path, "spec file", limits.max_file_bytes, Limits.variable("max_file_bytes"))
    data = loads(text, where=str(path), limits=limits)
    if coefficients is not None:
        if not isinstance(data, Mapping):
            raise SpecError("expected a mapping", str(path))
        file = Path(coefficients).resolve()
        if not file.is_file():
            raise SpecError(f"coefficients file {str(coefficients)!r} not found", "--coefficients")
        load_coefficients(file)  # malformed: one error naming the file, before any work
        data = {**data, "ce_coefficients": str(file)}
    return parse_sweep(data, source=str(path), text=text, base_dir=Path(path).parent, chunk_size=chunk_size)
