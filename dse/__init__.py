"""dse: design-space exploration of anode-free Li, Na and K metal cells.

The heavy parts load on first use, so ``import dse`` (and the CLI) stay quick:

>>> import dse
>>> callable(dse.pareto_mask)
True
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "pareto_mask": ("dse.pareto", "pareto_mask"),
    "nondominated": ("dse.pareto", "nondominated"),
    "open_results": ("dse.store", "open_results"),
    "ModelChain": ("dse.modelchain", "ModelChain"),
    "evaluate_design": ("dse.evaluate", "evaluate_design"),
    "load_design": ("dse.spec", "load_design"),
    "load_sweep": ("dse.spec", "load_sweep"),
    "run_sweep": ("dse.sweep", "run_sweep"),
}

#: submodules reachable as attributes without an import (``dse.catalog.open(...)``)
_SUBMODULES = ("catalog",)

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"dse.{name}")
    raise AttributeError(f"module 'dse' has no attribute {name!r}")
