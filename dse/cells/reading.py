"""Your own cells: a folder of BDF files with design sidecars, fitted with the literature as prior.

Layout of a cells folder (``dse calibrate --cells DIR``)::

    DIR/cells.yaml             optional: design keys shared by every cell of the folder
    DIR/A01.bdf.csv[.gz]       one cycler time series per cell (dse.cycler)
    DIR/A01.yaml               optional: this cell's keys (also A01.bdf.csv.yaml); they win

A sidecar is a design in the vocabulary of ``dse evaluate`` (validated by
:func:`dse.spec.parse_design`, so a misspelt key or an unknown material is
one error naming the file and the key) plus the optional ``cell_mass``
and ``cell_volume`` (the whole cell, for the measured specific energy and
energy density). A measured cell must
state every input the CE surrogate and the inventory depend on
(:data:`REQUIRED_KEYS`); a missing one is an error, never a silent default.

How a cell enters the fit (:func:`calibrate_cells`). Each usable cell
becomes one row of the same regression as the literature rows
(:func:`dse.calibration.fit_posterior`):

* its target is the ``ln(1 - CE)`` at which the model chain reproduces its
  measured retention (mean retention of its last :data:`TAIL` regular
  cycles, at their mean cycle count) for its stated design
  (:func:`dse.calibration.invert_chain_retention`), as literature rows with
  a design are;
* it is its own source: the per-publication random effect applies to each
  cell, so ten cells sharing a shift move their group's coefficient rather
  than one source effect;
* its residual variance is smaller than a literature row's: its design is
  stated in full and its retention measured over many cycles, not
  transcribed. The weight is ``ω = 1 / (1/ω_max + v/s₀²)`` with
  ``ω_max = CELL_WEIGHT_MAX = 4`` (the model-misfit floor: at most a
  quarter of a literature row's residual variance) and ``v`` the variance
  of the cell's mean ``ln(1 - CE)`` from the scatter of its per-cycle CE
  (``var(CE) / ((1 - CE)² n)``), ``s₀ = 0.5`` the starting residual scale.

Cells that cannot be fitted (not BDF, no units, gaps or time going back,
fewer than 5 cycles, CE above 100 %, retention the chain cannot reach) are
reported exclusions; the others are still fitted.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dse.errors import CalibrationError, SpecError
from dse.literature import file_sha256

__all__ = [
    "REQUIRED_KEYS",
    "CELL_META_KEYS",
    "FOLDER_SIDECAR",
    "TAIL",
    "CELL_WEIGHT_MAX",
    "Cell",
    "CellsResult",
    "read_sidecars",
    "load_cells",
    "cell_rows",
    "calibrate_cells",
    "cells_table",
    "design_row",
    "surrogate_log_loss",
    "synthetic_cell",
]

#: design inputs a measured cell must state (everything the CE surrogate and the inventory read)
REQUIRED_KEYS = (
    "metal",
    "cathode",
    "cathode_loading",
    "current_collector",
    "coating",
    "electrolyte",
    "electrolyte_amount",
    "stack_pressure",
    "temperature",
    "charge_rate",
    "discharge_rate",
)
#: sidecar keys that are not design inputs
CELL_META_KEYS = ("cell_mass", "cell_volume")
#: canonical unit of each of them
CELL_META_UNITS = {"cell_mass": "g", "cell_volume": "cm^3"}
#: the folder-wide sidecar
FOLDER_SIDECAR = "cells.yaml"
#: regular cycles averaged for the retention target
TAIL = 5
#: largest precision of a cell row relative to a literature row (module docstring)
CELL_WEIGHT_MAX = 4.0
_S0 = 0.5


@dataclass
class Cell:
    """One measured cell: its file, its design and its cycles."""

    id: str
    path: Path
    sha256: str
    sidecars: dict  # path -> sha256
    design: object  # dse.spec.Design
    data: object  # dse.cycler.CycleData
    cell_mass: float | None = None  # [g]
    cell_volume: float | None = None  # [cm³]

    def measured(self) -> dict:
        """Measured life (cycles to 80 %, censored or not), mean CE and first-cycle energy (per kg, per L)."""
        life, reached = self.data.cycles_to(0.8)
        regular = self.data.regular
        energy = float(regular["discharge_energy"].iloc[0])
        return {
            "measured_life": life,
            "life_reached": reached,
            "measured_ce": float(regular["coulombic_efficiency"].mean()),
            "regular_cycles": len(regular),
            "measured_energy": energy,
            "measured_specific_energy": 1000.0 * energy / self.cell_mass if self.cell_mass else math.nan,
            "measured_energy_density": 1000.0 * energy / self.cell_volume if self.cell_volume else math.nan,
        }


def _cell_id(path: Path) -> str:
    name = path.name
    for suffix in (".bdf.csv.gz", ".bdf.csv", ".bdf.parquet"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def read_sidecars(path: str | Path):
    """The validated design of the cell in ``path`` and its sidecar files.

    Returns
    -------
    design : dse.spec.Design
    sidecars : dict
        Path of each sidecar read → sha256.
    meta : dict
        ``cell_mass`` [g] and ``cell_volume`` [cm³], None where not given.

    Raises
    ------
    SpecError
        No sidecar, a missing required key, a misspelt key, a value out of
        range or an unknown material (each naming the file and the key).
    """
    from dse.spec import DESIGN_META_KEYS, parse_design, read_yaml, suggest
    from dse.units import to_canonical
    from dse.vocabulary import INPUTS

    path = Path(path)
    cell = _cell_id(path)
    folder_file = path.parent / FOLDER_SIDECAR
    own = [p for p in (path.parent / f"{cell}.yaml", path.with_name(path.name + ".yaml")) if p.exists()]
    merged: dict = {}
    sidecars: dict = {}
    for file in ([folder_file] if folder_file.exists() else []) + own[:1]:
        data = read_yaml(file, "cell sidecar")
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise SpecError("expected a mapping of design keys", str(file))
        merged.update(data)
        sidecars[str(file)] = file_sha256(file)
    if not sidecars:
        raise SpecError(
            f"no design for this cell: add {cell}.yaml next to it or {FOLDER_SIDECAR} in its folder", str(path)
        )
    where = str(list(sidecars)[-1])
    known = [*INPUTS, *DESIGN_META_KEYS, *CELL_META_KEYS]
    unknown = [str(k) for k in merged if k not in known]
    if unknown:
        raise SpecError(f"unknown key {unknown[0]!r}" + suggest(unknown[0], known), where)
    missing = [k for k in REQUIRED_KEYS if k not in merged]
    if missing:
        raise SpecError(f"missing key {missing[0]!r} (a measured cell states {', '.join(REQUIRED_KEYS)})", where)
    meta = {}
    for key, unit in CELL_META_UNITS.items():
        value = merged.pop(key, None)
        meta[key] = None if value is None else to_canonical(value, unit, where=f"{where}: {key}")
        if meta[key] is not None and not (math.isfinite(meta[key]) and meta[key] > 0):
            raise SpecError(f"{key} must be a positive {unit} value, got {value!r}", where)
    merged.setdefault("name", cell)
    design = parse_design(merged, source=where, base_dir=path.parent)
    return design, sidecars, meta


def load_cells(folder: str | Path) -> tuple[list[Cell], list[tuple[str, str]]]:
    """Every BDF file of a folder with its design; files that cannot be used, with the reason.

    Sidecar errors are raised (the description is the user's to fix); data
    problems exclude the one cell (:meth:`dse.cycler.CycleData.problem`).

    Raises
    ------
    CalibrationError
        The folder does not exist or holds no BDF file.
    SpecError
        A sidecar is missing or invalid.
    """
    from dse.cycler import BDF_SUFFIXES, is_bdf, load_cycles

    folder = Path(folder)
    if not folder.is_dir():
        raise CalibrationError("not a folder of cells", where=str(folder))
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_bdf(p))
    if not files:
        raise CalibrationError(f"no BDF file ({', '.join(BDF_SUFFIXES)}) in the folder", where=str(folder))
    cells, excluded = [], []
    for path in files:
        design, sidecars, meta = read_sidecars(path)
        try:
            data = load_cycles(path)
        except CalibrationError as exc:
            excluded.append((path.name, exc.message))
            continue
        problem = data.problem()
        if problem:
            excluded.append((path.name, problem))
            continue
        cells.append(Cell(_cell_id(path), path, data.sha256, sidecars, design, data, **meta))
    return cells, excluded


# --------------------------------------------------------------------------- rows of the fit
def _chain(coefficients, design):
    from dse.modelchain import ModelChain

    return ModelChain(coefficients=coefficients, overrides=design.overrides or None, uncertainty=False)


def design_row(design, chain, catalogue) -> dict:
    """``metal``, ``group``, ``coating``, ``coating_class`` and ``z_<feature>`` of one design.

    The features are those the chain computes for the design (its current
    density included), so a cell's row and its prediction agree.
    """
    from dse.calibration import COATING_CLASS_OF
    from dse.models.ce import FEATURE_NAMES, ce_features

    inputs = design.inputs
    entry = catalogue.get("electrolyte", inputs["electrolyte"])
    coating = str(inputs["coating"])
    cls = (
        catalogue.get("coating", coating).ce_class
        if coating in catalogue.ids("coating")
        else COATING_CLASS_OF.get(coating, "none")
    )
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = chain.evaluate(inputs)
        params = chain.parameters(inputs)
    d, e = params.design, params.electrolyte
    z = [
        float(np.asarray(f).ravel()[0])
        for f in ce_features(
            d.stack_pressure,
            e.min_stack_pressure,
            e.solid > 0.5,
            out["current_density"],
            d.temperature,
            e.decay_onset_temperature,
            d.cathode_loading,
            d.depth_of_discharge,
            d.charge_rate,
            d.discharge_rate,
        )
    ]
    return {
        "metal": entry.metal,
        "group": f"{entry.metal}/{entry.family}",
        "coating": coating,
        "coating_class": cls,
        **{f"z_{n}": v for n, v in zip(FEATURE_NAMES, z, strict=True)},
    }


def surrogate_log_loss(design, coefficients, catalogue=None) -> float:
    """``ln(1 - CE)`` the surrogate gives a design under ``coefficients`` (its posterior mean)."""
    from dse.calibration import design_matrix
    from dse.materials.catalogue import load_catalogue

    catalogue = catalogue or load_catalogue()
    row = pd.DataFrame([design_row(design, _chain(coefficients, design), catalogue)])
    return float(design_matrix(row, coefficients)[0] @ np.asarray(coefficients.mean, dtype=float))


def synthetic_cell(
    path: str | Path,
    design,
    log_loss: float,
    cycles: int,
    coefficients=None,
    area: float = 1.54,
    ce_noise: float = 2e-4,
    capacity_noise: float = 5e-4,
    formation: int = 2,
    seed: int = 0,
) -> np.ndarray:
    """Write a BDF file of a cell the model chain would cycle at a given ``ln(1 - CE)``, plus noise.

    Regular cycle n discharges ``capacity × area × chain_retention(n - 1)``
    (every mechanism of the chain at ``log_loss``) times ``1 + N(0,
    capacity_noise)``; its CE is the chain's full-cell CE at ``log_loss``
    plus ``N(0, ce_noise)`` (kept below 1), and it charges discharge / CE.
    ``formation`` slow cycles (C/10, CE 90 %) come first. Synthetic data for
    tests and ``examples/cells``, not measurements.

    Parameters
    ----------
    path : path
        ``*.bdf.csv``, ``*.bdf.csv.gz`` or ``*.bdf.parquet``.
    design : dse.spec.Design
    log_loss : float
        ``ln(1 - CE)`` of the plating CE [-].
    cycles : int
        Regular cycles.
    coefficients : CeCoefficients, optional
        Only the formation constants matter (default: the shipped ones).
    area : float, default 1.54
        Electrode area [cm²] (a 14 mm coin electrode).

    Returns
    -------
    ndarray
        The CE of every cycle written, formation cycles first [-].
    """
    from dse.calibration import _outputs_at, chain_retention
    from dse.coefficients import load_coefficients
    from dse.cycler import synthetic_series, write_bdf

    coefficients = coefficients or load_coefficients()
    chain = _chain(coefficients, design)
    rng = np.random.default_rng(seed)
    inputs = design.inputs
    out = _outputs_at(chain, inputs, log_loss)
    q1 = float(np.ravel(out.capacity)[0]) * area / 1000.0  # [A h]
    retention = np.ravel(chain_retention(chain, inputs, log_loss, np.arange(cycles)))
    alive = np.flatnonzero(~(retention > 0.05))  # a dead cell is not cycled further
    cycles = int(alive[0]) if len(alive) else cycles
    retention = retention[:cycles]
    discharge = q1 * retention * (1.0 + capacity_noise * rng.standard_normal(cycles))
    ce = np.minimum(float(np.ravel(out.coulombic_efficiency)[0]) + ce_noise * rng.standard_normal(cycles), 1.0 - 1e-6)
    charge = discharge / ce
    ce_all = np.concatenate([np.full(formation, 0.9), ce])
    charge_all = np.concatenate([np.full(formation, q1 / 0.9), charge])
    discharge_all = np.concatenate([np.full(formation, q1), discharge])
    rates = np.concatenate([np.full(formation, 0.1), np.full(cycles, float(inputs["charge_rate"]))])
    frame = synthetic_series(charge_all, discharge_all, rates * q1, float(inputs["discharge_rate"]) * q1)
    write_bdf(frame, path)
    return ce_all


def cell_rows(cells: list[Cell], coefficients, catalogue=None) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Rows of the regression for measured cells (target, features, weight), and cells left out.

    Columns as :attr:`dse.calibration.Selection.used` needs for
    :func:`dse.calibration.design_matrix` (``group``, ``coating_class``,
    ``coating``, ``z_<feature>``) plus ``row_id`` (the cell id),
    ``source`` (``cell:<id>``), ``y``, ``retention``, ``cycles``,
    ``y_sd`` (measurement sd of ``y``) and ``row_weight`` (ω).
    """
    from dse.calibration import invert_chain_retention
    from dse.materials.catalogue import load_catalogue

    catalogue = catalogue or load_catalogue()
    records, excluded = [], []
    for cell in cells:
        inputs = cell.design.inputs
        chain = _chain(coefficients, cell.design)
        regular = cell.data.regular
        tail = regular.iloc[-TAIL:]
        retention = float(tail["retention"].mean())
        cycles = float(np.mean(np.arange(len(regular) - len(tail), len(regular))))
        y, status = invert_chain_retention(chain, inputs, retention, cycles)
        if str(status) != "ok":
            excluded.append(
                (
                    cell.path.name,
                    f"the chain cannot reproduce retention {retention:.3f} after {cycles:.0f} cycles ({status})",
                )
            )
            continue
        features = design_row(cell.design, chain, catalogue)
        ce = regular["coulombic_efficiency"].to_numpy(float)
        loss = max(1.0 - float(ce.mean()), 1e-7)
        variance = float(np.var(ce, ddof=1)) / (loss**2 * len(ce))
        weight = 1.0 / (1.0 / CELL_WEIGHT_MAX + variance / _S0**2)
        records.append(
            {
                "row_id": cell.id,
                "source": f"cell:{cell.id}",
                **features,
                "retention": retention,
                "cycles": cycles,
                "y": float(y),
                "y_sd": math.sqrt(variance),
                "row_weight": weight,
            }
        )
    return pd.DataFrame.from_records(records), excluded


# --------------------------------------------------------------------------- the fit
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
