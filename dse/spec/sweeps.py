"""The validated sweep: :class:`SweepSpec`, its scenarios, axes, samplers, keys and default outputs.

:func:`dse.spec.sweep_parsing.parse_sweep` builds these from YAML;
:class:`dse.design.DesignSpace` expands a :class:`Scenario` into blocks.

>>> Scenario("li", axes=[Axis("cathode", ["NMC811", "LFP"]), Axis("temperature", [25.0, 45.0])],
...          fixed={}).n_designs
4
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dse.vocabulary import INPUTS

__all__ = [
    "SweepSpec",
    "Scenario",
    "Axis",
    "SampledInput",
    "Sampler",
    "SWEEP_KEYS",
    "REFINE_KEYS",
    "SCENARIO_KEYS",
    "SAMPLERS",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_OUTPUTS",
    "UNCERTAINTY_OUTPUTS",
]

SWEEP_KEYS = (
    "name",
    "description",
    "scenarios",
    "inputs",
    "sampler",
    "overrides",
    "ce_coefficients",
    "chunk_size",
    "uncertainty",
    "outputs",
    "notes",
    "refine",
)
#: keys of a spec's ``refine:`` mapping (options of ``dse refine``)
REFINE_KEYS = ("objectives", "coarse", "margin", "tolerance", "budget")
SCENARIO_KEYS = ("name", "description", "inputs", "sampler", "overrides")
SAMPLERS = ("sobol", "latin_hypercube", "random", "saltelli")
DEFAULT_CHUNK_SIZE = 1 << 20
DEFAULT_OUTPUTS = (
    "specific_energy",
    "energy_density",
    "specific_energy_stack",
    "energy_density_stack",
    "capacity",
    "average_voltage",
    "coulombic_efficiency",
    "cycle_life",
    "knee_cycles",
    "inventory",
    "lifetime_energy",
    "cost",
    "cost_per_cycle",
    "swelling",
    "plated_thickness",
    "current_density",
    "infeasible_reason",
)
UNCERTAINTY_OUTPUTS = ("cycle_life_p10", "cycle_life_p90")


@dataclass
class Axis:
    """A swept input of a grid: its dimension name and coordinate values."""

    name: str
    values: list  # floats in canonical units, or catalogue ids

    @property
    def categorical(self) -> bool:
        """Whether the axis is a categorical input (catalogue ids)."""
        return INPUTS[self.name].categorical


@dataclass
class SampledInput:
    """An input drawn by a sampler: a continuous range or a set of choices."""

    name: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: list | None = None


@dataclass
class Sampler:
    """How a sampled scenario draws its designs: the method, how many, and the seed."""

    method: str
    n: int
    seed: int = 0


@dataclass
class Scenario:
    """One grid or one sampled design space of a sweep."""

    name: str
    axes: list[Axis]
    fixed: dict[str, float | str]
    sampler: Sampler | None = None
    sampled: list[SampledInput] = field(default_factory=list)
    overrides: dict = field(default_factory=dict)
    ce_overrides: dict = field(default_factory=dict)
    ce_coefficients: Path | None = None
    description: str = ""

    @property
    def kind(self) -> str:
        """``"grid"`` or ``"sampled"``."""
        return "sampled" if self.sampler else "grid"

    @property
    def n_designs(self) -> int:
        """Number of designs: a grid's product of axis lengths, or what the sampler draws (Saltelli: n × (inputs + 2))."""
        if self.sampler is None:
            n = 1
            for a in self.axes:
                n *= len(a.values)
            return n
        if self.sampler.method == "saltelli":
            return self.sampler.n * (len(self.sampled) + 2)
        return self.sampler.n


@dataclass
class SweepSpec:
    """A validated sweep: scenarios plus run options and the verbatim text."""

    name: str
    scenarios: list[Scenario]
    chunk_size: int = DEFAULT_CHUNK_SIZE
    uncertainty: bool = False
    outputs: tuple[str, ...] = DEFAULT_OUTPUTS
    description: str = ""
    text: str = ""
    source: str = "spec"
    data: dict = field(default_factory=dict)
    base_dir: str | None = None
    refine: dict = field(default_factory=dict)  # validated ``refine:`` options (see _refine_options)

    @property
    def n_designs(self) -> int:
        """Number of designs over every scenario."""
        return sum(s.n_designs for s in self.scenarios)

    def identity(self) -> dict:
        """Everything that determines the stored numbers (hashed for --resume)."""
        from dse.modelchain import ModelChain

        scen = []
        for s in self.scenarios:
            chain = ModelChain.from_design(s)
            scen.append(
                {
                    "name": s.name,
                    "axes": [[a.name, a.values] for a in s.axes],
                    "fixed": s.fixed,
                    "sampler": None if s.sampler is None else [s.sampler.method, s.sampler.n, s.sampler.seed],
                    "sampled": [[x.name, x.low, x.high, x.log, x.choices] for x in s.sampled],
                    "catalogue": chain.catalogue.hash(),
                    "coefficients": chain.coefficients.hash(),
                }
            )
        return {
            "scenarios": scen,
            "chunk_size": self.chunk_size,
            "uncertainty": self.uncertainty,
            "outputs": list(self.outputs),
        }

    def hash(self) -> str:
        """SHA-256 of :meth:`identity` (computed once per spec object)."""
        import hashlib
        import json

        if getattr(self, "_hash", None) is None:
            blob = json.dumps(self.identity(), sort_keys=True, default=str).encode()
            self._hash = hashlib.sha256(blob).hexdigest()
        return self._hash
