"""Adaptive refinement: the refined front of a grid is the brute-force front of the same grid."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import yaml

from dse.cli import main
from dse.errors import SpecError
from dse.pareto import nondominated, pareto_store
from dse.refine import refine
from dse.refine.dominance import dominated, front_index
from dse.spec import parse_sweep
from dse.store import open_results
from dse.store.validate import validate_store

GRID = {
    "name": "refine test",
    "scenarios": [
        {
            "name": "li",
            "inputs": {
                "metal": "Li",
                "cathode": ["NMC811", "LFP"],
                "electrolyte": ["Li-dual-salt", "Li-LHCE"],
                "cathode_loading": {"linspace": ["1 mAh/cm^2", "8 mAh/cm^2", 9]},
                "current_collector_thickness": {"linspace": ["2 um", "12 um", 5]},
                "stack_pressure": {"linspace": [0.0, 3.0, 5]},
                "depth_of_discharge": {"linspace": [0.6, 1.0, 5]},
            },
        },
        {
            "name": "na",
            "inputs": {
                "metal": "Na",
                "cathode": ["NVP", "NaPW"],
                "electrolyte": "Na-diglyme",
                "current_collector": "Al",
                "cathode_loading": {"linspace": ["1 mAh/cm^2", "6 mAh/cm^2", 9]},
                "stack_pressure": {"linspace": [0, 2, 5]},
            },
        },
    ],
}
OBJECTIVES = {"specific_energy": "max", "cycle_life": "max", "cost": "min"}


@pytest.fixture(scope="module")
def spec():
    return parse_sweep(GRID, text=yaml.safe_dump(GRID, sort_keys=False), chunk_size=4096)


@pytest.fixture(scope="module")
def brute(spec, cluster, tmp_path_factory):
    """The whole grid swept, and its exact front as (scenario, grid position)."""
    from dse.sweep import run_sweep

    path = str(tmp_path_factory.mktemp("brute") / "grid.zarr")
    run_sweep(spec, path, scheduler=cluster.scheduler_address)
    front = pareto_store(path, OBJECTIVES, write=False)
    return sorted(zip(front.scenario, front.design.astype(int), strict=True)), front


def test_refined_front_equals_brute_force_front(spec, brute, cluster, tmp_path):
    path = str(tmp_path / "refined.zarr")
    assert (
        main(
            [
                "refine",
                _spec_file(tmp_path),
                "-o",
                path,
                "--scheduler",
                cluster.scheduler_address,
                *[a for o, s in OBJECTIVES.items() for a in ("--objective", f"{o}:{s}")],
            ]
        )
        == 0
    )
    assert validate_store(path) == []
    front = pareto_store(path, OBJECTIVES, write=False)
    datasets = open_results(path)
    got = sorted((s, int(datasets[s].grid_index.values[d])) for s, d in zip(front.scenario, front.design, strict=True))
    expected, brute_front = brute
    assert got == expected
    assert front.attrs["dse_hypervolume"] == pytest.approx(brute_front.attrs["dse_hypervolume"], rel=1e-12)
    # and it did not evaluate the whole grid; each design once, levels from 0
    n = sum(ds.sizes["design"] for ds in datasets.values())
    assert n < spec.n_designs
    for ds in datasets.values():
        assert np.unique(ds.grid_index.values).size == ds.sizes["design"]
        assert int(ds.refinement_level.min()) == 0


def _spec_file(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(GRID, sort_keys=False))
    return str(path)


def test_budget_and_tolerance_stop_early_and_say_so(spec):
    small = refine(spec, OBJECTIVES, budget=200)
    assert small.stopped == "budget" and small.evaluated <= 200
    loose = refine(spec, OBJECTIVES, tolerance=0.5)
    full = refine(spec, OBJECTIVES)
    assert loose.stopped == "tolerance" and full.stopped == "exact"
    assert loose.evaluated < full.evaluated
    # the stored values are the kernel's: a point evaluated twice gives the same numbers
    for name in full.points:
        common, a, b = np.intersect1d(loose.points[name], full.points[name], return_indices=True)
        np.testing.assert_array_equal(loose.values[name][:, a], full.values[name][:, b])


def test_a_margin_finds_the_same_front_with_more_work(spec, brute):
    from dse.pareto import nondominated

    wide = refine(spec, OBJECTIVES, margin=1.0)
    found = []
    for name, values in wide.values.items():
        x = np.stack([values[wide.outputs.index(o)] for o in OBJECTIVES], axis=1).astype(float)
        x[values[wide.outputs.index("infeasible_reason")] != 0] = np.nan
        found += [(name, int(g), *row) for g, row in zip(wide.points[name], x, strict=True)]
    x = np.array([f[2:] for f in found])
    on = nondominated(x, list(OBJECTIVES.values()))
    assert sorted((f[0], f[1]) for f, o in zip(found, on, strict=True) if o) == brute[0]


def test_sampled_scenarios_and_unknown_objectives_are_refused(spec):
    sampled = parse_sweep({"sampler": {"method": "sobol", "n": 8}, "inputs": {"cathode_loading": {"range": [1, 5]}}})
    with pytest.raises(SpecError, match="refinement needs a grid"):
        refine(sampled)
    with pytest.raises(SpecError, match="is not an output of the spec"):
        refine(spec, {"cycle_life_p10": "max"})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget", "0"], "--budget: expected a number of designs"),
        (["--tolerance", "2"], "--tolerance: expected a fraction"),
        (["--objective", "cost"], "--objective: expected NAME:max or NAME:min"),
    ],
)
def test_bad_refine_options_are_one_line_errors(tmp_path, capsys, args, message):
    assert main(["refine", _spec_file(tmp_path), "-o", str(tmp_path / "x.zarr"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("keys_below", [None, 10**10, 2**55])  # two columns; packed; packed, then two columns
def test_point_table_matches_a_dict_through_growth(keys_below):
    from dse.refine.points import PointTable

    rng = np.random.default_rng(1)
    table, oracle = PointTable(capacity=16, keys_below=keys_below), {}
    assert table.table.shape[1] == (2 if keys_below is None else 1)
    for _ in range(20):
        flats = rng.integers(0, 10**10, 500)
        flats[::3] = rng.choice(flats, flats[::3].size)  # repeats within a batch
        if oracle:
            flats[::5] = rng.choice(np.fromiter(oracle, np.int64), flats[::5].size)  # and across batches
        flats %= keys_below or 10**10
        rows, added = table.find_or_add(flats)
        new = []
        for f in flats.tolist():
            if f not in oracle:
                oracle[f] = len(oracle)
                new.append(f)
        assert rows.tolist() == [oracle[f] for f in flats.tolist()]
        assert added.tolist() == new
    assert len(table) == len(oracle)
    assert table.table.shape[1] == (1 if keys_below == 10**10 else 2)  # 2**55: 254 rows at most when packed


def test_refinement_memory_turns_numpy_huge_pages_off_nests_and_restores():
    from numpy._core.multiarray import _set_madvise_hugepage

    from dse.refine.memory import refinement_memory

    before = _set_madvise_hugepage(True)
    try:
        with refinement_memory():
            with refinement_memory():
                assert _set_madvise_hugepage(False) is False
            assert _set_madvise_hugepage(False) is False  # still off in the outer block
        assert _set_madvise_hugepage(True) is True  # restored on leaving it
    finally:
        _set_madvise_hugepage(before)


def test_refinement_without_held_address_space_gives_the_same_result(spec, monkeypatch):
    """Where address space cannot be held, the point arrays grow by doubling instead: the same designs and values."""
    import platform

    import dse.refine.grid as grid
    from dse.refine.memory import growable

    if platform.system() == "Linux" and platform.machine() in ("x86_64", "aarch64"):
        room = growable(1 << 36, np.float32, 4)  # 1 TB of address space, no memory
        assert room is not None and room.shape == (1 << 36, 4)
        room[-1] = 7  # one page touched, at the far end
        assert room[-1].tolist() == [7, 7, 7, 7] and room[0].tolist() == [0, 0, 0, 0]
    held = refine(spec, OBJECTIVES)
    monkeypatch.setattr(grid, "growable", lambda *args: None)
    grown = refine(spec, OBJECTIVES)
    assert held.points.keys() == grown.points.keys()
    for name in held.points:
        assert np.array_equal(held.points[name], grown.points[name])
        assert np.array_equal(held.values[name], grown.values[name], equal_nan=True)
        assert np.array_equal(held.levels[name], grown.levels[name])


def test_point_inputs_are_the_grid_values_of_each_flat_index():
    """The evaluator's one-pass gather agrees with numpy's unravel_index, to the last point of a 2.4·10^11 grid."""
    from dse.refine.grid import _gather_inputs

    rng = np.random.default_rng(5)
    shape = np.array([1001, 201, 2, 201, 61, 49], np.int64)
    size = int(np.prod(shape))
    # 5,946,780,777 = 49 · 121,362,873, whose quotient the multiply by 1/49 truncates one low (so corrected)
    edges = [0, size - 1, size - 2, int(shape[1:].prod()), 5_946_780_777, 5_946_780_776]
    flats = np.concatenate([edges, rng.integers(0, size, 20_000)])
    column_axis = np.array([3, -1, 0, 5, 1, -1, 4, 2], np.int64)
    tables = [rng.random(int(shape[a])) if a >= 0 else rng.random(1) for a in column_axis]
    sizes = np.where(column_axis >= 0, flats.size, 1)
    starts = np.concatenate([[0], np.cumsum(sizes[:-1])]).astype(np.int64)
    out = np.full(int(sizes.sum()), np.nan)
    column_start = np.cumsum([0] + [t.size for t in tables[:-1]]).astype(np.int64)
    _gather_inputs(flats, shape, column_axis, np.concatenate(tables), column_start, starts, out)
    index = np.unravel_index(flats, tuple(shape))
    for j, a in enumerate(column_axis.tolist()):
        got = out[starts[j] : starts[j] + sizes[j]]
        assert np.array_equal(got, tables[j][index[a]] if a >= 0 else tables[j]), j


def _strictly_dominated(bound, front):
    """The definition, row by row: some row ≥ bound everywhere and > somewhere."""
    return bool(np.any(np.all(front >= bound, axis=1) & np.any(front > bound, axis=1)))


@pytest.mark.parametrize("k", [2, 3, 4])
def test_the_front_index_answers_dominance_as_the_definition(k):
    rng = np.random.default_rng(k)
    for trial in range(60):
        # coarse integer values make ties (equal objectives, bounds on a front row) common
        x = rng.integers(0, 6 if trial % 2 else 40, size=(int(rng.integers(0, 300)), k)).astype(np.float64)
        front = x[nondominated(x, ["max"] * k)] if len(x) else x
        index = front_index(np.ascontiguousarray(front))
        bounds = np.concatenate(
            [
                rng.integers(-1, 42, size=(200, k)).astype(np.float64),
                front[:50],
                np.full((1, k), np.inf),
                np.full((1, k), -np.inf),
            ]
        )
        for b in bounds:
            assert dominated(b, front, *index) == _strictly_dominated(b, front), (trial, b)


def _first_cells(shape, axes, coarse, dtype):
    """Level 0 as a refinement starts it: ``coarse`` ranges per numeric axis, every categorical value."""
    ranges = []
    for a, n in enumerate(shape):
        if a in axes:
            cuts = np.unique(np.linspace(0, n - 1, min(coarse, n - 1) + 1).round().astype(np.int64))
            ranges.append(list(zip(cuts[:-1], cuts[1:], strict=True)))
        else:
            ranges.append([(i, i) for i in range(n)])
    cells = np.array(list(itertools.product(*ranges)), dtype).reshape(-1, len(shape), 2)
    return np.ascontiguousarray(cells[:, :, 0]), np.ascontiguousarray(cells[:, :, 1])


@pytest.mark.parametrize("dtype", [np.int32, np.int16])  # the cells' bounds (_Scenario.cell_dtype)
@pytest.mark.parametrize("layout", ["two columns", "packed", "packed, then two columns"])
@pytest.mark.parametrize(("coarse", "share"), [(2, 0.7), (3, 0.5), (1, 1.0)])  # share of the cells kept per level
def test_split_children_tile_the_parent_and_carry_their_corners(layout, dtype, coarse, share):
    """Level by level: children's corner rows name their corners, their points are the parent's, every point once.

    The cells come from a refinement (first cells, then splits of a random share), as :func:`split_cells`
    requires; keeping every cell must reach every grid point exactly once.
    """
    from dse.refine.cells import corner_flats, split_cells
    from dse.refine.points import PointTable

    rng = np.random.default_rng(2 + coarse)
    shape = (3, 9, 2, 6, 5)  # a categorical axis (2) among numeric ones
    axes = np.array([0, 1, 3, 4])
    strides = np.array([int(np.prod(shape[a + 1 :])) for a in range(len(shape))], np.int64)
    # packed: 11 bits of key, 53 of row; 2**53: 11 bits of row (1022 rows), too few: the table falls back
    keys_below = {"two columns": None, "packed": int(np.prod(shape)), "packed, then two columns": 2**53}[layout]
    lo, hi = _first_cells(shape, axes, coarse, dtype)
    rows, added = PointTable(keys_below=keys_below).find_or_add(corner_flats(lo, hi, strides, axes))
    corners = rows.reshape(len(lo), -1).astype(np.int32)
    flat_of = added.tolist()  # row → flat index of every point so far

    def points(a, b):
        return {
            tuple(p)
            for p in np.stack(
                np.meshgrid(*[np.arange(x, y + 1) for x, y in zip(a, b, strict=True)], indexing="ij"), -1
            ).reshape(-1, len(shape))
        }

    def flat(p):
        return int(np.dot(p, strides))

    while len(lo):
        keep = (hi - lo > 1).any(axis=1) & (rng.random(len(lo)) < share)
        clo, chi, ccorners, added = split_cells(
            lo, hi, corners, keep, axes, strides, len(flat_of), keys_below=keys_below, expected=int(rng.integers(0, 9))
        )
        assert clo.dtype == chi.dtype == dtype
        # the new points were never seen, each is listed once, and they take the next rows
        assert len(set(added.tolist())) == added.size and not set(added.tolist()) & set(flat_of)
        flat_of += added.tolist()
        assert np.array_equal(np.asarray(flat_of)[ccorners], corner_flats(clo, chi, strides, axes))
        known = set(flat_of)
        # children are returned parent by parent; a child at most one step wide along every axis (done: all
        # its points are corners) is left out, so a parent's points are its children's points and known points
        start, every = 0, set()
        for i in np.flatnonzero(keep):
            inside = points(lo[i], hi[i])
            wide = [a for a in axes if hi[i, a] - lo[i, a] > 1]
            halves = [[(lo[i, a], (lo[i, a] + hi[i, a]) // 2), ((lo[i, a] + hi[i, a]) // 2, hi[i, a])] for a in wide]
            expected = 0
            for choice in itertools.product(*halves):
                c_lo, c_hi = lo[i].copy(), hi[i].copy()
                for a, (x, y) in zip(wide, choice, strict=True):
                    c_lo[a], c_hi[a] = x, y
                expected += bool((c_hi - c_lo > 1).any())
            kids = range(start, start + expected)
            start += expected
            assert all(points(clo[c], chi[c]) < inside and (chi[c] - clo[c] > 1).any() for c in kids)
            covered = set().union(*(points(clo[c], chi[c]) for c in kids))
            assert all(p in covered or flat(p) in known for p in inside)
            grid = [
                sorted({lo[i, a], (lo[i, a] + hi[i, a]) // 2, hi[i, a]}) if a in wide else sorted({lo[i, a], hi[i, a]})
                for a in range(len(shape))
            ]
            every |= {flat(p) for p in itertools.product(*grid)}
        assert start == len(clo)
        # the new points are exactly the corners of every child, done or not, that were not known before
        assert set(added.tolist()) == every - (known - set(added.tolist()))
        lo, hi, corners = clo, chi, ccorners
    if share == 1.0:
        assert sorted(flat_of) == list(range(int(np.prod(shape))))


def test_a_spec_refine_key_sets_the_options_and_arguments_override_it(spec):
    declared = {**GRID, "refine": {"objectives": OBJECTIVES, "tolerance": 0.5, "coarse": 2}}
    with_key = parse_sweep(declared, text=yaml.safe_dump(declared, sort_keys=False), chunk_size=4096)
    from_spec = refine(with_key)
    explicit = refine(spec, OBJECTIVES, tolerance=0.5)
    assert from_spec.objectives == OBJECTIVES and from_spec.stopped == "tolerance"
    assert from_spec.options == {"coarse": 2, "margin": 0.0, "tolerance": 0.5, "budget": None}
    for name in explicit.points:
        np.testing.assert_array_equal(from_spec.points[name], explicit.points[name])
    # an argument wins over the spec
    overridden = refine(with_key, {"cost": "min"}, tolerance=0.0, budget=10**9)
    assert overridden.objectives == {"cost": "min"} and overridden.options["tolerance"] == 0.0


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"coarse": 0}, "refine.coarse: "),
        ({"tolerance": 1.5}, "refine.tolerance: expected a number in [0, 1)"),
        ({"objectives": {"cycle_lief": "max"}}, "refine.objectives: 'cycle_lief' is not an output of the spec"),
        ({"objectives": {"cost": "least"}}, "refine.objectives: expected max or min"),
        ({"budgett": 5}, "refine: unknown key 'budgett'"),
    ],
)
def test_a_bad_refine_key_is_a_one_line_error(tmp_path, capsys, block, message):
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump({**GRID, "refine": block}, sort_keys=False))
    assert main(["refine", str(path), "-o", str(tmp_path / "x.zarr")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


# --------------------------------------------------------------------------- resuming an interrupted refinement
OBJECTIVE_ARGS = [a for o, s in OBJECTIVES.items() for a in ("--objective", f"{o}:{s}")]


@pytest.fixture(scope="module")
def uninterrupted(spec):
    return refine(spec, OBJECTIVES)


def _fail_at(monkeypatch, level: int, error: type[BaseException] = RuntimeError) -> None:
    """Make the evaluation of ``level`` fail, as a killed worker or Ctrl-C would."""
    import dse.refine

    original = dse.refine._Scenario.evaluate_pending

    def evaluate_pending(self, at):
        if at == level:
            raise error(f"injected at level {at}")
        return original(self, at)

    monkeypatch.setattr(dse.refine._Scenario, "evaluate_pending", evaluate_pending)


def _count_evaluations(monkeypatch) -> list[int]:
    import dse.refine.grid

    original, counted = dse.refine.grid._evaluate, []

    def evaluate(evaluator, flats, *args, **kwargs):
        counted.append(flats.size)
        return original(evaluator, flats, *args, **kwargs)

    monkeypatch.setattr(dse.refine.grid, "_evaluate", evaluate)
    return counted


def _same_result(a, b) -> None:
    """Bit for bit: the same designs, values and levels, and the same hypervolume history."""
    assert a.stopped == b.stopped and a.points.keys() == b.points.keys()
    for name in a.points:
        np.testing.assert_array_equal(a.points[name], b.points[name])
        np.testing.assert_array_equal(a.values[name], b.values[name])
        np.testing.assert_array_equal(a.levels[name], b.levels[name])
    assert [h["hypervolume"] for h in a.history] == [h["hypervolume"] for h in b.history]


def test_an_interrupted_refinement_resumes_from_its_last_level(spec, uninterrupted, tmp_path, monkeypatch):
    from dse.refine import checkpoint_dir

    store = str(tmp_path / "ref.zarr")
    with monkeypatch.context() as m:
        _fail_at(m, 2)
        with pytest.raises(RuntimeError, match="injected at level 2"):
            refine(spec, OBJECTIVES, store=store)
    assert (checkpoint_dir(store) / "state.npz").is_file()
    resumed_at = []
    counted = _count_evaluations(monkeypatch)
    again = refine(spec, OBJECTIVES, store=store, on_resume=lambda level, n: resumed_at.append((level, n)))
    levels_done = sum(np.count_nonzero(lv < 2) for lv in uninterrupted.levels.values())
    assert resumed_at == [(2, levels_done)]
    _same_result(again, uninterrupted)
    # only level 2 onwards was evaluated again
    assert 0 < sum(counted) == uninterrupted.evaluated - levels_done < uninterrupted.evaluated


def test_ctrl_c_then_the_same_command_resumes_and_removes_the_checkpoint(
    spec, uninterrupted, tmp_path, capsys, monkeypatch, cluster
):
    from dse.refine import checkpoint_dir

    store = str(tmp_path / "ref.zarr")
    args = ["refine", _spec_file(tmp_path), "-o", store, "--scheduler", cluster.scheduler_address, *OBJECTIVE_ARGS]
    with monkeypatch.context() as m:
        _fail_at(m, 1, KeyboardInterrupt)
        assert main(args) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rerun the same command to resume" in err[0] and store in err[0], err
    assert not (tmp_path / "ref.zarr").exists()
    assert main(args) == 0
    n = sum(np.count_nonzero(lv < 1) for lv in uninterrupted.levels.values())
    assert f"resuming at level 1: {n:,} designs already evaluated" in capsys.readouterr().out
    assert not checkpoint_dir(store).exists()
    assert validate_store(store) == []
    for name, ds in open_results(store).items():
        order = np.argsort(uninterrupted.points[name])  # the store is in grid order
        np.testing.assert_array_equal(ds.grid_index.values, uninterrupted.points[name][order])
        for j, output in enumerate(uninterrupted.outputs[:-1]):
            np.testing.assert_array_equal(ds[output].values, uninterrupted.values[name][j][order])


def _checkpointed(tmp_path, monkeypatch, **options) -> tuple[str, str]:
    """A spec file and a store path whose refinement was interrupted at level 1 (checkpoint of level 0)."""
    from dse.refine import checkpoint_dir
    from dse.spec import load_sweep

    spec_file, store = _spec_file(tmp_path), str(tmp_path / "ref.zarr")
    with monkeypatch.context() as m:
        _fail_at(m, 1)
        with pytest.raises(RuntimeError):
            refine(load_sweep(spec_file), OBJECTIVES, store=store, **options)
    assert (checkpoint_dir(store) / "state.npz").is_file()
    return spec_file, store


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("margin", "margin 0.0 → 0.5"),
        ("objectives", "objectives"),
        ("spec", "another spec"),
    ],
)
def test_a_rerun_with_another_spec_or_options_is_refused(tmp_path, capsys, monkeypatch, change, message):
    from dse.refine import checkpoint_dir

    spec_file, store = _checkpointed(tmp_path, monkeypatch)
    state = checkpoint_dir(store) / "state.npz"
    before = state.read_bytes()
    args = ["refine", spec_file, "-o", store, *OBJECTIVE_ARGS]
    if change == "margin":
        args += ["--margin", "0.5"]
    elif change == "objectives":
        args = ["refine", spec_file, "-o", store, "--objective", "cost:min"]
    else:
        other = {**GRID, "scenarios": [GRID["scenarios"][0]]}
        spec_file = tmp_path / "other.yaml"
        spec_file.write_text(yaml.safe_dump(other, sort_keys=False))
        args[1] = str(spec_file)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and store in err[0] and message in err[0] and "--overwrite" in err[0], err
    assert state.read_bytes() == before and not (tmp_path / "ref.zarr").exists()  # nothing deleted or written


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_checkpoint_is_refused_never_used(tmp_path, capsys, monkeypatch, damage):
    from dse.refine import checkpoint_dir

    spec_file, store = _checkpointed(tmp_path, monkeypatch)
    state = checkpoint_dir(store) / "state.npz"
    data = state.read_bytes()
    state.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00garbage" * 100, "empty": b""}[damage])
    assert main(["refine", spec_file, "-o", store, *OBJECTIVE_ARGS]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and store in err[0] and "is damaged" in err[0] and "--overwrite" in err[0], err
    assert state.exists()


def test_a_flipped_byte_in_a_checkpoint_is_found(tmp_path, monkeypatch):
    """The zip's CRC-32 of each array catches damage inside the data, not only a cut."""
    from dse.errors import StoreError
    from dse.refine import checkpoint_dir, read_checkpoint, refine_options
    from dse.spec import load_sweep

    spec_file, store = _checkpointed(tmp_path, monkeypatch)
    state = checkpoint_dir(store) / "state.npz"
    data = bytearray(state.read_bytes())
    data[len(data) // 2] ^= 0xFF
    state.write_bytes(bytes(data))
    parsed = load_sweep(spec_file)
    with pytest.raises(StoreError, match="is damaged"):
        read_checkpoint(store, parsed, *refine_options(parsed, OBJECTIVES))


def test_overwrite_starts_over(uninterrupted, tmp_path, capsys, monkeypatch, cluster):
    from dse.refine import checkpoint_dir

    spec_file, store = _checkpointed(tmp_path, monkeypatch, margin=0.5)  # other options: refused without it
    assert (
        main(
            ["refine", spec_file, "-o", store, "--scheduler", cluster.scheduler_address, "--overwrite", *OBJECTIVE_ARGS]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "resuming" not in out and "level 0:" in out
    assert not checkpoint_dir(store).exists()
    datasets = open_results(store)
    assert sum(ds.sizes["design"] for ds in datasets.values()) == uninterrupted.evaluated
    assert {int(ds.refinement_level.min()) for ds in datasets.values()} == {0}
