"""The dse dashboard: millions of designs and their Pareto fronts in a browser.

``Explorer`` is a :class:`panel.viewable.Viewer` whose state is declared as
``param`` parameters (axes, colour, input filters, output constraints, zoom,
box selection, the design on the card, pinned designs); every one of them
round-trips through the URL, and the widgets show the state, whoever set it.
The data live in :class:`dse.explore.ResultsSource` (opened once per
process, shared by every session); this module only draws them.

The cloud is aggregated by :func:`dse.explore.aggregate` in the axes' own
coordinates (``log10`` of the values on a log axis, with tick labels in the
values' units), so a design is drawn where its values are; its plot objects
are built once per choice of axes and colour and updated from streams
(filters, constraints, zoom). The front is drawn on top in a colour no
category uses, with the p10-p90 cycle-life band when cycle life is an axis.
Where the store has them, the front can be computed on the p10 or p90 cycle
life instead of the median (its points stay at the plotted values, the band
shows the quantile), and the cloud can be coloured by ``pareto_probability``
or a refined store's ``refinement_level``; the front's exact hypervolume is
shown above its table, from a reference point fixed per store (the worst
feasible value of each objective), so filters compare. Measured cells
(``dse serve --cells DIR``) are drawn as black-edged stars at their measured
values (:func:`cell_axis_values`).

Served by ``dse serve STORE``; tested by driving the parameters
(``tests/test_dashboard.py``, ``tests/test_dashboard_plots.py``) and once in
a real browser (``tests/test_dashboard_browser.py``).
"""

from __future__ import annotations

import io
import json
import math
import urllib.parse
from collections.abc import Mapping
from contextlib import contextmanager
from functools import partial

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param
import xarray as xr
from xarray.backends import BackendArray
from xarray.core.indexing import IndexingSupport, LazilyIndexedArray, explicit_indexing_adapter

from dse.explore import (
    Axis,
    ResultsSource,
    aggregate,
    display_unit,
    format_value,
    format_values,
    significant_format,
)
from dse.hypervolume import hypervolume
from dse.vocabulary import INPUTS, OUTPUTS

__all__ = ["ResultsSource", "Explorer", "load_source", "create_app", "FRONT_COLOR", "CATEGORY_COLORS",
           "cell_axis_values", "nearest_front_point", "input_differences", "capacity_curve", "comparison_curves"]

hv.extension("bokeh", logo=False)
MAX_PINNED = 4
FRONT_POINTS_MAX = 5000
FRONT_TABLE_MAX = 2000
#: pixels of the aggregated cloud
CLOUD_WIDTH, CLOUD_HEIGHT = 640, 420
#: the front: a red that neither the category palette nor viridis uses
FRONT_COLOR = "#d62728"
CATEGORY_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f",
                   "#393b79", "#e7ba52", "#637939", "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94")
BAND_OUTPUTS = ("cycle_life", "cycle_life_p10", "cycle_life_p90")
#: measured cells (--cells): gold stars with a black edge, unlike any design or the front
CELL_COLOR = "#ffd700"
#: what a measured cell gives for an output axis (measured first, then the model's value where allowed)
CELL_MEASURES = {"cycle_life": ("measured_life",), "specific_energy": ("measured_specific_energy", "specific_energy"),
                 "energy_density": ("measured_energy_density", "energy_density"),
                 "coulombic_efficiency": ("measured_ce",)}
#: the sidecar key whose absence puts a cell at the model's value of an axis
CELL_MEASURE_KEYS = {"specific_energy": "cell_mass", "energy_density": "cell_volume"}
#: the front can be computed on a cycle-life quantile instead of the median
FRONT_QUANTILES = {"median": "cycle_life", "p10": "cycle_life_p10", "p90": "cycle_life_p90"}
#: the sensitivity indices drawn, as named in the chart's legend → their column
SENSITIVITY_INDICES = {"first order": "first_order", "total order": "total_order"}
#: the cloud's hover fields of a pixel's first design are named by the column after this
HOVER_PREFIX = "design."


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float64) / 255


# --------------------------------------------------------------------------- the app
class Explorer(pn.viewable.Viewer):
    """Explore a results store: cloud, front, filters, constraints, histograms, details."""

    # check_on_set: values also arrive from the URL and must be one of the objects
    x = param.Selector(check_on_set=True, doc="Output on the x axis")
    y = param.Selector(check_on_set=True, doc="Output on the y axis")
    color = param.Selector(check_on_set=True, doc="Input or output that colours the cloud")
    front_scope = param.Selector(objects=["axes", "all"], default="axes",
                                 doc="Pareto front over the two axes, or over every objective")
    filters = param.Dict(default={}, doc="Input → allowed names (categorical) or [low, high] (numeric)")
    constraints = param.Dict(default={}, doc="Output → [low, high] (either may be null: unbounded)")
    zoom = param.Dict(default={}, doc="Visible ranges {'x': [lo, hi], 'y': [lo, hi]} in the values' units")
    selection = param.Parameter(default=None, doc="Box selection (x0, y0, x1, y1) in values, or None")
    detail = param.Integer(default=-1, doc="Row shown on the design card (-1: none)")
    pinned = param.List(default=[], doc="Rows pinned for comparison (at most four)")
    lower_tab = param.Integer(default=0, precedence=-1, doc="Shown tab below the cloud (its views compute)")
    front_on = param.Selector(objects=["median"], default="median", check_on_set=True,
                              doc="Cycle life the front is computed on: median, p10 or p90 (stores with quantiles)")

    def __init__(self, source: ResultsSource, cells: pd.DataFrame | None = None,
                 sensitivity: pd.DataFrame | None = None, **params):
        self.source = source
        self.cells = cells
        #: a table of :func:`dse.sensitivity.sensitivity` (``dse serve --sensitivity``): its tab, else none
        self.sensitivity = sensitivity
        outs = source.outputs
        objectives = list(source.objectives) or outs
        x0 = "energy_density" if "energy_density" in outs else objectives[0]
        y0 = "cycle_life" if "cycle_life" in outs else objectives[min(1, len(objectives) - 1)]
        colour0 = source.categorical[0] if source.categorical else outs[0]
        # choices read as labels with units; the values (and the URL) are the names
        self.param.x.objects = {source.label(n): n for n in outs}
        self.param.y.objects = {source.label(n): n for n in outs}
        self.param.color.objects = {source.label(n): n for n in [*source.categorical, *source.numeric_inputs, *outs,
                                                                  *source.extras]}
        # the quantile switch only where the store has the quantiles (otherwise the control is not shown)
        self.param.front_on.objects = [q for q, n in FRONT_QUANTILES.items() if n in outs] or ["median"]
        params.setdefault("x", x0)
        params.setdefault("y", y0)
        params.setdefault("color", colour0)
        super().__init__(**params)
        self._mask_cache: tuple[str, np.ndarray] | None = None
        self._front_cache: tuple[tuple, np.ndarray] | None = None
        self._hypervolume_cache: tuple[tuple, float] | None = None
        self._showing = False  # widgets being set from the state: their callbacks do nothing
        self._histogram_panes: pn.GridBox | None = None
        self._build_widgets()
        self.param.watch(self._show_state, ["filters", "constraints"])
        self.param.watch(self._axes_changed, ["x", "y"])

    # -- state ----------------------------------------------------------------
    @contextmanager
    def batched(self):
        """Apply a change of state as one update of the session's document.

        Every plot that redraws would otherwise make Bokeh walk the whole
        document's models once (a third of a second per change on a small
        store, more with every chart); frozen, it walks them once at the end.
        """
        doc = pn.state.curdoc
        if doc is None or getattr(doc, "session_context", None) is None:
            yield
            return
        from panel.io import hold

        with hold(doc), doc.models.freeze():
            yield

    def _key(self) -> str:
        return json.dumps([self.filters, self.constraints], sort_keys=True, default=str)

    def mask(self) -> np.ndarray:
        """Rows that pass the filters and the output constraints."""
        key = self._key()
        if self._mask_cache is None or self._mask_cache[0] != key:
            self._mask_cache = (key, self.source.mask(self.filters, self.constraints))
        return self._mask_cache[1]

    def front_objectives(self) -> dict[str, str]:
        """Objectives of the front and their senses; cycle life replaced by the quantile of :attr:`front_on`."""
        sense = self.source.objectives
        if self.front_scope == "all" and sense:
            objectives = dict(sense)
        else:
            objectives = {self.x: sense.get(self.x, "max"), self.y: sense.get(self.y, "max")}
        quantile = FRONT_QUANTILES.get(self.front_on, "cycle_life")
        if quantile != "cycle_life" and quantile in self.source.outputs:
            objectives = {quantile if n == "cycle_life" else n: s for n, s in objectives.items()}
        return objectives

    def front(self) -> np.ndarray:
        """Rows of the Pareto front of the filtered designs."""
        objectives = self.front_objectives()
        key = (self._key(), tuple(objectives.items()))
        if self._front_cache is None or self._front_cache[0] != key:
            self._front_cache = (key, self.source.front(self.mask(), objectives))
        return self._front_cache[1]

    def hypervolume_reference(self, objectives: Mapping[str, str]) -> dict[str, float]:
        """The worst value of every objective over all feasible designs of the store.

        Fixed for a store (not the filtered front's own nadir), so hypervolumes
        of different filters compare.
        """
        return {n: self.source.extent(n)[0 if s == "max" else 1] for n, s in objectives.items()}

    def front_hypervolume(self) -> tuple[float, dict[str, str], dict[str, float]]:
        """Exact hypervolume of the current front, its objectives and its reference point."""
        objectives = self.front_objectives()
        reference = self.hypervolume_reference(objectives)
        key = (self._key(), tuple(objectives.items()))
        if self._hypervolume_cache is None or self._hypervolume_cache[0] != key:
            df = self.source.frame(self.front(), list(objectives))
            self._hypervolume_cache = (key, hypervolume(df, list(objectives), list(objectives.values()), reference))
        return self._hypervolume_cache[1], objectives, reference

    def hypervolume_text(self) -> str:
        """The front's hypervolume as one line: value, units, objectives and reference point."""
        value, objectives, reference = self.front_hypervolume()
        src = self.source
        units = "·".join(u for u in (_unit(n) for n in objectives) if u)
        names = " × ".join(f"{src.label(n, units=False)} ({s})" for n, s in objectives.items())
        ref = ", ".join(f"{format_value(v)} {_unit(n)}".strip() for n, v in reference.items())
        return (f"Hypervolume {value:.4g} {units} of {names}, from the reference point ({ref}): "
                "the worst feasible value of each objective in the store")

    def axes(self) -> tuple[Axis, Axis]:
        """The x and y axes (padded extents, or the zoomed ranges)."""
        zoom = self.zoom if isinstance(self.zoom, Mapping) else {}
        return self.source.axis(self.x, zoom.get("x")), self.source.axis(self.y, zoom.get("y"))

    def selected_rows(self) -> np.ndarray:
        """Filtered rows inside the box selection (all filtered rows without one)."""
        keep = self.mask()
        if self.selection:
            x0, y0, x1, y1 = (float(v) for v in self.selection)
            xs, ys = self.source.column(self.x), self.source.column(self.y)
            keep = keep & (xs >= np.float64(min(x0, x1))) & (xs <= np.float64(max(x0, x1))) \
                & (ys >= np.float64(min(y0, y1))) & (ys <= np.float64(max(y0, y1)))
        return np.flatnonzero(keep)

    def pin(self, row: int | None = None) -> None:
        row = self.detail if row is None else int(row)
        if row < 0 or row in self.pinned:
            return
        self.pinned = ([*self.pinned, row])[-MAX_PINNED:]

    def _axes_changed(self, *events) -> None:
        if not self._showing:
            self.param.update(zoom={}, selection=None)

    # -- URL state --------------------------------------------------------------
    URL_PARAMS = {"x": "x", "y": "y", "color": "color", "front_scope": "front", "front_on": "front_on",
                  "filters": "filters", "constraints": "constraints", "zoom": "zoom", "detail": "design"}

    def to_query(self) -> str:
        """The view as a URL query string (names as :attr:`URL_PARAMS`)."""
        state = {}
        for name, key in self.URL_PARAMS.items():
            value = getattr(self, name)
            state[key] = json.dumps(value, sort_keys=True, separators=(",", ":")) if isinstance(value, dict) \
                else value
        return urllib.parse.urlencode(state)

    def apply_query(self, query: str) -> None:
        """Restore a view from :meth:`to_query` output (unknown names are ignored)."""
        values = dict(urllib.parse.parse_qsl(query.lstrip("?")))
        self.apply_state({name: values[key] for name, key in self.URL_PARAMS.items() if key in values})

    def apply_state(self, values: Mapping) -> None:
        """Apply the valid part of a view state (from a URL: never trusted).

        Axis and colour names must be among their choices; filters,
        constraints and zoom must be mappings (JSON text or dicts) of this
        store's columns; the design a row of the store. Anything else is
        ignored, so a hand-made URL can neither break a session nor name
        anything outside the store.
        """
        update: dict = {}
        for k in ("x", "y", "color", "front_scope", "front_on"):
            if isinstance(values.get(k), str) and values[k] in list(self.param[k].objects):
                update[k] = values[k]
        columns = {*self.source.categorical, *self.source.numeric_inputs}
        for k, allowed in (("filters", columns), ("constraints", set(self.source.outputs)),
                           ("zoom", {"x", "y"})):
            value = values.get(k)
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError:
                    value = None
            if isinstance(value, Mapping):
                update[k] = {n: v for n, v in value.items() if isinstance(n, str) and n in allowed}
        try:
            detail = int(values.get("detail", ""))
        except (TypeError, ValueError):
            detail = None
        if detail is not None and -1 <= detail < len(self.source):
            update["detail"] = detail
        self._showing = True  # new axes from a URL keep the URL's zoom
        try:
            with self.batched():
                self.param.update(**update)
        finally:
            self._showing = False

    # -- widgets --------------------------------------------------------------
    def _build_widgets(self) -> None:
        src = self.source
        self._filter_widgets: dict[str, pn.widgets.Widget] = {}
        for name in src.categorical:
            options = src.categories[name]
            w = pn.widgets.MultiChoice(label=src.label(name), options=options, value=list(options),
                                       sizing_mode="stretch_width")
            w.param.watch(lambda e, n=name: self._set_rule("filters", n, e.new), "value")
            self._filter_widgets[name] = w
        for name, (lo, hi) in src.ranges.items():
            if not hi > lo:
                continue
            w = pn.widgets.RangeSlider(label=src.label(name), start=lo, end=hi, value=(lo, hi),
                                       step=(hi - lo) / 200, sizing_mode="stretch_width")
            w.param.watch(lambda e, n=name: self._set_rule("filters", n, e.new), "value_throttled")
            self._filter_widgets[name] = w
        self._constraint_widgets: dict[str, pn.widgets.Widget] = {}
        for name in self.constraint_outputs():
            lo, hi = src.extent(name)
            if not hi > lo:
                continue
            # a RangeSlider: Panel 1.9's EditableRangeSlider is never freed, nor is what its callbacks reach
            # (a whole session per page load)
            w = pn.widgets.RangeSlider(label=src.label(name), start=lo, end=hi, value=(lo, hi),
                                       step=_step(lo, hi), format=_slider_format(lo, hi), sizing_mode="stretch_width")
            w.param.watch(lambda e, n=name: self._set_rule("constraints", n, e.new), "value_throttled")
            self._constraint_widgets[name] = w
        self._show_state()
        self._export_front = pn.widgets.FileDownload(callback=self._front_csv, filename="pareto_front.csv",
                                                     label="Export front (CSV)", color="primary")
        self._export_selection = pn.widgets.FileDownload(callback=self._selection_csv, filename="selection.csv",
                                                         label="Export selection (CSV)")
        self._pin_button = pn.widgets.Button(label="Pin design", color="success")
        self._pin_button.on_click(lambda e: self.pin())
        self._clear_pins = pn.widgets.Button(label="Clear pins")
        self._clear_pins.on_click(lambda e: setattr(self, "pinned", []))
        self._clear_selection = pn.widgets.Button(label="Clear box selection")
        self._clear_selection.on_click(lambda e: setattr(self, "selection", None))
        self._reset = pn.widgets.Button(label="Reset filters and constraints")
        self._reset.on_click(lambda e: self.reset())
        self._front_tabulator = pn.widgets.Tabulator(pd.DataFrame(), show_index=False, disabled=True, selectable=1,
                                                     height=430, sizing_mode="stretch_width", header_align="center",
                                                     frozen_columns=["design"])
        self._front_tabulator.on_click(self._on_front_click)
        self._update_front_table()
        self._side_tabs = pn.Tabs(("Front", pn.Column(self.front_header, self._front_tabulator,
                                                      sizing_mode="stretch_width")), ("Design", self.detail_card),
                                  ("Pinned", self.comparison), dynamic=True, sizing_mode="stretch_width")
        self._lower_tabs = pn.Tabs(("Inputs of the selection", pn.Column(self.histogram_header, self._histogram_grid(),
                                                                         sizing_mode="stretch_width")),
                                   ("Parallel coordinates", self._parallel_view),
                                   dynamic=True, sizing_mode="stretch_width")
        if self.sensitivity is not None and len(self.sensitivity):
            self._lower_tabs.append(("Sensitivity", self.sensitivity_view()))
        self._lower_tabs.param.watch(lambda e: setattr(self, "lower_tab", e.new), "active")
        self.param.watch(lambda e: setattr(self._side_tabs, "active", 1) if e.new >= 0 else None, "detail")

    def reset(self) -> None:
        """Drop every filter and constraint."""
        with self.batched():
            self.param.update(filters={}, constraints={})

    def constraint_outputs(self) -> list[str]:
        """Outputs offered as constraints: the objectives, then the cycle-life band's lower end."""
        names = [n for n in self.source.objectives if n in self.source.outputs]
        return names + [n for n in ("cycle_life_p10", "cost_per_cycle") if n in self.source.outputs]

    def _set_rule(self, kind: str, name: str, value) -> None:
        """A widget moved: store its rule (or drop it when the widget shows everything)."""
        if self._showing:
            return
        rules = dict(getattr(self, kind))
        if name in self.source.categorical:
            names = self.source.categories[name]
            chosen = [n for n in names if n in set(map(str, value))]
            full = chosen == names
            rule = chosen
        else:
            lo, hi = self.source.extent(name)
            a, b = float(value[0]), float(value[1])
            full = a <= lo and b >= hi
            rule = [None if a <= lo else a, None if b >= hi else b] if kind == "constraints" else [a, b]
        if full:
            rules.pop(name, None)
        else:
            rules[name] = rule
        with self.batched():
            setattr(self, kind, rules)

    def _show_state(self, *events) -> None:
        """Set every filter and constraint widget to what the state says (from a URL too)."""
        self._showing = True
        try:
            for kind, widgets in (("filters", self._filter_widgets), ("constraints", self._constraint_widgets)):
                rules = getattr(self, kind) if isinstance(getattr(self, kind), Mapping) else {}
                for name, w in widgets.items():
                    rule = rules.get(name)
                    if name in self.source.categorical:
                        allowed = self.source.allowed_codes(name, rule)
                        names = self.source.categories[name]
                        value = names if allowed is None else [n for n, a in zip(names, allowed, strict=True) if a]
                    else:
                        lo, hi = w.start, w.end
                        a, b = (rule if isinstance(rule, list | tuple) and len(rule) == 2 else (None, None))
                        value = (_clip(a, lo, hi, lo), _clip(b, lo, hi, hi))
                    if w.value != value:
                        w.value = value
                    if "value_throttled" in w.param and w.value_throttled != value:
                        # the browser sends value_throttled only when it changes: keep it in step
                        with param.edit_constant(w):
                            w.value_throttled = value
        finally:
            self._showing = False

    # -- tables -----------------------------------------------------------------
    def front_columns(self, rows: np.ndarray) -> list[str]:
        """The front table's columns: plotted objectives, other objectives, varying inputs, the band."""
        objectives = list(dict.fromkeys([self.x, self.y, *self.front_objectives()]))
        inputs = []
        for name in self.source.inputs:
            values = self.source.column(name)[rows]
            if values.size and (values != values[0]).any():
                inputs.append(name)
        extra = [n for n in ("cycle_life_p10", "cycle_life_p90") if n in self.source.outputs
                 and "cycle_life" in objectives]
        return [*objectives, *inputs, *extra]

    def front_table(self) -> pd.DataFrame:
        """The current front: design name, plotted objectives first, then inputs that differ; best x first."""
        rows = self.front()
        df = self.source.frame(rows, self.front_columns(rows))
        df.insert(0, "design", [self.source.design_label(r) for r in rows])
        ascending = self.source.objectives.get(self.x, "max") == "min"
        return df.sort_values(self.x, ascending=ascending, kind="stable")

    def selection_table(self) -> pd.DataFrame:
        keep = np.zeros(len(self.source), dtype=bool)
        keep[self.selected_rows()] = True
        return self.source.table(keep)

    def _front_csv(self) -> io.StringIO:
        rows = self.front()
        df = self.source.table(np.isin(np.arange(len(self.source)), rows))
        return io.StringIO(df.to_csv(index=False))

    def _selection_csv(self) -> io.StringIO:
        return io.StringIO(self.selection_table().to_csv(index=False))

    # -- plots ------------------------------------------------------------------
    def _image(self, x_range=None, y_range=None, filters=None, constraints=None):
        """The aggregated cloud over the visible ranges (plot coordinates)."""
        xa, ya = self.axes()
        if x_range is not None and all(np.isfinite(x_range)) and x_range[1] > x_range[0]:
            xa = Axis(xa.name, xa.log, float(x_range[0]), float(x_range[1]))
        if y_range is not None and all(np.isfinite(y_range)) and y_range[1] > y_range[0]:
            ya = Axis(ya.name, ya.log, float(y_range[0]), float(y_range[1]))
        return self.cloud_element(xa, ya)

    def cloud_element(self, xa: Axis, ya: Axis, width: int = CLOUD_WIDTH, height: int = CLOUD_HEIGHT):
        """The cloud of the filtered designs as an image in plot coordinates, with a design-level hover.

        The image's data is an xarray Dataset over the pixel centres: the
        colour (RGBA, or the mean of a numeric colour), and for the hover
        (:meth:`cloud_hover_fields`) how many designs each pixel holds and the
        labelled values of its first design. HoloViews serves that hover
        from the server: the tooltip shows the fields of the pixel under the
        cursor, and nothing over an empty pixel.
        """
        src = self.source
        keep = self.mask()
        xs, ys = src.plot_column(xa.name), src.plot_column(ya.name)
        kdims = [hv.Dimension("x_plot", label=src.label(xa.name)), hv.Dimension("y_plot", label=src.label(ya.name))]
        categorical = self.color in src.categorical
        if categorical:
            names = src.categories[self.color]
            agg = aggregate(xs, ys, keep, xa, ya, width, height, codes=src.column(self.color), ncat=len(names),
                            first=True)
            counts = agg["count"]
            total = counts.sum(axis=2)
            palette = np.array([_rgb(CATEGORY_COLORS[i % len(CATEGORY_COLORS)]) for i in range(len(names))])
            with np.errstate(invalid="ignore", divide="ignore"):
                rgb = np.einsum("hwk,kc->hwc", counts, palette) / total[..., None]
                alpha = np.where(total > 0, 0.45 + 0.55 * np.log1p(total) / np.log1p(max(total.max(), 1)), 0.0)
            rgba = np.nan_to_num(np.concatenate([rgb, alpha[..., None]], axis=2))
            colour = {c: rgba[..., i] for i, c in enumerate("RGBA")}
        else:
            agg = aggregate(xs, ys, keep, xa, ya, width, height, weights=src.column(self.color), first=True)
            total = agg["count"]
            colour = {self.color: agg["mean"]}
        fields = self.cloud_hover_fields(agg["first"], total)
        xc = xa.lo + (np.arange(width) + 0.5) * (xa.hi - xa.lo) / width
        yc = ya.lo + (np.arange(height) + 0.5) * (ya.hi - ya.lo) / height
        dims = ("y_plot", "x_plot")
        data = xr.Dataset({k: xr.Variable(dims, LazilyIndexedArray(v)) if isinstance(v, PixelText) else (dims, v)
                           for k, v in {**colour, **fields}.items()},
                          coords={"x_plot": xc, "y_plot": yc}, attrs={"selector_columns": list(fields)})
        tooltips = [(self.cloud_hover_label(k), k) for k in fields if k != "__index__"]
        if categorical:
            return hv.RGB(data, kdims=kdims, vdims=list("RGBA")).opts(tools=["hover"], hover_tooltips=tooltips)
        return hv.Image(data, kdims=kdims, vdims=[hv.Dimension(self.color, label=src.label(self.color))]).opts(
            cmap="viridis", colorbar=True, clabel=src.label(self.color), clipping_colors={"NaN": (0, 0, 0, 0)},
            tools=["hover"], hover_tooltips=tooltips)

    def cloud_hover_names(self) -> list[str]:
        """Columns the cloud's hover shows for a pixel's design: the axes, the colour, then the swept inputs."""
        src = self.source
        names = [self.x, self.y]
        if self.color not in src.categorical and self.color != "scenario":
            names.append(self.color)
        return list(dict.fromkeys([*names, *src.inputs]))

    def cloud_hover_label(self, field: str) -> str:
        """The label of a hover field: a column's label with units, or what the field says."""
        if field.startswith(HOVER_PREFIX):
            return self.source.label(field[len(HOVER_PREFIX):])
        return {"count": "designs in this pixel", "design": "first design of the pixel"}.get(field, field)

    def cloud_hover_fields(self, first: np.ndarray, count: np.ndarray) -> dict[str, object]:
        """Per pixel: designs in it, and the name and values (as text) of its first design ('' where empty).

        ``first`` is :func:`dse.explore.aggregate`'s first row per pixel
        (-1: empty), ``count`` the designs per pixel; ``__index__`` is the
        first row itself (HoloViews hides the tooltip where it is -1). A
        column's field is its name after :data:`HOVER_PREFIX` (apart from the
        colour's own layer, which holds the pixel's mean). The text fields
        are lazy (:class:`PixelText`): only the pixels read, the one under
        the cursor, are looked up and formatted (:meth:`pixel_text`).
        """
        fields: dict[str, object] = {"__index__": first, "count": count.astype(np.int64)}
        for name in ["design", *(HOVER_PREFIX + n for n in self.cloud_hover_names())]:
            fields[name] = PixelText(first, partial(self.pixel_text, name))
        return fields

    def pixel_text(self, field: str, rows: np.ndarray) -> np.ndarray:
        """The text of one hover field for ``rows`` (any shape; -1, an empty pixel: '')."""
        src = self.source
        rows = np.asarray(rows, dtype=np.int64)
        out = np.full(rows.shape, "", dtype=object)
        kept = rows >= 0
        if kept.any():
            if field == "design":
                out[kept] = src.design_labels(rows[kept])
            else:
                column = field[len(HOVER_PREFIX):]
                values = src.frame(rows[kept], [column])[column].to_numpy()
                out[kept] = values if values.dtype == object else format_values(values)
        return out

    def _front_points(self, filters=None, constraints=None, front_scope=None, front_on=None):
        rows = self.front()
        if rows.size > FRONT_POINTS_MAX:
            rows = rows[np.linspace(0, rows.size - 1, FRONT_POINTS_MAX).astype(int)]
        return self.front_element(rows)

    def front_element(self, rows: np.ndarray):
        """Front points in plot coordinates, with labelled values, units and varying inputs on hover."""
        src = self.source
        xa, ya = self.axes()
        cols = self.front_columns(rows)
        df = src.frame(rows, cols).reset_index(drop=True)
        df["x_plot"] = xa.to_plot(df[self.x].to_numpy())
        df["y_plot"] = ya.to_plot(df[self.y].to_numpy())
        df["design"] = [src.design_label(r) for r in rows]
        df["row"] = rows
        tooltips = [("design", "@design")]
        for c in cols:
            fmt = "" if c in src.categorical else "{" + significant_format(df[c].to_numpy()) + "}"
            tooltips.append((src.label(c), f"@{{{c}}}{fmt}"))
        from bokeh.models import HoverTool

        hover = HoverTool(tooltips=tooltips)
        vdims = ["design", "row", *[c for c in cols if c not in ("x_plot", "y_plot")]]
        return hv.Points(df, kdims=["x_plot", "y_plot"], vdims=list(dict.fromkeys(vdims))).opts(
            color=FRONT_COLOR, size=7, line_color="black", line_width=0.8, tools=[hover, "tap"],
            nonselection_alpha=0.7, selection_color="black")

    def _band(self, filters=None, constraints=None, front_scope=None, front_on=None):
        """p10-p90 cycle life of the front designs, as segments along the cycle-life axis."""
        src = self.source
        rows = self.front()[:FRONT_POINTS_MAX]
        xa, ya = self.axes()
        if not all(n in src.outputs for n in BAND_OUTPUTS) or "cycle_life" not in (self.x, self.y):
            return hv.Segments([], kdims=["x0", "y0", "x1", "y1"])
        lo = src.column("cycle_life_p10")[rows]
        hi = src.column("cycle_life_p90")[rows]
        if self.y == "cycle_life":
            px = xa.to_plot(src.column(self.x)[rows])
            data = (px, ya.to_plot(lo), px, ya.to_plot(hi))
        else:
            py = ya.to_plot(src.column(self.y)[rows])
            data = (xa.to_plot(lo), py, xa.to_plot(hi), py)
        return hv.Segments(data, kdims=["x0", "y0", "x1", "y1"]).opts(color=FRONT_COLOR, alpha=0.5, line_width=2)

    @param.depends("x", "y", "color")
    def cloud(self):
        """The cloud of filtered designs with the clickable front (and its p10-p90 band) on top."""
        src = self.source
        data = hv.streams.Params(parameterized=self, parameters=["filters", "constraints"])
        front_data = hv.streams.Params(parameterized=self, parameters=["filters", "constraints", "front_scope",
                                                                       "front_on"])
        xa, ya = self.axes()
        ranges = hv.streams.RangeXY(x_range=(xa.lo, xa.hi), y_range=(ya.lo, ya.hi))
        image = hv.DynamicMap(self._image, streams=[ranges, data])
        ranges.source = image
        front = hv.DynamicMap(self._front_points, streams=[front_data])
        band = hv.DynamicMap(self._band, streams=[front_data])
        tap = hv.streams.Selection1D(source=front)
        tap.add_subscriber(lambda index: self._on_tap(front, index))
        box = hv.streams.BoundsXY(source=image)
        box.add_subscriber(self._on_box)
        ranges.add_subscriber(self._on_range)
        full_x, full_y = src.axis(self.x), src.axis(self.y)
        opts = {"xlabel": src.label(self.x), "ylabel": src.label(self.y), "xlim": (xa.lo, xa.hi),
                "ylim": (ya.lo, ya.hi), "responsive": True, "min_height": 450,
                "title": f"{len(src):,} feasible designs · front in red (click a point)"}
        if full_x.log:
            opts["xticks"] = full_x.ticks(8)
        if full_y.log:
            opts["yticks"] = full_y.ticks(8)
        element_opts = [hv.opts.RGB(tools=["box_select", "hover"], active_tools=["wheel_zoom"]),
                        hv.opts.Image(tools=["box_select", "hover"], active_tools=["wheel_zoom"])]
        if self.cells is not None:
            opts["title"] += " · ★ measured cells"
        return (image * band * front * self.cells_element()).opts(*element_opts, hv.opts.Overlay(**opts))

    def _on_tap(self, front, index) -> None:
        if not index:
            return
        data = front.last.data if front.last is not None else None
        if data is not None and index[0] < len(data):
            with self.batched():
                self.detail = int(data["row"].iloc[index[0]])

    def _on_box(self, bounds) -> None:
        if not bounds:
            self.selection = None
            return
        xa, ya = self.axes()
        x0, y0, x1, y1 = bounds
        with self.batched():
            self.selection = (xa.from_plot(x0), ya.from_plot(y0), xa.from_plot(x1), ya.from_plot(y1))

    def _on_range(self, x_range, y_range) -> None:
        full_x, full_y = self.source.axis(self.x), self.source.axis(self.y)
        zoom = {}
        for key, rng, full in (("x", x_range, full_x), ("y", y_range, full_y)):
            if rng is None or not all(np.isfinite(rng)):
                continue
            if abs(rng[0] - full.lo) + abs(rng[1] - full.hi) > 1e-6 * (full.hi - full.lo):
                zoom[key] = [full.from_plot(rng[0]), full.from_plot(rng[1])]
        if zoom != self.zoom:
            self._showing = True
            try:
                self.zoom = zoom
            finally:
                self._showing = False

    def legend(self):
        """Colours of the categories (categorical colour) and the measured cells as an HTML line."""
        note = self.cells_note()
        cells = f" · <span style='color:{CELL_COLOR};-webkit-text-stroke:1px black'>★</span> {note}" if note else ""
        if self.color not in self.source.categorical:
            return pn.pane.HTML(cells[3:])
        names = self.source.categories[self.color]
        items = " ".join(f"<span style='white-space:nowrap'><span style='display:inline-block;width:10px;"
                         f"height:10px;background:{CATEGORY_COLORS[i % len(CATEGORY_COLORS)]}'></span> {n}</span>"
                         for i, n in enumerate(names))
        return pn.pane.HTML(f"<b>{self.source.label(self.color)}</b>: {items} · "
                            f"<span style='color:{FRONT_COLOR}'>●</span> Pareto front{cells}")

    # -- measured cells -----------------------------------------------------------
    def cells_frame(self) -> pd.DataFrame:
        """The measured cells placed on the current axes (plot coordinates) with their hover fields.

        Only cells with a value on both axes (:func:`cell_axis_values`) that
        the axis can show (positive on a log axis) are returned.
        """
        cells = self.cells
        columns = ["x_plot", "y_plot", "cell", "x_value", "y_value", "measured_life_text", "measured_energy_text",
                   "predicted_life_text", "front_design", "front_gap_text", "differs_text"]
        if cells is None or not len(cells):
            return pd.DataFrame(columns=columns)
        xa, ya = self.axes()
        xv, yv, shown = self._cells_placed()
        if shown is None:
            return pd.DataFrame(columns=columns)
        df = pd.DataFrame({"x_plot": xa.to_plot(xv), "y_plot": ya.to_plot(yv), "cell": cells["cell"].astype(str),
                           "x_value": [format_value(v) for v in xv], "y_value": [format_value(v) for v in yv]})
        df["measured_life_text"] = [_life_text(r) for _, r in cells.iterrows()]
        df["measured_energy_text"] = [_energy_text(r) for _, r in cells.iterrows()]
        df["predicted_life_text"] = [f"{format_value(r['cycle_life'])} (p10–p90: {format_value(r['cycle_life_p10'])}"
                                     f"–{format_value(r['cycle_life_p90'])})" for _, r in cells.iterrows()]
        df = df[shown].reset_index(drop=True)
        gaps = self.cells_gap(cells[shown].reset_index(drop=True), xv[shown], yv[shown])
        df["front_design"], df["front_gap_text"], df["differs_text"] = gaps
        return df[columns]

    def cells_gap(self, cells: pd.DataFrame, xv: np.ndarray, yv: np.ndarray) -> tuple[list, list, list]:
        """For each cell, the nearest front design at least as good on both axes, the gap, and the inputs that differ.

        Nearest is in the plot's own coordinates scaled to the axes' extents
        (:func:`nearest_front_point`); where no front design is as good on
        both axes the cell is beyond the front of the filtered designs and the
        nearest front design is named. Returns the front design's label, the
        gap on each axis, and the inputs the cell would change to become it
        (:func:`input_differences`), one entry per row of ``cells``.
        """
        labels, gaps, differs = [], [], []
        rows = self.front()
        xa, ya = self.axes()
        if not len(cells):
            return labels, gaps, differs
        if not rows.size:
            return [""] * len(cells), ["no front among the filtered designs"] * len(cells), [""] * len(cells)
        senses = self.front_objectives()
        sx, sy = (self.source.objectives.get(n, senses.get(n, "max")) for n in (self.x, self.y))
        front = self.source.frame(rows, list(dict.fromkeys((self.x, self.y))))
        fx, fy = front[self.x].to_numpy(np.float64), front[self.y].to_numpy(np.float64)
        for k in range(len(cells)):
            j, beyond = nearest_front_point(xv[k], yv[k], fx, fy, (sx, sy), xa, ya)
            row = int(rows[j])
            labels.append(self.source.design_label(row))
            gap = ", ".join(f"{self.source.label(n, units=False)} {format_value(c)} → {format_value(f)}"
                            f"{(' ' + _unit(n)) if _unit(n) else ''}"
                            for n, c, f in ((self.x, xv[k], fx[j]), (self.y, yv[k], fy[j])))
            gaps.append(f"{labels[-1]}: {gap}" + (" (the cell is beyond the front here)" if beyond else ""))
            differs.append(input_differences(cells.iloc[k], self.source.design(row).inputs) or "no input")
        return labels, gaps, differs

    def _cells_placed(self) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """The cells' values on the x and y axes, and which of them the axes can show (None: not on these axes)."""
        xv, yv = cell_axis_values(self.cells, self.x), cell_axis_values(self.cells, self.y)
        if xv is None or yv is None:
            return xv, yv, None
        xa, ya = self.axes()
        return xv, yv, np.isfinite(xa.to_plot(xv)) & np.isfinite(ya.to_plot(yv))

    def cells_note(self) -> str:
        """How many measured cells are drawn, and how many the current axes cannot show ('' without cells)."""
        if self.cells is None:
            return ""
        shown = self._cells_placed()[2] if len(self.cells) else None
        total, drawn = len(self.cells), 0 if shown is None else int(shown.sum())  # no front search to count
        hidden = f" ({total - drawn} hidden: no measured value on these axes)" if drawn < total else ""
        modelled = []
        for name in dict.fromkeys((self.x, self.y)):
            measured = cell_axis_values(self.cells, name, model=False)
            if name in CELL_MEASURE_KEYS and measured is not None:
                n = int(np.sum(~np.isfinite(measured)))
                if n:
                    modelled.append(f"{n} at the model's {name.replace('_', ' ')} "
                                    f"(no {CELL_MEASURE_KEYS[name]} in the sidecar)")
        model = f"; {', '.join(modelled)}" if modelled else ""
        return f"{drawn} measured cell{'s' if drawn != 1 else ''} at their measured values{hidden}{model}"

    def cells_element(self):
        """The measured cells as black-edged stars, with cell id, measured and predicted life on hover."""
        src = self.source
        df = self.cells_frame()
        from bokeh.models import HoverTool

        hover = HoverTool(tooltips=[("cell", "@cell"), (src.label(self.x), "@x_value"), (src.label(self.y), "@y_value"),
                                    ("measured life [cycles to 80 %]", "@measured_life_text"),
                                    ("measured energy", "@measured_energy_text"),
                                    ("predicted life", "@predicted_life_text"),
                                    ("nearest front design", "@front_gap_text"),
                                    ("it differs in", "@differs_text")])
        return hv.Points(df, kdims=["x_plot", "y_plot"], vdims=[c for c in df.columns if c not in
                                                                ("x_plot", "y_plot")]).opts(
            marker="star", size=18, color=CELL_COLOR, line_color="black", line_width=1.2, tools=[hover])

    def histogram_element(self, name: str, **state):
        """One input's distribution in the filtered designs and in the box selection, as fractions.

        Both sets are always drawn (the selection empty without a box), so a
        change of state updates the chart's data in place.
        """
        src = self.source
        keep = self.mask()
        sel = np.zeros(len(src), dtype=bool)
        if self.selection:
            sel[self.selected_rows()] = True
        title = src.label(name)
        frames = [("filtered", src.counts(name, keep)), ("selected", src.counts(name, sel))]
        if name in src.categorical:
            names = src.categories[name]
            df = pd.concat([pd.DataFrame({"value": names, "set": label, "fraction": c / max(c.sum(), 1)})
                            for label, c in frames])
            return hv.Bars(df, kdims=["value", "set"], vdims=["fraction"]).opts(
                title=title, height=230, responsive=True, xrotation=30 if len(names) > 4 else 0,
                xlabel="", ylabel="fraction", show_legend=False, tools=["hover"],
                color=hv.dim("set").categorize({"filtered": "#bbbbbb", "selected": "#1f77b4"}))
        edges = src.edges(name)
        layers = [hv.Histogram((edges, c / max(c.sum(), 1)), kdims=[hv.Dimension(name, label=title)],
                               vdims=["fraction"]).opts(alpha=0.5 if label == "filtered" else 0.8,
                                                        color="#bbbbbb" if label == "filtered" else "#1f77b4")
                  for label, c in frames]
        return hv.Overlay(layers).opts(hv.opts.Histogram(height=230, responsive=True, title=title))

    def _histogram_grid(self) -> pn.GridBox:
        """The input charts, built once: DynamicMaps that redraw (in place) only while shown."""
        if self._histogram_panes is None:
            stream = hv.streams.Params(parameterized=self, parameters=["filters", "constraints", "selection"])
            panes = [pn.pane.HoloViews(hv.DynamicMap(partial(self.histogram_element, name), streams=[stream]),
                                       sizing_mode="stretch_width", linked_axes=False) for name in self.source.inputs]
            self._histogram_panes = pn.GridBox(*panes, ncols=3, sizing_mode="stretch_width")
        return self._histogram_panes

    @param.depends("filters", "constraints", "selection")
    def histogram_header(self):
        if self.selection:
            text = "Selected designs (blue) vs all filtered (grey), as fractions of each set"
            n = self.selected_rows().size
        else:
            text = "Input distributions of the filtered designs: box-select in the cloud to compare"
            n = int(self.mask().sum())
        return pn.pane.Markdown(f"**{text}** · {n:,} designs")

    def histograms(self):
        """Header with the counts, and a chart per input (independent axes)."""
        return pn.Column(self.histogram_header(), self._histogram_grid(), sizing_mode="stretch_width")

    def parallel_names(self) -> list[str]:
        """Axes of the parallel coordinates: numeric inputs, then the plotted and other objectives."""
        src = self.source
        outputs = [n for n in dict.fromkeys([self.x, self.y, *src.objectives]) if n in src.outputs]
        return [*src.numeric_inputs, *outputs][:10]

    def parallel_coordinates(self, width: int = 900, height: int = 300):
        """Density of the filtered designs' lines across numeric inputs and objectives (rasterized).

        Box-select a range on one axis to brush it (:meth:`brush_parallel`):
        an input's range becomes a filter, an output's a constraint; the
        axes' current rules are drawn as bars on them.
        """
        src = self.source
        names = self.parallel_names()
        image, drawn = src.parallel_density(names, self.mask(), width, height)
        if len(names) < 2 or drawn == 0:
            return pn.pane.Markdown("Not enough numeric columns or designs for parallel coordinates.")
        density = np.where(image > 0, np.log1p(image), np.nan)
        ticks = [(i, src.label(n, units=False)) for i, n in enumerate(names)]
        plot = hv.Image(np.flipud(density), bounds=(0, 0, len(names) - 1, 1), kdims=["axis", "scaled"]).opts(
            cmap="Blues", responsive=True, height=360, xticks=ticks, xrotation=20, yaxis=None, colorbar=False,
            clipping_colors={"NaN": (0, 0, 0, 0)}, tools=["box_select"], active_tools=["box_select"],
            title=f"Parallel coordinates of {drawn:,} filtered designs (each axis from its minimum to its maximum; "
                  "log axes in log scale) · box-select a range on an axis to filter by it")
        brush = hv.streams.BoundsXY(source=plot)
        brush.add_subscriber(partial(self.brush_parallel, names))
        rules = hv.Rectangles(self.parallel_rules(names), vdims=[]).opts(
            color=FRONT_COLOR, alpha=0.25, line_color=FRONT_COLOR)
        return pn.pane.HoloViews(plot * rules, sizing_mode="stretch_width", linked_axes=False)

    def parallel_rules(self, names: list[str]) -> list[tuple[float, float, float, float]]:
        """The filters and constraints on the parallel axes as boxes ``(x0, y0, x1, y1)`` in the plot's coordinates."""
        boxes = []
        for i, name in enumerate(names):
            rule = (self.constraints if name in self.source.outputs else self.filters).get(name)
            if not isinstance(rule, list | tuple) or len(rule) != 2:
                continue
            axis = self.source.axis(name)
            lo, hi = (axis.from_plot(axis.lo) if rule[0] is None else rule[0],
                      axis.from_plot(axis.hi) if rule[1] is None else rule[1])
            s0, s1 = ((axis.to_plot(np.array([float(v)]))[0] - axis.lo) / (axis.hi - axis.lo) for v in (lo, hi))
            if np.isfinite(s0) and np.isfinite(s1):
                boxes.append((i - 0.06, float(np.clip(s0, 0, 1)), i + 0.06, float(np.clip(s1, 0, 1))))
        return boxes

    def brush_parallel(self, names: list[str], bounds=None) -> None:
        """A box drawn on the parallel coordinates: its vertical range on the axis nearest its centre becomes a rule.

        The box's height (0-1 along the axis, which runs from the padded
        minimum to the maximum, in log10 on a log axis) is turned back into
        values; an input's range is set as a filter and an output's as a
        constraint, as if its slider had been moved there.
        """
        if not bounds or len(names) < 2:
            return
        x0, y0, x1, y1 = (float(v) for v in bounds)
        i = int(np.clip(round(0.5 * (x0 + x1)), 0, len(names) - 1))
        name = names[i]
        axis = self.source.axis(name)
        lo, hi = (axis.from_plot(axis.lo + float(np.clip(s, 0, 1)) * (axis.hi - axis.lo)) for s in sorted((y0, y1)))
        self._set_rule("constraints" if name in self.source.outputs else "filters", name, (lo, hi))

    def sensitivity_element(self, output: str, scenario: str):
        """Indices of one output over the inputs of one scenario: total order (light, wide) behind first order.

        Horizontal bars, one per input (labelled as everywhere), named
        by the index they draw (:data:`SENSITIVITY_INDICES`) for the legend.
        """
        df = self.sensitivity
        part = df[(df["output"].astype(str) == output) & (df["scenario"].astype(str) == scenario)]
        method = ", ".join(sorted(set(part["method"].astype(str))))
        inputs = [self.source.label(str(n), units=False) for n in part["input"]]
        layers = []
        for (label, column), width, alpha in zip(reversed(SENSITIVITY_INDICES.items()), (0.8, 0.45), (0.45, 1.0),
                                                  strict=True):
            values = part[column].to_numpy(np.float64)
            shown = np.isfinite(values)
            layers.append(hv.Bars((np.asarray(inputs, dtype=object)[shown], values[shown]), "input",
                                  hv.Dimension("value", label="share of the variance"), label=label).opts(
                color=CATEGORY_COLORS[list(SENSITIVITY_INDICES).index(label)], bar_width=width, alpha=alpha,
                tools=["hover"]))
        return hv.Overlay(layers).opts(hv.opts.Overlay(
            title=f"{self.source.label(output, units=False)} · {scenario} ({method})", invert_axes=True,
            height=60 + 26 * max(len(inputs), 1), responsive=True, xlabel="", legend_position="bottom_right"))

    def sensitivity_view(self):
        """A chart of indices per output and scenario of :attr:`sensitivity` (first order and total order)."""
        df = self.sensitivity
        outputs = list(dict.fromkeys(df["output"].astype(str)))
        scenarios = list(dict.fromkeys(df["scenario"].astype(str)))
        panes = [pn.pane.HoloViews(self.sensitivity_element(o, sc), sizing_mode="stretch_width", linked_axes=False)
                 for o in outputs for sc in scenarios
                 if ((df["output"].astype(str) == o) & (df["scenario"].astype(str) == sc)).any()]
        return pn.Column(pn.pane.Markdown("**Sensitivity of each output to the swept inputs**: the share of the "
                                          "output's variance over a scenario due to an input alone (first order) "
                                          "and with its interactions (total order); see docs/sensitivity.md"),
                         pn.GridBox(*panes, ncols=min(len(scenarios), 3) or 1, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")

    # the parallel coordinates compute only when shown: their view depends on lower_tab
    @param.depends("filters", "constraints", "x", "y", "lower_tab")
    def _parallel_view(self):
        return self.parallel_coordinates() if self.lower_tab == 1 else pn.pane.Markdown("")

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
        return pn.Column(pn.pane.HoloViews(comparison_curves(self.source, self.pinned), sizing_mode="stretch_width",
                                           linked_axes=False),
                         pn.pane.DataFrame(comparison_table(self.source, self.pinned), sizing_mode="stretch_width"),
                         self._clear_pins, sizing_mode="stretch_width")

    @param.depends("filters", "constraints", "x", "y", "front_scope", "front_on", watch=True)
    def _update_front_table(self) -> None:
        """Put the current front into the (one, persistent) front table."""
        df = self.front_table()
        shown = df.head(FRONT_TABLE_MAX)
        src = self.source
        from bokeh.models.widgets.tables import NumberFormatter

        self._front_rows = shown.index.to_numpy()
        self._front_tabulator.param.update(
            value=shown.reset_index(drop=True),
            titles={c: src.label(c) for c in shown.columns if c != "design"},
            formatters={c: NumberFormatter(format=significant_format(shown[c].to_numpy()))
                        for c in shown.columns if c != "design" and c not in src.categorical})

    def _on_front_click(self, event) -> None:
        if event.row is not None and 0 <= event.row < len(self._front_rows):
            self.detail = int(self._front_rows[event.row])

    @param.depends("filters", "constraints", "x", "y", "front_scope", "front_on")
    def front_header(self):
        n_front = self.front().size
        more = f" (first {FRONT_TABLE_MAX:,} in the table)" if n_front > FRONT_TABLE_MAX else ""
        on = "" if self.front_on == "median" else f" on {self.front_on} cycle life"
        return pn.pane.Markdown(f"**{n_front:,} designs on the front{on}** of {int(self.mask().sum()):,} "
                                f"filtered{more}\n\n{self.hypervolume_text()}")

    def front_summary(self):
        """How many designs are on the front, and the front as a sortable table."""
        return pn.Column(self.front_header(), self._front_tabulator, sizing_mode="stretch_width")

    def controls(self):
        shown = ["x", "y", "color", "front_scope"]
        if len(self.param.front_on.objects) > 1:
            shown.append("front_on")
        axes = pn.Param(self.param, parameters=shown, show_name=False,
                        widgets={"front_scope": pn.widgets.RadioButtonGroup,
                                 "front_on": {"type": pn.widgets.RadioButtonGroup,
                                              "name": "Front on cycle life"}})
        return pn.Column("### View", axes, "### Output constraints", *self._constraint_widgets.values(),
                         "### Filters", *self._filter_widgets.values(), self._reset,
                         "### Export", self._export_front, self._export_selection, self._clear_selection,
                         sizing_mode="stretch_width")

    def __panel__(self):
        return pn.template.FastListTemplate(
            title=f"dse · {self.source.title}", sidebar=[self.controls()], sidebar_width=340,
            main=[
                pn.Row(pn.Column(self.legend, self.cloud, sizing_mode="stretch_both", min_height=480),
                       pn.Column(self._side_tabs, width=560), sizing_mode="stretch_width"),
                self._lower_tabs,
            ],
        )


class PixelText(BackendArray):
    """A text field of every pixel of the cloud, computed only for the pixels read.

    xarray indexes it lazily (as a store's variable): the hover's lookup of
    the pixel under the cursor formats that one pixel, and a picture holds
    no text at all. ``text`` maps first rows (any shape, -1 where a pixel is
    empty) to text.
    """

    def __init__(self, first: np.ndarray, text):
        self.first = first
        self.text = text
        self.shape = first.shape
        self.dtype = np.dtype(object)

    def __getitem__(self, key):
        return explicit_indexing_adapter(key, self.shape, IndexingSupport.BASIC, self._read)

    def _read(self, key) -> np.ndarray:
        return self.text(self.first[key])


def _unit(name: str) -> str:
    """The unit of an output as shown (cycle lives, dimensionless in the vocabulary, in cycles)."""
    unit = display_unit(getattr(OUTPUTS.get(name), "units", ""))
    return unit or ("cycles" if name.startswith("cycle_life") else "")


def _clip(v, lo: float, hi: float, default: float) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return default
    return min(max(f, lo), hi) if math.isfinite(f) else default


def _step(lo: float, hi: float) -> float:
    raw = (hi - lo) / 200
    return float(10.0 ** math.floor(math.log10(raw))) if raw > 0 else 1.0


def _slider_format(lo: float, hi: float) -> str:
    step = _step(lo, hi)
    decimals = max(0, -math.floor(math.log10(step)))
    return "0,0" if decimals == 0 else "0." + "0" * min(decimals, 6)


def cell_axis_values(cells: pd.DataFrame, name: str, model: bool = True) -> np.ndarray | None:
    """Where measured cells sit on the axis of ``name``: their measured value, NaN where a cell has none.

    Cycle life is the measured life (cycles to 80 %), specific energy and
    energy density the measured ones (with ``model``, the model's where the
    sidecar gives no ``cell_mass`` or ``cell_volume``), CE the measured mean;
    an input is the cell's own value. None when the cells do not measure
    ``name`` at all.

    >>> cells = pd.DataFrame({"measured_life": [120.0], "measured_specific_energy": [np.nan],
    ...                       "specific_energy": [350.0], "stack_pressure": [0.5]})
    >>> [cell_axis_values(cells, n).tolist() for n in ("cycle_life", "specific_energy", "stack_pressure")]
    [[120.0], [350.0], [0.5]]
    >>> cell_axis_values(cells, "specific_energy", model=False).tolist()
    [nan]
    >>> cell_axis_values(cells, "cost") is None
    True
    """
    sources = CELL_MEASURES.get(name, (name,) if name in INPUTS else ())[:None if model else 1]
    out = None
    for column in sources:
        if column not in cells.columns:
            continue
        values = pd.to_numeric(cells[column], errors="coerce").to_numpy(np.float64)
        out = values if out is None else np.where(np.isfinite(out), out, values)
    return out


def nearest_front_point(x: float, y: float, fx: np.ndarray, fy: np.ndarray, senses: tuple[str, str],
                        xa: Axis, ya: Axis) -> tuple[int, bool]:
    """Index of the front point nearest to (x, y) among those at least as good on both axes; and whether none is.

    Distance is Euclidean in plot coordinates (log10 on a log axis) divided
    by each axis' extent, so a decade of cycle life and the width of the
    energy axis weigh as they look. When no front point is at least as good
    on both (the point is beyond the front), the nearest of all is returned
    with ``True``.

    >>> ax = Axis("a", False, 0.0, 10.0)
    >>> nearest_front_point(5.0, 5.0, np.array([4.0, 6.0, 9.0]), np.array([9.0, 6.0, 4.0]), ("max", "max"), ax, ax)
    (1, False)
    >>> nearest_front_point(9.5, 9.5, np.array([4.0, 6.0, 9.0]), np.array([9.0, 6.0, 4.0]), ("max", "max"), ax, ax)
    (1, True)
    """
    px, py = xa.to_plot(fx), ya.to_plot(fy)
    dx = (px - xa.to_plot(np.array([x]))[0]) / max(xa.hi - xa.lo, 1e-300)
    dy = (py - ya.to_plot(np.array([y]))[0]) / max(ya.hi - ya.lo, 1e-300)
    distance = np.hypot(dx, dy)
    distance[~np.isfinite(distance)] = np.inf
    better = ((fx >= x) if senses[0] == "max" else (fx <= x)) & ((fy >= y) if senses[1] == "max" else (fy <= y))
    if better.any():
        return int(np.flatnonzero(better)[np.argmin(distance[better])]), False
    return int(np.argmin(distance)), True


#: a thickness that means nothing when its layer is "none"
_THICKNESS_OF = {"coating_thickness": "coating"}
#: inputs whose 0 has a meaning of its own (vocabulary)
_ZERO_MEANS = {"electrolyte_amount": "fill"}


def input_differences(cell: Mapping, design: Mapping, limit: int = 4) -> str:
    """The inputs in which a design differs from a measured cell, as ``name cell → design`` (the most different first).

    Materials and other names first, then numbers by their relative
    difference (differences under 0.5 % are equal); at most ``limit`` named,
    then how many more.

    >>> input_differences({"coating": "none", "stack_pressure": 0.5, "temperature": 25.0},
    ...                   {"coating": "Ag-C", "stack_pressure": 1.0, "temperature": 25.0})
    'coating none → Ag-C, stack pressure 0.500 MPa → 1.00 MPa'
    >>> input_differences({"coating": "none", "coating_thickness": 0.0, "electrolyte_amount": 3.0},
    ...                   {"coating": "none", "coating_thickness": 1.0, "electrolyte_amount": 0.0})
    'electrolyte amount 3.00 g/Ah → fill'
    """
    named, numbers = [], []
    for name in INPUTS:
        if name not in cell or name not in design:
            continue
        material = _THICKNESS_OF.get(name)
        if material and str(cell.get(material)) == str(design.get(material)) == "none":
            continue  # the thickness of a layer neither has
        a, b = cell[name], design[name]
        if isinstance(a, str) or isinstance(b, str):
            if str(a) != str(b):
                named.append(f"{name.replace('_', ' ')} {a} → {b}")
            continue
        a, b = float(a), float(b)
        scale = max(abs(a), abs(b))
        if scale > 0 and abs(a - b) > 0.005 * scale:
            unit = display_unit(INPUTS[name].units)
            a_text, b_text = (_ZERO_MEANS[name] if v == 0 and name in _ZERO_MEANS
                              else f"{format_value(v)} {unit}".strip() for v in (a, b))
            numbers.append((abs(a - b) / scale, f"{name.replace('_', ' ')} {a_text} → {b_text}"))
    parts = named + [t for _, t in sorted(numbers, key=lambda item: -item[0])]
    more = f", and {len(parts) - limit} more" if len(parts) > limit else ""
    return ", ".join(parts[:limit]) + more


def _life_text(row) -> str:
    life = float(row.get("measured_life", math.nan))
    if not math.isfinite(life):
        return "not measured"
    return format_value(life) if bool(row.get("life_reached", True)) else f"≥ {format_value(life)} (still above 80 %)"


def _energy_text(row) -> str:
    parts = []
    energy = float(row.get("measured_energy", math.nan))
    if math.isfinite(energy):
        parts.append(f"{format_value(energy)} Wh")
    for name, unit, key in (("specific_energy", "Wh/kg", "cell mass"), ("energy_density", "Wh/L", "cell volume")):
        measured = float(row.get(f"measured_{name}", math.nan))
        if math.isfinite(measured):
            parts.append(f"{format_value(measured)} {unit}")
        elif math.isfinite(float(row.get(name, math.nan))):
            parts.append(f"(no {key}: model {format_value(float(row[name]))} {unit})")
    return ", ".join(parts) or "not measured"


#: the title of the capacity curves (card and pinned comparison)
CAPACITY_TITLE = "Discharge capacity [mAh/cm²] vs cycle"


def capacity_curve(source: ResultsSource, row: int, ev=None, color: str = "#1f77b4", band_color: str = FRONT_COLOR,
                   line_color: str = "grey", label: str = ""):
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
        p10, p90 = float(source.column("cycle_life_p10")[row]), float(source.column("cycle_life_p90")[row])
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
        curve, _ = capacity_curve(source, row, color=color, band_color=color, line_color=color,
                                  label=source.design_label(row))
        layers.extend(curve)
    return hv.Overlay(layers).opts(hv.opts.Overlay(
        title=f"{CAPACITY_TITLE} of the pinned designs (shaded: each one's p10–p90 cycle life; dashed: 80 %)",
        height=300, responsive=True, legend_position="top_right"))


def detail_views(source: ResultsSource, row: int) -> list:
    """Panels of the design card of one row: tables, breakdown, capacity curve with its band, YAML."""
    from dse.evaluate import LAYERS, evaluate_design

    design = source.design(row)
    ev = evaluate_design(design)
    o = ev.outputs

    def unit(name, table):
        return display_unit(table[name].units) if name in table else ""

    inputs = pd.DataFrame([(k, INPUTS[k].long_name if k in INPUTS else k, v if isinstance(v, str) else
                            format_value(v), unit(k, INPUTS)) for k, v in design.inputs.items()],
                          columns=["name", "input", "value", "units"])
    outputs = pd.DataFrame([(k, OUTPUTS[k].long_name, o[k], unit(k, OUTPUTS)) for k in OUTPUTS
                            if k in o and k != "feasible"], columns=["output", "quantity", "value", "units"])
    br = ev.breakdown()
    layers = [layer for layer in LAYERS if br["mass"][layer] > 0 or br["thickness"][layer] > 0]
    mass = hv.Bars([(layer.replace("_", " "), br["mass"][layer]) for layer in layers], "layer", "mass").opts(
        title="Mass per layer [mg/cm²] (as assembled)", height=260, responsive=True, xrotation=30, color="#1f77b4")
    thick = hv.Bars([(layer.replace("_", " "), br["thickness"][layer]) for layer in layers], "layer", "thickness").opts(
        title="Thickness per layer [µm] (full charge)", height=260, responsive=True, xrotation=30, color="#ff7f0e")
    curve, band_text = capacity_curve(source, row, ev)
    curve = curve.opts(hv.opts.Overlay(title=CAPACITY_TITLE, height=260, responsive=True))
    text = design.to_yaml()
    header = f"# {design.name}\n# reproduce with: dse evaluate design.yaml\n"
    if source.results.catalogue_changed:
        header += "# note: the installed materials catalogue differs from the one this store used\n"
    yaml_box = pn.widgets.TextAreaInput(label="Design (YAML for dse evaluate)", value=header + text, height=260,
                                        sizing_mode="stretch_width")
    state = "feasible" if ev.feasible else "infeasible: " + ", ".join(ev.reasons)
    return [
        pn.pane.Markdown(f"### {source.design_label(row)} — {state}{band_text}"),
        pn.Row(pn.pane.DataFrame(inputs, index=False), pn.pane.DataFrame(outputs, index=False,
                                                                         float_format=lambda v: f"{v:.4g}"),
               sizing_mode="stretch_width"),
        pn.pane.HoloViews(curve, sizing_mode="stretch_width"),
        pn.Row(pn.pane.HoloViews(mass, sizing_mode="stretch_width", linked_axes=False),
               pn.pane.HoloViews(thick, sizing_mode="stretch_width", linked_axes=False),
               sizing_mode="stretch_width"),
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


_SOURCES: dict[tuple[str, str | None], ResultsSource] = {}


def load_source(path: str, endpoint_url: str | None = None, client=None) -> ResultsSource:
    """Open a store once per process (shared by every browser session)."""
    key = (path, endpoint_url)
    if key not in _SOURCES:
        storage_options = {"endpoint_url": endpoint_url} if endpoint_url else None
        _SOURCES[key] = ResultsSource(path, storage_options)
    return _SOURCES[key]


def create_app(path: str, endpoint_url: str | None = None, cells: pd.DataFrame | None = None,
               sensitivity: pd.DataFrame | None = None):
    """Session factory for ``pn.serve``: one Explorer per browser tab, URL-synced.

    ``cells`` (:func:`dse.cells.cells_table`) are drawn on every session's
    cloud; ``sensitivity`` (:func:`dse.explore.read_sensitivity`) gets a tab.
    """
    source = load_source(path, endpoint_url)

    def session():
        explorer = Explorer(source, cells=cells, sensitivity=sensitivity)
        if pn.state.location is not None:
            # a value the parameters refuse (a hand-made URL) is not fatal: its valid part is applied
            pn.state.location.sync(explorer, dict(Explorer.URL_PARAMS), on_error=explorer.apply_state)
        return explorer.__panel__()

    return session


def warm_up(source: ResultsSource | None = None) -> None:
    """Compile the aggregation kernels (and read the default columns) before the first request."""
    rng = np.random.default_rng(0)
    x = rng.random(100).astype(np.float32)
    axis = Axis("x", False, 0.0, 1.0)
    aggregate(x, x, np.ones(100, dtype=bool), axis, axis, 4, 4, codes=np.zeros(100, dtype=np.int16), ncat=1)
    aggregate(x, x, np.ones(100, dtype=bool), axis, axis, 4, 4, weights=x)
    ResultsSource.warm_up()
    if source is not None and len(source):
        explorer = Explorer(source)
        explorer.front()
        explorer.cloud_element(*explorer.axes())
