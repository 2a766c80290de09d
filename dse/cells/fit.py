"""The fit of measured cells with the literature as prior (``dse calibrate --cells``) and the cells' table."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dse.cells.reading import (
    _S0,
    CELL_WEIGHT_MAX,
    TAIL,
    Cell,
    load_cells,
)
from dse.cells.rows import _chain, cell_rows
from dse.errors import CalibrationError


@dataclass
class CellsResult:
    """Coefficients fitted on the literature and your cells, and the report behind them.

    Attributes
    ----------
    coefficients : CeCoefficients
        Literature + cells (with provenance: files and their sha256).
    before : CeCoefficients
        The same fit on the literature alone.
    cells : pandas.DataFrame
        Per cell: measured and predicted (before, after, left out) life and CE.
    moved : pandas.DataFrame
        Coefficients that moved: ``name``, ``before``, ``after``, ``sd_before``, ``shift_sd``.
    excluded : list of (file, reason)
    """

    coefficients: object
    before: object
    cells: pd.DataFrame
    moved: pd.DataFrame
    excluded: list = field(default_factory=list)

    def report_text(self) -> str:
        """Plain-text report (what ``dse calibrate --cells`` prints)."""
        c = self.cells
        lines = [f"cells used: {len(c)}; excluded: {len(self.excluded)}"]
        lines += [f"  excluded {name}: {reason}" for name, reason in self.excluded]
        lines.append(
            "per cell (life = cycles to 80 %, '>' not reached; before = literature only, "
            "after = with your cells, LOCO = fit without this cell):"
        )
        lines.append(
            f"  {'cell':<10} {'group':<16} {'cycles':>6} {'life':>7} {'before':>7} {'after':>7} "
            f"{'LOCO':>7}   {'CE %':>7} {'before':>7} {'after':>7} {'LOCO':>7}  weight"
        )
        for _, r in c.iterrows():
            life = ("" if r["life_reached"] else ">") + f"{r['measured_life']:.0f}"
            lines.append(
                f"  {r['cell']:<10} {r['group']:<16} {r['regular_cycles']:>6d} {life:>7} "
                f"{r['life_before']:>7.0f} {r['life_after']:>7.0f} {r['life_loco']:>7.0f}   "
                f"{100 * r['measured_ce']:7.3f} {100 * r['ce_before']:7.3f} {100 * r['ce_after']:7.3f} "
                f"{100 * r['ce_loco']:7.3f}  {r['weight']:.2f}"
            )
        lines.append("coefficients that moved (|shift| > 0.5 sd of the literature-only fit):")
        moved = self.moved[self.moved["shift_sd"].abs() > 0.5]
        if moved.empty:
            lines.append("  none")
        for _, r in moved.iterrows():
            lines.append(f"  {r['name']:<28} {r['before']:9.4f} → {r['after']:9.4f}  ({r['shift_sd']:+.1f} sd)")
        err = np.abs(np.log10(c["life_loco"] / c["measured_life"]))[c["life_reached"]]
        if len(err):
            lines.append(
                f"leave-one-cell-out: median |log10(predicted/measured life)| = {np.median(err):.3f} "
                f"over {len(err)} cell(s) that reached 80 %"
            )
        return "\n".join(lines)


def _life_and_ce(coefficients, cells: list[Cell]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cycle life, its p10 and p90, and CE that the chain predicts for each cell."""
    from dse.modelchain import ModelChain

    life, p10, p90, ce = [], [], [], []
    for cell in cells:
        chain = ModelChain(coefficients=coefficients, overrides=cell.design.overrides or None, uncertainty=True)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            out = chain.evaluate(cell.design.inputs)
        life.append(float(np.ravel(out["cycle_life"])[0]))
        p10.append(float(np.ravel(out.get("cycle_life_p10", [np.nan]))[0]))
        p90.append(float(np.ravel(out.get("cycle_life_p90", [np.nan]))[0]))
        ce.append(float(np.ravel(out["coulombic_efficiency"])[0]))
    return np.array(life), np.array(p10), np.array(p90), np.array(ce)


def calibrate_cells(
    folder: str | Path,
    csv_path: str | Path | None = None,
    output_path: str | Path | None = None,
    prior=None,
    loco: bool = True,
) -> CellsResult:
    """Fit the CE surrogate to the literature table and the cells of ``folder`` together.

    The literature rows are selected and targeted exactly as
    :func:`dse.calibration.calibrate` does; the cells are added as
    :func:`cell_rows`; the fit is :func:`dse.calibration.fit_posterior`
    with the same priors, sign constraints and Student-t residuals, each
    cell its own source, with its weight. The literature-only fit is the
    "before"; leave-one-cell-out refits without each cell and predicts it.

    Raises
    ------
    CalibrationError
        No usable cell (every file excluded, with the reasons), or the
        coefficients cannot be written.
    SpecError
        A sidecar is missing or invalid.
    """
    from dse import __version__
    from dse.calibration import (
        DEGREES_OF_FREEDOM,
        _coefficients_from,
        design_matrix,
        fit_posterior,
        select_rows,
    )
    from dse.coefficients import constraint_bounds, constraints, prior_coefficients
    from dse.literature import load_literature

    cells, excluded = load_cells(folder)
    prior = prior or prior_coefficients()
    frame = load_literature(Path(csv_path) if csv_path is not None else None)
    used = select_rows(frame, prior).used
    rows, unreachable = cell_rows(cells, prior)
    excluded = excluded + unreachable
    if rows.empty:
        reasons = "; ".join(f"{n}: {r}" for n, r in excluded[:3])
        raise CalibrationError(f"no usable cell ({reasons})", where=str(folder))
    cells = [c for c in cells if c.id in set(rows["row_id"])]
    x_lit, y_lit = design_matrix(used, prior), used["y"].to_numpy(float)
    x_cell, y_cell = design_matrix(rows, prior), rows["y"].to_numpy(float)
    m0 = np.asarray(prior.mean, dtype=float)
    c0 = np.asarray(prior.covariance, dtype=float)
    matrix, labels = constraints(prior.names)
    options = {
        "nu": DEGREES_OF_FREEDOM,
        "constraint": matrix,
        "constraint_labels": labels,
        "constraint_bound": constraint_bounds(prior.names),
    }
    lit_sources = used["source"].to_numpy(str)

    def fit(keep: np.ndarray | None = None):
        keep = np.ones(len(rows), dtype=bool) if keep is None else keep
        x = np.vstack([x_lit, x_cell[keep]])
        y = np.concatenate([y_lit, y_cell[keep]])
        sources = np.concatenate([lit_sources, rows["source"].to_numpy(str)[keep]])
        weights = np.concatenate([np.ones(len(y_lit)), rows["row_weight"].to_numpy(float)[keep]])
        return fit_posterior(x, y, m0, c0, sources=sources, row_weights=weights, **options)

    base = fit(np.zeros(len(rows), dtype=bool))
    post = fit()
    files = {c.path.name: c.sha256 for c in cells}
    for c in cells:
        files.update({Path(p).name: h for p, h in c.sidecars.items()})
    provenance = {
        "data_file": frame.attrs["path"] and Path(frame.attrs["path"]).name,
        "data_sha256": frame.attrs["sha256"],
        "rows_used": len(used),
        "cells_folder": str(folder),
        "cells": {c.id: c.path.name for c in cells},
        "cell_files_sha256": files,
        "cells_excluded": {n: r for n, r in excluded},
        "date": datetime.date.today().isoformat(),
        "dse_version": __version__,
        "method": "as dse calibrate (literature rows, priors, constraints, Student-t residuals, a random "
        "effect per source), plus one row per measured cell: target ln(1 - CE) at which the chain reproduces "
        f"its mean retention over its last {TAIL} regular cycles, each cell its own source, precision weight "
        f"1/(1/{CELL_WEIGHT_MAX:g} + v/{_S0:g}^2) with v the variance of its mean ln(1 - CE) (dse.cells)",
    }
    before = _coefficients_from(
        base,
        prior,
        description="CE surrogate calibrated on the literature alone",
        provenance={**provenance, "cells": {}, "cell_files_sha256": {}},
    )
    after = _coefficients_from(
        post,
        prior,
        description=f"CE surrogate calibrated on the literature and {len(cells)} measured cell(s)",
        provenance=provenance,
    )

    life_b, _, _, ce_b = _life_and_ce(before, cells)
    life_a, p10_a, p90_a, ce_a = _life_and_ce(after, cells)
    life_l = np.full(len(cells), np.nan)
    ce_l = np.full(len(cells), np.nan)
    if loco and len(cells) > 1:
        for k, cell in enumerate(cells):
            keep = (rows["row_id"] != cell.id).to_numpy()
            held = _coefficients_from(fit(keep), prior)
            life, _, _, ce = _life_and_ce(held, [cell])
            life_l[k], ce_l[k] = life[0], ce[0]
    table = pd.DataFrame([{"cell": c.id, **c.measured()} for c in cells])
    table["group"] = rows["group"].to_numpy()
    table["weight"] = rows["row_weight"].to_numpy()
    table["life_before"], table["life_after"], table["life_loco"] = life_b, life_a, life_l
    table["life_p10"], table["life_p90"] = p10_a, p90_a
    table["ce_before"], table["ce_after"], table["ce_loco"] = ce_b, ce_a, ce_l
    sd = np.sqrt(np.diag(np.asarray(before.covariance)))
    moved = pd.DataFrame({"name": prior.names, "before": before.mean, "after": after.mean, "sd_before": sd})
    moved["shift_sd"] = (moved["after"] - moved["before"]) / moved["sd_before"]
    moved = moved.reindex(moved["shift_sd"].abs().sort_values(ascending=False).index).reset_index(drop=True)
    after = after.model_copy(
        update={
            "fit_report": {
                "cells": table.round(6).to_dict(orient="records"),
                "moved": moved[moved["shift_sd"].abs() > 0.5].round(6).to_dict(orient="records"),
            }
        }
    )
    if output_path is not None:
        out = Path(output_path)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            after.save(out)
        except OSError as exc:
            raise CalibrationError(f"cannot write coefficients ({exc.strerror})", where=str(out)) from None
    return CellsResult(after, before, table, moved, excluded)


def cells_table(folder: str | Path, coefficients=None) -> pd.DataFrame:
    """A cells folder as one table for a dashboard overlay (no fit).

    One row per usable cell: ``cell``, every design input, ``measured_life``
    (cycles to 80 %) and ``life_reached``, ``measured_ce``,
    ``measured_energy`` [W h] (first regular discharge) and
    ``measured_specific_energy`` [W h/kg] (with ``cell_mass``) and
    ``measured_energy_density`` [W h/L] (with ``cell_volume``), and the
    chain's ``cycle_life`` with ``cycle_life_p10``/``_p90``,
    ``specific_energy`` and ``energy_density`` under ``coefficients``
    (default: the shipped ones).
    Excluded files are in ``attrs["excluded"]``.
    """
    from dse.coefficients import load_coefficients

    coefficients = coefficients or load_coefficients()
    cells, excluded = load_cells(folder)
    life, p10, p90, _ = _life_and_ce(coefficients, cells)
    records = []
    for k, cell in enumerate(cells):
        chain = _chain(coefficients, cell.design)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            out = chain.evaluate(cell.design.inputs)
        records.append(
            {
                "cell": cell.id,
                **cell.design.inputs,
                **cell.measured(),
                "cycle_life": life[k],
                "cycle_life_p10": p10[k],
                "cycle_life_p90": p90[k],
                "specific_energy": float(np.ravel(out["specific_energy"])[0]),
                "energy_density": float(np.ravel(out["energy_density"])[0]),
            }
        )
    table = pd.DataFrame.from_records(records)
    table.attrs["excluded"] = excluded
    return table
