"""Limits that stop hostile or mistaken input before it costs time, memory or disk.

Every limit has a default that no honest spec comes near and an environment
variable that raises or lowers it (docs/security.md):

=========================  ======================  ==============================================
environment variable       default                 what it bounds
=========================  ======================  ==============================================
``DSE_MAX_DESIGNS``        100,000,000             designs of one sweep (``--yes`` overrides)
``DSE_MAX_STORE_BYTES``    100 GB                  uncompressed size of a store (``--yes``)
``DSE_MAX_FILE_BYTES``     1 MiB                   a spec, design or coefficients YAML file
``DSE_MAX_CSV_BYTES``      64 MiB                  a calibration CSV
``DSE_MAX_YAML_NODES``     100,000                 YAML nodes, aliases expanded
``DSE_MAX_YAML_DEPTH``     50                      nesting of YAML collections
``DSE_MAX_YAML_ALIASES``   100                     ``*alias`` references in one document
``DSE_MAX_AXIS_VALUES``    100,000                 values of one swept input (list or linspace)
``DSE_MAX_JSON_BYTES``     64 MiB                  a catalog, item or manifest JSON file
``DSE_MAX_SESSIONS``       8                       dashboard sessions alive at once (``dse serve``)
=========================  ======================  ==============================================

>>> lim = Limits()
>>> lim.max_designs, lim.max_yaml_depth
(100000000, 50)
>>> estimate = SweepEstimate(designs=2_000_000_000, store_bytes=150 * 10**9)
>>> check_estimate(estimate, lim, where="big.yaml")
Traceback (most recent call last):
...
dse.errors.SpecError: big.yaml: the sweep has 2,000,000,000 designs (~150.0 GB uncompressed), over the limit of 100,000,000 designs (DSE_MAX_DESIGNS); rerun with --yes to proceed
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from dse.errors import SpecError

__all__ = ["Limits", "current_limits", "SweepEstimate", "estimate_sweep", "check_estimate", "human_bytes"]


@dataclass(frozen=True)
class Limits:
    """Upper bounds on input sizes (see the module table for their variables).

    Attributes
    ----------
    max_designs : int
        Designs of one sweep.
    max_store_bytes : int
        Estimated uncompressed size of a results store [B].
    max_file_bytes : int
        Size of a YAML file that dse reads [B].
    max_csv_bytes : int
        Size of a calibration CSV [B].
    max_yaml_nodes : int
        Nodes of one YAML document, with every alias expanded (billion laughs).
    max_yaml_depth : int
        Nesting depth of YAML sequences and mappings.
    max_yaml_aliases : int
        Alias references in one YAML document.
    max_axis_values : int
        Values of one swept input: a list literal or a linspace/logspace count.
    max_json_bytes : int
        Size of a catalog, STAC item or manifest JSON file [B].
    max_sessions : int
        Dashboard sessions alive at once in one ``dse serve``; further page
        loads get a short "busy" page instead of a dashboard.
    """

    max_designs: int = 100_000_000
    max_store_bytes: int = 100 * 10**9
    max_file_bytes: int = 1 << 20
    max_csv_bytes: int = 64 << 20
    max_yaml_nodes: int = 100_000
    max_yaml_depth: int = 50
    max_yaml_aliases: int = 100
    max_axis_values: int = 100_000
    max_json_bytes: int = 64 << 20
    max_sessions: int = 8

    @staticmethod
    def variable(name: str) -> str:
        """Environment variable of a limit: ``max_designs`` → ``DSE_MAX_DESIGNS``."""
        return f"DSE_{name.upper()}"


def current_limits() -> Limits:
    """The limits in force: defaults, replaced by any ``DSE_MAX_*`` variable.

    Raises
    ------
    SpecError
        When a variable is not a positive integer (``1e9`` and ``1_000`` are accepted).
    """
    values = {}
    for f in fields(Limits):
        var = Limits.variable(f.name)
        raw = os.environ.get(var)
        if raw is None or not raw.strip():
            continue
        try:
            number = float(raw.replace("_", ""))
        except ValueError:
            raise SpecError(f"expected a positive integer, got {raw!r}", where=var) from None
        if not 1 <= number < 2**63 or number != int(number):
            raise SpecError(f"expected a positive integer, got {raw!r}", where=var)
        values[f.name] = int(number)
    return Limits(**values)


def human_bytes(n: float) -> str:
    """Bytes in decimal units.

    >>> human_bytes(999), human_bytes(1_500_000), human_bytes(2.5e13)
    ('999 B', '1.5 MB', '25.0 TB')
    """
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} TB"


@dataclass(frozen=True)
class SweepEstimate:
    """What a sweep will produce, known before any work.

    Attributes
    ----------
    designs : int
        Designs over every scenario.
    store_bytes : int
        Uncompressed bytes of the stored variables (compression usually
        shrinks them several-fold) [B].
    """

    designs: int
    store_bytes: int

    def describe(self) -> str:
        """The estimate in words: designs and uncompressed store size."""
        return f"{self.designs:,} designs (~{human_bytes(self.store_bytes)} uncompressed)"


def estimate_sweep(spec) -> SweepEstimate:
    """Designs and uncompressed store size of a parsed sweep, from arithmetic only.

    Each design stores its outputs (float32, ``infeasible_reason`` uint16),
    ``feasible`` (bool) and, in sampled scenarios, its drawn inputs (float64,
    or int16 category codes). Grid coordinates are negligible.

    Parameters
    ----------
    spec : dse.spec.SweepSpec

    Examples
    --------
    >>> from dse.spec import parse_sweep
    >>> s = parse_sweep({"inputs": {"cathode": ["NMC811", "LFP"], "stack_pressure": [0, 1, 2]},
    ...                  "outputs": ["cycle_life"]})
    >>> estimate_sweep(s)
    SweepEstimate(designs=6, store_bytes=42)
    """
    from dse.vocabulary import INPUTS

    per_output = sum(2 if o == "infeasible_reason" else 4 for o in spec.outputs) + 1
    total = 0
    for s in spec.scenarios:
        per_design = per_output + sum(2 if INPUTS[x.name].categorical else 8 for x in s.sampled)
        total += s.n_designs * per_design
    return SweepEstimate(designs=spec.n_designs, store_bytes=total)


def check_estimate(estimate: SweepEstimate, limits: Limits | None = None, where: str | None = None) -> None:
    """Refuse a sweep over the design or store-size limit.

    Raises
    ------
    SpecError
        Naming the estimate, the limit and its variable, and ``--yes``.
    """
    limits = limits or current_limits()
    if estimate.designs > limits.max_designs:
        over = f"{limits.max_designs:,} designs ({Limits.variable('max_designs')})"
    elif estimate.store_bytes > limits.max_store_bytes:
        over = f"{human_bytes(limits.max_store_bytes)} ({Limits.variable('max_store_bytes')})"
    else:
        return
    raise SpecError(
        f"the sweep has {estimate.describe()}, over the limit of {over}; rerun with --yes to proceed", where=where
    )
