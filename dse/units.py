"""Unit parsing at the edges, with one shared pint registry.

Values in YAML files may be plain numbers (taken in the canonical unit) or
strings with units (``"8 um"``, ``"6 mAh/cm^2"``, ``"1.2 MPa"``, ``"25 degC"``).
C-rates accept ``"0.5C"`` and ``"C/5"``.

>>> to_canonical("8 um", "mm")
0.008
>>> to_canonical("C/5", "1/h")
0.2
>>> to_canonical(3, "mAh/cm^2")
3.0
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import pint

from dse.errors import SpecError

__all__ = ["ureg", "to_canonical", "format_quantity"]

ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
ureg.define("USD = [currency]")
ureg.define("percent_ = 0.01 = pct")

_NUMBER = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_C_RATE = re.compile(rf"^\s*(?:(?P<num>{_NUMBER})\s*C|C\s*/\s*(?P<den>{_NUMBER}))\s*$")
#: a quantity starts with its number: "MPa" alone is not 1 MPa
_LEADING_NUMBER = re.compile(r"^\s*[-+]?\.?[0-9]")
_NOT_FINITE = re.compile(r"^[-+]?\.?(nan|inf(inity)?)\b", re.IGNORECASE)


@lru_cache(maxsize=256)
def _unit(units: str) -> pint.Unit:
    return ureg.Unit(units)


def to_canonical(value: object, units: str, where: str | None = None) -> float:
    """Convert ``value`` to a float in ``units``.

    Parameters
    ----------
    value : float, int or str
        A number (already in ``units``) or a string with a unit.
    units : str
        Canonical unit, a pint expression (``"1"`` for dimensionless).
    where : str, optional
        Key path used in the error message.

    Returns
    -------
    float

    Raises
    ------
    SpecError
        If the string does not parse or has the wrong dimension.

    Examples
    --------
    >>> to_canonical("1200 kPa", "MPa")
    1.2
    >>> to_canonical("8 kg", "um", where="current_collector_thickness")
    Traceback (most recent call last):
    ...
    dse.errors.SpecError: current_collector_thickness: '8 kg' has units of a mass, expected a length (um)
    """
    if isinstance(value, bool):
        raise SpecError(f"expected a number, got {value!r}", where)
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise SpecError(f"expected a number or a string with units, got {value!r}", where)
    text = value.strip()
    if re.fullmatch(_NUMBER, text):  # "4e0": a number written as YAML 1.1 reads text
        return float(text)
    if units == "1/h":
        m = _C_RATE.match(text)
        if m:
            return _c_rate(m, value, where)
    if units in ("1", "") and text.endswith("%"):
        text = text[:-1] + " percent"
    if _NOT_FINITE.match(text):  # YAML's .nan/.inf, with a unit appended by an override
        raise SpecError(f"{value!r} is not a finite number", where)
    if not _LEADING_NUMBER.match(text):
        raise SpecError(f"{value!r} has no number before its unit" if text else "is empty", where)
    try:
        q = ureg.Quantity(text)
    except Exception as exc:  # pint raises several unrelated types
        raise SpecError(f"cannot parse {value!r} as a quantity ({exc.__class__.__name__})", where) from None
    target = _unit(units) if units not in ("", "1") else ureg.dimensionless
    if not isinstance(q, pint.Quantity):
        return float(q)
    if q.dimensionality != target.dimensionality:
        raise SpecError(
            f"{value!r} has units of {_dim_name(q.dimensionality)}, expected "
            f"{_dim_name(target.dimensionality)} ({units})",
            where,
        )
    try:
        return float(q.to(target).magnitude)
    except pint.DimensionalityError:  # delta_degC vs degC: same dimension, different kind
        raise SpecError(f"{value!r} is a temperature difference, expected a temperature ({units})", where) from None
    except Exception as exc:  # pint: OffsetUnitCalculusError and friends
        raise SpecError(f"cannot convert {value!r} to {units} ({exc.__class__.__name__})", where) from None


def _c_rate(m: re.Match, value: str, where: str | None) -> float:
    """The rate of a matched ``xC`` or ``C/x`` [1/h]; refuses ``C/0`` and overflows."""
    rate = float(m["num"]) if m["num"] is not None else None
    if rate is None:
        den = float(m["den"])
        if den == 0 or not math.isfinite(den):
            raise SpecError(f"{value!r} divides by {m['den']}: C/x needs a finite, non-zero x", where)
        rate = 1.0 / den
    if not math.isfinite(rate):
        raise SpecError(f"{value!r} is not a finite C-rate", where)
    return rate


_NAMES = {
    "[length]": "a length",
    "[mass]": "a mass",
    "[time]": "a time",
    "[temperature]": "a temperature",
    "[mass] / [length] / [time] ** 2": "a pressure",
    "[mass] / [length] ** 3": "a density",
    "[current] * [time] / [length] ** 2": "an areal capacity",
    "[current] * [time] / [mass]": "a specific capacity",
    "[length] ** 2 * [mass] / [current] / [time] ** 3": "a voltage",
    "dimensionless": "a dimensionless number",
}


def _dim_name(dim) -> str:
    s = str(dim)
    return _NAMES.get(s, s)


def format_quantity(value: float, units: str, digits: int = 4) -> str:
    """Format a number with its unit for tables.

    >>> format_quantity(451.234, "Wh/kg")
    '451.2 Wh/kg'
    """
    if units in ("", "1"):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}g} {units}"
