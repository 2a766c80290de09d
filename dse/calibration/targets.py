"""Chain-consistent targets: the CE at which the model chain reproduces a row.

The target ``y = ln(1 - CE)`` of a row that reports retention R after n
cycles is the CE at which the chain's inventory model, surplus included,
predicts R after n cycles (:func:`chain_targets`, bisection in
``ln(1 - CE)`` by :func:`invert_chain_retention`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from dse.calibration.designs import catalogue_electrolytes, row_design, shipped_catalogue
from dse.coefficients import CeCoefficients, prior_coefficients
from dse.errors import SpecError
from dse.materials.catalogue import Catalogue
from dse.modelchain import ModelChain
from dse.models import chain as physics
from dse.models.ce import FEATURE_NAMES
from dse.models.lifetime import capacity_curve
from dse.spec import parse_design

__all__ = [
    "LOG_LOSS_BOUNDS",
    "CHAIN_SURPLUS",
    "CHAIN_NO_LOSS",
    "cycles_to_80",
    "chain_retention",
    "chain_cycling",
    "invert_chain_retention",
    "chain_targets",
]

_LN08 = float(np.log(0.8))


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
        return physics.chain_outputs(params, constants)


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
    >>> from dse.literature import load_literature
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
        chain = ModelChain(catalogue=catalogue, coefficients=coefficients, overrides=overrides, uncertainty=False)
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
