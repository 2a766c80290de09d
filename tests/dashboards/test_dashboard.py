"""The dashboard driven through its param state on a small two-scenario store."""

from __future__ import annotations

import io

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param
import pytest

from dashboards.app import Explorer, comparison_table
from dse.explore import ResultsSource
from dse.pareto import nondominated
from dse.store.table import design_table


@pytest.fixture(scope="module")
def source(small_store):
    return ResultsSource(small_store)


@pytest.fixture(scope="module")
def table(small_store):
    """The same designs as a pandas table built independently (dse.store.table), in the same row order."""
    return design_table(small_store, feasible_only=True).reset_index(drop=True)


@pytest.fixture()
def app(source):
    return Explorer(source)


def naive_front(values: np.ndarray, senses) -> np.ndarray:
    signs = np.array([1 if s == "max" else -1 for s in senses])
    v = values * signs
    keep = []
    for i in range(len(v)):
        dominated = np.any(np.all(v >= v[i], axis=1) & np.any(v > v[i], axis=1))
        keep.append(not dominated)
    return np.array(keep)


def test_axes_labels_and_objectives_come_from_the_store(source, app):
    assert app.x == "energy_density" and app.y == "cycle_life"
    assert source.label("energy_density") == "Energy density (cell) [Wh/L]"
    assert source.label("cathode_loading") == "Cathode areal capacity [mAh/cm²]"
    assert source.objectives == {"specific_energy": "max", "energy_density": "max", "cycle_life": "max", "cost": "min"}
    assert {"scenario", "cathode", "electrolyte", "coating"} <= set(source.categorical)
    assert {"cathode_loading", "stack_pressure"} <= set(source.numeric_inputs)


def test_columns_match_the_pandas_table(source, table):
    assert len(source) == len(table)
    for name in ["scenario", "design", *source.inputs, *source.outputs]:
        got = source.frame(np.arange(len(source)), [name])[name].to_numpy()
        want = table[name].astype(str).to_numpy() if name in source.categorical else table[name].to_numpy()
        if name in source.categorical:
            np.testing.assert_array_equal(got.astype(str), want)
            assert source.column(name).dtype.kind == "i"  # codes, never strings
        else:
            np.testing.assert_allclose(got, want.astype(got.dtype), equal_nan=True)


def test_values_at_rows_match_the_table_without_reading_input_columns(small_store, table):
    """A front table needs inputs at a few rows: they come from grid positions, in the rows' order, and no input
    column is read whole (a 10^7-design report read 13 columns for it)."""
    source = ResultsSource(small_store)
    rows = np.random.default_rng(5).integers(0, len(source), 200)  # unsorted, repeated, both scenarios
    assert set(source.column("scenario")[rows]) == {0, 1}
    cached = set(source._columns)
    for name in ["scenario", "design", *source.inputs]:
        got = source.values(name, rows)
        want = table[name].to_numpy()[rows]
        if name in source.categorical:
            np.testing.assert_array_equal(np.asarray(source.categories[name])[got], want.astype(str))
        else:
            np.testing.assert_allclose(got, want.astype(got.dtype), equal_nan=True)
    assert set(source._columns) == cached
    np.testing.assert_allclose(source.values("cycle_life", rows), table["cycle_life"].to_numpy()[rows], rtol=1e-6)


def test_histograms_without_columns_match_the_column_counts():
    """The report's histograms of a grid store come from feasible counts per grid coordinate (counts_all) and
    from values at the front's rows (counts_at), not from whole columns: the same counts and extents as the
    column path, on a two-scenario grid store whose inputs are swept in one scenario and fixed in the other."""
    from pathlib import Path

    store = str(Path(__file__).resolve().parents[2] / "catalogs" / "stores" / "anode-free-small.zarr")
    fast, slow = ResultsSource(store), ResultsSource(store)
    for name in slow.inputs:  # the column path: inputs read whole
        slow.column(name)
    rows = np.random.default_rng(3).choice(len(slow), 40, replace=False)
    keep = np.zeros(len(slow), dtype=bool)
    keep[rows] = True
    for name in fast.inputs:
        np.testing.assert_array_equal(fast.counts_all(name), slow.counts(name, np.ones(len(slow), dtype=bool)))
        np.testing.assert_array_equal(fast.counts_at(name, rows), slow.counts(name, keep))
        if name not in fast.categorical:
            assert fast.extent(name) == slow.extent(name)
    assert not set(fast.inputs) & set(fast._columns)  # no input column was read


def test_front_is_exact_for_the_filtered_set(source, app, table):
    app.filters = {"cathode": ["NMC811"], "stack_pressure": [0.5, 3.0]}
    mask = app.mask()
    assert mask.sum() == ((table.cathode == "NMC811") & (table.stack_pressure >= 0.5)).sum()
    rows = np.flatnonzero(mask)
    expect = rows[naive_front(table.iloc[rows][["energy_density", "cycle_life"]].to_numpy(float), ["max", "max"])]
    np.testing.assert_array_equal(np.sort(app.front()), np.sort(expect))
    app.front_scope = "all"
    objs = list(source.objectives)
    senses = [source.objectives[o] for o in objs]
    expect_all = rows[naive_front(table.iloc[rows][objs].to_numpy(float), senses)]
    np.testing.assert_array_equal(np.sort(app.front()), np.sort(expect_all))
    assert len(expect_all) >= len(expect)


def test_filter_widgets_update_the_state(app):
    w = app._filter_widgets["electrolyte"]
    w.value = ["Li-dual-salt"]
    assert app.filters["electrolyte"] == ["Li-dual-salt"]
    w.value = list(w.options)
    assert "electrolyte" not in app.filters


def test_box_selection_drives_the_histograms(app, table):
    x0, x1 = np.percentile(table.energy_density, [20, 60])
    app.selection = (x0, 0, x1, 1e9)
    rows = app.selected_rows()
    assert 0 < len(rows) < len(table)
    assert np.all((table.energy_density.iloc[rows] >= x0) & (table.energy_density.iloc[rows] <= x1))
    view = app.histograms()
    assert "Selected designs" in view[0].object
    assert len(view[1]) == len(app.source.inputs)
    # fractions: per chart, each set's bars sum to 1; counts are bincounts of codes
    keep = np.zeros(len(table), dtype=bool)
    keep[rows] = True
    np.testing.assert_array_equal(
        app.source.counts("cathode", keep),
        [int((table.cathode.iloc[rows] == c).sum()) for c in app.source.categories["cathode"]],
    )
    for pane in view[1]:
        assert not pane.linked_axes  # every chart its own axes (no union of all categories)


def test_detail_card_shows_inputs_outputs_breakdown_curve_and_yaml(app):
    front = app.front()
    app.detail = int(front[0])
    card = app.detail_card()
    text = " ".join(str(getattr(p, "object", "")) for p in card.select(pn.pane.Markdown))
    assert app.source.design_label(app.detail) in text  # the name hover and table show
    frames = [p.object for p in card.select(pn.pane.DataFrame)]
    inputs, outputs = frames[0], frames[1]
    assert set(inputs["name"]) >= {"cathode", "cathode_loading", "stack_pressure", "electrolyte"}
    stored = app.source.frame([app.detail], app.source.outputs + ["cathode"]).iloc[0]
    row = outputs.set_index("output")["value"]
    assert row["energy_density"] == pytest.approx(float(stored.energy_density), rel=1e-6)
    assert row["cycle_life"] == pytest.approx(float(stored.cycle_life))
    charts = [p.object for p in card.select(pn.pane.HoloViews)]
    assert len(charts) == 3  # capacity curve (with the p10-p90 band), mass, thickness
    spans = [e for e in charts[0] if isinstance(e, hv.VSpan)]
    assert charts[0].get(0).kdims[0].name == "cycle"  # the curve sets the axes
    assert [(s.data[0], s.data[1]) for s in spans] == [(float(stored.cycle_life_p10), float(stored.cycle_life_p90))]
    yaml_box = card.select(pn.widgets.TextAreaInput)[0]
    import yaml

    from dse.spec import parse_design

    design = parse_design(yaml.safe_load(yaml_box.value))
    assert design.inputs["cathode"] == str(stored.cathode)


def test_pinning_compares_up_to_four_designs(app):
    front = app.front()
    for r in front[:6]:
        app.pin(int(r))
    assert len(app.pinned) == min(4, len(front))
    table = comparison_table(app.source, app.pinned)
    assert table.shape[1] == len(app.pinned) and app.source.label("cycle_life") in table.index


def test_exports_are_csv_of_the_front_and_selection(app):
    app.filters = {"cathode": ["LFP"]}
    front = pd.read_csv(io.StringIO(app._front_csv().getvalue()))
    assert len(front) == len(app.front()) and set(front.cathode) == {"LFP"}
    values = front[[app.x, app.y]].to_numpy(float)
    assert nondominated(values, ["max", "max"]).all()
    app.selection = None
    sel = pd.read_csv(io.StringIO(app._selection_csv().getvalue()))
    assert len(sel) == app.mask().sum()


def test_url_state_round_trip(source, app):
    app.param.update(
        x="specific_energy",
        y="cost",
        color="cathode_loading",
        front_scope="all",
        filters={"cathode": ["LFP"], "cathode_loading": [3.0, 6.0]},
        constraints={"cycle_life": [100, None]},
    )
    app.zoom = {"x": [200.0, 300.0], "y": [50.0, 150.0]}
    app.detail = int(app.front()[0])
    query = app.to_query()
    other = Explorer(source)
    other.apply_query(query)
    for k in ("x", "y", "color", "front_scope", "filters", "constraints", "zoom", "detail"):
        assert getattr(other, k) == getattr(app, k), k
    # the widgets show what the URL applied
    assert other._filter_widgets["cathode"].value == ["LFP"]
    assert other._filter_widgets["cathode_loading"].value == pytest.approx((3.0, 6.0))
    assert other._constraint_widgets["cycle_life"].value[0] == pytest.approx(100)
    assert other._filter_widgets["electrolyte"].value == source.categories["electrolyte"]
    # and the designs they keep are the state's
    kept = source.mask({"cathode": ["LFP"], "cathode_loading": [3, 6]}, {"cycle_life": [100, None]})
    assert kept.any() and np.array_equal(other.mask(), kept)
    other.apply_query("x=nonsense&filters=%7Bbroken&design=999999999&zoom=3")
    assert other.x == "specific_energy" and other.detail == app.detail


def test_views_render_to_bokeh(app):
    for view in (
        app.cloud,
        app.histograms,
        app.front_summary,
        app.comparison,
        app.detail_card,
        app.parallel_coordinates,
        app.legend,
    ):
        root = pn.panel(view).get_root()
        assert root is not None


def test_static_report_is_self_contained(source, tmp_path):
    import re

    from dashboards.report import write_report

    out = tmp_path / "report.html"
    write_report(source, str(out))
    text = out.read_text()
    assert out.stat().st_size > 100_000 and "dse report" in text and "Bokeh" in text
    # every resource inline: no script, stylesheet, image, font or CSS import fetched from anywhere. Bokeh's
    # inlined library holds URLs of optional features it loads on demand (MathJax for $$ labels, an icon
    # font for icon widgets): the markup outside inline scripts is what the page fetches when it opens
    markup = re.sub(r"<script(?![^>]*\bsrc=)[^>]*>.*?</script>", "<script></script>", text, flags=re.S)
    fetched = re.findall(
        r"""(?:\b(?:src|href)\s*=\s*["']?|url\(\s*["']?|@import\s+["']?)(?:https?:)?//[^"' )>]*""",
        markup,
        flags=re.IGNORECASE,
    )
    assert fetched == [], fetched
    assert source.label("cycle_life") in text  # labelled tables
    assert "designs in this pixel" not in text  # the cloud's hover needs a server: a report has no such tooltip


def test_front_from_cached_chunk_fronts_is_exact(small_store, table):
    """Chunks of 50 rows: whole, cut and dropped chunks; fronts against the naive oracle."""
    source = ResultsSource(small_store, chunk_rows=50)
    rng = np.random.default_rng(3)
    cases = [
        ({}, {}),
        ({"cathode": ["LFP"]}, {}),
        ({"stack_pressure": [0.5, 3.0], "electrolyte": ["Li-LPSCl"]}, {}),
        ({}, {"cost": [None, float(np.median(table.cost))]}),
        ({"scenario": ["na"]}, {"cycle_life": [100, None]}),
    ]
    for filters, constraints in cases * 2:  # the second round uses the cached chunk fronts
        keep = source.mask(filters, constraints)
        rows = np.flatnonzero(keep)
        for objectives in (
            {"energy_density": "max", "cycle_life": "max"},
            {"specific_energy": "max", "cost": "min"},
            source.objectives,
        ):
            values = table.iloc[rows][list(objectives)].to_numpy(float)
            expect = rows[naive_front(values, list(objectives.values()))]
            np.testing.assert_array_equal(source.front(keep, objectives), np.sort(expect))
    keep = rng.random(len(source)) < 0.5  # an arbitrary subset cuts every chunk
    rows = np.flatnonzero(keep)
    expect = rows[naive_front(table.iloc[rows][["energy_density", "cycle_life"]].to_numpy(float), ["max", "max"])]
    np.testing.assert_array_equal(source.front(keep, {"energy_density": "max", "cycle_life": "max"}), expect)


def test_output_constraints_filter_the_cloud_and_the_front(app, table):
    limit = float(np.median(table.cost))
    app.constraints = {"cost": [None, limit], "specific_energy": [300.0, None]}
    keep = ((table.cost <= limit) & (table.specific_energy >= 300)).to_numpy()
    np.testing.assert_array_equal(app.mask(), keep)
    rows = np.flatnonzero(keep)
    expect = rows[naive_front(table.iloc[rows][["energy_density", "cycle_life"]].to_numpy(float), ["max", "max"])]
    np.testing.assert_array_equal(app.front(), expect)
    # the slider shows it
    assert app._constraint_widgets["cost"].value[1] == pytest.approx(limit)
    # and moving a slider back to its ends removes the constraint
    w = app._constraint_widgets["cost"]
    with param.edit_constant(w):
        w.value_throttled = (w.start, w.end)
    assert "cost" not in app.constraints


def test_front_table_reads_objectives_first_then_varying_inputs(app):
    app.param.update(x="specific_energy", y="cost")
    table = app.front_table()
    assert list(table.columns[:3]) == ["design", "specific_energy", "cost"]
    for c in table.columns[3:]:
        if c in app.source.inputs:
            assert table[c].nunique() > 1, c  # inputs equal on the whole front are left out
    assert all(app.source.design_label(r) == d for r, d in zip(table.index, table.design, strict=True))
    summary = app.front_summary()
    tab = summary.select(pn.widgets.Tabulator)[0]
    assert tab.titles["specific_energy"] == "Specific energy (cell) [Wh/kg]" and tab.height
    # clicking a design brings its card into view
    app.detail = int(table.index[0])
    assert app._side_tabs.active == 1


def test_front_hover_is_labelled_and_names_the_design_as_the_card(app):
    rows = app.front()
    element = app.front_element(rows)
    hover = [t for t in element.opts.get().kwargs["tools"] if not isinstance(t, str)][0]
    labels = [label for label, _ in hover.tooltips]
    assert labels[0] == "design" and app.source.label(app.x) in labels and app.source.label(app.y) in labels
    designs = element.dimension_values("design")
    assert designs[0] == app.source.design_label(int(element.dimension_values("row")[0]))


def test_data_layer_imports_no_plotting_library():
    import subprocess
    import sys

    code = (
        "import sys, dse.explore; bad = [m for m in ('panel', 'holoviews', 'bokeh', 'datashader', 'dashboards') "
        "if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _brush(app, bounds):
    """Draw a box on the rendered parallel coordinates (the BoundsXY stream a box-select tool feeds)."""
    view = app.parallel_coordinates()
    pn.panel(view).get_root()
    element = view.object.get(0)
    streams = [s for s in hv.streams.Stream.registry.get(element, []) if isinstance(s, hv.streams.BoundsXY)]
    assert len(streams) == 1, "no brush on the parallel coordinates"
    streams[0].event(bounds=bounds)


def _axis_value(values: np.ndarray, s: float, log: bool) -> float:
    """The value at height ``s`` (0-1) of a parallel axis from 5 % below the minimum to 5 % above the maximum."""
    values = np.log10(values) if log else values
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    t = lo - 0.05 * (hi - lo) + s * 1.1 * (hi - lo)
    return 10**t if log else t


def test_brushing_a_parallel_axis_sets_that_filter_or_constraint(app, table):
    names = app.parallel_names()
    i = names.index("cathode_loading")
    _brush(app, (i - 0.3, 0.35, i + 0.25, 0.62))  # a box whose centre is nearest the cathode-loading axis
    lo, hi = (
        _axis_value(table.cathode_loading.to_numpy(float), 0.35, False),
        _axis_value(table.cathode_loading.to_numpy(float), 0.62, False),
    )
    assert app.constraints == {} and list(app.filters) == ["cathode_loading"]
    assert app.filters["cathode_loading"] == pytest.approx([lo, hi], rel=1e-6)
    inside = (table.cathode_loading >= lo) & (table.cathode_loading <= hi)
    assert 0 < inside.sum() < len(table)
    assert int(app.mask().sum()) == int(inside.sum())
    assert app._filter_widgets["cathode_loading"].value == pytest.approx((lo, hi))  # the slider shows it
    # an output on a log axis becomes a constraint (on top of the filter), in cycles
    j = names.index("cycle_life")
    _brush(app, (j - 0.1, 0.5, j + 0.1, 0.95))
    life = table.cycle_life.to_numpy(float)
    c0, c1 = _axis_value(life, 0.5, True), _axis_value(life, 0.95, True)
    assert app.constraints["cycle_life"] == pytest.approx([c0, c1], rel=1e-5)
    both = inside & (table.cycle_life >= c0) & (table.cycle_life <= c1)
    assert 0 < both.sum() < inside.sum()
    assert int(app.mask().sum()) == int(both.sum())
    # the rules are drawn on their axes, and a box down to the axis' bottom leaves the lower end open
    boxes = app.parallel_rules(names)
    assert [round(0.5 * (b[0] + b[2])) for b in boxes] == [i, j]
    assert boxes[0][1] == pytest.approx(0.35) and boxes[1][3] == pytest.approx(0.95)
    _brush(app, (j - 0.1, 0.0, j + 0.1, 0.95))
    assert app.constraints["cycle_life"] == [None, pytest.approx(c1, rel=1e-5)]


def test_pinned_comparison_overlays_the_cards_capacity_curves(app, table):
    from dashboards.app import detail_views

    rows = [int(r) for r in app.front()[:3]]
    for r in rows:
        app.pin(r)
    view = app.comparison()
    plots = [p.object for p in view.select(pn.pane.HoloViews)]
    assert len(plots) == 1
    curves = [e for e in plots[0] if isinstance(e, hv.Curve)]
    spans = [e for e in plots[0] if isinstance(e, hv.VSpan)]
    assert [c.label for c in curves] == [app.source.design_label(r) for r in rows]  # the legend names them
    colours = [c.opts.get().kwargs["color"] for c in curves]
    assert len(set(colours)) == len(rows)
    for r, curve, span in zip(rows, curves, spans, strict=True):
        card = [p.object for p in pn.Column(*detail_views(app.source, r)).select(pn.pane.HoloViews)][0]
        drawn = card.get(0)
        np.testing.assert_array_equal(curve.dimension_values("cycle"), drawn.dimension_values("cycle"))
        np.testing.assert_array_equal(curve.dimension_values("capacity"), drawn.dimension_values("capacity"))
        # the band is this design's own p10-p90 cycle life, in its colour
        assert (span.data[0], span.data[1]) == (
            float(table.cycle_life_p10.iloc[r]),
            float(table.cycle_life_p90.iloc[r]),
        )
        assert span.opts.get().kwargs["color"] == curve.opts.get().kwargs["color"]
    # different designs, different curves
    assert not np.array_equal(curves[0].dimension_values("capacity"), curves[-1].dimension_values("capacity"))
