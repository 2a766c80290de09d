"""``dse catalog add|list|show|open|verify``: the catalog commands of the CLI.

A typer sub-app registered by :mod:`dse.cli`; the work is done by
:mod:`dse.catalog`. Errors are :class:`~dse.errors.DseError`, printed by
``dse.cli.main`` as one line.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

catalog_app = typer.Typer(help="Publish, list, verify and open catalogs of results stores.", no_args_is_help=True)

console = Console()
if not console.is_terminal:  # files and pipes: do not wrap tables at 80 columns
    console = Console(width=160)
err_console = Console(stderr=True)

CatalogArg = Annotated[str, typer.Argument(help="Catalog file (path, s3:// or https:// URL).")]
EntryArg = Annotated[str, typer.Argument(help="Entry id (see dse catalog list).")]
EndpointOpt = Annotated[str | None, typer.Option("--endpoint-url", help="S3 endpoint for s3:// URLs.")]
MAX_PROBLEMS_SHOWN = 20


def _options(endpoint_url: str | None) -> dict | None:
    return {"endpoint_url": endpoint_url} if endpoint_url else None


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _plain(value: object, limit: int = 200) -> Text:
    """User text for a table: no markup, cut to ``limit`` characters."""
    text = str(value)
    return Text(text if len(text) <= limit else text[: limit - 1] + "…")


def _print(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@catalog_app.command("add")
def add_command(
    store: Annotated[str, typer.Argument(help="Results store (path or s3:// URL); complete and valid.")],
    catalog: Annotated[str, typer.Option("--catalog", help="Catalog file to add to (created if absent).")],
    title: Annotated[str, typer.Option("--title", help="Title of the entry.")],
    description: Annotated[str | None, typer.Option("--description", help="Description (default: the spec's).")] = None,
    entry_id: Annotated[str | None, typer.Option("--id", help="Entry id (default: from the title).")] = None,
    publish: Annotated[
        str | None, typer.Option("--publish", help="Copy the store here first (s3://bucket/prefix → …/prefix/ID.zarr).")
    ] = None,
    license: Annotated[str, typer.Option("--license", help="SPDX license id of the results.")] = "other",
    citation: Annotated[str | None, typer.Option("--citation", help="How to cite the results.")] = None,
    doi: Annotated[str | None, typer.Option("--doi", help="DOI of the results or their paper.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace an entry with the same id.")] = False,
    endpoint_url: EndpointOpt = None,
    allow_incomplete: Annotated[
        bool,
        typer.Option("--allow-incomplete", help="Catalogue a store whose sweep has not finished (labelled as such)."),
    ] = False,
) -> None:
    """Register a results store in a catalog (optionally publishing a copy to object storage)."""
    from dse.catalog import add

    entry = add(
        store,
        catalog,
        title=title,
        description=description,
        id=entry_id,
        publish=publish,
        license=license,
        citation=citation,
        doi=doi,
        replace=replace,
        storage_options=_options(endpoint_url),
        allow_incomplete=allow_incomplete,
    )
    if allow_incomplete:
        from dse.store import completeness

        state = completeness(store, _options(endpoint_url) if "://" in store else None)
        if not state.complete:
            err_console.print(
                f"warning: {state.describe(store)}; the entry is labelled dse:blocks_missing",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    _print(
        f"added {entry.id!r} to {catalog}: {entry.n_designs:,} designs, {entry.n_objects:,} objects "
        f"({_size(entry.size)}) at {entry.href}"
    )


@catalog_app.command("list")
def list_command(catalog: CatalogArg, endpoint_url: EndpointOpt = None) -> None:
    """Every entry of a catalog."""
    from dse.catalog import load

    cat = load(catalog, _options(endpoint_url))
    table = Table(
        title=_plain(f"{_plain(cat.title)} ({_count(len(cat.items), 'entry', 'entries')})", 400),
        box=None,
        header_style="bold",
        title_justify="left",
        pad_edge=False,
    )
    for col, justify in (
        ("id", "left"),
        ("title", "left"),
        ("designs", "right"),
        ("scenarios", "left"),
        ("size", "right"),
        ("created", "left"),
        ("store", "left"),
    ):
        table.add_column(col, justify=justify, overflow="fold")
    for e in cat.entries():
        table.add_row(
            *map(_plain, (e.id, e.title, f"{e.n_designs:,}", ", ".join(e.scenarios), _size(e.size), e.created, e.href))
        )
    console.print(table)


@catalog_app.command("show")
def show_command(
    catalog: CatalogArg,
    entry_id: Annotated[str | None, typer.Argument(help="Entry id; without it, the catalog itself.")] = None,
    spec: Annotated[bool, typer.Option("--spec", help="Also print the sweep spec verbatim.")] = False,
    endpoint_url: EndpointOpt = None,
) -> None:
    """An entry's provenance: store, dimensions, objectives, versions, license, checksums."""
    from dse.catalog import load

    cat = load(catalog, _options(endpoint_url))
    if entry_id is None:
        _print(f"{_plain(cat.title)}: {_plain(cat.collection.get('description', ''), 2000)}")
        _print(
            f"license {cat.collection['license']}; {_count(len(cat.items), 'entry', 'entries')}: {', '.join(cat.items) or '-'}"
        )
        return
    e = cat.entry(entry_id)
    table = Table(
        title=_plain(f"{e.id}: {_plain(e.title)}", 400),
        box=None,
        show_header=False,
        title_justify="left",
        pad_edge=False,
    )
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("description", e.description),
        ("store", e.href),
        ("created", e.created),
        ("dse version", e.dse_version),
        ("git commit", e.git_commit or "-"),
        ("license", e.license),
        ("citation", e.citation or "-"),
        ("doi", e.doi or "-"),
        ("designs", f"{e.n_designs:,}"),
    ]
    rows += [
        (
            f"scenario {name}",
            f"{s['kind']}: " + " × ".join(f"{d} {n}" for d, n in s["dims"].items()) + f" = {s['n_designs']:,}",
        )
        for name, s in e.scenarios.items()
    ]
    rows += [
        ("objectives", ", ".join(f"{n} ({s})" for n, s in e.objectives.items())),
        ("objects", f"{e.n_objects:,} ({_size(e.size)}), sha256 each in {e.manifest_url}"),
        ("manifest checksum", e.manifest_checksum),
        ("spec hash", e.spec_hash),
    ]
    for name, value in rows:
        table.add_row(_plain(name), _plain(value, 2000))
    console.print(table)
    if spec:
        typer.echo(e.spec)


@catalog_app.command("open")
def open_command(
    catalog: CatalogArg,
    entry_id: EntryArg,
    scenario: Annotated[str | None, typer.Option("--scenario", help="Only this scenario.")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Check every object against the manifest first.")] = False,
    endpoint_url: EndpointOpt = None,
) -> None:
    """Open an entry's store and print its datasets (as xarray shows them)."""
    from dse.catalog import open_all
    from dse.errors import DseError, suggest

    datasets = open_all(catalog, entry_id, _options(endpoint_url), verify=verify)
    if scenario and scenario not in datasets:
        raise DseError(f"unknown scenario {scenario!r}{suggest(scenario, datasets)}", where="--scenario")
    for name, ds in datasets.items():
        if scenario and name != scenario:
            continue
        _print(f"── scenario {name}")
        _print(str(ds))


@catalog_app.command("verify")
def verify_command(catalog: CatalogArg, entry_id: EntryArg, endpoint_url: EndpointOpt = None) -> None:
    """Check every object of an entry's store against its checksums (exit 1 on a difference)."""
    from dse.catalog import show, verify_entry

    options = _options(endpoint_url)
    entry = show(catalog, entry_id, options)
    problems = verify_entry(entry, options)
    if problems:
        for problem in problems[:MAX_PROBLEMS_SHOWN]:
            err_console.print(f"{entry.href}: {problem}", markup=False, highlight=False, soft_wrap=True)
        if len(problems) > MAX_PROBLEMS_SHOWN:
            err_console.print(f"… and {len(problems) - MAX_PROBLEMS_SHOWN} more", markup=False)
        raise typer.Exit(1)
    _print(f"{entry.id}: all {entry.n_objects:,} objects ({_size(entry.size)}) match their checksums at {entry.href}")
