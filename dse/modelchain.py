"""ModelChain: catalogue and coefficients in, property tables and outputs out.

The orchestrator above the model functions (pvlib's ModelChain in spirit):
it turns categorical choices into the property tables the models read,
holds the CE coefficients, and evaluates designs either on arrays
(:meth:`ModelChain.evaluate`, used by ``dse evaluate`` and notebooks) or
block by block through the fused kernel (:meth:`ModelChain.evaluate_block`,
used by sweeps). Both run :func:`dse.models.chain.chain_outputs`.

>>> chain = ModelChain()
>>> out = chain.evaluate({"cathode": "NMC811", "cathode_loading": 4.0})
>>> round(float(out["specific_energy"][0])) > 300
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dse.coefficients import CeCoefficients, load_coefficients
from dse.errors import CatalogueError, SpecError, suggest
from dse.materials.catalogue import Catalogue, load_catalogue
from dse.models import chain as physics
from dse.models.ce import FEATURE_NAMES
from dse.models.kernel import CATEGORICAL_ORDER, INPUT_ORDER, run_kernel_block
from dse.vocabulary import INPUTS

__all__ = ["ModelChain", "METAL_NUMBER", "MODELS"]

METAL_NUMBER = {"Li": 0, "Na": 1, "K": 2}
CE_CLASS_CODE = {"none": 0, "alloy": 1, "carbon": 2, "composite": 3}
#: interlayers raise the critical current density of a solid electrolyte
#: (Ag-C composites enable 3-4 mA/cm² at 60 °C and 2-4 MPa, seed-001 L598, L600,
#: L410-L419); the factors are assumptions, see docs/assumptions.md
CCD_FACTOR = {"none": 1.0, "carbon": 1.5, "alloy": 2.0, "composite": 4.0}
KIND_OF = {name: INPUTS[name].catalogue for name in CATEGORICAL_ORDER}

#: model slots and the implementations available for each (registry, not if/elif)
MODELS = {
    "stack": {"repeat_unit": "dse.models.stack: double-sided repeat unit, pressure-dependent deposit porosity"},
    "energy": {"transport_utilisation": "dse.models.energy: utilisation (1 + x^4)^(-1/4), pouch and plates"},
    "coulombic_efficiency": {"surrogate": "dse.models.ce: log-linear surrogate with calibrated coefficients"},
    "lifetime": {"inventory": "dse.models.lifetime: first of inventory (exact recursion), corrosion, dry-out, cathode"},
    "cost": {"bill_of_materials": "dse.models.cost: mass and area prices per kWh"},
    "feasibility": {"rules": "dse.models.feasibility: bit-mask reason codes"},
}
DEFAULT_MODELS = {slot: next(iter(impls)) for slot, impls in MODELS.items()}


def _group_values(catalogue: Catalogue, kind: str, id: str) -> list[float]:
    """Columns of the property table of one entry, in dse.models.chain.GROUPS order."""
    e = catalogue.get(kind, id)
    v = catalogue.value
    if kind == "metal":
        return [METAL_NUMBER[id]] + [
            v(kind, id, f)
            for f in (
                "molar_mass",
                "density",
                "deposit_porosity",
                "dense_deposit_porosity",
                "densification_pressure",
                "price",
            )
        ]
    if kind == "cathode":
        return (
            [METAL_NUMBER[e.metal]]
            + [
                v(kind, id, f)
                for f in (
                    "specific_capacity",
                    "average_voltage",
                    "upper_cutoff_voltage",
                    "density",
                    "inactive_density",
                    "first_cycle_efficiency",
                    "price",
                )
            ]
            + [v(kind, id, "coating_density", 0.0), v(kind, id, "fade_per_cycle")]
        )
    if kind == "collector":
        alloys = [float(m in e.alloys_with) for m in METAL_NUMBER]
        return [v(kind, id, "density"), v(kind, id, "price"), v(kind, id, "process_cost"), *alloys]
    if kind == "coating":
        return [
            CE_CLASS_CODE[e.ce_class],
            v(kind, id, "density"),
            v(kind, id, "uptake_capacity.Li"),
            v(kind, id, "uptake_capacity.Na"),
            v(kind, id, "uptake_capacity.K"),
            v(kind, id, "price"),
            v(kind, id, "process_cost"),
            CCD_FACTOR[e.ce_class],
        ]
    if kind == "electrolyte":
        solid = e.state == "solid"
        return (
            [METAL_NUMBER[e.metal], float(solid)]
            + [
                v(kind, id, f)
                for f in (
                    "density",
                    "oxidative_limit",
                    "min_temperature",
                    "max_temperature",
                    "price",
                    "transport_current",
                )
            ]
            + [
                v(kind, id, "critical_current_density", 0.0),
                v(kind, id, "ccd_activation_energy", 0.0),
                v(kind, id, "ccd_pressure_scale", 1.0),
                v(kind, id, "min_stack_pressure", 0.0),
                v(kind, id, "catholyte_fraction", 0.0),
                v(kind, id, "decay_onset_temperature"),
                v(kind, id, "consumption", 0.0),
                v(kind, id, "corrosion_current", 0.0),
            ]
        )
    if kind == "separator":
        return [v(kind, id, f) for f in ("density", "porosity", "price")]
    if kind == "packaging":
        return (
            [float(e.format == "pouch")]
            + [v(kind, id, f) for f in ("max_stack_pressure",)]
            + [v(kind, id, "layers", 0.0)]
            + [
                v(kind, id, f)
                for f in (
                    "electrode_width",
                    "electrode_length",
                    "seal_width",
                    "laminate_thickness",
                    "laminate_density",
                    "laminate_price",
                    "tab_mass",
                    "plate_density",
                    "plate_strength",
                    "cells_per_module",
                )
            ]
            + [v(kind, id, "target_capacity", 0.0)]
        )
    if kind == "anode":
        return [
            v(kind, id, f)
            for f in (
                "specific_capacity",
                "coating_density",
                "porosity",
                "active_fraction",
                "np_ratio",
                "voltage_offset",
                "price",
            )
        ]
    raise KeyError(kind)


class ModelChain:
    """The model chain bound to one catalogue and one set of CE coefficients.

    Parameters
    ----------
    catalogue : Catalogue, optional
        Default: the shipped catalogue.
    coefficients : CeCoefficients, optional
        Default: the shipped calibration.
    overrides : mapping, optional
        Catalogue overrides ``{id: {property: value}}`` (see
        :meth:`Catalogue.with_overrides`).
    models : mapping, optional
        Implementation per slot of :data:`MODELS`.
    uncertainty : bool, default True
        Compute ``cycle_life_p10`` and ``cycle_life_p90`` (else NaN).
    ce_overrides : mapping, optional
        Replacements for scalar CE constants (``formation_loss_multiplier``,
        ``coating_trapped_fraction``, ``residual_sd``).
    """

    def __init__(
        self,
        catalogue: Catalogue | None = None,
        coefficients: CeCoefficients | None = None,
        overrides: Mapping | None = None,
        models: Mapping[str, str] | None = None,
        uncertainty: bool = True,
        ce_overrides: Mapping[str, float] | None = None,
    ):
        self.uncertainty = uncertainty
        self.catalogue = (catalogue or load_catalogue()).with_overrides(overrides)
        self.coefficients = coefficients or load_coefficients()
        self.coefficients = self.coefficients.with_constants(ce_overrides)
        self.models = dict(DEFAULT_MODELS)
        for slot, name in (models or {}).items():
            if slot not in MODELS:
                raise SpecError("unknown model slot" + suggest(slot, MODELS), where=f"models.{slot}")
            if name not in MODELS[slot]:
                raise SpecError(f"unknown model {name!r}" + suggest(name, MODELS[slot]), where=f"models.{slot}")
            self.models[slot] = name
        self.ids = {cat: self.catalogue.ids(KIND_OF[cat]) for cat in CATEGORICAL_ORDER}
        self.tables = tuple(
            np.asarray([_group_values(self.catalogue, KIND_OF[cat], i) for i in self.ids[cat]], dtype=np.float64)
            for cat in CATEGORICAL_ORDER
        )
        self.ce_table = self._ce_table()
        self.constants = self._constants()

    @classmethod
    def from_design(cls, design, uncertainty: bool = True) -> ModelChain:
        """The chain a :class:`~dse.spec.Design` (or sweep scenario) asks for."""
        coefficients = getattr(design, "coefficients", None)
        if coefficients is None and design.ce_coefficients:
            coefficients = load_coefficients(design.ce_coefficients)
        return cls(
            coefficients=coefficients,
            overrides=design.overrides,
            ce_overrides=design.ce_overrides,
            uncertainty=uncertainty,
        )

    def __repr__(self) -> str:
        slots = ",\n  ".join(f"{slot}: {name}" for slot, name in self.models.items())
        return (
            f"ModelChain(\n  {slots},\n  catalogue: {self.catalogue.hash()[:12]},"
            f"\n  ce_coefficients: {self.coefficients.hash()[:12]}\n)"
        )

    # -- tables -------------------------------------------------------------
    def _ce_table(self) -> np.ndarray:
        rows = []
        for e in self.ids["electrolyte"]:
            entry = self.catalogue.get("electrolyte", e)
            group = f"{entry.metal}/{entry.family}"
            if group not in self.coefficients.groups:
                raise CatalogueError(
                    f"CE coefficients have no reference for group {group!r}", where=f"electrolyte {e!r}"
                )
            for c in self.ids["coating"]:
                cls = self.catalogue.get("coating", c).ce_class
                # the coating's own deviation from its class, when the coefficients have one
                base, var, cov = self.coefficients.base_terms(group, cls, c)
                rows.append([base, var, *cov])
        return np.asarray(rows, dtype=np.float64)

    def _constants(self) -> physics.Constants:
        coeffs = self.coefficients
        al_density, al_price = 2.71, 4.0  # seed-001 L65; approximate price
        if "Al" in self.catalogue.entries["collector"]:
            al_density = self.catalogue.value("collector", "Al", "density")
            al_price = self.catalogue.value("collector", "Al", "price")
        return physics.Constants(
            slopes=tuple(coeffs.slopes),
            slope_covariance=tuple(tuple(float(x) for x in row) for row in coeffs.slope_covariance),
            residual_variance=coeffs.residual_sd**2,
            formation_loss_multiplier=coeffs.formation_loss_multiplier,
            coating_trapped_fraction=coeffs.coating_trapped_fraction,
            quantile_z=1.2815515655446004,
            positive_collector_density=al_density,
            positive_collector_price=al_price,
            additive_capacity=400.0,  # Na2C2O4-like sacrificial salt, seed-003 derived 400 mAh/g
            additive_density=2.0,
            additive_price=50.0,
            inactive_price=15.0,
            hardware_price=2.0,
            end_of_life=0.8,
            uncertainty=1.0 if self.uncertainty else 0.0,
        )

    def codes(self, name: str, values) -> np.ndarray:
        """Integer codes of catalogue ids for categorical input ``name``.

        Raises
        ------
        CatalogueError
            For an id that is not in the catalogue (with a suggestion).
        """
        ids = self.ids[name]
        arr = np.asarray(values, dtype=object)
        uniq, inverse = np.unique(np.asarray([str(v) for v in arr.ravel()], dtype=object), return_inverse=True)
        lookup = {i: n for n, i in enumerate(ids)}
        codes = []
        for u in uniq:
            if u not in lookup:
                raise CatalogueError("unknown id" + suggest(u, ids), where=f"{name} {str(u)!r}")
            codes.append(lookup[u])
        return np.asarray(codes, dtype=np.float64)[inverse].reshape(arr.shape)

    def attrs(self) -> dict[str, str]:
        """Provenance attributes recorded with every result."""
        return {
            "dse_models": ", ".join(f"{slot}={name}" for slot, name in self.models.items()),
            "dse_catalogue_hash": self.catalogue.hash(),
            "dse_ce_coefficients_hash": self.coefficients.hash(),
        }

    # -- evaluation ---------------------------------------------------------
    def parameters(self, inputs: Mapping[str, object]) -> physics.Parameters:
        """Look up properties for designs given as arrays (numpy path)."""
        values = {}
        for name in INPUT_ORDER:
            raw = inputs.get(name, INPUTS[name].default)
            if name in KIND_OF:
                arr = np.asarray(raw)
                values[name] = arr.astype(np.float64) if arr.dtype.kind in "fiu" else self.codes(name, arr)
            else:
                values[name] = np.asarray(raw, dtype=np.float64)
        arrays = dict(zip(values, np.broadcast_arrays(*values.values()), strict=True))
        design = physics.DesignInputs(*(arrays[f] for f in physics.DESIGN_FIELDS))
        groups = []
        for (group, (cat, fields)), table in zip(physics.GROUPS.items(), self.tables, strict=True):
            code = arrays[cat].astype(np.int64)
            groups.append(physics._GROUP_TYPES[group](*(table[code, j] for j in range(len(fields)))))
        row = arrays["electrolyte"].astype(np.int64) * len(self.ids["coating"]) + arrays["coating"].astype(np.int64)
        ce = physics.CeTerms(
            self.ce_table[row, 0],
            self.ce_table[row, 1],
            tuple(self.ce_table[row, 2 + j] for j in range(len(FEATURE_NAMES))),
        )
        return physics.Parameters(design, physics.derived_inputs(design), *groups, ce)

    def evaluate(self, inputs: Mapping[str, object]) -> dict[str, np.ndarray]:
        """Evaluate designs given as arrays (or scalars) of inputs.

        Parameters
        ----------
        inputs : mapping
            Input name → value(s); categorical inputs as catalogue ids or
            codes; missing inputs take their defaults. Values broadcast.

        Returns
        -------
        dict of ndarray
            Every field of :data:`dse.models.chain.OUTPUT_FIELDS` (at least 1-D),
            plus ``feasible``.
        """
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            out = physics.chain_outputs(self.parameters(inputs), self.constants)
        result = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in out._asdict().items()}
        result["feasible"] = result["infeasible_reason"] == 0
        return result

    def evaluate_block(
        self,
        shape: Sequence[int],
        axis_of: Sequence[int],
        starts: Sequence[int],
        values: np.ndarray,
        outputs: Sequence[str],
        dtype=np.float32,
        energy_only: bool = False,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Evaluate a block with the fused kernel (see :func:`dse.models.kernel.run_kernel_block`)."""
        select = [physics.OUTPUT_FIELDS.index(o) for o in outputs]
        return run_kernel_block(
            shape,
            axis_of,
            starts,
            values,
            self.tables,
            self.ce_table,
            self.constants,
            select,
            dtype=dtype,
            energy_only=energy_only,
            out=out,
        )
