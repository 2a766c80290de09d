"""The ``dse`` command line (DESIGN.md §3 is its contract).

Errors raised at the edges (:class:`~dse.errors.DseError`) are printed as one
line on stderr and the command exits with status 2; nothing else is printed.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from dse.errors import DseError

app = typer.Typer(
    name="dse",
    help="Design-space exploration of anode-free Li, Na and K metal cells.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
materials_app = typer.Typer(help="List and show the materials catalogue.", no_args_is_help=True)
app.add_typer(materials_app, name="materials")
from dse.catalog.cli import catalog_app  # noqa: E402 - the sub-app is registered with the others

app.add_typer(catalog_app, name="catalog")

console = Console()
if not console.is_terminal:  # files and pipes: do not wrap tables at 80 columns
    console = Console(width=160)
err_console = Console(stderr=True)
#: longest name or title printed (a longer one is cut: rich renders long unbroken text in quadratic time)
MAX_TITLE = 200
#: set by the global --debug flag: unexpected errors then show their traceback
_DEBUG = False


def _version(value: bool) -> None:
    if value:
        from dse import __version__

        typer.echo(f"dse {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an unexpected error.")] = False,
) -> None:
    """Design-space exploration of anode-free Li, Na and K metal cells."""
    global _DEBUG
    _DEBUG = debug


def _title(text: object, limit: int = MAX_TITLE) -> str:
    """A user-given name for a rich markup string: cut to ``limit`` characters, markup escaped.

    >>> print(_title("[/x]"))
    \\[/x]
    >>> len(_title("x" * 100_000))
    200
    """
    from rich.markup import escape

    text = str(text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return escape(text)


def _check_writable(path: str | Path | None, option: str, shown: str | None = None) -> None:
    """Refuse, before any work, an output file that cannot be written.

    The folder must exist; a new file is probed by creating it and removing it
    at once (which also catches names too long, read-only and pseudo file
    systems); an existing one must be a writable regular file.
    """
    if path is None or "://" in str(path):
        return
    where = f"{option} {shown or path}"
    try:
        target = Path(path)
        parent = target.parent if str(target.parent) else Path(".")
        if target.is_dir():
            raise DseError("is a directory, not a file", where=where)
        if not parent.is_dir():
            raise DseError(f"folder {parent} does not exist", where=where)
        if target.exists():
            if not target.is_file() or not os.access(target, os.W_OK):
                raise DseError("exists and is not a writable regular file", where=where)
            return
        with open(target, "xb"):
            pass
        target.unlink()
    except OSError as exc:
        raise DseError(f"cannot be written ({exc.strerror or exc.__class__.__name__})", where=where) from None
    except ValueError as exc:  # an embedded NUL byte
        raise DseError(f"is not a valid path ({exc})", where=where) from None


def _check_store_target(output: str) -> None:
    """Refuse, before any work, a local store path whose nearest existing folder cannot be written."""
    if "://" in output:
        return
    where = f"-o {output}"
    try:
        path = Path(output).absolute()
        if any(len(part.encode()) > 255 for part in path.parts):
            raise DseError("has a name longer than 255 bytes", where=where)
        ancestor = path if path.exists() else path.parent
        while not ancestor.exists():
            ancestor = ancestor.parent
    except (OSError, ValueError) as exc:
        raise DseError(f"is not a usable path ({exc})", where=where) from None
    if not ancestor.is_dir():
        raise DseError(f"{ancestor} is a file, not a folder", where=where)
    _check_writable(ancestor / f".dse-probe-{os.getpid()}", "-o", shown=output)


def _fmt(value: float, digits: int = 4) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if abs(value) >= 1e5 or (value != 0 and abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.{digits}g}"


def _objectives(items: list[str] | None) -> dict[str, str] | None:
    """``--objective NAME:max|min`` options as ``{name: sense}`` (None when none is given)."""
    if not items:
        return None
    objectives = {}
    for item in items:
        name, _, sense = item.partition(":")
        if sense not in ("max", "min"):
            raise DseError(f"expected NAME:max or NAME:min, got {item!r}", where="--objective")
        objectives[name] = sense
    return objectives


# --------------------------------------------------------------------------- evaluate
@app.command()
def evaluate(
    design: Annotated[Path, typer.Argument(help="Design YAML file.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    uncertainty: Annotated[bool, typer.Option("--uncertainty", help="Show the 10th/90th percentile of cycle life.")] = False,
    curve: Annotated[
        str | None,
        typer.Option("--curve", help="Print capacity vs cycle ('-') or write it as a PNG plot (path ending in .png)."),
    ] = None,
) -> None:
    """Evaluate one design: energy, lifetime, cost, feasibility and per-layer breakdown."""
    from dse.evaluate import evaluate_design
    from dse.spec import load_design

    if curve and curve.endswith(".png"):
        _check_writable(curve, "--curve")
    ev = evaluate_design(load_design(design), uncertainty=True)
    if json_output:
        data = ev.to_dict()
        if not uncertainty:
            data["outputs"].pop("cycle_life_p10", None)
            data["outputs"].pop("cycle_life_p90", None)
        if curve:
            n, cap = ev.curve()
            data["curve"] = {"cycle": n.tolist(), "capacity": cap.tolist(), "units": "mAh/cm^2"}
        typer.echo(json.dumps(data, indent=2))
        return
    _print_evaluation(ev, uncertainty)
    if curve:
        _curve(ev, curve)


def _print_evaluation(ev, uncertainty: bool) -> None:
    from dse.evaluate import EXTRA_UNITS, LAYERS
    from dse.vocabulary import OUTPUTS

    o = ev.outputs
    title = ev.design.name or ev.design.source
    console.print(f"[bold]{_title(title)}[/bold]")
    pouch = math.isfinite(o["cell_capacity"])
    groups = {
        "Energy": ["specific_energy", "energy_density"]
        + (["specific_energy_system", "energy_density_system", "cell_capacity", "layers"] if pouch else [])
        + ["specific_energy_stack", "energy_density_stack", "capacity", "average_voltage", "plated_thickness",
           "swelling"],
        "Lifetime": ["coulombic_efficiency", "cycle_life"] + (["cycle_life_p10", "cycle_life_p90"] if uncertainty else [])
        + ["life_limit", "inventory_life", "dry_out_life", "cathode_life", "knee_cycles", "inventory",
           "formation_loss", "lifetime_energy", "current_density"],
        "Cost": ["cost", "cost_per_cycle"] + (["cost_system"] if pouch else []),
    }
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("output")
    table.add_column("value", justify="right")
    table.add_column("units")
    for group, names in groups.items():
        table.add_row(f"[bold]{group}[/bold]", "", "")
        for name in names:
            var = OUTPUTS.get(name)
            units = var.units if var else EXTRA_UNITS.get(name, "")
            value = o[name]
            if name == "coulombic_efficiency" and math.isfinite(value):
                table.add_row(f"  {name}", f"{100 * value:.3f}", "%")
                continue
            if name == "life_limit":
                table.add_row(f"  {name}", ev.life_limit[0].replace("_", " "), "")
                continue
            table.add_row(f"  {name}", _fmt(value), units)
    table.add_row("[bold]Feasibility[/bold]", "", "")
    table.add_row("  feasible", "yes" if ev.feasible else "[red]no[/red]", "")
    if not ev.feasible:
        table.add_row("  infeasible_reason", str(int(o["infeasible_reason"])), ", ".join(ev.reasons))
    console.print(table)

    br = ev.breakdown()
    mass_total, thick_total = o["unit_mass"], o["unit_thickness"]
    lt = Table(title="Repeat unit (per cm² of electrode)", box=None, header_style="bold", pad_edge=False)
    for col, just in (("layer", "left"), ("mass mg/cm²", "right"), ("mass %", "right"),
                      ("thickness µm", "right"), ("volume %", "right")):
        lt.add_column(col, justify=just)
    for layer in LAYERS:
        m, t = br["mass"][layer], br["thickness"][layer]
        if m == 0 and t == 0:
            continue
        lt.add_row(layer.replace("_", " "), _fmt(m), f"{100 * m / mass_total:.1f}", _fmt(t), f"{100 * t / thick_total:.1f}")
    lt.add_row("[bold]total[/bold]", _fmt(mass_total), "100", _fmt(thick_total), "100")
    console.print(lt)
    console.print("[dim]mass as assembled (discharged); thickness at full charge with plated metal[/dim]")


def _curve(ev, target: str) -> None:
    n, cap = ev.curve()
    if target.endswith(".png"):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        _, parts = ev.mechanisms(len(n))
        ax.plot(n, cap, lw=2.0, color="black", label="capacity (every mechanism)")
        for key, label, colour in (("inventory", "metal inventory alone", "C0"),
                                   ("cathode", "cathode fade alone", "C2"),
                                   ("dry_out", "electrolyte (dries out)", "C1")):
            ax.plot(n, parts[key], lw=1.0, ls=":", color=colour, label=label)
        q = ev.outputs["capacity"]
        ax.axhline(0.8 * q, color="grey", ls="--", lw=0.8, label="80 % of first discharge")
        life = ev.outputs["cycle_life"]
        if math.isfinite(life):
            ax.axvline(life, color="C3", lw=0.8, label=f"cycle life {life:.0f} ({ev.life_limit[0].replace('_', ' ')})")
        ax.set_xlabel("cycle")
        ax.set_ylabel("discharge capacity [mAh/cm²]")
        ax.set_title((ev.design.name or "capacity vs cycle")[:MAX_TITLE])
        ax.legend(frameon=False)
        fig.tight_layout()
        fig.savefig(target, dpi=120)
        plt.close(fig)
        console.print(f"wrote {target}", markup=False, highlight=False)
        return
    step = max(1, len(n) // 25)
    t = Table(title="Discharge capacity vs cycle", box=None, header_style="bold")
    t.add_column("cycle", justify="right")
    t.add_column("capacity mAh/cm²", justify="right")
    t.add_column("retention %", justify="right")
    _, parts = ev.mechanisms(len(n))
    for key in ("inventory", "cathode", "dry_out"):
        t.add_column(f"{key.replace('_', ' ')} alone %", justify="right")
    for i in range(0, len(n), step):
        t.add_row(str(int(n[i])), f"{cap[i]:.4f}", f"{100 * cap[i] / cap[0]:.1f}",
                  *(f"{100 * parts[key][i] / cap[0]:.1f}" for key in ("inventory", "cathode", "dry_out")))
    console.print(t)
    console.print(f"life ends at cycle {_fmt(ev.outputs['cycle_life'])}: {ev.life_limit[1]}", markup=False,
                  highlight=False)


# --------------------------------------------------------------------------- sweep
def _human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} TB"


def _storage_options(endpoint_url: str | None) -> dict | None:
    return {"endpoint_url": endpoint_url} if endpoint_url else None


AllowIncompleteOpt = Annotated[bool, typer.Option(
    "--allow-incomplete", help="Use a store whose sweep has not finished (says how much is missing).")]


def _check_complete(store: str, options: dict | None, allow_incomplete: bool) -> None:
    """Refuse an incomplete store, or say how much of it is missing (``--allow-incomplete``)."""
    from dse.store import require_complete

    warning = require_complete(store, options, allow_incomplete)
    if warning:
        err_console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def sweep(
    spec: Annotated[Path, typer.Argument(help="Sweep spec YAML file.")],
    output: Annotated[str, typer.Option("-o", "--output", help="Results store (path or s3:// URL).")],
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Address of an existing Dask scheduler.")] = None,
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="Start a cluster configured in Dask's config (dse.clusters): "
                                 "local, slurm, pbs, kubernetes, gateway, or your own.")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Finish an interrupted store written from the same spec.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store.")] = False,
    chunk_size: Annotated[int | None, typer.Option("--chunk-size", help="Designs per block and Zarr chunk.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Workers of the embedded or --cluster cluster.")] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="S3 endpoint for s3:// stores.")] = None,
    tls_ca_file: Annotated[Path | None, typer.Option("--tls-ca-file", help="CA certificate(s) for a tls:// scheduler (PEM).")] = None,
    tls_cert: Annotated[Path | None, typer.Option(
        "--tls-cert", help="Client certificate for a tls:// scheduler (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option(
        "--tls-key", help="Client private key for a tls:// scheduler (PEM).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", help="Run even over the design and store-size limits (DSE_MAX_DESIGNS, DSE_MAX_STORE_BYTES).")] = False,
    break_lock: Annotated[bool, typer.Option(
        "--break-lock", help="Take the store's lock from a sweep on another host that no longer runs.")] = False,
    coefficients: Annotated[Path | None, typer.Option(
        "--coefficients", help="CE coefficients YAML (e.g. from 'dse calibrate --cells') for every scenario; "
                               "its hash is stored.")] = None,
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
        raise DseError("--tls-ca-file, --tls-cert and --tls-key apply to --scheduler; a named cluster brings "
                       "its own security")
    if cluster:
        check_cluster(cluster)  # unknown name, missing package or batch command: fail before any work
    _check_store_target(output)
    parsed = load_sweep(spec, chunk_size=chunk_size, coefficients=coefficients)
    from dse.limits import check_estimate, estimate_sweep

    estimate = estimate_sweep(parsed)
    if not yes:
        check_estimate(estimate, where=str(spec))  # before any work
    console.print(f"[bold]{_title(parsed.name)}[/bold]: {estimate.describe()} in {len(parsed.scenarios)} "
                  f"scenario(s) → {_title(output, 1000)}")

    class Rate(ProgressColumn):
        def render(self, task):
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} designs/s" if speed else "– designs/s", style="cyan")

    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
               Rate(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    bar = Progress(*columns, console=console, disable=quiet, transient=False)
    task = bar.add_task("designs", total=parsed.n_designs)

    def on_start(client, summary):
        link = getattr(client, "dashboard_link", None)
        n = len(client.scheduler_info().get("workers", {}))
        console.print(f"Dask: {n} workers" + (" yet (blocks wait for them)" if n == 0 else "")
                      + (f", dashboard {link}" if link else ""))
        if summary.skipped_blocks:
            console.print(f"resuming: {summary.skipped_blocks} block(s) already done, {summary.blocks} to go")
        if summary.damaged_blocks:
            console.print(f"{summary.damaged_blocks} damaged block(s) found (chunks missing or failing their "
                          "checksum): evaluating them again")

    with bar:
        summary = run_sweep(parsed, output, scheduler=scheduler, resume=resume, overwrite=overwrite,
                            n_workers=workers, storage_options=_storage_options(endpoint_url),
                            progress=lambda done, total: bar.update(task, completed=done), on_start=on_start,
                            cluster=cluster, security=security, break_lock=break_lock)
    t = Table(box=None, show_header=False, pad_edge=False)
    t.add_row("designs", f"{summary.designs:,}")
    t.add_row("evaluated now", f"{summary.evaluated:,} in {summary.blocks} block(s) "
              f"({summary.skipped_blocks} block(s) already done)")
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
    objective: Annotated[list[str] | None, typer.Option(
        "--objective", help="NAME:max or NAME:min (repeatable); default: every dse_sense output.")] = None,
    coarse: Annotated[int | None, typer.Option("--coarse", help="Index ranges per numeric axis at level 0 "
                                               "(default: the spec's refine: coarse, else 2).")] = None,
    margin: Annotated[float | None, typer.Option("--margin", help="Widen each cell's bound by this share of its "
                                                 "corners' spread (default 0).")] = None,
    tolerance: Annotated[float | None, typer.Option("--tolerance", help="Stop once the hypervolume changes by "
                                                    "less than this fraction (approximate).")] = None,
    budget: Annotated[int | None, typer.Option("--budget", help="Most designs to evaluate (approximate).")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Address of an existing Dask scheduler.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Workers of the embedded cluster.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing store and start over "
                                            "(discarding the checkpoint of an interrupted run).")] = False,
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
    senses, used = refine_options(parsed, objectives, coarse=coarse, margin=margin, tolerance=tolerance,
                                  budget=budget)
    if overwrite:
        remove_checkpoint(output)
    else:
        read_checkpoint(output, parsed, senses, used)  # refuse another spec's or a damaged one before any work
    console.print(f"[bold]{_title(parsed.name)}[/bold]: refining a grid of {parsed.n_designs:,} designs → "
                  f"{_title(output, 1000)}")

    def show(record: dict) -> None:
        console.print(f"level {record['level']}: {record['cells']:,} cells, {record['new']:,} new designs "
                      f"({record['evaluated']:,} in all), front {record['front']:,}, hypervolume "
                      f"{record['hypervolume']:.6g}, {record['seconds']:.1f} s", markup=False, highlight=False)

    def resuming(level: int, evaluated: int) -> None:
        console.print(f"resuming at level {level}: {evaluated:,} designs already evaluated",
                      markup=False, highlight=False)

    try:
        with _client(scheduler, None, workers) as client:
            result = run_refine(parsed, senses, client=client, progress=show, on_resume=resuming, store=output,
                                **used)
    except KeyboardInterrupt:
        folder = checkpoint_dir(output)
        kept = f"finished levels are kept in {folder}; rerun the same command to resume" if folder else \
            "nothing is kept (remote stores are not checkpointed)"
        raise RefineInterrupted(f"interrupted: {kept}", where=output) from None
    write_refined(result, parsed, output, overwrite=overwrite, storage_options=options)
    remove_checkpoint(output)  # only once the store is in place
    console.print(describe(result), markup=False, highlight=False)
    console.print(f"wrote {output}: 'dse pareto {output}' gives its front", markup=False, highlight=False)


@app.command()
def validate(
    store: Annotated[str, typer.Argument(help="Results store (path or URL).")],
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="S3 endpoint for s3:// stores.")] = None,
    full: Annotated[bool, typer.Option(
        "--full", help="Also read every chunk: checksums, chunks of completed blocks, feasible flags.")] = False,
) -> None:
    """Check a results store against docs/results-spec.md."""
    from dse.validate import validate_report

    problems, warnings = validate_report(store, _storage_options(endpoint_url), full=full)
    for w in warnings:
        err_console.print(f"warning: {store}: {w}", markup=False, highlight=False, soft_wrap=True)
    if problems:
        for p in problems:
            err_console.print(f"{store}: {p}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"{store}: valid" + (", every chunk read" if full else ""), markup=False, highlight=False)


# --------------------------------------------------------------------------- analytics
@app.command()
def pareto(
    store: Annotated[str, typer.Argument(help="Results store (path or s3:// URL).")],
    objective: Annotated[
        list[str] | None,
        typer.Option("--objective", help="NAME:max or NAME:min (repeatable); default: every dse_sense output."),
    ] = None,
    where: Annotated[str | None, typer.Option("--where", help="Filter, e.g. \"cathode == 'NMC811' and stack_pressure <= 1\".")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="Write the whole front as CSV.")] = None,
    parquet: Annotated[Path | None, typer.Option("--parquet", help="Write the whole front as Parquet.")] = None,
    top: Annotated[int, typer.Option("--top", help="Rows of the front to print.")] = 15,
    best: Annotated[str | None, typer.Option("--best", help="Also print the best design by this output (ε-constraint with --where).")] = None,
    store_front: Annotated[bool, typer.Option("--store/--no-store", help="Save the front in the store as 'pareto_front'.")] = True,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="S3 endpoint for s3:// stores.")] = None,
    allow_incomplete: AllowIncompleteOpt = False,
    quantile: Annotated[float | None, typer.Option(
        "--quantile", help="Front at this quantile of the outputs that have one (0.1, 0.5 or 0.9: cycle life).")] = None,
    probability: Annotated[float | None, typer.Option(
        "--probability", help="Designs on the front in at least this share of CE posterior draws (stores "
        "'pareto_probability').")] = None,
    draws: Annotated[int, typer.Option("--draws", help="Posterior draws for --probability.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the draws for --probability.")] = 0,
    reference: Annotated[list[str] | None, typer.Option(
        "--reference", help="Hypervolume reference NAME=VALUE (repeatable; default: the front's nadir).")] = None,
) -> None:
    """Exact Pareto front of the feasible designs of a store (optionally filtered), with its hypervolume."""
    from dse.pareto import knee_point, pareto_store

    objectives = _objectives(objective)
    _check_writable(csv, "--csv")
    _check_writable(parquet, "--parquet")
    options = _storage_options(endpoint_url)
    ref = _reference_point(reference)
    _check_complete(store, options, allow_incomplete)
    if quantile is not None and probability is not None:
        raise DseError("choose --quantile or --probability, not both")
    if quantile is not None:
        objectives = _quantile_objectives(store, objectives, quantile, options)
    if probability is not None:
        _probability_front(store, objectives, where, probability, draws, seed, options, top, csv, parquet)
        return
    front = pareto_store(store, objectives, where=where, storage_options=options, write=store_front, reference=ref)
    senses = front.attrs.get("dse_sense", {})
    console.print(f"[bold]{len(front):,} designs on the Pareto front[/bold] of "
                  + ", ".join(f"{n} ({s})" for n, s in senses.items())
                  + (f" where {_title(where, 1000)}" if where else "") + (" — saved as 'pareto_front'" if store_front else ""))
    if len(front):
        inputs = [c for c in front.columns if c not in senses and c not in ("scenario", "design", "feasible")]
        shown = ["scenario", *inputs[:7], *senses]
        t = Table(box=None, header_style="bold", pad_edge=False)
        for c in shown:
            t.add_column(c.replace("_", " "), justify="right" if c not in ("scenario",) else "left")
        for _, row in front.head(top).iterrows():
            t.add_row(*[str(row[c]) if not isinstance(row[c], float) else _fmt(row[c]) for c in shown])
        console.print(t)
        if len(front) > 1:
            knee = front.loc[knee_point(front, senses)]
            console.print("knee (closest to the utopia point): "
                          + ", ".join(f"{n} = {_fmt(float(knee[n]))}" for n in senses)
                          + f"  [{knee['scenario']} design {int(knee['design'])}]")
        _print_hypervolume(front)
    if best:
        _print_best(store, best, where, options)
    if csv:
        front.to_csv(csv, index=False)
        console.print(f"wrote {csv}", markup=False, highlight=False)
    if parquet:
        front.to_parquet(parquet, index=False)
        console.print(f"wrote {parquet}", markup=False, highlight=False)


def _reference_point(items: list[str] | None) -> dict[str, float] | None:
    """``--reference NAME=VALUE`` options as a mapping (None when none is given)."""
    if not items:
        return None
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not name or not math.isfinite(number):
            raise DseError(f"expected NAME=NUMBER, got {item!r}", where="--reference")
        out[name] = number
    return out


def _quantile_objectives(store: str, objectives, quantile: float, options) -> dict[str, str]:
    """The objectives with cycle life (and any output with quantiles) at ``quantile``."""
    from dse.robust import quantile_objectives
    from dse.store import open_results

    first = next(iter(open_results(store, options).values()))
    return quantile_objectives(first, objectives, quantile)


def _print_hypervolume(front) -> None:
    ref = front.attrs.get("dse_hypervolume_reference") or {}
    console.print(f"hypervolume {front.attrs.get('dse_hypervolume', 0.0):.6g} (reference "
                  + ", ".join(f"{n} = {_fmt(float(v))}" for n, v in ref.items()) + ")", markup=False,
                  highlight=False)


def _probability_front(store: str, objectives, where: str | None, threshold: float, draws: int, seed: int,
                       options, top: int, csv: Path | None, parquet: Path | None) -> None:
    """``dse pareto --probability P``: store the probability of non-domination, print the designs ≥ P."""
    from dse.robust import pareto_probability, probability_front

    if not 0.0 < threshold <= 1.0:
        raise DseError(f"expected a probability in (0, 1], got {threshold:g}", where="--probability")
    if draws < 1:
        raise DseError(f"expected a number of draws ≥ 1, got {draws}", where="--draws")
    probabilities = pareto_probability(store, objectives, where=where, draws=draws, seed=seed,
                                       storage_options=options)
    front = probability_front(store, probabilities, threshold, objectives, options)
    on_any = sum(int((p.values > 0).sum()) for p in probabilities.values())
    console.print(f"[bold]{len(front):,} designs on the front with probability ≥ {threshold:g}[/bold] "
                  f"({on_any:,} on it in at least one of {draws} draws of the CE posterior, seed {seed}) — "
                  "saved as 'pareto_probability'")
    if len(front):
        senses = list(front.attrs.get("dse_sense", {}))
        inputs = [c for c in front.columns if c not in (*senses, "scenario", "design", "feasible", "pareto_probability")]
        shown = ["scenario", *inputs[:6], *senses, "pareto_probability"]
        t = Table(box=None, header_style="bold", pad_edge=False)
        for c in shown:
            t.add_column(c.replace("_", " "), justify="left" if c == "scenario" else "right")
        for _, row in front.head(top).iterrows():
            t.add_row(*[_fmt(row[c]) if isinstance(row[c], float) else str(row[c]) for c in shown])
        console.print(t)
    if csv:
        front.to_csv(csv, index=False)
        console.print(f"wrote {csv}", markup=False, highlight=False)
    if parquet:
        front.to_parquet(parquet, index=False)
        console.print(f"wrote {parquet}", markup=False, highlight=False)


def _print_best(store: str, best: str, where: str | None, options) -> None:
    """ε-constraint: the best feasible design by one output, subject to --where."""
    from dse.filters import where_mask
    from dse.pareto import epsilon_constraint
    from dse.store import open_results
    from dse.table import swept_inputs
    from dse.vocabulary import OUTPUTS

    sense = OUTPUTS[best].sense if best in OUTPUTS and OUTPUTS[best].sense else "max"
    winners = []
    for name, ds in open_results(store, options, decode_categories=True).items():
        sub = ds.where(ds.feasible)
        if where:
            sub = sub.where(where_mask(ds, where))
        row = epsilon_constraint(sub, best, {}, sense=sense)
        if row is not None and math.isfinite(float(row[best])):
            winners.append((name, swept_inputs(ds), row))
    if not winners:
        console.print(f"no feasible design{' satisfies ' + _title(where, 1000) if where else ''}")
        return
    pick = max if sense == "max" else min
    name, inputs, row = pick(winners, key=lambda w: float(w[2][best]))
    t = Table(title=f"best {best} ({sense}){' where ' + _title(where, 1000) if where else ''} "
              f"{_title('[' + name + ']')}", box=None,
              header_style="bold", title_justify="left", show_header=False)
    for k in [*inputs, best, *(o for o in ("specific_energy", "energy_density", "cycle_life", "cost") if o != best)]:
        if k in row.index:
            v = row[k]
            t.add_row(k, _fmt(float(v)) if isinstance(v, int | float | np.floating) else str(v))
    console.print(t)


@app.command()
def sensitivity(
    store: Annotated[str, typer.Argument(help="Results store (path or s3:// URL).")],
    scenario: Annotated[str | None, typer.Option("--scenario", help="Only this scenario.")] = None,
    output: Annotated[list[str] | None, typer.Option("--output", help="Output to analyse (repeatable); default: objectives.")] = None,
    plot: Annotated[Path | None, typer.Option("-o", "--plot", help="Write the indices as a PNG plot.")] = None,
    feasible_only: Annotated[bool, typer.Option("--feasible-only", help="Drop infeasible designs first.")] = False,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap replicates for the intervals.")] = 100,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="S3 endpoint for s3:// stores.")] = None,
    allow_incomplete: AllowIncompleteOpt = False,
) -> None:
    """Which inputs drive each objective: Sobol' indices (sampled) or main effects (grids)."""
    from dse.sensitivity import plot_sensitivity
    from dse.sensitivity import sensitivity as analyse
    from dse.store import open_results

    _check_writable(plot, "--plot")
    _check_complete(store, _storage_options(endpoint_url), allow_incomplete)
    datasets = open_results(store, _storage_options(endpoint_url))
    if scenario and scenario not in datasets:
        from dse.materials.catalogue import suggest

        raise DseError(f"unknown scenario {scenario!r}" + suggest(scenario, datasets), where="--scenario")
    frames = []
    for name, ds in datasets.items():
        if scenario and name != scenario:
            continue
        df = analyse(ds, output or None, feasible_only=feasible_only, n_boot=bootstrap)
        df["scenario"] = name
        frames.append(df)
        method = df["method"].iloc[0] if len(df) else "-"
        console.print(f"[bold]{_title(name)}[/bold]: {method} on {ds.attrs.get('dse_n_designs', 0):,} designs")
        for out_name, part in df.groupby("output", sort=False):
            part = part.sort_values(["total_order", "first_order"], ascending=False, na_position="last")
            t = Table(title=f"  {out_name}", box=None, header_style="bold", title_justify="left", pad_edge=False)
            for col in ("input", "first order", "95 % interval", "total order", "95 % interval", "used"):
                t.add_column(col, justify="left" if col == "input" else "right")

            def interval(lo, hi):
                return "–" if not (math.isfinite(lo) and math.isfinite(hi)) else f"[{lo:.3f}, {hi:.3f}]"

            for _, r in part.iterrows():
                t.add_row(str(r["input"]), f"{r['first_order']:.3f}", interval(r["first_order_low"], r["first_order_high"]),
                          "–" if not math.isfinite(r["total_order"]) else f"{r['total_order']:.3f}",
                          interval(r["total_order_low"], r["total_order_high"]), f"{int(r['n_used']):,}")
            console.print(t)
    if plot and frames:
        import pandas as pd

        combined = pd.concat(frames, ignore_index=True)
        combined.attrs = frames[0].attrs
        console.print(f"wrote {plot_sensitivity(combined, plot)}")


@app.command()
def calibrate(
    data: Annotated[Path | None, typer.Argument(
        help="CSV of cells (the literature columns, or your own cycling results); with --cells, the "
             "literature table (default: the shipped one).")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Coefficients YAML to write.")] = None,
    folds: Annotated[int, typer.Option("--folds", help="Folds of the cross-validation.")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fold assignment.")] = 0,
    residuals: Annotated[bool, typer.Option("--residuals/--no-residuals", help="Print the residual of every row.")] = True,
    cells: Annotated[Path | None, typer.Option(
        "--cells", help="Folder of your cells: BDF files with design sidecars (docs/calibration.md).")] = None,
) -> None:
    """Fit the Coulombic-efficiency surrogate to a table of cells and write its coefficients."""
    from dse.calibration import calibrate as fit

    if cells is not None:
        _calibrate_cells(cells, data, output or Path("coefficients.yaml"))
        return
    if data is None or output is None:
        raise DseError("give a results CSV and -o COEFFS.yaml, or --cells DIR")
    if folds < 2:
        raise DseError("needs at least 2 folds", where="--folds")
    _check_writable(output, "-o")
    result = fit(data, output, folds=folds, seed=seed)
    typer.echo(result.report_text(residuals=residuals))
    console.print(f"wrote {output}: use it with 'ce_coefficients: {output}' in a design or sweep spec")


def _calibrate_cells(folder: Path, literature: Path | None, output: Path) -> None:
    """``dse calibrate --cells DIR``: literature and your cells in one fit (dse.cells)."""
    from dse.cells import calibrate_cells

    _check_writable(output, "-o")
    result = calibrate_cells(folder, literature, output)
    typer.echo(result.report_text())
    console.print(f"wrote {output}: use it with 'dse sweep SPEC --coefficients {output}' or "
                  f"'ce_coefficients: {output}' in a design or sweep spec")


# --------------------------------------------------------------------------- dashboard
@app.command()
def serve(
    store: Annotated[str, typer.Argument(help="Results store (path or s3:// URL), or a catalog file with ENTRY.")],
    entry: Annotated[str | None, typer.Argument(help="Entry id when STORE is a catalog.")] = None,
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 5006,
    address: Annotated[str, typer.Option("--address", help="Interface to listen on; other than loopback needs "
                                         "--basic-auth, --oauth-provider or --insecure.")] = "127.0.0.1",
    show: Annotated[bool, typer.Option("--show/--no-show", help="Open a browser tab.")] = False,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler for filtering and fronts of large stores.")
    ] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="S3 endpoint for s3:// stores.")] = None,
    root: Annotated[list[str] | None, typer.Option("--root", help="Folder or URL prefix the served store must lie "
                                                   "under (repeatable).")] = None,
    basic_auth: Annotated[str | None, typer.Option("--basic-auth", envvar="DSE_BASIC_AUTH", show_envvar=True,
                                                   help="Password, or a JSON file of {user: password}.")] = None,
    cookie_secret: Annotated[str | None, typer.Option("--cookie-secret", envvar="DSE_COOKIE_SECRET",
                                                      show_envvar=True, help="Signs login cookies (default: random "
                                                      "per process).")] = None,
    oauth_provider: Annotated[str | None, typer.Option("--oauth-provider", envvar="PANEL_OAUTH_PROVIDER",
                                                       help="Panel OAuth provider (github, google, azure, "
                                                       "generic, ...).")] = None,
    oauth_key: Annotated[str | None, typer.Option("--oauth-key", envvar="PANEL_OAUTH_KEY",
                                                  help="OAuth client id.")] = None,
    oauth_secret: Annotated[str | None, typer.Option("--oauth-secret", envvar="PANEL_OAUTH_SECRET",
                                                     help="OAuth client secret (prefer the variable).")] = None,
    oauth_redirect_uri: Annotated[str | None, typer.Option("--oauth-redirect-uri", envvar="PANEL_OAUTH_REDIRECT_URI",
                                                           help="OAuth redirect URI.")] = None,
    oauth_encryption_key: Annotated[str | None, typer.Option("--oauth-encryption-key",
                                                             envvar="PANEL_OAUTH_ENCRYPTION",
                                                             help="Encrypts OAuth tokens in cookies.")] = None,
    origin: Annotated[list[str] | None, typer.Option("--origin", help="Extra allowed websocket origin HOST:PORT "
                                                     "(a reverse proxy's name; repeatable).")] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Serve a non-loopback address without "
                                           "authentication.")] = False,
    allow_incomplete: AllowIncompleteOpt = False,
    cells: Annotated[Path | None, typer.Option("--cells", help="Folder of measured cells (BDF files with YAML "
                                               "sidecars, as for dse calibrate --cells) drawn on the cloud and "
                                               "the front at their measured values.")] = None,
    sensitivity: Annotated[Path | None, typer.Option("--sensitivity", help="Sensitivity table of the store (CSV "
                                                     "or Parquet of dse.sensitivity.sensitivity) shown as a tab "
                                                     "of bar charts.")] = None,
) -> None:
    """Serve the dashboard of a results store or catalog entry (on 127.0.0.1 unless told otherwise)."""
    import time

    from dse.access import check_allowed, serve_security

    security = serve_security(address, port, basic_auth=basic_auth, cookie_secret=cookie_secret,
                              oauth={"provider": oauth_provider, "key": oauth_key, "secret": oauth_secret,
                                     "redirect_uri": oauth_redirect_uri, "encryption_key": oauth_encryption_key},
                              insecure=insecure, origins=origin or ())
    _check_port(address, port)
    if entry is not None or store.endswith(".json"):
        store, endpoint_url = _catalog_store(store, entry, endpoint_url)
    if root:
        store = check_allowed(store, root)  # a catalog entry too: its store must lie under the roots
    _check_complete(store, _storage_options(endpoint_url), allow_incomplete)
    for warning in security.warnings:
        err_console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)

    import panel as pn

    from dashboards.app import create_app, load_source, warm_up

    t = time.perf_counter()
    if scheduler:
        console.print("note: the dashboard filters and computes fronts in this process (from cached chunk "
                      "fronts); --scheduler is not used")
    source = load_source(store, endpoint_url)
    cells_table = _cells_overlay(cells, source)  # refused here, before anything listens
    indices = None
    if sensitivity is not None:
        from dse.explore import read_sensitivity

        indices = read_sensitivity(str(sensitivity), source)  # refused here too
    warm_up(source)
    console.print(f"loaded {len(source):,} feasible designs of {source.n_designs:,} in "
                  f"{time.perf_counter() - t:.1f} s")
    if getattr(source.results, "coefficients_note", ""):
        console.print(f"note: {store} was {source.results.coefficients_note}", markup=False, highlight=False)
    console.print(f"dashboard: http://{security.kwargs['websocket_origin'][0]}/  (Ctrl-C to stop)")
    console.print(security.describe(), markup=False, highlight=False)
    from dashboards.server import component_routes, limit_sessions, session_options
    from dse.limits import current_limits

    app = limit_sessions(create_app(store, endpoint_url, cells=cells_table, sensitivity=indices),
                         current_limits().max_sessions)
    try:
        pn.serve({"/": app}, port=port, show=show, title=f"dse · {source.title[:MAX_TITLE]}", threaded=False,
                 admin=False, extra_patterns=component_routes(), **session_options(), **security.kwargs)
    except OSError as exc:
        raise DseError(f"cannot listen ({exc.strerror or exc})", where=f"{address}:{port}") from None


def _cells_overlay(folder: Path | None, source):
    """The measured cells of ``--cells`` under the store's CE coefficients (None without the option).

    A bad folder raises the errors of ``dse calibrate --cells`` (:func:`dse.cells.load_cells`):
    one line naming the file, exit 2.
    """
    if folder is None:
        return None
    from dse.cells import cells_table

    table = cells_table(folder, getattr(source.results, "coefficients", None))
    excluded = table.attrs.get("excluded", [])
    if not len(table):
        raise DseError("no usable cell (" + "; ".join(f"{n}: {why}" for n, why in excluded)[:200] + ")",
                       where=str(folder))
    note = f" ({len(excluded)} file(s) excluded: {', '.join(n for n, _ in excluded)})" if excluded else ""
    console.print(f"{len(table)} measured cell(s) from {folder}{note}", markup=False, highlight=False)
    return table


def _check_port(address: str, port: int) -> None:
    """Refuse, before the store is loaded, a port out of range or one another program listens on."""
    import socket

    if not 1 <= port <= 65535:
        raise DseError("a port is a number from 1 to 65535", where=f"--port {port}")
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise DseError(f"not an address of this machine ({getattr(exc, 'strerror', None) or exc})",
                       where=f"--address {address}") from None
    family, kind, proto, _, sockaddr = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as tornado does
        try:
            probe.bind(sockaddr)
        except OSError as exc:
            raise DseError(f"cannot listen ({exc.strerror or exc})", where=f"{address}:{port}") from None


def _catalog_store(catalog: str, entry: str | None, endpoint_url: str | None) -> tuple[str, str | None]:
    """The store of a catalog entry, and the endpoint to reach it with (s3 only)."""
    from dse.catalog import load

    cat = load(catalog, _storage_options(endpoint_url))
    if entry is None:
        raise DseError(f"is a catalog: name an entry ({', '.join(cat.items) or 'it is empty'})", where=catalog)
    href = cat.entry(entry).href
    console.print(f"{catalog} {entry} → {href}")
    return href, endpoint_url if href.startswith("s3://") else None


@app.command()
def report(
    store: Annotated[str, typer.Argument(help="Results store (path or s3:// URL).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write.")] = Path("report.html"),
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="S3 endpoint for s3:// stores.")] = None,
    allow_incomplete: AllowIncompleteOpt = False,
    cells: Annotated[Path | None, typer.Option("--cells", help="Folder of measured cells (as for dse calibrate "
                                               "--cells) drawn on the clouds and fronts at their measured values.")
                     ] = None,
) -> None:
    """Write a static, self-contained HTML report of a results store."""
    _check_writable(output, "-o")
    from dashboards.app import load_source
    from dashboards.report import write_report

    _check_complete(store, _storage_options(endpoint_url), allow_incomplete)
    source = load_source(store, endpoint_url)
    cells_table = _cells_overlay(cells, source)  # refused before the report is written
    write_report(source, str(output), cells=cells_table)
    console.print(f"wrote {output} ({_human_bytes(output.stat().st_size)})")


# --------------------------------------------------------------------------- materials
@materials_app.command("list")
def materials_list(
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind (metal, cathode, ...).")] = None,
) -> None:
    """Every catalogue entry, by kind."""
    from dse.materials.catalogue import KIND_DIRS, load_catalogue, suggest

    cat = load_catalogue()
    kinds = list(KIND_DIRS)
    if kind and kind not in kinds:
        raise DseError("unknown kind" + suggest(kind, kinds), where=f"--kind {kind}")
    for k in [kind] if kind else kinds:
        t = Table(title=f"{k} ({len(cat.ids(k))})", box=None, header_style="bold", title_justify="left")
        t.add_column("id")
        t.add_column("name")
        t.add_column("key values")
        for i in cat.ids(k):
            e = cat.get(k, i)
            vals = list(e.cited().items())[:3]
            summary = ", ".join(f"{p}={_fmt(c.value)} {c.units if c.units != '1' else ''}".strip() for p, c in vals)
            extra = getattr(e, "metal", None)
            t.add_row(i, e.name + (f" [{extra}]" if extra else ""), summary)
        console.print(t)


@materials_app.command("show")
def materials_show(material: Annotated[str, typer.Argument(help="Catalogue id, e.g. NMC811 (or kind:id).")]) -> None:
    """One entry with every value, unit and citation."""
    from dse.materials.catalogue import load_catalogue, suggest

    cat = load_catalogue()
    kind, _, id = material.rpartition(":")
    kinds = [kind] if kind else cat.kinds_of(id)
    if not kinds:
        all_ids = [i for v in cat.entries.values() for i in v]
        raise DseError("unknown material" + suggest(id, all_ids), where=material)
    for k in kinds:
        e = cat.get(k, id)
        console.print(f"[bold]{e.id}[/bold] ({k}): {e.name}")
        if e.description:
            console.print(e.description)
        for field in ("metal", "state", "family", "ce_class", "format"):
            if hasattr(e, field):
                console.print(f"{field}: {getattr(e, field)}")
        if getattr(e, "alloys_with", None):
            console.print(f"alloys with: {', '.join(e.alloys_with)} ({cat.describe_source(e.alloys_with_source)})")
        t = Table(box=None, header_style="bold", pad_edge=False)
        for col in ("property", "value", "units", "source", "note"):
            t.add_column(col, overflow="fold")
        for prop, c in e.cited().items():
            t.add_row(prop, _fmt(c.value), c.units if c.units != "1" else "", cat.describe_source(c.source), c.note)
        console.print(t)


@functools.cache
def _command():
    """The click command of :data:`app`, built once (typer rebuilds it on every call otherwise)."""
    return typer.main.get_command(app)


def _command_and_input(argv: list[str]) -> tuple[str, str | None]:
    """The (sub)command and its first argument in ``argv`` (options skipped).

    >>> _command_and_input(["--debug", "catalog", "verify", "team.json", "x"])
    ('catalog verify', 'team.json')
    """
    words = [a for a in argv if not a.startswith("-")]
    groups = ("catalog", "materials")
    n = 2 if words and words[0] in groups else 1
    command = " ".join(words[:n]) or "dse"
    return command, words[n] if len(words) > n else None


def _unexpected(exc: BaseException, argv: list[str]) -> str:
    """One line for an error that no check of dse caught: command, input, what happened."""
    command, first = _command_and_input(argv)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) > 300:
        text = text[:299] + "…"
    what = f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__
    if isinstance(exc, RecursionError):
        what = "input nested too deeply (RecursionError)"
    elif isinstance(exc, MemoryError):
        what = "out of memory (MemoryError)"
    on = f" on {first}" if first else ""
    return f"error: dse {command}{on}: unexpected {what} (rerun with --debug for the traceback)"


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the app, turn edge errors into one line."""
    try:
        code = _command().main(args=argv, standalone_mode=False)
    except DseError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return getattr(exc, "exit_code", 2)  # 130 for an interrupted start (dse.sweep.SweepInterrupted)
    except typer.Abort:
        err_console.print("aborted", markup=False)
        return 130
    except KeyboardInterrupt:
        err_console.print("interrupted: finished blocks are kept; rerun with --resume to finish", markup=False)
        return 130
    except Exception as exc:  # usage errors of click (or of the click that typer vendors)
        bases = {c.__name__ for c in type(exc).__mro__}
        if "ClickException" in bases:
            exc.show()
            return exc.exit_code
        if "Exit" in bases and hasattr(exc, "exit_code"):
            return exc.exit_code
        if _DEBUG:
            raise
        err_console.print(_unexpected(exc, sys.argv[1:] if argv is None else argv), markup=False,
                          highlight=False, soft_wrap=True)
        return 1
    if code == 130:  # typer turns KeyboardInterrupt into exit code 130
        err_console.print("interrupted: finished blocks are kept; rerun with --resume to finish", markup=False)
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
