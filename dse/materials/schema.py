"""Pydantic schema of the materials catalogue.

One YAML file per entry. Every numeric property is written as a value with
units and a source that resolves in ``data/references.yaml``::

    density: {value: 8.96 g/cm^3, source: "seed-001:L52"}

Sources are either ``seed-NNN:L<line>[;L<line>...]`` (a line of a review in
``../shared/seeds``) or the key of a public reference, optionally followed by
``:`` and a locator (``"crc-handbook:4-12"``). Values are converted to the
canonical unit of the field at load time; unknown fields are rejected
(``extra="forbid"``).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from dse.units import to_canonical

__all__ = [
    "Cited",
    "Reference",
    "Metal",
    "Cathode",
    "Collector",
    "Coating",
    "Electrolyte",
    "Separator",
    "Packaging",
    "Anode",
    "ENTRY_TYPES",
    "SEED_SOURCE",
    "field_units",
]

SEED_SOURCE = re.compile(r"^seed-(?P<seed>\d{3}):L(?P<lines>\d+(?:[-–]\d+)?(?:;\s*L?\d+(?:[-–]\d+)?)*)$")
METALS = ("Li", "Na", "K")


class Cited(BaseModel):
    """A numeric value in canonical units with the source it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float
    units: str
    source: str
    note: str = ""
    text: str = Field(default="", description="the value as written in the YAML file")


def _cited(units: str, lo: float | None = None, hi: float | None = None):
    """Annotated type: parse ``{value, source, note}`` into :class:`Cited`."""

    def parse(raw: Any) -> Cited:
        if isinstance(raw, Cited):
            return raw
        if not isinstance(raw, dict):
            raise ValueError("expected a mapping with 'value' and 'source'")
        unknown = set(raw) - {"value", "source", "note"}
        if unknown:
            raise ValueError(f"unknown field(s) {sorted(unknown)}; allowed: value, source, note")
        if "value" not in raw or "source" not in raw:
            raise ValueError("needs both 'value' and 'source'")
        value = to_canonical(raw["value"], units)
        if not math.isfinite(value):
            raise ValueError(f"{raw['value']!r} is not a finite number")
        if lo is not None and value < lo or hi is not None and value > hi:
            raise ValueError(f"{raw['value']!r} is outside [{lo}, {hi}] {units}")
        return Cited(
            value=value,
            units=units,
            source=str(raw["source"]).strip(),
            note=str(raw.get("note", "")),
            text=str(raw["value"]),
        )

    parse.units = units
    return Annotated[Cited, BeforeValidator(parse)]


def field_units(model: type[BaseModel], name: str) -> str | None:
    """Canonical unit of a cited field of ``model`` (None if not cited).

    >>> field_units(Cathode, "coating_density")
    'g/cm^3'
    """
    field = model.model_fields[name]

    def search(obj) -> str | None:
        for meta in getattr(obj, "__metadata__", ()) or ():
            units = getattr(getattr(meta, "func", None), "units", None)
            if units is not None:
                return units
        for arg in getattr(obj, "__args__", ()) or ():
            found = search(arg)
            if found is not None:
                return found
        return None

    for meta in field.metadata:
        units = getattr(getattr(meta, "func", None), "units", None)
        if units is not None:
            return units
    return search(field.annotation)


class Reference(BaseModel):
    """A public reference that catalogue sources may name."""

    model_config = ConfigDict(extra="forbid")

    title: str
    authors: str = ""
    year: int | None = None
    doi: str = ""
    url: str = ""
    note: str = ""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    kind: str
    name: str
    description: str = ""

    def cited(self) -> dict[str, Cited]:
        """All cited numeric properties, flattened (``uptake_capacity.Li``)."""
        out: dict[str, Cited] = {}
        for key in type(self).model_fields:
            val = getattr(self, key)
            if isinstance(val, Cited):
                out[key] = val
            elif isinstance(val, dict):
                for sub, v in val.items():
                    if isinstance(v, Cited):
                        out[f"{key}.{sub}"] = v
        return out


class Metal(_Entry):
    """A plated alkali metal."""

    kind: Literal["metal"]
    molar_mass: _cited("g/mol", 1, 300)
    density: _cited("g/cm^3", 0.1, 25)
    standard_potential: _cited("V", -4, 1)
    yield_strength: _cited("MPa", 0, 1000)
    deposit_porosity: _cited("1", 0, 0.95)
    dense_deposit_porosity: _cited("1", 0, 0.95)
    densification_pressure: _cited("MPa", 1e-6, 1000)
    price: _cited("USD/kg", 0, 1e6)


class Cathode(_Entry):
    """A cathode active material (positive electrode)."""

    kind: Literal["cathode"]
    metal: Literal["Li", "Na", "K"]
    specific_capacity: _cited("mAh/g", 1, 1000)
    average_voltage: _cited("V", 0.5, 6)
    upper_cutoff_voltage: _cited("V", 0.5, 6)
    density: _cited("g/cm^3", 0.5, 10)
    inactive_density: _cited("g/cm^3", 0.5, 5)
    first_cycle_efficiency: _cited("1", 0.3, 1)
    price: _cited("USD/kg", 0, 1e5)
    coating_density: _cited("g/cm^3", 0.3, 10) | None = None
    fade_per_cycle: _cited("1", 1e-7, 0.1)  # every host fades; 1e-7 is millions of cycles

    @model_validator(mode="after")
    def _cutoff_above_average(self):
        if self.upper_cutoff_voltage.value < self.average_voltage.value:
            raise ValueError("upper_cutoff_voltage is below average_voltage")
        return self


class Collector(_Entry):
    """A negative current collector foil."""

    kind: Literal["collector"]
    density: _cited("g/cm^3", 0.5, 25)
    price: _cited("USD/kg", 0, 1e5)
    process_cost: _cited("USD/m^2", 0, 1e3)
    alloys_with: list[Literal["Li", "Na", "K"]] = Field(default_factory=list)
    alloys_with_source: str = ""

    @model_validator(mode="after")
    def _alloy_source(self):
        if self.alloys_with and not self.alloys_with_source:
            raise ValueError("alloys_with needs alloys_with_source")
        return self


class Coating(_Entry):
    """A coating (nucleation layer) on the negative collector."""

    kind: Literal["coating"]
    ce_class: Literal["none", "alloy", "carbon", "composite"]
    density: _cited("g/cm^3", 0.1, 25)
    uptake_capacity: dict[Literal["Li", "Na", "K"], _cited("mAh/g", 0, 5000)]
    price: _cited("USD/kg", 0, 1e6)
    process_cost: _cited("USD/m^2", 0, 1e3)

    @field_validator("uptake_capacity")
    @classmethod
    def _all_metals(cls, v):
        missing = [m for m in METALS if m not in v]
        if missing:
            raise ValueError(f"uptake_capacity needs an entry for {missing}")
        return v


class Electrolyte(_Entry):
    """A liquid or solid electrolyte.

    For solids the separator layer is the electrolyte; the critical current
    density at 25 °C and zero stack pressure, its activation energy and its
    pressure scale feed the feasibility rule.
    """

    kind: Literal["electrolyte"]
    metal: Literal["Li", "Na", "K"]
    state: Literal["liquid", "solid"]
    family: Literal[
        "carbonate",
        "dual-salt",
        "ether",
        "hce",
        "lhce",
        "ionic-liquid",
        "gel",
        "sulfide",
        "oxide",
        "halide",
        "polymer",
        "lipon",
        "borohydride",
        "nasicon",
        "beta-alumina",
    ]
    density: _cited("g/cm^3", 0.5, 8)
    oxidative_limit: _cited("V", 1, 7)
    min_temperature: _cited("degC", -100, 200)
    max_temperature: _cited("degC", -100, 400)
    price: _cited("USD/kg", 0, 1e5)
    transport_current: _cited("mA/cm^2", 0.01, 1000)
    critical_current_density: _cited("mA/cm^2", 0, 1000) | None = None
    ccd_activation_energy: _cited("eV", 0, 3) | None = None
    ccd_pressure_scale: _cited("MPa", 1e-3, 1000) | None = None
    min_stack_pressure: _cited("MPa", 0, 1000) | None = None
    catholyte_fraction: _cited("1", 0, 0.9) | None = None
    decay_onset_temperature: _cited("degC", -100, 400)
    consumption: _cited("g/Ah", 0, 100) | None = None
    corrosion_current: _cited("uA/cm^2", 0, 1000) | None = None

    @model_validator(mode="after")
    def _solid_fields(self):
        needed = ("critical_current_density", "ccd_activation_energy", "ccd_pressure_scale")
        if self.state == "solid":
            needed += ("min_stack_pressure", "catholyte_fraction")
        else:
            needed += ("consumption", "corrosion_current")
        missing = [f for f in needed if getattr(self, f) is None]
        if missing:
            raise ValueError(f"{self.state} electrolyte needs {missing}")
        if self.max_temperature.value <= self.min_temperature.value:
            raise ValueError("max_temperature must exceed min_temperature")
        return self


class Separator(_Entry):
    """A porous polymer separator (ignored when the electrolyte is solid)."""

    kind: Literal["separator"]
    density: _cited("g/cm^3", 0.3, 5)
    porosity: _cited("1", 0, 0.95)
    price: _cited("USD/m^2", 0, 100)


class Packaging(_Entry):
    """A cell format: the bare repeat unit ("stack") or a pouch cell.

    A pouch holds ``layers`` double-sided repeat units of the given electrode
    size (or as many as bring it nearest to ``target_capacity``), laminate foil on both faces, a seal margin and tabs. Pressure
    hardware (end plates shared by ``cells_per_module`` cells) is sized for the
    stack pressure; ``max_stack_pressure`` is the practical limit used by the
    feasibility rule.
    """

    kind: Literal["packaging"]
    format: Literal["stack", "pouch"]
    max_stack_pressure: _cited("MPa", 0, 1000)
    layers: _cited("1", 1, 1000) | None = None  # (a pouch of no layers stores nothing: cost per kWh 0/0)
    electrode_width: _cited("mm", 1, 2000) | None = None
    electrode_length: _cited("mm", 1, 2000) | None = None
    seal_width: _cited("mm", 0, 100) | None = None
    laminate_thickness: _cited("um", 0, 2000) | None = None
    laminate_density: _cited("g/cm^3", 0.1, 10) | None = None
    laminate_price: _cited("USD/m^2", 0, 100) | None = None
    tab_mass: _cited("g", 0, 1000) | None = None
    plate_density: _cited("g/cm^3", 0.1, 25) | None = None
    plate_strength: _cited("MPa", 1, 5000) | None = None
    cells_per_module: _cited("1", 1, 1000) | None = None
    target_capacity: _cited("A*h", 0.001, 10000) | None = None

    @model_validator(mode="after")
    def _pouch_fields(self):
        if self.format == "pouch":
            either = ("layers", "target_capacity")
            missing = [
                k
                for k, f in type(self).model_fields.items()
                if getattr(self, k) is None and f.default is None and k not in either
            ]
            if all(getattr(self, k) is None for k in either):
                missing.append("layers or target_capacity")
            if missing:
                raise ValueError(f"pouch format needs {missing}")
        return self


class Anode(_Entry):
    """A host negative electrode for baselines ('none' means anode-free/metal)."""

    kind: Literal["anode"]
    specific_capacity: _cited("mAh/g", 0, 5000)
    coating_density: _cited("g/cm^3", 0, 10)
    porosity: _cited("1", 0, 0.95)
    active_fraction: _cited("1", 0, 1)
    np_ratio: _cited("1", 0, 10)
    voltage_offset: _cited("V", 0, 3)
    price: _cited("USD/kg", 0, 1e4)


ENTRY_TYPES: dict[str, type[_Entry]] = {
    "metal": Metal,
    "cathode": Cathode,
    "collector": Collector,
    "coating": Coating,
    "electrolyte": Electrolyte,
    "separator": Separator,
    "packaging": Packaging,
    "anode": Anode,
}
