"""The ``dse`` command line (DESIGN.md §3 is its contract).

Errors raised at the edges (:class:`~dse.errors.DseError`) are printed as one
line on stderr and the command exits with status 2; nothing else is printed.

One module per group of commands, each registering its commands on the one
typer :data:`app` of :mod:`dse.cli.root` (the order of the imports below is
the order of ``dse --help``):

* :mod:`dse.cli.root`: the app, the consoles and the helpers the commands share;
* :mod:`dse.cli.evaluate`: ``dse evaluate``;
* :mod:`dse.cli.sweep`: ``dse sweep``, ``dse refine``, ``dse validate``;
* :mod:`dse.cli.pareto`: ``dse pareto``;
* :mod:`dse.cli.sensitivity`: ``dse sensitivity``;
* :mod:`dse.cli.calibrate`: ``dse calibrate``;
* :mod:`dse.cli.serve`: ``dse serve`` and ``dse report``, the one part of dse that starts the views;
* :mod:`dse.cli.materials`: ``dse materials list|show``
  (``dse catalog ...`` is :mod:`dse.catalog.cli`, registered by the root);
* :mod:`dse.cli.entry`: :func:`main`, the console script (``dse = "dse.cli:main"``).

``python -m dse.cli`` runs :func:`main` too (:mod:`dse.cli.__main__`).
"""

from __future__ import annotations

# the order of these imports is the order of the commands in ``dse --help``
# isort: off
from dse.cli.root import app, console, err_console, materials_app
from dse.cli import evaluate as _evaluate  # noqa: F401 - each import registers its commands
from dse.cli import sweep as _sweep  # noqa: F401
from dse.cli import pareto as _pareto  # noqa: F401
from dse.cli import sensitivity as _sensitivity  # noqa: F401
from dse.cli import calibrate as _calibrate  # noqa: F401
from dse.cli import serve as _serve  # noqa: F401
from dse.cli import materials as _materials  # noqa: F401

# isort: on
from dse.cli.entry import main
from dse.cli.sweep import RefineInterrupted

__all__ = ["app", "main", "console", "err_console", "materials_app", "RefineInterrupted"]
