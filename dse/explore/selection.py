"""Which rows pass the filters (inputs) and constraints (outputs) of a view; rules arrive from URLs too."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dse.explore.source import ResultsSource


def passing_rows(
    source: ResultsSource, filters: Mapping[str, object] | None = None, constraints: Mapping[str, object] | None = None
) -> np.ndarray:
    """Rows of ``source`` that pass ``filters`` and ``constraints`` (:meth:`ResultsSource.mask <dse.explore.ResultsSource.mask>`)."""
    keep = np.ones(source.n, dtype=bool)
    for rules in (filters, constraints):
        if not isinstance(rules, Mapping):
            continue
        for name, rule in rules.items():
            if not isinstance(name, str) or name not in {*source.categorical, *source.numeric_inputs, *source.outputs}:
                continue
            if name in source.categorical:
                allowed = source.allowed_codes(name, rule)
                if allowed is not None:
                    keep &= allowed[source.column(name)]
                continue
            bounds = _bounds(rule)
            if bounds is None:
                continue
            values = source.column(name)
            lo, hi = bounds
            if lo is not None:
                keep &= values >= np.float32(lo - 1e-6 * abs(lo))
            if hi is not None:
                keep &= values <= np.float32(hi + 1e-6 * abs(hi))
    return keep


def allowed_codes(categories: Mapping[str, Sequence[str]], name: str, rule) -> np.ndarray | None:
    """Boolean table over the codes of ``name`` (into ``categories[name]``): True for the names in ``rule``.

    >>> allowed_codes({"cathode": ["LFP", "NMC811"]}, "cathode", ["NMC811", "LMO"]).tolist()
    [False, True]
    >>> allowed_codes({"cathode": ["LFP"]}, "cathode", "LFP") is None
    True
    """
    if not isinstance(rule, list | tuple) or len(rule) > 10_000:
        return None
    names = categories[name]
    index = {c: i for i, c in enumerate(names)}
    allowed = np.zeros(len(names), dtype=bool)
    for value in rule:
        if str(value) in index:
            allowed[index[str(value)]] = True
    return allowed


def _bounds(rule) -> tuple[float | None, float | None] | None:
    if not isinstance(rule, list | tuple) or len(rule) != 2:
        return None
    out = []
    for v in rule:
        if v is None:
            out.append(None)
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        out.append(f if math.isfinite(f) else None)
    return out[0], out[1]
