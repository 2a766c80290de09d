"""Sweep specs from YAML: scenarios, grid axes and sampled ranges, run options → :class:`SweepSpec`.

Unknown keys are rejected with a suggestion, and every error is one
:class:`~dse.errors.SpecError` line naming its key.

>>> s = parse_sweep({"inputs": {"temperature": [25, 45], "cathode": "LFP"}})
>>> s.scenarios[0].name, s.n_designs
('sweep', 2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from dse.coefficients import load_coefficients
from dse.errors import SpecError, suggest
from dse.materials.catalogue import load_catalogue
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
from dse.spec.values import (
    MAX_SEED,
    _coefficients_path,
    _positive_int,
    parse_input,
    split_overrides,
)
from dse.vocabulary import INPUTS

__all__ = ["parse_sweep", "load_sweep"]


def _check_axis_length(n: int, where: str) -> None:
    """Refuse an axis longer than ``DSE_MAX_AXIS_VALUES`` before building it."""
    from dse.limits import Limits, current_limits

    limit = current_limits().max_axis_values
    if n > limit:
        raise SpecError(
            f"{n:,} values, over the limit of {limit:,} per input ({Limits.variable('max_axis_values')})", where
        )


def _range_values(name: str, kind: str, args: Any, where: str) -> list[float]:
    import numpy as np

    if not isinstance(args, list | tuple) or len(args) != 3:
        raise SpecError(f"{kind} needs [start, stop, number]", where)
    start = parse_input(name, args[0], f"{where}[0]")
    stop = parse_input(name, args[1], f"{where}[1]")
    num = _positive_int(args[2], f"{where}[2]", minimum=1)
    _check_axis_length(num, f"{where}[2]")
    if num > 1 and start == stop:
        raise SpecError(
            f"{kind} from {start:g} to {stop:g} repeats one value {num} times: give the value alone, or different ends",
            where,
        )
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
                raise SpecError(
                    "expected one of {linspace: [a, b, n]}, {logspace: [a, b, n]} or "
                    "{range: [low, high]} (with optional log: true)",
                    key,
                )
            kind = kinds[0]
            if var.categorical:
                raise SpecError(f"{kind} needs a numeric input; list catalogue ids instead", key)
            if kind == "range":
                if not sampled:
                    raise SpecError(
                        "range needs a sampler (sobol, latin_hypercube, random, saltelli); "
                        "use linspace/logspace for a grid",
                        key,
                    )
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


def parse_sweep(
    data: Any, source: str = "spec", text: str = "", base_dir: Path | None = None, chunk_size: int | None = None
) -> SweepSpec:
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
        raw_scenarios = [{"name": implicit, "inputs": data.get("inputs"), "sampler": data.get("sampler")}]
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
            sampler = Sampler(
                str(s["method"]),
                _positive_int(s["n"], f"{sw}.n"),
                _positive_int(s.get("seed", 0), f"{sw}.seed", minimum=0, maximum=MAX_SEED),
            )
        axes, fixed, draws = _parse_scenario_inputs(
            raw.get("inputs"), f"{where}.inputs" if "scenarios" in data else where, sampler is not None, catalogue
        )
        if sampler is not None and not draws:
            raise SpecError("a sampler needs at least one range or list input", where)
        s_over, s_ce = split_overrides(raw.get("overrides"), f"{where}.overrides")
        for name_, var in INPUTS.items():
            if name_ not in fixed and name_ not in [a.name for a in axes] and name_ not in [d.name for d in draws]:
                fixed[name_] = parse_input(name_, var.default, f"default {name_}", catalogue)
        scenario = Scenario(
            name=name,
            axes=axes,
            fixed=fixed,
            sampler=sampler,
            sampled=draws,
            overrides={**g_over, **s_over},
            ce_overrides={**g_ce, **s_ce},
            ce_coefficients=coeff_path,
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
        name=str(data.get("name") or "sweep"),
        scenarios=scenarios,
        chunk_size=size,
        uncertainty=uncertainty,
        outputs=tuple(outputs),
        description=str(data.get("description", "")),
        text=text or _dump(data),
        source=source,
        data=dict(data),
        base_dir=str(base_dir) if base_dir is not None else None,
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
                raise SpecError(
                    f"{str(name)!r} is not an output of the spec" + suggest(str(name), outputs), f"{where}.objectives"
                )
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
