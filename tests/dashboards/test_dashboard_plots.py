"""The dashboard's pictures tell the truth: a design is drawn where its values are, on every axis.

The cloud is rendered to Bokeh as a browser would receive it; the test reads
the image glyph (its array and where it is placed) and the axes (linear or
log scale, and the tick labels), and checks, pixel row by pixel row and
column by column, that the image is occupied exactly where the designs'
values put them according to those axes, and that a box selection over a
region of the plot returns exactly the designs whose values lie in it.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import pytest
from bokeh.models import GlyphRenderer, HoverTool, Image, ImageRGBA, LogScale, Plot

from dashboards.app import HOVER_PREFIX, Explorer, ResultsSource
from dse.store.table import design_table


@pytest.fixture(scope="module")
def source(small_store):
    return ResultsSource(small_store)


@pytest.fixture(scope="module")
def table(small_store):
    """The same designs as a pandas table built independently (dse.store.table), in the same row order."""
    return design_table(small_store, feasible_only=True).reset_index(drop=True)


def _values(source, name, rows):
    return (
        np.asarray(source.frame(rows, [name])[name], dtype=np.float64)
        if hasattr(source, "frame")
        else source.table[name].to_numpy(np.float64)[rows]
    )


def axis_kind(fig, which: str) -> str:
    """How one axis of the figure places values, read from its scale and its tick labels.

    "linear": data coordinate = value; "logscale": Bokeh log scale (data
    coordinate = value, screen position ∝ log10); "logcoords": linear scale
    whose tick labels read 10**coordinate (data coordinate = log10 value).
    """
    scale = fig.y_scale if which == "y" else fig.x_scale
    if isinstance(scale, LogScale):
        return "logscale"
    axis = (fig.yaxis if which == "y" else fig.xaxis)[0]
    overrides = {float(k): v for k, v in (axis.major_label_overrides or {}).items()}
    if not overrides:
        return "linear"
    pos = np.array(sorted(overrides))
    labels = np.array([float(str(overrides[p]).replace(",", "")) for p in pos])
    if np.allclose(pos, labels, rtol=1e-3, atol=1e-9):
        return "linear"
    assert np.allclose(pos, np.log10(labels), atol=2e-3), (pos, labels)  # labels must read 10**position
    return "logcoords"


def to_coord(values, kind):
    """Data coordinates of values on an axis of this kind."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(values) if kind == "logcoords" else np.asarray(values, dtype=np.float64)


def pixel(values, kind, start, width, n):
    """Pixel index (0 = left/bottom) of values on an axis whose image spans data [start, start + width]."""
    screen = (lambda c: np.log10(c)) if kind == "logscale" else (lambda c: c)
    s0, s1 = screen(start), screen(start + width)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.floor((screen(to_coord(values, kind)) - s0) / (s1 - s0) * n)


def rendered_cloud(app):
    return rendered_cloud_of(pn.panel(app.cloud).get_root())


def rendered_cloud_of(root):
    renderers = [r for r in root.select({"type": GlyphRenderer}) if isinstance(r.glyph, Image | ImageRGBA)]
    assert len(renderers) == 1
    fig = next(f for f in root.select({"type": Plot}) if renderers[0] in f.renderers)
    data = renderers[0].data_source.data
    return fig, np.asarray(data["image"][0], dtype=np.float64), {k: float(data[k][0]) for k in ("x", "y", "dw", "dh")}


@pytest.mark.parametrize(
    ("x", "y"), [("energy_density", "specific_energy"), ("energy_density", "cycle_life"), ("cost_per_cycle", "cost")]
)
def test_cloud_pixels_sit_where_the_designs_values_are(source, x, y):
    app = Explorer(source, x=x, y=y, color="specific_energy" if y == "cost" else "cost")
    app.filters = {"cathode": ["NMC811"]}
    fig, image, place = rendered_cloud(app)
    rows = np.flatnonzero(app.mask())
    assert rows.size > 50
    xs, ys = _values(source, x, rows), _values(source, y, rows)
    h, w = image.shape
    kx, ky = axis_kind(fig, "x"), axis_kind(fig, "y")
    col = pixel(xs, kx, place["x"], place["dw"], w)
    row = pixel(ys, ky, place["y"], place["dh"], h)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    assert inside.all(), f"{(~inside).sum()} of {inside.size} designs fall outside the image"
    expected = np.zeros((h, w), dtype=bool)
    expected[row.astype(int), col.astype(int)] = True
    drawn = np.isfinite(image) & (image != 0)
    # every design's pixel is drawn (±1 pixel: float rounding at pixel edges)
    assert _dilate(drawn, 1)[expected].all(), f"{(~_dilate(drawn, 1)[expected]).sum()} designs' pixels are empty"
    # nothing is drawn where no design is (3 pixels of slack for the spreading of isolated points)
    stray = drawn & ~_dilate(expected, 3)
    assert stray.sum() <= 0.01 * drawn.sum(), f"{stray.sum()} of {drawn.sum()} drawn pixels hold no design"
    # and each quarter of the y values is drawn in the pixel rows the axis assigns to that range, with
    # as many pixels there as its designs occupy (a quarter of the designs can cover fewer than a quarter
    # of the pixels where they crowd, so the reference is the designs' own pixels, not 25 %)
    for q0, q1 in ((0.0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0)):
        a, b = np.quantile(ys, [q0, q1])
        r0, r1 = (int(v) for v in pixel(np.array([a, b]), ky, place["y"], place["dh"], h))
        band = slice(max(r0 - 1, 0), r1 + 2)
        share, want = drawn[band].sum() / drawn.sum(), expected[band].sum() / expected.sum()
        assert want >= 0.05 and share >= 0.9 * want, (
            f"{share:.0%} of the image is in the rows of the {q0:.0%}-{q1:.0%} quarter, whose designs take {want:.0%}"
        )


def _dilate(mask: np.ndarray, k: int) -> np.ndarray:
    out = mask.copy()
    for dy in range(-k, k + 1):
        for dx in range(-k, k + 1):
            out |= np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    return out


def _box_streams(obj):
    found = []
    for element in (
        [obj, *obj.traverse(lambda e: e, [hv.DynamicMap, hv.Element, hv.Overlay])]
        if hasattr(obj, "traverse")
        else [obj]
    ):
        found += [s for s in hv.streams.Stream.registry.get(element, []) if isinstance(s, hv.streams.BoundsXY)]
    return found


@pytest.mark.parametrize(("x", "y"), [("energy_density", "specific_energy"), ("energy_density", "cycle_life")])
def test_box_selection_returns_exactly_the_designs_inside(source, x, y):
    app = Explorer(source, x=x, y=y, color="cost")
    fig, _, _ = rendered_cloud(app)
    rows = np.flatnonzero(app.mask())
    xs, ys = _values(source, x, rows), _values(source, y, rows)
    (xa, xb), (ya, yb) = between(xs, [0.2, 0.7]), between(ys, [0.3, 0.8])
    # the box a user draws arrives in the figure's data coordinates
    (x0, x1), (y0, y1) = to_coord([xa, xb], axis_kind(fig, "x")), to_coord([ya, yb], axis_kind(fig, "y"))
    streams = [
        s
        for ss in hv.streams.Stream.registry.values()
        for s in ss
        if isinstance(s, hv.streams.BoundsXY) and any(_bound_to(sub, app) for sub in s.subscribers)
    ]
    assert streams, "no box-select stream on the cloud"
    for s in streams:
        s.event(bounds=(float(x0), float(y0), float(x1), float(y1)))
    inside = rows[(xs >= xa) & (xs <= xb) & (ys >= ya) & (ys <= yb)]
    assert inside.size > 5
    np.testing.assert_array_equal(np.sort(app.selected_rows()), np.sort(inside))


def between(values, quantiles):
    """Box edges halfway between two distinct values near each quantile (no design on an edge)."""
    distinct = np.unique(values)
    out = []
    for q in quantiles:
        i = min(max(int(q * (distinct.size - 1)), 0), distinct.size - 2)
        out.append(0.5 * (distinct[i] + distinct[i + 1]))
    return out


def _bound_to(function, app) -> bool:
    if getattr(function, "__self__", None) is app:
        return True
    return any(getattr(c, "cell_contents", None) is app for c in (getattr(function, "__closure__", None) or ()))


def hover_of(root):
    """The cloud's server-side hover: its model (set ``xy``, read ``data``) and the labels of its tooltip."""
    from holoviews.plotting.bokeh.raster import HoverModel

    models = [m for m in root.references() if isinstance(m, HoverModel)]
    assert len(models) == 1, "no design-level hover on the cloud"
    tool = next(
        t
        for t in root.references()
        if isinstance(t, HoverTool) and "hv_created" in t.tags and not isinstance(t.tooltips, list | str | type(None))
    )
    labels = [str(span.children[0]).rstrip(":") for span in tool.tooltips.children[::2]]
    return models[0], labels


@pytest.mark.parametrize(
    ("x", "y", "color"), [("energy_density", "cycle_life", "cathode"), ("specific_energy", "cost", "cathode_loading")]
)
def test_cloud_hover_names_a_design_whose_values_fall_in_the_pixel(source, table, x, y, color):
    app = Explorer(source, x=x, y=y, color=color, filters={"cathode": ["NMC811"]})
    reads, text = [], app.pixel_text
    app.pixel_text = lambda field, rows: reads.append(np.asarray(rows).size) or text(field, rows)
    root = pn.panel(app.cloud).get_root()
    assert reads == []  # drawing formats no hover text: only the pixel under the cursor is read
    fig, image, place = rendered_cloud_of(root)
    hover, labels = hover_of(root)
    assert {source.label(x), source.label(y), source.label("stack_pressure"), "designs in this pixel"} <= set(labels)
    # every design's pixel, computed here from the independent table and the figure's own axes
    kept = np.flatnonzero((table.cathode == "NMC811").to_numpy())
    h, w = image.shape
    kx, ky = axis_kind(fig, "x"), axis_kind(fig, "y")
    fx = pixel_position(table[x].to_numpy(np.float64)[kept], kx, place["x"], place["dw"], w)
    fy = pixel_position(table[y].to_numpy(np.float64)[kept], ky, place["y"], place["dh"], h)
    col, row = np.floor(fx).astype(int), np.floor(fy).astype(int)
    # pixels whose designs all sit clear of the pixel edges (float32 rounding decides the others)
    edgy = (np.abs(fx - np.round(fx)) < 1e-3) | (np.abs(fy - np.round(fy)) < 1e-3)
    pixels = {}
    for k, (r, c) in enumerate(zip(row, col, strict=True)):
        pixels.setdefault((r, c), []).append(k)
    clean = [p for p, ks in pixels.items() if not edgy[ks].any()]
    crowded = sorted(clean, key=lambda p: -len(pixels[p]))[:3]
    rng = np.random.default_rng(0)
    chosen = crowded + [clean[i] for i in rng.choice(len(clean), size=min(5, len(clean)), replace=False)]
    assert len(pixels[crowded[0]]) > 1
    names = table.scenario.astype(str) + " design " + table.design.astype(int).astype(str)
    for r, c in chosen:
        hover.xy = [place["x"] + (c + 0.5) * place["dw"] / w, place["y"] + (r + 0.5) * place["dh"] / h]
        data = hover.data
        assert data["count"] == len(pixels[(r, c)])
        named = np.flatnonzero(names.to_numpy() == data["design"])
        assert named.size == 1 and named[0] in kept[pixels[(r, c)]], (data["design"], (r, c))
        design = table.iloc[named[0]]
        for name in (x, y, "cathode_loading", "stack_pressure"):
            assert float(data[HOVER_PREFIX + name]) == pytest.approx(float(design[name]), rel=5e-3), name
        assert data[HOVER_PREFIX + "electrolyte"] == str(design.electrolyte)
    assert reads and set(reads) == {1}
    # an empty pixel: no design, and HoloViews shows no tooltip there
    empty = next(
        (r, c)
        for r in range(h)
        for c in range(w)
        if (r, c) not in pixels and all((r + dr, c + dc) not in pixels for dr in (-1, 0, 1) for dc in (-1, 0, 1))
    )
    hover.xy = [place["x"] + (empty[1] + 0.5) * place["dw"] / w, place["y"] + (empty[0] + 0.5) * place["dh"] / h]
    assert hover.data["__index__"] == -1 and hover.data["count"] == 0


def pixel_position(values, kind, start, width, n):
    """Fractional pixel position (0 = left/bottom edge) of values, as :func:`pixel` before its floor."""
    screen = (lambda c: np.log10(c)) if kind == "logscale" else (lambda c: c)
    s0, s1 = screen(start), screen(start + width)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (screen(to_coord(values, kind)) - s0) / (s1 - s0) * n


#: an upper bound of the width of a character of Bokeh's 11 px tick labels [px]
TICK_CHAR_PX = 6


def test_parallel_axis_labels_stand_upright_and_never_overlap(source):
    """Issue 21: with many axes the labels of the parallel coordinates collided.

    Read from the Bokeh figure as the browser gets it: the labels are
    horizontal, wrapped on lines short enough that at the plot's narrowest
    width neighbouring labels keep apart and the outer ones stay inside the
    borders, and each label ends with its units.
    """
    app = Explorer(source)
    names = app.parallel_names()
    assert len(names) >= 6
    fig = hv.render(app.parallel_coordinates().object)
    axis = fig.xaxis[0]
    labels = {int(k): v for k, v in axis.major_label_overrides.items()}
    assert sorted(labels) == list(range(len(names)))
    assert axis.major_label_orientation in ("horizontal", 0)
    widest = max(len(line) for text in labels.values() for line in text.split("\n")) * TICK_CHAR_PX
    spacing = (fig.min_width - fig.min_border_left - fig.min_border_right) / (len(names) - 1)
    assert widest < spacing, (widest, spacing, labels)
    assert widest / 2 <= min(fig.min_border_left, fig.min_border_right)
    loading = labels[names.index("cathode_loading")].split("\n")
    assert loading[-1] == "[mAh/cm²]" and " ".join(loading[:-1]) == source.label("cathode_loading", units=False)
