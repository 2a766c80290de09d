"""One value of a spec: an input in canonical units or a catalogue id, counts, overrides, files.

Unit strings are parsed with pint into the canonical units of
:mod:`dse.vocabulary`; out-of-range values and unknown catalogue ids raise
one :class:`~dse.errors.SpecError` line naming their key.

>>> parse_input("current_collector_thickness", "8 um", "x")
8.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dse.coefficients import load_coefficients
from dse.errors import SpecError, suggest
from dse.materials.catalogue import load_catalogue
from dse.units import to_canonical
from dse.vocabulary import INPUTS, Variable

__all__ = ["parse_input", "read_yaml", "split_overrides", "MAX_SEED"]


def read_yaml(path: str | Path, what: str = "file") -> Any:
    """Read a YAML file safely and within :mod:`dse.limits`; errors name the file and line."""
    from dse.safe_yaml import load_file

    return load_file(path, what)


def _check_bounds(var: Variable, value: float, where: str) -> float:
    if math.isnan(value):
        raise SpecError("is not a number", where)
    if var.bounds is None:
        return value
    lo, hi = var.bounds
    lo_open, hi_open = var.open_bounds
    below = value <= lo if lo_open else value < lo
    above = value >= hi if hi_open else value > hi
    if below or above:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        unit = "" if var.units in ("1", "") else f" {var.units}"
        raise SpecError(f"{value:g}{unit} is outside the physical range {left}{lo:g}, {hi:g}{right}", where)
    return value


def parse_input(name: str, raw: Any, where: str, catalogue=None) -> float | str:
    """Parse one input value: a number in canonical units, or a catalogue id.

    Parameters
    ----------
    name : str
        Input name of :data:`dse.vocabulary.INPUTS`.
    raw : object
        As written in YAML.
    where : str
        Key path for messages.

    Examples
    --------
    >>> parse_input("stack_pressure", "250 kPa", "x")
    0.25
    >>> parse_input("electrolyte_amount", "fill", "x")
    0.0
    >>> parse_input("cathode_porosity", 1.2, "design.cathode_porosity")
    Traceback (most recent call last):
    ...
    dse.errors.SpecError: design.cathode_porosity: 1.2 is outside the physical range [0, 1)
    """
    var = INPUTS[name]
    if var.categorical:
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            raise SpecError(f"expected a catalogue id, got {raw!r}", where)
        cat = catalogue or load_catalogue()
        ids = cat.ids(var.catalogue)
        if str(raw) not in ids:
            raise SpecError(f"unknown {var.catalogue} {str(raw)!r}" + suggest(str(raw), ids), where)
        return str(raw)
    if name == "electrolyte_amount" and isinstance(raw, str) and raw.strip().lower() == "fill":
        return 0.0
    return _check_bounds(var, to_canonical(raw, var.units, where=where), where)


def split_overrides(raw: Any, where: str) -> tuple[dict, dict]:
    """Separate ``overrides.ce`` (CE constants) from catalogue overrides."""
    if raw is None:
        return {}, {}
    if not isinstance(raw, Mapping):
        raise SpecError("expected a mapping of material id to properties", where)
    catalogue_part = {str(k): v for k, v in raw.items() if k != "ce"}
    ce_part = raw.get("ce") or {}
    if not isinstance(ce_part, Mapping):
        raise SpecError("expected a mapping", f"{where}.ce")
    # (unknown keys, NaN, infinities and values out of range, each naming its key)
    load_coefficients().with_constants(ce_part, where=f"{where}.ce")
    # validate catalogue overrides now so errors carry the file location
    load_catalogue().with_overrides(catalogue_part, where=where)
    return catalogue_part, dict(ce_part)


def _coefficients_path(raw: Any, base_dir: Path | None, where: str) -> Path | None:
    """A ``ce_coefficients`` file, relative to the spec's folder; it must exist."""
    if raw is None:
        return None
    path = Path(str(raw))
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.exists():
        raise SpecError(f"coefficients file {str(path)!r} not found", where)
    return path


#: largest sampler seed (the samplers mix it into 64-bit keys)
MAX_SEED = 2**32 - 1


def _positive_int(raw: Any, where: str, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer count or seed; ``.inf``, ``.nan``, fractions and booleans are refused.

    >>> _positive_int(float("inf"), "n")
    Traceback (most recent call last):
    ...
    dse.errors.SpecError: n: expected an integer ≥ 1, got inf
    """
    if (
        isinstance(raw, bool)
        or not isinstance(raw, int | float)
        or not math.isfinite(raw)
        or int(raw) != raw
        or raw < minimum
    ):
        raise SpecError(f"expected an integer ≥ {minimum}, got {raw!r}", where)
    if maximum is not None and raw > maximum:
        raise SpecError(f"expected an integer from {minimum} to {maximum:,}, got {int(raw):,}", where)
    return int(raw)
