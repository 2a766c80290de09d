"""Literature rows as designs (:func:`row_design`).

A row of the literature table becomes the inputs of a design: catalogue
cathode, electrolyte and coating, stated or default loading, collector and
electrolyte amount, the extras of the seed 001 prototypes. The calibration
inverts exactly the design that ``tools/build_validation.py`` evaluates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from dse.materials.catalogue import Catalogue
from dse.models.ce import REFERENCE
from dse.models.stack import metal_thickness_per_capacity

__all__ = [
    "METALS",
    "DEFAULT_CATHODE",
    "DEFAULT_COLLECTOR",
    "CLASS_COATING",
    "DIGLYME",
    "PROTOTYPE_PREFIX",
    "PROTOTYPE_EXTRAS",
    "DESIGN_DEFAULTS",
    "FLOODED_ELECTROLYTE",
    "shipped_catalogue",
    "catalogue_electrolytes",
    "row_design",
]

METALS = ("Li", "Na", "K")


DEFAULT_CATHODE = {"Li": "NMC811", "Na": "NVP", "K": "KPW"}
#: negative collector when a row names none
DEFAULT_COLLECTOR = {"Li": "Cu", "Na": "Al", "K": "Al"}
#: catalogue coating standing for a coating class (with zero thickness only the class matters)
CLASS_COATING = {
    "other-alloy": "Sn",
    "oxide": "none",
    "polymer": "none",
    "other": "none",
    "": "none",
}
#: a Na ether electrolyte that is diglyme (catalogue ``Na-diglyme``)
DIGLYME = re.compile(r"diglyme|G2\b|diethylene glycol|DEGDME", re.I)
#: row ids of the seed 001 Table 5 prototypes
PROTOTYPE_PREFIX = "s001-T5-"
#: inputs of seed 001 Table 5 prototypes that the CSV has no column for (seed-001 lines cited)
PROTOTYPE_EXTRAS: dict[str, dict] = {
    "s001-T5-598": {
        "coating_thickness": 7.5,
        "separator_thickness": 40.0,
        "_note": "Ag-C 5–10 µm → 7.5 µm, Li6PS5Cl 40 µm (L598)",
    },
    "s001-T5-599": {"_note": "product plan; no loading (3 mAh/cm²)"},
    "s001-T5-600": {
        "current_collector_thickness": 10.0,
        "_note": "SUS430 10 µm (L600); Ag-C thickness not stated (0)",
    },
    "s001-T5-601a": {
        "overrides": {"Li-LLZO": {"critical_current_density": "3.5 mA/cm^2"}},
        "_note": "cathode not stated (NMC811); LLZO CCD raised to 3.5 mA/cm² as the "
        "catalogue note advises for this cell",
    },
    "s001-T5-601b": {
        "overrides": {"Li-LLZO": {"critical_current_density": "3.5 mA/cm^2"}},
        "_note": "cathode not stated (NMC811); LLZO CCD 3.5 mA/cm²",
    },
    "s001-T5-601c": {
        "overrides": {"Li-LLZO": {"critical_current_density": "3.5 mA/cm^2"}},
        "_note": "fast-charge test, no cycle numbers; cathode NMC811",
    },
    "s001-T5-608": {
        "overrides": {"Li-LLZO": {"critical_current_density": "3.5 mA/cm^2"}},
        "_note": "cathode not stated (NMC811); 45 °C is the fast-charge test",
    },
    "s001-T5-609": {
        "separator_thickness": 12.0,
        "electrolyte_amount": 2.0,
        "_note": "PE 12 µm, 2.0 g/Ah (L609)",
    },
    "s001-T5-610": {
        "cathode_loading": 0.6,
        "coating_thickness": 15.0,
        "separator_thickness": 65.0,
        "_note": "0.54–0.65 → 0.6 mAh/cm², Ag-C 15 µm, PEO 55–75 → 65 µm (L610, L630)",
    },
    "s001-T5-617": {"_note": "electrolyte amount '0.55 g 2M [?]' unreadable (fill)"},
    "s001-T5-618": {"electrolyte_amount": 2.6, "_note": "2.6 g/Ah (L618)"},
    "s001-T5-619": {
        "cathode_loading": 1.65,
        "electrolyte_amount": 7.0,
        "separator": "PP",
        "energy_basis": "cell",
        "_note": "printed 0.5 mAh/cm² is doubtful; 15 mg/cm² × 110 mAh/g = 1.65; "
        "7 g/Ah, PP (L619); 110 Wh/kg of a 1.79 Ah pouch read as cell basis",
    },
    "s001-T5-620": {
        "cathode_loading": 0.56,
        "_note": "3.3–4.2 mg/cm² × 150 mAh/g → 0.56 mAh/cm² (L620)",
    },
}
#: what :func:`row_design` uses for an input a row does not state (rendered in docs/validation.md)
DESIGN_DEFAULTS = [
    (
        "cathode",
        "the row's catalogue id (no design without one); seed 001 Table 5 rows without one: NMC811 (Li), NVP (Na)",
    ),
    (
        "cathode_loading",
        "stated value; else 3 mAh/cm² (the surrogate's reference; such rows form their own table)",
    ),
    ("current_collector", "Cu, Al, Ni or SUS as stated; else Cu for Li, Al for Na and K"),
    (
        "coating",
        "catalogue id as stated; `other-alloy` → Sn (alloy class); oxide, polymer, other and unstated → none",
    ),
    (
        "coating_thickness",
        "0 µm unless stated: the coating acts only through its CE class (no mass, no uptake)",
    ),
    (
        "electrolyte",
        "first catalogue electrolyte of the row's metal and family (Na ether: "
        "Na-diglyme when the verbatim names diglyme, else Na-ether)",
    ),
    (
        "stack_pressure",
        "stated; else 0 for liquids and the electrolyte's minimum contact pressure for solids (as in the calibration)",
    ),
    ("temperature", "stated; else 25 °C"),
    (
        "charge_rate, discharge_rate",
        "stated (one stated rate is used for both); else the stated "
        "current density ÷ loading; else both 1 mA/cm² ÷ loading, the "
        "reference current density",
    ),
    ("depth_of_discharge", "stated; else 1"),
    ("metal_excess", "stated reservoir × metal thickness per capacity; else 0"),
    (
        "separator, separator_thickness, electrolyte_amount",
        "PE, 20 µm (vocabulary defaults) and a flooded 10 g/Ah of liquid unless Table 5 states them; 30 µm for solids",
    ),
    (
        "cell_format",
        "stack (repeat unit); a cell-basis energy is compared with the catalogue pouch (20 layers, 90 × 140 mm)",
    ),
]


def shipped_catalogue() -> Catalogue:
    """The shipped catalogue, as ``dse.calibration.load_catalogue`` loads it.

    Looked up on the package at call time, so that replacing
    ``dse.calibration.load_catalogue`` (as the tests do) reaches every module
    of the package.
    """
    from dse import calibration

    return calibration.load_catalogue()


def catalogue_electrolytes(catalogue: Catalogue | None = None) -> dict[str, str]:
    """First catalogue electrolyte of every ``metal/family`` group.

    Examples
    --------
    >>> catalogue_electrolytes()["Li/dual-salt"]
    'Li-dual-salt'
    """
    catalogue = catalogue or shipped_catalogue()
    table: dict[str, str] = {}
    for e in catalogue.ids("electrolyte"):
        entry = catalogue.get("electrolyte", e)
        table.setdefault(f"{entry.metal}/{entry.family}", e)
    return table


def _number(value) -> float | None:
    """A stated number, or None for an empty cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def row_design(
    row: Mapping,
    catalogue: Catalogue | None = None,
    electrolytes: Mapping[str, str] | None = None,
) -> tuple[dict | None, list[str]]:
    """A :func:`dse.spec.parse_design` mapping for one literature row.

    The one translation of a results row into a design, used both for the
    chain-consistent calibration target (:func:`chain_targets`) and by
    ``tools/build_validation.py``. Inputs the row does not state take the
    values of :data:`DESIGN_DEFAULTS`; prototypes of seed 001 Table 5 get
    the inputs of :data:`PROTOTYPE_EXTRAS` that the table has no column for.

    Parameters
    ----------
    row : mapping
        One row of :func:`dse.literature.load_literature` (a ``Series``).
    catalogue : Catalogue, optional
    electrolytes : mapping, optional
        :func:`catalogue_electrolytes` (pass it when translating many rows).

    Returns
    -------
    design : dict or None
        The mapping, or None when no design can be built: the metal is not
        Li, Na or K, the row's cathode is not a catalogue id (except a
        Table 5 prototype, which gets :data:`DEFAULT_CATHODE`), or no
        catalogue electrolyte has the row's metal and family.
    notes : list of str
        The assumptions made, or why no design could be built.

    Examples
    --------
    >>> from dse.literature import load_literature
    >>> lit = load_literature().set_index("row_id", drop=False)
    >>> design, notes = row_design(lit.loc["s001-T5-618"])
    >>> design["cathode"], design["electrolyte"], design["electrolyte_amount"], notes
    ('NMC532', 'Li-dual-salt', 2.6, ['2.6 g/Ah (L618)'])
    >>> row_design(lit.loc["s000-T1-13"])
    (None, ['cathode not stated is not a catalogue id'])
    """
    catalogue = catalogue or shipped_catalogue()
    electrolytes = electrolytes if electrolytes is not None else catalogue_electrolytes(catalogue)
    metal = row["metal"]
    if metal not in METALS:
        return None, [f"metal {metal} is not Li, Na or K"]
    extras = dict(PROTOTYPE_EXTRAS.get(row["row_id"], {}))
    notes = [extras.pop("_note")] if "_note" in extras else []
    extras.pop("energy_basis", None)
    group = f"{metal}/{row['electrolyte_family']}"
    if group not in electrolytes:
        return None, [f"no catalogue electrolyte for {group}"]
    prototype = str(row["row_id"]).startswith(PROTOTYPE_PREFIX)
    if row["cathode"] not in catalogue.ids("cathode") and not prototype:
        return None, [f"cathode {row['cathode'] or 'not stated'} is not a catalogue id"]
    electrolyte = electrolytes[group]
    if group == "Na/ether":
        named = "Na-diglyme" if DIGLYME.search(str(row["electrolyte_verbatim"])) else "Na-ether"
        electrolyte = named if named in catalogue.ids("electrolyte") else electrolyte
    solid = catalogue.get("electrolyte", electrolyte).state == "solid"
    cathode = row["cathode"] if row["cathode"] in catalogue.ids("cathode") else DEFAULT_CATHODE[metal]
    if cathode != row["cathode"] and "cathode" not in " ".join(notes):
        notes.append(f"cathode {row['cathode'] or 'not stated'} → {cathode}")
    design: dict = {
        "name": row["row_id"],
        "metal": metal,
        "cathode": cathode,
        "electrolyte": electrolyte,
    }
    loading = _number(row["cathode_loading"])
    if loading is None and "cathode_loading" not in extras:
        loading = REFERENCE["areal_capacity"]
        notes.append("loading imputed 3 mAh/cm²")
    design["cathode_loading"] = extras.pop("cathode_loading", loading)
    design["current_collector"] = (
        row["collector"] if row["collector"] in catalogue.ids("collector") else DEFAULT_COLLECTOR[metal]
    )
    coating = row["coating"] if row["coating"] in catalogue.ids("coating") else CLASS_COATING.get(row["coating"])
    design["coating"] = coating or "none"
    pressure = _number(row["stack_pressure"])
    if pressure is None:
        pressure = catalogue.value("electrolyte", electrolyte, "min_stack_pressure", 0.0) if solid else 0.0
    design["stack_pressure"] = pressure
    temperature = _number(row["temperature"])
    design["temperature"] = REFERENCE["temperature"] if temperature is None else temperature
    charge, discharge = _number(row["charge_rate"]), _number(row["discharge_rate"])
    current = _number(row["current_density"])
    if charge is None and current is not None:
        charge = current / design["cathode_loading"]
    charge, discharge = charge or discharge, discharge or charge
    if charge is None:
        charge = discharge = REFERENCE["current_density"] / design["cathode_loading"]
        notes.append("rates imputed (1 mA/cm²)")
    design["charge_rate"], design["discharge_rate"] = charge, discharge
    depth = _number(row["depth_of_discharge"])
    if depth is not None:
        design["depth_of_discharge"] = depth
    reservoir = _number(row["reservoir"])
    if reservoir:
        per_capacity = metal_thickness_per_capacity(
            catalogue.value("metal", metal, "molar_mass"),
            catalogue.value("metal", metal, "density"),
        )
        design["metal_excess"] = reservoir * float(per_capacity)
        notes.append(f"reservoir {reservoir:g} mAh/cm² → {design['metal_excess']:.1f} µm")
    if solid:
        design["separator_thickness"] = 30.0
    elif "electrolyte_amount" not in extras:
        design["electrolyte_amount"] = FLOODED_ELECTROLYTE
        notes.append(f"electrolyte amount not stated: flooded ({FLOODED_ELECTROLYTE:g} g/Ah)")
    design.update(extras)
    return design, notes


#: electrolyte amount of a literature cell that does not state it [g/Ah]: coin and
#: lab pouch cells are flooded (40-75 µL on a few mAh, ~10-20 g/Ah), far above what
#: their pores need, so they do not dry out within their reported cycles
FLOODED_ELECTROLYTE = 10.0
