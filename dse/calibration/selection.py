"""Row selection: exclusion rules, target and features per row (:func:`select_rows`).

The documented exclusion rules (``docs/calibration.md``) decide which rows
of the literature table the fit uses; each used row gets its target
(:mod:`dse.calibration.targets`) and its standardised features, and
:func:`design_matrix` turns the used rows into rows of ``θ``-space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dse.calibration.designs import METALS, shipped_catalogue
from dse.calibration.targets import CHAIN_NO_LOSS, CHAIN_SURPLUS, chain_targets, cycles_to_80
from dse.coefficients import CeCoefficients, prior_coefficients
from dse.errors import CalibrationError
from dse.literature import parse_flags, source_keys
from dse.materials.catalogue import Catalogue
from dse.models.ce import FEATURE_NAMES, REFERENCE, ce_features

__all__ = [
    "EXCLUDED_FLAGS",
    "SOLID_FAMILIES",
    "COATING_CLASS_OF",
    "TARGETS",
    "PREMETALLATED",
    "PRINTED_BOUND",
    "Selection",
    "select_rows",
    "design_matrix",
]

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


#: how a retention row becomes a target: inverted through the chain, or ``R^(1/n)``
TARGETS = ("chain", "ce_n")
#: cathodes that carry extra metal (over-lithiated, presodiated, sacrificial salt)
PREMETALLATED = re.compile(
    r"presodiat|prelithiat|pre-sodiat|pre-lithiat|over-lithiat|overlithiat|Na-rich|Li-rich", re.I
)
#: retention or cycle count printed as a bound (">20 %", ">1000 cycles", "<70 %")
PRINTED_BOUND = re.compile(r"(?:Retention|Cycles) printed '[<>]")


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
    loading = np.where(missing["cathode_loading"], REFERENCE["areal_capacity"], num["cathode_loading"])
    pressure = np.where(missing["stack_pressure"], np.where(solid, pmin, 0.0), num["stack_pressure"])
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
    >>> from dse.literature import load_literature
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
    drop(rows["coating_class"].isna(), "coating " + rows["coating"].astype(str) + " has no CE class")

    retention = rows["retention"].to_numpy(float)
    cycles = rows["cycles"].to_numpy(float)
    ce = rows["ce"].to_numpy(float)
    by_retention = (retention > 0) & (retention < 100) & (cycles >= 1)
    ce_flags = flags.map(lambda f: bool({"half_cell_ce", "first_cycle_ce", "ce_lower_bound"} & set(f)))
    by_average = (
        ~by_retention & (rows["ce_definition"] == "average").to_numpy() & ~ce_flags.to_numpy() & (ce > 0) & (ce < 100)
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
