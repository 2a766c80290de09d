"""Write docs/response.md and docs/response/*.png: how the model answers one input at a time.

For three base designs (Li liquid, Li solid, Na liquid) each input of
:data:`SWEEPS` moves across its typical range
(``dse.vocabulary.INPUTS[name].typical``; categorical inputs over the
catalogue entries that go with the base's metal) with every other input held.
Each figure shows cycle life with its p10-p90 band, specific energy and the
life-limiting mechanism; infeasible points are marked with their reasons.
Beside each figure the page states the direction the literature expects and,
computed from the same numbers, what the model shows.

``tests/test_docs.py`` compares :func:`render_markdown` with the committed page.
Run ``python tools/build_response.py`` after changing a model or the catalogue.
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dse.modelchain import ModelChain  # noqa: E402
from dse.models.feasibility import describe_reason  # noqa: E402
from dse.models.lifetime import LIFE_LIMITS  # noqa: E402
from dse.spec import Design, load_design, parse_design  # noqa: E402
from dse.vocabulary import INPUTS  # noqa: E402

PAGE = ROOT / "docs" / "response.md"
FIGURES = ROOT / "docs" / "response"
POINTS = 41
OUTPUTS = (
    "cycle_life",
    "cycle_life_p10",
    "cycle_life_p90",
    "specific_energy",
    "life_limit",
    "infeasible_reason",
)

#: the solid Li base: Samsung-SDI-like sulfide cell (seed-001 L598: Ag-C 5-10 um on SUS, LPSCl, 60 °C,
#: 0.5C/0.5C, 2 MPa; ABRC 4 MPa, L600), here at 5 MPa and a 0.2C charge
LI_SOLID = {
    "name": "NMC811 on Li6PS5Cl, Ag-C 5 um on SUS, anode-free 1 Ah pouch",
    "metal": "Li",
    "cathode": "NMC811",
    "cathode_loading": "5 mAh/cm^2",
    "current_collector": "SUS",
    "current_collector_thickness": "10 um",
    "coating": "Ag-C",
    "coating_thickness": "5 um",
    "electrolyte": "Li-LPSCl",
    "separator_thickness": "30 um",
    "stack_pressure": "5 MPa",
    "temperature": "60 degC",
    "charge_rate": "C/5",
    "discharge_rate": "C/2",
    "depth_of_discharge": 1.0,
    "cell_format": "pouch-1Ah",
}
#: the liquid Na base: NVP on bare Al with NaPF6 in diglyme (seed-001 L528-L547, seed-000 Table 1)
NA_LIQUID = {
    "name": "NVP on Al with NaPF6/diglyme, anode-free pouch",
    "metal": "Na",
    "cathode": "NVP",
    "cathode_loading": "3 mAh/cm^2",
    "current_collector": "Al",
    "current_collector_thickness": "12 um",
    "electrolyte": "Na-diglyme",
    "electrolyte_amount": "2.5 g/Ah",
    "separator": "PE",
    "separator_thickness": "16 um",
    "stack_pressure": "0.5 MPa",
    "temperature": "25 degC",
    "charge_rate": "C/5",
    "discharge_rate": "C/2",
    "depth_of_discharge": 1.0,
    "cell_format": "pouch",
}

#: coating swept for coating_thickness when the base has none (a thickness of nothing is no sweep)
STAND_IN_COATING = {"Li": "Ag", "Na": "C", "K": "C"}
#: coating thickness used for the coating (categorical) sweep when the base has none [um]
STAND_IN_THICKNESS = 1.0


@dataclass(frozen=True)
class Base:
    """A base design the inputs move around."""

    key: str
    title: str
    source: str

    def design(self) -> Design:
        if self.key == "li-liquid":
            return load_design(ROOT / "examples" / "nmc811_dual_salt.yaml")
        data = {"li-solid": LI_SOLID, "na-liquid": NA_LIQUID}[self.key]
        return parse_design(data, source=self.key)

    @property
    def liquid(self) -> bool:
        return self.key.endswith("liquid")


BASES = (
    Base("li-liquid", "Li liquid", "`examples/nmc811_dual_salt.yaml`"),
    Base("li-solid", "Li solid", "`LI_SOLID` in `tools/build_response.py`"),
    Base("na-liquid", "Na liquid", "`NA_LIQUID` in `tools/build_response.py`"),
)

#: input -> (axis scale, what the literature expects and where it says so)
SWEEPS = {
    "charge_rate": (
        "log",
        "faster charge, higher current density → lower CE, dendrites (seed 003 L188); liquids "
        "short above the critical current (docs/feasibility.md); solids fail by voids and "
        "penetration above theirs",
    ),
    "discharge_rate": (
        "log",
        "capacity the cathode cannot take back at a fast discharge is not a free reservoir: "
        "stranded metal is still exposed to losses",
    ),
    "temperature": (
        "linear",
        "plating below ~0 °C much worse (seed 000 L191); warm cycling helps (seed 001 L291); "
        "above 45–60 °C the electrolyte decays",
    ),
    "cathode_loading": (
        "linear",
        "Li-metal cycle life usually falls with areal capacity (seed 001 L332); specific energy rises and saturates",
    ),
    "metal_excess": (
        "linear",
        "extra metal helps only until the electrolyte or cathode gives out; it costs specific energy",
    ),
    "electrolyte_amount": (
        "linear",
        "lean electrolyte shortens life (dry-out); excess electrolyte costs specific energy",
    ),
    "stack_pressure": (
        "linear",
        "saturating benefit for liquids (seed 001 L330); contact penalty below the "
        "minimum for solids (seed 001 L379); pressure plates and the format's limit cap it",
    ),
    "depth_of_discharge": (
        "linear",
        "shallower cycling keeps a reservoir, so life counted in cycles rises",
    ),
    "prelithiation": (
        "linear",
        "extra first-charge inventory acts as a reservoir and delays the knee "
        "(prelithiated and Na-rich cathodes, docs/literature.md 'Reservoirs and "
        "presodiation'); the additive costs mass",
    ),
    "coating_thickness": (
        "log",
        "a nucleation layer raises CE; Ag-C 5–10 µm in the sulfide pouch (seed 001 L598) "
        "also stores metal (L410, L419); beyond that thickness only adds mass",
    ),
    "electrolyte": (
        "category",
        "LHCE/HCE Li‖Cu CE above LP-type carbonate (seed 000 §3.3, seed 001 Table 4)",
    ),
    "coating": (
        "category",
        "lithiophilic/alloying and carbon layers lower the nucleation overpotential and raise CE "
        "over bare collectors (seed 001 L410–L419)",
    ),
}

UNIT_LABEL = {
    "1/h": "C",
    "degC": "°C",
    "um": "µm",
    "mAh/cm^2": "mAh/cm²",
    "g/Ah": "g/Ah",
    "MPa": "MPa",
    "1": "",
}
LIMIT_COLOURS = {
    "none": "#bbbbbb",
    "inventory": "#1f77b4",
    "corrosion": "#9467bd",
    "dry_out": "#ff7f0e",
    "cathode": "#2ca02c",
}


@dataclass
class Response:
    """One input moved across its range on one base design."""

    base: Base
    name: str
    values: list  # floats or catalogue ids
    base_value: float | str
    out: dict[str, np.ndarray]
    note: str = ""

    @property
    def categorical(self) -> bool:
        return INPUTS[self.name].categorical

    @property
    def feasible(self) -> np.ndarray:
        return self.out["infeasible_reason"] == 0

    @property
    def figure(self) -> str:
        return f"response/{self.base.key}-{self.name}.png"


def sweep_values(design: Design, name: str, chain: ModelChain) -> list:
    """Values of ``name`` across its typical range (or its catalogue entries for the base's metal)."""
    var = INPUTS[name]
    if var.categorical:
        metal = design.inputs["metal"]
        ids = chain.catalogue.ids(var.catalogue)
        if name == "electrolyte":
            return [i for i in ids if chain.catalogue.get("electrolyte", i).metal == metal]
        return list(ids)
    lo, hi = var.typical
    if SWEEPS[name][0] == "log":
        return [float(x) for x in np.geomspace(lo, hi, POINTS)]
    return [float(x) for x in np.linspace(lo, hi, POINTS)]


def responses() -> list[Response]:
    """Evaluate every sweep of every base (vectorised, one call per sweep)."""
    result = []
    chains: dict[str, ModelChain] = {}
    for base in BASES:
        design = base.design()
        key = repr((design.overrides, design.ce_overrides, design.ce_coefficients))
        chain = chains.setdefault(key, ModelChain.from_design(design))
        for name in SWEEPS:
            if name == "electrolyte_amount" and not base.liquid:
                continue
            inputs = copy.deepcopy(design.inputs)
            note = ""
            if name == "coating_thickness" and inputs["coating"] == "none":
                inputs["coating"] = STAND_IN_COATING[inputs["metal"]]
                note = f"The base has no coating; swept with {inputs['coating']}."
            if name == "coating" and inputs["coating_thickness"] == 0:
                inputs["coating_thickness"] = STAND_IN_THICKNESS
                note = f"The base has no coating; coatings at {STAND_IN_THICKNESS:g} µm."
            values = sweep_values(design, name, chain)
            inputs[name] = np.asarray(values, dtype=object if INPUTS[name].categorical else np.float64)
            out = chain.evaluate(inputs)
            result.append(Response(base, name, values, design.inputs[name], {k: out[k] for k in OUTPUTS}, note))
    return result


# -------------------------------------------------------------------------- words
def fmt_value(name: str, x) -> str:
    if isinstance(x, str):
        return x
    if name == "electrolyte_amount" and x == 0:
        return "0 g/Ah (fill)"
    unit = UNIT_LABEL.get(INPUTS[name].units, INPUTS[name].units)
    text = f"{x:.2g}" if abs(x) < 10 else f"{x:.0f}"
    if unit == "C":
        return f"{text}C"
    return f"{text} {unit}".strip()


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges ``(first, last)`` of consecutive True values."""
    out, start = [], None
    for i, m in enumerate(mask):
        if m and start is None:
            start = i
        if not m and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(mask) - 1))
    return out


def span(r: Response, first: int, last: int) -> str:
    a, b = fmt_value(r.name, r.values[first]), fmt_value(r.name, r.values[last])
    return a if first == last else f"{a}–{b}"


def reasons(codes) -> str:
    names: list[str] = []
    for c in codes:
        names += [n for n in describe_reason(int(c)) if n not in names]
    return ", ".join(names)


def limit_name(code: float) -> str:
    return LIFE_LIMITS[int(code)][0]


def summary_continuous(r: Response) -> str:
    ok = r.feasible
    life, energy = r.out["cycle_life"], r.out["specific_energy"]
    if not ok.any():
        return f"no feasible point ({reasons(r.out['infeasible_reason'])})"
    idx = np.flatnonzero(ok)
    i, j = idx[0], idx[-1]
    x = lambda k: fmt_value(r.name, r.values[k])  # noqa: E731
    parts = [f"life {life[i]:.0f} → {life[j]:.0f} cycles from {x(i)} to {x(j)}"]
    k = idx[np.argmax(life[idx])]
    if life[k] > 1.05 * max(life[i], life[j]):
        parts[0] += f" (peak {life[k]:.0f} at {x(k)})"
    parts.append(f"specific energy {energy[i]:.0f} → {energy[j]:.0f} Wh/kg")
    segments = []
    for code in dict.fromkeys(r.out["life_limit"][idx]):
        where = ok & (r.out["life_limit"] == code)
        segments.append(f"{limit_name(code)} ({', '.join(span(r, a, b) for a, b in runs(where))})")
    parts.append(
        "limit " + ("; ".join(segments) if len(segments) > 1 else limit_name(r.out["life_limit"][i]) + " throughout")
    )
    for a, b in runs(~ok):
        parts.append(f"{span(r, a, b)} infeasible ({reasons(r.out['infeasible_reason'][a : b + 1])})")
    return "; ".join(parts)


def summary_categorical(r: Response) -> str:
    ok = r.feasible
    life, energy = r.out["cycle_life"], r.out["specific_energy"]
    order = sorted(np.flatnonzero(ok), key=lambda k: -life[k])
    cells = [
        f"{r.values[k]} {life[k]:.0f} ({limit_name(r.out['life_limit'][k])}, {energy[k]:.0f} Wh/kg)" for k in order
    ]
    text = "life, longest first: " + "; ".join(cells) if cells else "no feasible entry"
    bad = [f"{r.values[k]} ({reasons([r.out['infeasible_reason'][k]])})" for k in np.flatnonzero(~ok)]
    if bad:
        text += "; infeasible: " + "; ".join(bad)
    return text


def summary(r: Response) -> str:
    return summary_categorical(r) if r.categorical else summary_continuous(r)


def render_markdown(rows: list[Response] | None = None) -> str:
    """The text of docs/response.md (numbers computed, no figures written)."""
    rows = responses() if rows is None else rows
    lines = [
        "<!-- generated by tools/build_response.py; do not edit -->",
        "",
        "# How the model responds to each input",
        "",
        "What the model believes, before you trust a front: each figure moves one input across its typical "
        "range (`dse.vocabulary.INPUTS[name].typical`; categorical inputs over the catalogue entries for the "
        "base's metal) with every other input held at a base design, and shows cycle life with its p10–p90 "
        "band (log scale), specific energy and the mechanism that ends life. Infeasible points are greyed "
        "and named by their reasons (docs/feasibility.md). Beside each figure: the direction the literature "
        "expects, and one line computed from the numbers of the figure. The dashed line marks the base value.",
        "",
        "Regenerate after changing a model or the catalogue: `python tools/build_response.py` "
        "(`tests/test_docs.py` fails when this page is stale).",
        "",
    ]
    for base in BASES:
        design = base.design()
        given = ", ".join(f"{k} {fmt_value(k, design.inputs[k])}" for k in design.given if k not in ("metal",))
        lines += [f"## {base.title}: {design.name}", "", f"Base ({base.source}): {given}.", ""]
        for r in (r for r in rows if r.base == base):
            lines += [
                f"### {r.name}",
                "",
                f"![{base.title}: {r.name}]({r.figure})",
                "",
                f"* Literature: {SWEEPS[r.name][1]}.",
                f"* Model: {summary(r)}." + (f" {r.note}" if r.note else ""),
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


# -------------------------------------------------------------------------- figures
def plot(r: Response, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = r.feasible
    x = np.arange(len(r.values), dtype=float) if r.categorical else np.asarray(r.values, dtype=float)
    masked = {
        k: np.where(ok, r.out[k], np.nan) for k in ("cycle_life", "cycle_life_p10", "cycle_life_p90", "specific_energy")
    }
    fig, (ax_life, ax_energy, ax_limit) = plt.subplots(
        3, 1, sharex=True, figsize=(9, 6), gridspec_kw={"height_ratios": [3, 2, 1]}
    )
    style = {"marker": "o", "linestyle": "none"} if r.categorical else {}
    if r.categorical:
        life = masked["cycle_life"]
        ax_life.errorbar(
            x,
            life,
            yerr=[life - masked["cycle_life_p10"], masked["cycle_life_p90"] - life],
            color="#1f77b4",
            alpha=0.4,
            linestyle="none",
            capsize=4,
            label="p10–p90",
        )
    else:
        ax_life.fill_between(
            x,
            masked["cycle_life_p10"],
            masked["cycle_life_p90"],
            color="#1f77b4",
            alpha=0.2,
            label="p10–p90",
        )
    ax_life.plot(x, masked["cycle_life"], color="#1f77b4", label="cycle life", **style)
    ax_life.set_yscale("log")
    ax_life.set_ylabel("cycles to 80 %")
    ax_energy.plot(x, masked["specific_energy"], color="#d62728", **style)
    ax_energy.set_ylabel("Wh/kg")
    for k, code in enumerate(r.out["life_limit"]):
        name = limit_name(code) if ok[k] else "none"
        ax_limit.scatter([x[k]], [0], marker="s", s=60 if r.categorical else 40, color=LIMIT_COLOURS[name])
    ax_limit.set_yticks([])
    ax_limit.set_ylabel("limit")
    handles = [
        plt.Line2D([], [], marker="s", linestyle="none", color=LIMIT_COLOURS[n], label=n)
        for n in dict.fromkeys(limit_name(c) for c in r.out["life_limit"][ok])
    ]
    if handles:
        ax_limit.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    for a, b in runs(~ok):
        if r.categorical:
            lo, hi = x[a] - 0.5, x[b] + 0.5
        else:
            lo, hi = (
                x[max(a - 1, 0)] if a else x[0],
                x[min(b + 1, len(x) - 1)] if b < len(x) - 1 else x[-1],
            )
        for ax in (ax_life, ax_energy, ax_limit):
            ax.axvspan(lo, hi, color="#dddddd", zorder=0)
        ax_energy.text(
            (lo * hi) ** 0.5 if SWEEPS[r.name][0] == "log" else (lo + hi) / 2,
            0.5,
            reasons(r.out["infeasible_reason"][a : b + 1]).replace(", ", "\n"),
            transform=ax_energy.get_xaxis_transform(),
            ha="center",
            va="center",
            fontsize=7,
            color="#555555",
        )
    if r.categorical:
        ax_limit.set_xticks(x, r.values, rotation=45, ha="right", fontsize=8)
        if r.base_value in r.values:
            base_x = float(r.values.index(r.base_value))
        else:
            base_x = None
    else:
        if SWEEPS[r.name][0] == "log":
            ax_limit.set_xscale("log")
        base_x = float(r.base_value)
    if base_x is not None:
        for ax in (ax_life, ax_energy, ax_limit):
            ax.axvline(base_x, color="black", linestyle="--", linewidth=0.8)
    var = INPUTS[r.name]
    ax_limit.set_xlabel(var.long_name + (f" [{var.units}]" if var.units else ""))
    ax_life.legend(loc="best", fontsize=8)
    ax_life.set_title(f"{r.base.title}: {r.name}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def main() -> None:
    rows = responses()
    for r in rows:
        plot(r, ROOT / "docs" / r.figure)
    PAGE.write_text(render_markdown(rows))
    print(f"wrote {PAGE.relative_to(ROOT)} and {len(rows)} figures in {FIGURES.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
