"""Cycle-life quantiles from coefficient vectors drawn from the posterior.

:func:`sample_cycle_life` checks the closed-form cycle-life quantiles of
:class:`~dse.modelchain.ModelChain` by sampling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dse.calibration.targets import _outputs_at
from dse.coefficients import CeCoefficients
from dse.modelchain import ModelChain
from dse.models.ce import ce_features

__all__ = [
    "sample_cycle_life",
]


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
        Design inputs as for :meth:`dse.modelchain.ModelChain.evaluate`.
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
    flat_inputs = {
        k: np.broadcast_to(np.asarray(v), shape).ravel() if not isinstance(v, str) else v for k, v in inputs.items()
    }
    lives = _outputs_at(chain, flat_inputs, log_loss).cycle_life
    # designs without a lifetime in the chain (graphite baseline, invalid inputs) stay NaN
    lives = np.where(np.isnan(out["cycle_life"].ravel()), np.nan, lives)
    q = np.quantile(lives, np.asarray(quantiles, dtype=float), axis=0)
    return (q, lives) if return_samples else q
