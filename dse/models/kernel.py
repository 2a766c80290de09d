"""The fused sweep kernel: the model chain compiled element by element.

:func:`run_kernel_block` runs :func:`dse.models.chain.chain_outputs` inside one
numba loop over a block of designs, so no temporary arrays are made: inputs
are read from the block's coordinate vectors (grid sweeps) or sample columns
(sampled sweeps) and catalogue properties from small tables, and only the
requested outputs are written. The model source is the same one that runs on
arrays; ``tests/models/test_kernel.py`` checks that both give the same numbers.

Inputs of a block are described by three arrays: ``axis_of[j]`` is the block
axis that input ``j`` varies along (-1 for a fixed input), ``starts[j]`` the
offset of its values in the flat ``values`` vector. Inputs are ordered as
:data:`INPUT_ORDER`: the numeric design fields, then the categorical codes.
Designs are enumerated in C order of the block ``shape``.

The logarithms and exponentials of single inputs that the chain needs
(:data:`dse.models.chain.DERIVED`) are computed here once per input value and
handed to the kernel as further inputs along the same axes: a grid over 2000
loadings takes 2000 logarithms, not one per design.

The chain runs in two halves (:func:`dse.models.chain.cycling`, then
:func:`dse.models.chain.outputs_from_cycling`), each a loop of its own over a tile.
The lifetime half (CE surrogate, inventory, cycle life, critical current:
about half the time of the whole chain) depends only on
:data:`dse.models.chain.CYCLING_INPUTS`. When a block has axes along which
none of those varies (collector or separator thickness, porosity, cell
format, ...), it is evaluated once per point of the block's *lifetime
sub-grid* (those axes collapsed) and looked up by every design; a grid of
2000 loadings × 2000 collector thicknesses takes 2000 lifetime evaluations,
not 4 million. Sampled blocks, where every input varies with the design,
run both halves per design.

Everything is compiled with ``error_model="numpy"``: a division by zero gives
inf or NaN (then masked by the feasibility rules) instead of a Python
exception check on every division, which is ~15 % of the kernel's time.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from pathlib import Path

import llvmlite.binding as ll
import numba
import numpy as np
from numba import typeof
from numba.core.compiler_lock import global_compiler_lock
from numba.extending import register_jitable

from dse.models._kernel_io import N_CYCLING, N_DESIGN, N_NUMERIC, N_ROWS, STRIDE, TILE
from dse.models._kernel_io import ROW as _ROW
from dse.models._kernel_io import parameters as _parameters
from dse.models._kernel_io import read_cycling as _read_cycling
from dse.models._kernel_io import store_cycling as _store_cycling
from dse.models._kernel_io import store_outputs as _store_outputs
from dse.models.chain import (
    CYCLING_INPUTS,
    DERIVED,
    GROUPS,
    DesignInputs,
    _cycling,
    chain_outputs,
    outputs_from_cycling,
)

__all__ = ["INPUT_ORDER", "CATEGORICAL_ORDER", "run_kernel_block"]

#: categorical inputs, in kernel order (one property table each)
CATEGORICAL_ORDER = tuple(cat for cat, _ in GROUPS.values())
INPUT_ORDER = tuple(DesignInputs._fields) + CATEGORICAL_ORDER


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
    digest.update(b"plain-math" if os.environ.get("DSE_PLAIN_MATH", "").strip() not in ("", "0") else b"vmath")
    base = os.environ.get("DSE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "dse")
    return os.path.join(base, f"numba-{digest.hexdigest()[:16]}")


_previous_cache_dir = numba.config.CACHE_DIR
numba.config.CACHE_DIR = _cache_dir()


#: designs per tile (TILE: the compute loop runs over exactly this many, a multiple
#: of the vector width, so no design is ever evaluated by a scalar remainder loop),
#: the distance between rows of the tile buffer in doubles (STRIDE: a little more
#: than TILE so that rows do not start at the same offset modulo 4 KiB, where a
#: store to one row and a load from another make the CPU wait on a false
#: dependency), and the buffer's row layout: all from the generated row I/O
#: (tools/build_kernel_io.py)
#: what a call of the kernel computes: the whole chain; only the lifetime half
#: (:func:`~dse.models.chain.cycling`, into ``cyc``); the rest, with the lifetime
#: half read from ``cyc``
_ALL, _LIFETIME, _REST = 0, 1, 2
_CE = _ROW["ce"]
_CY = _ROW["cycling"]
_SERIES = _ROW["series"]
_OUT = _ROW["outputs"]
#: first buffer row of each property group, in CATEGORICAL_ORDER
_GROUP_ROW = tuple(_ROW[name] for name in GROUPS)
_G_COATING = tuple(GROUPS).index("coating")
_G_ELECTROLYTE = tuple(GROUPS).index("electrolyte")


@register_jitable(error_model="numpy")
def _energy_tile(buf, k):  # pragma: no cover - compiled
    """The energy model alone (``chain_outputs(..., energy_only=True)``) for every design of the tile."""
    for i in range(TILE):
        _store_outputs(buf, i, chain_outputs(_parameters(buf, i), k, False, True))


@register_jitable(error_model="numpy")
def _cycling_tile(buf, k, uncertain):  # pragma: no cover - compiled
    """The lifetime half of the chain (:func:`~dse.models.chain.cycling`) into the tile's ``cycling`` rows.

    A loop of its own, so that a block can run it over only the distinct
    combinations of the inputs it depends on (:func:`run_kernel_block`).

    It first takes the cycle life by short series alone (``series_only``),
    which is right wherever CE >= 0.75, and evaluates the tile again with
    the general functions only if some design's CE (or p10/p90 CE) is lower.
    Each design gets the same bits either way.
    """
    _cycling_loop(buf, k, uncertain, True)
    general = False
    for i in range(TILE):
        general |= buf[_SERIES * STRIDE + i] < 0.5
    if general:
        _cycling_loop(buf, k, uncertain, False)


@register_jitable(error_model="numpy")
def _cycling_loop(buf, k, uncertain, series_only):  # pragma: no cover - compiled
    """:func:`~dse.models.chain.cycling` for every design of the tile.

    A function of its own so that ``cycling`` is inlined once per function:
    numba's inliner loses track of the variables of its branches when it
    inlines it twice into one.
    """
    for i in range(TILE):
        cy = _cycling(_parameters(buf, i), k, uncertain, False, series_only)
        _store_cycling(buf, i, cy)
        buf[_SERIES * STRIDE + i] = cy.series


@register_jitable(inline="always", error_model="numpy")
def _rest_tile(buf, k, uncertain):  # pragma: no cover - compiled
    """The rest of the chain (:func:`~dse.models.chain.outputs_from_cycling`) from the ``cycling`` rows.

    Inlined by numba into the kernel. A function LLVM links in arrives
    already compiled to machine code, with its IR changed by that: this loop
    then came with a loop counter in an overflow check, which the vectorizer
    refuses (``tests/models/test_kernel.py::test_compute_loops_vectorize``).
    """
    for i in range(TILE):
        cy = _read_cycling(buf, i)
        _store_outputs(buf, i, outputs_from_cycling(_parameters(buf, i), k, cy, False, uncertain))


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


@register_jitable(error_model="numpy")
def _walk(shape, n_tables):  # pragma: no cover - compiled
    """Designs in a block, and the state of a walk over it tile by tile.

    Returns the block index, tile positions and axis flags of
    :func:`_next_tile`, the tile buffer and the categorical codes.
    """
    ndim = shape.size
    n = 1
    for a in range(ndim):
        n *= shape[a]
    m = max(ndim, 1)
    return (
        n,
        np.zeros(m, np.int64),
        np.zeros(m * STRIDE, np.int64),
        np.zeros(m, np.bool_),
        np.zeros(m, np.bool_),
        np.zeros(m, np.bool_),
        np.zeros(N_ROWS * STRIDE, np.float64),
        np.zeros(n_tables * STRIDE, np.int64),
    )


@register_jitable(error_model="numpy")
def _next_tile(shape, idx, pos, moved, varied, carried, t0, n):  # pragma: no cover - compiled
    """Positions along each block axis of the designs of the tile starting at ``t0``; returns its size.

    ``moved[a]`` is set where some design of the tile has another position
    along axis ``a`` than the design in its place in the previous tile: where
    the position changes within this tile or the previous one (``varied``), or
    from one to the other (``carried``). Positions change only where the
    index is stepped, so this costs a flag per step, not a comparison per
    design. A short last tile repeats its last design so the compute loops
    always run full.
    """
    ndim = shape.size
    nt = min(n - t0, TILE)
    for a in range(ndim):
        moved[a] = carried[a] or varied[a]
        carried[a] = False
        varied[a] = False
    for i in range(TILE):
        if i < nt:
            for a in range(ndim):
                pos[a * STRIDE + i] = idx[a]
            a = ndim - 1
            while a >= 0:
                if i < nt - 1:
                    varied[a] = True
                    moved[a] = True
                else:
                    carried[a] = True
                idx[a] += 1
                if idx[a] < shape[a]:
                    break
                idx[a] = 0
                a -= 1
        else:
            for a in range(ndim):
                pos[a * STRIDE + i] = pos[a * STRIDE + nt - 1]
    return nt


@register_jitable(error_model="numpy")
def _moved(moved, axis):  # pragma: no cover - compiled
    """Whether an input along ``axis`` (-1: fixed) needs its row rewritten for this tile."""
    return axis >= 0 and moved[axis]


@register_jitable(error_model="numpy")
def _gather(buf, codes, pos, moved, t0, axis_of, starts, values, tables, tce, n_coating):  # pragma: no cover
    """Inputs, properties and CE terms of the tile, one row at a time.

    A row is written for the first tile, and after that only where the
    designs' positions along its input's axis changed: rows of inputs fixed
    over the block are written once, and rows of slow axes (often the
    categorical ones, with a dozen property rows each) once per change.
    """
    for j in range(axis_of.size):
        if t0 == 0 or _moved(moved, axis_of[j]):
            _fill_input(buf, codes, pos, j, axis_of[j], starts[j], values)
    for g in range(len(tables)):
        if t0 == 0 or _moved(moved, axis_of[N_NUMERIC + g]):
            _fill_properties(buf, _GROUP_ROW[g], tables[g], codes, g)
    if t0 == 0 or _moved(moved, axis_of[N_NUMERIC + _G_ELECTROLYTE]) or _moved(moved, axis_of[N_NUMERIC + _G_COATING]):
        _fill_ce(buf, tce, codes, n_coating)


@register_jitable(error_model="numpy")
def _scatter(buf, row, chosen, out, t0, nt):  # pragma: no cover - compiled
    """Rows ``row + chosen[j]`` of the tile to ``out[j, t0:t0 + nt]``."""
    for j in range(chosen.size):
        src = buf[(row + chosen[j]) * STRIDE :]
        dst = out[j, t0:]
        for i in range(nt):
            dst[i] = src[i]


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _kernel(
    shape, axis_of, starts, values, tables, tce, n_coating, k, stage, cyc, sub_stride, chosen, out
):  # pragma: no cover
    """The chain over a block, tile by tile; ``stage`` says which part (``_ALL``, ``_LIFETIME``, ``_REST``)."""
    n, idx, pos, moved, varied, carried, buf, codes = _walk(shape, len(tables))
    ndim = shape.size
    sub = np.zeros(TILE, np.int64)
    uncertain = k.uncertainty > 0.5
    for t0 in range(0, n, TILE):
        nt = _next_tile(shape, idx, pos, moved, varied, carried, t0, n)
        _gather(buf, codes, pos, moved, t0, axis_of, starts, values, tables, tce, n_coating)
        # compute: straight loops over the tile that LLVM vectorizes
        if stage == _REST:
            # the lifetime half of each design was evaluated beforehand on the block's
            # lifetime sub-grid, where its index is its positions along the block axes
            # times sub_stride; rows are kept unless a lifetime axis moved (as in a grid
            # whose fastest axes are not lifetime inputs)
            changed = t0 == 0
            for a in range(ndim):
                changed |= sub_stride[a] != 0 and moved[a]
            if changed:
                for i in range(TILE):
                    sub[i] = 0
                for a in range(ndim):
                    if sub_stride[a] != 0:
                        for i in range(TILE):
                            sub[i] += pos[a * STRIDE + i] * sub_stride[a]
                for i in range(TILE):
                    point = cyc[sub[i]]
                    for c in range(N_CYCLING):
                        buf[(_CY + c) * STRIDE + i] = point[c]
        elif uncertain:
            _cycling_tile(buf, k, True)
        else:
            _cycling_tile(buf, k, False)
        if stage == _LIFETIME:
            for i in range(nt):
                point = cyc[t0 + i]
                for c in range(N_CYCLING):
                    point[c] = buf[(_CY + c) * STRIDE + i]
        else:
            if uncertain:  # a constant for each copy of the loop: no p10/p90 dry-out lives without it
                _rest_tile(buf, k, True)
            else:
                _rest_tile(buf, k, False)
            _scatter(buf, _OUT, chosen, out, t0, nt)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _energy_kernel(shape, axis_of, starts, values, tables, tce, n_coating, k, chosen, out):  # pragma: no cover
    """The energy model alone over a block (the baseline of ``benchmarks/lifetime_overhead.py``).

    A kernel of its own so that sweeps never compile it.
    """
    n, idx, pos, moved, varied, carried, buf, codes = _walk(shape, len(tables))
    for t0 in range(0, n, TILE):
        nt = _next_tile(shape, idx, pos, moved, varied, carried, t0, n)
        _gather(buf, codes, pos, moved, t0, axis_of, starts, values, tables, tce, n_coating)
        _energy_tile(buf, k)
        _scatter(buf, _OUT, chosen, out, t0, nt)


numba.config.CACHE_DIR = _previous_cache_dir


#: LLVM's inlining threshold while the kernel compiles. Every model function must
#: be inlined into the compute loop for it to vectorize (a call that stays a call
#: returns a status code the loop must branch on); LLVM's default at -O3 is 250.
_KERNEL_INLINE_THRESHOLD = 1000000
_DEFAULT_INLINE_THRESHOLD = 250
#: (kernel, argument types) compiled (or loaded from the cache) so far
_compiled: set = set()


def _run_kernel(kernel, *args):
    """Call ``kernel``, compiling it (or loading it from the cache) on first use of each argument types.

    The inlining threshold is an LLVM process-wide option, so it is raised only
    while this one function compiles, under numba's compiler lock.
    """
    signature = tuple(typeof(a) for a in args)
    if (kernel, signature) not in _compiled:
        with global_compiler_lock:
            ll.set_option("", f"-inline-threshold={_KERNEL_INLINE_THRESHOLD}")
            try:
                kernel.compile(signature)
            finally:
                ll.set_option("", f"-inline-threshold={_DEFAULT_INLINE_THRESHOLD}")
            _compiled.add((kernel, signature))
    return kernel(*args)


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
            derived = np.asarray(f(values[starts[j] : starts[j] + count]), np.float64)
        parts.append(derived)
        extra_axes.append(axis_of[j])
        extra_starts.append(offset)
        offset += count
    axis_of = axis_of[:N_DESIGN] + extra_axes + axis_of[N_DESIGN:]
    starts = starts[:N_DESIGN] + extra_starts + starts[N_DESIGN:]
    return np.asarray(axis_of, np.int64), np.asarray(starts, np.int64), np.concatenate(parts)


#: most memory the lifetime sub-grid of a block may take (a sweep's default block of
#: 2**20 designs needs at most 56 MiB, when the sub-grid has half its designs)
_SUB_GRID_BYTES = 64 << 20
_SCRATCH = threading.local()


def _sub_grid_scratch(n_sub: int) -> np.ndarray:
    """A C-contiguous ``(n_sub, N_CYCLING)`` float64 array owned by the calling thread, reused block after block.

    Fresh memory is zeroed by the operating system page by page on first touch
    (see ``out`` of :func:`run_kernel_block`).
    """
    buffer = getattr(_SCRATCH, "buffer", None)
    if buffer is None or buffer.size < N_CYCLING * n_sub:
        buffer = _SCRATCH.buffer = np.empty(N_CYCLING * n_sub)
    return buffer[: N_CYCLING * n_sub].reshape(n_sub, N_CYCLING)


def run_kernel_block(
    shape, axis_of, starts, values, tables, ce_table, constants, select, dtype=np.float32, energy_only=False, out=None
):
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
        Run the energy model alone (see :func:`dse.models.chain.chain_outputs`).
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
    # block axes along which an input of the lifetime half varies
    lifetime_axes = {int(axis_of[INPUT_ORDER.index(name)]) for name in CYCLING_INPUTS} - {-1}
    axis_of, starts, values = _with_derived(shape, axis_of, starts, np.ascontiguousarray(values, np.float64))
    if out is None:
        out = np.empty((len(select), n), dtype=dtype)
    elif out.shape != (len(select), n) or out.dtype != np.dtype(dtype) or not out.flags.c_contiguous:
        raise ValueError(
            f"out must be a C-contiguous {np.dtype(dtype)} array of shape {(len(select), n)}, "
            f"not {out.dtype} {out.shape}"
        )
    n_coating = tables[CATEGORICAL_ORDER.index("coating")].shape[0]
    common = (
        axis_of,
        starts,
        values,
        tuple(np.ascontiguousarray(t, np.float64) for t in tables),
        np.ascontiguousarray(ce_table, np.float64),
        n_coating,
        constants,
    )
    select = np.asarray(select, np.int64)
    if energy_only:
        _run_kernel(_energy_kernel, shape, *common, select, out)
        return out
    # the lifetime sub-grid: the block with every axis that no lifetime input varies along
    # collapsed to one position
    sub_shape = np.array([size if a in lifetime_axes else 1 for a, size in enumerate(shape)], np.int64)
    n_sub = int(np.prod(sub_shape)) if shape.size else 1
    # (worth its detour through memory when it at least halves the lifetime evaluations;
    # the sub-grid's results take N_CYCLING doubles per point, at most _SUB_GRID_BYTES)
    if 2 * n_sub > n or n_sub * N_CYCLING * 8 > _SUB_GRID_BYTES:
        _run_kernel(
            _kernel, shape, *common, _ALL, np.empty((0, N_CYCLING)), np.zeros(shape.size, np.int64), select, out
        )
        return out
    # the lifetime half once per point of the sub-grid, then the rest of the chain per design
    cyc = _sub_grid_scratch(n_sub)
    _run_kernel(
        _kernel,
        sub_shape,
        *common,
        _LIFETIME,
        cyc,
        np.zeros(shape.size, np.int64),
        select,
        np.empty((len(select), 0), out.dtype),
    )
    sub_stride = np.array(
        [math.prod(sub_shape[a + 1 :]) if a in lifetime_axes else 0 for a in range(shape.size)], np.int64
    )
    _run_kernel(_kernel, shape, *common, _REST, cyc, sub_stride, select, out)
    return out
