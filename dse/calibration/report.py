"""The result of a calibration (:class:`FitResult`) and its report."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dse.calibration.selection import design_matrix
from dse.coefficients import CeCoefficients

__all__ = [
    "FitResult",
    "reference_ce_percent",
]


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
                ce_n = f"[{100 * (1 - np.exp(r['y_ce_n'])):7.3f}]" if np.isfinite(r["y_ce_n"]) else ""
                lines.append(
                    f"  {r['row_id']:<16} {r['source']:<12} {r['group']:<16} {r['target']:<10} "
                    f"CE {100 * r['ce_observed']:7.3f} {100 * r['ce_fitted']:7.3f} "
                    f"{100 * r['ce_cv']:7.3f} {ce_n:9}  "
                    f"N80 {r['n80_observed']:8.0f} {r['n80_fitted']:8.0f} {r['n80_cv']:8.0f}  "
                    f"w {r['weight']:.2f}"
                )
        return "\n".join(lines)


def reference_ce_percent(row) -> tuple[float, float, float]:
    """Reference CE [%] of a group parameter row: at the mean and at the 95 % bounds of ln(1−CE).

    >>> [round(v, 3) for v in reference_ce_percent({"mean": np.log(0.002), "low": np.log(0.001), "high": np.log(0.004)})]
    [99.8, 99.6, 99.9]
    """
    return tuple(100.0 * (1.0 - math.exp(row[k])) for k in ("mean", "high", "low"))
