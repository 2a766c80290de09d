"""The refinement loop: evaluate the corners of the live cells, update the front, prune and split, repeat.

The algorithm, its assumption and when it stops are written down in
:mod:`dse.refine` (and ``docs/pareto.md``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from dse.errors import SpecError
from dse.pareto import _exact_front, _signs
from dse.refine.checkpoint import _save_checkpoint, read_checkpoint
from dse.refine.dominance import new_candidates
from dse.refine.grid import _Scenario
from dse.refine.memory import refinement_memory
from dse.spec import SweepSpec

__all__ = ["refine", "refine_options", "describe", "RefineResult"]


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
        """Designs evaluated, over every scenario."""
        return int(sum(p.size for p in self.points.values()))

    @property
    def exact(self) -> bool:
        """Whether every live cell was refined to single grid steps (exact under the monotonicity assumption)."""
        return self.stopped == "exact"


def _objective_check(spec: SweepSpec, objectives: Mapping[str, str]) -> None:
    for name in objectives:
        if name not in spec.outputs:
            raise SpecError(
                f"objective {name!r} is not an output of the spec (outputs: {', '.join(spec.outputs)})",
                where="--objective",
            )


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
            raise SpecError(
                f"scenario {sc.name!r} is sampled: refinement needs a grid (linspace, logspace or lists)",
                where=spec.source,
            )
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
    with refinement_memory():
        return _refine(spec, objectives, coarse, margin, tolerance, budget, client, progress, store, on_resume)


def _refine(spec, objectives, coarse, margin, tolerance, budget, client, progress, store, on_resume) -> RefineResult:
    t0 = time.perf_counter()
    senses, options = refine_options(spec, objectives, coarse=coarse, margin=margin, tolerance=tolerance, budget=budget)
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
        cells = int(sum(s.cells for s in states))
        new = int(sum(s.pending.size for s in states))
        if not cells and not new:
            stopped = "exact"
            break
        if budget is not None and sum(s.n for s in states) + new > budget:
            stopped = "budget"
            break
        candidates = [front]
        for s in states:  # the front of a union: of the fronts
            candidates.append(new_candidates(s.evaluate_pending(level), signs, front))
        x = np.ascontiguousarray(np.concatenate(candidates))
        front = np.ascontiguousarray(x[_exact_front(x)])
        if ref is None and len(front):
            ref = front.min(axis=0)
        volume = _volume(front, ref) if ref is not None else 0.0
        record = {
            "level": level,
            "cells": cells,
            "new": new,
            "evaluated": int(sum(s.n for s in states)),
            "front": int(len(front)),
            "hypervolume": volume,
            "seconds": round(time.perf_counter() - t0, 3),
        }
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
            _save_checkpoint(
                store,
                spec,
                senses,
                options,
                states,
                level=level,
                front=front,
                ref=ref,
                previous=previous,
                stopped=stopped,
                history=result.history,
                seconds=time.perf_counter() - t0,
            )
    result.stopped = stopped
    for s in states:
        result.points[s.name] = s.flats
        result.values[s.name] = s.values[: s.n].T  # a view, not a copy: the array is no longer written
        result.levels[s.name] = s.level
    result.seconds = time.perf_counter() - t0
    return result


def describe(result: RefineResult) -> str:
    """One line: evaluated designs against the grid, and how the run stopped."""
    share = result.evaluated / result.grid_designs if result.grid_designs else math.nan
    how = {
        "exact": "every live cell refined to single grid steps (exact under the monotonicity assumption)",
        "tolerance": "hypervolume change below the tolerance (approximate)",
        "budget": "design budget reached (approximate)",
    }[result.stopped]
    return (
        f"{result.evaluated:,} of {result.grid_designs:,} grid designs evaluated ({share:.3g}) in "
        f"{len(result.history)} level(s), {result.seconds:.1f} s: {how}"
    )
