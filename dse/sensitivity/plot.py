"""A sensitivity table drawn as a PNG: one bar panel per output (:func:`plot_sensitivity`)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from dse.errors import SpecError
from dse.sensitivity.tables import COLUMNS


def plot_sensitivity(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    r"""Draw a sensitivity table as a PNG: one horizontal bar panel per output.

    Each panel shows the first-order and (when available) total-order index
    of every input with its interval as an error bar, inputs sorted by total
    order (else first order), largest at the top; the title is the output's
    ``long_name`` and ``units`` (from ``df.attrs["dse_outputs"]``).

    Parameters
    ----------
    df : pandas.DataFrame
        A table from :func:`sensitivity` (or one of the estimators).
    path : str or path-like
        The PNG to write.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, xarray as xr
    >>> from dse.sensitivity import sensitivity
    >>> ds = xr.Dataset({"y": (("a", "b"), [[1.0, 2.0], [3.0, 5.0]], {"dse_sense": "max"})},
    ...                 coords={"a": [0, 1], "b": [0, 1]}, attrs={"dse_kind": "grid"})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     png = plot_sensitivity(sensitivity(ds), Path(tmp) / "s.png")
    ...     png.read_bytes()[:4]
    b'\x89PNG'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    missing = [c for c in ("output", "input", "first_order") if c not in df.columns]
    if missing:
        raise SpecError(f"not a sensitivity table (no column {missing[0]!r})", where="plot")
    if df.empty:
        raise SpecError("the sensitivity table is empty: nothing to plot", where="plot")
    df = df.copy()
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = "" if c in ("scenario", "method") else np.nan
    labels = df.attrs.get("dse_outputs", {})
    panels = list(dict.fromkeys(zip(df["scenario"], df["output"], strict=True)))
    several = len({s for s, _ in panels}) > 1
    ncols = min(2, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    n_in = int(df.groupby(["scenario", "output"]).size().max())
    height = 1.4 + 0.42 * n_in
    fig = Figure(figsize=(5.4 * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    for k, (scen, out) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        sub = df[(df["scenario"] == scen) & (df["output"] == out)]
        has_total = bool(np.isfinite(sub["total_order"].to_numpy(float)).any())
        key = sub["total_order"] if has_total else sub["first_order"]
        sub = sub.assign(_key=key.fillna(-np.inf)).sort_values("_key", kind="stable")
        pos = np.arange(len(sub), dtype=float)
        bars = [("first_order", "first order", "tab:blue")]
        if has_total:
            bars.append(("total_order", "total order", "tab:orange"))
        h = 0.8 / len(bars)
        for i, (col, label, color) in enumerate(bars):
            est = sub[col].to_numpy(float)
            low = sub[f"{col}_low"].to_numpy(float)
            high = sub[f"{col}_high"].to_numpy(float)
            err = np.nan_to_num(np.clip(np.vstack([est - low, high - est]), 0.0, None))
            offset = (len(bars) - 1) / 2.0 * h - i * h
            ax.barh(
                pos + offset,
                np.nan_to_num(est),
                height=h,
                color=color,
                label=label,
                xerr=err if err.any() else None,
                capsize=2,
                ecolor="0.25",
            )
        ax.set_yticks(pos, [str(x).replace("_", " ") for x in sub["input"]])
        ax.axvline(0.0, color="0.5", linewidth=0.8)
        lab = labels.get(out, {})
        units = lab.get("units", "")
        title = lab.get("long_name", out) + (f" [{units}]" if units and units != "1" else "")
        ax.set_title(title + (f" — {scen}" if several and scen else ""), fontsize=10)
        method = ", ".join(str(m) for m in dict.fromkeys(sub["method"]) if m)
        used = int(sub["n_used"].max()) if sub["n_used"].notna().any() else 0
        ax.set_xlabel(f"share of variance ({method}, n = {used:,})", fontsize=9)
        shown = sub[[f"{c}{s}" for c, _, _ in bars for s in ("", "_low", "_high")]]
        shown = shown.to_numpy(float).ravel()
        shown = shown[np.isfinite(shown)]
        ax.set_xlim(min(0.0, *shown) - 0.02, max(1.0, *shown) + 0.05)
        if k == 0:
            ax.legend(loc="lower right", fontsize=8, frameon=False)
    path = Path(path)
    fig.savefig(path, format="png", dpi=120)
    return path
