"""The state of one dashboard session: its parameters, what they select, and the URL that carries them.

:class:`ExplorerState` declares the parameters of :class:`~dashboards.explorer.Explorer`
(axes, colour, input filters, output constraints, zoom, box selection, the
design on the card, pinned designs); every one of them round-trips through the
URL (:meth:`ExplorerState.to_query`, :meth:`ExplorerState.apply_state`). It
also answers what the state selects (the filtered rows, their front and its
hypervolume), cached per state, for every view.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from contextlib import contextmanager

import numpy as np
import pandas as pd
import panel as pn
import param

from dashboards.style import _unit
from dse.explore import Axis, ResultsSource, format_value
from dse.hypervolume import hypervolume

MAX_PINNED = 4

#: the front can be computed on a cycle-life quantile instead of the median
FRONT_QUANTILES = {"median": "cycle_life", "p10": "cycle_life_p10", "p90": "cycle_life_p90"}


class ExplorerState(pn.viewable.Viewer):
    """The parameters of a session and what they select (the parts of the Explorer draw them)."""

    # check_on_set: values also arrive from the URL and must be one of the objects
    x = param.Selector(check_on_set=True, doc="Output on the x axis")
    y = param.Selector(check_on_set=True, doc="Output on the y axis")
    color = param.Selector(check_on_set=True, doc="Input or output that colours the cloud")
    front_scope = param.Selector(
        objects=["axes", "all"], default="axes", doc="Pareto front over the two axes, or over every objective"
    )
    filters = param.Dict(default={}, doc="Input → allowed names (categorical) or [low, high] (numeric)")
    constraints = param.Dict(default={}, doc="Output → [low, high] (either may be null: unbounded)")
    zoom = param.Dict(default={}, doc="Visible ranges {'x': [lo, hi], 'y': [lo, hi]} in the values' units")
    selection = param.Parameter(default=None, doc="Box selection (x0, y0, x1, y1) in values, or None")
    detail = param.Integer(default=-1, doc="Row shown on the design card (-1: none)")
    pinned = param.List(default=[], doc="Rows pinned for comparison (at most four)")
    lower_tab = param.Integer(default=0, precedence=-1, doc="Shown tab below the cloud (its views compute)")
    front_on = param.Selector(
        objects=["median"],
        default="median",
        check_on_set=True,
        doc="Cycle life the front is computed on: median, p10 or p90 (stores with quantiles)",
    )

    def __init__(
        self,
        source: ResultsSource,
        cells: pd.DataFrame | None = None,
        sensitivity: pd.DataFrame | None = None,
        **params,
    ):
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
        self.param.color.objects = {
            source.label(n): n for n in [*source.categorical, *source.numeric_inputs, *outs, *source.extras]
        }
        # the quantile switch only where the store has the quantiles (otherwise the control is not shown)
        self.param.front_on.objects = [q for q, n in FRONT_QUANTILES.items() if n in outs] or ["median"]
        params.setdefault("x", x0)
        params.setdefault("y", y0)
        params.setdefault("color", colour0)
        super().__init__(**params)
        self._mask_cache: tuple[str, np.ndarray] | None = None
        self._front_cache: tuple[tuple, np.ndarray] | None = None
        self._hypervolume_cache: tuple[tuple, float] | None = None
        self._counts_cache: tuple[str, dict[str, dict[str, np.ndarray]]] | None = None
        self._showing = False  # widgets being set from the state: their callbacks do nothing

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
        return (
            f"Hypervolume {value:.4g} {units} of {names}, from the reference point ({ref}): "
            "the worst feasible value of each objective in the store"
        )

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
            keep = (
                keep
                & (xs >= np.float64(min(x0, x1)))
                & (xs <= np.float64(max(x0, x1)))
                & (ys >= np.float64(min(y0, y1)))
                & (ys <= np.float64(max(y0, y1)))
            )
        return np.flatnonzero(keep)

    def input_counts(self) -> dict[str, dict[str, np.ndarray]]:
        """Every input's counts in the filtered designs and in the box selection (zeros without one).

        ``{"filtered": {name: counts}, "selected": {name: counts}}``, as
        :meth:`ResultsSource.counts <dse.explore.ResultsSource.counts>`.
        Computed for all inputs at once (one walk per grid scenario) and
        cached per state, so the charts of the inputs share it.
        """
        key = json.dumps([self._key(), self.selection], default=str)
        if self._counts_cache is None or self._counts_cache[0] != key:
            src = self.source
            filtered = src.counts_many(src.inputs, self.mask())
            if self.selection:
                selected = np.zeros(len(src), dtype=bool)
                selected[self.selected_rows()] = True
                in_box = src.counts_many(src.inputs, selected)
            else:
                in_box = {name: np.zeros_like(c) for name, c in filtered.items()}
            counts = {"filtered": filtered, "selected": in_box}
            self._counts_cache = (key, counts)
        return self._counts_cache[1]

    def pin(self, row: int | None = None) -> None:
        """Pin design ``row`` (default: the one on the card) for the comparison; the oldest is dropped past ``MAX_PINNED``."""
        row = self.detail if row is None else int(row)
        if row < 0 or row in self.pinned:
            return
        self.pinned = ([*self.pinned, row])[-MAX_PINNED:]

    def _axes_changed(self, *events) -> None:
        if not self._showing:
            self.param.update(zoom={}, selection=None)

    # -- URL state --------------------------------------------------------------
    URL_PARAMS = {
        "x": "x",
        "y": "y",
        "color": "color",
        "front_scope": "front",
        "front_on": "front_on",
        "filters": "filters",
        "constraints": "constraints",
        "zoom": "zoom",
        "detail": "design",
    }

    def to_query(self) -> str:
        """The view as a URL query string (names as :attr:`URL_PARAMS`)."""
        state = {}
        for name, key in self.URL_PARAMS.items():
            value = getattr(self, name)
            state[key] = json.dumps(value, sort_keys=True, separators=(",", ":")) if isinstance(value, dict) else value
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
        for k, allowed in (("filters", columns), ("constraints", set(self.source.outputs)), ("zoom", {"x", "y"})):
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
