"""Coefficients of the CE surrogate: schema, priors, load and save.

A coefficients file holds the posterior mean and covariance of the
parameters of :mod:`dse.models.ce` — one reference ``ln(1 - CE)`` per
``metal/family`` group, one effect per coating class, one deviation from
its class per coating material, one slope per feature — plus the residual
standard deviation (a new design's, publication effect included) and two
formation constants. :mod:`dse.calibration` writes it; designs and sweeps
may name one with ``ce_coefficients: path.yaml``.

The priors are hierarchical (``docs/calibration.md``): the references of
groups that share a metal or an electrolyte family are correlated a priori
(:data:`METAL_SD`, :data:`FAMILY_SD`), so a group with few rows borrows
from its neighbours, and a material's deviation from its class shrinks to 0
(:data:`MATERIAL_SD`). :func:`constraints` lists the signs and orderings the
fit enforces.

>>> c = load_coefficients()
>>> round(c.reference_ce("Li/dual-salt"), 4) > 0.99
True
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dse.errors import CalibrationError
from dse.models.ce import FEATURE_NAMES, NET_MINIMUM, NET_SIGNS, SLOPE_SIGNS

__all__ = [
    "CeCoefficients",
    "CE_CONSTANTS",
    "Prior",
    "PRIORS",
    "COATING_CLASSES",
    "COATING_MATERIALS",
    "METAL_SD",
    "FAMILY_SD",
    "MATERIAL_SD",
    "ORDERING",
    "constraints",
    "constraint_bounds",
    "load_coefficients",
    "prior_coefficients",
    "DEFAULT_PATH",
]

DEFAULT_PATH = Path(__file__).parent / "data" / "ce_coefficients.yaml"
COATING_CLASSES = ("alloy", "carbon", "composite")
#: coating materials with their own deviation from the class effect (catalogue id → ce_class)
COATING_MATERIALS = {
    "Ag": "alloy",
    "Au": "alloy",
    "Bi": "alloy",
    "In": "alloy",
    "Mg": "alloy",
    "Sb": "alloy",
    "Sn": "alloy",
    "Zn": "alloy",
    "C": "carbon",
    "Ag-C": "composite",
}
#: prior sd of the deviation shared by every group of one metal [ln(1 - CE)]
METAL_SD = 0.45
#: prior sd of the deviation shared by every group of one electrolyte family (all metals) [ln(1 - CE)]
FAMILY_SD = 0.35
#: prior sd of a coating material's deviation from its class effect [ln(1 - CE)]
MATERIAL_SD = 0.3
#: informative ordering of the references: ``(better, worse, basis)`` asks
#: ``r[better] <= r[worse]`` (less loss per cycle), enforced by the fit
ORDERING = (
    (
        "Li/lhce",
        "Li/carbonate",
        "seed-000 L184: LHCE and dual-salt give homogeneous Li where LP57 does not; "
        "seed-001 L299 LHCE keeps the HCE solvation",
    ),
    ("Li/hce", "Li/carbonate", "seed-001 L297: HCE gives a denser SEI; Table 4 L345 >99 %"),
    (
        "Li/dual-salt",
        "Li/carbonate",
        "seed-001 L289: the dual-salt LiDFOB/LiBF4 benchmark beats LiPF6 carbonate; seed-000 L184",
    ),
    ("Li/ether", "Li/carbonate", "seed-001 L285: ethers improve cycle life and CE over carbonates"),
    ("Na/ether", "Na/carbonate", "seed-004 L137-L139: glymes >99.9 % CE; carbonates react with Na, gas"),
    ("Na/hce", "Na/carbonate", "seed-004 L175, L231: HCE widens the window and suppresses dendrites"),
    ("Na/lhce", "Na/carbonate", "seed-004 L175: LHCE keeps the HCE solvation"),
    ("K/ether", "K/carbonate", "seed-003 L158-L160: carbonates are the least stable with K"),
    ("K/hce", "K/carbonate", "seed-003 L186: concentrated KFSI/DME, anion-derived SEI"),
)


class Prior(BaseModel):
    """A normal prior ``N(mean, sd²)`` on one parameter, with its reasoning."""

    model_config = ConfigDict(extra="forbid")
    mean: float
    sd: float = Field(gt=0)
    basis: str = ""


def _ln_loss(ce_percent: float) -> float:
    return float(np.log(1.0 - ce_percent / 100.0))


#: Priors: reference CE per group at 25 °C, 1 mA/cm², 3 mAh/cm², full DoD, no pressure.
PRIORS: dict[str, Prior] = {
    "Li/carbonate": Prior(
        mean=_ln_loss(98.0),
        sd=0.8,
        basis="seed-001 L283-L285, L346: carbonate SEI fractures; 25 % first-discharge recovery",
    ),
    "Li/dual-salt": Prior(
        mean=_ln_loss(99.6),
        sd=0.7,
        basis="seed-001 L289: benchmark, 80 % after 90 cycles at 80 % DoD (implied 99.75 %)",
    ),
    "Li/ether": Prior(
        mean=_ln_loss(99.0), sd=0.8, basis="seed-001 L285: ethers improve CE; Table 4 LFP/ether rows 99.5-99.7 %"
    ),
    "Li/hce": Prior(mean=_ln_loss(99.3), sd=0.8, basis="seed-001 L297: HCE contact ion pairs; Table 4 L345 >99 %"),
    "Li/lhce": Prior(mean=_ln_loss(99.5), sd=0.8, basis="seed-001 L299: LHCE retains HCE solvation"),
    "Li/ionic-liquid": Prior(mean=_ln_loss(99.3), sd=0.8, basis="seed-001 L308: 99.4 % average at 50 °C"),
    "Li/gel": Prior(mean=_ln_loss(99.3), sd=0.9, basis="seed-001 L349: gel polymer 99.7 % average"),
    "Li/sulfide": Prior(mean=_ln_loss(99.7), sd=0.8, basis="seed-001 L419: LPSCl/Ag-C 99.8 % over >1000 cycles"),
    "Li/oxide": Prior(mean=_ln_loss(99.0), sd=1.0, basis="seed-001 L427: sputtered Ag on LLZO ~88 % pressure-free"),
    "Li/halide": Prior(
        mean=_ln_loss(99.0), sd=1.0, basis="seed-001 L383: halides reduced by Li; little anode-free data"
    ),
    "Li/polymer": Prior(mean=_ln_loss(99.3), sd=1.0, basis="seed-001 L630: PEO/Ag-C over 99 %, at 60 °C"),
    "Li/lipon": Prior(mean=_ln_loss(99.9), sd=0.8, basis="seed-001 L496: LiPON thin film >1000 cycles"),
    "Na/ether": Prior(
        mean=_ln_loss(99.7), sd=0.7, basis="seed-004 L137: glymes CE >99.9 % (half cell); seed-003 L158 NIRR >99.8 %"
    ),
    "Na/carbonate": Prior(mean=_ln_loss(98.0), sd=0.8, basis="seed-004 L139, L273: carbonates unstable SEI with Na"),
    "Na/hce": Prior(mean=_ln_loss(99.7), sd=0.8, basis="seed-004 L175, L231: HCE widens window, suppresses dendrites"),
    "Na/lhce": Prior(mean=_ln_loss(99.7), sd=0.8, basis="seed-004 L175"),
    "Na/ionic-liquid": Prior(mean=_ln_loss(99.3), sd=1.0, basis="seed-004 L153-L155"),
    "Na/gel": Prior(mean=_ln_loss(99.3), sd=1.0, basis="seed-001 L563-L565: TXE gel"),
    "Na/nasicon": Prior(mean=_ln_loss(99.5), sd=1.0, basis="seed-001 L573-L575: dense Na on Cu/NZSP"),
    "Na/beta-alumina": Prior(mean=_ln_loss(99.7), sd=1.0, basis="seed-001 L585: higher CCD, lower pressure than Li"),
    "Na/sulfide": Prior(mean=_ln_loss(99.3), sd=1.0, basis="seed-001 L571: void formation, SE fracture"),
    "Na/borohydride": Prior(
        mean=_ln_loss(99.8), sd=0.8, basis="seed-004 L241: 99.96 % over 400 cycles at 10 MPa, 40 °C"
    ),
    "Na/halide": Prior(mean=_ln_loss(99.3), sd=1.0, basis="seed-001 L571: NaM(O)Cl4"),
    "K/ether": Prior(mean=_ln_loss(99.3), sd=0.9, basis="seed-003 L113, L173: Al@G 99 %, 99.80 % with PDMS at -40 °C"),
    "K/carbonate": Prior(
        mean=_ln_loss(98.0), sd=1.0, basis="seed-003 L158-L160: reactive K limits stable electrolytes"
    ),
    "K/hce": Prior(mean=_ln_loss(99.3), sd=1.0, basis="seed-003 L186: DHCE vs HCE"),
    "coating/alloy": Prior(
        mean=-0.3, sd=0.5, basis="seed-001 L259-L263: alloying layers lower nucleation overpotential"
    ),
    "coating/carbon": Prior(mean=-0.2, sd=0.5, basis="seed-001 L265; seed-004 L281-L283"),
    "coating/composite": Prior(mean=-0.5, sd=0.5, basis="seed-001 L410-L419: Ag-C interlayers, >1000 cycles"),
    **{
        f"coating/{m}": Prior(mean=0.0, sd=MATERIAL_SD, basis=f"{c} class effect plus a deviation shrunk to 0")
        for m, c in COATING_MATERIALS.items()
    },
    "slope/pressure": Prior(mean=-0.7, sd=0.5, basis="seed-001 L330, seed-004 L347: denser deposits at 0.7-1.2 MPa"),
    "slope/contact": Prior(mean=1.5, sd=0.7, basis="seed-001 L379, L480: solids need contact pressure"),
    "slope/current_density": Prior(
        mean=0.3,
        sd=0.3,
        basis="seed-000 L216: capacity loss at greater current densities "
        "(lumped, partly stripped Li); per e-fold of current density",
    ),
    "slope/temperature": Prior(mean=-0.15, sd=0.2, basis="seed-001 L291, L618: 40 °C cycling; per 10 K"),
    "slope/cold": Prior(
        mean=0.5, sd=0.3, basis="seed-000 L191: below 0 °C plating turns dendritic; per 10 K below 0 °C"
    ),
    "slope/hot": Prior(mean=0.7, sd=0.4, basis="electrolyte and SEI decay above the decay onset; per 10 K above it"),
    "slope/areal_capacity": Prior(
        mean=-0.15,
        sd=0.3,
        basis="at fixed current density the per-area SEI loss is a "
        "smaller fraction of a thicker deposit (liquids); the net loading term stays >= 0.2",
    ),
    "slope/depth_of_discharge": Prior(
        mean=-0.5, sd=0.5, basis="seed-001 L178: partial coverage of Cu drives galvanic corrosion"
    ),
    "slope/rate_ratio": Prior(mean=0.3, sd=0.3, basis="seed-004 L383: slow charge, fast discharge extends life"),
}


#: scalar constants a design may replace (``overrides: {ce: {...}}``), checked by
#: :meth:`CeCoefficients.with_constants` against the same ranges as a coefficients file
CE_CONSTANTS = ("formation_loss_multiplier", "coating_trapped_fraction", "residual_sd")


class CeCoefficients(BaseModel):
    """Posterior (or prior) of the CE surrogate parameters.

    Every number must be finite: a NaN or an infinity here would reach every
    design of a sweep as NaN outputs (``allow_inf_nan=False``).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    format: str = "dse-ce-coefficients/1"
    description: str = ""
    provenance: dict = Field(default_factory=dict)
    groups: list[str]
    coating_classes: list[str] = Field(default_factory=lambda: list(COATING_CLASSES))
    coating_materials: dict[str, str] = Field(default_factory=dict)
    features: list[str] = Field(default_factory=lambda: list(FEATURE_NAMES))
    mean: list[float]
    covariance: list[list[float]]
    residual_sd: float = Field(ge=0)
    formation_loss_multiplier: float = Field(ge=0)
    coating_trapped_fraction: float = Field(ge=0, le=1)
    fit_report: dict = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shapes(self):
        n = self.n_base + len(self.features)
        unknown = sorted(set(self.coating_materials.values()) - set(self.coating_classes))
        if unknown:
            raise ValueError(f"coating_materials name unknown classes {unknown}")
        if tuple(self.features) != FEATURE_NAMES:
            raise ValueError(f"features must be {list(FEATURE_NAMES)}")
        if len(self.mean) != n:
            raise ValueError(f"mean has {len(self.mean)} values, expected {n}")
        cov = np.asarray(self.covariance, dtype=float)
        if cov.shape != (n, n):
            raise ValueError(f"covariance has shape {cov.shape}, expected ({n}, {n})")
        if not np.allclose(cov, cov.T, atol=1e-10) or np.min(np.linalg.eigvalsh(cov)) < -1e-9:
            raise ValueError("covariance must be symmetric positive semi-definite")
        return self

    # -- parameter access ---------------------------------------------------
    @property
    def n_base(self) -> int:
        """Number of parameters before the slopes (groups, classes, materials)."""
        return len(self.groups) + len(self.coating_classes) + len(self.coating_materials)

    @property
    def names(self) -> list[str]:
        """Parameter names in the order of ``mean``: groups, coating classes and materials, then ``slope/<feature>``."""
        return (
            self.groups
            + [f"coating/{c}" for c in self.coating_classes]
            + [f"coating/{m}" for m in self.coating_materials]
            + [f"slope/{f}" for f in self.features]
        )

    def index(self, name: str) -> int:
        """Position of parameter ``name`` in ``mean`` and ``covariance``."""
        return self.names.index(name)

    def reference_ce(self, group: str) -> float:
        """Reference CE of a ``metal/family`` group."""
        return float(1.0 - np.exp(self.mean[self.index(group)]))

    @property
    def slopes(self) -> tuple[float, ...]:
        """The fitted condition slopes, in the order of ``features``."""
        return tuple(float(x) for x in self.mean[self.n_base :])

    @property
    def slope_covariance(self) -> np.ndarray:
        """Covariance of the condition slopes (the lower-right block of ``covariance``)."""
        n0 = self.n_base
        return np.asarray(self.covariance, dtype=float)[n0:, n0:]

    def base_indicator(self, group: str, coating_class: str | None, coating: str | None = None) -> np.ndarray:
        """``θ``-space row of ``r[group] + c[class] + d[material]`` (the material term if it has one)."""
        x = np.zeros(len(self.names))
        x[self.index(group)] = 1.0
        if coating_class and coating_class != "none":
            x[self.index(f"coating/{coating_class}")] = 1.0
            if coating in self.coating_materials and self.coating_materials[coating] == coating_class:
                x[self.index(f"coating/{coating}")] = 1.0
        return x

    def base_terms(
        self, group: str, coating_class: str | None, coating: str | None = None
    ) -> tuple[float, float, tuple[float, ...]]:
        """Mean, variance and slope covariances of ``r[group] + c[class] + d[material]``.

        ``coating`` (a catalogue id) adds its material deviation when the
        coefficients have one; an unknown material gets its class effect.
        """
        cov = np.asarray(self.covariance, dtype=float)
        x = self.base_indicator(group, coating_class, coating)
        return (
            float(x @ np.asarray(self.mean, dtype=float)),
            float(x @ cov @ x),
            tuple(float(v) for v in (x @ cov)[self.n_base :]),
        )

    def violations(self, tolerance: float = 1e-9) -> list[str]:
        """The constraints of :func:`constraints` that the mean breaks (empty: every sign holds)."""
        matrix, labels = constraints(self.names)
        values = matrix @ np.asarray(self.mean, dtype=float) - constraint_bounds(self.names)
        return [f"{label} ({-v:.3g} short)" for label, v in zip(labels, values, strict=True) if v < -tolerance]

    def with_constants(self, constants: Mapping[str, object] | None, where: str = "overrides.ce") -> CeCoefficients:
        """A copy with some of :data:`CE_CONSTANTS` replaced, validated like a coefficients file.

        Raises
        ------
        SpecError
            For an unknown constant, or a value that is not a finite number in
            its range, naming the key (``overrides.ce.residual_sd: ...``).

        Examples
        --------
        >>> load_coefficients().with_constants({"residual_sd": float("nan")})
        Traceback (most recent call last):
        ...
        dse.errors.SpecError: overrides.ce.residual_sd: expected a finite number, got nan
        """
        from dse.errors import SpecError, suggest

        if not constants:
            return self
        for key, value in constants.items():
            if key not in CE_CONSTANTS:
                raise SpecError(f"unknown CE constant {key!r}" + suggest(str(key), CE_CONSTANTS), where)
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
                raise SpecError(f"expected a finite number, got {value!r}", f"{where}.{key}")
        try:
            return type(self).model_validate({**self.model_dump(), **constants})
        except ValidationError as exc:
            err = exc.errors()[0]
            key = str(err["loc"][0]) if err["loc"] else ""
            msg = err["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
            raise SpecError(
                f"expected a number {msg}, got {constants.get(key)!r}", f"{where}.{key}" if key else where
            ) from None

    def hash(self) -> str:
        """SHA-256 of the coefficients' canonical JSON: the identity a store records."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    def save(self, path: str | Path) -> None:
        """Write the coefficients as YAML to ``path``, atomically."""
        from dse.atomic import write_atomic

        write_atomic(path, yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, width=120))


def _group_covariance(groups: list[str]) -> np.ndarray:
    """Prior covariance of the group references: metal, family and own deviations.

    ``r_g = m_g + a[metal] + b[family] + u_g`` with ``a ~ N(0, METAL_SD²)``,
    ``b ~ N(0, FAMILY_SD²)`` and ``u_g ~ N(0, sd_g² - METAL_SD² - FAMILY_SD²)``,
    so each group keeps its prior sd ``sd_g`` and groups sharing a metal or
    a family are correlated.
    """
    metal = [g.split("/")[0] for g in groups]
    family = [g.split("/")[1] for g in groups]
    same_metal = np.equal.outer(metal, metal).astype(float)
    same_family = np.equal.outer(family, family).astype(float)
    own = np.array([PRIORS[g].sd ** 2 - METAL_SD**2 - FAMILY_SD**2 for g in groups])
    if np.any(own <= 0):
        raise ValueError("a group prior sd is below the shared metal and family deviations")
    return METAL_SD**2 * same_metal + FAMILY_SD**2 * same_family + np.diag(own)


def _constraint_rows(names: list[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """``G``, the labels and ``b`` of ``G θ >= b``, built in one pass so that rows and bounds never part."""
    col = {n: i for i, n in enumerate(names)}
    rows, labels, bounds = [], [], []
    for feature, sign in SLOPE_SIGNS.items():
        if sign and f"slope/{feature}" in col:
            g = np.zeros(len(names))
            g[col[f"slope/{feature}"]] = sign
            rows.append(g)
            labels.append(f"slope/{feature} {'>=' if sign > 0 else '<='} 0")
            bounds.append(0.0)
    for features, sign in NET_SIGNS.items():
        if all(f"slope/{f}" in col for f in features):
            g = np.zeros(len(names))
            for f in features:
                g[col[f"slope/{f}"]] = sign
            rows.append(g)
            bound = NET_MINIMUM.get(features, 0.0)
            labels.append(
                " + ".join(f"slope/{f}" for f in features) + (f" >= {bound:g}" if sign > 0 else f" <= {-bound:g}")
            )
            bounds.append(sign * bound)
    for better, worse, _ in ORDERING:
        if better in col and worse in col:
            g = np.zeros(len(names))
            g[col[worse]], g[col[better]] = 1.0, -1.0
            rows.append(g)
            labels.append(f"{better} <= {worse}")
            bounds.append(0.0)
    return np.asarray(rows, dtype=float).reshape(len(rows), len(names)), labels, np.asarray(bounds, dtype=float)


def constraints(names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Linear constraints ``G θ >= b`` on the parameters named ``names`` (``b``: :func:`constraint_bounds`).

    One row per signed slope (:data:`dse.models.ce.SLOPE_SIGNS`), per net
    sign (:data:`dse.models.ce.NET_SIGNS`) and per ordering of
    :data:`ORDERING` whose two groups are present.

    Examples
    --------
    >>> G, labels = constraints(prior_coefficients().names)
    >>> labels[0], labels[-1]
    ('slope/pressure <= 0', 'K/hce <= K/carbonate')
    >>> bool(np.all(G @ np.asarray(prior_coefficients().mean) >= 0))
    True
    """
    matrix, labels, _ = _constraint_rows(names)
    return matrix, labels


def constraint_bounds(names: list[str]) -> np.ndarray:
    """``b`` of the constraints ``G θ >= b`` of :func:`constraints`: 0 but for :data:`~dse.models.ce.NET_MINIMUM`."""
    return _constraint_rows(names)[2]


def prior_coefficients() -> CeCoefficients:
    """Coefficients equal to the priors (used before any calibration).

    The covariance is the hierarchical one (:func:`_group_covariance` for
    the groups; independent classes, materials and slopes).
    """
    groups = [k for k in PRIORS if not k.startswith(("coating/", "slope/"))]
    materials = dict(COATING_MATERIALS)
    names = (
        groups
        + [f"coating/{c}" for c in COATING_CLASSES]
        + [f"coating/{m}" for m in materials]
        + [f"slope/{f}" for f in FEATURE_NAMES]
    )
    covariance = np.diag([PRIORS[n].sd ** 2 for n in names])
    covariance[: len(groups), : len(groups)] = _group_covariance(groups)
    return CeCoefficients(
        description="Prior coefficients (no data)",
        provenance={"source": "dse.coefficients.PRIORS"},
        groups=groups,
        coating_materials=materials,
        mean=[PRIORS[n].mean for n in names],
        covariance=covariance.tolist(),
        residual_sd=0.5,
        formation_loss_multiplier=15.0,
        coating_trapped_fraction=0.2,
    )


def load_coefficients(path: str | Path | None = None) -> CeCoefficients:
    """Load a coefficients file (default: the shipped calibration, else the priors).

    Raises
    ------
    CalibrationError
        If the file is missing or does not match the schema.
    """
    if path is None and not DEFAULT_PATH.exists():
        return prior_coefficients()
    return _load(str(path or DEFAULT_PATH))


@lru_cache(maxsize=8)
def _load(path: str) -> CeCoefficients:
    from dse.errors import SpecError
    from dse.safe_yaml import load_file

    try:
        data = load_file(path, "coefficients file")
    except SpecError as exc:
        raise CalibrationError(exc.message, where=path) from None
    try:
        return CeCoefficients.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise CalibrationError(f"{loc}: {err['msg']}" if loc else err["msg"], where=path) from None
