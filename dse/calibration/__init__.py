"""Calibrate the CE surrogate on cycling results (``dse calibrate``).

The surrogate of :mod:`dse.models.ce` is linear in its parameters::

    y = ln(1 - CE) = r[metal/family] + c[coating class] + Σ_j β_j z_j + ε

with a closed-form normal posterior under the priors of
:data:`dse.coefficients.PRIORS` and Student-t noise fitted by
expectation–maximisation (:mod:`dse.calibration.fit`).

The target ``y`` of a row that reports retention R after n cycles is the
CE at which the model chain itself predicts R after n cycles
(:func:`chain_targets`): the row becomes a design (:func:`row_design`, the
same translation ``tools/build_validation.py`` uses) and the chain's
inventory model, surplus included, is inverted by bisection in
``ln(1 - CE)``. Rows that cannot be made into a design (no catalogue
cathode or electrolyte) keep the surplus-free ``CE = R^(1/n)``.

Pipeline (:func:`calibrate`): :func:`dse.literature.load_literature` →
:func:`select_rows` (documented exclusion rules, target and features per
row) → :func:`fit_posterior` → :func:`cross_validate` (k-fold, seeded) →
:class:`FitResult` (coefficients with provenance, residuals, report) →
YAML. :func:`sample_cycle_life` draws coefficient vectors from the
posterior to check the closed-form cycle-life quantiles of
:class:`~dse.modelchain.ModelChain`.

One module per step, each importable on its own; this package re-exports
what ``dse.calibration`` has always offered:

========================  ==============================================
``designs``               literature row → design inputs (:func:`row_design`)
``targets``               chain-consistent targets, cycles to 80 %
``selection``             exclusion rules, features, :func:`design_matrix`
``fit``                   posterior, robust noise, folds, scores
``report``                :class:`FitResult` and its text report
``pipeline``              :func:`calibrate`, :func:`write_default`
``uncertainty``           :func:`sample_cycle_life`
========================  ==============================================

``python -m dse.calibration`` regenerates the shipped coefficients.

>>> result = calibrate(folds=3)
>>> result.summary["rows_used"] > 50
True
>>> 0.99 < result.coefficients.reference_ce("Li/dual-salt") < 0.9999
True
"""

from __future__ import annotations

# the private names imported ``as`` themselves (_coefficients_from, _cycling_at, _outputs_at)
# are re-exported because dse.cells, tools/build_validation.py and the tests import them
from dse.calibration.designs import (
    CLASS_COATING,
    DEFAULT_CATHODE,
    DEFAULT_COLLECTOR,
    DESIGN_DEFAULTS,
    DIGLYME,
    FLOODED_ELECTROLYTE,
    METALS,
    PROTOTYPE_EXTRAS,
    PROTOTYPE_PREFIX,
    catalogue_electrolytes,
    row_design,
    shipped_catalogue,
)
from dse.calibration.fit import (
    DEGREES_OF_FREEDOM,
    MIN_RESIDUAL_SCALE,
    Posterior,
    band_coverage,
    cross_validate,
    fit_posterior,
    predictive_residual_sd,
    project,
    source_folds,
)
from dse.calibration.pipeline import _coefficients_from as _coefficients_from
from dse.calibration.pipeline import calibrate, write_default
from dse.calibration.report import FitResult, reference_ce_percent
from dse.calibration.selection import (
    COATING_CLASS_OF,
    EXCLUDED_FLAGS,
    PREMETALLATED,
    PRINTED_BOUND,
    SOLID_FAMILIES,
    TARGETS,
    Selection,
    design_matrix,
    select_rows,
)
from dse.calibration.targets import (
    CHAIN_NO_LOSS,
    CHAIN_SURPLUS,
    LOG_LOSS_BOUNDS,
    chain_cycling,
    chain_retention,
    chain_targets,
    cycles_to_80,
    invert_chain_retention,
)
from dse.calibration.targets import _cycling_at as _cycling_at
from dse.calibration.targets import _outputs_at as _outputs_at
from dse.calibration.uncertainty import sample_cycle_life

# the shipped catalogue's loader: every module of the package loads the catalogue through
# it (shipped_catalogue), so replacing dse.calibration.load_catalogue reaches them all
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
