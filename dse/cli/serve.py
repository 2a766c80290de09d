"""The commands that start the views: ``dse serve`` (the dashboard) and ``dse report`` (static HTML).

The one part of ``dse`` that imports ``dashboards`` (ruff TID251 per-file ignore, docs/architecture.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dse.cli.root import (
    MAX_TITLE,
    AllowIncompleteOpt,
    _check_complete,
    _check_writable,
    _human_bytes,
    _storage_options,
    app,
    console,
    err_console,
)
from dse.errors import DseError


@app.command()
def serve(
    store: Annotated[str, typer.Argument(help="Results store (path or s3:// URL), or a catalog file with ENTRY.")],
    entry: Annotated[str | None, typer.Argument(help="Entry id when STORE is a catalog.")] = None,
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 5006,
    address: Annotated[
        str,
        typer.Option(
            "--address",
            help="Interface to listen on; other than loopback needs --basic-auth, --oauth-provider or --insecure.",
        ),
    ] = "127.0.0.1",
    show: Annotated[bool, typer.Option("--show/--no-show", help="Open a browser tab.")] = False,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler for filtering and fronts of large stores.")
    ] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="S3 endpoint for s3:// stores.")] = None,
    root: Annotated[
        list[str] | None,
        typer.Option("--root", help="Folder or URL prefix the served store must lie under (repeatable)."),
    ] = None,
    basic_auth: Annotated[
        str | None,
        typer.Option(
            "--basic-auth",
            envvar="DSE_BASIC_AUTH",
            show_envvar=True,
            help="Password, or a JSON file of {user: password}.",
        ),
    ] = None,
    cookie_secret: Annotated[
        str | None,
        typer.Option(
            "--cookie-secret",
            envvar="DSE_COOKIE_SECRET",
            show_envvar=True,
            help="Signs login cookies (default: random per process).",
        ),
    ] = None,
    oauth_provider: Annotated[
        str | None,
        typer.Option(
            "--oauth-provider",
            envvar="PANEL_OAUTH_PROVIDER",
            help="Panel OAuth provider (github, google, azure, generic, ...).",
        ),
    ] = None,
    oauth_key: Annotated[
        str | None, typer.Option("--oauth-key", envvar="PANEL_OAUTH_KEY", help="OAuth client id.")
    ] = None,
    oauth_secret: Annotated[
        str | None,
        typer.Option("--oauth-secret", envvar="PANEL_OAUTH_SECRET", help="OAuth client secret (prefer the variable)."),
    ] = None,
    oauth_redirect_uri: Annotated[
        str | None, typer.Option("--oauth-redirect-uri", envvar="PANEL_OAUTH_REDIRECT_URI", help="OAuth redirect URI.")
    ] = None,
    oauth_encryption_key: Annotated[
        str | None,
        typer.Option(
            "--oauth-encryption-key", envvar="PANEL_OAUTH_ENCRYPTION", help="Encrypts OAuth tokens in cookies."
        ),
    ] = None,
    origin: Annotated[
        list[str] | None,
        typer.Option("--origin", help="Extra allowed websocket origin HOST:PORT (a reverse proxy's name; repeatable)."),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Serve a non-loopback address without authentication.")
    ] = False,
    allow_incomplete: AllowIncompleteOpt = False,
    cells: Annotated[
        Path | None,
        typer.Option(
            "--cells",
            help="Folder of measured cells (BDF files with YAML "
            "sidecars, as for dse calibrate --cells) drawn on the cloud and "
            "the front at their measured values.",
        ),
    ] = None,
    sensitivity: Annotated[
        Path | None,
        typer.Option(
            "--sensitivity",
            help="Sensitivity table of the store (CSV "
            "or Parquet, from dse sensitivity --csv) shown as a tab "
            "of bar charts.",
        ),
    ] = None,
) -> None:
    """Serve the dashboard of a results store or catalog entry (on 127.0.0.1 unless told otherwise)."""
    import time

    from dse.access import check_allowed, serve_security

    security = serve_security(
        address,
        port,
        basic_auth=basic_auth,
        cookie_secret=cookie_secret,
        oauth={
            "provider": oauth_provider,
            "key": oauth_key,
            "secret": oauth_secret,
            "redirect_uri": oauth_redirect_uri,
            "encryption_key": oauth_encryption_key,
        },
        insecure=insecure,
        origins=origin or (),
    )
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
        console.print(
            "note: the dashboard filters and computes fronts in this process (from cached chunk "
            "fronts); --scheduler is not used"
        )
    source = load_source(store, endpoint_url)
    cells_table = _cells_overlay(cells, source)  # refused here, before anything listens
    indices = None
    if sensitivity is not None:
        from dse.explore import read_sensitivity

        indices = read_sensitivity(str(sensitivity), source)  # refused here too
    warm_up(source)
    console.print(f"loaded {len(source):,} feasible designs of {source.n_designs:,} in {time.perf_counter() - t:.1f} s")
    if getattr(source.results, "coefficients_note", ""):
        console.print(f"note: {store} was {source.results.coefficients_note}", markup=False, highlight=False)
    console.print(f"dashboard: http://{security.kwargs['websocket_origin'][0]}/  (Ctrl-C to stop)")
    console.print(security.describe(), markup=False, highlight=False)
    from dashboards.server import component_routes, limit_sessions, session_options
    from dse.limits import current_limits

    app = limit_sessions(
        create_app(store, endpoint_url, cells=cells_table, sensitivity=indices), current_limits().max_sessions
    )
    try:
        pn.serve(
            {"/": app},
            port=port,
            show=show,
            title=f"dse · {source.title[:MAX_TITLE]}",
            threaded=False,
            admin=False,
            extra_patterns=component_routes(),
            **session_options(),
            **security.kwargs,
        )
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
        raise DseError(
            "no usable cell (" + "; ".join(f"{n}: {why}" for n, why in excluded)[:200] + ")", where=str(folder)
        )
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
        raise DseError(
            f"not an address of this machine ({getattr(exc, 'strerror', None) or exc})", where=f"--address {address}"
        ) from None
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
    cells: Annotated[
        Path | None,
        typer.Option(
            "--cells",
            help="Folder of measured cells (as for dse calibrate "
            "--cells) drawn on the clouds and fronts at their measured values.",
        ),
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
