"""``dse pareto`` on a real store: exact front across scenarios, stored, exported."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from dse.cli import main
from dse.store import open_results
from dse.store.table import design_table
from dse.store.validate import validate_store


def naive_front(values: np.ndarray, senses) -> np.ndarray:
    v = values * np.array([1 if s == "max" else -1 for s in senses])
    return np.array([not np.any(np.all(v >= row, axis=1) & np.any(v > row, axis=1)) for row in v])


@pytest.fixture()
def store(small_store, tmp_path):
    path = tmp_path / "copy.zarr"
    shutil.copytree(small_store, path)
    return str(path)


def test_front_is_exact_across_scenarios_and_stored(store, tmp_path, capsys):
    csv = tmp_path / "front.csv"
    pq = tmp_path / "front.parquet"
    assert main(["pareto", store, "--csv", str(csv), "--parquet", str(pq)]) == 0
    out = capsys.readouterr().out
    assert "designs on the Pareto front" in out and "knee" in out
    table = design_table(store, feasible_only=True)
    objectives = {"specific_energy": "max", "energy_density": "max", "cycle_life": "max", "cost": "min"}
    expect = table[naive_front(table[list(objectives)].to_numpy(float), list(objectives.values()))]
    front = pd.read_csv(csv)
    assert sorted(zip(front.scenario, front.design, strict=False)) == sorted(
        zip(expect.scenario, expect.design, strict=False)
    )
    assert len(pd.read_parquet(pq)) == len(front)
    # stored next to the outputs, with the objectives in its attributes, and the store stays valid
    stored = open_results(store)
    marked = sum(int(ds.pareto_front.sum()) for ds in stored.values())
    assert marked == len(front)
    assert "cycle_life:max" in stored["li"].pareto_front.attrs["dse_objectives"]
    assert validate_store(store) == []
    assert xr.open_zarr(store, group="li").attrs["dse_kind"] == "grid"


def test_objectives_and_filter(store, capsys):
    code = main(
        [
            "pareto",
            store,
            "--objective",
            "energy_density:max",
            "--objective",
            "cycle_life:max",
            "--where",
            "cathode == 'NMC811' and stack_pressure <= 1",
            "--no-store",
            "--best",
            "cycle_life",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "where cathode == 'NMC811'" in out and "best cycle_life" in out
    assert "pareto_front" not in open_results(store)["li"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--objective", "energy_densty:max"], "did you mean 'energy_density'"),
        (["--objective", "energy_density:up"], "NAME:max or NAME:min"),
        (["--where", "cathode = 'NMC811'"], "does not parse"),
        (["--where", "cathod == 'NMC811'"], "did you mean 'cathode'"),
        (["--where", "__import__('os').system('true')"], "unsupported expression"),
    ],
)
def test_bad_input_is_one_line_error(store, capsys, args, message):
    assert main(["pareto", store, "--no-store", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_objective_without_sense_is_refused(store, capsys):
    assert main(["pareto", store, "--objective", "swelling", "--no-store"]) == 2
    assert "NAME:max or NAME:min" in capsys.readouterr().err


def test_sensitivity_cli(small_store, tmp_path, capsys):
    png = tmp_path / "s.png"
    assert main(["sensitivity", small_store, "--output", "specific_energy", "--bootstrap", "20", "-o", str(png)]) == 0
    out = capsys.readouterr().out
    assert "li: main_effect" in out and "na: binned" in out and "cathode_loading" in out
    assert png.stat().st_size > 10_000
    assert main(["sensitivity", small_store, "--scenario", "lii"]) == 2
    assert "did you mean 'li'" in capsys.readouterr().err
