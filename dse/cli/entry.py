"""The console entry point: run the app and turn every error into one line on stderr.

Errors raised at the edges (:class:`~dse.errors.DseError`) are printed as one
line and the command exits with status 2 (130 when interrupted); an unexpected
error is one line too, naming the command and its input, unless ``--debug``.
"""

from __future__ import annotations

import functools
import sys

import typer

from dse.cli import root
from dse.cli.root import app, err_console
from dse.errors import DseError


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
        if root._DEBUG:
            raise
        err_console.print(
            _unexpected(exc, sys.argv[1:] if argv is None else argv), markup=False, highlight=False, soft_wrap=True
        )
        return 1
    if code == 130:  # typer turns KeyboardInterrupt into exit code 130
        err_console.print("interrupted: finished blocks are kept; rerun with --resume to finish", markup=False)
    return code if isinstance(code, int) else 0
