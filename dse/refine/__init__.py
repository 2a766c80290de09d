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
   The bookkeeping is in numba (:mod:`dse.refine.cells`): each cell carries
   the rows of its corners, so a split looks up only the new points of the
   parent's 3^d lattice, in a hash table of that split's points alone (no
   earlier split can have made them: :func:`~dse.refine.cells.split_cells`).
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

One module per job; this package re-exports every name ``dse.refine`` had as a
single module:

==============  =============================================================
``loop``        :func:`refine`, :func:`refine_options`, :class:`RefineResult`, :func:`describe`
``grid``        one scenario's grid during refinement; evaluating its points (``THREADS``, Dask)
``checkpoint``  the state after every level: :func:`read_checkpoint`, :func:`remove_checkpoint`
``writing``     :func:`write_refined`: a refinement as a results store
``cells``       numba: corners, bounds and split of cells (formerly ``dse.refine_cells``)
``points``      numba: :class:`~dse.refine.points.PointTable`, a hash table of grid points (one per split)
``dominance``   numba: :func:`~dse.refine.dominance.front_index`, dominance of a bound by a front
``memory``      :func:`~dse.refine.memory.refinement_memory`, :func:`~dse.refine.memory.growable`: few page faults
==============  =============================================================
"""

from __future__ import annotations

# every name of the former module is re-exported, the private ones imported as
# themselves; replacing _evaluate here does not reach _Scenario, which looks it up
# in dse.refine.grid (the tests patch it there)
from dse.refine.checkpoint import (
    CHECKPOINT_FILE,
    CHECKPOINT_FORMAT,
    Checkpoint,
    checkpoint_dir,
    read_checkpoint,
    remove_checkpoint,
)
from dse.refine.checkpoint import _check_folder as _check_folder
from dse.refine.checkpoint import _checked as _checked
from dse.refine.checkpoint import _damaged as _damaged
from dse.refine.checkpoint import _options_hash as _options_hash
from dse.refine.checkpoint import _options_identity as _options_identity
from dse.refine.checkpoint import _save_checkpoint as _save_checkpoint
from dse.refine.grid import DASK_MIN_BATCH, TASK_SIZE, THREAD_MIN_BATCH, THREADS
from dse.refine.grid import _evaluate as _evaluate
from dse.refine.grid import _PointEvaluator as _PointEvaluator
from dse.refine.grid import _Scenario as _Scenario
from dse.refine.grid import _task as _task
from dse.refine.loop import RefineResult, describe, refine, refine_options
from dse.refine.loop import _objective_check as _objective_check
from dse.refine.loop import _volume as _volume
from dse.refine.writing import _dataset as _dataset
from dse.refine.writing import _write as _write
from dse.refine.writing import write_refined

__all__ = [
    "refine",
    "refine_options",
    "RefineResult",
    "DASK_MIN_BATCH",
    "Checkpoint",
    "checkpoint_dir",
    "read_checkpoint",
    "remove_checkpoint",
    # public names that were not listed before the split
    "describe",
    "write_refined",
    "THREADS",
    "THREAD_MIN_BATCH",
    "TASK_SIZE",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FILE",
]
