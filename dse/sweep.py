"""Run a sweep: spec → design spaces → Dask tasks (one per block) → Zarr regions.

The client validates everything, writes the store template, then submits one
task per missing block. A task rebuilds the scenario's design space and model
chain (cached per worker process), evaluates its block with the fused kernel,
writes its region and marks it complete. Interrupting loses at most the
blocks in flight; ``--resume`` finishes the rest.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from dse.design import DesignSpace
from dse.errors import DseError, StoreError
from dse.spec import SweepSpec, parse_sweep
from dse.store import (
    check_target,
    create_store,
    finalize_store,
    read_root_attrs,
    remove_derived,
    scenario_groups,
    set_status,
    store_size,
    write_block,
)
from dse.vocabulary import INPUTS

if TYPE_CHECKING:
    from distributed.deploy import Cluster

__all__ = ["run_sweep", "SweepSummary", "SweepInterrupted", "evaluate_space_block", "Block"]


@dataclass(frozen=True)
class Block:
    """One task: a block of one scenario of one sweep."""

    spec_data: dict
    spec_source: str
    base_dir: str | None
    chunk_size: int
    spec_hash: str
    scenario: str
    group: str
    block: int
    path: str
    storage_options: dict | None = None


@dataclass
class SweepSummary:
    """What a finished sweep did: designs, blocks written and skipped, time, store size."""

    designs: int = 0
    evaluated: int = 0
    feasible: int = 0
    blocks: int = 0
    skipped_blocks: int = 0
    seconds: float = 0.0
    store_bytes: int = 0
    path: str = ""
    per_scenario: dict = field(default_factory=dict)
    damaged_blocks: int = 0  # completed blocks found damaged on --resume, evaluated again

    @property
    def rate(self) -> float:
        """Designs evaluated per second of the sweep (NaN when it took no time)."""
        return self.evaluated / self.seconds if self.seconds > 0 else math.nan

    def as_dict(self) -> dict:
        """The summary as JSON-ready data (what the finished store keeps in its attributes)."""
        return {
            "designs": self.designs,
            "evaluated": self.evaluated,
            "feasible": self.feasible,
            "blocks": self.blocks,
            "skipped_blocks": self.skipped_blocks,
            "seconds": round(self.seconds, 3),
            "designs_per_second": round(self.rate, 1) if math.isfinite(self.rate) else None,
            "store_bytes": self.store_bytes,
            "damaged_blocks": self.damaged_blocks,
        }


# --------------------------------------------------------------------------- worker side
_WORKER_CACHE: dict = {}


def _prepare(task: Block):
    """Spec, spaces and chains, built once per process and spec.

    The worker re-validates the spec from its data and checks that it arrives
    at the same hash as the client: a worker with another dse version,
    catalogue or coefficients file refuses instead of writing other numbers.
    """
    import json
    from pathlib import Path

    key = (json.dumps(task.spec_data, sort_keys=True, default=str), task.chunk_size, task.spec_hash)
    if key not in _WORKER_CACHE:
        from dse.modelchain import ModelChain

        spec = parse_sweep(
            task.spec_data,
            source=task.spec_source,
            chunk_size=task.chunk_size,
            base_dir=Path(task.base_dir) if task.base_dir else None,
        )
        if spec.hash() != task.spec_hash:
            raise StoreError(
                "this worker evaluates the spec differently (another dse version, catalogue or "
                "coefficients); install the same dse on every worker",
                where=task.path,
            )
        spaces = {s.name: DesignSpace(s, spec.chunk_size) for s in spec.scenarios}
        chains = {s.name: ModelChain.from_design(s, uncertainty=spec.uncertainty) for s in spec.scenarios}
        _WORKER_CACHE.clear()
        _WORKER_CACHE[key] = (spec, spaces, chains)
    return _WORKER_CACHE[key]


#: per worker thread: the output array of its last block, reused for the next
_SCRATCH = threading.local()


def _scratch(size: int) -> np.ndarray:
    """A flat float32 array of at least ``size`` values owned by the calling thread.

    Every block of a sweep has the same size but the last, and each is
    written to the store before the task ends, so a thread can evaluate every
    block into the same memory. Fresh memory would instead be zeroed by the
    operating system page by page, which costs up to a quarter of the kernel's time.
    """
    buffer = getattr(_SCRATCH, "buffer", None)
    if buffer is None or buffer.size < size:
        buffer = _SCRATCH.buffer = np.empty(size, np.float32)
    return buffer


def evaluate_space_block(
    space: DesignSpace, chain, block: int, outputs: tuple[str, ...], out: np.ndarray | None = None
):
    """Evaluate one block: ``(values (n_out, n), sampled inputs, block shape, region)``.

    ``out``: a flat float32 array of at least ``n_out · n`` values to hold ``values``
    (see :func:`dse.models.kernel.run_kernel_block`).
    """
    shape, axis_of, starts, values, sampled = space.kernel_inputs(block, chain)
    if out is not None:
        out = out[: len(outputs) * int(np.prod(shape))].reshape(len(outputs), -1)
    out = chain.evaluate_block(shape, axis_of, starts, values, outputs, out=out)
    return out, sampled, shape, space.block_slices(block)


def _run_block(task: Block) -> tuple[str, int, int, int, float]:
    t0 = time.perf_counter()
    spec, spaces, chains = _prepare(task)
    space, chain = spaces[task.scenario], chains[task.scenario]
    # the values are written to the store below and not kept, so the thread's scratch array can hold them
    scratch = _scratch(len(spec.outputs) * space.block_size)
    values, sampled, shape, region = evaluate_space_block(space, chain, task.block, spec.outputs, out=scratch)
    categories = {
        x.name: list(x.choices) for x in space.scenario.sampled if x.choices is not None and INPUTS[x.name].categorical
    }
    feasible = write_block(
        task.path,
        task.group,
        task.block,
        region,
        shape,
        spec.outputs,
        values,
        sampled,
        categories,
        task.storage_options,
    )
    return task.scenario, task.block, int(np.prod(shape)), feasible, time.perf_counter() - t0


# --------------------------------------------------------------------------- client side
@contextlib.contextmanager
def _client(scheduler: str | Cluster | None, cluster: str | None, n_workers: int | None, security=None):
    """A client on a scheduler (address or running cluster), or on a named cluster started here."""
    from dse.clusters import connect, open_cluster

    if scheduler is not None:
        with connect(scheduler, security=security) as client:
            yield client
        return
    with open_cluster(cluster or "local", workers=n_workers) as running, connect(running) as client:
        yield client


def _warm_kernel(spaces, chains, outputs) -> None:
    """Compile the kernel once in the client so workers load it from the numba cache."""
    name = next(iter(spaces))
    space, chain = spaces[name], chains[name]
    shape, axis_of, starts, values, _ = space.kernel_inputs(0, chain)
    idx = [0] * len(shape)
    # a one-design block at the first design
    one = []
    for a, st in zip(axis_of, starts, strict=True):
        one.append(values[st + (idx[a] if a >= 0 else 0)])
    chain.evaluate_block((1,), [-1] * len(one), list(range(len(one))), np.asarray(one), outputs)


def run_sweep(
    spec: SweepSpec,
    output: str,
    scheduler: str | Cluster | None = None,
    resume: bool = False,
    overwrite: bool = False,
    n_workers: int | None = None,
    storage_options: Mapping | None = None,
    progress: Callable | None = None,
    on_start: Callable | None = None,
    cluster: str | None = None,
    security=None,
    break_lock: bool = False,
) -> SweepSummary:
    """Evaluate every design of ``spec`` and write them to ``output``.

    Parameters
    ----------
    spec : SweepSpec
    output : str
        Store path or URL.
    scheduler : str or distributed.deploy.Cluster, optional
        Address of an existing Dask scheduler, or a running cluster object.
    resume, overwrite : bool
        Finish an interrupted store with the same spec / replace an existing one.
    n_workers : int, optional
        Workers of the cluster started here (default: the configured
        number; one per core for the embedded LocalCluster).
    storage_options : mapping, optional
        fsspec options for remote stores.
    progress : callable, optional
        Called as ``progress(done_designs, total_designs)`` after each block.
    on_start : callable, optional
        Called as ``on_start(client, summary)`` once the client is ready.
    cluster : str, optional
        Without ``scheduler``: the named cluster to start for this sweep and
        close after it (``dse.clusters`` in Dask's config,
        :func:`dse.clusters.open_cluster`); default ``"local"``, an embedded
        LocalCluster.
    security : distributed.security.Security, optional
        TLS settings for a ``tls://`` scheduler address
        (:func:`dse.clusters.tls_security`); default: Dask's config.
    break_lock : bool, default False
        Take the store's lock even from a writer on another host (:mod:`dse.store.locks`).

    Raises
    ------
    DseError
        On any problem with the spec, the target or the cluster; a failing
        block, or losing the scheduler, stops the sweep and leaves completed
        blocks in place for ``resume``.
    LockError
        When another sweep writes the same store (nothing is touched).
    """
    from dse.safety import check_count
    from dse.store.locks import StoreLock

    if n_workers is not None:
        check_count(n_workers, "--workers")  # 0 or fewer workers would wait forever: refuse before anything
    if scheduler is not None and cluster is not None:
        raise DseError("give a scheduler or a cluster name, not both")
    if isinstance(scheduler, str):
        from dse.clusters import check_scheduler

        check_scheduler(scheduler, security)  # unreachable, or TLS mismatch: fail before writing anything
    check_target(output, resume, overwrite, storage_options)  # its messages first; checked again under the lock
    with StoreLock(output, storage_options, break_lock=break_lock):
        return _write_sweep(
            spec,
            output,
            scheduler,
            cluster,
            security,
            resume,
            overwrite,
            n_workers,
            storage_options,
            progress,
            on_start,
        )


def _write_sweep(
    spec, output, scheduler, cluster, security, resume, overwrite, n_workers, storage_options, progress, on_start
) -> SweepSummary:
    """:func:`run_sweep` with the store's lock held."""
    from dse.modelchain import ModelChain

    storage_options = dict(storage_options) if storage_options else None
    spaces = {s.name: DesignSpace(s, spec.chunk_size) for s in spec.scenarios}
    chains = {s.name: ModelChain.from_design(s, uncertainty=spec.uncertainty) for s in spec.scenarios}
    groups = scenario_groups(spec)
    resuming = check_target(output, resume, overwrite, storage_options)
    if resuming:
        try:
            attrs = read_root_attrs(output, storage_options)
        except StoreError as exc:
            raise StoreError(
                f"nothing to resume: {exc.message}; if an older dse was interrupted while writing "
                "its template there, delete it and run the sweep again",
                where=output,
            ) from None
        used = next(iter(chains.values())).coefficients.hash()
        stored = attrs.get("dse_ce_coefficients_hash")
        if stored and stored != used:
            raise StoreError(
                f"was written with other CE coefficients (sha256 {stored[:12]}, this sweep uses {used[:12]}); "
                "resume with the same coefficients (--coefficients or ce_coefficients:), or use --overwrite",
                where=output,
            )
        if attrs.get("dse_spec_hash") != spec.hash():
            raise StoreError(
                "was written from a different spec (or catalogue, coefficients, chunk size); "
                "resume with the same spec, or use --overwrite",
                where=output,
            )
        done, damaged = _blocks_to_redo(output, groups, storage_options)
    else:
        done = {name: np.zeros(spaces[name].n_blocks, dtype=np.uint8) for name in groups}
        damaged = 0

    summary = SweepSummary(designs=spec.n_designs, path=output, damaged_blocks=damaged)
    spec_hash = spec.hash()
    tasks = []
    for name, space in spaces.items():
        for b in range(space.n_blocks):
            if done[name][b]:
                summary.skipped_blocks += 1
                continue
            tasks.append(
                Block(
                    spec.data,
                    spec.source,
                    spec.base_dir,
                    spec.chunk_size,
                    spec_hash,
                    name,
                    groups[name],
                    b,
                    output,
                    storage_options,
                )
            )
    summary.blocks = len(tasks)
    already = sum(
        int(np.prod([s.stop - s.start for s in spaces[n].block_slices(b)]))
        for n in groups
        for b in range(spaces[n].n_blocks)
        if done[n][b]
    )
    t0 = time.perf_counter()
    if tasks:
        from asyncio import CancelledError

        from distributed import as_completed

        from dse.clusters import scheduler_lost

        begin = functools.partial(_begin_writing, output, spec, spaces, chains, resuming, overwrite, storage_options)
        with _started(
            scheduler, cluster, n_workers, security, begin, (spaces, chains, spec.outputs), output, resuming
        ) as client:
            if on_start:
                on_start(client, summary)
            futures = client.map(_run_block, tasks, pure=False)
            finished = already
            try:
                for fut in as_completed(futures):
                    try:
                        scen, _, n, feasible, _ = fut.result()
                    except DseError:
                        raise
                    except (Exception, CancelledError) as exc:
                        if scheduler_lost(exc, client):
                            raise StoreError(
                                "lost the Dask scheduler mid-sweep (it stopped, restarted or became "
                                "unreachable); finished blocks are kept: restart the cluster and "
                                "rerun with --resume",
                                where=output,
                            ) from None
                        raise StoreError(
                            f"a block failed: {exc.__class__.__name__}: {str(exc)[:200]}; "
                            "finished blocks are kept, rerun with --resume",
                            where=output,
                        ) from None
                    summary.evaluated += n
                    summary.feasible += feasible
                    stats = summary.per_scenario.setdefault(scen, {"designs": 0, "feasible": 0})
                    stats["designs"] += n
                    stats["feasible"] += feasible
                    finished += n
                    if progress:
                        progress(finished, summary.designs)
            except BaseException:
                if client.status == "running":
                    with contextlib.suppress(Exception):
                        client.cancel(futures)
                raise
    else:
        if not resuming:  # every scenario has at least one block: not reached, kept for safety
            create_store(output, spec, spaces, chains, overwrite=overwrite, storage_options=storage_options)
        if progress:
            progress(already, summary.designs)
    summary.seconds = time.perf_counter() - t0
    if resuming:
        summary.feasible = _count_feasible(output, storage_options)
    finalize_store(output, summary.as_dict(), storage_options)
    summary.store_bytes = store_size(output, storage_options)
    return summary


def _blocks_to_redo(path: str, groups: Mapping[str, str], storage_options) -> tuple[dict[str, np.ndarray], int]:
    """The completion records of a store being resumed, with every damaged block marked not done.

    Every chunk is checked (presence in completed blocks, file type,
    checksum; not decompressed): a completed block with a damaged chunk is
    evaluated again. Links and empty directories in place of a chunk are
    removed first (:func:`dse.store.integrity.clear_foreign`).

    Returns
    -------
    done : dict
        Scenario → completion record (1 = nothing to do).
    damaged : int
        Completed blocks found damaged.

    Raises
    ------
    StoreError
        Damage a block cannot repair (a coordinate), or a scenario without a
        completion record.
    """
    from dse.store.integrity import DERIVED, clear_foreign, scan_store

    scan = scan_store(path, storage_options, decode=False)
    for name in groups:
        if name not in scan.completed:
            raise StoreError("has no completion record (_dse/completed)", where=f"{path}/{groups[name]}")
    done = {name: scan.completed[name].copy() for name in groups}
    redo: set[tuple[str, int]] = set()
    for d in scan.damage:
        if d.chunk.partition("/")[0] in DERIVED:
            continue  # not written by a block: dse pareto writes it again
        if d.block is None:
            raise StoreError(d.line(path), where=path)
        clear_foreign(path, d)
        if d.chunk.startswith("_dse/") or done[d.scenario][d.block]:
            redo.add((d.scenario, d.block))
        done[d.scenario][d.block] = 0
    return done, len(redo)


@contextlib.contextmanager
def _started(
    scheduler, cluster, n_workers, security, begin: Callable[[], None], warm: tuple, output: str, resuming: bool
):
    """The client, once the first block's inputs, the cluster and the store (``begin``) are ready.

    Everything that can fail at the start runs before the target changes, so a
    failed start leaves it as it was; Ctrl-C during the start says so
    (:class:`SweepInterrupted`) instead of advising ``--resume``.
    """
    stack = contextlib.ExitStack()
    try:
        _warm_kernel(*warm)
        client = stack.enter_context(_client(scheduler, cluster, n_workers, security))
        begin()
    except KeyboardInterrupt:
        stack.close()
        raise _interrupted_before_start(output, resuming) from None
    except BaseException:
        stack.close()
        raise
    with stack:
        yield client


def _begin_writing(output: str, spec, spaces, chains, resuming: bool, overwrite: bool, storage_options) -> None:
    """Make the store ready for blocks: a new template, or (resuming) derived results removed.

    A store that is written to again no longer matches its derived results
    (``pareto_front``, …), so they go before the first block is written.
    """
    if not resuming:
        create_store(output, spec, spaces, chains, overwrite=overwrite, storage_options=storage_options)
        return
    remove_derived(output, storage_options)
    set_status(output, "running", storage_options)


def _interrupted_before_start(output: str, resuming: bool) -> SweepInterrupted:
    if resuming:
        return SweepInterrupted(
            "interrupted before any block was written: the store is as it was; rerun with --resume", where=output
        )
    return SweepInterrupted(
        "interrupted before the new store was in place: nothing was changed; run the sweep again", where=output
    )


class SweepInterrupted(StoreError):
    """Ctrl-C during the start of a sweep, before any block was written (exit status 130)."""

    exit_code = 130


def _count_feasible(path: str, storage_options) -> int:
    from dse.store import open_results

    return int(sum(int(ds.feasible.sum().compute()) for ds in open_results(path, storage_options).values()))
