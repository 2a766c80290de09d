"""``dse evaluate``: one design, printed as tables or JSON, with its capacity curve."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dse.cli.root import MAX_TITLE, _check_writable, _fmt, _title, app, console


@app.command()
def evaluate(
    design: Annotated[Path, typer.Argument(help="Design YAML file.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    uncertainty: Annotated[
        bool, typer.Option("--uncertainty", help="Show the 10th/90th percentile of cycle life.")
    ] = False,
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
        + [
            "specific_energy_stack",
            "energy_density_stack",
            "capacity",
            "average_voltage",
            "plated_thickness",
            "swelling",
        ],
        "Lifetime": ["coulombic_efficiency", "cycle_life"]
        + (["cycle_life_p10", "cycle_life_p90"] if uncertainty else [])
        + [
            "life_limit",
            "inventory_life",
            "dry_out_life",
            "cathode_life",
            "knee_cycles",
            "inventory",
            "formation_loss",
            "lifetime_energy",
            "current_density",
        ],
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
    for col, just in (
        ("layer", "left"),
        ("mass mg/cm²", "right"),
        ("mass %", "right"),
        ("thickness µm", "right"),
        ("volume %", "right"),
    ):
        lt.add_column(col, justify=just)
    for layer in LAYERS:
        m, t = br["mass"][layer], br["thickness"][layer]
        if m == 0 and t == 0:
            continue
        lt.add_row(
            layer.replace("_", " "), _fmt(m), f"{100 * m / mass_total:.1f}", _fmt(t), f"{100 * t / thick_total:.1f}"
        )
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
        for key, label, colour in (
            ("inventory", "metal inventory alone", "C0"),
            ("cathode", "cathode fade alone", "C2"),
            ("dry_out", "electrolyte (dries out)", "C1"),
        ):
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
        t.add_row(
            str(int(n[i])),
            f"{cap[i]:.4f}",
            f"{100 * cap[i] / cap[0]:.1f}",
            *(f"{100 * parts[key][i] / cap[0]:.1f}" for key in ("inventory", "cathode", "dry_out")),
        )
    console.print(t)
    console.print(
        f"life ends at cycle {_fmt(ev.outputs['cycle_life'])}: {ev.life_limit[1]}", markup=False, highlight=False
    )
