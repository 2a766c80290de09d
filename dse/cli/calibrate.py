"""``dse calibrate``: fit the CE surrogate to the literature table or to your own cells."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dse.cli.root import _check_writable, app, console
from dse.errors import DseError


@app.command()
def calibrate(
    data: Annotated[
        Path | None,
        typer.Argument(
            help="CSV of cells (the literature columns, or your own cycling results); with --cells, the "
            "literature table (default: the shipped one)."
        ),
    ] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Coefficients YAML to write.")] = None,
    folds: Annotated[int, typer.Option("--folds", help="Folds of the cross-validation.")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fold assignment.")] = 0,
    residuals: Annotated[
        bool, typer.Option("--residuals/--no-residuals", help="Print the residual of every row.")
    ] = True,
    cells: Annotated[
        Path | None,
        typer.Option("--cells", help="Folder of your cells: BDF files with design sidecars (docs/calibration.md)."),
    ] = None,
) -> None:
    """Fit the Coulombic-efficiency surrogate to a table of cells and write its coefficients."""
    from dse.calibration import calibrate as fit

    if cells is not None:
        _calibrate_cells(cells, data, output or Path("coefficients.yaml"))
        return
    if data is None or output is None:
        raise DseError("give a results CSV and -o COEFFS.yaml, or --cells DIR")
    if folds < 2:
        raise DseError("needs at least 2 folds", where="--folds")
    _check_writable(output, "-o")
    result = fit(data, output, folds=folds, seed=seed)
    typer.echo(result.report_text(residuals=residuals))
    console.print(f"wrote {output}: use it with 'ce_coefficients: {output}' in a design or sweep spec")


def _calibrate_cells(folder: Path, literature: Path | None, output: Path) -> None:
    """``dse calibrate --cells DIR``: literature and your cells in one fit (dse.cells)."""
    from dse.cells import calibrate_cells

    _check_writable(output, "-o")
    result = calibrate_cells(folder, literature, output)
    typer.echo(result.report_text())
    console.print(
        f"wrote {output}: use it with 'dse sweep SPEC --coefficients {output}' or "
        f"'ce_coefficients: {output}' in a design or sweep spec"
    )
