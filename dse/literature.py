"""Load and validate cycling results: the shipped literature table or a user's own.

The shipped table ``dse/data/literature.csv`` (described column by column in
``docs/literature.md``) holds 325 anode-free cell results transcribed from the
five seed reviews. :func:`load_literature` reads it, or a CSV of the same
layout with a user's own results, into a :class:`pandas.DataFrame` and checks
it at the edge: a missing required column or a non-numeric cell in a numeric
column raises :class:`~dse.errors.CalibrationError` naming the file, the line
(1-based, the header is line 1) and the column.

Only a few columns are required for calibration (:data:`REQUIRED_COLUMNS`
plus a target, see :data:`TARGET_COLUMNS`); every other column of the shipped
table is optional and missing ones are added empty.

>>> lit = load_literature()
>>> len(lit), lit.loc[0, "row_id"], lit.loc[0, "seed"]
(325, 's000-T1-1', '000')
>>> parse_flags("duplicate_of:s000-T1-36;reservoir")
{'duplicate_of': 's000-T1-36', 'reservoir': ''}
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd

from dse.errors import CalibrationError

__all__ = [
    "DEFAULT_PATH",
    "REQUIRED_COLUMNS",
    "TARGET_COLUMNS",
    "NUMERIC_COLUMNS",
    "TEXT_COLUMNS",
    "KNOWN_FLAGS",
    "load_literature",
    "parse_flags",
    "has_flag",
    "file_sha256",
    "source_keys",
]

DEFAULT_PATH = Path(__file__).parent / "data" / "literature.csv"

#: columns a calibration file must have
REQUIRED_COLUMNS = ("metal", "electrolyte_family")
#: target columns: a file needs ``ce`` or both ``retention`` and ``cycles``
TARGET_COLUMNS = (("ce",), ("retention", "cycles"))

#: numeric columns and their units (empty cell = not stated)
NUMERIC_COLUMNS = {
    "cathode_loading": "mAh/cm^2",
    "cathode_mass_loading": "mg/cm^2",
    "stack_pressure": "MPa",
    "temperature": "degC",
    "charge_rate": "1/h",
    "discharge_rate": "1/h",
    "current_density": "mA/cm^2",
    "depth_of_discharge": "1",
    "reservoir": "mAh/cm^2",
    "np_ratio": "1",
    "ce": "percent",
    "cycles": "1",
    "retention": "percent",
    "implied_ce": "percent",
    "energy_density_gravimetric": "Wh/kg",
    "energy_density_volumetric": "Wh/L",
}

#: text columns with the value an absent column takes in a user's file
TEXT_COLUMNS = {
    "row_id": "",
    "seed": "",
    "source_lines": "",
    "source_table": "",
    "reference": "",
    "metal": "",
    "cell_type": "full",
    "cell_format": "unknown",
    "cathode": "",
    "cathode_verbatim": "",
    "collector": "",
    "coating": "none",
    "collector_verbatim": "",
    "electrolyte_state": "",
    "electrolyte_family": "",
    "electrolyte_verbatim": "",
    "voltage_window": "",
    "ce_definition": "average",
    "energy_basis": "",
    "flags": "",
    "verbatim_ce": "",
    "verbatim_result": "",
    "verbatim_conditions": "",
    "notes": "",
}

#: data-quality flags of docs/literature.md ("duplicate_of" takes a row id)
KNOWN_FLAGS = (
    "ce_gt_100",
    "half_cell_ce",
    "first_cycle_ce",
    "ce_lower_bound",
    "ce_retention_inconsistent",
    "table_text_conflict",
    "duplicate_of",
    "linear_fade",
    "column_shift",
    "unit_doubt",
    "no_numbers",
    "reservoir",
    "low_temperature",
    "projection",
)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (recorded as calibration provenance)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def parse_flags(text: str, where: str | None = None) -> dict[str, str]:
    """Split a ``;``-separated flags cell into ``{name: argument}``.

    Parameters
    ----------
    text : str
        E.g. ``"duplicate_of:s000-T1-36;reservoir"``.
    where : str, optional
        Location for the error message.

    Returns
    -------
    dict
        Flag name → argument (``""`` for flags without one).

    Raises
    ------
    CalibrationError
        For an empty flag name (``";;"``, ``":x"``).

    Examples
    --------
    >>> parse_flags("")
    {}
    >>> parse_flags("unit_doubt; ce_lower_bound")
    {'unit_doubt': '', 'ce_lower_bound': ''}
    """
    out: dict[str, str] = {}
    for part in str(text).split(";"):
        part = part.strip()
        if not part:
            continue
        name, _, arg = part.partition(":")
        if not name.strip():
            raise CalibrationError(f"malformed flag {part!r}", where=where)
        out[name.strip()] = arg.strip()
    return out


def has_flag(frame: pd.DataFrame, name: str) -> pd.Series:
    """Boolean mask of the rows that carry flag ``name``.

    >>> lit = load_literature()
    >>> int(has_flag(lit, "duplicate_of").sum()) > 0
    True
    """
    return frame["flags"].map(lambda s: name in parse_flags(s))


def source_keys(frame: pd.DataFrame) -> pd.Series:
    """The publication each row comes from, as a key shared by its rows.

    Rows of one publication share conditions, methods and biases, so the
    calibration gives each publication a random effect and cross-validates
    by publication (``docs/calibration.md``). A review numbers its own
    references, so the key is ``seed:reference`` (``"003:[33]"``, the
    reference as printed, spaces removed); a row with no reference is its
    own publication (``seed:row_id``). Rows linked by ``duplicate_of`` (the
    same cell transcribed from two reviews) merge their publications, so a
    publication cited by two reviews under two numbers gets one key: the
    smallest of the merged keys.

    Parameters
    ----------
    frame : pandas.DataFrame
        From :func:`load_literature` (``seed``, ``reference``, ``row_id``,
        ``flags``).

    Returns
    -------
    pandas.Series of str
        Same index as ``frame``.

    Examples
    --------
    >>> rows = pd.DataFrame({"seed": ["000", "000", "003", "003"], "reference": ["[33]", "[33]", "[33]", ""],
    ...                      "row_id": ["a", "b", "c", "d"], "flags": ["", "", "duplicate_of:a", ""]})
    >>> source_keys(rows).tolist()
    ['000:[33]', '000:[33]', '000:[33]', '003:d']
    """
    seed = frame["seed"].astype(str)
    reference = frame["reference"].astype(str).str.replace(r"\s+", "", regex=True)
    own = seed + ":" + frame["row_id"].astype(str)
    keys = (seed + ":" + reference).where(reference != "", own)
    parent = {k: k for k in keys}

    def root(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    key_of_row = dict(zip(frame["row_id"].astype(str), keys, strict=True))
    for key, flags in zip(keys, frame["flags"].astype(str), strict=True):
        target = parse_flags(flags).get("duplicate_of")
        if target in key_of_row:
            a, b = root(key), root(key_of_row[target])
            if a != b:
                parent[max(a, b)] = min(a, b)
    return pd.Series([root(k) for k in keys], index=frame.index, dtype=object)


def _read_records(text: str, where: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and ``(line, fields)`` records; ``line`` is where the record starts."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise CalibrationError("empty file (no header line)", where=where) from None
    except csv.Error as exc:
        raise CalibrationError(f"malformed CSV: {exc}", where=f"{where}:row 1") from None
    records = []
    last = reader.line_num
    try:
        for fields in reader:
            start, last = last + 1, reader.line_num
            if not any(f.strip() for f in fields):
                continue
            records.append((start, fields))
    except csv.Error as exc:
        raise CalibrationError(f"malformed CSV: {exc}", where=f"{where}:row {last + 1}") from None
    return [h.strip() for h in header], records


def load_literature(path: str | Path | None = None) -> pd.DataFrame:
    r"""Read and validate a table of cycling results.

    Parameters
    ----------
    path : str or Path, optional
        A CSV in the layout of ``docs/literature.md`` (UTF-8, header line).
        Default: the shipped ``dse/data/literature.csv``.

    Returns
    -------
    pandas.DataFrame
        One row per result. Numeric columns (:data:`NUMERIC_COLUMNS`) are
        float with NaN for "not stated"; text columns are ``str`` with ``""``
        for "not stated"; columns absent from the file are added with the
        defaults of :data:`TEXT_COLUMNS` (so a user's file without
        ``cell_type`` is read as full cells, without ``coating`` as bare
        collectors, without ``ce_definition`` as average full-cell CEs).
        ``file_line`` holds the line each row starts on; ``row_id`` defaults
        to ``line<N>``. ``attrs`` holds ``path`` and ``sha256``.

    Raises
    ------
    CalibrationError
        With ``where="file.csv:row N, column X"``: a missing required column,
        a missing target (neither ``ce`` nor ``retention`` + ``cycles``), an
        empty ``metal`` cell, a non-numeric cell in a numeric column, a
        malformed flag, a row with more cells than the header.

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "mine.csv")
    >>> text = "metal,electrolyte_family,retention,cycles\nLi,ether,80,two hundred\n"
    >>> _ = pathlib.Path(p).write_text(text)
    >>> load_literature(p)
    Traceback (most recent call last):
    ...
    dse.errors.CalibrationError: mine.csv:row 2, column cycles: 'two hundred' is not a number [1]
    """
    path = Path(path) if path is not None else DEFAULT_PATH
    name = path.name
    from dse.limits import Limits, current_limits
    from dse.safe_yaml import read_text_bounded

    text = read_text_bounded(
        path,
        "file",
        current_limits().max_csv_bytes,
        Limits.variable("max_csv_bytes"),
        error=CalibrationError,
        encoding="utf-8-sig",
    )
    header, records = _read_records(text, name)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise CalibrationError(
            f"missing required column(s) {', '.join(missing)} (need {', '.join(REQUIRED_COLUMNS)}"
            " and either ce or retention + cycles)",
            where=f"{name}:row 1",
        )
    if not any(all(c in header for c in group) for group in TARGET_COLUMNS):
        raise CalibrationError("missing target column(s): need ce, or retention and cycles", where=f"{name}:row 1")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise CalibrationError(f"duplicate column(s) {', '.join(dupes)}", where=f"{name}:row 1")

    columns: dict[str, list] = {h: [] for h in header}
    lines = []
    for line, fields in records:
        if len(fields) > len(header):
            raise CalibrationError(f"{len(fields)} cells but the header has {len(header)}", where=f"{name}:row {line}")
        fields = fields + [""] * (len(header) - len(fields))
        for h, value in zip(header, fields, strict=True):
            value = value.strip()
            if h in NUMERIC_COLUMNS:
                columns[h].append(_number(value, f"{name}:row {line}, column {h}", NUMERIC_COLUMNS[h]))
            else:
                columns[h].append(value)
        where = f"{name}:row {line}, column "
        if not columns["metal"][-1]:
            raise CalibrationError("empty cell in required column metal", where=where + "metal")
        if "flags" in columns:
            parse_flags(columns["flags"][-1], where=where + "flags")
        lines.append(line)

    frame = pd.DataFrame(columns)
    for col in NUMERIC_COLUMNS:
        frame[col] = np.asarray(frame[col], dtype=float) if col in frame else np.nan
    for col, default in TEXT_COLUMNS.items():
        if col not in frame:
            frame[col] = default
        frame[col] = frame[col].astype(object)
    frame["file_line"] = np.asarray(lines, dtype=int)
    blank = frame["row_id"] == ""
    frame.loc[blank, "row_id"] = [f"line{n}" for n in frame.loc[blank, "file_line"]]
    frame.attrs["path"] = str(path)
    frame.attrs["sha256"] = file_sha256(path)
    return frame


def _number(value: str, where: str, units: str) -> float:
    if value == "":
        return np.nan
    try:
        number = float(value)
    except ValueError:
        raise CalibrationError(f"{value!r} is not a number [{units}]", where=where) from None
    if not np.isfinite(number):
        raise CalibrationError(f"{value!r} is not a finite number [{units}]", where=where)
    return number
