"""Filter expressions: the whitelist grammar, broadcasting on grids, laziness and errors."""

from __future__ import annotations

import dask
import numpy as np
import pytest
import xarray as xr

from dse.errors import SpecError
from dse.filters import parse_where, where_mask


@pytest.fixture
def grid() -> xr.Dataset:
    rng = np.random.default_rng(0)
    coords = {
        "cathode": ["LFP", "NMC622", "NMC811"],
        "cathode_loading": [1.0, 2.0, 4.0, 6.0],
        "stack_pressure": [0.0, 0.5, 1.0, 5.0, 10.0],
    }
    shape = (3, 4, 5)
    return xr.Dataset(
        {
            "specific_energy": (tuple(coords), rng.uniform(200, 500, shape), {"dse_sense": "max"}),
            "feasible": (tuple(coords), rng.random(shape) < 0.7),
        },
        coords=coords,
    )


@pytest.fixture
def designs() -> xr.Dataset:
    rng = np.random.default_rng(1)
    n = 200
    return xr.Dataset(
        {
            "cathode": ("design", rng.choice(["LFP", "NMC811", "NCA"], n)),
            "stack_pressure": ("design", rng.uniform(0, 5, n)),
            "cost": ("design", rng.uniform(50, 150, n)),
            "feasible": ("design", rng.random(n) < 0.5),
        }
    )


def _grid_values(ds, name):
    return xr.broadcast(ds[name], ds["specific_energy"])[0].transpose(*ds["specific_energy"].dims).values


CASES = [
    ("cathode == 'NMC811' and stack_pressure <= 1", lambda v: (v["cathode"] == "NMC811") & (v["stack_pressure"] <= 1)),
    ("cathode in ['LFP', 'NMC622'] or cathode_loading > 3", lambda v: np.isin(v["cathode"], ["LFP", "NMC622"]) | (v["cathode_loading"] > 3)),
    ("cathode not in ('LFP',)", lambda v: v["cathode"] != "LFP"),
    ("0.5 <= stack_pressure < 5", lambda v: (v["stack_pressure"] >= 0.5) & (v["stack_pressure"] < 5)),
    ("not (specific_energy > 300) and feasible", lambda v: ~(v["specific_energy"] > 300) & v["feasible"]),
    ("stack_pressure != 0 and -1 < cathode_loading", lambda v: v["stack_pressure"] != 0),
    ("specific_energy > 100 * 0 + 350" if False else "specific_energy >= 350", lambda v: v["specific_energy"] >= 350),
    ("feasible == True", lambda v: v["feasible"]),
    ("stack_pressure in [0, 10]", lambda v: np.isin(v["stack_pressure"], [0, 10])),
    ("cathode != 'LFP' and (stack_pressure > 1 or cathode_loading == 1)", lambda v: (v["cathode"] != "LFP") & ((v["stack_pressure"] > 1) | (v["cathode_loading"] == 1))),
]  # fmt: skip


@pytest.mark.parametrize("expr,expected", CASES)
def test_valid_expressions_on_a_grid(grid, expr, expected):
    names = ["cathode", "cathode_loading", "stack_pressure", "specific_energy", "feasible"]
    values = {n: _grid_values(grid, n) for n in names}
    got = where_mask(grid, expr)
    assert got.dtype == bool and got.name == "where"
    full = xr.broadcast(got, grid["specific_energy"])[0].transpose(*grid["specific_energy"].dims)
    np.testing.assert_array_equal(full.values, expected(values))


def test_coordinates_broadcast_only_over_the_names_used(grid):
    got = where_mask(grid, "cathode == 'NMC811' and stack_pressure <= 1")
    assert set(got.dims) == {"cathode", "stack_pressure"}
    assert got.sel(cathode="NMC811", stack_pressure=1.0).item()
    assert not got.sel(cathode="LFP", stack_pressure=0.0).item()


def test_designs_in_memory_and_lazy(designs):
    expr = "cathode in ['NMC811', 'NCA'] and stack_pressure < 2.5 and feasible"
    expect = (
        np.isin(designs["cathode"].values, ["NMC811", "NCA"])
        & (designs["stack_pressure"].values < 2.5)
        & designs["feasible"].values
    )
    np.testing.assert_array_equal(where_mask(designs, expr).values, expect)
    lazy = designs.chunk({"design": 32})

    def _raise(*args, **kwargs):
        raise AssertionError("computed while building the mask")

    with dask.config.set(scheduler=_raise):
        got = where_mask(lazy, expr)
    assert isinstance(got.data, dask.array.Array)
    np.testing.assert_array_equal(got.values, expect)


def test_parse_where_on_plain_arrays():
    cond = parse_where("a > 1 and not b", ["a", "b"])
    assert cond.names == ("a", "b")
    got = cond({"a": np.array([0, 2, 3]), "b": np.array([False, False, True])})
    assert got.tolist() == [False, True, False]
    assert parse_where("1 < 2", []).__call__({}) is True


@pytest.mark.parametrize(
    "expr,match",
    [
        (
            "cathod == 'NMC811'",
            r"'cathod' names no input or output at column 1; did you mean 'cathode'\?",
        ),
        (
            "stack_pressure <= 1 and pressure > 2",
            "'pressure' names no input or output at column 25",
        ),
        ("__import__('os').system('ls')", "unsupported expression .* at column 1"),
        ("stack_pressure.sum() > 1", "unsupported expression"),
        ("open('/etc/passwd')", "unsupported expression"),
        (
            "cathode == 'NMC811' and len(cathode) > 1",
            "unsupported expression 'len\\(cathode\\)' .* at column 25",
        ),
        ("stack_pressure ** 2 > 2", "unsupported expression 'stack_pressure \\*\\* 2'"),
        ("[x for x in cathode]", "unsupported expression"),
        ("lambda: 1", "unsupported expression"),
        ("stack_pressure[0] > 1", "unsupported expression"),
        ("stack_pressure > 1 if True else False", "unsupported expression"),
        ("stack_pressure in cathode", "'in' needs a list of constants"),
        ("stack_pressure in [1, cathode]", "unsupported expression 'cathode'"),
        ("stack_pressure", "'stack_pressure' is not a condition"),
        ("stack_pressure == None", "unsupported expression 'None'"),
        ("cathode < 'NMC'", "text compares only with"),
        ("cathode == 3", "compares text with a number"),
        ("stack_pressure == 'high'", "compares text with a number"),
        ("cathode == 'NMC81'", r"no cathode is 'NMC81' at column 12; did you mean 'NMC811'\?"),
        ("cathode ==", "does not parse: .* at column"),
        ("stack_pressure <= 1 and", r"invalid syntax at column 24 \(end of input\)"),
        ("(stack_pressure <= 1", "does not parse: .*column"),
        ("stack_pressure = 1", "does not parse"),
        ("", "is empty"),
        ("x\x00", "does not parse"),
    ],
)
def test_errors_name_the_problem_and_the_column(grid, expr, match):
    with pytest.raises(SpecError, match=match) as info:
        where_mask(grid, expr)
    assert str(info.value).startswith(f"where {expr.strip()!r}") or not expr.strip()
    assert "\n" not in str(info.value)


def test_error_columns_count_characters():
    with pytest.raises(SpecError, match="'bad' names no input or output at column 18"):
        parse_where("name == 'µµµ' or bad", ["name"])


def test_syntax_error_names_its_column():
    with pytest.raises(SpecError) as info:
        parse_where("a > 1 and and b", ["a", "b"])
    assert "does not parse" in str(info.value) and "column 11" in str(info.value)


def test_where_is_usable_by_pareto_mask(grid):
    from dse.pareto import pareto_mask

    mask = pareto_mask(grid, where="cathode == 'NMC811'")
    assert not mask.sel(cathode=["LFP", "NMC622"]).values.any()
    assert mask.sel(cathode="NMC811").values.any()
