"""Calibrated surrogate of the average Coulombic efficiency.

The log of the per-cycle loss is linear in a few design features::

    ln(1 - CE) = r[metal, electrolyte family] + c[coating class] + Σ_j β_j · z_j

``r`` is the reference loss of the electrolyte on a bare collector at the
reference condition (25 °C, 1 mA/cm², 3 mAh/cm², full depth of discharge,
no pressure), ``c`` the effect of a coating, and ``z`` the features of
:func:`ce_features`: a saturating stack-pressure benefit for liquids
(seed 001 L330, seed 004 L347), a contact penalty for solids below their
minimum pressure (seed 001 L379, L480), charge current density, temperature
in three parts (a linear warm-cycling benefit, seed 001 L291; a cold penalty
below 0 °C, where plating turns dendritic, seed 000 L191; a hot penalty above
the electrolyte's decay onset), areal capacity, depth of discharge and the
charge/discharge rate ratio (seed 004 L383). Each multiplies ``1 - CE`` by
``exp(β_j z_j)``; the signs the physics gives are in
:data:`SLOPE_SIGNS` and the fit enforces them (``docs/calibration.md``).

The coefficients are fitted by Bayesian linear regression
(:mod:`dse.calibration`); their posterior covariance gives the predictive
variance of ``ln(1 - CE)`` in closed form (:func:`log_loss_variance`). Cycle
life falls monotonically with ``1 - CE``, so its quantiles are the lifetime
model evaluated at the quantiles of ``ln(1 - CE)``.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba.extending import register_jitable

from dse.models.vmath import exp, log, select

__all__ = [
    "CeFeatures",
    "FEATURE_NAMES",
    "ce_features",
    "ce_features_from_logs",
    "pressure_saturation",
    "log_loss_mean",
    "log_loss_variance",
    "coulombic_efficiency",
    "REFERENCE",
    "SLOPE_SIGNS",
    "NET_SIGNS",
    "NET_MINIMUM",
]

FEATURE_NAMES = (
    "pressure",
    "contact",
    "current_density",
    "temperature",
    "cold",
    "hot",
    "areal_capacity",
    "depth_of_discharge",
    "rate_ratio",
)
CeFeatures = namedtuple("CeFeatures", FEATURE_NAMES)
CeFeatures.__doc__ = "Features of the CE surrogate, 0 at the reference condition."

#: sign each slope must have: +1 (the feature can only raise the loss), -1 (only
#: lower it), 0 (either). The net effect of loading at a fixed C-rate,
#: ``current_density + areal_capacity``, must be >= 0 as well (:data:`NET_SIGNS`).
SLOPE_SIGNS = {
    "pressure": -1,  # liquids: pressure densifies the deposit (seed 001 L330)
    "contact": +1,  # solids below their contact pressure lose contact (seed 001 L379)
    "current_density": +1,  # faster plating: more surface, more dead metal
    "temperature": -1,  # warm cycling between the cold and hot onsets helps (seed 001 L291)
    "cold": +1,  # below 0 °C plating is dendritic (seed 000 L191)
    "hot": +1,  # above the decay onset the electrolyte and SEI decompose
    "areal_capacity": 0,  # at fixed current density either sign is reported
    "depth_of_discharge": -1,  # shallower cycling keeps a reservoir under the deposit
    "rate_ratio": +1,  # slow charge / fast discharge helps (seed 004 L383)
}
#: sums of slopes with a required sign: a higher loading at a fixed C-rate loses more
NET_SIGNS = {("current_density", "areal_capacity"): +1}
#: and the least each such sum may be. The net loading slope is held at 0.2 or more (loss
#: per cycle ∝ loading^0.2 at a fixed C-rate, +15 % per doubling): more plated metal at
#: a higher current density means more dendrites and dead metal (seed 001 L332; seed
#: 000 L339: low current density is what keeps lab cells alive), while the literature
#: rows rarely state their loading (most are imputed at 3 mAh/cm², docs/calibration.md)
#: and cannot place the slope themselves: unconstrained, the fit puts the net at 0, and a
#: higher loading would then cycle longer through its lower utilisation alone
NET_MINIMUM = {("current_density", "areal_capacity"): 0.2}

#: reference condition of the surrogate
PRESSURE_SCALE = 0.5  # [MPa], saturation scale of the liquid pressure benefit
REFERENCE_CURRENT_DENSITY = 1.0  # [mA/cm²]
REFERENCE_TEMPERATURE = 25.0  # [°C]
REFERENCE_AREAL_CAPACITY = 3.0  # [mAh/cm²]
COLD_ONSET = 0.0  # [°C], below it metal plating turns dendritic (seed 000 L191)
REFERENCE = {
    "pressure_scale": PRESSURE_SCALE,
    "current_density": REFERENCE_CURRENT_DENSITY,
    "temperature": REFERENCE_TEMPERATURE,
    "areal_capacity": REFERENCE_AREAL_CAPACITY,
    "cold_onset": COLD_ONSET,
}


@register_jitable(error_model="numpy")
def _dot(a, b):
    """``Σ_j a[j] · b[j]`` over the nine features, written out.

    Constant indices let compiled code read a tuple without a branch on the
    index, which keeps the loop over designs vectorizable.
    """
    return (
        a[0] * b[0]
        + a[1] * b[1]
        + a[2] * b[2]
        + a[3] * b[3]
        + a[4] * b[4]
        + a[5] * b[5]
        + a[6] * b[6]
        + a[7] * b[7]
        + a[8] * b[8]
    )


assert len(FEATURE_NAMES) == 9, "_dot and log_loss_variance are written out for nine features"
assert set(SLOPE_SIGNS) == set(FEATURE_NAMES)


@register_jitable(error_model="numpy")
def ce_features(
    stack_pressure,
    min_stack_pressure,
    solid,
    current_density,
    temperature,
    decay_onset,
    cathode_loading,
    depth_of_discharge,
    charge_rate,
    discharge_rate,
):
    """Design features of the CE surrogate.

    Parameters
    ----------
    stack_pressure : array_like
        [MPa]
    min_stack_pressure : array_like
        Contact pressure a solid electrolyte needs [MPa] (ignored for liquids).
    solid : array_like of bool
        True for solid electrolytes.
    current_density : array_like
        Charge current density [mA/cm²].
    temperature : array_like
        [°C]
    decay_onset : array_like
        Temperature above which the electrolyte and SEI decay [°C].
    cathode_loading : array_like
        [mAh/cm²]
    depth_of_discharge : array_like
        [-]
    charge_rate, discharge_rate : array_like
        [1/h]

    Returns
    -------
    CeFeatures
        ``pressure = 1 - exp(-p / 0.5 MPa)`` for liquids (0 for solids);
        ``contact = max(0, 1 - p / p_min)`` for solids (0 for liquids);
        ``current_density = ln(j / 1 mA/cm²)``; ``temperature = (T - 25 °C) / 10 K``;
        ``cold = max(0, 0 °C - T) / 10 K``; ``hot = max(0, T - decay_onset) / 10 K``;
        ``areal_capacity = ln(Q / 3 mAh/cm²)``; ``depth_of_discharge = 1 - DoD``;
        ``rate_ratio = ln(charge_rate / discharge_rate)``.

    Examples
    --------
    >>> f = ce_features(1.0, 0.0, False, 0.6, -10.0, 55.0, 3.0, 1.0, 0.2, 0.5)
    >>> round(float(f.pressure), 3), round(float(f.rate_ratio), 3), float(f.cold), float(f.hot)
    (0.865, -0.916, 1.0, 0.0)
    """
    return ce_features_from_logs(
        pressure_saturation(stack_pressure),
        stack_pressure,
        min_stack_pressure,
        solid,
        log(current_density),
        temperature,
        decay_onset,
        log(cathode_loading),
        depth_of_discharge,
        log(charge_rate) - log(discharge_rate),
    )


@register_jitable(error_model="numpy")
def pressure_saturation(stack_pressure):
    """``1 - exp(-p / 0.5 MPa)``: the saturating pressure benefit of liquid electrolytes.

    >>> round(float(pressure_saturation(1.0)), 3)
    0.865
    """
    return 1.0 - exp(-np.maximum(stack_pressure, 0.0) * (1.0 / PRESSURE_SCALE))


_LOG_REFERENCE_CURRENT_DENSITY = math.log(REFERENCE_CURRENT_DENSITY)
_LOG_REFERENCE_AREAL_CAPACITY = math.log(REFERENCE_AREAL_CAPACITY)


@register_jitable(error_model="numpy")
def ce_features_from_logs(
    pressure_saturation,
    stack_pressure,
    min_stack_pressure,
    solid,
    log_current_density,
    temperature,
    decay_onset,
    log_cathode_loading,
    depth_of_discharge,
    log_rate_ratio,
):
    """:func:`ce_features` from the logarithms (and pressure saturation) already taken.

    The model chain takes them from ``Parameters.derived``: functions of one
    design input each, which the sweep kernel computes once per value of the
    input rather than once per design.

    >>> f = ce_features_from_logs(pressure_saturation(1.0), 1.0, 0.0, False, np.log(0.6), 70.0, 55.0, np.log(3.0),
    ...                           1.0, np.log(0.2 / 0.5))
    >>> round(float(f.pressure), 3), round(float(f.rate_ratio), 3), float(f.hot)
    (0.865, -0.916, 1.5)
    """
    shortfall = np.maximum(0.0, 1.0 - stack_pressure / np.maximum(min_stack_pressure, 1.0e-9))
    contact = select(min_stack_pressure > 0.0, shortfall, 0.0)
    return CeFeatures(
        select(solid, 0.0, pressure_saturation),
        select(solid, contact, 0.0),
        log_current_density - _LOG_REFERENCE_CURRENT_DENSITY,
        (temperature - REFERENCE_TEMPERATURE) * 0.1,
        np.maximum(COLD_ONSET - temperature, 0.0) * 0.1,
        np.maximum(temperature - decay_onset, 0.0) * 0.1,
        log_cathode_loading - _LOG_REFERENCE_AREAL_CAPACITY,
        1.0 - depth_of_discharge,
        log_rate_ratio,
    )


@register_jitable(error_model="numpy")
def log_loss_mean(base, features, slopes):
    """Mean of ``ln(1 - CE)``: ``base + Σ_j slopes[j] · features[j]``.

    Parameters
    ----------
    base : array_like
        ``r[group] + c[coating class]`` for each design.
    features : CeFeatures
    slopes : sequence of float
        ``β_j`` in :data:`FEATURE_NAMES` order.

    Examples
    --------
    >>> f = CeFeatures(1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    >>> round(float(log_loss_mean(np.log(0.004), f, (-0.5, 0, 0, 0, 0, 0, 0, 0, 0))), 4)
    -6.0215
    """
    return base + _dot(slopes, features)


@register_jitable(error_model="numpy")
def log_loss_variance(base_variance, base_covariance, features, slope_covariance, residual_variance):
    """Predictive variance of ``ln(1 - CE)`` for one design.

    ``Var = v_b + 2 Σ_j z_j C_bj + Σ_jk z_j z_k S_jk + σ²``, where ``v_b`` is
    the posterior variance of the design's ``r + c``, ``C_bj`` its covariance
    with ``β_j``, ``S`` the (symmetric) covariance of the slopes (indexed ``S[j][k]``, so a
    tuple of tuples works inside compiled code without reference counting)
    and ``σ²`` the residual variance of the fit.

    Examples
    --------
    >>> z = CeFeatures(1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    >>> S = np.diag([0.04, 0, 0, 0, 0, 0, 0, 0, 0])   # or a tuple of tuples
    >>> round(float(log_loss_variance(0.09, (0.01,) + (0.0,) * 8, z, S, 0.25)), 4)
    0.4
    """
    S = slope_covariance
    # z·S·z as nine row products: S is symmetric, so this equals the sum over
    # all (j, k); every index is a constant, so compiled code has no branch
    Sz = (
        _dot(S[0], features),
        _dot(S[1], features),
        _dot(S[2], features),
        _dot(S[3], features),
        _dot(S[4], features),
        _dot(S[5], features),
        _dot(S[6], features),
        _dot(S[7], features),
        _dot(S[8], features),
    )
    return base_variance + residual_variance + 2.0 * _dot(base_covariance, features) + _dot(features, Sz)


@register_jitable(error_model="numpy")
def coulombic_efficiency(log_loss):
    """CE from ``ln(1 - CE)``; a loss above 1 is capped (CE ≥ 0).

    >>> round(float(coulombic_efficiency(np.log(0.001))), 6)
    0.999
    """
    return 1.0 - exp(np.minimum(log_loss, 0.0))
