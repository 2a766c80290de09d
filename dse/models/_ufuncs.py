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

import ctypes.util
import os
import platform
import sys

import llvmlite.binding as ll
import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

__all__ = ["select", "exp", "log", "log1p", "expm1", "sqrt", "VECTOR_MATH"]


@numba.vectorize(["f8(b1,f8,f8)", "f8(f8,f8,f8)"], nopython=True, cache=True)
def select(condition, x, y):  # pragma: no cover - compiled
    """``x`` where ``condition`` is true, else ``y`` (element-wise)."""
    return x if condition else y


# --- elementary functions that vectorize -----------------------------------
#
# LLVM vectorizes the sweep kernel's loop over designs (four designs per AVX2
# instruction) only if every call in it has a vector version. numba lowers
# ``numpy.exp`` and friends to scalar C library calls, and the LLVM in
# llvmlite has no vector math library configured. glibc ships one, libmvec
# (``_ZGVdN4v_exp`` and so on, four doubles per call, within 4 ulp). The
# functions below call it through a scalar wrapper that carries the
# ``vector-function-abi-variant`` attribute, so the loop vectorizer replaces
# four wrapper calls by one libmvec call. The wrapper itself evaluates lane 0
# of the same libmvec function, so a design gets the same bits whether its
# call was vectorized, left scalar, or made from the numpy array path:
# results never depend on block or tile boundaries.
#
# Where libmvec or AVX2 is missing (macOS, Windows, older CPUs, or
# ``DSE_VECTOR_MATH=0``) the same names fall back to the C library.

_VECTOR_FUNCTIONS = ("exp", "log", "log1p", "expm1")


def _libmvec_available() -> bool:
    """True if glibc's libmvec with AVX2 variants can be used on this host."""
    if os.environ.get("DSE_VECTOR_MATH", "1") == "0":
        return False
    if not sys.platform.startswith("linux") or platform.machine() not in ("x86_64", "AMD64"):
        return False
    features = ll.get_host_cpu_features()
    if not (features.get("avx2") and features.get("fma")):
        return False
    path = ctypes.util.find_library("mvec")
    if path is None:
        return False
    try:
        lib = ctypes.CDLL(path)
        if not all(hasattr(lib, f"_ZGVdN4v_{f}") for f in _VECTOR_FUNCTIONS):  # glibc >= 2.35
            return False
        ll.load_library_permanently(path)
    except OSError:
        return False
    return True


#: whether the kernel's exp/log/log1p/expm1 use glibc's libmvec (see above)
VECTOR_MATH = _libmvec_available()


def _scalar_wrapper(module, name):
    """``double dse_<name>(double)``: lane 0 of libmvec's 4-wide function."""
    wrapper_name = f"dse_{name}"
    if wrapper_name in module.globals:
        return module.globals[wrapper_name]
    dbl = ir.DoubleType()
    vec = ir.VectorType(dbl, 4)
    vector_name = f"_ZGVdN4v_{name}"
    vector_fn = module.globals.get(vector_name)
    if vector_fn is None:
        vector_fn = ir.Function(module, ir.FunctionType(vec, [vec]), vector_name)
        vector_fn.attributes.add("nounwind")
        vector_fn.attributes.add("readnone")
    fn = ir.Function(module, ir.FunctionType(dbl, [dbl]), wrapper_name)
    fn.linkage = "linkonce_odr"
    fn.attributes.add("nounwind")
    fn.attributes.add("readnone")
    fn.attributes.add("noinline")
    # AttributeSet only admits names llvmlite knows; this one is a string attribute
    set.add(fn.attributes, f'"vector-function-abi-variant"="_ZGVdN4v_{wrapper_name}({vector_name})"')
    b = ir.IRBuilder(fn.append_basic_block())
    lanes = b.insert_element(ir.Constant(vec, None), fn.args[0], ir.Constant(ir.IntType(32), 0))
    lanes = b.shuffle_vector(lanes, ir.Constant(vec, None), ir.Constant(ir.VectorType(ir.IntType(32), 4), [0, 0, 0, 0]))
    b.ret(b.extract_element(b.call(vector_fn, [lanes]), ir.Constant(ir.IntType(32), 0)))
    return fn


def _libmvec_intrinsic(name):
    @intrinsic
    def call(typingctx, x):
        def codegen(context, builder, signature, args):
            return builder.call(_scalar_wrapper(builder.module, name), args)

        return types.float64(types.float64), codegen

    return call


@intrinsic
def _llvm_sqrt(typingctx, x):
    """``llvm.sqrt.f64``: correctly rounded, vectorizes, NaN below zero."""

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.sqrt", [ir.DoubleType()])
        return builder.call(fn, args)

    return types.float64(types.float64), codegen


if VECTOR_MATH:
    _exp, _log, _log1p, _expm1 = (_libmvec_intrinsic(f) for f in _VECTOR_FUNCTIONS)

    @numba.vectorize(["f8(f8)"], nopython=True, cache=True)
    def exp(x):  # pragma: no cover - compiled
        """``e**x`` (libmvec, element-wise)."""
        return _exp(x)

    @numba.vectorize(["f8(f8)"], nopython=True, cache=True)
    def log(x):  # pragma: no cover - compiled
        """Natural logarithm (libmvec, element-wise)."""
        return _log(x)

    @numba.vectorize(["f8(f8)"], nopython=True, cache=True)
    def log1p(x):  # pragma: no cover - compiled
        """``log(1 + x)``, accurate for small ``x`` (libmvec, element-wise)."""
        return _log1p(x)

    @numba.vectorize(["f8(f8)"], nopython=True, cache=True)
    def expm1(x):  # pragma: no cover - compiled
        """``exp(x) - 1``, accurate for small ``x`` (libmvec, element-wise)."""
        return _expm1(x)

else:

    @numba.vectorize(["f8(f8)"], nopython=True, cache=True)
    def exp(x):  # pragma: no cover - compiled
        """``e**x`` (C library, element-wise)."""
        return np.exp(x)

    @numba.vectorize(["f8(f8)"], nopython=True, cache=True)
    def log(x):  # pragma: no cover - compiled
        """Natural logarithm (C library, element-wise)."""
        return np.log(x)

    @numba.vectorize(["f8(f8)"], nopython=True, cache=True)
    def log1p(x):  # pragma: no cover - compiled
        """``log(1 + x)``, accurate for small ``x`` (C library, element-wise)."""
        return np.log1p(x)

    @numba.vectorize(["f8(f8)"], nopython=True, cache=True)
    def expm1(x):  # pragma: no cover - compiled
        """``exp(x) - 1``, accurate for small ``x`` (C library, element-wise)."""
        return np.expm1(x)


@numba.vectorize(["f8(f8)"], nopython=True, cache=True)
def sqrt(x):  # pragma: no cover - compiled
    """Square root, NaN below zero (element-wise; vectorizes in compiled loops)."""
    return _llvm_sqrt(x)
