"""Adaptive refinement: the front of a fine grid without evaluating the whole grid.

A grid spec names a fine grid. :func:`refine` finds its front by evaluating
only where the front can be:

1. **Cells.** Every categorical combination of the grid is a sub-grid of its
   numeric axes. A cell is a box of index ranges ``[lo, hi]`` along each
   numeric axis; the first cells cut each axis into ``coarse`` ranges.
2. **Corners.** The 2^d corners of every live cell are evaluated (each grid
   point once, however many cells share it) with the sweep's fused kernel,
   on the Dask cluster when a batch is large, else on ``THREADS`` threads.
   Only the objectives and ``infeasible_reason`` are kept while refining;
   :func:`write_refined` evaluates the other outputs of the stored designs.
   The bookkeeping is in numba (:mod:`dse.refine_cells`): a hash table of the
   evaluated grid points, and each cell carrying the rows of its corners, so
   a split looks up only the new points of the parent's 3^d lattice.
3. **Bounds.** Over a cell, each objective is bounded by its best corner
   value, widened by ``margin`` times its spread over the corners.
   **Assumption (monotonicity):** within a cell every objective is monotone
   along each numeric axis, and a cell whose corners are all infeasible holds
   no feasible design. Then the best corner is the best value in the cell
   (``margin`` = 0 suffices); ``margin`` > 0 keeps cells whose interior may
   beat their corners by up to that share of the spread.
4. **Pruning.** A cell is dropped when a design evaluated so far strictly
   dominates its bound (it then dominates every design in the cell), or when
   every corner is infeasible. The rest are halved along every numeric axis
   wider than one step, and the loop repeats from 2.
5. **Stop.** When no cell is left (every cell has shrunk to single grid
   steps: its corners are all its points), the refined front is the grid's
   front, exactly, under the assumption: a front design's cell is never
   pruned, since whatever dominates the cell's bound dominates the design.
   ``tolerance`` stops earlier, once the hypervolume of the front (reference:
   the nadir of the first level's front) changes by less than that fraction
   in one level; ``budget`` stops before a level would exceed that many
   evaluated designs. Both declare the result approximate.

The results are a store like a sampled sweep's: one ``design`` dimension per
scenario, the grid's swept inputs as variables, every output, and
``refinement_level`` (the level that evaluated the design) and ``grid_index``
(its row-major position in the scenario's grid, the ``design`` number a full
sweep of the same spec would give it).
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from dse.errors import SpecError
from dse.pareto import _exact_front, _signs
from dse.refine_cells import PointTable, corner_flats, live_cells, split_cells
from dse.spec import SweepSpec
from dse.vocabulary import INPUTS

__all__ = ["refine", "RefineResult", "DASK_MIN_BATCH"]

#: batches of at least this many designs are evaluated on the Dask cluster, smaller ones in this process
DASK_MIN_BATCH = 200_000
#: designs per Dask task
TASK_SIZE = 500_000
#: threads that evaluate a batch in this process (the kernel releases the GIL), for batches of at least
THREADS = 2
THREAD_MIN_BATCH = 20_000


@dataclass
class RefineResult:
    """What :func:`refine` did: per-scenario evaluated designs and the history of the run."""

    objectives: dict[str, str]
    outputs: list[str]  # rows of ``values``: the objectives, then infeasible_reason
    points: dict[str, np.ndarray]  # scenario → grid_index of every evaluated design
    values: dict[str, np.ndarray]  # scenario → (len(outputs), n) float32
    levels: dict[str, np.ndarray]  # scenario → refinement level of every design
    grid_designs: int = 0
    history: list[dict] = field(default_factory=list)
    stopped: str = "exact"  # "exact", "tolerance" or "budget"
    seconds: float = 0.0
    options: dict = field(default_factory=dict)  # coarse, margin, tolerance, budget as used

    @property
    def evaluated(self) -> int:
        return int(sum(p.size for p in self.points.values()))

    @property
    def exact(self) -> bool:
        return self.stopped == "exact"


class _PointEvaluator:
    """Evaluates grid points of one scenario, given by flat index, with the fused kernel (sampled layout)."""

    def __init__(self, scenario, chain, outputs: list[str]):
        from dse.models.kernel import INPUT_ORDER

        self.shape = tuple(len(a.values) for a in scenario.axes)
        self.chain, self.outputs = chain, list(outputs)
        axes = {a.name: j for j, a in enumerate(scenario.axes)}
        # per kernel input: the grid axis it varies along (or None) and its values as float64 (codes if categorical)
        self.columns = []
        for name in INPUT_ORDER:
            values = scenario.axes[axes[name]].values if name in axes else [scenario.fixed[name]]
            if INPUTS[name].categorical:
                values = chain.codes(name, np.asarray([str(v) for v in values], dtype=object))
            self.columns.append((axes.get(name), np.asarray(values, dtype=np.float64)))

    def __call__(self, flats: np.ndarray) -> np.ndarray:
        idx = np.unravel_index(flats, self.shape)
        axis_of, starts, parts, offset = [], [], [], 0
        for axis, values in self.columns:
            part = values if axis is None else values[idx[axis]]
            axis_of.append(-1 if axis is None else 0)
            starts.append(offset)
            parts.append(part)
            offset += part.size
        return self.chain.evaluate_block((flats.size,), axis_of, starts, np.concatenate(parts), self.outputs)


def _evaluate(evaluator: _PointEvaluator, flats: np.ndarray, threads: int = THREADS) -> np.ndarray:
    """``(len(outputs), n)`` values of the points ``flats``, in ``threads`` pieces (the kernel releases the GIL)."""
    if threads < 2 or flats.size < THREAD_MIN_BATCH:
        return evaluator(flats)
    from concurrent.futures import ThreadPoolExecutor

    pieces = np.array_split(flats, threads)
    with ThreadPoolExecutor(threads) as pool:
        return np.concatenate(list(pool.map(evaluator, pieces)), axis=1)


def _task(args) -> np.ndarray:
    """Dask task: evaluate grid points of one scenario on a worker (spec and chain cached per process)."""
    from dse.sweep import Block, _prepare

    spec_data, source, base_dir, chunk_size, spec_hash, scenario, outputs, flats = args
    spec, _, chains = _prepare(Block(spec_data, source, base_dir, chunk_size, spec_hash, scenario, "", -1, "refine"))
    sc = next(s for s in spec.scenarios if s.name == scenario)
    return _PointEvaluator(sc, chains[scenario], outputs)(flats)


class _Scenario:
    """One scenario's grid during refinement: live cells, the table of evaluated points and their values."""

    def __init__(self, spec: SweepSpec, scenario, outputs: list[str], client, coarse: int):
        from dse.chain import ModelChain

        self.name = scenario.name
        self.shape = tuple(len(a.values) for a in scenario.axes)
        self.strides = np.array([math.prod(self.shape[a + 1:]) for a in range(len(self.shape))], np.int64)
        self.axes = np.array([a for a, ax in enumerate(scenario.axes) if not ax.categorical and len(ax.values) > 1],
                             np.int64)
        self.evaluator = _PointEvaluator(scenario, ModelChain.from_design(scenario, uncertainty=spec.uncertainty),
                                         outputs)
        self.spec, self.outputs, self.client = spec, outputs, client
        self.table = PointTable()
        self.n = 0  # evaluated points: rows 0 … n-1
        self.flats = np.empty(0, np.int64)
        self.values = np.empty((0, len(outputs)), np.float32)  # a row per point: one cache line for a corner
        self.level = np.empty(0, np.int16)
        self.lo, self.hi = self._first_cells(coarse)
        flats = corner_flats(self.lo, self.hi, self.strides, self.axes)
        rows, self.pending = self.table.find_or_add(flats)  # pending: in the table, not evaluated yet
        self.corners = rows.reshape(flats.shape).astype(np.int32)

    def _first_cells(self, coarse: int) -> tuple[np.ndarray, np.ndarray]:
        """Cells of level 0: every categorical combination × ``coarse`` index ranges per numeric axis."""
        ranges = []
        for a, n in enumerate(self.shape):
            if a in self.axes:
                cuts = np.unique(np.linspace(0, n - 1, min(coarse, n - 1) + 1).round().astype(np.int64))
                ranges.append(list(zip(cuts[:-1], cuts[1:], strict=True)))
            else:
                ranges.append([(i, i) for i in range(n)])
        cells = np.array(list(itertools.product(*ranges)), dtype=np.int32).reshape(-1, len(self.shape), 2)
        return np.ascontiguousarray(cells[:, :, 0]), np.ascontiguousarray(cells[:, :, 1])

    def evaluate_pending(self, level: int) -> np.ndarray:
        """Evaluate the points added to the table since the last call; their values, ``(n, outputs)``."""
        flats, self.pending = self.pending, np.empty(0, np.int64)
        if not flats.size:
            return np.empty((0, len(self.outputs)), np.float32)
        if self.client is None or flats.size < DASK_MIN_BATCH:
            values = _evaluate(self.evaluator, flats)
        else:
            spec = self.spec
            args = [(spec.data, spec.source, spec.base_dir, spec.chunk_size, spec.hash(), self.name, self.outputs,
                     flats[i:i + TASK_SIZE]) for i in range(0, flats.size, TASK_SIZE)]
            values = np.concatenate(self.client.gather(self.client.map(_task, args, pure=False)), axis=1)
        values = values.T
        end = self.n + flats.size
        if end > self.flats.size:  # grow by doubling
            size = max(end, 2 * self.flats.size, 1024)
            self.flats, self.level = np.resize(self.flats, size), np.resize(self.level, size)
            grown = np.empty((size, len(self.outputs)), np.float32)
            grown[:self.n] = self.values[:self.n]
            self.values = grown
        self.flats[self.n:end] = flats
        self.values[self.n:end] = values
        self.level[self.n:end] = level
        self.n = end
        return values

    def refine(self, signs: np.ndarray, front: np.ndarray, margin: float) -> None:
        """Drop the cells that cannot hold a new front design, split the rest (their new corners pend)."""
        keep = live_cells(self.lo, self.hi, self.corners, self.values, signs, front, margin)
        self.lo, self.hi, self.corners, self.pending = split_cells(self.lo, self.hi, self.corners, keep, self.axes,
                                                                   self.strides, self.table)


def _objective_check(spec: SweepSpec, objectives: Mapping[str, str]) -> None:
    for name in objectives:
        if name not in spec.outputs:
            raise SpecError(f"objective {name!r} is not an output of the spec (outputs: {', '.join(spec.outputs)})",
                            where="--objective")


def _volume(front: np.ndarray, ref: np.ndarray) -> float:
    import moocore

    inside = front[(front > ref).all(axis=1)]
    return float(moocore.hypervolume(inside, ref=ref, maximise=True)) if len(inside) else 0.0


def refine(
    spec: SweepSpec,
    objectives: Mapping[str, str | None] | None = None,
    *,
    coarse: int | None = None,
    margin: float | None = None,
    tolerance: float | None = None,
    budget: int | None = None,
    client=None,
    progress: Callable[[dict], None] | None = None,
) -> RefineResult:
    """Find the front of a grid spec by adaptive refinement (see the module docstring).

    Parameters
    ----------
    spec : SweepSpec
        Grid scenarios only.
    objectives : mapping, optional
        ``{output: "max" | "min" | None}``; default the spec's
        ``refine: objectives``, else every output of the spec with a
        ``dse_sense`` in the vocabulary.
    coarse : int, optional
        Index ranges per numeric axis at level 0 (default: the spec's
        ``refine: coarse``, else 2).
    margin : float, optional
        Widening of each cell's bound, as a share of the objective's spread
        over the cell's corners.
    tolerance : float, optional
        Stop once the hypervolume changes by less than this fraction in a level.
    budget : int, optional
        Most designs to evaluate.

        ``margin`` (default 0), ``tolerance`` and ``budget`` left out are
        taken from the spec's ``refine:`` mapping when it gives them.
    client : distributed.Client, optional
        Evaluate large batches on its cluster (else in this process, on
        ``THREADS`` threads).
    progress : callable, optional
        Called with each level's history record.

    Returns
    -------
    RefineResult
        Values of the objectives and ``infeasible_reason`` for every
        evaluated design (:func:`write_refined` evaluates the other outputs).
    """
    from dse.vocabulary import OUTPUTS

    t0 = time.perf_counter()
    given = spec.refine
    objectives = objectives if objectives is not None else given.get("objectives")
    coarse = coarse if coarse is not None else given.get("coarse", 2)
    margin = margin if margin is not None else given.get("margin", 0.0)
    tolerance = tolerance if tolerance is not None else given.get("tolerance")
    budget = budget if budget is not None else given.get("budget")
    if objectives is None:
        objectives = {n: OUTPUTS[n].sense for n in spec.outputs if n in OUTPUTS and OUTPUTS[n].sense}
    senses = {n: (s if s is not None else (OUTPUTS[n].sense if n in OUTPUTS else None)) for n, s in objectives.items()}
    for n, s in senses.items():
        if s not in ("max", "min"):
            raise SpecError(f"{n!r} needs a sense: NAME:max or NAME:min", where="--objective")
    if coarse < 1:
        raise SpecError(f"expected at least 1 range per axis, got {coarse}", where="--coarse")
    if not (margin >= 0 and math.isfinite(margin)):
        raise SpecError(f"expected a finite margin ≥ 0, got {margin}", where="--margin")
    _objective_check(spec, senses)
    for sc in spec.scenarios:
        if sc.kind != "grid":
            raise SpecError(f"scenario {sc.name!r} is sampled: refinement needs a grid (linspace, logspace or "
                            "lists)", where=spec.source)
    outputs = [*senses, "infeasible_reason"]
    k = len(senses)
    signs = np.asarray(_signs(list(senses.values())), np.float64)
    states = [_Scenario(spec, sc, outputs, client, coarse) for sc in spec.scenarios]
    result = RefineResult(dict(senses), outputs, {}, {}, {}, grid_designs=spec.n_designs,
                          options={"coarse": coarse, "margin": margin, "tolerance": tolerance, "budget": budget})
    front = np.empty((0, k))  # maximised objectives of the front of everything evaluated so far
    ref = previous = None
    level = 0
    while True:
        cells = int(sum(s.lo.shape[0] for s in states))
        new = int(sum(s.pending.size for s in states))
        if not cells:
            break
        if budget is not None and sum(s.n for s in states) + new > budget:
            result.stopped = "budget"
            break
        candidates = [front]
        for s in states:
            values = s.evaluate_pending(level)
            x = values[values[:, k] == 0, :k].astype(np.float64) * signs
            candidates.append(x[~np.isnan(x).any(axis=1)])
        x = np.ascontiguousarray(np.concatenate(candidates))
        front = np.ascontiguousarray(x[_exact_front(x)])
        if ref is None and len(front):
            ref = front.min(axis=0)
        volume = _volume(front, ref) if ref is not None else 0.0
        record = {"level": level, "cells": cells, "new": new, "evaluated": int(sum(s.n for s in states)),
                  "front": int(len(front)), "hypervolume": volume, "seconds": round(time.perf_counter() - t0, 3)}
        result.history.append(record)
        if progress:
            progress(record)
        for s in states:
            s.refine(signs, front, float(margin))
        if tolerance is not None and previous is not None and abs(volume - previous) <= tolerance * abs(volume):
            result.stopped = "tolerance"
            break
        previous = volume
        level += 1
    for s in states:
        result.points[s.name] = s.flats[:s.n].copy()
        result.values[s.name] = s.values[:s.n].T.copy()
        result.levels[s.name] = s.level[:s.n].copy()
    result.seconds = time.perf_counter() - t0
    return result


# --------------------------------------------------------------------------- store
def write_refined(result: RefineResult, spec: SweepSpec, path: str, overwrite: bool = False,
                  storage_options: Mapping | None = None) -> None:
    """Write a refinement as a results store (one sampled-style scenario per grid scenario).

    Written beside ``path`` first and moved into place complete, as a sweep's
    template is (:func:`dse.store.create_store`).
    """
    from dse.safety import sibling_path
    from dse.store import _discard, _swap_in, check_target

    check_target(path, False, overwrite, storage_options)
    tmp = sibling_path(path, "new")
    try:
        _write(result, spec, tmp, storage_options)
        _swap_in(tmp, path, overwrite, storage_options)
    finally:
        _discard(tmp, storage_options)


def _dataset(result: RefineResult, spec: SweepSpec, scenario, chain):
    import xarray as xr

    from dse.store import _compressors, _input_attrs, _output_attrs

    name = scenario.name
    order = np.argsort(result.points[name], kind="stable")  # designs in grid order
    flat, levels = result.points[name][order], result.levels[name][order]
    # every output of the spec, by the same kernel (refinement kept only the objectives)
    values = _evaluate(_PointEvaluator(scenario, chain, list(spec.outputs)), flat)
    n = flat.size
    chunk = max(1, min(spec.chunk_size, n))
    shape = tuple(len(a.values) for a in scenario.axes)
    idx = np.unravel_index(flat, shape) if n else [np.zeros(0, np.int64)] * len(shape)
    data_vars, encoding = {}, {}

    def put(var_name, data, attrs, fill):
        data_vars[var_name] = xr.Variable(("design",), data, attrs=attrs)
        encoding[var_name] = {"chunks": (chunk,), "compressors": _compressors(), "fill_value": fill}

    for j, out in enumerate(spec.outputs):
        if out == "infeasible_reason":
            put(out, values[j].astype(np.uint16), _output_attrs(out), 0)
        else:
            put(out, values[j].astype(np.float32), _output_attrs(out), np.nan)
    put("feasible", values[spec.outputs.index("infeasible_reason")] == 0, _output_attrs("feasible"), False)
    swept = []
    for a, axis in enumerate(scenario.axes):
        attrs = _input_attrs(axis.name)
        if axis.categorical:
            attrs.update({"flag_values": list(range(len(axis.values))), "flag_meanings": " ".join(axis.values),
                          "dse_categories": list(axis.values)})
            put(axis.name, idx[a].astype(np.int16), attrs, -1)
        else:
            put(axis.name, np.asarray(axis.values, np.float64)[idx[a]], attrs, np.nan)
        swept.append(axis.name)
    put("refinement_level", levels.astype(np.int16),
        {"long_name": "Refinement level that evaluated the design", "units": "1"}, -1)
    put("grid_index", flat.astype(np.int64),
        {"long_name": "Row-major position of the design in the scenario's grid", "units": "1"}, -1)
    coords = {"design": xr.Variable("design", np.arange(n, dtype=np.int64), attrs={"long_name": "design index"})}
    encoding["design"] = {"compressors": _compressors()}
    for key, value in scenario.fixed.items():
        if key in swept:
            continue
        coords[key] = xr.Variable((), np.array(value, dtype=object) if INPUTS[key].categorical else value,
                                  attrs=_input_attrs(key))
        encoding[key] = {"compressors": _compressors()}
    n_blocks = max(1, math.ceil(n / chunk))
    attrs = {
        "dse_scenario": name, "dse_kind": "sampled", "dse_dims": ["design"], "dse_chunks": [chunk],
        "dse_block_grid": [n_blocks], "dse_n_designs": n, "dse_description": scenario.description,
        "dse_sampler": "refinement", "dse_sampled_inputs": swept,
        "dse_grid_shape": list(shape), "dse_grid_dims": swept, **chain.attrs(),
    }
    return xr.Dataset(data_vars, coords=coords, attrs=attrs), encoding, n_blocks


def _write(result: RefineResult, spec: SweepSpec, path: str, storage_options: Mapping | None) -> None:
    import datetime as _dt
    import uuid

    import yaml
    import zarr

    from dse import __version__
    from dse.chain import ModelChain
    from dse.store import (
        FORMAT,
        _compressors,
        _consolidate,
        git_commit,
        scenario_groups,
        zarr_store,
    )

    groups = scenario_groups(spec)
    chains = {s.name: ModelChain.from_design(s, uncertainty=spec.uncertainty) for s in spec.scenarios}
    first = True
    for sc in spec.scenarios:
        ds, encoding, n_blocks = _dataset(result, spec, sc, chains[sc.name])
        ds.to_zarr(path, group=groups[sc.name] or None, mode="w" if first else "a", zarr_format=3,
                   consolidated=False, encoding=encoding, storage_options=storage_options, write_empty_chunks=True)
        first = False
        root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
        g = root[groups[sc.name]] if groups[sc.name] else root
        done = g.require_group("_dse").create_array("completed", shape=(n_blocks,), chunks=(1,), dtype="uint8",
                                                    fill_value=0, overwrite=True, compressors=_compressors())
        done[:] = 1
    chain = next(iter(chains.values()))
    summary = {"designs": result.evaluated, "evaluated": result.evaluated, "grid_designs": result.grid_designs,
               "seconds": round(result.seconds, 3), "stopped": result.stopped}
    root = zarr.open_group(zarr_store(path, storage_options), mode="r+", use_consolidated=False, zarr_format=3)
    root.attrs.update({
        "Conventions": "CF-1.10", "title": spec.name, "dse_store_format": FORMAT, "dse_version": __version__,
        "dse_spec": spec.text, "dse_spec_hash": spec.hash(), "dse_scenarios": list(groups), "dse_groups": groups,
        "dse_ce_coefficients": yaml.safe_dump(chain.coefficients.model_dump(mode="json"), sort_keys=False),
        "dse_git_commit": git_commit(), "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "dse_status": "complete", "dse_sweep_id": uuid.uuid4().hex, "dse_summary": summary,
        "dse_refinement": json.loads(json.dumps({"objectives": result.objectives, "options": result.options,
                                                 "stopped": result.stopped,
                                                 "exact": result.exact, "history": result.history})),
        **chain.attrs(),
    })
    _consolidate(path, storage_options)


def describe(result: RefineResult) -> str:
    """One line: evaluated designs against the grid, and how the run stopped."""
    share = result.evaluated / result.grid_designs if result.grid_designs else math.nan
    how = {"exact": "every live cell refined to single grid steps (exact under the monotonicity assumption)",
           "tolerance": "hypervolume change below the tolerance (approximate)",
           "budget": "design budget reached (approximate)"}[result.stopped]
    return (f"{result.evaluated:,} of {result.grid_designs:,} grid designs evaluated ({share:.3g}) in "
            f"{len(result.history)} level(s), {result.seconds:.1f} s: {how}")

