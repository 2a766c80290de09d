"""Your own cells: sidecars, the fit with the literature as prior, leave-one-cell-out (issue 23, points 2-3, 5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dse.cells import (
    calibrate_cells,
    cells_table,
    read_sidecars,
    surrogate_log_loss,
    synthetic_cell,
)
from dse.cli import main
from dse.coefficients import load_coefficients
from dse.errors import SpecError

SIDECAR = """metal: Li
cathode: NMC811
cathode_loading: 3 mAh/cm^2
current_collector: Cu
coating: none
electrolyte: Li-dual-salt
electrolyte_amount: 10 g/Ah
stack_pressure: 0.2 MPa
temperature: 25 degC
charge_rate: 0.2 C
discharge_rate: 0.5 C
"""


def folder_of(tmp_path: Path, n: int, shift: float, cycles: int = 150, sidecar: str = SIDECAR) -> Path:
    """``n`` cells of one design whose true ln(1 - CE) is the shipped surrogate's + ``shift``."""
    (tmp_path / "cells.yaml").write_text(sidecar)
    design, _, _ = read_sidecars(tmp_path / "x.bdf.csv")
    truth = surrogate_log_loss(design, load_coefficients()) + shift
    for k in range(n):
        synthetic_cell(tmp_path / f"c{k:02d}.bdf.csv.gz", design, truth, cycles, seed=k)
    return tmp_path


@pytest.mark.parametrize(
    ("edit", "expect"),
    [
        (("stack_pressure: 0.2 MPa\n", ""), "missing key 'stack_pressure'"),
        (("temperature:", "temprature:"), "unknown key 'temprature'"),
        (("cathode: NMC811", "cathode: NMC999"), "NMC999"),
        (("coating: none", "coating: unobtainium"), "unobtainium"),
    ],
)
def test_sidecar_errors_name_the_file_and_key(tmp_path, edit, expect):
    (tmp_path / "c.yaml").write_text(SIDECAR.replace(*edit))
    with pytest.raises(SpecError, match=expect) as err:
        read_sidecars(tmp_path / "c.bdf.csv")
    assert "c.yaml" in str(err.value)


def test_cell_sidecar_wins_over_the_folder_one(tmp_path):
    (tmp_path / "cells.yaml").write_text(SIDECAR)
    (tmp_path / "c.yaml").write_text("temperature: 45 degC\ncell_mass: 3.1 g\ncell_volume: 1.2 mL\n")
    design, sidecars, meta = read_sidecars(tmp_path / "c.bdf.csv")
    assert design.inputs["temperature"] == 45.0 and len(sidecars) == 2
    assert meta["cell_mass"] == pytest.approx(3.1) and meta["cell_volume"] == pytest.approx(1.2)  # g, cm³
    for bad in ("cell_mass: -3 g", "cell_volume: 0 cm^3", "cell_volume: 2 g"):
        (tmp_path / "c.yaml").write_text(f"temperature: 45 degC\n{bad}\n")
        with pytest.raises(SpecError, match=bad.split(":")[0]) as err:
            read_sidecars(tmp_path / "c.bdf.csv")
        assert "c.yaml" in str(err.value)
    (tmp_path / "c.yaml").write_text("temperature: 45 degC\n")
    with pytest.raises(SpecError, match="no design for this cell"):
        read_sidecars(tmp_path / "sub" / "d.bdf.csv")


def test_ten_cells_move_their_own_group_and_leave_another_near_its_prior(tmp_path):
    shift = 1.0
    result = calibrate_cells(folder_of(tmp_path, 10, shift), loco=False)
    before, after = result.before, result.coefficients
    names = list(before.names)
    own = names.index("Li/dual-salt")
    moved = after.mean[own] - before.mean[own]
    assert 0.3 * shift < moved < 1.5 * shift, moved
    sd = np.sqrt(np.diag(np.asarray(before.covariance)))
    other = names.index("Na/ether")
    assert abs(after.mean[other] - before.mean[other]) < sd[other]
    # the measured CE is closer after the fit than before, for every cell
    c = result.cells
    assert np.all(np.abs(c["ce_after"] - c["measured_ce"]) < np.abs(c["ce_before"] - c["measured_ce"]))
    assert "Li/dual-salt" in result.report_text()
    assert set(after.provenance["cell_files_sha256"]) == {f"c{k:02d}.bdf.csv.gz" for k in range(10)} | {"cells.yaml"}


def test_leave_one_cell_out_predicts_each_cell_without_it(tmp_path):
    result = calibrate_cells(folder_of(tmp_path, 3, 0.8, cycles=120))
    c = result.cells
    assert np.all(np.isfinite(c["life_loco"]))
    # without the cell the other two still pull the prediction from 'before' towards the measurement
    assert np.all(np.abs(np.log(c["life_loco"] / c["life_before"])) > 0.05)
    assert np.all(np.abs(c["ce_loco"] - c["measured_ce"]) < np.abs(c["ce_before"] - c["measured_ce"]))
    assert "leave-one-cell-out" in result.report_text()


def test_cells_table_for_an_overlay(tmp_path):
    table = cells_table(folder_of(tmp_path, 2, 0.0, cycles=60))
    assert list(table["cell"]) == ["c00", "c01"]
    assert {"cathode", "measured_life", "measured_energy", "cycle_life", "cycle_life_p10", "cycle_life_p90"} <= set(
        table.columns
    )
    assert np.all(table["cycle_life_p10"] <= table["cycle_life_p90"])


def test_bad_cells_are_excluded_and_the_rest_fitted(tmp_path, capsys):
    folder = folder_of(tmp_path, 2, 0.5, cycles=80)
    (folder / "text.bdf.csv").write_text("hello,world\n1,2\n")
    design, _, _ = read_sidecars(folder / "few.bdf.csv")
    synthetic_cell(folder / "few.bdf.csv", design, -5.0, 3, formation=0)
    rc = main(["calibrate", "--cells", str(folder), "-o", str(tmp_path / "c.yaml")])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "excluded text.bdf.csv: not a BDF file: no 'Test Time / s'" in out
    assert "excluded few.bdf.csv: fewer than 5 regular cycles (3)" in out
    assert "cells used: 2; excluded: 2" in out
    assert (tmp_path / "c.yaml").exists()


@pytest.mark.slow  # an embedded LocalCluster sweep twice (~50 s on 2 cores)
def test_sweep_records_your_coefficients_and_refuses_to_mix_them(tmp_path, capsys):
    import zarr

    base = load_coefficients()
    mine = base.model_copy(update={"mean": [m + 0.5 for m in base.mean]})
    mine.save(tmp_path / "mine.yaml")
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: t\nscenarios:\n  - name: s\n    inputs:\n      cathode_loading: [2, 3, 4]\n")
    store = tmp_path / "out.zarr"
    rc = main(
        [
            "sweep",
            str(spec),
            "-o",
            str(store),
            "--coefficients",
            str(tmp_path / "mine.yaml"),
            "--quiet",
            "--workers",
            "1",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    attrs = zarr.open_group(str(store), mode="r").attrs
    assert attrs["dse_ce_coefficients_hash"] == mine.hash() != base.hash()
    capsys.readouterr()
    rc = main(["sweep", str(spec), "-o", str(store), "--resume", "--quiet", "--workers", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1, err
    assert f"other CE coefficients (sha256 {mine.hash()[:12]}, this sweep uses {base.hash()[:12]})" in err[0]
    (tmp_path / "bad.yaml").write_text("mean: [1, 2\n")
    rc = main(["sweep", str(spec), "-o", str(tmp_path / "b.zarr"), "--coefficients", str(tmp_path / "bad.yaml")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "bad.yaml" in err[0], err
    assert not (tmp_path / "b.zarr").exists()
