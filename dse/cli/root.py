"""The root of the ``dse`` command line: the typer app, its consoles, and the helpers every command shares.

The commands live in the modules of :mod:`dse.cli` by group and register
themselves on :data:`app`; :func:`dse.cli.entry.main` runs it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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
    r"""A user-given name for a rich markup string: cut to ``limit`` characters, markup escaped.

    >>> print(_title("[/x]"))
    \[/x]
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
    except DseError:
        raise  # (a ValueError itself: not to be wrapped below)
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


# --------------------------------------------------------------------------- stores
def _human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} TB"


def _storage_options(endpoint_url: str | None) -> dict | None:
    return {"endpoint_url": endpoint_url} if endpoint_url else None


AllowIncompleteOpt = Annotated[
    bool,
    typer.Option("--allow-incomplete", help="Use a store whose sweep has not finished (says how much is missing)."),
]


def _check_complete(store: str, options: dict | None, allow_incomplete: bool) -> None:
    """Refuse an incomplete store, or say how much of it is missing (``--allow-incomplete``)."""
    from dse.store import require_complete

    warning = require_complete(store, options, allow_incomplete)
    if warning:
        err_console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
