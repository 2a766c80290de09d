"""One cell design: the keys of a design file, :class:`Design`, and parsing a design.

>>> d = parse_design({"cathode": "NMC811", "current_collector_thickness": "8 um"})
>>> d.inputs["current_collector_thickness"], d.inputs["cathode_loading"]
(8.0, 3.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dse.coefficients import CE_CONSTANTS
from dse.errors import SpecError, suggest
from dse.materials.catalogue import load_catalogue
from dse.spec.values import _coefficients_path, parse_input, read_yaml, split_overrides
from dse.vocabulary import INPUTS

__all__ = ["Design", "parse_design", "load_design", "DESIGN_META_KEYS", "CE_OVERRIDE_KEYS"]

#: keys of a design file other than inputs
DESIGN_META_KEYS = ("name", "description", "overrides", "ce_coefficients", "reference", "notes")
#: scalar CE-model constants a design may override under ``overrides: {ce: ...}``
CE_OVERRIDE_KEYS = CE_CONSTANTS


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
        inputs[name] = parse_input(
            name, raw, f"{source}: {name}" if source != "design" else f"design.{name}", catalogue
        )
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
