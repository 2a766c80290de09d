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

# one module per job; every name of the former single module is importable from dse.cells
from dse.cells.fit import CellsResult, calibrate_cells, cells_table
from dse.cells.reading import (
    CELL_META_KEYS,
    CELL_WEIGHT_MAX,
    FOLDER_SIDECAR,
    REQUIRED_KEYS,
    TAIL,
    Cell,
    load_cells,
    read_sidecars,
)
from dse.cells.reading import CELL_META_UNITS as CELL_META_UNITS
from dse.cells.rows import cell_rows, design_row, surrogate_log_loss, synthetic_cell

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
