"""Element-wise helpers that keep the array type of their arguments.

``numpy.where`` converts an :class:`xarray.DataArray` to a plain ndarray (and
computes a dask-backed one). :func:`select` is a real ufunc (compiled with
numba), so it dispatches through ``__array_ufunc__``: floats give floats,
ndarrays give ndarrays, DataArrays stay labelled and dask arrays stay lazy.
It is also callable from numba-compiled code, which lets the same model
source run element by element inside the fused sweep kernel.

>>> float(select(True, 1.0, 2.0))
1.0
>>> select(np.array([True, False]), np.array([1.0, 1.0]), 0.0)
array([1., 0.])
"""

from __future__ import annotations

import math
import os

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

__all__ = [
    "select",
    "exp",
    "log",
    "log1p",
    "expm1",
    "sqrt",
    "log1p_series",
    "log_ratio_series",
    "expm1_series",
    "PLAIN_MATH",
]


@numba.vectorize(["f8(b1,f8,f8)", "f8(f8,f8,f8)"], nopython=True, cache=True)
def select(condition, x, y):  # pragma: no cover - compiled
    """``x`` where ``condition`` is true, else ``y`` (element-wise)."""
    return x if condition else y


# --- elementary functions that vectorize -----------------------------------
#
# LLVM vectorizes the sweep kernel's loop over designs (four designs per AVX
# instruction) only if every call in it has a vector version, and numba lowers
# ``numpy.exp`` and friends to scalar C library calls. The functions below are
# written in plain arithmetic instead, so they inline into the loop and
# vectorize with it: range reduction by powers of two (bit manipulation of
# the IEEE 754 representation) and a short series on the reduced argument.
# Each is within a few units in the last place of the correctly rounded result
# (``tests/models/test_vmath.py`` measures it against numpy), handles ±inf, NaN,
# zero and subnormals as numpy does, and gives the same bits in the kernel and
# on the numpy array path, so results never depend on block or tile edges.

_BIAS_BITS = 0x4330000000000000  # bits of 2**52: its mantissa field holds integers 0..2**52-1
_TWO52 = 4503599627370496.0
_ROUND = 6755399441055744.0  # 1.5 * 2**52: x + _ROUND - _ROUND rounds x to an integer (|x| < 2**51)
_MANTISSA = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000
_LOG2E = 1.4426950408889634
# ln 2 split so that n * _LN2_HI is exact for |n| < 2**32 (low 32 bits of _LN2_HI are zero)
_LN2_HI = 0.6931467056274414
_LN2_LO = 4.7493250390316726e-07
_SQRT2 = 1.4142135623730951
_TINY = 2.2250738585072014e-308  # smallest normal double
_INF = np.inf


@intrinsic
def _bits(typingctx, x):
    """The IEEE 754 bits of a float64 as an int64."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, b):
    """The float64 whose IEEE 754 bits are the int64 ``b``."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _llvm_sqrt(typingctx, x):
    """``llvm.sqrt.f64``: correctly rounded, vectorizes, NaN below zero."""

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.sqrt", [ir.DoubleType()])
        return builder.call(fn, args)

    return types.float64(types.float64), codegen


@numba.njit(inline="always", error_model="numpy")
def _pow2(m):  # pragma: no cover - compiled
    """``2**m`` for an integral float ``m`` in [-1022, 1023], without a float-to-int conversion."""
    return _from_bits((_bits(m + (1023.0 + _TWO52)) & _MANTISSA) << 52)


#: 1/2!, 1/3!, ..., 1/13!: exp(r) - 1 - r = r**2 · Σ c_k r**k; for |r| <= 0.35 the
#: first term left out (r**14/14!) is below 1e-17 relative
_EXPM1_COEFFICIENTS = tuple(1.0 / math.factorial(k) for k in range(2, 14))
#: 1/3, 1/5, ..., 1/21 and two zeros: 2 atanh(s) = 2s + 2s · z · Σ c_k z**k with z = s**2;
#: for |s| <= 0.172 the first term left out (z**10/23) is below 1e-18
_ATANH_COEFFICIENTS = tuple(1.0 / (2 * k + 3) for k in range(10)) + (0.0, 0.0)


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (``llvm.fma.f64``; one instruction where the CPU has FMA)."""

    def codegen(context, builder, signature, args):
        dbl = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [dbl], ir.FunctionType(dbl, [dbl, dbl, dbl]))
        return builder.call(fn, args)

    return types.float64(types.float64, types.float64, types.float64), codegen


@numba.njit(inline="always", error_model="numpy")
def _poly12(x, c):  # pragma: no cover - compiled
    """``c[0] + c[1] x + ... + c[11] x**11`` by Estrin's scheme.

    Four dependent steps instead of Horner's eleven, so the CPU overlaps the
    work of neighbouring terms; every index is a constant.
    """
    x2 = x * x
    x4 = x2 * x2
    b0 = _fma(_fma(c[3], x, c[2]), x2, _fma(c[1], x, c[0]))
    b1 = _fma(_fma(c[7], x, c[6]), x2, _fma(c[5], x, c[4]))
    b2 = _fma(_fma(c[11], x, c[10]), x2, _fma(c[9], x, c[8]))
    return _fma(_fma(b2, x4, b1), x4, b0)


@numba.njit(inline="always", error_model="numpy")
def _expm1_reduced(r):  # pragma: no cover - compiled
    """``e**r - 1`` for ``|r| <= 0.35``: its Taylor series to ``r**13``."""
    return _fma(r * r, _poly12(r, _EXPM1_COEFFICIENTS), r)


@numba.njit(inline="always", error_model="numpy")
def _exp(x):  # pragma: no cover - compiled
    # e**x = 2**n * e**r with n = round(x / ln 2), |r| <= ln(2)/2; 2**n is applied
    # in two halves so that the subnormal and near-overflow ranges stay exact
    xc = np.minimum(np.maximum(x, -746.0), 710.0)
    n = (xc * _LOG2E + _ROUND) - _ROUND
    r = (xc - n * _LN2_HI) - n * _LN2_LO
    n1 = np.floor(0.5 * n)
    return (1.0 + _expm1_reduced(r)) * _pow2(n1) * _pow2(n - n1)


@numba.njit(inline="always", error_model="numpy")
def _log(x):  # pragma: no cover - compiled
    # x = 2**e * m with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s), s = (m-1)/(m+1)
    tiny = x < _TINY
    b = _bits(x * select(tiny, 18014398509481984.0, 1.0))  # subnormals scaled by 2**54
    m = _from_bits((b & _MANTISSA) | _ONE_BITS)
    big = m > _SQRT2
    m = select(big, 0.5 * m, m)
    e = (
        (_from_bits(((b >> 52) & 0x7FF) | _BIAS_BITS) - _TWO52)
        - 1023.0
        - select(tiny, 54.0, 0.0)
        + select(big, 1.0, 0.0)
    )
    s = (m - 1.0) / (m + 1.0)
    two_s = 2.0 * s
    r = e * _LN2_HI + (two_s + _fma(two_s * (s * s), _poly12(s * s, _ATANH_COEFFICIENTS), e * _LN2_LO))
    finite = (x > 0.0) & (x < _INF)
    return select(finite, r, select(x == 0.0, -_INF, select(x == _INF, _INF, np.nan)))


@numba.njit(inline="always", error_model="numpy")
def _log1p(x):  # pragma: no cover - compiled
    # log(u) for u = 1 + x, corrected for the rounding of u: (u - 1) - x
    u = 1.0 + x
    correction = select((u > 0.0) & (u < _INF), ((u - 1.0) - x) / u, 0.0)
    return _log(u) - correction


@numba.njit(inline="always", error_model="numpy")
def _expm1(x):  # pragma: no cover - compiled
    # Taylor series near zero, where exp(x) - 1 would cancel; exp(x) - 1 elsewhere
    return select(np.abs(x) < 0.35, _expm1_reduced(x), _exp(x) - 1.0)


@numba.vectorize(["f8(f8)"], nopython=True, cache=True)
def exp(x):  # pragma: no cover - compiled
    """``e**x`` (element-wise; vectorizes in compiled loops)."""
    return _exp(x)


@numba.vectorize(["f8(f8)"], nopython=True, cache=True)
def log(x):  # pragma: no cover - compiled
    """Natural logarithm, NaN below zero (element-wise; vectorizes in compiled loops)."""
    return _log(x)


@numba.vectorize(["f8(f8)"], nopython=True, cache=True)
def log1p(x):  # pragma: no cover - compiled
    """``log(1 + x)``, accurate for small ``x`` (element-wise; vectorizes in compiled loops)."""
    return _log1p(x)


@numba.vectorize(["f8(f8)"], nopython=True, cache=True)
def expm1(x):  # pragma: no cover - compiled
    """``exp(x) - 1``, accurate for small ``x`` (element-wise; vectorizes in compiled loops)."""
    return _expm1(x)


@numba.vectorize(["f8(f8)"], nopython=True, cache=True)
def sqrt(x):  # pragma: no cover - compiled
    """Square root, NaN below zero (element-wise; vectorizes in compiled loops)."""
    return _llvm_sqrt(x)


# --- short series for arguments known to be small ----------------------------
#
# The cycle life of a cell with CE >= 0.75 takes three logarithms and powers whose
# arguments lie near 1 (``dse.models.lifetime.cycle_life``). There the series above
# apply directly, without range reduction: no bit manipulation, one division
# for a logarithm instead of two, and no second path for large arguments. The
# caller checks the range; outside it these are not accurate.


@numba.njit(inline="always", error_model="numpy")
def _atanh2(s):  # pragma: no cover - compiled
    """``2 atanh(s)`` for ``|s| <= 0.172``: the series of :func:`_log`."""
    two_s = 2.0 * s
    return _fma(two_s * (s * s), _poly12(s * s, _ATANH_COEFFICIENTS), two_s)


@numba.vectorize(["f8(f8)"], nopython=True, cache=True)
def log1p_series(x):  # pragma: no cover - compiled
    """``log(1 + x)`` for ``-0.29 <= x <= 0.41`` (``2 atanh(x / (2 + x))``; element-wise)."""
    return _atanh2(x / (2.0 + x))


@numba.vectorize(["f8(f8,f8)"], nopython=True, cache=True)
def log_ratio_series(a, b):  # pragma: no cover - compiled
    """``log(a / b)`` for ``0.707 <= a / b <= 1.414`` (``2 atanh((a - b) / (a + b))``; element-wise).

    ``a - b`` is exact in that range, so the result keeps its relative
    accuracy as ``a / b`` approaches 1.
    """
    return _atanh2((a - b) / (a + b))


@numba.vectorize(["f8(f8)"], nopython=True, cache=True)
def expm1_series(x):  # pragma: no cover - compiled
    """``exp(x) - 1`` for ``|x| <= 0.35`` (the series of :func:`expm1`; element-wise)."""
    return _expm1_reduced(x)


# --- the C library instead, for bisecting a numerical question ---------------
#
#: ``DSE_PLAIN_MATH=1`` in the environment (read at import): every function above
#: is numba's call of the C library (``math.exp``, ``math.log1p``, ...) instead,
#: on the array path and in the sweep kernel alike (which then no longer
#: vectorizes: several times slower). Results agree with the default to a few
#: units in the last place (``tests/models/test_vmath.py``); a difference larger than
#: that points at these functions, not at the model.
PLAIN_MATH = os.environ.get("DSE_PLAIN_MATH", "").strip() not in ("", "0")

if PLAIN_MATH:  # pragma: no cover - exercised in a subprocess by tests/models/test_vmath.py

    @numba.vectorize(["f8(f8)"], nopython=True)
    def exp(x):
        """``exp(x)`` by the C library."""
        return math.exp(x)

    @numba.vectorize(["f8(f8)"], nopython=True)
    def log(x):
        """``log(x)`` by the C library; ``-inf`` at 0, NaN below."""
        return math.log(x) if x > 0.0 else (-_INF if x == 0.0 else np.nan)

    @numba.vectorize(["f8(f8)"], nopython=True)
    def log1p(x):
        """``log1p(x)`` by the C library; ``-inf`` at -1, NaN below."""
        return math.log1p(x) if x > -1.0 else (-_INF if x == -1.0 else np.nan)

    @numba.vectorize(["f8(f8)"], nopython=True)
    def expm1(x):
        """``expm1(x)`` by the C library."""
        return math.expm1(x)

    @numba.vectorize(["f8(f8)"], nopython=True)
    def sqrt(x):
        """``sqrt(x)`` by the C library; NaN below 0."""
        return math.sqrt(x) if x >= 0.0 else np.nan

    @numba.vectorize(["f8(f8)"], nopython=True)
    def log1p_series(x):
        """``log1p(x)`` by the C library (the series variant's stand-in)."""
        return math.log1p(x)

    @numba.vectorize(["f8(f8,f8)"], nopython=True)
    def log_ratio_series(a, b):
        """``log(a / b)`` by the C library (the series variant's stand-in)."""
        return math.log(a / b)

    @numba.vectorize(["f8(f8)"], nopython=True)
    def expm1_series(x):
        """``expm1(x)`` by the C library (the series variant's stand-in)."""
        return math.expm1(x)
