"""Helpers for testing dse and code built on it (as :mod:`xarray.testing`).

The property tests ask for their example budgets through :func:`examples`, so
that one environment variable scales them all: ``make check`` runs the fast
lane with a fifth of the examples, ``make test`` with all of them.
"""

from __future__ import annotations

import math
import os

#: environment variable that scales every property test's example budget
SCALE_VARIABLE = "DSE_HYPOTHESIS_SCALE"


def examples(n: int, minimum: int = 5) -> int:
    """Example budget of a property test: ``n`` scaled by ``DSE_HYPOTHESIS_SCALE``.

    Parameters
    ----------
    n : int
        Examples the test runs in the whole suite.
    minimum : int
        Fewest examples at any scale, so that a scaled-down run still draws
        more than the explicit examples.

    Returns
    -------
    int
        ``ceil(n * scale)``, at least ``minimum`` (and never more than ``n``
        when ``n`` is below ``minimum``).

    Examples
    --------
    >>> examples(150) if "DSE_HYPOTHESIS_SCALE" not in os.environ else 150
    150
    """
    text = os.environ.get(SCALE_VARIABLE, "1")
    try:
        scale = float(text)
    except ValueError:
        raise ValueError(f"{SCALE_VARIABLE}={text!r} is not a number") from None
    if not 0 < scale <= 100:
        raise ValueError(f"{SCALE_VARIABLE}={text!r} is outside (0, 100]")
    return max(min(n, minimum), math.ceil(n * scale))
