"""Exceptions raised at the edges (spec, catalogue, store, CLI).

Every error carries one line saying what is wrong and where; the CLI prints
``str(error)`` and exits with a non-zero code. Model functions never raise:
inside a block of designs invalid domains become NaN or an infeasibility code.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "DseError",
    "SpecError",
    "CatalogueError",
    "StoreError",
    "CalibrationError",
    "YamlLimitError",
    "LockError",
    "suggest",
]


class DseError(ValueError):
    """Base class of every user-facing error of dse.

    Parameters
    ----------
    message : str
        What is wrong.
    where : str, optional
        Where it is wrong: a file, a key path such as ``inputs.cathode_loading``
        or a CSV row/column.

    Examples
    --------
    >>> str(DseError("must be positive", where="design.yaml: separator_thickness"))
    'design.yaml: separator_thickness: must be positive'
    """

    def __init__(self, message: str, where: str | None = None):
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class SpecError(DseError):
    """A design or sweep spec is malformed or out of range."""


class CatalogueError(DseError):
    """A materials catalogue entry is unknown or invalid."""


class StoreError(DseError):
    """A results store is missing, foreign, corrupted or not writable."""


class CalibrationError(DseError):
    """Calibration data are malformed."""


class YamlLimitError(SpecError):
    """A YAML document crosses a size, depth or alias limit (:mod:`dse.limits`)."""


class LockError(StoreError):
    """A results store is locked by another writer (:mod:`dse.store.locks`)."""


def suggest(word: str, choices: Iterable[str]) -> str:
    """A ``"; did you mean 'x'?"`` suffix, or an empty string.

    >>> suggest("cathod_loading", ["cathode_loading", "metal"])
    "; did you mean 'cathode_loading'?"
    """
    choices = list(choices)
    lower = {c.lower(): c for c in choices}
    if word.lower() in lower:
        return f"; did you mean {lower[word.lower()]!r}?"
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
