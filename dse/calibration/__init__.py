"""Calibrate the CE surrogate on cycling results (``dse calibrate``).

The package re-exports what ``dse.calibration`` has always offered; the
modules behind it are listed in ``docs/architecture.md``.
"""

from __future__ import annotations

from dse.calibration.fit import (
    CHAIN_NO_LOSS,
    CHAIN_SURPLUS,
    CLASS_COATING,
    COATING_CLASS_OF,
    DEFAULT_CATHODE,
    DEFAULT_COLLECTOR,
    DEGREES_OF_FREEDOM,
    DESIGN_DEFAULTS,
    DIGLYME,
    EXCLUDED_FLAGS,
    FLOODED_ELECTROLYTE,
    LOG_LOSS_BOUNDS,
    METALS,
    MIN_RESIDUAL_SCALE,
    PREMETALLATED,
    PRINTED_BOUND,
    PROTOTYPE_EXTRAS,
    PROTOTYPE_PREFIX,
    SOLID_FAMILIES,
    TARGETS,
    FitResult,
    Posterior,
    Selection,
    band_coverage,
    calibrate,
    catalogue_electrolytes,
    chain_cycling,
    chain_retention,
    chain_targets,
    cross_validate,
    cycles_to_80,
    design_matrix,
    fit_posterior,
    invert_chain_retention,
    predictive_residual_sd,
    project,
    reference_ce_percent,
    row_design,
    sample_cycle_life,
    select_rows,
    shipped_catalogue,
    source_folds,
    write_default,
)

# private names that other modules, tools and tests import from dse.calibration
from dse.calibration.fit import _coefficients_from as _coefficients_from
from dse.calibration.fit import _cycling_at as _cycling_at
from dse.calibration.fit import _outputs_at as _outputs_at

# the shipped catalogue's loader: every module of the package reaches it here
# (shipped_catalogue), so replacing dse.calibration.load_catalogue reaches them all
from dse.materials.catalogue import load_catalogue as load_catalogue

__all__ = [
    "METALS",
    "EXCLUDED_FLAGS",
    "SOLID_FAMILIES",
    "COATING_CLASS_OF",
    "DEGREES_OF_FREEDOM",
    "PREMETALLATED",
    "PRINTED_BOUND",
    "DEFAULT_CATHODE",
    "DEFAULT_COLLECTOR",
    "CLASS_COATING",
    "PROTOTYPE_PREFIX",
    "PROTOTYPE_EXTRAS",
    "DESIGN_DEFAULTS",
    "LOG_LOSS_BOUNDS",
    "CHAIN_SURPLUS",
    "CHAIN_NO_LOSS",
    "TARGETS",
    "Selection",
    "Posterior",
    "FitResult",
    "catalogue_electrolytes",
    "row_design",
    "chain_retention",
    "chain_cycling",
    "invert_chain_retention",
    "chain_targets",
    "select_rows",
    "design_matrix",
    "fit_posterior",
    "project",
    "source_folds",
    "cross_validate",
    "band_coverage",
    "predictive_residual_sd",
    "cycles_to_80",
    "calibrate",
    "sample_cycle_life",
    "write_default",
    # public names that were not listed before the split
    "DIGLYME",
    "FLOODED_ELECTROLYTE",
    "MIN_RESIDUAL_SCALE",
    "reference_ce_percent",
    "shipped_catalogue",
]
