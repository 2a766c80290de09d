"""``dse materials list|show``: the materials catalogue with its values, units and citations."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from dse.cli.root import _fmt, console, materials_app
from dse.errors import DseError


@materials_app.command("list")
def materials_list(
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind (metal, cathode, ...).")] = None,
) -> None:
    """Every catalogue entry, by kind."""
    from dse.errors import suggest
    from dse.materials.catalogue import KIND_DIRS, load_catalogue

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
    from dse.errors import suggest
    from dse.materials.catalogue import load_catalogue

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
