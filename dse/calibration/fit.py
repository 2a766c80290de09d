"""Fit of the CE surrogate: closed-form posterior, robust noise, cross-validation.

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
:func:`cross_validate` scores the fit on publication-grouped folds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from dse.calibration.targets import cycles_to_80
from dse.errors import CalibrationError

__all__ = [
    "DEGREES_OF_FREEDOM",
    "MIN_RESIDUAL_SCALE",
    "Posterior",
    "predictive_residual_sd",
    "project",
    "fit_posterior",
    "source_folds",
    "cross_validate",
    "band_coverage",
]

#: Student-t degrees of freedom of the residuals (robust regression)
DEGREES_OF_FREEDOM = 4.0
_Z90 = float(stats.norm.ppf(0.9))


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

    :class:`~dse.modelchain.ModelChain` treats the residual as normal (its p10/p90
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


def project(
    mean: np.ndarray, covariance: np.ndarray, matrix: np.ndarray, bound: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
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
    labels = (
        list(constraint_labels)
        if constraint_labels is not None
        else [f"constraint {k}" for k in range(0 if g is None else len(g))]
    )
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
        done = (
            abs(s2_new - s2) <= tol * s2
            and abs(np.sqrt(tau2_new) - np.sqrt(tau2)) <= 1e-6
            and np.max(np.abs(w_new - w), initial=0.0) <= 1e-8
        )
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
    return Posterior(
        mean[:p].copy(),
        cov[:p, :p].copy(),
        float(np.sqrt(s2)),
        w,
        float(nu),
        it,
        float(np.sqrt(tau2)),
        effects,
        [lab for lab, on in zip(labels, active, strict=True) if on],
    )


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
        post = fit_posterior(
            x[~test],
            y[~test],
            prior_mean,
            prior_sd,
            nu=nu,
            sources=None if sources is None else keys[~test],
            constraint=constraint,
            constraint_labels=constraint_labels,
            constraint_bound=constraint_bound,
        )
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
