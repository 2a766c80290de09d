"""Commands that write or check a results store: ``dse sweep``, ``dse refine``, ``dse validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dse.cli.root import (
    _check_store_target,
    _human_bytes,
    _objectives,
    _storage_options,
    _title,
    app,
    console,
    err_console,
)
from dse.errors import DseError


@app.command()
def sweep(
    spec: Annotated[Path, typer.Argument(help="Sweep spec YAML file.")],
    output: Annotated[str, typer.Option("-o", "--output", help="Results store (path or s3:// URL).")],
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Address of an existing Dask scheduler.")] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="Start a cluster configured in Dask's config (dse.clusters): "
            "local, slurm, pbs, kubernetes, gateway, or your own.",
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish an interrupted store written from the same spec.")
    ] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
    chunk_size: Annotated[int | None, typer.Option("--chunk-size", help="Designs per block and Zarr chunk.")] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Workers of the embedded or --cluster cluster.")
    ] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="S3 endpoint for s3:// stores.")] = None,
    tls_ca_file: Annotated[
        Path | None, typer.Option("--tls-ca-file", help="CA certificate(s) for a tls:// scheduler (PEM).")
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="Client certificate for a tls:// scheduler (PEM).")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="Client private key for a tls:// scheduler (PEM).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", help="Run even over the design and store-size limits (DSE_MAX_DESIGNS, DSE_MAX_STORE_BYTES)."
        ),
    ] = False,
    break_lock: Annotated[
        bool,
        typer.Option("--break-lock", help="Take the store's lock from a sweep on another host that no longer runs."),
    ] = False,
    coefficients: Annotated[
        Path | None,
        typer.Option(
            "--coefficients",
            help="CE coefficients YAML (e.g. from 'dse calibrate --cells') for every scenario; its hash is stored.",
        ),
    ] = None,
) -> None:
    """Evaluate every design of a sweep spec on Dask and write a Zarr store.

    Runs on an embedded LocalCluster, an existing scheduler (--scheduler, with
    --tls-* for tls://) or a named cluster from Dask's config (--cluster);
    see deploy/README.md.
    """
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    from dse.spec import load_sweep
    from dse.sweep import run_sweep

    if resume and overwrite:
        raise DseError("choose --resume or --overwrite, not both")
    if workers is not None:
        from dse.safety import check_count

        check_count(workers, "--workers")  # before anything is read or written
    if scheduler and cluster:
        raise DseError("choose --scheduler or --cluster, not both")
    from dse.clusters import check_cluster, tls_security

    security = tls_security(tls_ca_file, tls_cert, tls_key)
    if security is not None and not scheduler:
        raise DseError(
            "--tls-ca-file, --tls-cert and --tls-key apply to --scheduler; a named cluster brings its own security"
        )
    if cluster:
        check_cluster(cluster)  # unknown name, missing package or batch command: fail before any work
    _check_store_target(output)
    parsed = load_sweep(spec, chunk_size=chunk_size, coefficients=coefficients)
    from dse.limits import check_estimate, estimate_sweep

    estimate = estimate_sweep(parsed)
    if not yes:
        check_estimate(estimate, where=str(spec))  # before any work
    console.print(
        f"[bold]{_title(parsed.name)}[/bold]: {estimate.describe()} in {len(parsed.scenarios)} "
        f"scenario(s) → {_title(output, 1000)}"
    )

    class Rate(ProgressColumn):
        def render(self, task):
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} designs/s" if speed else "– designs/s", style="cyan")

    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        Rate(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    bar = Progress(*columns, console=console, disable=quiet, transient=False)
    task = bar.add_task("designs", total=parsed.n_designs)

    def on_start(client, summary):
        link = getattr(client, "dashboard_link", None)
        n = len(client.scheduler_info().get("workers", {}))
        console.print(
            f"Dask: {n} workers"
            + (" yet (blocks wait for them)" if n == 0 else "")
            + (f", dashboard {link}" if link else "")
        )
        if summary.skipped_blocks:
            console.print(f"resuming: {summary.skipped_blocks} block(s) already done, {summary.blocks} to go")
        if summary.damaged_blocks:
            console.print(
                f"{summary.damaged_blocks} damaged block(s) found (chunks missing or failing their "
                "checksum): evaluating them again"
            )

    with bar:
        summary = run_sweep(
            parsed,
            output,
            scheduler=scheduler,
            resume=resume,
            overwrite=overwrite,
            n_workers=workers,
            storage_options=_storage_options(endpoint_url),
            progress=lambda done, total: bar.update(task, completed=done),
            on_start=on_start,
            cluster=cluster,
            security=security,
            break_lock=break_lock,
        )
    t = Table(box=None, show_header=False, pad_edge=False)
    t.add_row("designs", f"{summary.designs:,}")
    t.add_row(
        "evaluated now",
        f"{summary.evaluated:,} in {summary.blocks} block(s) ({summary.skipped_blocks} block(s) already done)",
    )
    pct = 100 * summary.feasible / summary.designs if summary.designs else 0
    t.add_row("feasible", f"{summary.feasible:,} ({pct:.1f} %)")
    t.add_row("time", f"{summary.seconds:.1f} s" + (f" ({summary.rate:,.0f} designs/s)" if summary.evaluated else ""))
    t.add_row("store", f"{_title(output, 1000)} ({_human_bytes(summary.store_bytes)})")
    console.print(t)
    if summary.damaged_blocks:
        console.print(f"{summary.damaged_blocks} damaged blocks re-evaluated")


class RefineInterrupted(DseError):
    """Ctrl-C during ``dse refine`` (exit status 130): says where the finished levels are kept."""

    exit_code = 130


@app.command()
def refine(
    spec: Annotated[Path, typer.Argument(help="Grid sweep spec YAML file: the fine grid whose front is wanted.")],
    output: Annotated[str, typer.Option("-o", "--output", help="Results store to write (path or s3:// URL).")],
    objective: Annotated[
        list[str] | None,
        typer.Option("--objective", help="NAME:max or NAME:min (repeatable); default: every dse_sense output."),
    ] = None,
    coarse: Annotated[
        int | None,
        typer.Option(
            "--coarse", help="Index ranges per numeric axis at level 0 (default: the spec's refine: coarse, else 2)."
        ),
    ] = None,
    margin: Annotated[
        float | None,
        typer.Option("--margin", help="Widen each cell's bound by this share of its corners' spread (default 0)."),
    ] = None,
    tolerance: Annotated[
        float | None,
        typer.Option("--tolerance", help="Stop once the hypervolume changes by less than this fraction (approximate)."),
    ] = None,
    budget: Annotated[int | None, typer.Option("--budget", help="Most designs to evaluate (approximate).")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Address of an existing Dask scheduler.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Workers of the embedded cluster.")] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Replace an existing store and start over (discarding the checkpoint of an interrupted run).",
        ),
    ] = False,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="S3 endpoint for s3:// stores.")] = None,
) -> None:
    """Front of a fine grid by adaptive refinement: evaluate only the cells that can hold front designs.

    Options left out come from the spec's refine: mapping (objectives, coarse, margin, tolerance, budget).
    Every finished level is checkpointed beside a local store (OUT.zarr.dse-refine); rerunning the same
    command after an interruption resumes from the last finished level.
    """
    from dse.refine import (
        checkpoint_dir,
        describe,
        read_checkpoint,
        refine_options,
        remove_checkpoint,
        write_refined,
    )
    from dse.refine import refine as run_refine
    from dse.spec import load_sweep
    from dse.store import check_target
    from dse.sweep import _client

    objectives = _objectives(objective)
    if budget is not None and budget < 1:
        raise DseError(f"expected a number of designs ≥ 1, got {budget}", where="--budget")
    if tolerance is not None and not (0.0 <= tolerance < 1.0):
        raise DseError(f"expected a fraction in [0, 1), got {tolerance:g}", where="--tolerance")
    _check_store_target(output)
    options = _storage_options(endpoint_url)
    check_target(output, False, overwrite, options)
    parsed = load_sweep(spec)
    senses, used = refine_options(parsed, objectives, coarse=coarse, margin=margin, tolerance=tolerance, budget=budget)
    if overwrite:
        remove_checkpoint(output)
    else:
        read_checkpoint(output, parsed, senses, used)  # refuse another spec's or a damaged one before any work
    console.print(
        f"[bold]{_title(parsed.name)}[/bold]: refining a grid of {parsed.n_designs:,} designs → {_title(output, 1000)}"
    )

    def show(record: dict) -> None:
        console.print(
            f"level {record['level']}: {record['cells']:,} cells, {record['new']:,} new designs "
            f"({record['evaluated']:,} in all), front {record['front']:,}, hypervolume "
            f"{record['hypervolume']:.6g}, {record['seconds']:.1f} s",
            markup=False,
            highlight=False,
        )

    def resuming(level: int, evaluated: int) -> None:
        console.print(
            f"resuming at level {level}: {evaluated:,} designs already evaluated", markup=False, highlight=False
        )

    try:
        with _client(scheduler, None, workers) as client:
            result = run_refine(parsed, senses, client=client, progress=show, on_resume=resuming, store=output, **used)
    except KeyboardInterrupt:
        folder = checkpoint_dir(output)
        kept = (
            f"finished levels are kept in {folder}; rerun the same command to resume"
            if folder
            else "nothing is kept (remote stores are not checkpointed)"
        )
        raise RefineInterrupted(f"interrupted: {kept}", where=output) from None
    write_refined(result, parsed, output, overwrite=overwrite, storage_options=options)
    remove_checkpoint(output)  # only once the store is in place
    console.print(describe(result), markup=False, highlight=False)
    console.print(f"wrote {output}: 'dse pareto {output}' gives its front", markup=False, highlight=False)


@app.command()
def validate(
    store: Annotated[str, typer.Argument(help="Results store (path or URL).")],
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="S3 endpoint for s3:// stores.")] = None,
    full: Annotated[
        bool,
        typer.Option("--full", help="Also read every chunk: checksums, chunks of completed blocks, feasible flags."),
    ] = False,
) -> None:
    """Check a results store against docs/results-spec.md."""
    from dse.store.validate import validate_report

    problems, warnings = validate_report(store, _storage_options(endpoint_url), full=full)
    for w in warnings:
        err_console.print(f"warning: {store}: {w}", markup=False, highlight=False, soft_wrap=True)
    if problems:
        for p in problems:
            err_console.print(f"{store}: {p}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"{store}: valid" + (", every chunk read" if full else ""), markup=False, highlight=False)
