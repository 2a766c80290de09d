"""Tables and sections of the generated validation and calibration docs (used by build_validation.py)."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dse.calibration import (  # noqa: E402
    FitResult,
    reference_ce_percent,
)
from dse.coefficients import PRIORS  # noqa: E402


# --------------------------------------------------------------------------- render
def _f(v, fmt="{:.0f}", empty="–") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return empty
    return fmt.format(v)


def _scores(pred: pd.Series, obs: pd.Series) -> tuple[int, str, str, str, str]:
    ok = pred.notna() & obs.notna() & (pred > 0) & (obs > 0)
    if not ok.any():
        return 0, "–", "–", "–", "–"
    r = np.log10(pred[ok].to_numpy(float) / obs[ok].to_numpy(float))
    return (
        int(ok.sum()),
        f"{np.median(np.abs(r)):.2f}",
        f"{np.mean(np.abs(r) <= np.log10(2)):.0%}",
        f"{np.median(r):+.2f}",
        f"{np.mean(np.abs(r) <= np.log10(1.5)):.0%}",
    )


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _life_table(rows: pd.DataFrame) -> list[str]:
    header = (
        "row",
        "cathode / electrolyte / coating",
        "loading",
        "reported",
        "CE fit %",
        "cycles to R: fit (CV)",
        "p10–p90 to 80 %",
        "retention at n: fit",
        "notes",
    )
    lines = [_row(header), _row(["---"] * len(header))]
    for _, r in rows.iterrows():
        if not r.get("evaluated", False):
            lines.append(_row([r["row_id"], *["–"] * 7, f"not evaluated: {r['notes']}"]))
            continue
        reported = "–"
        if math.isfinite(r["retention"]) and math.isfinite(r["cycles"]):
            reported = f"{r['retention']:g} % after {r['cycles']:g}"
        elif math.isfinite(r["cycles"]):
            reported = f"{r['cycles']:g} cycles (no retention)"
        elif math.isfinite(r["retention"]):
            reported = f"{r['retention']:g} % (no cycle count)"
        cv = (
            f" ({_f(r.get('cycles_cv'))})"
            if isinstance(r.get("fold"), (int, float)) and not pd.isna(r.get("fold"))
            else ""
        )
        cycles = (
            _f(r.get("cycles_fit")) + cv
            if math.isfinite(r["retention"]) and r["retention"] < 100
            else (f"{_f(r.get('life80_fit'))} to 80 %")
        )
        notes = [r["notes"]] if r["notes"] else []
        if not r["feasible"]:
            notes.append(f"infeasible in the model ({r['reasons']})")
        if r["bound"]:
            notes.append("bound/projection: not scored")
        if r["flags"]:
            notes.append("flags: " + r["flags"].replace(";", ", "))
        retention_at_n = 100 * r.get("retention_at_n_fit", np.nan)
        lines.append(
            _row(
                [
                    r["row_id"],
                    f"{r['cathode']} / {r['electrolyte']} / {r['coating']}",
                    f"{r['loading']:g}",
                    reported,
                    _f(100 * r["ce_fit"], "{:.3f}"),
                    cycles,
                    f"{_f(r['p10_fit'])}–{_f(r['p90_fit'])}",
                    _f(retention_at_n, "{:.1f} %"),
                    "; ".join(notes),
                ]
            )
        )
    return lines


def _energy_table(rows: pd.DataFrame) -> tuple[list[str], list[float]]:
    header = (
        "row",
        "basis",
        "reported Wh/kg",
        "model Wh/kg",
        "reported Wh/L",
        "model Wh/L",
        "compared with",
    )
    lines = [_row(header), _row(["---"] * len(header))]
    ratios = []
    for _, r in rows.iterrows():
        if not r.get("evaluated", False):
            continue
        if not (math.isfinite(r["energy_gravimetric"]) or math.isfinite(r["energy_volumetric"])):
            continue
        basis = r["energy_basis"] or "unknown"
        if basis == "cell":
            se, ed, against = r["se_cell"], r["ed_cell"], "catalogue pouch cell"
        else:
            se, ed, against = r["se_stack"], r["ed_stack"], "repeat unit (stack)"
        if basis not in ("projection", "cathode"):
            for rep, mod in ((r["energy_gravimetric"], se), (r["energy_volumetric"], ed)):
                if math.isfinite(rep):
                    ratios.append(mod / rep)
        else:
            against += " (projection: not scored)"
        lines.append(
            _row(
                [
                    r["row_id"],
                    basis,
                    _f(r["energy_gravimetric"]),
                    _f(se),
                    _f(r["energy_volumetric"]),
                    _f(ed),
                    against,
                ]
            )
        )
    return lines, ratios


LAYERED = ("NMC111", "NMC532", "NMC622", "NMC811", "NCA", "LCO", "LNMO")


def _held_out(rows: pd.DataFrame) -> pd.Series:
    """Prediction that did not see the row: CV fold fit if the row was used, else the full fit."""
    return rows["cycles_cv"].where(rows["fold"].notna(), rows["cycles_fit"])


def _misses(scored: pd.DataFrame, count: int = 10) -> list[str]:
    pred = _held_out(scored)
    ratio = np.log10(pred / scored["cycles"])
    order = ratio.abs().sort_values(ascending=False).index[:count]
    lines = [
        "| row | cell | reported | predicted (held out) | ratio | knee | used by fit |",
        "|---|---|---|---|---|---|---|",
    ]
    for i in order:
        r = scored.loc[i]
        cell = f"{r['cathode']} / {r['electrolyte']} / {r['coating']}"
        reported = f"{r['retention']:g} % after {r['cycles']:g}"
        used = "yes" if pd.notna(r["fold"]) else "no"
        lines.append(
            _row(
                [
                    r["row_id"],
                    cell,
                    reported,
                    _f(pred[i]),
                    f"{10 ** ratio[i]:.2g}×",
                    _f(r["knee"]),
                    used,
                ]
            )
        )
    return lines


def calibration_section(fit: FitResult) -> str:
    """The generated results section of docs/calibration.md."""
    s = fit.summary
    table = fit.parameter_table()
    sha = s["data_sha256"][:12]
    lines = [
        f"Fit of `{s['data_file']}` (sha256 `{sha}…`): {s['rows_used']} rows used "
        f"({s['rows_retention']} from retention, {s['rows_average_ce']} from an average CE) of "
        f"{s['rows_total']}. Targets: {s['rows_target_chain']} `chain` (retention inverted "
        f"through the model chain), {s['rows_target_ce_n']} `ce_n` (retention^(1/n), no "
        f"design), from {s['sources']} publications ({s['sources_with_several_rows']} with more than "
        f"one row). Student-t residuals (ν = {s['nu']:g}), scale {s['scale']:.3f}; "
        f"normal-equivalent within-publication sd {s['within_source_sd']:.3f}, publication effect "
        f"sd τ = {s['source_sd']:.3f}; residual sd of a new design (both) "
        f"{s['residual_sd']:.3f} in ln(1 − CE). Constraints active at the mode: "
        + (", ".join(f"`{c}`" for c in s["active_constraints"]) or "none")
        + ".",
        "",
        _row(
            [
                "errors",
                "median \\|Δ ln(1−CE)\\|",
                "RMS Δ ln(1−CE)",
                "median \\|log10 N80 ratio\\|",
                "N80 within 2×",
                "N80 within 1.5×",
                "bias (median log10)",
                "p10–p90 coverage",
                "median p90/p10",
            ]
        ),
        _row(["---"] * 9),
    ]
    for key, label in (
        ("in_sample", "in-sample"),
        ("cross_validated", f"{s['folds']}-fold CV by publication (seed {s['seed']}), signs enforced"),
        ("cross_validated_unconstrained", "same folds, signs not enforced"),
        ("prior_only", "prior only (no fit)"),
    ):
        e = s[key]
        lines.append(
            _row(
                [
                    label,
                    f"{e['median_abs_log_loss']:.3f}",
                    f"{e['rms_log_loss']:.3f}",
                    f"{e['median_abs_log10_n80']:.3f}",
                    f"{e['within_2x_n80']:.0%}",
                    f"{e['within_1_5x_n80']:.0%}",
                    f"{e['bias_log10_n80']:+.3f}",
                    f"{e['coverage_p10_p90']:.0%}",
                    f"{e['width_p90_p10']:.1f}×",
                ]
            )
        )
    lines += [
        "",
        "| parameter | prior | posterior mean ± sd | 95 % interval | reference CE [%] (95 %) "
        "| shift [prior sd] | sd ratio | rows |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in table.iterrows():
        ce = ""
        if not name.startswith(("coating/", "slope/")):
            mean, low, high = reference_ce_percent(r)
            ce = f"{mean:.2f} ({low:.2f}–{high:.2f})"
        lines.append(
            _row(
                [
                    f"`{name}`",
                    f"{r['prior_mean']:.2f} ± {r['prior_sd']:.2f}",
                    f"{r['mean']:.2f} ± {r['sd']:.2f}",
                    f"{r['low']:.2f} – {r['high']:.2f}",
                    ce,
                    f"{r['shift']:+.2f}",
                    f"{r['sd_ratio']:.2f}",
                    int(r["rows"]),
                ]
            )
        )
    lines += [
        "",
        "Rows used per group: " + ", ".join(f"{g} {n}" for g, n in s["rows_by_group"].items()) + ".",
        "",
        "Excluded rows per reason: " + "; ".join(f"{r} ({n})" for r, n in s["excluded"].items()) + ".",
    ]
    return "\n".join(lines)


def priors_section() -> str:
    """The generated table of priors in docs/calibration.md."""
    header = ("parameter", "prior mean", "as CE [%]", "prior sd", "basis")
    lines = [_row(header), _row(["---"] * len(header))]
    for name, prior in PRIORS.items():
        ce = "" if name.startswith(("coating/", "slope/")) else f"{100 * (1 - math.exp(prior.mean)):.1f}"
        lines.append(_row([f"`{name}`", f"{prior.mean:.2f}", ce, f"{prior.sd:.2f}", prior.basis]))
    return "\n".join(lines)


def render_calibration(text: str, fit: FitResult) -> str:
    for name, body in (
        ("calibration-priors", priors_section()),
        ("calibration-results", calibration_section(fit)),
    ):
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"section {name} not found in docs/calibration.md")
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text
