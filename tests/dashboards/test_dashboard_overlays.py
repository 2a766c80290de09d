"""Measured cells, quantile fronts, hypervolume, probability and refinement colours in the dashboard.

Every number the dashboard shows is checked against one computed here from
the raw table (:func:`dse.store.table.design_table`) or the cells table
(:func:`dse.cells.cells_table`), not through the dashboard's own code. The
shipped small store keeps these tests free of the dask cluster.
"""

from __future__ import annotations

import re
import shutil
import socket
from pathlib import Path

import numpy as np
import panel as pn
import pytest
import yaml
from bokeh.models import GlyphRenderer, HoverTool, Plot, Scatter

from dashboards.app import Explorer
from dse.cells import cells_table
from dse.cli import main
from dse.explore import ResultsSource
from dse.hypervolume import hypervolume
from dse.store.table import design_table
from dse.vocabulary import INPUTS
from tests.cli.test_one_line_errors import one_line

ROOT = Path(__file__).resolve().parents[2]
STORE = str(ROOT / "catalogs" / "stores" / "anode-free-small.zarr")
CELLS = ROOT / "examples" / "cells"


@pytest.fixture(scope="module")
def source():
    return ResultsSource(STORE)


@pytest.fixture(scope="module")
def table():
    return design_table(STORE, feasible_only=True).reset_index(drop=True)


@pytest.fixture(scope="module")
def cells(source):
    return cells_table(CELLS, source.results.coefficients)


def naive_front(values: np.ndarray, senses) -> np.ndarray:
    """Rows of ``values`` that no other row dominates (quadratic loop)."""
    v = values * np.array([1.0 if s == "max" else -1.0 for s in senses])
    return np.array([not np.any(np.all(v >= v[i], axis=1) & np.any(v > v[i], axis=1)) for i in range(len(v))])


# --------------------------------------------------------------------------- measured cells
def _star_renderer(app):
    """The stars of the cloud as Bokeh receives them, and the tools of their figure."""
    root = pn.panel(app.cloud).get_root()
    stars = [
        r for r in root.select({"type": GlyphRenderer}) if isinstance(r.glyph, Scatter) and r.glyph.marker == "star"
    ]
    assert len(stars) == 1
    fig = next(f for f in root.select({"type": Plot}) if stars[0] in f.renderers)
    return stars[0], fig.toolbar.tools


def test_cells_sit_at_their_measured_values_with_a_hover_card(source, cells):
    assert len(cells) == 4
    app = Explorer(source, cells=cells, x="specific_energy", y="cycle_life")
    xa, ya = app.axes()
    assert ya.log and not xa.log
    renderer, tools = _star_renderer(app)
    data = renderer.data_source.data
    order = np.argsort(np.asarray(data["cell"]))
    want = cells.sort_values("cell")
    np.testing.assert_allclose(np.asarray(data["x_plot"], float)[order], want["measured_specific_energy"], rtol=1e-9)
    np.testing.assert_allclose(np.asarray(data["y_plot"], float)[order], np.log10(want["measured_life"]), rtol=1e-9)
    # the hover card: cell id, measured life and energy, predicted life with its p10-p90 band
    hover = [t for t in tools if isinstance(t, HoverTool) and renderer in (t.renderers or [])]
    fields = " ".join(v for t in hover for _, v in t.tooltips)
    for field in ("@cell", "@measured_life_text", "@measured_energy_text", "@predicted_life_text"):
        assert field in fields
    first = want.iloc[0]
    text = dict(zip(data["cell"], data["predicted_life_text"], strict=True))[first["cell"]]
    shown = [float(v) for v in re.findall(r"\d[\d,]*\.?\d*", text.replace("p10–p90", ""))]
    np.testing.assert_allclose(
        shown, first[["cycle_life", "cycle_life_p10", "cycle_life_p90"]].to_numpy(float), rtol=5e-3
    )
    assert app.cells_note() == "4 measured cells at their measured values"


def test_cells_without_a_value_on_an_axis_are_hidden_and_counted(source, cells):
    app = Explorer(source, cells=cells, x="cost", y="cycle_life")
    assert len(app.cells_frame()) == 0  # nobody measures a cell's cost
    assert app.cells_note() == "0 measured cells at their measured values (4 hidden: no measured value on these axes)"
    # no cell mass: specific energy falls back to the model's, measured life stays measured
    partial = cells.copy()
    partial.loc[0, "measured_specific_energy"] = np.nan
    partial.loc[1, "measured_life"] = np.nan
    app = Explorer(source, cells=partial, x="specific_energy", y="cycle_life")
    frame = app.cells_frame().set_index("cell")
    assert partial.loc[1, "cell"] not in frame.index and "1 hidden" in app.cells_note()
    assert frame.loc[partial.loc[0, "cell"], "x_plot"] == pytest.approx(partial.loc[0, "specific_energy"])
    assert "1 at the model's specific energy (no cell_mass in the sidecar)" in app.cells_note()


def test_energy_density_is_measured_from_the_sidecar_volume_else_the_model(source, cells):
    volume = {
        c: float(yaml.safe_load((CELLS / f"{c}.yaml").read_text())["cell_volume"].split()[0]) for c in cells["cell"]
    }  # cm³, as the example sidecars write it
    want = 1000.0 * cells["measured_energy"].to_numpy(float) / cells["cell"].map(volume).to_numpy(float)  # Wh/L
    app = Explorer(source, cells=cells, x="energy_density", y="cycle_life")
    frame = app.cells_frame().set_index("cell").loc[cells["cell"]]
    np.testing.assert_allclose(frame["x_plot"].to_numpy(float), want, rtol=1e-9)
    assert app.cells_note() == "4 measured cells at their measured values"
    partial = cells.copy()
    partial.loc[2, "measured_energy_density"] = np.nan  # a sidecar without cell_volume
    app = Explorer(source, cells=partial, x="energy_density", y="cycle_life")
    frame = app.cells_frame().set_index("cell")
    assert frame.loc[partial.loc[2, "cell"], "x_plot"] == pytest.approx(partial.loc[2, "energy_density"])
    assert app.cells_note().endswith("; 1 at the model's energy density (no cell_volume in the sidecar)")


def test_each_cell_names_its_nearest_better_front_design_and_what_differs(source, table, cells):
    app = Explorer(source, cells=cells, x="energy_density", y="cycle_life")
    frame = app.cells_frame().set_index("cell")
    xa, ya = app.axes()
    assert ya.log and not xa.log
    values = table[["energy_density", "cycle_life"]].to_numpy(float)
    front = np.flatnonzero(naive_front(values, ["max", "max"]))
    for _, cell in cells.iterrows():
        x, y = cell["measured_energy_density"], cell["measured_life"]
        better = front[(values[front, 0] >= x) & (values[front, 1] >= y)]
        assert better.size  # the synthetic cells sit inside the cloud
        distance = np.hypot(
            (values[better, 0] - x) / (xa.hi - xa.lo), (np.log10(values[better, 1]) - np.log10(y)) / (ya.hi - ya.lo)
        )
        want = int(better[np.argmin(distance)])
        row = frame.loc[cell["cell"]]
        assert row["front_design"] == f"{table.loc[want, 'scenario']} design {table.loc[want, 'design']}"
        assert row["front_gap_text"].startswith(row["front_design"] + ":")
        # every input named differs, and with four or fewer named, every input not named is equal
        design = source.design(want).inputs
        spoken = {n.replace("_", " ") + " ": n for n in INPUTS}
        named = {
            max((n for k, n in spoken.items() if part.startswith(k)), key=len)
            for part in row["differs_text"].split(", ")
            if not part.startswith("and ")
        }
        for name in named:
            a, b = cell[name], design[name]
            assert (str(a) != str(b)) if isinstance(a, str) else not np.isclose(float(a), float(b), rtol=5e-3)
        if "more" not in row["differs_text"]:
            for name in set(INPUTS) - named - {"coating_thickness"}:
                a, b = cell[name], design[name]
                assert (str(a) == str(b)) if isinstance(a, str) else np.isclose(float(a), float(b), rtol=5e-3), name
    # a cell beyond every front design on both axes is said to be, and still names the nearest
    beyond = cells.iloc[:1].copy()
    beyond["measured_energy_density"], beyond["measured_life"] = values[:, 0].max() * 1.1, values[:, 1].max() * 2
    gap = Explorer(source, cells=beyond, x="energy_density", y="cycle_life").cells_frame()["front_gap_text"][0]
    assert gap.endswith("(the cell is beyond the front here)")


def test_report_draws_the_cells(tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", STORE, "--cells", str(CELLS), "-o", str(out)]) == 0
    text = out.read_text()
    assert "Measured cells" in text
    # energy density-cycle life and specific energy-cycle life show all four; specific energy-cost none
    assert text.count("4 measured cells at their measured values") == 2
    assert text.count("0 measured cells at their measured values (4 hidden") == 1
    for cell in ("A01", "A02", "A03", "A04"):
        assert cell in text
    assert text.count('"marker":{"type":"value","value":"star"}') >= 2
    assert text.count("nearest front design at least as good on both axes") == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_cells_folders_are_one_line_errors_and_nothing_is_written(tmp_path, capsys):
    bad = tmp_path / "unknown"
    shutil.copytree(CELLS, bad)
    (bad / "A01.yaml").write_text((bad / "A01.yaml").read_text() + "cathode: NOPE\n")
    out = tmp_path / "report.html"
    for folder, names in (
        (tmp_path / "missing", ("missing", "not a folder of cells")),
        (bad, ("A01.yaml", "unknown cathode 'NOPE'")),
    ):
        one_line(capsys, ["report", STORE, "--cells", folder, "-o", out], *names, code=2)
        assert not out.exists()
        one_line(capsys, ["serve", STORE, "--cells", folder, "--port", _free_port()], *names, code=2)


# --------------------------------------------------------------------------- robust fronts
def test_front_on_a_quantile_is_the_front_of_that_quantile(source, table):
    app = Explorer(source, x="energy_density", y="cycle_life")
    assert app.param.front_on.objects == ["median", "p10", "p90"]
    for quantile, column in (("median", "cycle_life"), ("p10", "cycle_life_p10"), ("p90", "cycle_life_p90")):
        app.front_on = quantile
        want = np.flatnonzero(naive_front(table[["energy_density", column]].to_numpy(float), ["max", "max"]))
        np.testing.assert_array_equal(np.sort(app.front()), want)
    assert not np.array_equal(app.front(), Explorer(source, x="energy_density", y="cycle_life").front())
    # every objective: cycle life replaced, the others kept
    app.front_scope = "all"
    app.front_on = "p10"
    objectives = ["specific_energy", "energy_density", "cycle_life_p10", "cost"]
    want = np.flatnonzero(naive_front(table[objectives].to_numpy(float), ["max", "max", "max", "min"]))
    np.testing.assert_array_equal(np.sort(app.front()), want)
    assert set(app.front_objectives()) == set(objectives)


def test_no_quantiles_no_switch(source):
    bare = ResultsSource(STORE)
    bare.outputs = [o for o in bare.outputs if o not in ("cycle_life_p10", "cycle_life_p90")]
    app = Explorer(bare)
    assert app.param.front_on.objects == ["median"]

    def shown(explorer):
        return next(p for p in explorer.controls() if isinstance(p, pn.Param)).parameters

    assert "front_on" not in shown(app)
    assert "front_on" in shown(Explorer(source))


def test_hypervolume_is_that_of_the_filtered_front(source, table):
    app = Explorer(source, x="specific_energy", y="cycle_life")
    seen = []
    for filters in ({}, {"cathode": ["NMC811"]}, {"cathode_loading": [2.0, 4.0]}):
        app.filters = filters
        keep = np.ones(len(table), bool)
        if "cathode" in filters:
            keep &= table.cathode.isin(filters["cathode"]).to_numpy()
        if "cathode_loading" in filters:
            lo, hi = filters["cathode_loading"]
            keep &= ((table.cathode_loading >= lo) & (table.cathode_loading <= hi)).to_numpy()
        sub = table[keep]
        front = sub[naive_front(sub[["specific_energy", "cycle_life"]].to_numpy(float), ["max", "max"])]
        reference = {"specific_energy": float(table.specific_energy.min()), "cycle_life": float(table.cycle_life.min())}
        want = hypervolume(front, ["specific_energy", "cycle_life"], ["max", "max"], reference)
        value, objectives, ref = app.front_hypervolume()
        assert objectives == {"specific_energy": "max", "cycle_life": "max"}
        assert ref == pytest.approx(reference, rel=1e-6)
        assert value == pytest.approx(want, rel=1e-5)
        assert f"{want:.4g}" in app.front_header().object
        seen.append(value)
    assert len(set(seen)) == 3  # recomputed with the filter
    # on the p10 quantile: objectives and reference follow
    app.filters = {}
    app.front_on = "p10"
    front = table[naive_front(table[["specific_energy", "cycle_life_p10"]].to_numpy(float), ["max", "max"])]
    reference = {
        "specific_energy": float(table.specific_energy.min()),
        "cycle_life_p10": float(table.cycle_life_p10.min()),
    }
    want = hypervolume(front, ["specific_energy", "cycle_life_p10"], ["max", "max"], reference)
    assert app.front_hypervolume()[0] == pytest.approx(want, rel=1e-5)
    assert "Cycle life, 10th percentile" in app.hypervolume_text() or "p10" in app.hypervolume_text().lower()


# --------------------------------------------------------------------------- colours
def _pixel_means(app, values: np.ndarray, width: int = 48, height: int = 32) -> np.ndarray:
    """Mean of ``values`` per pixel of the cloud, computed here (bottom row first), NaN where empty."""
    xa, ya = app.axes()
    x = xa.to_plot(app.source.column(app.x).astype(float))
    y = ya.to_plot(app.source.column(app.y).astype(float))
    col = np.floor((x - xa.lo) / (xa.hi - xa.lo) * width).astype(int)
    row = np.floor((y - ya.lo) / (ya.hi - ya.lo) * height).astype(int)
    ok = app.mask() & (col >= 0) & (col < width) & (row >= 0) & (row < height) & np.isfinite(values)
    sums, counts = np.zeros((height, width)), np.zeros((height, width))
    np.add.at(sums, (row[ok], col[ok]), values[ok])
    np.add.at(counts, (row[ok], col[ok]), 1)
    with np.errstate(invalid="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def _check_colour(app, name: str, values: np.ndarray) -> None:
    assert name in app.param.color.objects.values()
    app.color = name
    image = app.cloud_element(*app.axes(), width=48, height=32)
    assert image.vdims[0].name == name
    # the image's values placed by their own pixel coordinates: bottom row first, whatever the data's order
    xs, ys, zs = (image.dimension_values(k) for k in range(3))
    drawn = np.full((np.unique(ys).size, np.unique(xs).size), np.nan)
    drawn[np.searchsorted(np.unique(ys), ys), np.searchsorted(np.unique(xs), xs)] = zs
    want = _pixel_means(app, values)
    assert np.isfinite(want).sum() > 10
    np.testing.assert_array_equal(np.isfinite(drawn), np.isfinite(want))
    np.testing.assert_allclose(drawn[np.isfinite(want)], want[np.isfinite(want)], rtol=1e-5)


def test_pareto_probability_colours_the_cloud(tmp_path):
    """A probability written as ``dse pareto --probability`` writes it (the shipped store predates the
    stored CE posterior that the draws need, so the values here are made up, a different one per design)."""
    import xarray as xr

    from dse.store import read_root_attrs, write_variable

    path = str(tmp_path / "copy.zarr")
    shutil.copytree(STORE, path)
    groups = read_root_attrs(path)["dse_groups"]
    rng = np.random.default_rng(5)
    for name, ds in ResultsSource(path).datasets.items():
        dims = list(ds["feasible"].dims)
        values = rng.random(ds["feasible"].shape).astype(np.float32) ** 4
        write_variable(
            path,
            groups[name],
            xr.DataArray(
                values,
                dims=dims,
                name="pareto_probability",
                attrs={"long_name": "Probability of being on the Pareto front", "units": "1"},
            ),
        )
    src = ResultsSource(path)
    probability = design_table(path, feasible_only=True).reset_index(drop=True)["pareto_probability"]
    assert probability.max() > 0
    _check_colour(Explorer(src, x="specific_energy", y="cycle_life"), "pareto_probability", probability.to_numpy(float))


def test_refinement_level_colours_the_cloud_of_a_refined_store(tmp_path):
    from dse.refine import refine, write_refined
    from dse.spec import parse_sweep

    grid = {
        "name": "refined",
        "scenarios": [
            {
                "name": "li",
                "inputs": {
                    "metal": "Li",
                    "cathode": ["NMC811", "LFP"],
                    "electrolyte": "Li-dual-salt",
                    "cathode_loading": {"linspace": ["1 mAh/cm^2", "8 mAh/cm^2", 9]},
                    "stack_pressure": {"linspace": [0.0, 3.0, 9]},
                },
            }
        ],
    }
    spec = parse_sweep(grid, text=yaml.safe_dump(grid, sort_keys=False), chunk_size=4096)
    path = str(tmp_path / "refined.zarr")
    write_refined(refine(spec, {"specific_energy": "max", "cycle_life": "max"}, coarse=2), spec, path)
    src = ResultsSource(path)
    assert src.extras == ["refinement_level"] and "refinement_level" not in src.outputs
    ds = next(iter(src.datasets.values()))
    levels = np.asarray(ds["refinement_level"].values)[np.asarray(ds["feasible"].values)].astype(float)
    assert levels.max() > 0
    np.testing.assert_array_equal(src.column("refinement_level"), levels)
    _check_colour(Explorer(src, x="specific_energy", y="cycle_life"), "refinement_level", levels)
    # a store that is not refined offers no such colour
    assert "refinement_level" not in Explorer(ResultsSource(STORE)).param.color.objects.values()


# --------------------------------------------------------------------------- sensitivity
@pytest.fixture(scope="module")
def sensitivity_csv(tmp_path_factory):
    """A real sensitivity run on the shipped store (grid main effects of both scenarios), saved as CSV."""
    from dse.sensitivity import sensitivity

    path = tmp_path_factory.mktemp("sensitivity") / "sensitivity.csv"
    sensitivity(STORE, ["specific_energy", "cycle_life"], n_boot=0).to_csv(path, index=False)
    return path


def test_sensitivity_tab_draws_the_indices_of_each_output(source, sensitivity_csv):
    import pandas as pd

    from dse.explore import read_sensitivity

    want = pd.read_csv(sensitivity_csv)
    assert Explorer(source)._lower_tabs._names == ["Inputs of the selection", "Parallel coordinates"]  # no table
    app = Explorer(source, sensitivity=read_sensitivity(str(sensitivity_csv), source))
    assert app._lower_tabs._names[-1] == "Sensitivity"
    view = app.sensitivity_view()
    charts = [p.object for p in view.select(pn.pane.HoloViews)]
    assert len(charts) == len(want.groupby(["output", "scenario"]))
    for chart in charts:
        output = next(
            o
            for o in want.output.unique()
            if chart.opts.get().kwargs["title"].startswith(source.label(o, units=False) + " · ")
        )
        scenario = chart.opts.get().kwargs["title"].split(" · ")[1].split(" (")[0]
        rows = want[(want.output == output) & (want.scenario == scenario)]
        layers = {layer.label: layer for layer in chart}
        assert set(layers) == {"first order", "total order"}  # the legend
        for label, column in (("first order", "first_order"), ("total order", "total_order")):
            drawn = layers[label]
            heights = dict(zip(drawn.dimension_values("input"), drawn.dimension_values("value"), strict=True))
            assert heights == pytest.approx(
                {source.label(i, units=False): v for i, v in zip(rows.input, rows[column], strict=True)}, abs=1e-12
            )
    assert pn.panel(view).get_root() is not None


def test_bad_sensitivity_tables_are_one_line_errors(tmp_path, capsys, sensitivity_csv):
    foreign = tmp_path / "foreign.csv"
    foreign.write_text(sensitivity_csv.read_text().replace("specific_energy", "specific_enrgy"))
    columns = tmp_path / "columns.csv"
    columns.write_text("a,b\n1,2\n")
    for path, names in (
        (tmp_path / "missing.csv", ("missing.csv", "no such file")),
        (columns, ("columns.csv", "no column scenario")),
        (foreign, ("foreign.csv", "specific_enrgy")),
    ):
        one_line(capsys, ["serve", STORE, "--sensitivity", path, "--port", _free_port()], *names, code=2)
