"""Adaptive refinement: the front of a fine grid without evaluating the whole grid.

A grid spec names a fine grid. :func:`refine` finds its front by evaluating
only where the front can be:

1. **Cells.** Every categorical combination of the grid is a sub-grid of its
   numeric axes. A cell is a box of index ranges ``[lo, hi]`` along each
   numeric axis; the first cells cut each axis into ``coarse`` ranges.
2. **Corners.** The 2^d corners of every live cell are evaluated (each grid
   point once, however many cells share it) with the sweep's fused kernel, on
   the Dask cluster when a batch is large.
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
from dse.pareto import _exact_front, _signs, _undominated_by
from dse.spec import SweepSpec
from dse.vocabulary import INPUTS

__all__ = ["refine", "RefineResult", "DASK_MIN_BATCH"]

#: batches of at least this many designs are evaluated on the Dask cluster, smaller ones in this process
DASK_MIN_BATCH = 200_000
#: designs per Dask task
TASK_SIZE = 500_000


@dataclass
class RefineResult:
    """What :func:`refine` did: per-scenario evaluated designs and the history of the run."""

    objectives: dict[str, str]
    points: dict[str, np.ndarray]  # scenario → grid_index of every evaluated design
    values: dict[str, np.ndarray]  # scenario → (n_outputs, n) float32, spec.outputs order
    levels: dict[str, np.ndarray]  # scenario → refinement level of every design
    grid_designs: int = 0
    history: list[dict] = field(default_factory=list)
    stopped: str = "exact"  # "exact", "tolerance" or "budget"
    seconds: float = 0.0

    @property
    def evaluated(self) -> int:
        return int(sum(p.size for p in self.points.values()))

    @property
    def exact(self) -> bool:
        return self.stopped == "exact"


@dataclass
class _Grid:
    """One scenario's grid: axes in stored order, which are numeric (refined), and a point evaluator."""

    name: str
    shape: tuple[int, ...]
    numeric: np.ndarray  # bool per axis
    evaluate: Callable[[np.ndarray], np.ndarray]  # (m, n_axes) indices → (n_outputs, m)


def _point_inputs(scenario, chain, idx: np.ndarray):
    """Kernel inputs (sampled layout) of the grid points ``idx`` (rows of axis indices)."""
    from dse.models.kernel import INPUT_ORDER

    axes = {a.name: j for j, a in enumerate(scenario.axes)}
    axis_of, starts, parts, offset = [], [], [], 0
    for name in INPUT_ORDER:
        if name in axes:
            axis = scenario.axes[axes[name]]
            vals = np.asarray(axis.values, dtype=object)[idx[:, axes[name]]]
            axis_of.append(0)
        else:
            vals = np.array([scenario.fixed[name]], dtype=object)
            axis_of.append(-1)
        if INPUTS[name].categorical:
            vals = chain.codes(name, vals.astype(str))
        vals = np.asarray(vals, dtype=np.float64)
        starts.append(offset)
        parts.append(vals)
        offset += len(vals)
    return axis_of, starts, np.concatenate(parts)


def _evaluate_points(scenario, chain, outputs, idx: np.ndarray) -> np.ndarray:
    axis_of, starts, values = _point_inputs(scenario, chain, idx)
    return chain.evaluate_block((idx.shape[0],), axis_of, starts, values, outputs)


def _task(args) -> np.ndarray:
    """Dask task: evaluate grid points of one scenario on a worker (spec and chain cached per process)."""
    from dse.sweep import Block, _prepare

    spec_data, source, base_dir, chunk_size, spec_hash, scenario, idx = args
    spec, _, chains = _prepare(Block(spec_data, source, base_dir, chunk_size, spec_hash, scenario, "", -1, "refine"))
    sc = next(s for s in spec.scenarios if s.name == scenario)
    return _evaluate_points(sc, chains[scenario], spec.outputs, idx)


def _grids(spec: SweepSpec, client) -> list[_Grid]:
    from dse.chain import ModelChain

    out = []
    for sc in spec.scenarios:
        if sc.kind != "grid":
            raise SpecError(f"scenario {sc.name!r} is sampled: refinement needs a grid (linspace, logspace or "
                            "lists)", where=spec.source)
        chain = ModelChain.from_design(sc, uncertainty=spec.uncertainty)
        shape = tuple(len(a.values) for a in sc.axes)
        numeric = np.array([not a.categorical and len(a.values) > 1 for a in sc.axes], bool)

        def evaluate(idx, sc=sc, chain=chain):
            if client is None or idx.shape[0] < DASK_MIN_BATCH:
                return _evaluate_points(sc, chain, spec.outputs, idx)
            pieces = [idx[i:i + TASK_SIZE] for i in range(0, idx.shape[0], TASK_SIZE)]
            args = [(spec.data, spec.source, spec.base_dir, spec.chunk_size, spec.hash(), sc.name, p)
                    for p in pieces]
            return np.concatenate(client.gather(client.map(_task, args, pure=False)), axis=1)

        out.append(_Grid(sc.name, shape, numeric, evaluate))
    return out


def _first_cells(grid: _Grid, coarse: int) -> tuple[np.ndarray, np.ndarray]:
    """Cells of level 0: every categorical combination × ``coarse`` index ranges per numeric axis."""
    ranges = []
    for n, numeric in zip(grid.shape, grid.numeric, strict=True):
        if numeric:
            cuts = np.unique(np.linspace(0, n - 1, min(coarse, n - 1) + 1).round().astype(np.int64))
            ranges.append(list(zip(cuts[:-1], cuts[1:], strict=True)))
        else:
            ranges.append([(i, i) for i in range(n)])
    cells = np.array([[r for r in combo] for combo in itertools.product(*ranges)], dtype=np.int64)
    return cells[:, :, 0].copy(), cells[:, :, 1].copy()


def _corners(lo: np.ndarray, hi: np.ndarray, numeric: np.ndarray) -> np.ndarray:
    """``(cells, 2^d, axes)`` corner indices of every cell (d = numeric axes)."""
    axes = np.flatnonzero(numeric)
    bits = np.array(list(itertools.product((0, 1), repeat=axes.size)), dtype=bool).reshape(-1, axes.size)
    out = np.repeat(lo[:, None, :], bits.shape[0], axis=1)
    for j, a in enumerate(axes):
        out[:, bits[:, j], a] = hi[:, None, a]
    return out


def _split(lo: np.ndarray, hi: np.ndarray, numeric: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Halve every cell along each numeric axis wider than one step."""
    for a in np.flatnonzero(numeric):
        wide = hi[:, a] - lo[:, a] > 1
        mid = (lo[:, a] + hi[:, a]) // 2
        left_lo, left_hi = lo.copy(), hi.copy()
        left_hi[wide, a] = mid[wide]
        right_lo, right_hi = lo[wide].copy(), hi[wide].copy()
        right_lo[:, a] = mid[wide]
        lo = np.concatenate([left_lo, right_lo])
        hi = np.concatenate([left_hi, right_hi])
    return lo, hi


class _Evaluated:
    """The designs of one scenario evaluated so far, looked up by grid index."""

    def __init__(self, n_outputs: int):
        self.index = np.empty(0, np.int64)  # sorted
        self.values = np.empty((n_outputs, 0), np.float32)
        self.level = np.empty(0, np.int16)

    def missing(self, flat: np.ndarray) -> np.ndarray:
        flat = np.unique(flat)
        if not self.index.size:
            return flat
        pos = np.searchsorted(self.index, flat)
        found = (pos < self.index.size) & (self.index[np.minimum(pos, max(self.index.size - 1, 0))] == flat)
        return flat[~found]

    def add(self, flat: np.ndarray, values: np.ndarray, level: int) -> None:
        index = np.concatenate([self.index, flat])
        order = np.argsort(index, kind="stable")
        self.index = index[order]
        self.values = np.concatenate([self.values, values], axis=1)[:, order]
        self.level = np.concatenate([self.level, np.full(flat.size, level, np.int16)])[order]

    def rows(self, flat: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.index, flat)


def _objective_rows(spec: SweepSpec, objectives: Mapping[str, str]) -> tuple[list[int], int]:
    for name in objectives:
        if name not in spec.outputs:
            raise SpecError(f"objective {name!r} is not an output of the spec (outputs: {', '.join(spec.outputs)})",
                            where="--objective")
    return [spec.outputs.index(n) for n in objectives], spec.outputs.index("infeasible_reason")


def _front_values(state: dict[str, _Evaluated], rows: list[int], reason: int, signs: np.ndarray) -> np.ndarray:
    """Maximised objective values of the front of every feasible design evaluated so far."""
    parts = []
    for ev in state.values():
        ok = ev.values[reason] == 0
        x = ev.values[rows][:, ok].T.astype(np.float64) * signs
        parts.append(x[~np.isnan(x).any(axis=1)])
    x = np.ascontiguousarray(np.concatenate(parts)) if parts else np.empty((0, len(rows)))
    return np.ascontiguousarray(x[_exact_front(x)])


def _volume(front: np.ndarray, ref: np.ndarray) -> float:
    import moocore

    inside = front[(front > ref).all(axis=1)]
    return float(moocore.hypervolume(inside, ref=ref, maximise=True)) if len(inside) else 0.0


def refine(
    spec: SweepSpec,
    objectives: Mapping[str, str | None] | None = None,
    *,
    coarse: int = 2,
    margin: float = 0.0,
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
        ``{output: "max" | "min" | None}``; default every output of the spec
        with a ``dse_sense`` in the vocabulary.
    coarse : int, default 2
        Index ranges per numeric axis at level 0.
    margin : float, default 0
        Widening of each cell's bound, as a share of the objective's spread
        over the cell's corners.
    tolerance : float, optional
        Stop once the hypervolume changes by less than this fraction in a level.
    budget : int, optional
        Most designs to evaluate.
    client : distributed.Client, optional
        Evaluate large batches on its cluster.
    progress : callable, optional
        Called with each level's history record.

    Returns
    -------
    RefineResult
    """
    from dse.vocabulary import OUTPUTS

    t0 = time.perf_counter()
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
    rows, reason = _objective_rows(spec, senses)
    signs = np.asarray(_signs(list(senses.values())))
    grids = _grids(spec, client)
    state = {g.name: _Evaluated(len(spec.outputs)) for g in grids}
    cells = {g.name: _first_cells(g, coarse) for g in grids}
    result = RefineResult(dict(senses), {}, {}, {}, grid_designs=spec.n_designs)
    ref = None
    previous = None
    level = 0
    while any(lo.shape[0] for lo, _ in cells.values()):
        # corners of the live cells, evaluated once each
        todo = {}
        for g in grids:
            lo, hi = cells[g.name]
            corners = _corners(lo, hi, g.numeric)
            flat = np.ravel_multi_index(tuple(corners.reshape(-1, len(g.shape)).T), g.shape)
            todo[g.name] = (corners, flat.reshape(corners.shape[:2]), state[g.name].missing(flat))
        new = sum(m.size for _, _, m in todo.values())
        if budget is not None and result.evaluated + new > budget:
            result.stopped = "budget"
            break
        for g in grids:
            missing = todo[g.name][2]
            if missing.size:
                idx = np.stack(np.unravel_index(missing, g.shape), axis=1).astype(np.int64)
                state[g.name].add(missing, g.evaluate(idx).astype(np.float32, copy=False), level)
        front = _front_values(state, rows, reason, signs)
        if ref is None and len(front):
            ref = front.min(axis=0)
        volume = _volume(front, ref) if ref is not None else 0.0
        record = {"level": level, "cells": int(sum(lo.shape[0] for lo, _ in cells.values())), "new": int(new),
                  "evaluated": result.evaluated + 0, "front": int(len(front)), "hypervolume": volume,
                  "seconds": round(time.perf_counter() - t0, 3)}
        record["evaluated"] = int(sum(ev.index.size for ev in state.values()))
        result.history.append(record)
        if progress:
            progress(record)
        # prune: every corner infeasible, or the cell's bound strictly dominated by a design found
        for g in grids:
            lo, hi = cells[g.name]
            corners, flat, _ = todo[g.name]
            ev = state[g.name]
            at = ev.rows(flat.reshape(-1))
            vals = ev.values[rows][:, at].T.reshape(flat.shape[0], flat.shape[1], len(rows)).astype(np.float64)
            vals = vals * signs
            feasible = (ev.values[reason][at] == 0).reshape(flat.shape)
            with np.errstate(invalid="ignore"):
                best = np.where(np.isnan(vals).all(axis=1), np.inf, np.nanmax(np.where(np.isnan(vals), -np.inf, vals),
                                                                               axis=1))
                worst = np.nanmin(np.where(np.isnan(vals), np.inf, vals), axis=1)
                spread = np.where(np.isfinite(best) & np.isfinite(worst), best - worst, 0.0)
            bound = np.ascontiguousarray(best + margin * spread)
            keep = feasible.any(axis=1)
            if len(front) and keep.any():
                keep[keep] = _undominated_by(bound[keep], front)
            keep &= (hi - lo > 1).any(axis=1)  # a cell of single steps is done: its corners are its points
            cells[g.name] = _split(lo[keep], hi[keep], g.numeric)
        if tolerance is not None and previous is not None and abs(volume - previous) <= tolerance * abs(volume):
            result.stopped = "tolerance"
            break
        previous = volume
        level += 1
    for g in grids:
        ev = state[g.name]
        result.points[g.name], result.values[g.name], result.levels[g.name] = ev.index, ev.values, ev.level
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
    flat, values, levels = result.points[name], result.values[name], result.levels[name]
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
        "dse_refinement": json.loads(json.dumps({"objectives": result.objectives, "stopped": result.stopped,
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

