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

from dse.errors import SpecError
from dse.materials.catalogue import load_catalogue, suggest
from dse.units import to_canonical
from dse.vocabulary import INPUTS, Variable

__all__ = ["Design", "parse_design", "load_design", "parse_input", "read_yaml", "DESIGN_META_KEYS", "CE_OVERRIDE_KEYS"]

#: keys of a design file other than inputs
DESIGN_META_KEYS = ("name", "description", "overrides", "ce_coefficients", "reference", "notes")
#: scalar CE-model constants a design may override under ``overrides: {ce: ...}``
CE_OVERRIDE_KEYS = ("formation_loss_multiplier", "coating_trapped_fraction", "residual_sd")


def read_yaml(path: str | Path, what: str = "file") -> Any:
    """Read a YAML file; errors name the file and line."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise SpecError(f"{what} not found", where=str(p)) from None
    except IsADirectoryError:
        raise SpecError(f"{what} is a directory", where=str(p)) from None
    except OSError as exc:
        raise SpecError(f"cannot read {what} ({exc.strerror})", where=str(p)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid syntax"
        raise SpecError(f"malformed YAML{line}: {problem}", where=str(p)) from None


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
    for k, v in ce_part.items():
        if k not in CE_OVERRIDE_KEYS:
            raise SpecError(f"unknown CE constant {k!r}" + suggest(str(k), CE_OVERRIDE_KEYS), f"{where}.ce")
        if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
            raise SpecError(f"expected a non-negative number, got {v!r}", f"{where}.ce.{k}")
    # validate catalogue overrides now so errors carry the file location
    load_catalogue().with_overrides(catalogue_part, where=where)
    return catalogue_part, dict(ce_part)


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
    coeffs = data.get("ce_coefficients")
    coeff_path = None
    if coeffs is not None:
        coeff_path = Path(str(coeffs))
        if not coeff_path.is_absolute() and base_dir is not None:
            coeff_path = base_dir / coeff_path
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
