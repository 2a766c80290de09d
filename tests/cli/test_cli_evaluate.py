"""``dse evaluate`` and ``dse materials`` through the CLI, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dse.cli import main
from tests.conftest import EXAMPLES


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", range(1, 8))
def test_evaluate_seed001_cases_json(capsys, case):
    code, out, err = run(capsys, "evaluate", str(EXAMPLES / "seed001" / f"case{case}.yaml"), "--json")
    assert code == 0, err
    data = json.loads(out)
    for name in (
        "specific_energy",
        "energy_density",
        "specific_energy_stack",
        "energy_density_stack",
        "plated_thickness",
        "swelling",
        "cycle_life",
        "cost",
        "feasible",
    ):
        assert name in data["outputs"]
    assert data["outputs"]["specific_energy"]["units"] == "Wh/kg"
    mass = {k: v for k, v in data["breakdown"]["mass"].items() if k not in ("units", "basis")}
    assert sum(mass.values()) == pytest.approx(data["outputs"]["unit_mass"]["value"], rel=1e-12)
    assert data["provenance"]["dse_catalogue_hash"]


def test_evaluate_table_shows_breakdown_and_feasibility(capsys):
    code, out, _ = run(capsys, "evaluate", str(EXAMPLES / "nmc811_dual_salt.yaml"), "--uncertainty")
    assert code == 0
    for word in ("specific_energy", "energy_density", "cycle_life_p10", "cathode", "negative collector", "feasible"):
        assert word in out


def test_evaluate_curve_png(tmp_path, capsys):
    png = tmp_path / "curve.png"
    code, out, _ = run(capsys, "evaluate", str(EXAMPLES / "nmc811_dual_salt.yaml"), "--curve", str(png))
    assert code == 0 and png.stat().st_size > 5000
    code, out, _ = run(capsys, "evaluate", str(EXAMPLES / "nmc811_dual_salt.yaml"), "--curve", "-")
    assert "retention" in out


def test_materials_list_and_show(capsys):
    code, out, _ = run(capsys, "materials", "list")
    assert code == 0 and "NMC811" in out and "Li-LPSCl" in out and "pouch" in out
    code, out, _ = run(capsys, "materials", "show", "NMC811")
    assert code == 0 and "specific_capacity" in out and "seed 001" in out
    code, out, err = run(capsys, "materials", "show", "NMC812")
    assert code == 2 and "did you mean 'NMC811'" in err


BAD = [
    ("cathode_loading: [3, 4\n", "malformed YAML at line"),
    ("cathode: NMC812\n", "did you mean 'NMC811'"),
    ("current_collector_thickness: 8 kg\n", "current_collector_thickness"),
    ("separator_thickness: -5 um\n", "separator_thickness"),
    ("cathode_porosity: 1.0\n", "cathode_porosity"),
    ("cathod_loading: 3\n", "did you mean 'cathode_loading'"),
    ("- just\n- a list\n", "expected a mapping"),
    ("overrides:\n  NMC811:\n    specific_capacity: 8 kg\n", "overrides.NMC811.specific_capacity"),
]


@pytest.mark.parametrize("text, message", BAD, ids=[m for _, m in BAD])
def test_bad_design_one_line_error(tmp_path, capsys, text, message):
    f = tmp_path / "design.yaml"
    f.write_text(text)
    code, out, err = run(capsys, "evaluate", str(f))
    assert code == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1, err


def test_missing_design_file(capsys, tmp_path):
    code, _, err = run(capsys, "evaluate", str(tmp_path / "nope.yaml"))
    assert code == 2 and "not found" in err


def test_console_script_exit_code(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("cathode_porosity: 2\n")
    proc = subprocess.run([sys.executable, "-m", "dse.cli", "evaluate", str(f)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "cathode_porosity" in proc.stderr and "Traceback" not in proc.stderr


def test_design_names_its_coefficient_file(tmp_path, capsys):
    import yaml

    from dse.coefficients import load_coefficients

    coeffs = load_coefficients().model_copy(update={"formation_loss_multiplier": 40.0})
    coeffs.save(tmp_path / "coeffs.yaml")
    design = yaml.safe_load((EXAMPLES / "nmc811_dual_salt.yaml").read_text())
    (tmp_path / "default.yaml").write_text(yaml.safe_dump(design))
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump({**design, "ce_coefficients": "coeffs.yaml"}))
    results = []
    for name in ("default.yaml", "mine.yaml"):
        assert main(["evaluate", str(tmp_path / name), "--json"]) == 0
        results.append(json.loads(capsys.readouterr().out)["outputs"])
    assert results[1]["formation_loss"]["value"] > 2 * results[0]["formation_loss"]["value"]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**design, "ce_coefficients": "nope.yaml"}))
    assert main(["evaluate", str(tmp_path / "bad.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err
