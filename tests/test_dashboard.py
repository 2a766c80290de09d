"""The dashboard driven through its param state on a small two-scenario store."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import panel as pn
import pytest

from dashboards.app import Explorer, ResultsSource, comparison_table
from dse.pareto import nondominated


@pytest.fixture(scope="module")
def source(small_store):
    return ResultsSource(small_store)


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
    assert source.label("cathode_loading") == "Cathode areal capacity [mAh/cm^2]"
    assert source.objectives == {"specific_energy": "max", "energy_density": "max", "cycle_life": "max",
                                 "cost": "min"}
    assert {"scenario", "cathode", "electrolyte", "coating"} <= set(source.categorical)
    assert {"cathode_loading", "stack_pressure"} <= set(source.numeric_inputs)
    assert source.table["feasible"].all()


def test_front_is_exact_for_the_filtered_set(source, app):
    app.filters = {"cathode": ["NMC811"], "stack_pressure": [0.5, 3.0]}
    mask = app.mask()
    table = source.table
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


def test_box_selection_drives_the_histograms(app):
    table = app.source.table
    x0, x1 = np.percentile(table.energy_density, [20, 60])
    app.selection = (x0, 0, x1, 1e9)
    rows = app.selected_rows()
    assert 0 < len(rows) < len(table)
    assert np.all((table.energy_density.iloc[rows] >= x0) & (table.energy_density.iloc[rows] <= x1))
    view = app.histograms()
    assert "Selected designs" in view[0].object
    assert len(view[1]) == len(app.source.inputs)


def test_detail_card_shows_inputs_outputs_breakdown_curve_and_yaml(app):
    front = app.front()
    app.detail = int(front[0])
    card = app.detail_card()
    text = " ".join(str(getattr(p, "object", "")) for p in card.select(pn.pane.Markdown))
    assert "design" in text
    frames = [p.object for p in card.select(pn.pane.DataFrame)]
    inputs, outputs = frames[0], frames[1]
    assert set(inputs["input"]) >= {"cathode", "cathode_loading", "stack_pressure", "electrolyte"}
    stored = app.source.table.iloc[app.detail]
    row = outputs.set_index("output")["value"]
    assert row["energy_density"] == pytest.approx(float(stored.energy_density), rel=1e-6)
    assert row["cycle_life"] == pytest.approx(float(stored.cycle_life))
    charts = [p.object for p in card.select(pn.pane.HoloViews)]
    assert len(charts) == 3  # mass, thickness, capacity curve
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
    assert table.shape[1] == len(app.pinned) and "cycle_life" in table.index


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
    app.param.update(x="specific_energy", y="cost", color="cathode_loading", front_scope="all",
                     filters={"cathode": ["LFP"], "cathode_loading": [3.0, 6.0]})
    query = app.to_query()
    other = Explorer(source)
    other.apply_query(query)
    for k in ("x", "y", "color", "front_scope", "filters"):
        assert getattr(other, k) == getattr(app, k), k
    other.apply_query("x=nonsense&filters=%7Bbroken")
    assert other.x == "specific_energy"


def test_views_render_to_bokeh(app):
    for view in (app.cloud, app.histograms, app.front_summary, app.comparison, app.detail_card):
        root = pn.panel(view).get_root()
        assert root is not None


def test_static_report(source, tmp_path):
    from dashboards.report import write_report

    out = tmp_path / "report.html"
    write_report(source, str(out))
    text = out.read_text()
    assert out.stat().st_size > 100_000 and "dse report" in text and "Bokeh" in text
    assert "cdn.bokeh.org" not in text  # inline resources: self-contained


def test_front_on_the_dask_cluster_equals_the_local_one(small_store, cluster):
    from distributed import Client

    local = ResultsSource(small_store)
    with Client(cluster.scheduler_address) as client:
        remote = ResultsSource(small_store, client=client)
        for filters in ({}, {"cathode": ["LFP"]}, {"stack_pressure": [0.5, 3.0], "electrolyte": ["Li-LPSCl"]}):
            mask = local.filter_mask(filters)
            np.testing.assert_array_equal(mask, remote.filter_mask(filters))
            for objectives in ({"energy_density": "max", "cycle_life": "max"}, local.objectives):
                np.testing.assert_array_equal(np.sort(local.front(mask, objectives)),
                                              np.sort(remote.front(mask, objectives)))
