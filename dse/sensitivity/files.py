"""A sensitivity table saved as the file that ``dse serve --sensitivity`` reads (:func:`write_sensitivity`)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd

from dse.atomic import write_atomic
from dse.errors import DseError


def write_sensitivity(df: pd.DataFrame, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Save a sensitivity table as CSV, or as Parquet for a path ending in ``.parquet``.

    The file is what :func:`dse.explore.read_sensitivity` (``dse serve
    --sensitivity FILE``) reads: the table's columns, no index. It is
    written whole or not at all (:func:`dse.atomic.write_atomic`).

    Parameters
    ----------
    df : pandas.DataFrame
        A table from :func:`dse.sensitivity.sensitivity`.
    path : str or path-like
        The file to write (a local path).
    overwrite : bool, default False
        Replace an existing file; without it an existing file is refused.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    DseError
        One line naming the file: it exists (without ``overwrite``), or it
        cannot be written.

    Examples
    --------
    >>> import tempfile, xarray as xr
    >>> from dse.sensitivity import sensitivity
    >>> ds = xr.Dataset({"y": ("a", [1.0, 3.0], {"dse_sense": "max"})}, coords={"a": [0, 1]},
    ...                 attrs={"dse_kind": "grid"})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_sensitivity(sensitivity(ds), Path(tmp) / "s.csv")
    ...     table = pd.read_csv(path)
    ...     try:
    ...         write_sensitivity(sensitivity(ds), path)
    ...     except DseError as exc:
    ...         refused = exc.message
    >>> table[["input", "first_order"]]
      input  first_order
    0     a          1.0
    >>> refused
    'exists; pass overwrite=True (--overwrite) to replace it'
    """
    path = Path(path)
    if not overwrite and os.path.lexists(path):
        raise DseError("exists; pass overwrite=True (--overwrite) to replace it", where=str(path))
    if path.suffix == ".parquet":
        buffer = io.BytesIO()
        try:
            df.to_parquet(buffer, index=False)
        except ImportError:
            raise DseError("Parquet needs pyarrow (pip install 'dse[parquet]')", where=str(path)) from None
        data: str | bytes = buffer.getvalue()
    else:
        data = df.to_csv(index=False)
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise DseError(f"cannot be written ({exc.strerror or exc.__class__.__name__})", where=str(path)) from None
    return path
