"""The calibration pipeline (:func:`calibrate`) and the shipped coefficients.

:func:`dse.literature.load_literature` → :func:`~dse.calibration.selection.select_rows`
→ :func:`~dse.calibration.fit.fit_posterior` →
:func:`~dse.calibration.fit.cross_validate` →
:class:`~dse.calibration.report.FitResult` → YAML.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from dse.calibration.fit import (
    DEGREES_OF_FREEDOM,
    Posterior,
    _predict,
    _scores,
    cross_validate,
    fit_posterior,
)
from dse.calibration.report import FitResult
from dse.calibration.selection import design_matrix, select_rows
from dse.calibration.targets import cycles_to_80
from dse.coefficients import DEFAULT_PATH as DEFAULT_COEFFICIENTS_PATH
from dse.coefficients import CeCoefficients, constraint_bounds, constraints, prior_coefficients
from dse.errors import CalibrationError
from dse.literature import load_literature

__all__ = [
    "calibrate",
    "write_default",
]


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
        raise CalibrationError(f"only {len(used)} usable rows (need at least {max(folds, 2)})", where=str(data_path))
    x = design_matrix(used, prior)
    y = used["y"].to_numpy(float)
    m0 = np.asarray(prior.mean, dtype=float)
    c0 = np.asarray(prior.covariance, dtype=float)
    sources = used["source"].to_numpy(str)
    if len(np.unique(sources)) < max(folds, 2):
        raise CalibrationError(
            f"only {len(np.unique(sources))} publications (need at least {max(folds, 2)} to "
            "cross-validate by publication)",
            where=str(data_path),
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
        **{
            k: _round(summary[k])
            for k in ("in_sample", "cross_validated", "cross_validated_unconstrained", "prior_only")
        },
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
            raise CalibrationError(f"cannot write coefficients ({exc.strerror})", where=str(out)) from None
    return result


def write_default(path: str | Path = DEFAULT_COEFFICIENTS_PATH) -> FitResult:
    """Regenerate the shipped ``dse/data/ce_coefficients.yaml`` from the shipped table."""
    return calibrate(output_path=path)
