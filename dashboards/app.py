"""The dse dashboard: millions of designs and their Pareto fronts in a browser.

``Explorer`` is a :class:`panel.viewable.Viewer` whose state is declared as
``param`` parameters (axes, colour, filters, box selection, the design shown
in the detail card, pinned designs). The data of a store are opened once per
process (:func:`load_source`) and shared by every session; the cloud is
rasterized by Datashader, so 10^7 points stay interactive; the Pareto front of
the filtered designs is drawn on top and can be clicked.

Served by ``dse serve STORE``; tested by driving the parameters
(``tests/test_dashboard.py``) and once in a real browser
(``tests/test_dashboard_browser.py``).
"""

from __future__ import annotations

import io
import json
import math
import urllib.parse
from collections.abc import Mapping
from functools import cached_property

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from dse.pareto import nondominated
from dse.table import Results, design_table, row_design, swept_inputs
from dse.vocabulary import INPUTS, OUTPUTS

__all__ = ["ResultsSource", "Explorer", "load_source", "create_app"]

hv.extension("bokeh", logo=False)
MAX_PINNED = 4
FRONT_POINTS_MAX = 5000


# --------------------------------------------------------------------------- data
class ResultsSource:
    """A results store loaded once: the flat table of feasible designs and metadata.

    Parameters
    ----------
    path : str
        Store path or URL.
    storage_options : mapping, optional
    client : distributed.Client, optional
        When given, the table is persisted on the cluster and filtering and
        front recomputation run there (partition-local fronts, then the front
        of their union).
    """

    def __init__(self, path: str, storage_options: Mapping | None = None, client=None):
        self.path = path
        self.results = Results(path, storage_options)
        table = design_table(self.results.datasets, feasible_only=True)
        self.table = table.reset_index(drop=True)
        self.client = client
        self.dask_table = None
        if client is not None:
            import dask.dataframe as dd

            parts = max(1, min(64, len(self.table) // 500_000))
            self.dask_table = client.persist(dd.from_pandas(self.table, npartitions=parts))
        first = next(iter(self.results.datasets.values()))
        self.attrs: dict[str, dict] = {}
        for ds in self.results.datasets.values():
            for name, var in ds.variables.items():
                self.attrs.setdefault(str(name), dict(var.attrs))
        self.objectives = {n: a["dse_sense"] for n, a in self.attrs.items() if a.get("dse_sense") in ("max", "min")}
        skip = {"scenario", "design", "feasible", "infeasible_reason", "pareto_front"}
        self.inputs = []
        for ds in self.results.datasets.values():
            for v in swept_inputs(ds):
                if v not in self.inputs:
                    self.inputs.append(v)
        self.outputs = [c for c in self.table.columns
                        if c not in skip and c not in self.inputs and pd.api.types.is_numeric_dtype(self.table[c])
                        and not pd.api.types.is_bool_dtype(self.table[c])]
        self.categorical = [c for c in self.inputs if isinstance(self.table[c].dtype, pd.CategoricalDtype)]
        self.numeric_inputs = [c for c in self.inputs if c not in self.categorical]
        if len(self.results.datasets) > 1:
            self.categorical = ["scenario", *self.categorical]
        self.title = self.results.attrs.get("title", path)
        self.n_designs = int(sum(ds.attrs.get("dse_n_designs", 0) for ds in self.results.datasets.values()))
        self.first_dataset = first

    def label(self, name: str) -> str:
        """Axis label with units, from the store's attributes."""
        a = self.attrs.get(name, {})
        long_name = a.get("long_name") or name.replace("_", " ")
        units = a.get("units", "")
        return f"{long_name} [{units}]" if units and units != "1" else long_name

    @cached_property
    def ranges(self) -> dict[str, tuple[float, float]]:
        """Range of every numeric input (computed once: the table never changes)."""
        return {c: (float(self.table[c].min()), float(self.table[c].max())) for c in self.numeric_inputs}

    @cached_property
    def categories(self) -> dict[str, list[str]]:
        """Values of every categorical input, sorted (computed once)."""
        return {c: sorted(map(str, self.table[c].astype(str).unique())) for c in self.categorical}

    # -- heavy work -----------------------------------------------------------
    def filter_mask(self, filters: Mapping[str, object]) -> np.ndarray:
        """Boolean mask of table rows that pass ``filters``.

        Filters arrive from the URL too, so anything that is not a filter of
        this store (unknown names, a rule of the wrong shape) is ignored.
        """
        mask = np.ones(len(self.table), dtype=bool)
        if not isinstance(filters, Mapping):
            return mask
        for name, rule in filters.items():
            if not isinstance(name, str) or name not in self.table:
                continue
            col = self.table[name]
            if name in self.categorical:
                if not isinstance(rule, list | tuple) or len(rule) > 10_000:
                    continue
                mask &= col.astype(str).isin([str(v) for v in rule]).to_numpy()
            else:
                try:
                    lo, hi = (float(v) for v in rule)
                except (TypeError, ValueError):
                    continue
                values = col.to_numpy()
                mask &= (values >= lo - 1e-9 * abs(lo)) & (values <= hi + 1e-9 * abs(hi))
        return mask

    def front(self, mask: np.ndarray, objectives: Mapping[str, str]) -> np.ndarray:
        """Row indices of the exact Pareto front of the rows in ``mask``."""
        names = list(objectives)
        senses = [objectives[n] for n in names]
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return rows
        if self.dask_table is None:
            values = self.table[names].to_numpy(dtype=np.float64)[rows]
            return rows[nondominated(values, senses)]
        import dask.dataframe as dd

        keep = pd.Series(mask, index=self.table.index)
        subset = self.dask_table[dd.from_pandas(keep, npartitions=self.dask_table.npartitions)]

        def local(part: pd.DataFrame) -> pd.DataFrame:
            if part.empty:
                return part[names]
            return part[names][nondominated(part[names].to_numpy(dtype=np.float64), senses)]

        candidates = subset[names].map_partitions(local, meta=self.table[names].iloc[:0]).compute()
        if candidates.empty:
            return rows[:0]
        front = candidates[nondominated(candidates.to_numpy(dtype=np.float64), senses)]
        return np.sort(front.index.to_numpy())

    def design(self, row: int):
        """The full :class:`~dse.spec.Design` of a table row."""
        r = self.table.iloc[int(row)]
        return row_design(self.results, str(r["scenario"]), int(r["design"]))


_SOURCES: dict[tuple[str, str | None], ResultsSource] = {}


def load_source(path: str, endpoint_url: str | None = None, client=None) -> ResultsSource:
    """Open a store once per process (shared by every browser session).

    The first call decides whether a Dask client does the heavy work.
    """
    key = (path, endpoint_url)
    if key not in _SOURCES:
        storage_options = {"endpoint_url": endpoint_url} if endpoint_url else None
        _SOURCES[key] = ResultsSource(path, storage_options, client=client)
    return _SOURCES[key]


# --------------------------------------------------------------------------- app
class Explorer(pn.viewable.Viewer):
    """Explore a results store: cloud, front, filters, linked histograms, details."""

    # check_on_set: values also arrive from the URL and must be one of the objects
    x = param.Selector(check_on_set=True, doc="Objective or output on the x axis")
    y = param.Selector(check_on_set=True, doc="Objective or output on the y axis")
    color = param.Selector(check_on_set=True, doc="Input or output that colours the cloud")
    front_scope = param.Selector(objects=["axes", "all"], default="axes",
                                 doc="Pareto front over the two axes, or over every objective")
    filters = param.Dict(default={}, doc="Input → allowed ids (categorical) or [low, high] (numeric)")
    selection = param.Parameter(default=None, doc="Box selection (x0, y0, x1, y1) or None")
    detail = param.Integer(default=-1, doc="Table row shown in the detail card (-1: none)")
    pinned = param.List(default=[], doc="Table rows pinned for comparison (at most four)")

    def __init__(self, source: ResultsSource, **params):
        self.source = source
        outs = source.outputs
        objectives = list(source.objectives) or outs
        x0 = "energy_density" if "energy_density" in outs else objectives[0]
        y0 = "cycle_life" if "cycle_life" in outs else objectives[min(1, len(objectives) - 1)]
        colour0 = source.categorical[0] if source.categorical else outs[0]
        self.param.x.objects = outs
        self.param.y.objects = outs
        self.param.color.objects = [*source.categorical, *source.numeric_inputs, *outs]
        params.setdefault("x", x0)
        params.setdefault("y", y0)
        params.setdefault("color", colour0)
        super().__init__(**params)
        self._mask_cache: tuple[str, np.ndarray] | None = None
        self._front_cache: tuple[tuple, np.ndarray] | None = None
        self._build_widgets()

    # -- state ----------------------------------------------------------------
    def mask(self) -> np.ndarray:
        key = json.dumps(self.filters, sort_keys=True, default=str)
        if self._mask_cache is None or self._mask_cache[0] != key:
            self._mask_cache = (key, self.source.filter_mask(self.filters))
        return self._mask_cache[1]

    def front_objectives(self) -> dict[str, str]:
        if self.front_scope == "all" and self.source.objectives:
            return dict(self.source.objectives)
        sense = self.source.objectives
        return {self.x: sense.get(self.x, "max"), self.y: sense.get(self.y, "max")}

    def front(self) -> np.ndarray:
        """Rows of the Pareto front of the filtered designs."""
        objectives = self.front_objectives()
        key = (json.dumps(self.filters, sort_keys=True, default=str), tuple(objectives.items()))
        if self._front_cache is None or self._front_cache[0] != key:
            self._front_cache = (key, self.source.front(self.mask(), objectives))
        return self._front_cache[1]

    def selected_rows(self) -> np.ndarray:
        """Filtered rows inside the box selection (all filtered rows without one)."""
        mask = self.mask()
        if self.selection:
            x0, y0, x1, y1 = self.selection
            xs = self.source.table[self.x].to_numpy()
            ys = self.source.table[self.y].to_numpy()
            mask = mask & (xs >= min(x0, x1)) & (xs <= max(x0, x1)) & (ys >= min(y0, y1)) & (ys <= max(y0, y1))
        return np.flatnonzero(mask)

    def pin(self, row: int | None = None) -> None:
        row = self.detail if row is None else int(row)
        if row < 0 or row in self.pinned:
            return
        self.pinned = ([*self.pinned, row])[-MAX_PINNED:]

    # -- URL state --------------------------------------------------------------
    URL_PARAMS = ("x", "y", "color", "front_scope", "filters")

    def to_query(self) -> str:
        """The view (axes, colour, front scope, filters) as a URL query string."""
        state = {k: getattr(self, k) for k in self.URL_PARAMS}
        state["filters"] = json.dumps(self.filters, sort_keys=True, separators=(",", ":"))
        return urllib.parse.urlencode(state)

    def apply_query(self, query: str) -> None:
        """Restore a view from :meth:`to_query` output (unknown names are ignored)."""
        self.apply_state(dict(urllib.parse.parse_qsl(query.lstrip("?"))))

    def apply_state(self, values: Mapping) -> None:
        """Apply the valid part of a view state (from a URL: never trusted).

        Axis and colour names must be among their choices; filters must be a
        mapping (JSON text or a dict) of this store's columns. Anything else
        is ignored, so a hand-made URL can neither break a session nor name
        anything outside the store.
        """
        update = {}
        for k in ("x", "y", "color", "front_scope"):
            if isinstance(values.get(k), str) and values[k] in self.param[k].objects:
                update[k] = values[k]
        filters = values.get("filters")
        if isinstance(filters, str):
            try:
                filters = json.loads(filters)
            except json.JSONDecodeError:
                filters = None
        if isinstance(filters, Mapping):
            update["filters"] = {k: v for k, v in filters.items() if isinstance(k, str) and k in self.source.table}
        self.param.update(**update)

    # -- widgets --------------------------------------------------------------
    def _build_widgets(self) -> None:
        src = self.source
        label = src.label
        self._filter_widgets: dict[str, pn.widgets.Widget] = {}
        for name in src.categorical:
            options = src.categories[name]
            value = [str(v) for v in self.filters.get(name, options)]
            w = pn.widgets.MultiChoice(label=label(name) if name in INPUTS else "scenario", options=options,
                                       value=value, sizing_mode="stretch_width")
            w.param.watch(lambda e, n=name: self._set_filter(n, e.new), "value")
            self._filter_widgets[name] = w
        for name, (lo, hi) in src.ranges.items():
            if not hi > lo:
                continue
            step = (hi - lo) / 200
            value = tuple(self.filters.get(name, (lo, hi)))
            w = pn.widgets.RangeSlider(label=label(name), start=lo, end=hi, value=value, step=step,
                                       sizing_mode="stretch_width")
            w.param.watch(lambda e, n=name: self._set_filter(n, list(e.new)), "value_throttled")
            self._filter_widgets[name] = w
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

    def _set_filter(self, name: str, value) -> None:
        filters = dict(self.filters)
        full = None
        if name in self.source.categorical:
            full = self.source.categories[name]
            value = sorted(str(v) for v in value)
        else:
            lo, hi = self.source.ranges[name]
            full = [lo, hi]
            value = [float(value[0]), float(value[1])]
        if value == full:
            filters.pop(name, None)
        else:
            filters[name] = value
        self.filters = filters

    # -- exports ----------------------------------------------------------------
    def front_table(self) -> pd.DataFrame:
        """The current front with its inputs and outputs, best first on the x axis."""
        rows = self.front()
        cols = ["scenario", "design", *self.source.inputs, *self.source.outputs]
        df = self.source.table.iloc[rows][[c for c in cols if c in self.source.table]]
        ascending = self.source.objectives.get(self.x, "max") == "min"
        return df.sort_values(self.x, ascending=ascending)

    def selection_table(self) -> pd.DataFrame:
        return self.source.table.iloc[self.selected_rows()]

    def _front_csv(self) -> io.StringIO:
        return io.StringIO(self.front_table().to_csv(index=False))

    def _selection_csv(self) -> io.StringIO:
        return io.StringIO(self.selection_table().to_csv(index=False))

    # -- plots ------------------------------------------------------------------
    def _points(self, x, y, color, filters):
        cols = list(dict.fromkeys([x, y, color]))
        df = self.source.table.loc[self.mask(), cols]
        vdims = [c for c in cols if c not in (x, y)]
        return hv.Points(df, kdims=[x, y], vdims=vdims)

    def _front_points(self, x, y, filters, front_scope):
        rows = self.front()
        if rows.size > FRONT_POINTS_MAX:
            rows = rows[np.linspace(0, rows.size - 1, FRONT_POINTS_MAX).astype(int)]
        df = self.source.table.iloc[rows][[x, y]].assign(row=rows)
        return hv.Points(df, kdims=[x, y], vdims=["row"]).opts(
            color="#d62728", size=6, line_color="white", tools=["tap", "hover"], nonselection_alpha=0.6,
            selection_color="black")

    @param.depends("x", "y", "color")
    def cloud(self):
        """Datashaded cloud of filtered designs with the clickable front on top."""
        import datashader as ds
        from holoviews.operation.datashader import datashade, dynspread, rasterize

        points = hv.DynamicMap(pn.bind(self._points, self.param.x, self.param.y, self.param.color,
                                       self.param.filters))
        colour = self.color
        if colour in self.source.categorical:
            shaded = dynspread(datashade(points, aggregator=ds.count_cat(colour)), threshold=0.6)
        else:
            shaded = dynspread(rasterize(points, aggregator=ds.mean(colour)).opts(
                cmap="viridis", colorbar=True, clabel=self.source.label(colour), tools=["hover"]), threshold=0.6)
        front = hv.DynamicMap(pn.bind(self._front_points, self.param.x, self.param.y, self.param.filters,
                                      self.param.front_scope))
        tap = hv.streams.Selection1D(source=front)
        tap.add_subscriber(lambda index: self._on_tap(front, index))
        box = hv.streams.BoundsXY(source=shaded)
        box.add_subscriber(lambda bounds: setattr(self, "selection", tuple(bounds) if bounds else None))
        logx = self.x in ("cycle_life", "cost_per_cycle", "knee_cycles")
        logy = self.y in ("cycle_life", "cost_per_cycle", "knee_cycles")
        return (shaded * front).opts(
            hv.opts.RGB(tools=["box_select"], active_tools=["wheel_zoom"]),
            hv.opts.Overlay(xlabel=self.source.label(self.x), ylabel=self.source.label(self.y),
                            responsive=True, min_height=450, logx=logx, logy=logy,
                            title=f"{self.source.n_designs:,} designs · front in red (click a point)"),
        )

    def _on_tap(self, front, index) -> None:
        if not index:
            return
        data = front.last.data if front.last is not None else None
        if data is not None and index[0] < len(data):
            self.detail = int(data["row"].iloc[index[0]])

    @param.depends("filters", "selection", "x", "y")
    def histograms(self):
        """Input distributions of the filtered designs and of the box selection."""
        table = self.source.table
        base = np.flatnonzero(self.mask())
        sel = self.selected_rows() if self.selection else None
        plots = []
        for name in self.source.inputs:
            col = table[name]
            title = self.source.label(name)
            if name in self.source.categorical:
                allc = col.iloc[base].astype(str).value_counts()
                df = pd.DataFrame({"value": allc.index, "designs": allc.to_numpy(), "set": "filtered"})
                if sel is not None:
                    sc = col.iloc[sel].astype(str).value_counts()
                    df = pd.concat([df, pd.DataFrame({"value": sc.index, "designs": sc.to_numpy(), "set": "selected"})])
                plot = hv.Bars(df, kdims=["value", "set"], vdims=["designs"]).opts(
                    title=title, height=200, responsive=True, xrotation=45, show_legend=False, tools=["hover"])
            else:
                values = col.to_numpy()[base]
                edges = np.histogram_bin_edges(values, bins=30) if values.size else np.linspace(0, 1, 31)
                h = hv.Histogram(np.histogram(values, edges), kdims=[name]).opts(alpha=0.4, color="grey")
                if sel is not None:
                    h = h * hv.Histogram(np.histogram(col.to_numpy()[sel], edges), kdims=[name]).opts(
                        alpha=0.8, color="#1f77b4")
                plot = h.opts(hv.opts.Histogram(height=200, responsive=True, xlabel=title, title=title))
            plots.append(pn.pane.HoloViews(plot, sizing_mode="stretch_width"))
        header = "Selected designs (blue) vs all filtered (grey)" if sel is not None else \
            "Input distributions of the filtered designs: box-select in the cloud to compare"
        count = f"{(sel.size if sel is not None else base.size):,} designs"
        return pn.Column(pn.pane.Markdown(f"**{header}** · {count}"),
                         pn.GridBox(*plots, ncols=3, sizing_mode="stretch_width"), sizing_mode="stretch_width")

    @param.depends("detail")
    def detail_card(self):
        """Every input and output, per-layer breakdown, capacity curve and YAML of one design."""
        if self.detail < 0:
            return pn.pane.Markdown("Click a point of the front to see its design.")
        return pn.Column(*detail_views(self.source, self.detail), self._pin_button, sizing_mode="stretch_width")

    @param.depends("pinned")
    def comparison(self):
        """Pinned designs side by side."""
        if not self.pinned:
            return pn.pane.Markdown("Pin up to four designs from the detail card to compare them here.")
        return pn.Column(pn.pane.DataFrame(comparison_table(self.source, self.pinned), sizing_mode="stretch_width"),
                         self._clear_pins, sizing_mode="stretch_width")

    @param.depends("filters", "x", "y", "front_scope")
    def front_summary(self):
        df = self.front_table()
        n = int(self.mask().sum())
        head = df.head(10)[[c for c in ["scenario", *self.source.inputs[:6], self.x, self.y] if c in df]]
        return pn.Column(pn.pane.Markdown(f"**{len(df):,} designs on the front** of {n:,} filtered"),
                         pn.pane.DataFrame(head, index=False, sizing_mode="stretch_width"))

    def controls(self):
        axes = pn.Param(self.param, parameters=["x", "y", "color", "front_scope"], show_name=False,
                        widgets={"front_scope": pn.widgets.RadioButtonGroup})
        return pn.Column("### View", axes, "### Filters", *self._filter_widgets.values(),
                         "### Export", self._export_front, self._export_selection, self._clear_selection,
                         sizing_mode="stretch_width")

    def __panel__(self):
        template = pn.template.FastListTemplate(
            title=f"dse · {self.source.title}", sidebar=[self.controls()], sidebar_width=340,
            main=[
                pn.Row(pn.Column(self.cloud, sizing_mode="stretch_both", min_height=480),
                       pn.Column(self.front_summary, width=420), sizing_mode="stretch_width"),
                pn.Tabs(("Inputs of the selection", self.histograms), ("Design", self.detail_card),
                        ("Pinned", self.comparison), dynamic=True, sizing_mode="stretch_width"),
            ],
        )
        return template


def detail_views(source: ResultsSource, row: int) -> list:
    """Panels of the detail card of one table row."""
    from dse.evaluate import LAYERS, evaluate_design

    design = source.design(row)
    ev = evaluate_design(design)
    o = ev.outputs
    inputs = pd.DataFrame([(k, v, INPUTS[k].units if not INPUTS[k].categorical else "") for k, v in
                           design.inputs.items()], columns=["input", "value", "units"])
    outputs = pd.DataFrame([(k, o[k], OUTPUTS[k].units) for k in OUTPUTS if k in o and k != "feasible"],
                           columns=["output", "value", "units"])
    br = ev.breakdown()
    layers = [layer for layer in LAYERS if br["mass"][layer] > 0 or br["thickness"][layer] > 0]
    mass = hv.Bars([(layer.replace("_", " "), br["mass"][layer]) for layer in layers], "layer", "mass").opts(
        title="Mass per layer [mg/cm²] (as assembled)", height=260, responsive=True, xrotation=30, color="#1f77b4")
    thick = hv.Bars([(layer.replace("_", " "), br["thickness"][layer]) for layer in layers], "layer", "thickness").opts(
        title="Thickness per layer [µm] (full charge)", height=260, responsive=True, xrotation=30, color="#ff7f0e")
    n, cap = ev.curve()
    curve = hv.Curve((n, cap), "cycle", "capacity").opts(
        title="Discharge capacity [mAh/cm²] vs cycle", height=260, responsive=True)
    if math.isfinite(o["capacity"]):
        curve = curve * hv.HLine(0.8 * o["capacity"]).opts(color="grey", line_dash="dashed")
    text = design.to_yaml()
    header = f"# {design.name}\n# reproduce with: dse evaluate design.yaml\n"
    if source.results.catalogue_changed:
        header += "# note: the installed materials catalogue differs from the one this store used\n"
    yaml_box = pn.widgets.TextAreaInput(label="Design (YAML for dse evaluate)", value=header + text, height=260,
                                        sizing_mode="stretch_width")
    return [
        pn.pane.Markdown(f"### {design.name} — {'feasible' if ev.feasible else 'infeasible: ' + ', '.join(ev.reasons)}"),
        pn.Row(pn.pane.DataFrame(inputs, index=False), pn.pane.DataFrame(outputs, index=False, float_format=lambda v: f"{v:.4g}"),
               sizing_mode="stretch_width"),
        pn.Row(pn.pane.HoloViews(mass, sizing_mode="stretch_width"), pn.pane.HoloViews(thick, sizing_mode="stretch_width"),
               sizing_mode="stretch_width"),
        pn.Row(pn.pane.HoloViews(curve, sizing_mode="stretch_width"), yaml_box, sizing_mode="stretch_width"),
    ]


def comparison_table(source: ResultsSource, rows: list[int]) -> pd.DataFrame:
    """Pinned designs as columns: swept inputs then outputs."""
    table = source.table
    cols = ["scenario", *source.inputs, *source.outputs]
    data = {f"#{i + 1} ({table.iloc[r]['scenario']}:{int(table.iloc[r]['design'])})":
            [table.iloc[r][c] for c in cols] for i, r in enumerate(rows)}
    return pd.DataFrame(data, index=[c for c in cols])


def create_app(path: str, endpoint_url: str | None = None):
    """Session factory for ``pn.serve``: one Explorer per browser tab, URL-synced."""
    source = load_source(path, endpoint_url)

    def session():
        explorer = Explorer(source)
        if pn.state.location is not None:
            # a value the parameters refuse (a hand-made URL) is not fatal: its valid part is applied
            pn.state.location.sync(explorer, {"x": "x", "y": "y", "color": "color", "front_scope": "front",
                                              "filters": "filters"},
                                   on_error=explorer.apply_state)
        return explorer.__panel__()

    return session


def warm_up() -> None:
    """Compile Datashader's numba kernels before the first request."""
    import datashader as ds

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.random(1000), "y": rng.random(1000), "c": rng.random(1000),
                       "k": pd.Categorical(rng.choice(["a", "b"], 1000))})
    canvas = ds.Canvas(plot_width=50, plot_height=50)
    canvas.points(df, "x", "y", agg=ds.mean("c"))
    canvas.points(df, "x", "y", agg=ds.count_cat("k"))
