"""Measured cells as rows of the CE fit: each cell's design, its surrogate loss and its measured targets."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from dse.cells.reading import (
    _S0,
    CELL_WEIGHT_MAX,
    TAIL,
    Cell,
)


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
