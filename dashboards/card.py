"""The design card of one design and the pinned designs side by side.

The card shows every input and output, the per-layer breakdown, the capacity
curve with its p10-p90 cycle-life band, and the YAML that ``dse evaluate``
reproduces; the comparison puts the pinned designs' curves on one plot and
their inputs in one table (those that differ marked).
"""

from __future__ import annotations

import math

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from dashboards.state import ExplorerState
from dashboards.style import BAND_OUTPUTS, CATEGORY_COLORS, FRONT_COLOR
from dse.explore import ResultsSource, display_unit, format_value
from dse.vocabulary import INPUTS, OUTPUTS


class CardView(ExplorerState):
    """The design card (:attr:`detail`) and the comparison of the pinned designs (:attr:`pinned`)."""

    @param.depends("detail")
    def detail_card(self):
        """Every input and output, per-layer breakdown, capacity curve and YAML of one design."""
        if self.detail < 0:
            return pn.pane.Markdown("Click a point of the front (or a row of the front table) to see its design.")
        return pn.Column(*detail_views(self.source, self.detail), self._pin_button, sizing_mode="stretch_width")

    @param.depends("pinned")
    def comparison(self):
        """Pinned designs side by side (inputs that differ are marked), and their capacity curves on one plot."""
        if not self.pinned:
            return pn.pane.Markdown("Pin up to four designs from the design card to compare them here.")
        return pn.Column(
            pn.pane.HoloViews(
                comparison_curves(self.source, self.pinned), sizing_mode="stretch_width", linked_axes=False
            ),
            pn.pane.DataFrame(comparison_table(self.source, self.pinned), sizing_mode="stretch_width"),
            self._clear_pins,
            sizing_mode="stretch_width",
        )


#: the title of the capacity curves (card and pinned comparison)
CAPACITY_TITLE = "Discharge capacity [mAh/cm²] vs cycle"


def capacity_curve(
    source: ResultsSource,
    row: int,
    ev=None,
    color: str = "#1f77b4",
    band_color: str = FRONT_COLOR,
    line_color: str = "grey",
    label: str = "",
):
    """One design's discharge capacity vs cycle, its p10-p90 cycle-life band (shaded) and its 80 % line.

    ``ev`` is the row's :func:`dse.evaluate.evaluate_design` (evaluated
    here when not given). Returns the overlay (the curve first, named
    ``label`` for a legend) and a line of text on the band ('' without one).
    """
    if ev is None:
        from dse.evaluate import evaluate_design

        ev = evaluate_design(source.design(row))
    n, cap = ev.curve()
    curve = hv.Overlay([hv.Curve((n, cap), "cycle", "capacity", label=label).opts(color=color)])
    band_text = ""
    if all(k in source.outputs for k in BAND_OUTPUTS):
        p10, p90 = (float(source.values(n, np.array([row]))[0]) for n in ("cycle_life_p10", "cycle_life_p90"))
        if math.isfinite(p10) and math.isfinite(p90):
            curve = curve * hv.VSpan(p10, p90).opts(color=band_color, alpha=0.15)
            band_text = f" · cycle life p10–p90: {format_value(p10)}–{format_value(p90)} (shaded)"
    if math.isfinite(ev.outputs["capacity"]):
        curve = curve * hv.HLine(0.8 * ev.outputs["capacity"]).opts(color=line_color, line_dash="dashed")
    return curve, band_text


def comparison_curves(source: ResultsSource, rows: list[int]):
    """The pinned designs' capacity curves on one plot, each in its colour with its band and 80 % line."""
    layers = []
    for k, row in enumerate(rows):
        color = CATEGORY_COLORS[k % len(CATEGORY_COLORS)]
        curve, _ = capacity_curve(
            source, row, color=color, band_color=color, line_color=color, label=source.design_label(row)
        )
        layers.extend(curve)
    return hv.Overlay(layers).opts(
        hv.opts.Overlay(
            title=f"{CAPACITY_TITLE} of the pinned designs (shaded: each one's p10–p90 cycle life; dashed: 80 %)",
            height=300,
            responsive=True,
            legend_position="top_right",
        )
    )


def detail_views(source: ResultsSource, row: int) -> list:
    """Panels of the design card of one row: tables, breakdown, capacity curve with its band, YAML."""
    from dse.evaluate import LAYERS, evaluate_design

    design = source.design(row)
    ev = evaluate_design(design)
    o = ev.outputs

    def unit(name, table):
        return display_unit(table[name].units) if name in table else ""

    inputs = pd.DataFrame(
        [
            (
                k,
                INPUTS[k].long_name if k in INPUTS else k,
                v if isinstance(v, str) else format_value(v),
                unit(k, INPUTS),
            )
            for k, v in design.inputs.items()
        ],
        columns=["name", "input", "value", "units"],
    )
    outputs = pd.DataFrame(
        [(k, OUTPUTS[k].long_name, o[k], unit(k, OUTPUTS)) for k in OUTPUTS if k in o and k != "feasible"],
        columns=["output", "quantity", "value", "units"],
    )
    br = ev.breakdown()
    layers = [layer for layer in LAYERS if br["mass"][layer] > 0 or br["thickness"][layer] > 0]
    mass = hv.Bars([(layer.replace("_", " "), br["mass"][layer]) for layer in layers], "layer", "mass").opts(
        title="Mass per layer [mg/cm²] (as assembled)", height=260, responsive=True, xrotation=30, color="#1f77b4"
    )
    thick = hv.Bars([(layer.replace("_", " "), br["thickness"][layer]) for layer in layers], "layer", "thickness").opts(
        title="Thickness per layer [µm] (full charge)", height=260, responsive=True, xrotation=30, color="#ff7f0e"
    )
    curve, band_text = capacity_curve(source, row, ev)
    curve = curve.opts(hv.opts.Overlay(title=CAPACITY_TITLE, height=260, responsive=True))
    text = design.to_yaml()
    header = f"# {design.name}\n# reproduce with: dse evaluate design.yaml\n"
    if source.results.catalogue_changed:
        header += "# note: the installed materials catalogue differs from the one this store used\n"
    yaml_box = pn.widgets.TextAreaInput(
        label="Design (YAML for dse evaluate)", value=header + text, height=260, sizing_mode="stretch_width"
    )
    state = "feasible" if ev.feasible else "infeasible: " + ", ".join(ev.reasons)
    return [
        pn.pane.Markdown(f"### {source.design_label(row)} — {state}{band_text}"),
        pn.Row(
            pn.pane.DataFrame(inputs, index=False),
            pn.pane.DataFrame(outputs, index=False, float_format=lambda v: f"{v:.4g}"),
            sizing_mode="stretch_width",
        ),
        pn.pane.HoloViews(curve, sizing_mode="stretch_width"),
        pn.Row(
            pn.pane.HoloViews(mass, sizing_mode="stretch_width", linked_axes=False),
            pn.pane.HoloViews(thick, sizing_mode="stretch_width", linked_axes=False),
            sizing_mode="stretch_width",
        ),
        yaml_box,
    ]


def comparison_table(source: ResultsSource, rows: list[int]) -> pd.DataFrame:
    """Pinned designs as columns: swept inputs (those that differ marked ≠) then outputs."""
    cols = ["scenario", *source.inputs, *source.outputs]
    df = source.frame(np.asarray(rows), cols)
    index = []
    for c in cols:
        differs = df[c].nunique(dropna=False) > 1 and c not in source.outputs
        index.append(("≠ " if differs else "") + source.label(c))
    return pd.DataFrame({source.design_label(r): df.loc[r].tolist() for r in rows}, index=index)
