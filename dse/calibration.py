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
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from dse.coefficients import DEFAULT_PATH as DEFAULT_COEFFICIENTS_PATH
from dse.coefficients import CeCoefficients, prior_coefficients
from dse.errors import CalibrationError
from dse.literature import load_literature, parse_flags
from dse.materials.catalogue import Catalogue, load_catalogue
from dse.models.ce import FEATURE_NAMES, REFERENCE, ce_features

__all__ = [
    "METALS",
    "EXCLUDED_FLAGS",
    "SOLID_FAMILIES",
    "COATING_CLASS_OF",
    "DEGREES_OF_FREEDOM",
    "Selection",
    "Posterior",
    "FitResult",
    "select_rows",
    "design_matrix",
    "fit_posterior",
    "cross_validate",
    "predictive_residual_sd",
    "cycles_to_80",
    "calibrate",
    "sample_cycle_life",
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
SOLID_FAMILIES = ("sulfide", "oxide", "halide", "polymer", "lipon", "nasicon", "beta-alumina", "borohydride")
#: ``coating`` values that are not catalogue ids, mapped to a CE class
COATING_CLASS_OF = {"": "none", "none": "none", "oxide": "none", "polymer": "none", "other": "none",
                    "other-alloy": "alloy"}
#: Student-t degrees of freedom of the residuals (robust regression)
DEGREES_OF_FREEDOM = 4.0
#: cathodes that carry extra metal (over-lithiated, presodiated, sacrificial salt)
_PREMETALLATED = re.compile(
    r"presodiat|prelithiat|pre-sodiat|pre-lithiat|over-lithiat|overlithiat|Na-rich|Li-rich", re.I
)
#: retention or cycle count printed as a bound (">20 %", ">1000 cycles", "<70 %")
_BOUND = re.compile(r"(?:Retention|Cycles) printed '[<>]")
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
        ``target`` (``"retention"`` or ``"average_ce"``), ``ce_observed``
        [-], ``y`` = ln(1 − CE) [-], ``n80_observed`` [cycles], one column
        ``z_<feature>`` per feature and ``imputed`` (inputs set to the
        reference condition).
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
    return _LN08 / np.log1p(-np.exp(np.minimum(log_loss, 0.0)))


def _coating_classes(values: pd.Series, catalogue: Catalogue) -> pd.Series:
    ids = set(catalogue.ids("coating"))

    def one(v: str) -> str | None:
        if v in ids:
            return catalogue.get("coating", v).ce_class
        return COATING_CLASS_OF.get(v)

    return values.map(one)


def _electrolyte_table(catalogue: Catalogue) -> dict[str, tuple[bool, float]]:
    """``metal/family`` → (solid, minimum stack pressure [MPa]) of its first catalogue entry."""
    table: dict[str, tuple[bool, float]] = {}
    for e in catalogue.ids("electrolyte"):
        entry = catalogue.get("electrolyte", e)
        key = f"{entry.metal}/{entry.family}"
        if key not in table:
            table[key] = (entry.state == "solid", catalogue.value("electrolyte", e, "min_stack_pressure", 0.0))
    return table


def _features(rows: pd.DataFrame, catalogue: Catalogue) -> tuple[np.ndarray, list[str]]:
    """Feature matrix ``(n, 7)`` and the inputs imputed for each row.

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
    solid = np.where(state.isin(["solid", "hybrid"]), True,
                     np.where(state.isin(["liquid", "gel"]), False, family.isin(SOLID_FAMILIES)))
    pmin = rows["group"].map(lambda g: table.get(g, (False, 0.0))[1]).to_numpy(float)
    num = {c: rows[c].to_numpy(float) for c in ("stack_pressure", "current_density", "temperature",
                                                 "cathode_loading", "depth_of_discharge", "charge_rate",
                                                 "discharge_rate")}
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
    z = np.column_stack(ce_features(pressure, pmin, solid, current, temperature, loading, dod, charge,
                                    discharge)).astype(float)
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
    7. a target exists: retention (0–100 %, exclusive) with a cycle count
       gives ``CE = retention^(1/cycles)``; else an ``average`` full-cell CE
       below 100 % that is not a lower bound. Half-cell, first-cycle,
       initial, cumulative, NIRR and unspecified CEs are never targets.

    Parameters
    ----------
    frame : pandas.DataFrame
        From :func:`dse.literature.load_literature`.
    coefficients : CeCoefficients, optional
        Defines the groups (default: the priors).
    catalogue : Catalogue, optional

    Returns
    -------
    Selection

    Examples
    --------
    >>> sel = select_rows(load_literature())
    >>> sel.used.loc[sel.used.row_id == "s001-T5-618", "target"].item()
    'retention'
    >>> sel.excluded.loc[sel.excluded.row_id == "s001-T4-356", "reason"].item()
    'flag reservoir'
    """
    coefficients = coefficients or prior_coefficients()
    catalogue = catalogue or load_catalogue()
    rows = frame.copy()
    rows["group"] = rows["metal"].astype(str) + "/" + rows["electrolyte_family"].astype(str)
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
    drop(text.str.contains(_PREMETALLATED), "pre-metallated cathode (extra inventory)")
    drop(flags.map(lambda f: "table_text_conflict" in f) & (rows["source_table"] == "text"),
         "table_text_conflict: the table row is kept")
    drop(rows["notes"].astype(str).str.contains(_BOUND), "retention or cycle count printed as a bound")
    drop(rows["electrolyte_family"].astype(str) == "", "electrolyte family not stated")
    drop(~rows["group"].isin(coefficients.groups), "no group " + rows["group"] + " in the priors")
    drop(rows["coating_class"].isna(), "coating " + rows["coating"].astype(str) + " has no CE class")

    retention = rows["retention"].to_numpy(float)
    cycles = rows["cycles"].to_numpy(float)
    ce = rows["ce"].to_numpy(float)
    by_retention = (retention > 0) & (retention < 100) & (cycles >= 1)
    ce_flags = flags.map(lambda f: bool({"half_cell_ce", "first_cycle_ce", "ce_lower_bound"} & set(f)))
    by_average = (~by_retention & (rows["ce_definition"] == "average").to_numpy() & ~ce_flags.to_numpy()
                  & (ce > 0) & (ce < 100))
    why_not = np.where(np.isfinite(retention) & (retention >= 100), "retention of 100 % carries no loss",
                       np.where(np.isfinite(ce) & ~np.isfinite(retention),
                                "CE is not an average full-cell CE below 100 %, and no retention",
                                "no retention with cycle count and no average CE"))
    drop(~(by_retention | by_average), pd.Series(why_not, index=rows.index))

    keep = (reason == "").to_numpy()
    excluded = rows.loc[~keep, ["row_id", "file_line", "metal"]].assign(reason=reason[~keep])
    used = rows.loc[keep].copy()
    r = retention[keep] / 100.0
    n = cycles[keep]
    via_retention = by_retention[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.where(via_retention, -np.expm1(np.log(r) / n), 1.0 - ce[keep] / 100.0)
    used["target"] = np.where(via_retention, "retention", "average_ce")
    used["ce_observed"] = 1.0 - loss
    used["y"] = np.log(loss)
    used["n80_observed"] = cycles_to_80(used["y"].to_numpy())
    z, imputed = _features(used, catalogue)
    for j, name in enumerate(FEATURE_NAMES):
        used[f"z_{name}"] = z[:, j]
    used["imputed"] = imputed
    columns = ["row_id", "file_line", "seed", "reference", "metal", "group", "coating", "coating_class",
               "cathode", "cathode_loading", "target", "retention", "cycles", "ce", "ce_observed", "y",
               "n80_observed", *[f"z_{f}" for f in FEATURE_NAMES], "imputed"]
    return Selection(used[columns].reset_index(drop=True), excluded.reset_index(drop=True))


def design_matrix(used: pd.DataFrame, coefficients: CeCoefficients) -> np.ndarray:
    """Rows of ``θ``-space: group and coating-class indicators, then features.

    Parameters
    ----------
    used : pandas.DataFrame
        ``group``, ``coating_class`` and ``z_<feature>`` columns (as
        :attr:`Selection.used`).
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
    for i, cls in enumerate(used["coating_class"]):
        if cls != "none":
            x[i, col[f"coating/{cls}"]] = 1.0
    for f in FEATURE_NAMES:
        x[:, col[f"slope/{f}"]] = used[f"z_{f}"].to_numpy(float)
    return x


# --------------------------------------------------------------------------- fit
@dataclass
class Posterior:
    """Normal posterior of ``θ`` and the fitted Student-t residual scale.

    Attributes
    ----------
    mean : ndarray
        Posterior mean of ``θ``.
    covariance : ndarray
        Posterior covariance of ``θ``.
    scale : float
        Student-t scale ``s`` of the residuals of ``ln(1 - CE)`` [-].
    weights : ndarray
        Final IRLS weight of each row (1 = ordinary, → 0 = outlier).
    nu : float
        Degrees of freedom (``inf`` for Gaussian residuals).
    iterations : int
    """

    mean: np.ndarray
    covariance: np.ndarray
    scale: float
    weights: np.ndarray
    nu: float
    iterations: int

    @property
    def residual_sd(self) -> float:
        """Normal sd with the same 10–90 % band (see :func:`predictive_residual_sd`)."""
        return predictive_residual_sd(self.scale, self.nu)


def predictive_residual_sd(scale: float, nu: float = DEGREES_OF_FREEDOM) -> float:
    """Normal sd whose 10th–90th percentile band equals that of ``t_ν(0, scale)``.

    :class:`~dse.chain.ModelChain` treats the residual as normal (its p10/p90
    use ``±1.2816 σ``); this ``σ`` makes those percentiles right for the
    fitted t residual.

    Examples
    --------
    >>> round(predictive_residual_sd(1.0, 4.0), 4)
    1.1963
    >>> predictive_residual_sd(0.5, float("inf"))
    0.5
    """
    if not np.isfinite(nu):
        return float(scale)
    return float(scale * stats.t.ppf(0.9, nu) / _Z90)


def fit_posterior(
    x: np.ndarray,
    y: np.ndarray,
    prior_mean: np.ndarray,
    prior_sd: np.ndarray,
    nu: float = DEGREES_OF_FREEDOM,
    scale: float = 0.5,
    max_iter: int = 1000,
    tol: float = 1e-10,
) -> Posterior:
    """Bayesian linear regression with independent normal priors and t residuals.

    Alternates (an EM algorithm for the scale-mixture form of the t):
    the weighted normal posterior
    ``Σ = (diag(1/sd²) + XᵀWX/s²)⁻¹``, ``μ = Σ (m/sd² + XᵀWy/s²)``;
    expected squared residuals ``e_i = (y_i - x_i μ)² + x_i Σ x_iᵀ``;
    weights ``w_i = (ν + 1)/(ν + e_i/s²)``; scale ``s² = Σ w_i e_i / n``.
    With ``nu=inf`` the weights stay 1 (normal residuals, ``s`` by EM).

    Parameters
    ----------
    x : ndarray, shape (n, p)
    y : ndarray, shape (n,)
    prior_mean, prior_sd : ndarray, shape (p,)
    nu : float, default 4
        Degrees of freedom of the residuals.
    scale : float, default 0.5
        Starting residual scale.

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
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    m0 = np.asarray(prior_mean, dtype=float)
    p0 = 1.0 / np.asarray(prior_sd, dtype=float) ** 2
    n = len(y)
    w = np.ones(n)
    s2 = float(scale) ** 2
    mean, cov = m0.copy(), np.diag(1.0 / p0)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (iteration count is reported)
        xw = x * w[:, None]
        precision = np.diag(p0) + x.T @ xw / s2
        cov = np.linalg.inv(precision)
        cov = 0.5 * (cov + cov.T)
        mean = cov @ (p0 * m0 + xw.T @ y / s2)
        e = (y - x @ mean) ** 2 + np.einsum("ij,jk,ik->i", x, cov, x)
        w_new = (nu + 1.0) / (nu + e / s2) if np.isfinite(nu) else np.ones(n)
        s2_new = float(np.sum(w_new * e) / n) if n else s2
        done = abs(s2_new - s2) <= tol * s2 and np.max(np.abs(w_new - w), initial=0.0) <= 1e-8
        w, s2 = w_new, s2_new
        if done:
            break
    return Posterior(mean, cov, float(np.sqrt(s2)), w, float(nu), it)


def _predict(x: np.ndarray, post: Posterior) -> tuple[np.ndarray, np.ndarray]:
    """Predictive mean and sd of ``ln(1 - CE)`` (normal, residual included)."""
    mean = x @ post.mean
    var = np.einsum("ij,jk,ik->i", x, post.covariance, x) + post.residual_sd**2
    return mean, np.sqrt(var)


def _folds(n: int, folds: int, seed: int) -> np.ndarray:
    order = np.random.default_rng(seed).permutation(n)
    fold = np.empty(n, dtype=int)
    fold[order] = np.arange(n) % folds
    return fold


def cross_validate(
    x: np.ndarray,
    y: np.ndarray,
    prior_mean: np.ndarray,
    prior_sd: np.ndarray,
    folds: int = 5,
    seed: int = 0,
    nu: float = DEGREES_OF_FREEDOM,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Posterior]]:
    """k-fold cross-validated predictions of ``ln(1 - CE)``.

    Rows are assigned to folds by a permutation seeded with ``seed``; each
    fold is predicted by a fit (same priors, same method) to the others.

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
    if folds < 2 or folds > n:
        raise CalibrationError(f"folds must be between 2 and the number of rows ({n}), got {folds}")
    fold = _folds(n, folds, seed)
    mean = np.empty(n)
    sd = np.empty(n)
    posteriors = []
    for k in range(folds):
        test = fold == k
        post = fit_posterior(x[~test], y[~test], prior_mean, prior_sd, nu=nu)
        mean[test], sd[test] = _predict(x[test], post)
        posteriors.append(post)
    return mean, sd, fold, posteriors


def _scores(y: np.ndarray, pred: np.ndarray, sd: np.ndarray | None = None) -> dict[str, float]:
    """Error summaries in ln(1 − CE) and in cycles to 80 %."""
    log_ratio = np.log10(cycles_to_80(pred) / cycles_to_80(y))
    out = {
        "median_abs_log_loss": float(np.median(np.abs(pred - y))),
        "rms_log_loss": float(np.sqrt(np.mean((pred - y) ** 2))),
        "median_abs_log10_n80": float(np.median(np.abs(log_ratio))),
        "within_2x_n80": float(np.mean(np.abs(log_ratio) <= np.log10(2.0))),
        "bias_log10_n80": float(np.median(log_ratio)),
    }
    if sd is not None:
        out["coverage_p10_p90"] = float(np.mean(np.abs(pred - y) <= _Z90 * sd))
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
                "prior_mean": pm, "prior_sd": ps, "mean": mean, "sd": sd,
                "low": mean - 1.96 * sd, "high": mean + 1.96 * sd,
                "shift": (mean - pm) / ps, "sd_ratio": sd / ps, "rows": informing,
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
            f"  residuals: Student-t, nu = {s['nu']:g}, scale = {s['scale']:.3f}; "
            f"normal-equivalent residual sd = {s['residual_sd']:.3f} in ln(1 - CE)",
            "",
            "Excluded rows by reason:",
        ]
        lines += [f"  {n:4d}  {r}" for r, n in s["excluded"].items()]
        lines += ["", "Errors (median |d ln(1-CE)|, median |log10 N80 ratio|, within 2x, p10-p90 coverage):"]
        for key, label in (("in_sample", "in-sample"), ("cross_validated", f"{s['folds']}-fold CV"),
                           ("prior_only", "prior only")):
            e = s[key]
            cov = f"{e['coverage_p10_p90']:.2f}" if "coverage_p10_p90" in e else "  – "
            lines.append(f"  {label:<11} {e['median_abs_log_loss']:.3f}  {e['median_abs_log10_n80']:.3f}  "
                         f"{e['within_2x_n80']:.2f}  {cov}")
        lines += ["", "Parameters (prior -> posterior mean ± sd, 95 % interval, shift in prior sds, rows):"]
        table = self.parameter_table()
        for name, r in table.iterrows():
            extra = ""
            if not name.startswith(("coating/", "slope/")):
                extra = (f"  CE {100 * (1 - np.exp(r['mean'])):.3f} % "
                         f"[{100 * (1 - np.exp(r['high'])):.3f}, {100 * (1 - np.exp(r['low'])):.3f}]")
            lines.append(f"  {name:<26} {r['prior_mean']:7.3f} -> {r['mean']:7.3f} ± {r['sd']:.3f} "
                         f"[{r['low']:7.3f}, {r['high']:7.3f}] {r['shift']:+5.2f} {int(r['rows']):4d}{extra}")
        if residuals:
            lines += ["", "Rows (observed vs fitted vs held-out CE [%] and cycles to 80 %, weight):"]
            for _, r in self.rows.iterrows():
                lines.append(
                    f"  {r['row_id']:<16} {r['group']:<16} {r['target']:<10} "
                    f"CE {100 * r['ce_observed']:7.3f} {100 * r['ce_fitted']:7.3f} {100 * r['ce_cv']:7.3f}  "
                    f"N80 {r['n80_observed']:8.0f} {r['n80_fitted']:8.0f} {r['n80_cv']:8.0f}  "
                    f"w {r['weight']:.2f}"
                )
        return "\n".join(lines)


# --------------------------------------------------------------------------- calibrate
def _coefficients_from(post: Posterior, template: CeCoefficients, **extra) -> CeCoefficients:
    return template.model_copy(
        update={
            "mean": [float(v) for v in post.mean],
            "covariance": [[float(v) for v in row] for row in post.covariance],
            "residual_sd": post.residual_sd,
            **extra,
        }
    )


def _round(obj, digits: int = 6):
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: _round(v, digits) for k, v in obj.items()}
    return obj


def calibrate(
    csv_path: str | Path | None = None,
    output_path: str | Path | None = None,
    folds: int = 5,
    seed: int = 0,
    nu: float = DEGREES_OF_FREEDOM,
    prior: CeCoefficients | None = None,
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
        relative to the first discharge does not identify them.

    Returns
    -------
    FitResult

    Raises
    ------
    CalibrationError
        Malformed file, or fewer usable rows than folds.
    """
    from dse import __version__

    prior = prior or prior_coefficients()
    path = Path(csv_path) if csv_path is not None else None
    frame = load_literature(path)
    data_path = Path(frame.attrs["path"])
    selection = select_rows(frame, prior)
    used = selection.used
    if len(used) < max(folds, 2):
        raise CalibrationError(f"only {len(used)} usable rows (need at least {max(folds, 2)})",
                               where=str(data_path))
    x = design_matrix(used, prior)
    y = used["y"].to_numpy(float)
    m0 = np.asarray(prior.mean, dtype=float)
    s0 = np.sqrt(np.diag(np.asarray(prior.covariance, dtype=float)))
    post = fit_posterior(x, y, m0, s0, nu=nu)
    cv_mean, cv_sd, fold, fold_posts = cross_validate(x, y, m0, s0, folds=folds, seed=seed, nu=nu)
    fitted, fitted_sd = _predict(x, post)
    prior_pred = x @ m0
    prior_sd = np.sqrt(np.einsum("ij,jk,ik->i", x, np.asarray(prior.covariance), x) + prior.residual_sd**2)

    rows = used.copy()
    rows["fitted"] = fitted
    rows["residual"] = y - fitted
    rows["weight"] = post.weights
    rows["fold"] = fold
    rows["cv_mean"] = cv_mean
    rows["cv_sd"] = cv_sd
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
        "rows_retention": int((used["target"] == "retention").sum()),
        "rows_average_ce": int((used["target"] == "average_ce").sum()),
        "rows_by_group": {k: int(v) for k, v in used["group"].value_counts().sort_index().items()},
        "excluded": selection.reason_counts(),
        "nu": nu,
        "scale": post.scale,
        "residual_sd": post.residual_sd,
        "iterations": post.iterations,
        "folds": folds,
        "seed": seed,
        "in_sample": _scores(y, fitted, fitted_sd),
        "cross_validated": _scores(y, cv_mean, cv_sd),
        "prior_only": _scores(y, prior_pred, prior_sd),
    }
    provenance = {
        "data_file": data_path.name,
        "data_sha256": frame.attrs["sha256"],
        "rows_used": len(used),
        "date": datetime.date.today().isoformat(),
        "dse_version": __version__,
        "method": f"Bayesian linear regression, independent normal priors (dse.coefficients.PRIORS), "
                  f"Student-t residuals (nu={nu:g}) by EM/IRLS; {folds}-fold CV, seed {seed}",
    }
    fit_report = {
        "rows_used": len(used),
        "rows_retention": summary["rows_retention"],
        "rows_average_ce": summary["rows_average_ce"],
        "rows_by_group": summary["rows_by_group"],
        "excluded": summary["excluded"],
        "residual_scale_t": _round(post.scale),
        "nu": nu,
        **{k: _round(summary[k]) for k in ("in_sample", "cross_validated", "prior_only")},
    }
    coefficients = _coefficients_from(
        post, prior,
        description=f"CE surrogate calibrated on {data_path.name} ({len(used)} rows)",
        provenance=provenance, fit_report=fit_report,
    )
    fold_coefficients = [
        _coefficients_from(p, prior, description=f"fit without fold {k}",
                           provenance={**provenance, "held_out_fold": k})
        for k, p in enumerate(fold_posts)
    ]
    result = FitResult(coefficients, prior, rows, selection.excluded, summary, fold_coefficients)
    if output_path is not None:
        out = Path(output_path)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            coefficients.save(out)
        except OSError as exc:
            raise CalibrationError(f"cannot write coefficients ({exc.strerror})", where=str(out)) from None
    return result


# --------------------------------------------------------------------------- uncertainty
def _indicator_rows(chain, coefficients: CeCoefficients) -> np.ndarray:
    """``θ``-space indicators of ``r + c`` for each (electrolyte, coating) pair, in ce_table order."""
    names = coefficients.names
    rows = []
    for e in chain.ids["electrolyte"]:
        entry = chain.catalogue.get("electrolyte", e)
        for c in chain.ids["coating"]:
            x = np.zeros(len(names))
            x[names.index(f"{entry.metal}/{entry.family}")] = 1.0
            cls = chain.catalogue.get("coating", c).ce_class
            if cls != "none":
                x[names.index(f"coating/{cls}")] = 1.0
            rows.append(x)
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
    x θ + ε`` and the cycle life of the inventory model. The inventory is
    rebuilt from the chain's outputs (the formation loss scales with
    ``1 - CE``), so at the posterior mean it equals the chain's cycle life.

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
    from dse.chain import ModelChain
    from dse.models.lifetime import cycle_life, first_cycle_loss

    chain = chain or ModelChain()
    coeffs = chain.coefficients
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = chain.evaluate(inputs)
        params = chain.parameters(inputs)
    shape = out["cycle_life"].shape
    d, e = params.design, params.electrolyte
    z = np.stack([np.broadcast_to(f, shape).ravel() for f in ce_features(
        d.stack_pressure, e.min_stack_pressure, e.solid > 0.5, out["current_density"], d.temperature,
        d.cathode_loading, d.depth_of_discharge, d.charge_rate, d.discharge_rate)], axis=1)
    pair = (_codes(chain, "electrolyte", inputs.get("electrolyte"), shape) * len(chain.ids["coating"])
            + _codes(chain, "coating", inputs.get("coating"), shape)).ravel()
    n0 = len(coeffs.groups) + len(coeffs.coating_classes)
    x = _indicator_rows(chain, coeffs)[pair]
    x[:, n0:] = z

    rng = np.random.default_rng(seed)
    mean = np.asarray(coeffs.mean, dtype=float)
    vals, vecs = np.linalg.eigh(np.asarray(coeffs.covariance, dtype=float))
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    theta = mean + rng.standard_normal((samples, len(mean))) @ root.T
    log_loss = theta @ x.T + coeffs.residual_sd * rng.standard_normal((samples, len(x)))

    flat = {k: out[k].ravel() for k in ("coulombic_efficiency", "formation_loss", "inventory",
                                         "cycled_capacity")}
    m = coeffs.formation_loss_multiplier
    fraction0 = first_cycle_loss(flat["coulombic_efficiency"], m)
    plated = np.where(fraction0 > 0, flat["formation_loss"] / np.where(fraction0 > 0, fraction0, 1.0), 0.0)
    ce = 1.0 - np.exp(np.minimum(log_loss, 0.0))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        inventory = flat["inventory"] + flat["formation_loss"] - first_cycle_loss(ce, m) * plated
        lives = cycle_life(inventory, flat["cycled_capacity"], ce, chain.constants.end_of_life).cycle_life
    q = np.quantile(lives, np.asarray(quantiles, dtype=float), axis=0)
    return (q, lives) if return_samples else q


def write_default(path: str | Path = DEFAULT_COEFFICIENTS_PATH) -> FitResult:
    """Regenerate the shipped ``dse/data/ce_coefficients.yaml`` from the shipped table."""
    return calibrate(output_path=path)


if __name__ == "__main__":  # pragma: no cover
    print(write_default().report_text())
