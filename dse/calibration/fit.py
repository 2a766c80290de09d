"""Calibrate the CE surrogate on cycling results (``dse calibrate``).

The surrogate of :mod:`dse.models.ce` is linear in its parameters::

    y = ln(1 - CE) = r[metal/family] + c[coating class] + Σ_j β_j z_j + ε

so with the independent normal priors of :data:`dse.coefficients.PRIORS`
the posterior of ``θ = (r, c, β)`` is normal and has a closed form. The
literature is heterogeneous (CE definitions, protocols, missing conditions),
so the noise ``ε`` is Student-t with ``ν = 4`` degrees of freedom, fitted by
expectation–maximisation: each row gets a weight
``w_i = (ν + 1) / (ν + E[r_i²] / s²)`` (iteratively reweighted least
squares, a smooth Huber-like down-weighting of outliers), the posterior is
the weighted Gaussian one, and the scale ``s`` is re-estimated from the
weighted expected squared residuals, until both settle.

The target ``y`` of a row that reports retention R after n cycles is the
CE at which the model chain itself predicts R after n cycles
(:func:`chain_targets`): the row becomes a design (:func:`row_design`, the
same translation ``tools/build_validation.py`` uses) and the chain's
inventory model, surplus included, is inverted by bisection in
``ln(1 - CE)``. Rows that cannot be made into a design (no catalogue
cathode or electrolyte) keep the surplus-free ``CE = R^(1/n)``.

Pipeline (:func:`calibrate`): :func:`dse.literature.load_literature` →
:func:`select_rows` (documented exclusion rules, target and features per
row) → :func:`fit_posterior` → :func:`cross_validate` (k-fold, seeded) →
:class:`FitResult` (coefficients with provenance, residuals, report) →
YAML. :func:`sample_cycle_life` draws coefficient vectors from the
posterior to check the closed-form cycle-life quantiles of
:class:`~dse.chain.ModelChain`.

>>> result = calibrate(folds=3)
>>> result.summary["rows_used"] > 50
True
>>> 0.99 < result.coefficients.reference_ce("Li/dual-salt") < 0.9999
True
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from dse.chain import ModelChain
from dse.coefficients import DEFAULT_PATH as DEFAULT_COEFFICIENTS_PATH
from dse.coefficients import CeCoefficients, constraint_bounds, constraints, prior_coefficients
from dse.errors import CalibrationError, SpecError
from dse.literature import load_literature, parse_flags, source_keys
from dse.materials.catalogue import Catalogue
from dse.models import chain as physics
from dse.models.ce import FEATURE_NAMES, REFERENCE, ce_features
from dse.models.lifetime import capacity_curve
from dse.models.stack import metal_thickness_per_capacity
from dse.spec import parse_design

__all__ = [
    "METALS",
    "EXCLUDED_FLAGS",
    "SOLID_FAMILIES",
    "COATING_CLASS_OF",
    "DEGREES_OF_FREEDOM",
    "PREMETALLATED",
    "PRINTED_BOUND",
    "DEFAULT_CATHODE",
    "DEFAULT_COLLECTOR",
    "CLASS_COATING",
    "PROTOTYPE_PREFIX",
    "PROTOTYPE_EXTRAS",
    "DESIGN_DEFAULTS",
    "LOG_LOSS_BOUNDS",
    "CHAIN_SURPLUS",
    "CHAIN_NO_LOSS",
    "TARGETS",
    "Selection",
    "Posterior",
    "FitResult",
    "catalogue_electrolytes",
    "row_design",
    "chain_retention",
    "chain_cycling",
    "invert_chain_retention",
    "chain_targets",
    "select_rows",
    "design_matrix",
    "fit_posterior",
    "project",
    "source_folds",
    "cross_validate",
    "band_coverage",
    "predictive_residual_sd",
    "cycles_to_80",
    "calibrate",
    "sample_cycle_life",
    "write_default",
]

METALS = ("Li", "Na", "K")
#: flags that exclude a row (reason in docs/calibration.md)
EXCLUDED_FLAGS = (
    "duplicate_of",
    "ce_gt_100",
    "column_shift",
    "unit_doubt",
    "no_numbers",
    "projection",
    "reservoir",
)
#: electrolyte families that are solid when ``electrolyte_state`` is not given
SOLID_FAMILIES = (
    "sulfide",
    "oxide",
    "halide",
    "polymer",
    "lipon",
    "nasicon",
    "beta-alumina",
    "borohydride",
)
#: ``coating`` values that are not catalogue ids, mapped to a CE class
COATING_CLASS_OF = {
    "": "none",
    "none": "none",
    "oxide": "none",
    "polymer": "none",
    "other": "none",
    "other-alloy": "alloy",
}
#: Student-t degrees of freedom of the residuals (robust regression)
DEGREES_OF_FREEDOM = 4.0
#: how a retention row becomes a target: inverted through the chain, or ``R^(1/n)``
TARGETS = ("chain", "ce_n")
#: cathodes that carry extra metal (over-lithiated, presodiated, sacrificial salt)
PREMETALLATED = re.compile(
    r"presodiat|prelithiat|pre-sodiat|pre-lithiat|over-lithiat|overlithiat|Na-rich|Li-rich", re.I
)
#: retention or cycle count printed as a bound (">20 %", ">1000 cycles", "<70 %")
PRINTED_BOUND = re.compile(r"(?:Retention|Cycles) printed '[<>]")
_Z90 = float(stats.norm.ppf(0.9))
_LN08 = float(np.log(0.8))


# --------------------------------------------------------------------------- selection
@dataclass
class Selection:
    """Rows used for calibration and rows left out, each with its reason.

    Attributes
    ----------
    used : pandas.DataFrame
        ``row_id``, ``file_line``, ``metal``, ``group``, ``coating_class``,
        ``observation`` (``"retention"`` or ``"average_ce"``), ``target``
        (``"chain"``: inverted through the model chain; ``"ce_n"``:
        ``R^(1/n)``, no design for the row; ``"average_ce"``: the reported
        CE), ``target_note`` (why a retention row has no chain target),
        ``y_ce_n`` = ln(1 − R^(1/n)) [-] (NaN for an average CE),
        ``ce_observed`` (the target CE) [-], ``y`` = ln(1 − CE) [-],
        ``n80_observed`` (cycles to 80 % without reservoir at the target CE)
        [cycles], one column ``z_<feature>`` per feature and ``imputed``
        (inputs set to the reference condition).
    excluded : pandas.DataFrame
        ``row_id``, ``file_line``, ``metal``, ``reason``.
    """

    used: pd.DataFrame
    excluded: pd.DataFrame

    def reason_counts(self) -> dict[str, int]:
        """Number of excluded rows per reason."""
        return {k: int(v) for k, v in self.excluded["reason"].value_counts().items()}


def cycles_to_80(log_loss):
    """Cycles to 80 % retention with no reservoir, ``ln 0.8 / ln CE`` [cycles].

    Parameters
    ----------
    log_loss : array_like
        ``ln(1 - CE)`` [-].

    Examples
    --------
    >>> round(float(cycles_to_80(np.log(0.001))), 1)   # 99.9 %: seed 004 L123
    223.0
    """
    with np.errstate(divide="ignore"):
        return _LN08 / np.log1p(-np.exp(np.minimum(log_loss, 0.0)))


def _coating_classes(values: pd.Series, catalogue: Catalogue) -> pd.Series:
    ids = set(catalogue.ids("coating"))

    def one(v: str) -> str | None:
        if v in ids:
            return catalogue.get("coating", v).ce_class
        return COATING_CLASS_OF.get(v)

    return values.map(one)


def _electrolyte_table(catalogue: Catalogue) -> dict[str, tuple[bool, float, float]]:
    """``metal/family`` → (solid, minimum stack pressure [MPa], decay onset [°C]) of its first catalogue entry."""
    table: dict[str, tuple[bool, float, float]] = {}
    for e in catalogue.ids("electrolyte"):
        entry = catalogue.get("electrolyte", e)
        key = f"{entry.metal}/{entry.family}"
        if key not in table:
            table[key] = (
                entry.state == "solid",
                catalogue.value("electrolyte", e, "min_stack_pressure", 0.0),
                catalogue.value("electrolyte", e, "decay_onset_temperature"),
            )
    return table


def _features(rows: pd.DataFrame, catalogue: Catalogue) -> tuple[np.ndarray, list[str]]:
    """Feature matrix ``(n, len(FEATURE_NAMES))`` and the inputs imputed for each row.

    A missing input takes its value at the reference condition of the
    surrogate, so its own feature is 0: stack pressure 0 for liquids and the
    electrolyte's minimum contact pressure for solids, 25 °C, 3 mAh/cm², full
    depth of discharge, equal charge and discharge rates. The charge current
    density is ``charge_rate × cathode_loading`` when not given (with the
    loading at 3 mAh/cm² if unknown), and 1 mA/cm² when neither is known.
    """
    table = _electrolyte_table(catalogue)
    state = rows["electrolyte_state"].astype(str)
    family = rows["electrolyte_family"].astype(str)
    solid = np.where(
        state.isin(["solid", "hybrid"]),
        True,
        np.where(state.isin(["liquid", "gel"]), False, family.isin(SOLID_FAMILIES)),
    )
    pmin = rows["group"].map(lambda g: table.get(g, (False, 0.0, 0.0))[1]).to_numpy(float)
    onset = rows["group"].map(lambda g: table.get(g, (False, 0.0, 60.0))[2]).to_numpy(float)
    num = {
        c: rows[c].to_numpy(float)
        for c in (
            "stack_pressure",
            "current_density",
            "temperature",
            "cathode_loading",
            "depth_of_discharge",
            "charge_rate",
            "discharge_rate",
        )
    }
    missing = {c: ~np.isfinite(v) for c, v in num.items()}
    loading = np.where(
        missing["cathode_loading"], REFERENCE["areal_capacity"], num["cathode_loading"]
    )
    pressure = np.where(
        missing["stack_pressure"], np.where(solid, pmin, 0.0), num["stack_pressure"]
    )
    from_rate = np.where(missing["charge_rate"], np.nan, num["charge_rate"] * loading)
    current = np.where(missing["current_density"], from_rate, num["current_density"])
    current_missing = ~np.isfinite(current)
    current = np.where(current_missing, REFERENCE["current_density"], current)
    temperature = np.where(missing["temperature"], REFERENCE["temperature"], num["temperature"])
    dod = np.where(missing["depth_of_discharge"], 1.0, num["depth_of_discharge"])
    ratio_missing = missing["charge_rate"] | missing["discharge_rate"]
    charge = np.where(ratio_missing, 1.0, num["charge_rate"])
    discharge = np.where(ratio_missing, 1.0, num["discharge_rate"])
    z = np.column_stack(
        ce_features(pressure, pmin, solid, current, temperature, onset, loading, dod, charge, discharge)
    ).astype(float)
    flags = {
        "stack_pressure": missing["stack_pressure"],
        "current_density": current_missing,
        "temperature": missing["temperature"],
        "cathode_loading": missing["cathode_loading"],
        "depth_of_discharge": missing["depth_of_discharge"],
        "rate_ratio": ratio_missing,
    }
    imputed = [",".join(k for k, m in flags.items() if m[i]) for i in range(len(rows))]
    return z, imputed


# --------------------------------------------------------------------------- designs from rows
#: cathode of a seed 001 Table 5 prototype that names none
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
        "the row's catalogue id (no design without one); seed 001 Table 5 rows without one: "
        "NMC811 (Li), NVP (Na)",
    ),
    (
        "cathode_loading",
        "stated value; else 3 mAh/cm² (the surrogate's reference; such rows form their own table)",
    ),
    ("current_collector", "Cu, Al, Ni or SUS as stated; else Cu for Li, Al for Na and K"),
    (
        "coating",
        "catalogue id as stated; `other-alloy` → Sn (alloy class); oxide, polymer, other "
        "and unstated → none",
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
        "stated; else 0 for liquids and the electrolyte's minimum contact pressure "
        "for solids (as in the calibration)",
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
        "PE, 20 µm (vocabulary defaults) and a flooded 10 g/Ah of liquid unless Table 5 states them; "
        "30 µm for solids",
    ),
    (
        "cell_format",
        "stack (repeat unit); a cell-basis energy is compared with the catalogue "
        "pouch (20 layers, 90 × 140 mm)",
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
    cathode = (
        row["cathode"] if row["cathode"] in catalogue.ids("cathode") else DEFAULT_CATHODE[metal]
    )
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
        row["collector"]
        if row["collector"] in catalogue.ids("collector")
        else DEFAULT_COLLECTOR[metal]
    )
    coating = (
        row["coating"]
        if row["coating"] in catalogue.ids("coating")
        else CLASS_COATING.get(row["coating"])
    )
    design["coating"] = coating or "none"
    pressure = _number(row["stack_pressure"])
    if pressure is None:
        pressure = (
            catalogue.value("electrolyte", electrolyte, "min_stack_pressure", 0.0) if solid else 0.0
        )
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


# --------------------------------------------------------------------------- chain target
#: interval searched for the chain-consistent target, ln(1 − CE): CE from 1 − 1e-7 down to 90 %
LOG_LOSS_BOUNDS = (math.log(1.0e-7), math.log(0.1))
#: exclusion reasons of rows whose retention the chain cannot reproduce inside the bounds
CHAIN_SURPLUS = "chain keeps more than the reported retention even at CE = 90 % (surplus)"
CHAIN_NO_LOSS = "chain fades more than reported even at CE = 1 − 1e-7"


def chain_retention(chain: ModelChain, inputs: Mapping[str, object], log_loss, cycles):
    """Retention after ``cycles`` cycles that the chain predicts at a given CE.

    ``capacity_at_cycle(cycles + 1, A(CE), q, CE_cell) / min(q, A(CE))``,
    where the inventory ``A(CE)`` (first charge ``Q/η_c``, minus the
    formation loss ``first_cycle_loss(CE)``, metal trapped in the coating and
    metal stranded by the discharge rate, plus any reservoir), the cycled
    capacity ``q`` (depth of discharge × utilisation × ``Q``) and the
    full-cell ``CE_cell`` (the plating CE less the calendar corrosion of the
    cycle's hours) are those of the chain's lifetime half
    (:func:`dse.models.chain.cycling`) for the design, run with
    ``ln(1 - CE) = log_loss`` in place of the surrogate. Dry-out and cathode
    fade end a cell's life in the chain but do not shape this inventory
    curve, so they are not part of the target. As in ``docs/validation.md``, retention after n cycles is
    the capacity of cycle n + 1 over that of cycle 1.

    Parameters
    ----------
    chain : ModelChain
        Supplies the catalogue and the formation constants of its coefficients.
    inputs : mapping
        Design inputs as for :meth:`ModelChain.evaluate`.
    log_loss : array_like
        ``ln(1 - CE)`` [-]; broadcasts with the designs.
    cycles : array_like
        Cycles after which retention is read [cycles].

    Returns
    -------
    ndarray
        Retention [-] (1 while the inventory surplus lasts).

    Examples
    --------
    NMC811 at 0.2C/0.5C, flooded: the surplus its first-cycle inefficiency
    leaves on the negative side keeps the metal inventory whole for about 85
    cycles at 99.9 % (meanwhile the cathode's own fade takes 0.6 %), then it
    decays as CEⁿ:

    >>> chain = ModelChain(uncertainty=False)
    >>> inputs = {"cathode": "NMC811", "cathode_loading": 3.0, "electrolyte_amount": 10.0}
    >>> np.round(chain_retention(chain, inputs, np.log(0.001), [50, 150, 300]), 3).tolist()
    [0.994, 0.955, 0.81]
    """
    out = _outputs_at(chain, inputs, log_loss)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        # every mechanism of the chain: the inventory that cycles at the full-cell CE, the
        # cathode's fade, the electrolyte's dry-out
        capacity = capacity_curve(
            np.asarray(cycles, dtype=float) + 1.0,
            out.cyclable_inventory,
            out.cycled_capacity,
            out.coulombic_efficiency,
            out.cathode_fade,
            np.where(np.isfinite(out.dry_out_life), out.dry_out_life, np.inf),
        )
        return np.asarray(capacity / out.capacity, dtype=float)


def _at_log_loss(chain: ModelChain, inputs: Mapping[str, object], log_loss):
    """Parameters and constants of the chain with ``ln(1 - CE) = log_loss`` in place of the surrogate."""
    params = chain.parameters(inputs)
    log_loss = np.asarray(log_loss, dtype=float)
    shape = np.broadcast_shapes(np.shape(params.design.cathode_loading), log_loss.shape)
    zero = np.zeros(shape)
    params = params._replace(ce=physics.CeTerms(log_loss + zero, zero, (zero,) * len(FEATURE_NAMES)))
    return params, chain.constants._replace(slopes=(0.0,) * len(FEATURE_NAMES), uncertainty=0.0)


def _outputs_at(chain: ModelChain, inputs: Mapping[str, object], log_loss) -> physics.Outputs:
    """Every output of the chain with ``ln(1 - CE) = log_loss`` in place of the surrogate."""
    params, constants = _at_log_loss(chain, inputs, log_loss)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return physics.evaluate(params, constants)


def _cycling_at(chain: ModelChain, inputs: Mapping[str, object], log_loss):
    """The chain's lifetime half (:func:`dse.models.chain.cycling`) at a given ``ln(1 - CE)``.

    Its ``coulombic_efficiency`` is the full-cell CE (calendar corrosion of
    the cycle's hours included) and ``cyclable`` the inventory without the
    metal the cathode cannot take back at the discharge rate.
    """
    params, constants = _at_log_loss(chain, inputs, log_loss)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return physics.cycling(params, constants, False)


def chain_cycling(chain: ModelChain, inputs: Mapping[str, object]):
    """The chain's lifetime half for designs at the surrogate's own CE (what validation reads).

    >>> cyc = chain_cycling(ModelChain(uncertainty=False), {"cathode": "NMC811", "cathode_loading": 3.0})
    >>> bool(cyc.cyclable <= cyc.inventory.inventory)
    True
    """
    params = chain.parameters(inputs)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return physics.cycling(params, chain.constants._replace(uncertainty=0.0), False)


def invert_chain_retention(
    chain: ModelChain,
    inputs: Mapping[str, object],
    retention,
    cycles,
    bounds: tuple[float, float] = LOG_LOSS_BOUNDS,
    iterations: int = 60,
) -> tuple[np.ndarray, np.ndarray]:
    """``ln(1 - CE)`` at which the chain reproduces a reported retention.

    Bisection in ``ln(1 - CE)`` on :func:`chain_retention`, which falls
    monotonically as the loss grows (the formation loss grows with it and
    the recursion loses more per cycle), vectorised over designs. 60 halvings
    of ``bounds`` leave an error far below 10⁻¹⁰.

    Parameters
    ----------
    chain : ModelChain
    inputs : mapping
        Design inputs; arrays of one shape, one design per retention.
    retention : array_like
        Reported retention, strictly between 0 and 1 [-].
    cycles : array_like
        Cycles after which it was reported [cycles].
    bounds : (float, float)
        Interval searched, ``ln(1 - CE)`` [-].
    iterations : int, default 60

    Returns
    -------
    log_loss : ndarray
        ``ln(1 - CE)`` [-]; NaN where the retention is out of reach.
    status : ndarray of str
        ``"ok"``; ``"surplus"`` where even the upper bound of the loss keeps
        more than the reported retention (the chain's inventory surplus is
        larger than the observed fade allows); ``"no_loss"`` where even the
        lower bound fades more than reported.

    Examples
    --------
    It undoes :func:`chain_retention`:

    >>> chain = ModelChain(uncertainty=False)
    >>> inputs = {"cathode": "NMC811", "cathode_loading": 3.0, "electrolyte_amount": 10.0}  # flooded
    >>> r = chain_retention(chain, inputs, np.log(0.001), 300)
    >>> y, status = invert_chain_retention(chain, inputs, r, 300)
    >>> round(float(np.exp(y)), 9), str(status)
    (0.001, 'ok')

    With a 50 µm Li reservoir and a flooded cell no CE down to 90 % loses 5 % in 10 cycles:

    >>> inputs = {"cathode": "NMC811", "cathode_loading": 3.0, "metal_excess": [0.0, 50.0], "electrolyte_amount": 30.0}
    >>> y, status = invert_chain_retention(chain, inputs, 0.95, 10)
    >>> np.round(-np.expm1(y), 4).tolist(), status.tolist()
    ([0.9931, nan], ['ok', 'surplus'])
    """
    retention = np.asarray(retention, dtype=float)
    cycles = np.asarray(cycles, dtype=float)
    shape = np.broadcast_shapes(retention.shape, cycles.shape)
    low = np.full(shape, float(bounds[0]))
    high = np.full(shape, float(bounds[1]))
    fades_too_fast = chain_retention(chain, inputs, low, cycles) < retention
    keeps_too_much = chain_retention(chain, inputs, high, cycles) > retention
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        above = chain_retention(chain, inputs, middle, cycles) > retention
        low = np.where(above, middle, low)
        high = np.where(above, high, middle)
    status = np.where(keeps_too_much, "surplus", np.where(fades_too_fast, "no_loss", "ok"))
    return np.where(status == "ok", 0.5 * (low + high), np.nan), status


def chain_targets(
    rows: pd.DataFrame,
    coefficients: CeCoefficients | None = None,
    catalogue: Catalogue | None = None,
) -> pd.DataFrame:
    """Chain-consistent ``ln(1 - CE)`` of rows with a retention after n cycles.

    Each row is turned into a design by :func:`row_design` and the CE at
    which the chain predicts the reported retention after the reported
    cycles is found by :func:`invert_chain_retention`. The target therefore
    carries the same inventory surplus (cathode first-cycle inefficiency
    minus formation loss, capacity not delivered at the discharge rate,
    metal trapped by a coating) as the predictions made with it.

    Parameters
    ----------
    rows : pandas.DataFrame
        Literature rows (as :func:`dse.literature.load_literature`) with a
        retention (0–100 %, exclusive) and a cycle count.
    coefficients : CeCoefficients, optional
        Only its formation constants (``formation_loss_multiplier``,
        ``coating_trapped_fraction``) matter. Default: the priors.
    catalogue : Catalogue, optional

    Returns
    -------
    pandas.DataFrame
        Same index as ``rows``: ``y`` (NaN unless solved), ``status``
        (``"ok"``, ``"no_design"``, ``"surplus"``, ``"no_loss"``, see
        :func:`invert_chain_retention`) and ``note`` (why there is no design).

    Examples
    --------
    >>> lit = load_literature().set_index("row_id", drop=False)
    >>> t = chain_targets(lit.loc[["s001-T5-618", "s000-T1-13"]])
    >>> t["status"].tolist(), round(float(-np.expm1(t["y"].iloc[0])), 4)
    (['ok', 'no_design'], 0.9984)
    """
    coefficients = coefficients or prior_coefficients()
    catalogue = catalogue or shipped_catalogue()
    electrolytes = catalogue_electrolytes(catalogue)
    result = pd.DataFrame(index=rows.index)
    result["y"] = np.nan
    result["status"] = "no_design"
    result["note"] = ""
    batches: dict[str, tuple[Mapping | None, list]] = {}
    for index, row in rows.iterrows():
        mapping, notes = row_design(row, catalogue, electrolytes)
        if mapping is None:
            result.at[index, "note"] = notes[0]
            continue
        try:
            design = parse_design(mapping, source=str(row["row_id"]))
        except SpecError as exc:
            result.at[index, "note"] = f"design not valid: {exc}"
            continue
        batch = batches.setdefault(repr(design.overrides), (design.overrides or None, []))
        batch[1].append((index, design.inputs))
    for overrides, members in batches.values():
        chain = ModelChain(
            catalogue=catalogue, coefficients=coefficients, overrides=overrides, uncertainty=False
        )
        index = [i for i, _ in members]
        inputs = {name: [d[name] for _, d in members] for name in members[0][1]}
        y, status = invert_chain_retention(
            chain,
            inputs,
            rows.loc[index, "retention"].to_numpy(float) / 100.0,
            rows.loc[index, "cycles"].to_numpy(float),
        )
        result.loc[index, "y"] = y
        result.loc[index, "status"] = status
    return result


def select_rows(
    frame: pd.DataFrame,
    coefficients: CeCoefficients | None = None,
    catalogue: Catalogue | None = None,
    target: str = "chain",
) -> Selection:
    """Apply the row-selection rules and build target and features.

    Rules, in order (the first that applies is the recorded reason):

    1. metal is Li, Na or K and ``cell_type`` is ``full``;
    2. no flag of :data:`EXCLUDED_FLAGS` (``reservoir``: pre-deposited metal
       breaks retention = CEⁿ; ``projection``: not a measured cell; the
       others mark doubtful, shifted, empty or duplicated rows);
    3. no pre-metallated cathode (over-lithiated, presodiated, sacrificial
       salt: extra inventory, like a reservoir), found in ``notes`` and
       ``cathode_verbatim``;
    4. of a ``table_text_conflict`` pair the table row is kept and the text
       row dropped (the table row states the conditions);
    5. retention and cycle count are not printed as bounds;
    6. ``metal/electrolyte_family`` is a group of the coefficients (empty,
       ``other`` and ``aqueous`` families have none) and ``coating`` maps to
       a CE class;
    7. a target exists: retention (0–100 %, exclusive) with a cycle count;
       else an ``average`` full-cell CE below 100 % that is not a lower
       bound. Half-cell, first-cycle, initial, cumulative, NIRR and
       unspecified CEs are never targets;
    8. with ``target="chain"``, a retention row that :func:`row_design`
       turns into a design gets the CE at which the chain predicts its
       retention (:func:`chain_targets`); the row is dropped if no CE in
       :data:`LOG_LOSS_BOUNDS` does (the chain's surplus outlasts the
       reported fade even at CE 90 %, or it fades too fast at CE → 1).
       Other retention rows (and all with ``target="ce_n"``) get
       ``CE = retention^(1/cycles)``, the CE of a cell with no surplus.

    Parameters
    ----------
    frame : pandas.DataFrame
        From :func:`dse.literature.load_literature`.
    coefficients : CeCoefficients, optional
        Defines the groups and the chain's formation constants (default:
        the priors).
    catalogue : Catalogue, optional
    target : {"chain", "ce_n"}, default "chain"
        How a retention row becomes a target (rule 8).

    Returns
    -------
    Selection

    Examples
    --------
    >>> sel = select_rows(load_literature())
    >>> sel.used.set_index("row_id").loc["s001-T5-618", ["observation", "target"]].tolist()
    ['retention', 'chain']
    >>> sel.excluded.loc[sel.excluded.row_id == "s001-T4-356", "reason"].item()
    'flag reservoir'
    """
    if target not in TARGETS:
        raise CalibrationError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    coefficients = coefficients or prior_coefficients()
    catalogue = catalogue or shipped_catalogue()
    rows = frame.copy()
    rows["group"] = rows["metal"].astype(str) + "/" + rows["electrolyte_family"].astype(str)
    rows["source"] = source_keys(rows)
    rows["coating_class"] = _coating_classes(rows["coating"].astype(str), catalogue)
    flags = rows["flags"].map(parse_flags)
    reason = pd.Series("", index=rows.index, dtype=object)

    def drop(mask, text) -> None:
        mask = pd.Series(np.asarray(mask, dtype=bool), index=rows.index) & (reason == "")
        reason[mask] = text if isinstance(text, str) else text[mask]

    drop(~rows["metal"].isin(METALS), "metal not Li, Na or K")
    drop(rows["cell_type"] != "full", "not a full cell (" + rows["cell_type"].astype(str) + ")")
    for name in EXCLUDED_FLAGS:
        drop(flags.map(lambda f, name=name: name in f), f"flag {name}")
    text = rows["notes"].astype(str) + " " + rows["cathode_verbatim"].astype(str)
    drop(text.str.contains(PREMETALLATED), "pre-metallated cathode (extra inventory)")
    drop(
        flags.map(lambda f: "table_text_conflict" in f) & (rows["source_table"] == "text"),
        "table_text_conflict: the table row is kept",
    )
    drop(
        rows["notes"].astype(str).str.contains(PRINTED_BOUND),
        "retention or cycle count printed as a bound",
    )
    drop(rows["electrolyte_family"].astype(str) == "", "electrolyte family not stated")
    drop(~rows["group"].isin(coefficients.groups), "no group " + rows["group"] + " in the priors")
    drop(
        rows["coating_class"].isna(), "coating " + rows["coating"].astype(str) + " has no CE class"
    )

    retention = rows["retention"].to_numpy(float)
    cycles = rows["cycles"].to_numpy(float)
    ce = rows["ce"].to_numpy(float)
    by_retention = (retention > 0) & (retention < 100) & (cycles >= 1)
    ce_flags = flags.map(
        lambda f: bool({"half_cell_ce", "first_cycle_ce", "ce_lower_bound"} & set(f))
    )
    by_average = (
        ~by_retention
        & (rows["ce_definition"] == "average").to_numpy()
        & ~ce_flags.to_numpy()
        & (ce > 0)
        & (ce < 100)
    )
    why_not = np.where(
        np.isfinite(retention) & (retention >= 100),
        "retention of 100 % carries no loss",
        np.where(
            np.isfinite(ce) & ~np.isfinite(retention),
            "CE is not an average full-cell CE below 100 %, and no retention",
            "no retention with cycle count and no average CE",
        ),
    )
    drop(~(by_retention | by_average), pd.Series(why_not, index=rows.index))

    solved = pd.DataFrame({"y": np.nan, "status": "off", "note": ""}, index=rows.index)
    if target == "chain":
        candidate = (reason == "").to_numpy() & by_retention
        solved.loc[candidate] = chain_targets(rows.loc[candidate], coefficients, catalogue)
        drop(solved["status"] == "surplus", CHAIN_SURPLUS)
        drop(solved["status"] == "no_loss", CHAIN_NO_LOSS)

    keep = (reason == "").to_numpy()
    excluded = rows.loc[~keep, ["row_id", "file_line", "metal"]].assign(reason=reason[~keep])
    used = rows.loc[keep].copy()
    solved = solved.loc[keep]
    r = retention[keep] / 100.0
    n = cycles[keep]
    via_retention = by_retention[keep]
    via_chain = (solved["status"] == "ok").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        y_ce_n = np.where(via_retention, np.log(-np.expm1(np.log(r) / n)), np.nan)
        y = np.where(
            via_chain,
            solved["y"].to_numpy(float),
            np.where(via_retention, y_ce_n, np.log1p(-ce[keep] / 100.0)),
        )
    used["observation"] = np.where(via_retention, "retention", "average_ce")
    used["target"] = np.where(via_chain, "chain", np.where(via_retention, "ce_n", "average_ce"))
    used["target_note"] = solved["note"].where(via_retention & ~via_chain, "").to_numpy()
    used["y_ce_n"] = y_ce_n
    used["ce_observed"] = -np.expm1(y)
    used["y"] = y
    used["n80_observed"] = cycles_to_80(y)
    z, imputed = _features(used, catalogue)
    for j, name in enumerate(FEATURE_NAMES):
        used[f"z_{name}"] = z[:, j]
    used["imputed"] = imputed
    columns = [
        "row_id",
        "file_line",
        "seed",
        "reference",
        "source",
        "metal",
        "group",
        "coating",
        "coating_class",
        "cathode",
        "cathode_loading",
        "observation",
        "target",
        "target_note",
        "retention",
        "cycles",
        "ce",
        "y_ce_n",
        "ce_observed",
        "y",
        "n80_observed",
        *[f"z_{f}" for f in FEATURE_NAMES],
        "imputed",
    ]
    return Selection(used[columns].reset_index(drop=True), excluded.reset_index(drop=True))


def design_matrix(used: pd.DataFrame, coefficients: CeCoefficients) -> np.ndarray:
    """Rows of ``θ``-space: group, coating-class and coating-material indicators, then features.

    Parameters
    ----------
    used : pandas.DataFrame
        ``group``, ``coating_class``, ``coating`` (optional: the material,
        whose deviation from its class applies when the coefficients have
        one) and ``z_<feature>`` columns (as :attr:`Selection.used`).
    coefficients : CeCoefficients
        Defines the parameter order (:attr:`CeCoefficients.names`).

    Returns
    -------
    ndarray, shape (n, n_parameters)

    Examples
    --------
    >>> c = prior_coefficients()
    >>> row = pd.DataFrame({"group": ["Li/ether"], "coating_class": ["carbon"],
    ...                     **{f"z_{f}": [0.5] for f in FEATURE_NAMES}})
    >>> x = design_matrix(row, c)[0]
    >>> x[c.index("Li/ether")], x[c.index("coating/carbon")], x[c.index("slope/temperature")]
    (np.float64(1.0), np.float64(1.0), np.float64(0.5))
    """
    names = coefficients.names
    col = {n: i for i, n in enumerate(names)}
    x = np.zeros((len(used), len(names)))
    idx = np.arange(len(used))
    x[idx, [col[g] for g in used["group"]]] = 1.0
    materials = coefficients.coating_materials
    coatings = used["coating"] if "coating" in used else pd.Series("", index=used.index)
    for i, (cls, coating) in enumerate(zip(used["coating_class"], coatings, strict=True)):
        if cls != "none":
            x[i, col[f"coating/{cls}"]] = 1.0
            if materials.get(coating) == cls:
                x[i, col[f"coating/{coating}"]] = 1.0
    for f in FEATURE_NAMES:
        x[:, col[f"slope/{f}"]] = used[f"z_{f}"].to_numpy(float)
    return x


# --------------------------------------------------------------------------- fit
@dataclass
class Posterior:
    """Normal posterior of ``θ``, the fitted residual scale and the publication effects.

    Attributes
    ----------
    mean : ndarray
        Posterior mode of ``θ`` (with constraints: the constrained mode,
        on the bound where a constraint is active).
    covariance : ndarray
        Posterior covariance of ``θ`` (publication effects integrated out;
        with active constraints, the truncation-adjusted one of
        :func:`fit_posterior`).
    scale : float
        Student-t scale ``s`` of the within-publication residuals of ``ln(1 - CE)`` [-].
    weights : ndarray
        Final IRLS weight of each row (1 = ordinary, → 0 = outlier).
    nu : float
        Degrees of freedom (``inf`` for Gaussian residuals).
    iterations : int
    source_sd : float
        Standard deviation ``τ`` of the publication effect [-] (0 without one).
    source_effects : dict
        Posterior mean of each publication's effect, by source key.
    active : list of str
        Constraints that hold with equality at the mode.
    """

    mean: np.ndarray
    covariance: np.ndarray
    scale: float
    weights: np.ndarray
    nu: float
    iterations: int
    source_sd: float = 0.0
    source_effects: dict = field(default_factory=dict)
    active: list = field(default_factory=list)

    @property
    def residual_sd(self) -> float:
        """Normal sd with the same 10–90 % band as the within-publication t residual."""
        return predictive_residual_sd(self.scale, self.nu)

    @property
    def predictive_sd(self) -> float:
        """Residual sd of a design from a new publication: ``sqrt(residual_sd² + τ²)``."""
        return float(math.hypot(self.residual_sd, self.source_sd))


def predictive_residual_sd(scale: float, nu: float = DEGREES_OF_FREEDOM) -> float:
    """Normal sd whose 10th–90th percentile band equals that of ``t_ν(0, scale)``.

    :class:`~dse.chain.ModelChain` treats the residual as normal (its p10/p90
    use ``±1.2816 σ``); this ``σ`` makes those percentiles right for the
    fitted t residual.

    Examples
    --------
    >>> round(predictive_residual_sd(1.0, 4.0), 3)   # t_4 90th percentile 1.533 / 1.2816
    1.196
    >>> predictive_residual_sd(0.5, float("inf"))
    0.5
    """
    if not np.isfinite(nu):
        return float(scale)
    return float(scale * stats.t.ppf(0.9, nu) / _Z90)


def project(mean: np.ndarray, covariance: np.ndarray, matrix: np.ndarray,
            bound: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mode of ``N(mean, covariance)`` restricted to ``matrix @ θ >= bound`` (default 0).

    The quadratic programme ``min (θ - m)ᵀ Σ⁻¹ (θ - m)`` subject to
    ``G θ >= b`` is solved through its dual, a non-negative least-squares
    problem in the multipliers ``λ`` (``min ½ λᵀ H λ + λᵀ (G m - b)``,
    ``H = G Σ Gᵀ``): ``θ = m + Σ Gᵀ λ``. Single-parameter constraints that
    are active are set exactly to their bound.

    Returns
    -------
    theta : ndarray
    active : ndarray of bool
        Constraints with a positive multiplier (on their bound).

    Examples
    --------
    A slope of 0.3 that must be <= 0, correlated with an intercept:

    >>> theta, active = project(np.array([1.0, 0.3]), np.array([[1.0, 0.5], [0.5, 1.0]]), np.array([[0.0, -1.0]]))
    >>> np.round(theta, 3).tolist(), active.tolist()
    ([0.85, 0.0], [True])

    Two slopes whose sum must be at least 0.2 (independent, equal variances:
    both move up by half the shortfall):

    >>> theta, _ = project(np.array([0.3, -0.3]), np.eye(2), np.array([[1.0, 1.0]]), np.array([0.2]))
    >>> np.round(theta, 3).tolist()
    [0.4, -0.2]
    """
    from scipy.linalg import solve_triangular
    from scipy.optimize import nnls

    matrix = np.atleast_2d(np.asarray(matrix, dtype=float))
    bound = np.zeros(len(matrix)) if bound is None else np.asarray(bound, dtype=float)
    if matrix.size == 0 or np.all(matrix @ mean - bound >= -1e-12):
        return mean, np.zeros(len(matrix), dtype=bool)
    h = matrix @ covariance @ matrix.T
    h = 0.5 * (h + h.T) + 1e-12 * np.eye(len(h)) * max(1.0, float(np.trace(h)))
    lower = np.linalg.cholesky(h)
    rhs = -solve_triangular(lower, matrix @ mean - bound, lower=True)
    multipliers, _ = nnls(lower.T, rhs, maxiter=50 * len(h))
    theta = mean + covariance @ matrix.T @ multipliers
    active = multipliers > 0
    for k in np.flatnonzero(active):
        nonzero = np.flatnonzero(matrix[k])
        if len(nonzero) == 1:
            theta[nonzero[0]] = bound[k] / matrix[k, nonzero[0]] + 0.0  # (+ 0.0: no -0.0)
    return theta, active


def _source_codes(sources, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Labels and row codes of the publications, or None when no publication has two rows."""
    if sources is None:
        return None
    labels, codes, counts = np.unique(np.asarray(sources).astype(str), return_inverse=True, return_counts=True)
    if len(codes) != n:
        raise CalibrationError(f"{len(codes)} source keys for {n} rows")
    return (labels, codes) if counts.max(initial=0) >= 2 else None


#: smallest residual scale of the fit, in ln(1 − CE): the repeatability of a reported CE
#: (99.90 % vs 99.91 % is 10 % of 1 − CE, 0.1 in ln), halved; no table is more precise
MIN_RESIDUAL_SCALE = 0.05


def fit_posterior(
    x: np.ndarray,
    y: np.ndarray,
    prior_mean: np.ndarray,
    prior_sd: np.ndarray,
    nu: float = DEGREES_OF_FREEDOM,
    scale: float = 0.5,
    max_iter: int = 2000,
    tol: float = 1e-9,
    sources: Sequence | None = None,
    constraint: np.ndarray | None = None,
    constraint_labels: Sequence[str] | None = None,
    source_sd: float = 0.5,
    constraint_bound: np.ndarray | None = None,
    row_weights: np.ndarray | None = None,
) -> Posterior:
    """Bayesian linear regression: normal priors, t residuals, publication effects, constraints.

    The model is ``y_i = x_i θ + b_{s(i)} + ε_i`` with ``θ ~ N(m, P)``, a
    publication effect ``b_s ~ N(0, τ²)`` shared by the rows of publication
    ``s`` and Student-t residuals ``ε_i ~ t_ν(0, s²)`` (scale mixture:
    ``ε_i | w_i ~ N(0, s²/w_i)``). An EM algorithm alternates

    * the weighted normal posterior of ``(θ, b)``:
      ``Σ = (blockdiag(P⁻¹, I/τ²) + AᵀWA/s²)⁻¹``, ``μ = Σ (P⁻¹m ⊕ 0 + AᵀWy/s²)``
      with ``A = [X, Z]`` (``Z`` the publication indicators);
    * with ``constraint`` ``G``, the mode restricted to ``G θ >= 0``
      (:func:`project`, in the metric of ``Σ``): the constrained M-step;
    * expected squared residuals ``e_i = (y_i - a_i μ)² + a_i Σ a_iᵀ``,
      weights ``w_i = (ν + 1)/(ν + e_i/s²)``, scale ``s² = Σ w_i e_i / n``
      and ``τ² = Σ_s μ_b² / (S - Σ_s Σ_bb/τ²)`` (MacKay's fixed point of the
      marginal likelihood; the plain EM step ``mean_s(μ_b² + Σ_bb)`` has the
      same fixed point but crawls when ``τ`` is small),

    until weights and variances settle. Publication effects are modelled
    only when some publication has two rows or more (with one row each,
    ``τ`` and ``s`` cannot be told apart).

    The reported covariance of ``θ`` uses the expected (Fisher) information
    of t residuals, ``(ν+1)/((ν+3) s²)`` per row, and integrates the
    publication effects out. Where constraints are active the posterior is
    a normal truncated at the bound; its spread across the bound is that of
    a half-normal, so the covariance along the active directions is shrunk
    by ``2/π``: ``Σ - (2/π) Σ Gₐᵀ (Gₐ Σ Gₐᵀ)⁻¹ Gₐ Σ``.

    Parameters
    ----------
    x : ndarray, shape (n, p)
    y : ndarray, shape (n,)
    prior_mean : ndarray, shape (p,)
    prior_sd : ndarray, shape (p,) or (p, p)
        Prior sds (independent), or the prior covariance.
    nu : float, default 4
        Degrees of freedom of the residuals.
    scale : float, default 0.5
        Starting residual scale.
    sources : sequence, optional
        Publication key of each row (no publication effect if None).
    constraint : ndarray, shape (k, p), optional
        ``G`` of ``G θ >= 0`` (:func:`dse.coefficients.constraints`).
    constraint_labels : sequence of str, optional
        Names of the constraint rows (reported in ``Posterior.active``).
    source_sd : float, default 0.5
        Starting ``τ``.
    row_weights : ndarray, shape (n,), optional
        Known precision of each row relative to an ordinary one, ``ω_i``:
        the residual is ``ε_i ~ t_ν(0, s²/ω_i)`` (a cell measured over many
        cycles, :mod:`dse.cells`). Default 1 for every row.

    Returns
    -------
    Posterior

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = np.column_stack([np.ones(200), rng.normal(size=200)])
    >>> y = x @ [-6.0, 0.5] + 0.1 * rng.normal(size=200)
    >>> post = fit_posterior(x, y, np.zeros(2), np.full(2, 10.0))
    >>> np.round(post.mean, 1).tolist()
    [-6.0, 0.5]
    >>> post = fit_posterior(x, y, np.zeros(2), np.full(2, 10.0), constraint=np.array([[0.0, -1.0]]))
    >>> float(post.mean[1])   # the slope must be <= 0: it sits on the bound
    0.0
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = x.shape
    m0 = np.asarray(prior_mean, dtype=float)
    prior = np.asarray(prior_sd, dtype=float)
    p0 = np.linalg.inv(prior) if prior.ndim == 2 else np.diag(1.0 / prior**2)
    p0 = 0.5 * (p0 + p0.T)
    groups = _source_codes(sources, n)
    n_src = 0 if groups is None else len(groups[0])
    a = x
    if groups is not None:
        indicators = np.zeros((n, n_src))
        indicators[np.arange(n), groups[1]] = 1.0
        a = np.hstack([x, indicators])
    g = None
    if constraint is not None and np.size(constraint):
        g = np.hstack([np.atleast_2d(constraint), np.zeros((len(np.atleast_2d(constraint)), n_src))])
    labels = list(constraint_labels) if constraint_labels is not None else [f"constraint {k}" for k in
                                                                             range(0 if g is None else len(g))]
    prior_term = np.concatenate([p0 @ m0, np.zeros(n_src)])

    def prior_precision(tau2: float) -> np.ndarray:
        out = np.zeros((p + n_src, p + n_src))
        out[:p, :p] = p0
        out[p:, p:] = np.eye(n_src) / tau2
        return out

    omega = np.ones(n) if row_weights is None else np.asarray(row_weights, dtype=float)
    if omega.shape != (n,) or not np.all(np.isfinite(omega) & (omega > 0)):
        raise CalibrationError(f"row_weights must be {n} positive numbers")
    w = np.ones(n)
    s2 = float(scale) ** 2
    tau2 = float(source_sd) ** 2 if n_src else 0.0
    mean = np.concatenate([m0, np.zeros(n_src)])
    active = np.zeros(0 if g is None else len(g), dtype=bool)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (iteration count is reported)
        aw = a * (w * omega)[:, None]
        cov = np.linalg.inv(prior_precision(tau2) + a.T @ aw / s2)
        cov = 0.5 * (cov + cov.T)
        mean = cov @ (prior_term + aw.T @ y / s2)
        if g is not None:
            mean, active = project(mean, cov, g, constraint_bound)
        # expected squared residuals in units of an ordinary row (ω_i e_i)
        e = omega * ((y - a @ mean) ** 2 + np.einsum("ij,jk,ik->i", a, cov, a))
        w_new = (nu + 1.0) / (nu + e / s2) if np.isfinite(nu) else np.ones(n)
        # (the residual scale is floored: with few rows per publication the publication effects can
        # absorb every residual, and the scale then crawls towards 0 for ever)
        s2_new = max(float(np.sum(w_new * e) / n) if n else s2, MIN_RESIDUAL_SCALE**2)
        tau2_new = 0.0
        if n_src:
            # MacKay's fixed point of the marginal likelihood (the EM step mean(μ_b² + Σ_bb)
            # crawls when τ is small): τ² = Σ μ_b² / (S - Σ_b Σ_bb / τ²)
            effective = max(n_src - float(np.trace(cov[p:, p:])) / tau2, 1e-9)
            tau2_new = min(max(float(np.sum(mean[p:] ** 2)) / effective, 1e-8), 25.0)
        done = (abs(s2_new - s2) <= tol * s2 and abs(np.sqrt(tau2_new) - np.sqrt(tau2)) <= 1e-6
                and np.max(np.abs(w_new - w), initial=0.0) <= 1e-8)
        w, s2, tau2 = w_new, s2_new, tau2_new
        if done:
            break
    info = (nu + 1.0) / (nu + 3.0) if np.isfinite(nu) else 1.0
    cov = np.linalg.inv(prior_precision(tau2) + info * (a.T @ (a * omega[:, None])) / s2)
    cov = 0.5 * (cov + cov.T)
    if g is not None and active.any():
        ga = g[active]
        shrink = cov @ ga.T @ np.linalg.solve(ga @ cov @ ga.T, ga @ cov)
        cov = cov - (2.0 / np.pi) * 0.5 * (shrink + shrink.T)
    effects = dict(zip(groups[0].tolist(), mean[p:].tolist(), strict=True)) if groups is not None else {}
    return Posterior(mean[:p].copy(), cov[:p, :p].copy(), float(np.sqrt(s2)), w, float(nu), it,
                     float(np.sqrt(tau2)), effects, [lab for lab, on in zip(labels, active, strict=True) if on])


def _predict(x: np.ndarray, post: Posterior) -> tuple[np.ndarray, np.ndarray]:
    """Predictive mean and sd of ``ln(1 - CE)`` for designs of a new publication."""
    mean = x @ post.mean
    var = np.einsum("ij,jk,ik->i", x, post.covariance, x) + post.predictive_sd**2
    return mean, np.sqrt(var)


def source_folds(sources: Sequence, folds: int, seed: int = 0) -> np.ndarray:
    """Fold of each row, whole publications at a time (grouped k-fold).

    Publications are shuffled with ``seed``, then, largest first, each goes
    to the fold with the fewest rows so far: the folds are balanced and no
    publication is split between folds.

    Examples
    --------
    >>> source_folds(["a", "a", "b", "c", "c", "c", "d"], 2).tolist()
    [1, 1, 1, 0, 0, 0, 0]
    """
    labels, codes, counts = np.unique(np.asarray(sources).astype(str), return_inverse=True, return_counts=True)
    if folds < 2 or folds > len(labels):
        raise CalibrationError(f"folds must be between 2 and the number of sources ({len(labels)}), got {folds}")
    order = np.random.default_rng(seed).permutation(len(labels))
    order = order[np.argsort(-counts[order], kind="stable")]
    load = np.zeros(folds)
    fold_of = np.empty(len(labels), dtype=int)
    for s in order:
        k = int(np.argmin(load))
        fold_of[s] = k
        load[k] += counts[s]
    return fold_of[codes]


def cross_validate(
    x: np.ndarray,
    y: np.ndarray,
    prior_mean: np.ndarray,
    prior_sd: np.ndarray,
    folds: int = 5,
    seed: int = 0,
    nu: float = DEGREES_OF_FREEDOM,
    sources: Sequence | None = None,
    constraint: np.ndarray | None = None,
    constraint_labels: Sequence[str] | None = None,
    constraint_bound: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Posterior]]:
    """Cross-validated predictions of ``ln(1 - CE)``, leaving whole publications out.

    Folds come from :func:`source_folds` (each row its own publication when
    ``sources`` is None); each fold is predicted by a fit (same priors,
    constraints and method) to the others, as designs of a new publication:
    the predictive sd includes the publication effect's ``τ``.

    Returns
    -------
    mean, sd : ndarray
        Held-out predictive mean and sd of each row.
    fold : ndarray of int
        Fold of each row.
    posteriors : list of Posterior
        The fit without each fold.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.column_stack([np.ones(50), rng.normal(size=50)])
    >>> y = x @ [-6.0, 0.5] + 0.2 * rng.normal(size=50)
    >>> mean, sd, fold, _ = cross_validate(x, y, np.zeros(2), np.full(2, 10.0))
    >>> bool(np.median(np.abs(mean - y)) < 0.3), sorted(set(fold.tolist()))
    (True, [0, 1, 2, 3, 4])
    """
    n = len(y)
    keys = np.arange(n).astype(str) if sources is None else np.asarray(sources).astype(str)
    fold = source_folds(keys, folds, seed)
    mean = np.empty(n)
    sd = np.empty(n)
    posteriors = []
    for k in range(folds):
        test = fold == k
        post = fit_posterior(x[~test], y[~test], prior_mean, prior_sd, nu=nu,
                             sources=None if sources is None else keys[~test], constraint=constraint,
                             constraint_labels=constraint_labels, constraint_bound=constraint_bound)
        mean[test], sd[test] = _predict(x[test], post)
        posteriors.append(post)
    return mean, sd, fold, posteriors


def band_coverage(y, mean, sd, low: float = 0.1, high: float = 0.9) -> float:
    """Fraction of observations inside the predictive ``low``–``high`` band of ``N(mean, sd²)``.

    Examples
    --------
    >>> band_coverage([0.0, 1.0, 3.0], 0.0, 1.0)   # the band is ±1.2816
    0.6666666666666666
    """
    y, mean, sd = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (y, mean, sd)))
    lower = mean + stats.norm.ppf(low) * sd
    upper = mean + stats.norm.ppf(high) * sd
    return float(np.mean((y >= lower) & (y <= upper)))


def _scores(y: np.ndarray, pred: np.ndarray, sd: np.ndarray | None = None) -> dict[str, float]:
    """Error summaries in ln(1 − CE) and in cycles to 80 %; band coverage and width."""
    # (a loss at or above 1, e.g. in a user's table, has no cycle at all: an infinite ratio, no warning)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log10(cycles_to_80(pred) / cycles_to_80(y))
    out = {
        "median_abs_log_loss": float(np.median(np.abs(pred - y))),
        "rms_log_loss": float(np.sqrt(np.mean((pred - y) ** 2))),
        "median_abs_log10_n80": float(np.median(np.abs(log_ratio))),
        "within_2x_n80": float(np.mean(np.abs(log_ratio) <= np.log10(2.0))),
        "within_1_5x_n80": float(np.mean(np.abs(log_ratio) <= np.log10(1.5))),
        "bias_log10_n80": float(np.median(log_ratio)),
    }
    if sd is not None:
        # cycles fall as the loss rises: p90 of life at the 10th percentile of ln(1 - CE)
        out["coverage_p10_p90"] = band_coverage(y, pred, sd)
        out["width_p90_p10"] = float(np.median(cycles_to_80(pred - _Z90 * sd) / cycles_to_80(pred + _Z90 * sd)))
    return out


# --------------------------------------------------------------------------- result
@dataclass
class FitResult:
    """A calibration: coefficients, the rows behind them and how well they fit.

    Attributes
    ----------
    coefficients : CeCoefficients
        Posterior mean and covariance, residual sd, provenance (data file,
        its sha256, rows, date, dse version) and a summary ``fit_report``.
    prior : CeCoefficients
        The priors the fit started from.
    rows : pandas.DataFrame
        Used rows (see :class:`Selection`) plus ``fitted``, ``residual``,
        ``weight``, ``fold``, ``cv_mean``, ``cv_sd`` (held-out prediction),
        ``prior_mean`` and CE / cycles-to-80 % versions of each.
    excluded : pandas.DataFrame
        Rows left out and why.
    summary : dict
        Counts and error scores (in-sample, cross-validated, prior only).
    fold_coefficients : list of CeCoefficients
        The fit without each fold (for held-out predictions of a row:
        ``fold_coefficients[rows.fold[i]]``).
    """

    coefficients: CeCoefficients
    prior: CeCoefficients
    rows: pd.DataFrame
    excluded: pd.DataFrame
    summary: dict
    fold_coefficients: list[CeCoefficients] = field(default_factory=list)

    def parameter_table(self) -> pd.DataFrame:
        """Prior and posterior of every parameter.

        Columns: ``prior_mean``, ``prior_sd``, ``mean``, ``sd``, ``low``,
        ``high`` (95 % interval), ``shift`` (move in prior sds),
        ``sd_ratio`` (posterior/prior sd; 1 = not informed by the data),
        ``rows`` (rows that inform it: in the group or class, or with the
        feature not imputed and non-zero).
        """
        c, p = self.coefficients, self.prior
        mean = np.asarray(c.mean)
        sd = np.sqrt(np.diag(np.asarray(c.covariance)))
        pm = np.asarray(p.mean)
        ps = np.sqrt(np.diag(np.asarray(p.covariance)))
        x = design_matrix(self.rows, c)
        informing = (x != 0).sum(axis=0)
        return pd.DataFrame(
            {
                "prior_mean": pm,
                "prior_sd": ps,
                "mean": mean,
                "sd": sd,
                "low": mean - 1.96 * sd,
                "high": mean + 1.96 * sd,
                "shift": (mean - pm) / ps,
                "sd_ratio": sd / ps,
                "rows": informing,
            },
            index=c.names,
        )

    def report_text(self, residuals: bool = True) -> str:
        """Plain-text report: data, parameters, errors and (optionally) per-row residuals."""
        s = self.summary
        lines = [
            "CE surrogate calibration",
            f"  data: {s['data_file']} (sha256 {s['data_sha256'][:16]}…)",
            f"  rows: {s['rows_used']} used ({s['rows_retention']} from retention, "
            f"{s['rows_average_ce']} from average CE) of {s['rows_total']}",
            f"  targets: {s['rows_target_chain']} chain (retention inverted through the model "
            f"chain), {s['rows_target_ce_n']} ce_n (retention^(1/n), no design)",
            f"  residuals: Student-t, nu = {s['nu']:g}, scale = {s['scale']:.3f}; "
            f"normal-equivalent within-publication sd = {s['within_source_sd']:.3f}, publication "
            f"effect sd = {s['source_sd']:.3f} ({s['sources']} publications); residual sd of a "
            f"new design = {s['residual_sd']:.3f} in ln(1 - CE)",
            f"  active constraints: {', '.join(s['active_constraints']) or 'none'}",
            "",
            "Excluded rows by reason:",
        ]
        lines += [f"  {n:4d}  {r}" for r, n in s["excluded"].items()]
        lines += [
            "",
            "Errors (median |d ln(1-CE)|, median |log10 N80 ratio|, within 2x, p10-p90 coverage), "
            "CV leaving publications out:",
        ]
        for key, label in (
            ("in_sample", "in-sample"),
            ("cross_validated", f"{s['folds']}-fold CV"),
            ("cross_validated_unconstrained", "CV, no signs"),
            ("prior_only", "prior only"),
        ):
            e = s[key]
            cov = f"{e['coverage_p10_p90']:.2f}" if "coverage_p10_p90" in e else "  – "
            lines.append(
                f"  {label:<11} {e['median_abs_log_loss']:.3f}  {e['median_abs_log10_n80']:.3f}  "
                f"{e['within_2x_n80']:.2f}  {cov}"
            )
        lines += [
            "",
            "Parameters (prior -> posterior mean ± sd, 95 % interval, shift in prior sds, rows):",
        ]
        table = self.parameter_table()
        for name, r in table.iterrows():
            extra = ""
            if not name.startswith(("coating/", "slope/")):
                ce, low, high = reference_ce_percent(r)
                extra = f"  CE {ce:.3f} % [{low:.3f}, {high:.3f}]"
            lines.append(
                f"  {name:<26} {r['prior_mean']:7.3f} -> {r['mean']:7.3f} ± {r['sd']:.3f} "
                f"[{r['low']:7.3f}, {r['high']:7.3f}] {r['shift']:+5.2f} {int(r['rows']):4d}{extra}"
            )
        if residuals:
            lines += [
                "",
                "Rows (target; target vs fitted vs held-out CE [%], R^(1/n) in brackets; "
                "cycles to 80 % without reservoir; weight):",
            ]
            for _, r in self.rows.iterrows():
                ce_n = (
                    f"[{100 * (1 - np.exp(r['y_ce_n'])):7.3f}]" if np.isfinite(r["y_ce_n"]) else ""
                )
                lines.append(
                    f"  {r['row_id']:<16} {r['source']:<12} {r['group']:<16} {r['target']:<10} "
                    f"CE {100 * r['ce_observed']:7.3f} {100 * r['ce_fitted']:7.3f} "
                    f"{100 * r['ce_cv']:7.3f} {ce_n:9}  "
                    f"N80 {r['n80_observed']:8.0f} {r['n80_fitted']:8.0f} {r['n80_cv']:8.0f}  "
                    f"w {r['weight']:.2f}"
                )
        return "\n".join(lines)


# --------------------------------------------------------------------------- calibrate
def _coefficients_from(post: Posterior, template: CeCoefficients, **extra) -> CeCoefficients:
    # residual_sd is a new design's: within-publication residual and publication effect
    return template.model_copy(
        update={
            "mean": [float(v) for v in post.mean],
            "covariance": [[float(v) for v in row] for row in post.covariance],
            "residual_sd": post.predictive_sd,
            **extra,
        }
    )


def _round(obj, digits: int = 6):
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: _round(v, digits) for k, v in obj.items()}
    return obj


def reference_ce_percent(row) -> tuple[float, float, float]:
    """Reference CE [%] of a group parameter row: at the mean and at the 95 % bounds of ln(1−CE).

    >>> [round(v, 3) for v in reference_ce_percent({"mean": np.log(0.002), "low": np.log(0.001), "high": np.log(0.004)})]
    [99.8, 99.6, 99.9]
    """
    return tuple(100.0 * (1.0 - math.exp(row[k])) for k in ("mean", "high", "low"))


def calibrate(
    csv_path: str | Path | None = None,
    output_path: str | Path | None = None,
    folds: int = 5,
    seed: int = 0,
    nu: float = DEGREES_OF_FREEDOM,
    prior: CeCoefficients | None = None,
    target: str = "chain",
) -> FitResult:
    """Fit the CE surrogate to a table of cycling results and write the YAML.

    Parameters
    ----------
    csv_path : str or Path, optional
        Results in the layout of ``docs/literature.md`` (required columns:
        see :func:`dse.literature.load_literature`). Default: the shipped
        literature table.
    output_path : str or Path, optional
        Where to write the coefficients YAML (nothing written if None).
        ``dse/data/ce_coefficients.yaml`` is this function's output on the
        shipped table.
    folds : int, default 5
        Folds of the cross-validation.
    seed : int, default 0
        Seed of the fold assignment.
    nu : float, default 4
        Student-t degrees of freedom of the residuals (``inf``: normal).
    prior : CeCoefficients, optional
        Prior (default: :func:`dse.coefficients.prior_coefficients`). The
        formation constants (``formation_loss_multiplier``,
        ``coating_trapped_fraction``) are carried over unchanged: retention
        relative to the first discharge does not identify them. They are
        also the constants of the chain the targets are inverted through.
    target : {"chain", "ce_n"}, default "chain"
        ``"chain"``: rows that make a design (:func:`row_design`) get the CE
        at which the model chain reproduces their retention
        (:func:`chain_targets`), the others ``R^(1/n)``; ``"ce_n"``: every
        retention row gets ``R^(1/n)`` (the surplus-free target of earlier
        versions, kept for comparison).

    Returns
    -------
    FitResult

    Raises
    ------
    CalibrationError
        Malformed file, fewer usable rows than folds, or an unknown target.
    """
    from dse import __version__

    prior = prior or prior_coefficients()
    path = Path(csv_path) if csv_path is not None else None
    frame = load_literature(path)
    data_path = Path(frame.attrs["path"])
    selection = select_rows(frame, prior, target=target)
    used = selection.used
    if len(used) < max(folds, 2):
        raise CalibrationError(
            f"only {len(used)} usable rows (need at least {max(folds, 2)})", where=str(data_path)
        )
    x = design_matrix(used, prior)
    y = used["y"].to_numpy(float)
    m0 = np.asarray(prior.mean, dtype=float)
    c0 = np.asarray(prior.covariance, dtype=float)
    sources = used["source"].to_numpy(str)
    if len(np.unique(sources)) < max(folds, 2):
        raise CalibrationError(
            f"only {len(np.unique(sources))} publications (need at least {max(folds, 2)} to "
            "cross-validate by publication)", where=str(data_path)
        )
    matrix, labels = constraints(prior.names)
    signs = {"constraint": matrix, "constraint_labels": labels, "constraint_bound": constraint_bounds(prior.names)}
    post = fit_posterior(x, y, m0, c0, nu=nu, sources=sources, **signs)
    cv_mean, cv_sd, fold, fold_posts = cross_validate(
        x, y, m0, c0, folds=folds, seed=seed, nu=nu, sources=sources, **signs
    )
    free_mean, free_sd, _, _ = cross_validate(x, y, m0, c0, folds=folds, seed=seed, nu=nu, sources=sources)
    population, population_sd = _predict(x, post)
    effect = np.asarray([post.source_effects.get(k, 0.0) for k in sources])
    fitted = population + effect
    fitted_sd = np.sqrt(np.maximum(population_sd**2 - post.source_sd**2, 0.0))
    prior_pred = x @ m0
    prior_sd = np.sqrt(np.einsum("ij,jk,ik->i", x, c0, x) + prior.residual_sd**2)

    rows = used.copy()
    rows["fitted"] = fitted
    rows["source_effect"] = effect
    rows["residual"] = y - fitted
    rows["weight"] = post.weights
    rows["fold"] = fold
    rows["cv_mean"] = cv_mean
    rows["cv_sd"] = cv_sd
    rows["cv_unconstrained"] = free_mean
    rows["prior_mean"] = prior_pred
    for col, src in (("ce_fitted", fitted), ("ce_cv", cv_mean), ("ce_prior", prior_pred)):
        rows[col] = 1.0 - np.exp(src)
    for col, src in (("n80_fitted", fitted), ("n80_cv", cv_mean), ("n80_prior", prior_pred)):
        rows[col] = cycles_to_80(src)

    summary = {
        "data_file": data_path.name,
        "data_sha256": frame.attrs["sha256"],
        "rows_total": len(frame),
        "rows_used": len(used),
        "rows_retention": int((used["observation"] == "retention").sum()),
        "rows_average_ce": int((used["target"] == "average_ce").sum()),
        "target": target,
        "rows_target_chain": int((used["target"] == "chain").sum()),
        "rows_target_ce_n": int((used["target"] == "ce_n").sum()),
        "rows_by_group": {k: int(v) for k, v in used["group"].value_counts().sort_index().items()},
        "excluded": selection.reason_counts(),
        "nu": nu,
        "scale": post.scale,
        "within_source_sd": post.residual_sd,
        "source_sd": post.source_sd,
        "sources": int(len(np.unique(sources))),
        "sources_with_several_rows": int((pd.Series(sources).value_counts() > 1).sum()),
        "residual_sd": post.predictive_sd,
        "active_constraints": list(post.active),
        "iterations": post.iterations,
        "folds": folds,
        "seed": seed,
        "in_sample": _scores(y, fitted, fitted_sd),
        "cross_validated": _scores(y, cv_mean, cv_sd),
        "cross_validated_unconstrained": _scores(y, free_mean, free_sd),
        "prior_only": _scores(y, prior_pred, prior_sd),
    }
    provenance = {
        "data_file": data_path.name,
        "data_sha256": frame.attrs["sha256"],
        "rows_used": len(used),
        "date": datetime.date.today().isoformat(),
        "dse_version": __version__,
        "method": "Bayesian linear regression, hierarchical normal priors (dse.coefficients.PRIORS, "
        "METAL_SD, FAMILY_SD, MATERIAL_SD), signs and orderings enforced (constrained mode, "
        "dse.coefficients.constraints), a normal random effect per publication, "
        f"Student-t residuals (nu={nu:g}) by EM/IRLS; {folds}-fold CV leaving publications out, "
        f"seed {seed}; "
        + (
            "target ln(1 - CE) at which the model chain reproduces the reported retention "
            "(rows with a design), else retention^(1/cycles)"
            if target == "chain"
            else "target ln(1 - CE) = ln(1 - retention^(1/cycles))"
        ),
    }
    fit_report = {
        "rows_used": len(used),
        "rows_retention": summary["rows_retention"],
        "rows_average_ce": summary["rows_average_ce"],
        "rows_target_chain": summary["rows_target_chain"],
        "rows_target_ce_n": summary["rows_target_ce_n"],
        "rows_by_group": summary["rows_by_group"],
        "excluded": summary["excluded"],
        "residual_scale_t": _round(post.scale),
        "nu": nu,
        "within_source_sd": _round(post.residual_sd),
        "source_sd": _round(post.source_sd),
        "sources": summary["sources"],
        "active_constraints": list(post.active),
        **{k: _round(summary[k]) for k in ("in_sample", "cross_validated", "cross_validated_unconstrained",
                                           "prior_only")},
        "targets": dict(zip(used["row_id"], used["target"], strict=True)),
    }
    coefficients = _coefficients_from(
        post,
        prior,
        description=f"CE surrogate calibrated on {data_path.name} ({len(used)} rows)",
        provenance=provenance,
        fit_report=fit_report,
    )
    fold_coefficients = [
        _coefficients_from(
            p,
            prior,
            description=f"fit without fold {k}",
            provenance={**provenance, "held_out_fold": k},
        )
        for k, p in enumerate(fold_posts)
    ]
    result = FitResult(coefficients, prior, rows, selection.excluded, summary, fold_coefficients)
    if output_path is not None:
        out = Path(output_path)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            coefficients.save(out)
        except OSError as exc:
            raise CalibrationError(
                f"cannot write coefficients ({exc.strerror})", where=str(out)
            ) from None
    return result


# --------------------------------------------------------------------------- uncertainty
def _indicator_rows(chain, coefficients: CeCoefficients) -> np.ndarray:
    """``θ``-space indicators of ``r + c`` per (electrolyte, coating) pair, in ce_table order."""
    rows = []
    for e in chain.ids["electrolyte"]:
        entry = chain.catalogue.get("electrolyte", e)
        for c in chain.ids["coating"]:
            cls = chain.catalogue.get("coating", c).ce_class
            rows.append(coefficients.base_indicator(f"{entry.metal}/{entry.family}", cls, c))
    return np.asarray(rows)


def _codes(chain, name: str, value, shape) -> np.ndarray:
    from dse.vocabulary import INPUTS

    arr = np.asarray(INPUTS[name].default if value is None else value)
    codes = arr if arr.dtype.kind in "fiu" else chain.codes(name, arr)
    return np.broadcast_to(np.asarray(codes, dtype=np.int64), shape)


def sample_cycle_life(
    inputs: Mapping[str, object],
    chain=None,
    samples: int = 4000,
    quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    seed: int = 0,
    return_samples: bool = False,
):
    """Monte Carlo quantiles of cycle life under the coefficient posterior.

    Draws ``samples`` coefficient vectors ``θ ~ N(μ, Σ)`` and residuals
    ``ε ~ N(0, σ²)`` and evaluates, for every design at once (arrays of
    shape ``(samples, n_designs)``, no loop over designs), ``ln(1 - CE) =
    x θ + ε`` and the chain's cycle life at that CE, every mechanism
    included (the formation loss, the inventory, dry-out and cathode fade),
    so at the posterior mean it equals the chain's cycle life.

    Parameters
    ----------
    inputs : mapping
        Design inputs as for :meth:`dse.chain.ModelChain.evaluate`.
    chain : ModelChain, optional
        Default: ``ModelChain()`` (shipped coefficients).
    samples : int, default 4000
    quantiles : sequence of float
    seed : int, default 0
    return_samples : bool, default False
        Also return the ``(samples, n)`` cycle lives.

    Returns
    -------
    ndarray, shape (len(quantiles), n)
        Sampled quantiles of cycle life [cycles] (``n`` = number of designs
        after broadcasting, flattened). With ``return_samples``, a tuple
        ``(quantiles, lives)``.

    Examples
    --------
    >>> q = sample_cycle_life({"cathode": "NMC811", "cathode_loading": [2.0, 4.0]}, samples=500)
    >>> q.shape, bool(np.all(q[0] <= q[2]))
    ((3, 2), True)
    """
    chain = chain or ModelChain()
    coeffs = chain.coefficients
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = chain.evaluate(inputs)
        params = chain.parameters(inputs)
    shape = out["cycle_life"].shape
    d, e = params.design, params.electrolyte
    z = np.stack(
        [
            np.broadcast_to(f, shape).ravel()
            for f in ce_features(
                d.stack_pressure,
                e.min_stack_pressure,
                e.solid > 0.5,
                out["current_density"],
                d.temperature,
                e.decay_onset_temperature,
                d.cathode_loading,
                d.depth_of_discharge,
                d.charge_rate,
                d.discharge_rate,
            )
        ],
        axis=1,
    )
    pair = (
        _codes(chain, "electrolyte", inputs.get("electrolyte"), shape) * len(chain.ids["coating"])
        + _codes(chain, "coating", inputs.get("coating"), shape)
    ).ravel()
    n0 = coeffs.n_base
    x = _indicator_rows(chain, coeffs)[pair]
    x[:, n0:] = z

    rng = np.random.default_rng(seed)
    mean = np.asarray(coeffs.mean, dtype=float)
    vals, vecs = np.linalg.eigh(np.asarray(coeffs.covariance, dtype=float))
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    theta = mean + rng.standard_normal((samples, len(mean))) @ root.T
    log_loss = theta @ x.T + coeffs.residual_sd * rng.standard_normal((samples, len(x)))

    # every mechanism of the chain at each drawn CE: the chain itself, with ln(1 - CE) in place
    # of the surrogate (one numpy evaluation of samples × designs)
    flat_inputs = {k: np.broadcast_to(np.asarray(v), shape).ravel() if not isinstance(v, str) else v
                   for k, v in inputs.items()}
    lives = _outputs_at(chain, flat_inputs, log_loss).cycle_life
    # designs without a lifetime in the chain (graphite baseline, invalid inputs) stay NaN
    lives = np.where(np.isnan(out["cycle_life"].ravel()), np.nan, lives)
    q = np.quantile(lives, np.asarray(quantiles, dtype=float), axis=0)
    return (q, lives) if return_samples else q


def write_default(path: str | Path = DEFAULT_COEFFICIENTS_PATH) -> FitResult:
    """Regenerate the shipped ``dse/data/ce_coefficients.yaml`` from the shipped table."""
    return calibrate(output_path=path)
