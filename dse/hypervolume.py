"""Hypervolume of a front, and the front member that contributes most to it.

The hypervolume of a front is the volume of objective space that its members
dominate, bounded by a reference point: one number that grows when the front
moves outward or fills in, so two sweeps (or two filters of one sweep) compare
by it. It is computed exactly by ``moocore`` (:func:`moocore.hypervolume`,
:func:`moocore.hv_contributions`); this module only turns a front table and
objective senses into what moocore takes.

The units of a hypervolume are the product of the objectives' units
(Wh/kg · cycles · …): compare hypervolumes only for the same objectives and
the same reference point.

>>> import pandas as pd
>>> df = pd.DataFrame({"specific_energy": [400.0, 350.0], "cost": [100.0, 80.0]})
>>> hypervolume(df, ["specific_energy", "cost"], ["max", "min"], {"specific_energy": 300.0, "cost": 120.0})
3000.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from dse.errors import SpecError

__all__ = ["hypervolume", "default_reference", "hypervolume_contributions"]


def _matrix(front_df: pd.DataFrame, objectives: Sequence[str], senses: Sequence[str]) -> np.ndarray:
    """Finite rows of the objective columns, as float64."""
    objectives, senses = list(objectives), list(senses)
    if not objectives or len(objectives) != len(senses):
        raise SpecError(
            f"{len(objectives)} objectives and {len(senses)} senses: give one sense per objective", where="hypervolume"
        )
    for name, sense in zip(objectives, senses, strict=True):
        if name not in front_df.columns:
            raise SpecError(f"{name!r} is no column of the front", where="hypervolume")
        if sense not in ("max", "min"):
            raise SpecError(f"sense {sense!r} of {name!r} is not 'max' or 'min'", where="hypervolume")
    x = front_df[objectives].to_numpy(dtype=np.float64)
    return x[np.isfinite(x).all(axis=1)]


def default_reference(front_df: pd.DataFrame, objectives: Sequence[str], senses: Sequence[str]) -> dict[str, float]:
    """The nadir of the front: its worst value of every objective.

    With this reference the members at the nadir in some objective add no
    volume, and the number depends on the front's own extent: give a fixed
    reference to compare fronts.

    >>> df = pd.DataFrame({"specific_energy": [400.0, 350.0], "cost": [100.0, 80.0]})
    >>> default_reference(df, ["specific_energy", "cost"], ["max", "min"])
    {'specific_energy': 350.0, 'cost': 100.0}
    """
    x = _matrix(front_df, objectives, senses)
    if not len(x):
        return {name: float("nan") for name in objectives}
    worst = [x[:, j].min() if s == "max" else x[:, j].max() for j, s in enumerate(senses)]
    return {name: float(w) for name, w in zip(objectives, worst, strict=True)}


def _reference(reference, objectives: Sequence[str], front_df, senses) -> np.ndarray:
    if reference is None:
        reference = default_reference(front_df, objectives, senses)
    if isinstance(reference, Mapping):
        missing = [n for n in objectives if n not in reference]
        if missing:
            raise SpecError(f"the reference point has no value for {missing[0]!r}", where="hypervolume")
        reference = [reference[n] for n in objectives]
    ref = np.asarray(reference, dtype=np.float64).ravel()
    if ref.size != len(objectives) or not np.isfinite(ref).all():
        raise SpecError(
            f"the reference point must hold {len(objectives)} finite numbers, got {list(ref)}", where="hypervolume"
        )
    return ref


def hypervolume(
    front_df: pd.DataFrame,
    objectives: Sequence[str],
    senses: Sequence[str],
    reference: Mapping[str, float] | Sequence[float] | None = None,
) -> float:
    """Exact hypervolume dominated by the rows of a table, up to a reference point.

    Parameters
    ----------
    front_df : pandas.DataFrame
        One row per design (a front, or any set: dominated rows add nothing).
        Rows with a NaN or infinite objective are left out.
    objectives : sequence of str
        Column names.
    senses : sequence of {"max", "min"}
        One per objective.
    reference : mapping or sequence, optional
        ``{name: value}`` or values in ``objectives`` order; default the
        front's nadir (:func:`default_reference`). Rows that are not strictly
        better than the reference in every objective add nothing.

    Returns
    -------
    float
        The hypervolume [product of the objectives' units]; 0 for an empty front.

    Examples
    --------
    >>> df = pd.DataFrame({"specific_energy": [400.0, 350.0, 300.0], "cycle_life": [500.0, 900.0, 800.0]})
    >>> hypervolume(df, ["specific_energy", "cycle_life"], ["max", "max"], [0.0, 0.0])
    340000.0
    """
    import moocore

    x = _matrix(front_df, objectives, senses)
    ref = _reference(reference, objectives, front_df, senses)
    if not len(x):
        return 0.0
    return float(moocore.hypervolume(x, ref=ref, maximise=[s == "max" for s in senses]))


def hypervolume_contributions(
    front_df: pd.DataFrame,
    objectives: Sequence[str],
    senses: Sequence[str],
    reference: Mapping[str, float] | Sequence[float] | None = None,
) -> pd.Series:
    """Exclusive hypervolume contribution of every row: the volume lost without it.

    The row with the largest contribution is a knee in the hypervolume sense:
    the member whose loss would shrink the front most. Give a front: moocore
    measures each loss against the non-dominated rows only. Rows with a NaN
    objective contribute NaN.

    Examples
    --------
    >>> df = pd.DataFrame({"specific_energy": [400.0, 350.0, 300.0], "cycle_life": [500.0, 900.0, 1000.0]})
    >>> hypervolume_contributions(df, ["specific_energy", "cycle_life"], ["max", "max"], [0.0, 0.0]).tolist()
    [25000.0, 20000.0, 30000.0]
    """
    import moocore

    _matrix(front_df, objectives, senses)
    x = front_df[list(objectives)].to_numpy(dtype=np.float64)
    ref = _reference(reference, objectives, front_df, senses)
    finite = np.isfinite(x).all(axis=1)
    out = np.full(len(x), np.nan)
    if finite.any():
        out[finite] = moocore.hv_contributions(x[finite], ref=ref, maximise=[s == "max" for s in senses])
    return pd.Series(out, index=front_df.index, name="hypervolume_contribution")
