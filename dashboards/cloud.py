"""The cloud of designs, the front and its band on top, their hovers, and the tap, box and zoom they send back.

The cloud is aggregated by :func:`dse.explore.aggregate` in the axes' own
coordinates (``log10`` of the values on a log axis, with tick labels in the
values' units), so a design is drawn where its values are; its plot objects
are built once per choice of axes and colour and updated from streams
(filters, constraints, zoom). The front is drawn on top in a colour no
category uses, with the p10-p90 cycle-life band when cycle life is an axis.
"""

from __future__ import annotations

from functools import partial

import holoviews as hv
import numpy as np
import panel as pn
import param
import xarray as xr
from xarray.backends import BackendArray
from xarray.core.indexing import IndexingSupport, LazilyIndexedArray, explicit_indexing_adapter

from dashboards.state import ExplorerState
from dashboards.style import (
    BAND_OUTPUTS,
    CATEGORY_COLORS,
    CELL_COLOR,
    CLOUD_HEIGHT,
    CLOUD_WIDTH,
    FRONT_COLOR,
    _rgb,
)
from dse.explore import Axis, aggregate, format_values, significant_format

FRONT_POINTS_MAX = 5000
#: the cloud's hover fields of a pixel's first design are named by the column after this
HOVER_PREFIX = "design."


class CloudView(ExplorerState):
    """The cloud with the clickable front (and its band), the legend, and what a tap, a box or a zoom sets."""

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
            agg = aggregate(
                xs, ys, keep, xa, ya, width, height, codes=src.column(self.color), ncat=len(names), first=True
            )
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
        data = xr.Dataset(
            {
                k: xr.Variable(dims, LazilyIndexedArray(v)) if isinstance(v, PixelText) else (dims, v)
                for k, v in {**colour, **fields}.items()
            },
            coords={"x_plot": xc, "y_plot": yc},
            attrs={"selector_columns": list(fields)},
        )
        tooltips = [(self.cloud_hover_label(k), k) for k in fields if k != "__index__"]
        if categorical:
            return hv.RGB(data, kdims=kdims, vdims=list("RGBA")).opts(tools=["hover"], hover_tooltips=tooltips)
        return hv.Image(data, kdims=kdims, vdims=[hv.Dimension(self.color, label=src.label(self.color))]).opts(
            cmap="viridis",
            colorbar=True,
            clabel=src.label(self.color),
            clipping_colors={"NaN": (0, 0, 0, 0)},
            tools=["hover"],
            hover_tooltips=tooltips,
        )

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
            return self.source.label(field[len(HOVER_PREFIX) :])
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
                column = field[len(HOVER_PREFIX) :]
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
        df["design"] = src.design_labels(rows)
        df["row"] = rows
        tooltips = [("design", "@design")]
        for c in cols:
            fmt = "" if c in src.categorical else "{" + significant_format(df[c].to_numpy()) + "}"
            tooltips.append((src.label(c), f"@{{{c}}}{fmt}"))
        from bokeh.models import HoverTool

        hover = HoverTool(tooltips=tooltips)
        vdims = ["design", "row", *[c for c in cols if c not in ("x_plot", "y_plot")]]
        return hv.Points(df, kdims=["x_plot", "y_plot"], vdims=list(dict.fromkeys(vdims))).opts(
            color=FRONT_COLOR,
            size=7,
            line_color="black",
            line_width=0.8,
            tools=[hover, "tap"],
            nonselection_alpha=0.7,
            selection_color="black",
        )

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
        front_data = hv.streams.Params(
            parameterized=self, parameters=["filters", "constraints", "front_scope", "front_on"]
        )
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
        opts = {
            "xlabel": src.label(self.x),
            "ylabel": src.label(self.y),
            "xlim": (xa.lo, xa.hi),
            "ylim": (ya.lo, ya.hi),
            "responsive": True,
            "min_height": 450,
            "title": f"{len(src):,} feasible designs · front in red (click a point)",
        }
        if full_x.log:
            opts["xticks"] = full_x.ticks(8)
        if full_y.log:
            opts["yticks"] = full_y.ticks(8)
        element_opts = [
            hv.opts.RGB(tools=["box_select", "hover"], active_tools=["wheel_zoom"]),
            hv.opts.Image(tools=["box_select", "hover"], active_tools=["wheel_zoom"]),
        ]
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
        items = " ".join(
            f"<span style='white-space:nowrap'><span style='display:inline-block;width:10px;"
            f"height:10px;background:{CATEGORY_COLORS[i % len(CATEGORY_COLORS)]}'></span> {n}</span>"
            for i, n in enumerate(names)
        )
        return pn.pane.HTML(
            f"<b>{self.source.label(self.color)}</b>: {items} · "
            f"<span style='color:{FRONT_COLOR}'>●</span> Pareto front{cells}"
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
