"""``dse pareto``: the exact front of a store, its knee and hypervolume, quantile and probability fronts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from dse.cli.root import (
    AllowIncompleteOpt,
    _check_complete,
    _check_writable,
    _fmt,
    _objectives,
    _storage_options,
    _title,
    app,
    console,
)
from dse.errors import DseError


@app.command()
def pareto(
    store: Annotated[str, typer.Argument(help="Results store (path or s3:// URL).")],
    objective: Annotated[
        list[str] | None,
        typer.Option("--objective", help="NAME:max or NAME:min (repeatable); default: every dse_sense output."),
    ] = None,
    where: Annotated[
        str | None, typer.Option("--where", help="Filter, e.g. \"cathode == 'NMC811' and stack_pressure <= 1\".")
    ] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="Write the whole front as CSV.")] = None,
    parquet: Annotated[Path | None, typer.Option("--parquet", help="Write the whole front as Parquet.")] = None,
    top: Annotated[int, typer.Option("--top", help="Rows of the front to print.")] = 15,
    best: Annotated[
        str | None,
        typer.Option("--best", help="Also print the best design by this output (ε-constraint with --where)."),
    ] = None,
    store_front: Annotated[
        bool, typer.Option("--store/--no-store", help="Save the front in the store as 'pareto_front'.")
    ] = True,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="S3 endpoint for s3:// stores.")] = None,
    allow_incomplete: AllowIncompleteOpt = False,
    quantile: Annotated[
        float | None,
        typer.Option(
            "--quantile", help="Front at this quantile of the outputs that have one (0.1, 0.5 or 0.9: cycle life)."
        ),
    ] = None,
    probability: Annotated[
        float | None,
        typer.Option(
            "--probability",
            help="Designs on the front in at least this share of CE posterior draws (stores 'pareto_probability').",
        ),
    ] = None,
    draws: Annotated[int, typer.Option("--draws", help="Posterior draws for --probability.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the draws for --probability.")] = 0,
    reference: Annotated[
        list[str] | None,
        typer.Option("--reference", help="Hypervolume reference NAME=VALUE (repeatable; default: the front's nadir)."),
    ] = None,
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
    console.print(
        f"[bold]{len(front):,} designs on the Pareto front[/bold] of "
        + ", ".join(f"{n} ({s})" for n, s in senses.items())
        + (f" where {_title(where, 1000)}" if where else "")
        + (" — saved as 'pareto_front'" if store_front else "")
    )
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
            console.print(
                "knee (closest to the utopia point): "
                + ", ".join(f"{n} = {_fmt(float(knee[n]))}" for n in senses)
                + f"  [{knee['scenario']} design {int(knee['design'])}]"
            )
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
    console.print(
        f"hypervolume {front.attrs.get('dse_hypervolume', 0.0):.6g} (reference "
        + ", ".join(f"{n} = {_fmt(float(v))}" for n, v in ref.items())
        + ")",
        markup=False,
        highlight=False,
    )


def _probability_front(
    store: str,
    objectives,
    where: str | None,
    threshold: float,
    draws: int,
    seed: int,
    options,
    top: int,
    csv: Path | None,
    parquet: Path | None,
) -> None:
    """``dse pareto --probability P``: store the probability of non-domination, print the designs ≥ P."""
    from dse.robust import pareto_probability, probability_front

    if not 0.0 < threshold <= 1.0:
        raise DseError(f"expected a probability in (0, 1], got {threshold:g}", where="--probability")
    if draws < 1:
        raise DseError(f"expected a number of draws ≥ 1, got {draws}", where="--draws")
    probabilities = pareto_probability(store, objectives, where=where, draws=draws, seed=seed, storage_options=options)
    front = probability_front(store, probabilities, threshold, objectives, options)
    on_any = sum(int((p.values > 0).sum()) for p in probabilities.values())
    console.print(
        f"[bold]{len(front):,} designs on the front with probability ≥ {threshold:g}[/bold] "
        f"({on_any:,} on it in at least one of {draws} draws of the CE posterior, seed {seed}) — "
        "saved as 'pareto_probability'"
    )
    if len(front):
        senses = list(front.attrs.get("dse_sense", {}))
        inputs = [
            c for c in front.columns if c not in (*senses, "scenario", "design", "feasible", "pareto_probability")
        ]
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
    from dse.store.table import swept_inputs
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
    t = Table(
        title=f"best {best} ({sense}){' where ' + _title(where, 1000) if where else ''} {_title('[' + name + ']')}",
        box=None,
        header_style="bold",
        title_justify="left",
        show_header=False,
    )
    for k in [*inputs, best, *(o for o in ("specific_energy", "energy_density", "cycle_life", "cost") if o != best)]:
        if k in row.index:
            v = row[k]
            t.add_row(k, _fmt(float(v)) if isinstance(v, int | float | np.floating) else str(v))
    console.print(t)
