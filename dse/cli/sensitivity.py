"""``dse sensitivity``: which inputs drive each output of a store."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dse.cli.root import (
    AllowIncompleteOpt,
    _check_complete,
    _check_writable,
    _storage_options,
    _title,
    app,
    console,
)
from dse.errors import DseError


@app.command()
def sensitivity(
    store: Annotated[str, typer.Argument(help="Results store (path or s3:// URL).")],
    scenario: Annotated[str | None, typer.Option("--scenario", help="Only this scenario.")] = None,
    output: Annotated[
        list[str] | None, typer.Option("--output", help="Output to analyse (repeatable); default: objectives.")
    ] = None,
    plot: Annotated[Path | None, typer.Option("-o", "--plot", help="Write the indices as a PNG plot.")] = None,
    feasible_only: Annotated[bool, typer.Option("--feasible-only", help="Drop infeasible designs first.")] = False,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap replicates for the intervals.")] = 100,
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Write the table as CSV: the file of 'dse serve --sensitivity'.")
    ] = None,
    parquet: Annotated[Path | None, typer.Option("--parquet", help="Write the table as Parquet (as --csv).")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --csv or --parquet file.")
    ] = False,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="S3 endpoint for s3:// stores.")] = None,
    allow_incomplete: AllowIncompleteOpt = False,
) -> None:
    """Which inputs drive each objective: Sobol' indices (sampled) or main effects (grids)."""
    from dse.sensitivity import plot_sensitivity, write_sensitivity
    from dse.sensitivity import sensitivity as analyse
    from dse.store import open_results

    _check_writable(plot, "--plot")
    tables = [(path, option) for path, option in ((csv, "--csv"), (parquet, "--parquet")) if path is not None]
    for path, option in tables:  # refused before any work
        _check_writable(path, option)
        if (path.suffix == ".parquet") != (option == "--parquet"):  # dse serve --sensitivity reads by the suffix
            raise DseError(
                "a Parquet table needs a name ending in .parquet, a CSV table one that does not "
                "(dse serve --sensitivity reads a file by its suffix)",
                where=f"{option} {path}",
            )
        if os.path.lexists(path) and not overwrite:
            raise DseError("exists; pass --overwrite to replace it", where=f"{option} {path}")
    _check_complete(store, _storage_options(endpoint_url), allow_incomplete)
    datasets = open_results(store, _storage_options(endpoint_url))
    if scenario and scenario not in datasets:
        from dse.errors import suggest

        raise DseError(f"unknown scenario {scenario!r}" + suggest(scenario, datasets), where="--scenario")
    frames = []
    for name, ds in datasets.items():
        if scenario and name != scenario:
            continue
        df = analyse(ds, output or None, feasible_only=feasible_only, n_boot=bootstrap)
        df["scenario"] = name
        frames.append(df)
        method = df["method"].iloc[0] if len(df) else "-"
        console.print(f"[bold]{_title(name)}[/bold]: {method} on {ds.attrs.get('dse_n_designs', 0):,} designs")
        for out_name, part in df.groupby("output", sort=False):
            part = part.sort_values(["total_order", "first_order"], ascending=False, na_position="last")
            t = Table(title=f"  {out_name}", box=None, header_style="bold", title_justify="left", pad_edge=False)
            for col in ("input", "first order", "95 % interval", "total order", "95 % interval", "used"):
                t.add_column(col, justify="left" if col == "input" else "right")

            def interval(lo, hi):
                return "–" if not (math.isfinite(lo) and math.isfinite(hi)) else f"[{lo:.3f}, {hi:.3f}]"

            for _, r in part.iterrows():
                t.add_row(
                    str(r["input"]),
                    f"{r['first_order']:.3f}",
                    interval(r["first_order_low"], r["first_order_high"]),
                    "–" if not math.isfinite(r["total_order"]) else f"{r['total_order']:.3f}",
                    interval(r["total_order_low"], r["total_order_high"]),
                    f"{int(r['n_used']):,}",
                )
            console.print(t)
    if not frames:
        return
    import pandas as pd

    combined = pd.concat(frames, ignore_index=True)
    combined.attrs = frames[0].attrs
    for path, _ in tables:
        console.print(f"wrote {write_sensitivity(combined, path, overwrite=overwrite)}", markup=False, highlight=False)
    if plot:
        console.print(f"wrote {plot_sensitivity(combined, plot)}")
