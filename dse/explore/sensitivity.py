"""Reading a saved sensitivity table for the dashboard (``dse serve --sensitivity``), checked at the edge."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from dse.vocabulary import INPUTS

if TYPE_CHECKING:
    from dse.explore.source import ResultsSource

#: what a sensitivity table must hold to be drawn (the columns of :data:`dse.sensitivity.COLUMNS` it uses)
SENSITIVITY_COLUMNS = ("scenario", "output", "input", "method", "first_order", "total_order")


def read_sensitivity(path: str, source: ResultsSource | None = None) -> pd.DataFrame:
    """A table of :func:`dse.sensitivity.sensitivity` saved as CSV or Parquet (``dse sensitivity STORE --csv FILE``).

    Checked at the edge: the file must exist, be readable, hold the columns
    :data:`SENSITIVITY_COLUMNS` and at least one row; with ``source``, its
    outputs and inputs must be the store's. Each failure is one
    :class:`~dse.errors.DseError` line naming the file.
    """
    from dse.errors import DseError

    try:
        df = pd.read_parquet(path) if str(path).endswith(".parquet") else pd.read_csv(path)
    except FileNotFoundError:
        raise DseError("no such file", where=str(path)) from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DseError(f"not a sensitivity table ({str(exc).splitlines()[0][:120]})", where=str(path)) from None
    missing = [c for c in SENSITIVITY_COLUMNS if c not in df.columns]
    if missing:
        raise DseError(
            f"not a sensitivity table: no column {', '.join(missing)} (write one with "
            "dse sensitivity STORE --csv FILE)",
            where=str(path),
        )
    if not len(df):
        raise DseError("the sensitivity table has no rows", where=str(path))
    if source is not None:
        foreign = sorted({*df["output"].astype(str)} - set(source.outputs)) + sorted(
            {*df["input"].astype(str)} - {*source.inputs, *INPUTS}
        )
        if foreign:
            raise DseError(
                f"the sensitivity table names {', '.join(foreign[:3])}, not in {source.path}", where=str(path)
            )
    for c in ("first_order", "total_order"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df
