"""Which rows pass the filters (inputs) and constraints (outputs) of a view; rules arrive from URLs too."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dse.explore.source import ResultsSource


def passing_rows(
    source: ResultsSource, filters: Mapping[str, object] | None = None, constraints: Mapping[str, object] | None = None
) -> np.ndarray:
    """Rows of ``source`` that pass ``filters`` and ``constraints`` (:meth:`ResultsSource.mask <dse.explore.ResultsSource.mask>`).

    Every valid rule becomes a test of a column's values (:func:`rule_test`);
    :meth:`ResultsSource.keep_where <dse.explore.ResultsSource.keep_where>`
    applies them, to whole columns or, for a grid input, to its values per
    grid position.
    """
    tests = []
    for rules in (filters, constraints):
        if not isinstance(rules, Mapping):
            continue
        for name, rule in rules.items():
            if not isinstance(name, str) or name not in {*source.categorical, *source.numeric_inputs, *source.outputs}:
                continue
            test = rule_test(source.categories, name, rule)
            if test is not None:
                tests.append((name, test))
    return source.keep_where(tests)


def rule_test(categories: Mapping[str, Sequence[str]], name: str, rule) -> Callable[[np.ndarray], np.ndarray] | None:
    """A rule as a test of values: codes in the allowed names (categorical), float32 values within bounds (numeric).

    A bound is widened by a millionth of itself (a value typed as shown
    passes); None where the rule is not a valid rule.

    >>> test = rule_test({"cathode": ["LFP", "NMC811"]}, "cathode", ["NMC811"])
    >>> test(np.array([1, 0, 1], dtype=np.int16)).tolist()
    [True, False, True]
    >>> rule_test({}, "cost", [None, 100])(np.array([99.0, 100.00001, 101], dtype=np.float32)).tolist()
    [True, True, False]
    """
    if name in categories:
        allowed = allowed_codes(categories, name, rule)
        return None if allowed is None else allowed.__getitem__
    bounds = _bounds(rule)
    if bounds is None or bounds == (None, None):
        return None
    lo, hi = bounds
    low = None if lo is None else np.float32(lo - 1e-6 * abs(lo))
    high = None if hi is None else np.float32(hi + 1e-6 * abs(hi))

    def within(values: np.ndarray) -> np.ndarray:
        keep = np.ones(values.shape, dtype=bool)
        if low is not None:
            keep &= values >= low
        if high is not None:
            keep &= values <= high
        return keep

    return within


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
