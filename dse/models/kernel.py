"""The fused sweep kernel: the model chain compiled element by element.

:func:`evaluate_block` runs :func:`dse.models.chain.evaluate` inside one
numba loop over a block of designs, so no temporary arrays are made: inputs
are read from the block's coordinate vectors (grid sweeps) or sample columns
(sampled sweeps) and catalogue properties from small tables, and only the
requested outputs are written. The model source is the same one that runs on
arrays; ``tests/test_kernel.py`` checks that both give the same numbers.

Inputs of a block are described by three arrays: ``axis_of[j]`` is the block
axis that input ``j`` varies along (-1 for a fixed input), ``starts[j]`` the
offset of its values in the flat ``values`` vector. Inputs are ordered as
:data:`INPUT_ORDER`: the numeric design fields, then the categorical codes.
Designs are enumerated in C order of the block ``shape``.

Everything is compiled with ``error_model="numpy"``: a division by zero gives
inf or NaN (then masked by the feasibility rules) instead of a Python
exception check on every division, which is ~15 % of the kernel's time.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba
import numpy as np

from dse.models.chain import (
    _GROUP_TYPES,
    GROUPS,
    CeTerms,
    DesignInputs,
    Parameters,
    evaluate,
)

__all__ = ["INPUT_ORDER", "CATEGORICAL_ORDER", "evaluate_block"]

#: categorical inputs, in kernel order (one property table each)
CATEGORICAL_ORDER = tuple(cat for cat, _ in GROUPS.values())
INPUT_ORDER = tuple(DesignInputs._fields) + CATEGORICAL_ORDER

MetalProperties = _GROUP_TYPES["metal"]
CathodeProperties = _GROUP_TYPES["cathode"]
CollectorProperties = _GROUP_TYPES["collector"]
CoatingProperties = _GROUP_TYPES["coating"]
ElectrolyteProperties = _GROUP_TYPES["electrolyte"]
SeparatorProperties = _GROUP_TYPES["separator"]
PackagingProperties = _GROUP_TYPES["packaging"]
AnodeProperties = _GROUP_TYPES["anode"]


def _cache_dir() -> str:
    """Numba cache directory keyed by the source of every model module.

    Numba's on-disk cache only watches the file that defines the kernel; the
    key makes an edit to any model function start a fresh cache.
    """
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for f in sorted(here.glob("*.py")):
        digest.update(f.read_bytes())
    digest.update(numba.__version__.encode())
    base = os.environ.get("DSE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "dse")
    return os.path.join(base, f"numba-{digest.hexdigest()[:16]}")


_previous_cache_dir = numba.config.CACHE_DIR
numba.config.CACHE_DIR = _cache_dir()


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _kernel(shape, axis_of, starts, values, tm, tc, tcc, tco, te, ts, tp, ta, tce, n_coating, k, chosen, out):  # pragma: no cover
    ndim = shape.size
    n = 1
    for a in range(ndim):
        n *= shape[a]
    idx = np.zeros(max(ndim, 1), np.int64)
    n_in = axis_of.size
    v = np.empty(n_in, np.float64)
    n_out = chosen.size
    for i in range(n):
        for j in range(n_in):
            ax = axis_of[j]
            v[j] = values[starts[j] + (idx[ax] if ax >= 0 else 0)]
        d = DesignInputs(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14])
        m = int(v[15])
        metal = MetalProperties(tm[m, 0], tm[m, 1], tm[m, 2], tm[m, 3], tm[m, 4], tm[m, 5], tm[m, 6])
        c = int(v[16])
        cathode = CathodeProperties(tc[c, 0], tc[c, 1], tc[c, 2], tc[c, 3], tc[c, 4], tc[c, 5], tc[c, 6], tc[c, 7],
                                    tc[c, 8])
        cc = int(v[17])
        collector = CollectorProperties(tcc[cc, 0], tcc[cc, 1], tcc[cc, 2], tcc[cc, 3], tcc[cc, 4], tcc[cc, 5])
        co = int(v[18])
        coating = CoatingProperties(tco[co, 0], tco[co, 1], tco[co, 2], tco[co, 3], tco[co, 4], tco[co, 5], tco[co, 6],
                                    tco[co, 7])
        e = int(v[19])
        electrolyte = ElectrolyteProperties(
            te[e, 0], te[e, 1], te[e, 2], te[e, 3], te[e, 4], te[e, 5], te[e, 6], te[e, 7], te[e, 8],
            te[e, 9], te[e, 10], te[e, 11], te[e, 12],
        )
        sp = int(v[20])
        separator = SeparatorProperties(ts[sp, 0], ts[sp, 1], ts[sp, 2])
        pk = int(v[21])
        packaging = PackagingProperties(
            tp[pk, 0], tp[pk, 1], tp[pk, 2], tp[pk, 3], tp[pk, 4], tp[pk, 5], tp[pk, 6], tp[pk, 7], tp[pk, 8],
            tp[pk, 9], tp[pk, 10], tp[pk, 11], tp[pk, 12],
        )
        an = int(v[22])
        anode = AnodeProperties(ta[an, 0], ta[an, 1], ta[an, 2], ta[an, 3], ta[an, 4], ta[an, 5], ta[an, 6])
        pair = e * n_coating + co
        ce = CeTerms(tce[pair, 0], tce[pair, 1], (tce[pair, 2], tce[pair, 3], tce[pair, 4], tce[pair, 5],
                                                   tce[pair, 6], tce[pair, 7], tce[pair, 8]))
        p = Parameters(d, metal, cathode, collector, coating, electrolyte, separator, packaging, anode, ce)
        result = evaluate(p, k)
        for j in range(n_out):
            out[j, i] = result[chosen[j]]
        a = ndim - 1
        while a >= 0:
            idx[a] += 1
            if idx[a] < shape[a]:
                break
            idx[a] = 0
            a -= 1


numba.config.CACHE_DIR = _previous_cache_dir


def evaluate_block(shape, axis_of, starts, values, tables, ce_table, constants, select, dtype=np.float32):
    """Evaluate a block of designs with the fused kernel.

    Parameters
    ----------
    shape : sequence of int
        Block shape; designs are enumerated in C order.
    axis_of, starts : sequence of int
        Per input of :data:`INPUT_ORDER`: block axis (-1 if fixed) and offset
        into ``values``.
    values : ndarray of float64
        Concatenated input values (categorical inputs as integer codes).
    tables : sequence of ndarray
        Property tables in :data:`CATEGORICAL_ORDER`, rows by code, columns as
        in :data:`dse.models.chain.GROUPS`.
    ce_table : ndarray
        CE terms per (electrolyte, coating) pair, row ``e * n_coating + c``.
    constants : Constants
    select : sequence of int
        Indices of :data:`dse.models.chain.OUTPUT_FIELDS` to return.
    dtype : numpy dtype, default float32

    Returns
    -------
    ndarray
        ``(len(select), prod(shape))``.
    """
    shape = np.asarray(shape, dtype=np.int64)
    n = int(np.prod(shape)) if shape.size else 1
    out = np.empty((len(select), n), dtype=dtype)
    n_coating = tables[CATEGORICAL_ORDER.index("coating")].shape[0]
    _kernel(
        shape, np.asarray(axis_of, np.int64), np.asarray(starts, np.int64), np.ascontiguousarray(values, np.float64),
        *[np.ascontiguousarray(t, np.float64) for t in tables], np.ascontiguousarray(ce_table, np.float64),
        n_coating, constants, np.asarray(select, np.int64), out,
    )
    return out
