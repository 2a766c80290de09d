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

The logarithms and exponentials of single inputs that the chain needs
(:data:`dse.models.chain.DERIVED`) are computed here once per input value and
handed to the kernel as further inputs along the same axes: a grid over 2000
loadings takes 2000 logarithms, not one per design.

Everything is compiled with ``error_model="numpy"``: a division by zero gives
inf or NaN (then masked by the feasibility rules) instead of a Python
exception check on every division, which is ~15 % of the kernel's time.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import llvmlite.binding as ll
import numba
import numpy as np
from numba import typeof
from numba.core.compiler_lock import global_compiler_lock
from numba.extending import register_jitable

from dse.models.chain import (
    _GROUP_TYPES,
    DERIVED,
    GROUPS,
    CeTerms,
    DerivedInputs,
    DesignInputs,
    Outputs,
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


#: designs per tile: the compute loop runs over exactly this many (a multiple of
#: the vector width, so no design is ever evaluated by a scalar remainder loop)
TILE = 64
#: distance between rows of the tile buffer, in doubles: a little more than
#: TILE so that rows do not start at the same offset modulo 4 KiB (a store to
#: one row and a load from another at that distance make the CPU wait on a
#: false dependency)
STRIDE = TILE + 4
#: numeric inputs of the kernel: the design fields, then the derived inputs
N_DESIGN = len(DesignInputs._fields)
N_NUMERIC = N_DESIGN + len(DerivedInputs._fields)
#: rows of the tile buffer: numeric inputs, looked-up properties, CE terms, outputs
_ROW = {}
_row = N_NUMERIC
for _name in GROUPS:
    _ROW[_name] = _row
    _row += len(GROUPS[_name][1])
_ROW["ce"] = _row
_row += 9
_ROW["outputs"] = _row
N_ROWS = _row + len(Outputs._fields)

_METAL = _ROW['metal']
_CATHODE = _ROW['cathode']
_COLLECTOR = _ROW['collector']
_COATING = _ROW['coating']
_ELECTROLYTE = _ROW['electrolyte']
_SEPARATOR = _ROW['separator']
_PACKAGING = _ROW['packaging']
_ANODE = _ROW['anode']
_CE = _ROW["ce"]
#: first buffer row of each property group, in CATEGORICAL_ORDER
_GROUP_ROW = tuple(_ROW[name] for name in GROUPS)
_G_COATING = tuple(GROUPS).index("coating")
_G_ELECTROLYTE = tuple(GROUPS).index("electrolyte")
_OUT = _ROW["outputs"]
# _compute_tile reads the numeric inputs row by row, written out
assert (N_DESIGN, N_NUMERIC) == (15, 19), "update _compute_tile's reads of the design and derived rows"


@register_jitable
def _at(buf, row, i):  # pragma: no cover - compiled
    return buf[row * STRIDE + i]


@register_jitable(error_model="numpy")
def _compute_tile(buf, k, uncertain, energy_only):  # pragma: no cover - compiled
    """Evaluate every design of the tile; all reads and writes are ``buf[row * STRIDE + i]``.

    ``uncertain`` and ``energy_only`` are constants at each call site, so each
    copy of the loop is compiled without the branches on them.
    """
    for i in range(TILE):
        d = DesignInputs(_at(buf, 0, i), _at(buf, 1, i), _at(buf, 2, i), _at(buf, 3, i), _at(buf, 4, i), _at(buf, 5, i),
            _at(buf, 6, i), _at(buf, 7, i), _at(buf, 8, i), _at(buf, 9, i), _at(buf, 10, i), _at(buf, 11, i),
            _at(buf, 12, i), _at(buf, 13, i), _at(buf, 14, i))
        derived = DerivedInputs(_at(buf, N_DESIGN, i), _at(buf, N_DESIGN + 1, i), _at(buf, N_DESIGN + 2, i),
                                _at(buf, N_DESIGN + 3, i))
        metal = MetalProperties(_at(buf, _METAL + 0, i), _at(buf, _METAL + 1, i), _at(buf, _METAL + 2, i),
            _at(buf, _METAL + 3, i), _at(buf, _METAL + 4, i), _at(buf, _METAL + 5, i), _at(buf, _METAL + 6, i))
        cathode = CathodeProperties(_at(buf, _CATHODE + 0, i), _at(buf, _CATHODE + 1, i), _at(buf, _CATHODE + 2, i),
            _at(buf, _CATHODE + 3, i), _at(buf, _CATHODE + 4, i), _at(buf, _CATHODE + 5, i), _at(buf, _CATHODE + 6, i),
            _at(buf, _CATHODE + 7, i), _at(buf, _CATHODE + 8, i))
        collector = CollectorProperties(_at(buf, _COLLECTOR + 0, i), _at(buf, _COLLECTOR + 1, i),
            _at(buf, _COLLECTOR + 2, i), _at(buf, _COLLECTOR + 3, i), _at(buf, _COLLECTOR + 4, i),
            _at(buf, _COLLECTOR + 5, i))
        coating = CoatingProperties(_at(buf, _COATING + 0, i), _at(buf, _COATING + 1, i), _at(buf, _COATING + 2, i),
            _at(buf, _COATING + 3, i), _at(buf, _COATING + 4, i), _at(buf, _COATING + 5, i), _at(buf, _COATING + 6, i),
            _at(buf, _COATING + 7, i))
        electrolyte = ElectrolyteProperties(_at(buf, _ELECTROLYTE + 0, i), _at(buf, _ELECTROLYTE + 1, i),
            _at(buf, _ELECTROLYTE + 2, i), _at(buf, _ELECTROLYTE + 3, i), _at(buf, _ELECTROLYTE + 4, i),
            _at(buf, _ELECTROLYTE + 5, i), _at(buf, _ELECTROLYTE + 6, i), _at(buf, _ELECTROLYTE + 7, i),
            _at(buf, _ELECTROLYTE + 8, i), _at(buf, _ELECTROLYTE + 9, i), _at(buf, _ELECTROLYTE + 10, i),
            _at(buf, _ELECTROLYTE + 11, i), _at(buf, _ELECTROLYTE + 12, i))
        separator = SeparatorProperties(_at(buf, _SEPARATOR + 0, i), _at(buf, _SEPARATOR + 1, i),
            _at(buf, _SEPARATOR + 2, i))
        packaging = PackagingProperties(_at(buf, _PACKAGING + 0, i), _at(buf, _PACKAGING + 1, i),
            _at(buf, _PACKAGING + 2, i), _at(buf, _PACKAGING + 3, i), _at(buf, _PACKAGING + 4, i),
            _at(buf, _PACKAGING + 5, i), _at(buf, _PACKAGING + 6, i), _at(buf, _PACKAGING + 7, i),
            _at(buf, _PACKAGING + 8, i), _at(buf, _PACKAGING + 9, i), _at(buf, _PACKAGING + 10, i),
            _at(buf, _PACKAGING + 11, i), _at(buf, _PACKAGING + 12, i))
        anode = AnodeProperties(_at(buf, _ANODE + 0, i), _at(buf, _ANODE + 1, i), _at(buf, _ANODE + 2, i),
            _at(buf, _ANODE + 3, i), _at(buf, _ANODE + 4, i), _at(buf, _ANODE + 5, i), _at(buf, _ANODE + 6, i))
        ce = CeTerms(_at(buf, _CE, i), _at(buf, _CE + 1, i), (_at(buf, _CE + 2, i), _at(buf, _CE + 3, i),
            _at(buf, _CE + 4, i), _at(buf, _CE + 5, i), _at(buf, _CE + 6, i), _at(buf, _CE + 7, i), _at(buf, _CE + 8, i)))
        r = evaluate(Parameters(d, derived, metal, cathode, collector, coating, electrolyte, separator, packaging, anode, ce), k,
                     uncertain, energy_only)
        buf[(_OUT + 0) * STRIDE + i] = r.specific_energy
        buf[(_OUT + 1) * STRIDE + i] = r.energy_density
        buf[(_OUT + 2) * STRIDE + i] = r.specific_energy_stack
        buf[(_OUT + 3) * STRIDE + i] = r.energy_density_stack
        buf[(_OUT + 4) * STRIDE + i] = r.capacity
        buf[(_OUT + 5) * STRIDE + i] = r.average_voltage
        buf[(_OUT + 6) * STRIDE + i] = r.coulombic_efficiency
        buf[(_OUT + 7) * STRIDE + i] = r.cycle_life
        buf[(_OUT + 8) * STRIDE + i] = r.cycle_life_p10
        buf[(_OUT + 9) * STRIDE + i] = r.cycle_life_p90
        buf[(_OUT + 10) * STRIDE + i] = r.knee_cycles
        buf[(_OUT + 11) * STRIDE + i] = r.inventory
        buf[(_OUT + 12) * STRIDE + i] = r.lifetime_energy
        buf[(_OUT + 13) * STRIDE + i] = r.cost
        buf[(_OUT + 14) * STRIDE + i] = r.cost_per_cycle
        buf[(_OUT + 15) * STRIDE + i] = r.swelling
        buf[(_OUT + 16) * STRIDE + i] = r.plated_thickness
        buf[(_OUT + 17) * STRIDE + i] = r.current_density
        buf[(_OUT + 18) * STRIDE + i] = r.infeasible_reason
        buf[(_OUT + 19) * STRIDE + i] = r.mass_positive_collector
        buf[(_OUT + 20) * STRIDE + i] = r.mass_cathode
        buf[(_OUT + 21) * STRIDE + i] = r.mass_separator
        buf[(_OUT + 22) * STRIDE + i] = r.mass_electrolyte
        buf[(_OUT + 23) * STRIDE + i] = r.mass_anode
        buf[(_OUT + 24) * STRIDE + i] = r.mass_metal
        buf[(_OUT + 25) * STRIDE + i] = r.mass_coating
        buf[(_OUT + 26) * STRIDE + i] = r.mass_negative_collector
        buf[(_OUT + 27) * STRIDE + i] = r.thickness_positive_collector
        buf[(_OUT + 28) * STRIDE + i] = r.thickness_cathode
        buf[(_OUT + 29) * STRIDE + i] = r.thickness_separator
        buf[(_OUT + 30) * STRIDE + i] = r.thickness_electrolyte
        buf[(_OUT + 31) * STRIDE + i] = r.thickness_anode
        buf[(_OUT + 32) * STRIDE + i] = r.thickness_metal
        buf[(_OUT + 33) * STRIDE + i] = r.thickness_coating
        buf[(_OUT + 34) * STRIDE + i] = r.thickness_negative_collector
        buf[(_OUT + 35) * STRIDE + i] = r.unit_mass
        buf[(_OUT + 36) * STRIDE + i] = r.unit_thickness
        buf[(_OUT + 37) * STRIDE + i] = r.unit_energy
        buf[(_OUT + 38) * STRIDE + i] = r.cell_energy
        buf[(_OUT + 39) * STRIDE + i] = r.cell_mass
        buf[(_OUT + 40) * STRIDE + i] = r.cell_volume
        buf[(_OUT + 41) * STRIDE + i] = r.formation_loss
        buf[(_OUT + 42) * STRIDE + i] = r.coating_loss
        buf[(_OUT + 43) * STRIDE + i] = r.cycled_capacity


@register_jitable(error_model="numpy")
def _fill_input(buf, codes, pos, j, axis, start, values):  # pragma: no cover - compiled
    """Row ``j`` of the tile: input ``j`` of each design (categorical ones as codes)."""
    for i in range(TILE):
        x = values[start + (pos[axis * STRIDE + i] if axis >= 0 else 0)]
        if j < N_NUMERIC:
            buf[j * STRIDE + i] = x
        else:
            codes[(j - N_NUMERIC) * STRIDE + i] = int(x)


@register_jitable(error_model="numpy")
def _fill_properties(buf, row, table, codes, g):  # pragma: no cover - compiled
    """Rows ``row...`` of the tile: the property table looked up by group ``g``'s codes."""
    for c in range(table.shape[1]):
        for i in range(TILE):
            buf[(row + c) * STRIDE + i] = table[codes[g * STRIDE + i], c]


@register_jitable(error_model="numpy")
def _fill_ce(buf, tce, codes, n_coating):  # pragma: no cover - compiled
    """CE rows of the tile, looked up by the (electrolyte, coating) pair."""
    for c in range(tce.shape[1]):
        for i in range(TILE):
            pair = codes[_G_ELECTROLYTE * STRIDE + i] * n_coating + codes[_G_COATING * STRIDE + i]
            buf[(_CE + c) * STRIDE + i] = tce[pair, c]


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _kernel(shape, axis_of, starts, values, tables, tce, n_coating, k, energy_only, chosen, out):  # pragma: no cover
    ndim = shape.size
    n = 1
    for a in range(ndim):
        n *= shape[a]
    idx = np.zeros(max(ndim, 1), np.int64)
    pos = np.zeros(max(ndim, 1) * STRIDE, np.int64)
    n_in = axis_of.size
    buf = np.zeros(N_ROWS * STRIDE, np.float64)
    codes = np.zeros(len(tables) * STRIDE, np.int64)
    n_out = chosen.size
    uncertain = k.uncertainty > 0.5
    for t0 in range(0, n, TILE):
        nt = min(n - t0, TILE)
        # positions along each block axis of the tile's designs; a short last
        # tile repeats its last design so the compute loop always runs full
        for i in range(TILE):
            if i < nt:
                for a in range(ndim):
                    pos[a * STRIDE + i] = idx[a]
                a = ndim - 1
                while a >= 0:
                    idx[a] += 1
                    if idx[a] < shape[a]:
                        break
                    idx[a] = 0
                    a -= 1
            else:
                for a in range(ndim):
                    pos[a * STRIDE + i] = pos[a * STRIDE + nt - 1]
        # gather, one row at a time: rows of inputs fixed over the block (and
        # the properties they select) are the same in every tile, so they are
        # written only for the first
        for j in range(n_in):
            if t0 == 0 or axis_of[j] >= 0:
                _fill_input(buf, codes, pos, j, axis_of[j], starts[j], values)
        for g in range(len(tables)):
            if t0 == 0 or axis_of[N_NUMERIC + g] >= 0:
                _fill_properties(buf, _GROUP_ROW[g], tables[g], codes, g)
        if t0 == 0 or axis_of[N_NUMERIC + _G_ELECTROLYTE] >= 0 or axis_of[N_NUMERIC + _G_COATING] >= 0:
            _fill_ce(buf, tce, codes, n_coating)
        # compute: one straight loop over the tile that LLVM vectorizes
        if energy_only:
            _compute_tile(buf, k, False, True)
        elif uncertain:
            _compute_tile(buf, k, True, False)
        else:
            _compute_tile(buf, k, False, False)
        # scatter the requested outputs
        for j in range(n_out):
            src = buf[(_OUT + chosen[j]) * STRIDE:]
            dst = out[j, t0:]
            for i in range(nt):
                dst[i] = src[i]


numba.config.CACHE_DIR = _previous_cache_dir


#: LLVM's inlining threshold while the kernel compiles. Every model function must
#: be inlined into the compute loop for it to vectorize (a call that stays a call
#: returns a status code the loop must branch on); LLVM's default at -O3 is 250.
_KERNEL_INLINE_THRESHOLD = 1000000
_DEFAULT_INLINE_THRESHOLD = 250
#: argument types the kernel has been compiled (or loaded from the cache) for
_compiled: set = set()


def _run_kernel(*args):
    """Call :func:`_kernel`, compiling it (or loading it from the cache) on first use of each argument types.

    The inlining threshold is an LLVM process-wide option, so it is raised only
    while this one function compiles, under numba's compiler lock.
    """
    signature = tuple(typeof(a) for a in args)
    if signature not in _compiled:
        with global_compiler_lock:
            ll.set_option("", f"-inline-threshold={_KERNEL_INLINE_THRESHOLD}")
            try:
                _kernel.compile(signature)
            finally:
                ll.set_option("", f"-inline-threshold={_DEFAULT_INLINE_THRESHOLD}")
            _compiled.add(signature)
    return _kernel(*args)


_SOURCE = tuple(INPUT_ORDER.index(source) for source, _ in DERIVED.values())
_FUNCTION = tuple(f for _, f in DERIVED.values())


def _with_derived(shape, axis_of, starts, values):
    """Block description with the derived inputs inserted after the numeric design inputs.

    Each derived input lies along the axis of its source input and is
    computed from that input's values alone: once per value, not per design.
    """
    axis_of = [int(a) for a in axis_of]
    starts = [int(s) for s in starts]
    parts, extra_axes, extra_starts, offset = [values], [], [], values.size
    for j, f in zip(_SOURCE, _FUNCTION, strict=True):
        count = int(shape[axis_of[j]]) if axis_of[j] >= 0 else 1
        with np.errstate(all="ignore"):
            derived = np.asarray(f(values[starts[j]:starts[j] + count]), np.float64)
        parts.append(derived)
        extra_axes.append(axis_of[j])
        extra_starts.append(offset)
        offset += count
    axis_of = axis_of[:N_DESIGN] + extra_axes + axis_of[N_DESIGN:]
    starts = starts[:N_DESIGN] + extra_starts + starts[N_DESIGN:]
    return np.asarray(axis_of, np.int64), np.asarray(starts, np.int64), np.concatenate(parts)


def evaluate_block(shape, axis_of, starts, values, tables, ce_table, constants, select, dtype=np.float32,
                   energy_only=False, out=None):
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
    energy_only : bool, default False
        Run the energy model alone (see :func:`dse.models.chain.evaluate`).
    out : ndarray, optional
        C-contiguous ``(len(select), prod(shape))`` array of ``dtype`` to
        write into. A caller that evaluates block after block can pass the
        same one each time: fresh memory from the operating system is zeroed
        page by page on first touch, which a profile put at up to a quarter
        of the time of a call (``benchmarks/model_chain.py`` prints both).

    Returns
    -------
    ndarray
        ``(len(select), prod(shape))``; ``out`` if given.
    """
    shape = np.asarray(shape, dtype=np.int64)
    n = int(np.prod(shape)) if shape.size else 1
    axis_of, starts, values = _with_derived(shape, axis_of, starts, np.ascontiguousarray(values, np.float64))
    if out is None:
        out = np.empty((len(select), n), dtype=dtype)
    elif out.shape != (len(select), n) or out.dtype != np.dtype(dtype) or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {np.dtype(dtype)} array of shape {(len(select), n)}, "
                         f"not {out.dtype} {out.shape}")
    n_coating = tables[CATEGORICAL_ORDER.index("coating")].shape[0]
    _run_kernel(
        shape, axis_of, starts, values,
        tuple(np.ascontiguousarray(t, np.float64) for t in tables), np.ascontiguousarray(ce_table, np.float64),
        n_coating, constants, bool(energy_only), np.asarray(select, np.int64), out,
    )
    return out
