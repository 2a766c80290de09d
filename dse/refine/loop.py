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

With ``store`` given, :func:`refine` checkpoints its state after every level
in ``STORE.dse-refine/state.npz`` (:func:`checkpoint_dir`), and a rerun for
the same spec and options continues from the last finished level with the
same result, bit for bit; :func:`read_checkpoint` refuses a checkpoint of
another spec or other options, or a damaged one.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dse.errors import SpecError, StoreError
from dse.pareto import _exact_front, _signs
from dse.refine_cells import PointTable, corner_flats, live_cells, split_cells, undominated
from dse.spec import SweepSpec
from dse.vocabulary import INPUTS

__all__ = ["refine", "refine_options", "RefineResult", "DASK_MIN_BATCH", "Checkpoint", "checkpoint_dir",
           "read_checkpoint", "remove_checkpoint"]

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

    def state(self) -> dict[str, np.ndarray]:
        """The arrays that :meth:`restore` needs to continue this scenario at the next level."""
        return {"flats": self.flats[:self.n], "values": self.values[:self.n], "level": self.level[:self.n],
                "lo": self.lo, "hi": self.hi, "corners": self.corners, "pending": self.pending}

    def restore(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Continue from :meth:`state` (checked by :func:`read_checkpoint`)."""
        self.flats, self.level = arrays["flats"].copy(), arrays["level"].copy()
        self.values = arrays["values"].copy()
        self.n = self.flats.size
        self.lo, self.hi, self.corners = arrays["lo"].copy(), arrays["hi"].copy(), arrays["corners"].copy()
        self.pending = arrays["pending"].copy()
        # table rows are in order of first sight: the evaluated points, then the pending ones
        known = np.concatenate([self.flats, self.pending])
        self.table = PointTable(capacity=2 * known.size)
        rows, added = self.table.find_or_add(known)
        if added.size != known.size:
            raise ValueError("a point is listed twice")

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


def refine_options(
    spec: SweepSpec,
    objectives: Mapping[str, str | None] | None = None,
    *,
    coarse: int | None = None,
    margin: float | None = None,
    tolerance: float | None = None,
    budget: int | None = None,
) -> tuple[dict[str, str], dict]:
    """The objectives with their senses and the options a refinement runs with, checked.

    Arguments left out are taken from the spec's ``refine:`` mapping, else
    the defaults of :func:`refine`.

    Returns
    -------
    senses : dict
        ``{output: "max" | "min"}``.
    options : dict
        ``coarse``, ``margin``, ``tolerance``, ``budget`` as used.

    Raises
    ------
    SpecError
        An objective without a sense or not an output of the spec, a bad
        option, or a sampled scenario.
    """
    from dse.vocabulary import OUTPUTS

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
    return senses, {"coarse": coarse, "margin": margin, "tolerance": tolerance, "budget": budget}


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
    store: str | None = None,
    on_resume: Callable[[int, int], None] | None = None,
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
    store : str, optional
        Local path of the results store the refinement is for: its state is
        checkpointed after every level in :func:`checkpoint_dir` (``STORE.dse-refine``),
        and a checkpoint left there by an interrupted run of the same spec and
        options is continued (see :func:`read_checkpoint`). Remote stores
        (``s3://``) are not checkpointed.
    on_resume : callable, optional
        Called as ``on_resume(level, evaluated)`` when a checkpoint is continued.

    Returns
    -------
    RefineResult
        Values of the objectives and ``infeasible_reason`` for every
        evaluated design (:func:`write_refined` evaluates the other outputs).

    Raises
    ------
    StoreError
        The checkpoint of ``store`` is damaged or was written for another
        spec or other options (nothing is deleted).
    """
    t0 = time.perf_counter()
    senses, options = refine_options(spec, objectives, coarse=coarse, margin=margin, tolerance=tolerance,
                                     budget=budget)
    margin, tolerance, budget = options["margin"], options["tolerance"], options["budget"]
    outputs = [*senses, "infeasible_reason"]
    k = len(senses)
    signs = np.asarray(_signs(list(senses.values())), np.float64)
    states = [_Scenario(spec, sc, outputs, client, options["coarse"]) for sc in spec.scenarios]
    result = RefineResult(dict(senses), outputs, {}, {}, {}, grid_designs=spec.n_designs, options=options)
    front = np.empty((0, k))  # maximised objectives of the front of everything evaluated so far
    ref = previous = stopped = None
    level = 0
    saved = read_checkpoint(store, spec, senses, options) if store is not None else None
    if saved is not None:
        level, front, ref, previous, stopped = saved.level, saved.front, saved.ref, saved.previous, saved.stopped
        result.history = list(saved.history)
        t0 -= saved.seconds  # the clock goes on from the interrupted run's
        for s, arrays in zip(states, saved.scenarios, strict=True):
            s.restore(arrays)
        if on_resume:
            on_resume(level, int(sum(s.n for s in states)))
    while stopped is None:
        cells = int(sum(s.lo.shape[0] for s in states))
        new = int(sum(s.pending.size for s in states))
        if not cells:
            stopped = "exact"
            break
        if budget is not None and sum(s.n for s in states) + new > budget:
            stopped = "budget"
            break
        candidates = [front]
        for s in states:
            values = s.evaluate_pending(level)
            x = values[values[:, k] == 0, :k].astype(np.float64) * signs
            x = x[~np.isnan(x).any(axis=1)]
            candidates.append(x[undominated(x, front)] if len(front) else x)  # the front of a union: of the fronts
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
            stopped = "tolerance"
        previous = volume
        level += 1
        if store is not None:
            _save_checkpoint(store, spec, senses, options, states, level=level, front=front, ref=ref,
                             previous=previous, stopped=stopped, history=result.history,
                             seconds=time.perf_counter() - t0)
    result.stopped = stopped
    for s in states:
        result.points[s.name] = s.flats[:s.n].copy()
        result.values[s.name] = s.values[:s.n].T.copy()
        result.levels[s.name] = s.level[:s.n].copy()
    result.seconds = time.perf_counter() - t0
    return result


# --------------------------------------------------------------------------- checkpoint
#: format of a refinement checkpoint (``state.npz`` in :func:`checkpoint_dir`)
CHECKPOINT_FORMAT = "dse-refine-checkpoint/1"
CHECKPOINT_FILE = "state.npz"


@dataclass
class Checkpoint:
    """The state of a refinement after a completed level (see :func:`read_checkpoint`)."""

    level: int  # the next level to run
    front: np.ndarray
    ref: np.ndarray | None
    previous: float | None
    stopped: str | None  # set when the last saved level ended the refinement (tolerance)
    history: list[dict]
    seconds: float
    scenarios: list[dict[str, np.ndarray]]  # per scenario, :meth:`_Scenario.state`

    @property
    def evaluated(self) -> int:
        return int(sum(a["flats"].size for a in self.scenarios))


def checkpoint_dir(store: str) -> Path | None:
    """The folder beside a local store where its refinement is checkpointed; None for remote stores.

    >>> str(checkpoint_dir("runs/ref.zarr/"))
    'runs/ref.zarr.dse-refine'
    >>> checkpoint_dir("s3://bucket/ref.zarr") is None
    True
    """
    if "://" in str(store):
        return None
    return Path(f"{str(store).rstrip('/')}.dse-refine")


def _options_identity(senses: Mapping[str, str], options: Mapping) -> dict:
    return {"objectives": [[n, s] for n, s in senses.items()], **{k: options[k] for k in sorted(options)}}


def _options_hash(senses: Mapping[str, str], options: Mapping) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(_options_identity(senses, options), sort_keys=True).encode()).hexdigest()


def _save_checkpoint(store: str, spec: SweepSpec, senses, options, states, *, level, front, ref, previous,
                     stopped, history, seconds) -> None:
    """Write the whole state in one file, atomically: a reader sees the previous level's or this one's."""
    import io

    from dse.atomic import write_atomic

    folder = checkpoint_dir(store)
    if folder is None:
        return
    header = {"format": CHECKPOINT_FORMAT, "store": str(store), "spec_hash": spec.hash(),
              "options_hash": _options_hash(senses, options), "options": _options_identity(senses, options),
              "scenarios": [s.name for s in states], "level": level,
              "ref": None if ref is None else [float(v) for v in ref], "previous": previous, "stopped": stopped,
              "history": history, "seconds": seconds}
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), np.uint8), "front": front}
    for i, s in enumerate(states):
        arrays.update({f"{i}/{key}": value for key, value in s.state().items()})
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # a zip with a CRC-32 per array: damage is found on reading
    folder.mkdir(exist_ok=True)
    write_atomic(folder / CHECKPOINT_FILE, buffer.getvalue())


def _damaged(store: str, why: str) -> StoreError:
    return StoreError(f"the refinement checkpoint {checkpoint_dir(store)} is damaged ({why}); "
                      "rerun with --overwrite to start over", where=str(store))


def _check_folder(store: str, folder: Path) -> None:
    """Refuse a file or a link where the checkpoint folder goes: dse neither reads nor deletes it."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise StoreError(f"{folder} is in the way of the refinement checkpoint (not a folder dse made); "
                         "remove or rename it", where=str(store))


def read_checkpoint(store: str, spec: SweepSpec, senses: Mapping[str, str], options: Mapping) -> Checkpoint | None:
    """The checkpoint an interrupted refinement left for ``store``, checked against this spec and options.

    Returns
    -------
    Checkpoint or None
        None when there is none (no folder, or a folder without a state
        file: the run was interrupted before its first level ended).

    Raises
    ------
    StoreError
        One line naming the store: the checkpoint was written for another
        spec or other options (saying which), or it is damaged (unreadable,
        truncated, inconsistent). Nothing is deleted.
    """
    import zipfile

    folder = checkpoint_dir(store)
    if folder is None or not (folder.exists() or folder.is_symlink()):
        return None
    _check_folder(store, folder)
    path = folder / CHECKPOINT_FILE
    if not path.exists():
        return None
    try:
        with np.load(path) as npz:  # (never pickles: numpy's default allow_pickle is False)
            arrays = {key: npz[key] for key in npz.files}  # reading checks each array's CRC-32
        header = json.loads(arrays.pop("header").tobytes())
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise _damaged(store, f"{exc.__class__.__name__}: {str(exc)[:80]}") from None
    if not isinstance(header, dict) or header.get("format") != CHECKPOINT_FORMAT:
        raise _damaged(store, f"not a {CHECKPOINT_FORMAT} file")
    if header.get("spec_hash") != spec.hash():
        names = [sc.name for sc in spec.scenarios]
        what = (f"scenarios {header.get('scenarios')} ≠ {names}" if header.get("scenarios") != names
                else f"spec hash {str(header.get('spec_hash'))[:12]} ≠ {spec.hash()[:12]}")
        raise StoreError(f"an interrupted refinement of another spec is checkpointed in {folder} ({what}); "
                         "rerun with --overwrite to start over", where=str(store))
    if header.get("options_hash") != _options_hash(senses, options):
        old, now = header.get("options") or {}, _options_identity(senses, options)
        what = ", ".join(f"{key} {old.get(key)!r} → {now[key]!r}" for key in now if old.get(key) != now[key])
        raise StoreError(f"an interrupted refinement with other options is checkpointed in {folder} "
                         f"({what or 'options hash differs'}); rerun with the same options to resume it, or with "
                         "--overwrite to start over", where=str(store))
    try:
        checkpoint = _checked(header, arrays, spec, len(senses))
    except (KeyError, TypeError, ValueError) as exc:
        raise _damaged(store, f"{exc.__class__.__name__}: {str(exc)[:80]}") from None
    return checkpoint


def _checked(header: dict, arrays: dict, spec: SweepSpec, k: int) -> Checkpoint:
    """A :class:`Checkpoint` from a read file, after checking every array's dtype, shape and range."""

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise ValueError(what)

    scenarios = []
    for i, sc in enumerate(spec.scenarios):
        a = {key: arrays[f"{i}/{key}"] for key in ("flats", "values", "level", "lo", "hi", "corners", "pending")}
        shape = tuple(len(ax.values) for ax in sc.axes)
        d = sum(1 for ax in sc.axes if not ax.categorical and len(ax.values) > 1)
        n, known = a["flats"].size, a["flats"].size + a["pending"].size
        need(a["flats"].dtype == np.int64 and a["pending"].dtype == np.int64 and a["level"].dtype == np.int16
             and a["values"].dtype == np.float32 and a["lo"].dtype == a["hi"].dtype == a["corners"].dtype == np.int32,
             f"scenario {sc.name!r}: unexpected dtypes")
        need(a["values"].shape == (n, k + 1) and a["level"].shape == (n,) and a["pending"].ndim == 1,
             f"scenario {sc.name!r}: designs and values differ in length")
        cells = a["lo"].shape[0]
        need(a["lo"].shape == a["hi"].shape == (cells, len(shape)) and a["corners"].shape == (cells, 1 << d),
             f"scenario {sc.name!r}: cells of the wrong shape")
        flats = np.concatenate([a["flats"], a["pending"]])
        need(bool(((flats >= 0) & (flats < math.prod(shape))).all()), f"scenario {sc.name!r}: a point off the grid")
        need(bool(((a["corners"] >= 0) & (a["corners"] < known)).all()), f"scenario {sc.name!r}: a corner unknown")
        need(bool(((a["lo"] >= 0) & (a["lo"] <= a["hi"]) & (a["hi"] < np.array(shape))).all()),
             f"scenario {sc.name!r}: a cell off the grid")
        scenarios.append(a)
    front = arrays["front"]
    need(front.dtype == np.float64 and front.ndim == 2 and front.shape[1] == k, "front of the wrong shape")
    ref = header["ref"]
    need(ref is None or len(ref) == k, "reference of the wrong length")
    stopped = header["stopped"]
    need(stopped in (None, "tolerance"), f"unknown stop {stopped!r}")
    level, history = header["level"], header["history"]
    need(isinstance(level, int) and level >= 1 and isinstance(history, list) and len(history) == level,
         "level and history disagree")
    return Checkpoint(level=level, front=front, ref=None if ref is None else np.asarray(ref, np.float64),
                      previous=header["previous"], stopped=stopped, history=history, seconds=float(header["seconds"]),
                      scenarios=scenarios)


def remove_checkpoint(store: str) -> None:
    """Remove the checkpoint folder of ``store``: only the files dse writes there, then the folder if empty.

    Called once the final store is in place, and by ``--overwrite``; a folder
    that holds anything else is left (with that content) rather than deleted.
    """
    import contextlib

    folder = checkpoint_dir(store)
    if folder is None or not (folder.exists() or folder.is_symlink()):
        return
    _check_folder(store, folder)
    for entry in folder.iterdir():
        # the state file and write_atomic's leftovers of an interrupted write (.state.npz.XXXX.tmp)
        if entry.name == CHECKPOINT_FILE or (entry.name.startswith(f".{CHECKPOINT_FILE}.")
                                              and entry.name.endswith(".tmp")):
            entry.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()


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

