"""Grid inputs as virtual columns: filters, histograms and labels of a grid store read no input column.

On real stores written by ``run_sweep`` (two grid scenarios with different
swept and fixed inputs, and the same two with a sampled scenario), seeded
random filters give the same rows, counts, extents and values through the
grid positions as through whole columns, and a session's filter, histograms
and labels leave no input (nor ``scenario``, ``design``) read whole.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from dse.explore import ResultsSource

GRID_A = {
    "name": "li-a",
    "inputs": {
        "metal": "Li",
        "cathode": ["NMC811", "LFP"],
        "electrolyte": ["Li-dual-salt", "Li-LPSCl"],
        "cathode_loading": {"linspace": ["2 mAh/cm^2", "7 mAh/cm^2", 6]},
        "current_collector_thickness": ["4 um", "8 um"],
        "stack_pressure": [0.0, 1.0, 3.0],
        "temperature": [25, 60],
    },
}
GRID_B = {  # other dimensions, in another order; pressure fixed, depth of discharge swept
    "name": "li-b",
    "inputs": {
        "metal": "Li",
        "depth_of_discharge": [0.7, 0.85, 1.0],
        "cathode": ["NCA", "NMC622", "NMC811"],
        "electrolyte": "Li-ether",
        "cathode_loading": {"linspace": ["1 mAh/cm^2", "9 mAh/cm^2", 7]},
        "stack_pressure": 2.0,
    },
}
SAMPLED = {
    "name": "na",
    "sampler": {"method": "sobol", "n": 128, "seed": 4},
    "inputs": {
        "metal": "Na",
        "cathode": ["NVP", "NaPW"],
        "electrolyte": "Na-diglyme",
        "current_collector": "Al",
        "cathode_loading": {"range": [1, 5]},
        "stack_pressure": {"range": [0, 2]},
    },
}


def _build(tmp_path_factory, cluster, name: str, scenarios: list[dict]) -> str:
    from dse.spec import parse_sweep
    from dse.sweep import run_sweep

    spec = {"name": name, "scenarios": scenarios}
    path = str(tmp_path_factory.mktemp(name) / f"{name}.zarr")
    run_sweep(parse_sweep(spec, text=yaml.safe_dump(spec), chunk_size=64), path, scheduler=cluster.scheduler_address)
    return path


@pytest.fixture(scope="module")
def grid_store(tmp_path_factory, cluster) -> str:
    return _build(tmp_path_factory, cluster, "grids", [GRID_A, GRID_B])


@pytest.fixture(scope="module")
def mixed_store(tmp_path_factory, cluster) -> str:
    return _build(tmp_path_factory, cluster, "mixed", [GRID_A, GRID_B, SAMPLED])


def _column_source(path: str) -> ResultsSource:
    """The column path: every input read whole first (then nothing is virtual but the scenario)."""
    source = ResultsSource(path)
    for name in source.inputs:
        source.column(name)
    return source


def _random_filters(source: ResultsSource, rng: np.random.Generator) -> dict:
    filters: dict = {}
    for name in source.categorical:
        if rng.random() < 0.5:
            names = source.categories[name]
            filters[name] = [str(c) for c in rng.choice(names, rng.integers(0, len(names) + 1), replace=False)]
    for name in source.numeric_inputs:
        if rng.random() < 0.6:
            lo, hi = source.extent(name)
            a, b = np.sort(rng.uniform(lo - 0.2 * (hi - lo), hi + 0.2 * (hi - lo), 2))
            if rng.random() < 0.3:  # on a grid value exactly: the tolerance decides
                a = float(rng.choice(np.unique(source.column(name))))
            filters[name] = [None if rng.random() < 0.2 else float(a), None if rng.random() < 0.2 else float(b)]
    return filters


@pytest.mark.parametrize("kind", ["grid", "mixed"])
def test_filters_counts_extents_and_values_match_the_column_path(kind, grid_store, mixed_store):
    """Virtual columns give exactly what whole columns give (a store with a sampled scenario keeps the columns)."""
    path = grid_store if kind == "grid" else mixed_store
    virtual, columns = ResultsSource(path), _column_source(path)
    assert virtual.grid is (kind == "grid")
    assert len(virtual.datasets) == (2 if kind == "grid" else 3) and len(virtual) > 100
    names = [*virtual.categorical, *virtual.numeric_inputs]
    for name in virtual.numeric_inputs:
        assert virtual.extent(name) == columns.extent(name), name
        np.testing.assert_array_equal(virtual.edges(name), columns.edges(name))
    for name in names:
        np.testing.assert_array_equal(virtual.counts_all(name), columns.counts_all(name), err_msg=name)
    rng = np.random.default_rng(11)
    for _ in range(60):
        filters = _random_filters(columns, rng)
        keep = virtual.mask(filters)
        np.testing.assert_array_equal(keep, columns.mask(filters), err_msg=str(filters))
        want = columns.counts_many(names, keep)
        got = virtual.counts_many(names, keep)
        for name in names:
            np.testing.assert_array_equal(got[name], want[name], err_msg=f"{name} under {filters}")
            np.testing.assert_array_equal(virtual.counts(name, keep), want[name])
    rows = rng.integers(0, len(virtual), 300)
    for name in ["scenario", "design", *virtual.inputs]:
        np.testing.assert_array_equal(virtual.values(name, rows), columns.column(name)[rows], err_msg=name)
    assert list(virtual.design_labels(rows)) == [
        f"{columns.categories['scenario'][columns.column('scenario')[r]]} design {columns.column('design')[r]}"
        for r in rows
    ]
    if kind == "grid":
        assert not set(virtual.inputs) & set(virtual._columns)


def test_a_session_reads_no_input_column_on_a_grid_store(grid_store):
    """Filters, histograms, labels, the card's band, the front table and the parallel coordinates of a session
    on a grid store leave no input, nor the scenario or design numbers, read whole (only outputs are)."""
    from dashboards.app import Explorer

    source = ResultsSource(grid_store)
    app = Explorer(source, color="cost")
    app.__panel__()
    app.filters = {"cathode": ["NMC811", "NCA"], "cathode_loading": [2.0, 6.5], "scenario": ["li-a", "li-b"]}
    assert 0 < app.mask().sum() < len(source)
    for name in source.inputs:
        app.histogram_element(name)
    app.selection = (0.0, 0.0, 1e9, 1e9)
    for name in source.inputs:
        app.histogram_element(name)
    app._image()
    app._front_points()
    app.front_table()
    app.parallel_coordinates()
    rows = app.front()
    assert rows.size
    source.design_label(int(rows[0]))
    source.design_labels(rows)
    app.pixel_text("design", rows)
    source.design(int(rows[0]))
    app.detail = int(rows[0])
    read = set(source._columns) | set(source._bins)
    assert not read & {"scenario", "design", *source.inputs}, read
    assert read <= set(source.outputs)


def test_grid_kernels_match_unravel():
    """The walks over flat indices give the positions numpy's unravel gives, for any shape (sizes of 1 too)."""
    from dse.explore.kernels import _grid_counts, _grid_filter

    rng = np.random.default_rng(1)
    for _ in range(300):
        shape = rng.integers(1, 6, rng.integers(1, 5)).astype(np.int64)
        flat = np.flatnonzero(rng.random(int(np.prod(shape))) < rng.random())
        flat = flat.astype(np.int32 if rng.random() < 0.5 else np.int64)
        positions = np.stack(np.unravel_index(flat, shape)) if flat.size else np.zeros((shape.size, 0), dtype=int)
        dims = rng.choice(shape.size, rng.integers(0, shape.size + 1), replace=False).astype(np.int64)
        allowed = rng.random((dims.size, shape.max())) < 0.6
        before = rng.random(flat.size) < 0.8
        keep = before.copy()
        _grid_filter(flat, shape, dims, allowed, keep)
        want = before.copy()
        for j, d in enumerate(dims):
            want &= allowed[j, positions[d]]
        np.testing.assert_array_equal(keep, want)
        for rows in (before, np.zeros(0, dtype=bool)):
            out = np.zeros((dims.size, shape.max()), dtype=np.int64)
            _grid_counts(flat, shape, dims, rows, out)
            counted = np.ones(flat.size, dtype=bool) if rows.size == 0 else rows
            for j, d in enumerate(dims):
                np.testing.assert_array_equal(
                    out[j, : shape[d]], np.bincount(positions[d][counted], minlength=shape[d])
                )


@pytest.mark.parametrize("kind", ["grid", "mixed"])
def test_output_extents_from_stored_blocks_match_the_columns(kind, grid_store, mixed_store):
    """A slider's range of an output comes from its stored blocks (Dask), with no column kept: the same range."""
    path = grid_store if kind == "grid" else mixed_store
    blocks, columns = ResultsSource(path), ResultsSource(path)
    for name in [*blocks.outputs, *blocks.extras]:
        columns.column(name)
        assert blocks.extent(name) == columns.extent(name), name
    assert not set(blocks._columns)
