"""Fronts that survive the uncertainty of the CE surrogate.

Two answers to "is this design on the front only because the median CE says so?":

* **Quantile fronts** (:func:`quantile_objectives`): the front with every
  objective that has stored quantiles (today ``cycle_life``, stored as
  ``cycle_life_p10``/``_p90`` by sweeps with ``uncertainty: true``) taken at
  the 10th or 90th percentile of its posterior predictive. The p10 front is
  the pessimist's front.
* **Probability of non-domination** (:func:`pareto_probability`): the share
  of posterior draws of the CE coefficients in which a design is on the front
  of the store. Each draw ``θ_s ~ N(μ, Σ)`` of the whole coefficient vector
  (group references, coating effects and the slopes of
  :data:`dse.models.ce.FEATURE_NAMES`) is one possible truth, shared by every
  design of every scenario (common random numbers): the designs are
  re-evaluated with the same fused kernel as the sweep, with the draw's
  ``CeTerms.base`` per (electrolyte, coating) pair and ``Constants.slopes``,
  block by block; each draw's front is found exactly (a local front per block,
  then the front of their union, as :func:`dse.pareto.pareto_mask` does). The
  residual scatter of single cells about the surrogate (``residual_sd``) is
  not drawn: it is independent from cell to cell and says nothing about which
  design is better, only how much one built cell may differ.

The draws are seeded (``numpy.random.default_rng(seed)``) and the seed, the
number of draws, the objectives and the filter are recorded in the attributes
of the stored ``pareto_probability``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from dse.errors import SpecError, StoreError
from dse.pareto import _exact_front, _signs, decode_categories, front_table, objective_senses

__all__ = [
    "QUANTILE_OUTPUTS",
    "quantile_objectives",
    "coefficient_draws",
    "pareto_probability",
    "probability_front",
    "DEFAULT_DRAWS",
]

#: quantile → suffix of the stored outputs that hold it
QUANTILE_OUTPUTS = {0.1: "_p10", 0.9: "_p90"}
#: default number of posterior draws
DEFAULT_DRAWS = 200


def quantile_objectives(
    ds: xr.Dataset, objectives: Mapping[str, str | None] | Sequence[str] | None, quantile: float
) -> dict[str, str]:
    """Objectives with every output that has quantiles replaced by its quantile output.

    ``quantile`` 0.5 is the median: the stored outputs themselves (they are
    evaluated at the posterior mean of ``ln(1 - CE)``, and cycle life is
    monotone in it, so they are the posterior medians).

    Raises
    ------
    SpecError
        A quantile that is not stored (only 0.1, 0.5 and 0.9 are), a store
        without the quantile outputs, or objectives none of which has quantiles.

    Examples
    --------
    >>> ds = xr.Dataset({"cycle_life": ("design", [1.0], {"dse_sense": "max"}),
    ...                  "cycle_life_p10": ("design", [0.5]), "cost": ("design", [1.0], {"dse_sense": "min"})})
    >>> quantile_objectives(ds, None, 0.1)
    {'cycle_life_p10': 'max', 'cost': 'min'}
    >>> quantile_objectives(ds, None, 0.25)
    Traceback (most recent call last):
    ...
    dse.errors.SpecError: --quantile: 0.25 is not stored: choose 0.1, 0.5 (the median) or 0.9
    """
    from dse.models.chain import OUTPUT_FIELDS

    senses = objective_senses(ds, objectives)
    if quantile == 0.5:
        return senses
    if quantile not in QUANTILE_OUTPUTS:
        raise SpecError(f"{quantile:g} is not stored: choose 0.1, 0.5 (the median) or 0.9", where="--quantile")
    suffix = QUANTILE_OUTPUTS[quantile]
    out: dict[str, str] = {}
    for name, sense in senses.items():
        q_name = name + suffix
        if q_name in OUTPUT_FIELDS:
            if q_name not in ds.data_vars:
                raise SpecError(
                    f"the store has no {q_name!r}: sweep with 'uncertainty: true' to store the quantiles",
                    where="--quantile",
                )
            out[q_name] = sense
        else:
            out[name] = sense
    if out == senses:
        raise SpecError(
            f"none of the objectives {', '.join(senses)} has quantiles (cycle_life has)", where="--quantile"
        )
    return out


def coefficient_draws(coefficients, draws: int, seed: int) -> np.ndarray:
    """``draws`` samples of the whole coefficient vector, ``(draws, n_parameters)``.

    ``θ = μ + L z`` with ``L L^T = Σ`` from an eigendecomposition (a
    singular or zero covariance is fine: a zero covariance gives ``θ = μ``
    exactly).

    >>> from dse.coefficients import load_coefficients
    >>> c = load_coefficients()
    >>> coefficient_draws(c, 3, seed=1).shape == (3, len(c.mean))
    True
    """
    mean = np.asarray(coefficients.mean, dtype=np.float64)
    cov = np.asarray(coefficients.covariance, dtype=np.float64)
    values, vectors = np.linalg.eigh(cov)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    z = np.random.default_rng(seed).standard_normal((draws, mean.size))
    return mean + z @ root.T


def _indicators(chain) -> np.ndarray:
    """Rows of ``chain.ce_table`` as indicator vectors over the coefficient names (``base = X θ``)."""
    coeffs = chain.coefficients
    rows = []
    for e in chain.ids["electrolyte"]:
        entry = chain.catalogue.get("electrolyte", e)
        for c in chain.ids["coating"]:
            # the same terms as ModelChain._ce_table: group, coating class and the coating's own deviation
            rows.append(
                coeffs.base_indicator(f"{entry.metal}/{entry.family}", chain.catalogue.get("coating", c).ce_class, c)
            )
    return np.asarray(rows)


def _drawn(chain, indicators: np.ndarray, theta: np.ndarray):
    """CE table and constants of one draw: the draw's base per pair and slopes, the rest as the chain's."""
    n0 = chain.coefficients.n_base
    table = chain.ce_table.copy()
    table[:, 0] = indicators @ theta
    constants = chain.constants._replace(slopes=tuple(float(v) for v in theta[n0:]))
    return table, constants


@dataclass
class _Scenario:
    """What the draws need of one scenario."""

    name: str
    group: str
    ds: xr.Dataset
    space: object
    chain: object
    indicators: np.ndarray
    candidate: np.ndarray | None  # where-mask over the scenario's dims (None: every design)


def _scenarios(results, where: str | None) -> list[_Scenario]:
    from dse.design import DesignSpace
    from dse.filters import where_mask
    from dse.modelchain import ModelChain

    spec = results.spec
    if spec is None:
        raise SpecError("the store records no spec: it cannot be re-evaluated", where=results.path)
    out = []
    for name, ds in results.datasets.items():
        sc = results.scenario(name)
        if sc.kind == "grid":  # the axes in the stored order (a spec dumped again may list its inputs sorted)
            by_name = {a.name: a for a in sc.axes}
            dims = list(ds.attrs["dse_dims"])
            if sorted(by_name) != sorted(dims) or any(len(by_name[d].values) != ds.sizes[d] for d in dims):
                raise StoreError(
                    "its spec does not describe its grid; it cannot be re-evaluated",
                    where=f"{results.path} scenario {name!r}",
                )
            sc = dataclasses.replace(sc, axes=[by_name[d] for d in dims])
        chain = ModelChain(
            coefficients=results.coefficients,
            overrides=sc.overrides,
            ce_overrides=sc.ce_overrides,
            uncertainty=spec.uncertainty,
        )
        space = DesignSpace(sc, spec.chunk_size)
        # the blocks as stored (a --chunk-size of the sweep is not in the spec text)
        space.chunks = tuple(int(c) for c in ds.attrs["dse_chunks"])
        space.block_grid = tuple(int(b) for b in ds.attrs["dse_block_grid"])
        candidate = None
        if where:
            mask = where_mask(ds, where)
            candidate = np.asarray(xr.broadcast(mask, ds["feasible"])[0].transpose(*space.dims).values, bool)
        out.append(_Scenario(name, results.attrs["dse_groups"][name], ds, space, chain, _indicators(chain), candidate))
    return out


def _block_fronts(sc: _Scenario, block: int, theta: np.ndarray, select: list[int], signs: list[float]):
    """Per draw: flat positions (in the scenario) and maximised values of the block's local front."""
    from dse.models.kernel import run_kernel_block

    space, chain = sc.space, sc.chain
    shape, axis_of, starts, values, _ = space.kernel_inputs(block, chain)
    region = space.block_slices(block)
    n = int(np.prod(shape))
    local = np.indices(shape).reshape(len(shape), -1)
    flat = np.ravel_multi_index(tuple(local[a] + region[a].start for a in range(len(shape))), space.shape)
    allowed = np.ones(n, bool) if sc.candidate is None else sc.candidate[region].reshape(-1)
    k = len(signs)
    out = np.empty((k + 1, n), np.float32)
    fronts = []
    for s in range(theta.shape[0]):
        table, constants = _drawn(chain, sc.indicators, theta[s])
        run_kernel_block(shape, axis_of, starts, values, chain.tables, table, constants, select, out=out)
        pick = allowed & (out[k] == 0)
        x = out[:k].T.astype(np.float64) * np.asarray(signs)
        pick &= ~np.isnan(x).any(axis=1)
        pos = np.flatnonzero(pick)
        front = _exact_front(np.ascontiguousarray(x[pos]))
        fronts.append((flat[pos[front]], x[pos[front]]))
    return fronts


def pareto_probability(
    path: str,
    objectives: Mapping[str, str | None] | Sequence[str] | None = None,
    where: str | None = None,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    storage_options: Mapping | None = None,
    write: bool = True,
) -> dict[str, xr.DataArray]:
    """Probability that each design of a store is non-dominated, over posterior draws of the CE coefficients.

    Parameters
    ----------
    path : str
        Results store written by ``dse sweep`` (its spec is re-evaluated).
    objectives : mapping or sequence, optional
        As for :func:`dse.pareto.objective_senses`; model outputs only (not
        the ``_p10``/``_p90`` quantiles, which the draws replace).
    where : str, optional
        Filter expression; designs outside it are never on a front.
    draws : int, default 200
        Posterior draws (the probability is a multiple of ``1 / draws``).
    seed : int, default 0
        Seed of the draws.
    storage_options : mapping, optional
    write : bool, default True
        Store the result as ``pareto_probability`` in every scenario.

    Returns
    -------
    dict of xarray.DataArray
        Scenario → ``pareto_probability`` [1] over the scenario's dims: the
        fraction of draws in which the design is feasible, satisfies
        ``where`` and is on the front of all candidates of the store.
    """
    from dse.models.chain import OUTPUT_FIELDS
    from dse.store import store_state, write_variable
    from dse.store.table import Results

    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise SpecError(f"expected a number of draws ≥ 1, got {draws!r}", where="--draws")
    results = Results(path, storage_options)
    state = store_state(path, storage_options) if write else None
    first = next(iter(results.datasets.values()))
    senses = objective_senses(first, objectives)
    for name in senses:
        if name not in OUTPUT_FIELDS or name.endswith(("_p10", "_p90")):
            raise SpecError(f"{name!r} is not a model output that the draws can re-evaluate", where="objectives")
    signs = _signs(list(senses.values()))
    select = [OUTPUT_FIELDS.index(n) for n in senses] + [OUTPUT_FIELDS.index("infeasible_reason")]
    scenarios = _scenarios(results, where)
    theta = coefficient_draws(results.coefficients, draws, seed)
    # per scenario and block: the local fronts of every draw
    local = {
        sc.name: [_block_fronts(sc, b, theta, select, signs) for b in range(sc.space.n_blocks)] for sc in scenarios
    }
    counts = {sc.name: np.zeros(sc.space.n_designs, np.int64) for sc in scenarios}
    for s in range(draws):
        owners, positions, values = [], [], []
        for j, sc in enumerate(scenarios):
            for fronts in local[sc.name]:
                pos, x = fronts[s]
                owners.append(np.full(pos.size, j))
                positions.append(pos)
                values.append(x)
        x = np.concatenate(values) if values else np.empty((0, len(senses)))
        on = _exact_front(np.ascontiguousarray(x))
        owner, position = np.concatenate(owners)[on], np.concatenate(positions)[on]
        for j, sc in enumerate(scenarios):
            np.add.at(counts[sc.name], position[owner == j], 1)
    out = {}
    for sc in scenarios:
        probability = (counts[sc.name] / draws).astype(np.float32).reshape(sc.space.shape)
        var = xr.DataArray(
            probability,
            dims=sc.space.dims,
            name="pareto_probability",
            attrs={
                "long_name": "Probability of being on the Pareto front (CE coefficient posterior)",
                "units": "1",
                "dse_objectives": ", ".join(f"{n}:{s}" for n, s in senses.items()),
                "dse_where": where or "",
                "dse_draws": int(draws),
                "dse_seed": int(seed),
                "dse_draws_of": "CE coefficient posterior N(mean, covariance); common random numbers across designs",
            },
        )
        if write:
            write_variable(path, sc.group, var, storage_options, state=state)
        out[sc.name] = var.assign_coords({d: sc.ds[d] for d in sc.space.dims if d in sc.ds.coords})
    return out


def probability_front(
    path: str,
    probabilities: Mapping[str, xr.DataArray],
    threshold: float,
    objectives: Mapping[str, str | None] | Sequence[str] | None = None,
    storage_options: Mapping | None = None,
) -> pd.DataFrame:
    """The designs on the front with probability ≥ ``threshold``, most probable first.

    Returns
    -------
    pandas.DataFrame
        ``scenario``, ``design``, inputs, the objectives (their stored, median
        values) and ``pareto_probability``.
    """
    from dse.store import open_results

    if not 0.0 < threshold <= 1.0:
        raise SpecError(f"expected a probability in (0, 1], got {threshold:g}", where="--probability")
    frames = []
    for name, ds in open_results(path, storage_options).items():
        p = probabilities[name]
        mask = xr.DataArray(np.asarray(p.values) >= threshold, dims=p.dims)
        if not mask.any():
            continue
        senses = objective_senses(ds, objectives)
        table = front_table(ds, mask, senses)
        flat = np.asarray(p.values).reshape(-1)
        table["pareto_probability"] = flat[table.index.to_numpy()]  # the row-major position (grid) or design
        decode_categories(table, ds)
        table.insert(0, "scenario", name)
        frames.append(table.reset_index())
    if not frames:
        return pd.DataFrame(columns=["scenario", "design", "pareto_probability"])
    front = pd.concat(frames, ignore_index=True)
    front = front[["scenario", "design", *[c for c in front.columns if c not in ("scenario", "design")]]]
    front = front.sort_values("pareto_probability", ascending=False, kind="stable").reset_index(drop=True)
    front.attrs["dse_sense"] = dict(senses)
    return front
