"""The materials catalogue: completeness, citations, overrides, bad entries."""

from __future__ import annotations

import shutil

import pytest

from dse.errors import CatalogueError, SpecError
from dse.materials.catalogue import SEEDS, load_catalogue
from dse.materials.schema import SEED_SOURCE
from tests.conftest import ROOT

REQUIRED = {
    "metal": ["Li", "Na", "K"],
    "cathode": [
        "NMC622",
        "NMC811",
        "NMC532",
        "NCA",
        "LFP",
        "LMFP",
        "LNMO",
        "LCO",
        "NVP",
        "NVPF",
        "P2-layered",
        "O3-layered",
        "NaPW",
        "KPW",
        "KVPO4F",
    ],
    "collector": ["Cu", "Al", "SUS", "Ni", "Cu-PET"],
    "coating": ["none", "Ag", "Au", "Zn", "Sn", "In", "Mg", "Bi", "Sb", "C", "Ag-C"],
    "electrolyte": [
        "Li-carbonate",
        "Li-dual-salt",
        "Li-ether",
        "Li-HCE",
        "Li-LHCE",
        "Li-ionic-liquid",
        "Na-ether",
        "Na-carbonate",
        "Na-diglyme",
        "K-ether",
        "K-carbonate",
        "Li-LPSCl",
        "Li-LLZO",
        "Li-halide",
        "Li-PEO",
        "Li-LiPON",
        "Na3PS4",
        "Na-NZSP",
        "Na-beta-alumina",
        "Na-borohydride",
    ],
    "separator": ["PE", "PP", "trilayer"],
    "packaging": ["stack", "pouch"],
    "anode": ["none", "graphite"],
}
SEED_LINES = (
    {s: sum(1 for _ in next((ROOT.parent / "shared" / "seeds").glob(f"{s}_*.txt")).open()) for s in SEEDS}
    if (ROOT.parent / "shared" / "seeds").exists()
    else {}
)


def test_required_entries_present():
    cat = load_catalogue()
    for kind, ids in REQUIRED.items():
        missing = set(ids) - set(cat.ids(kind))
        assert not missing, f"{kind}: {missing}"


def test_every_value_is_cited_and_seed_lines_exist():
    cat = load_catalogue()
    n = 0
    for kind, entries in cat.entries.items():
        for e in entries.values():
            for prop, c in e.cited().items():
                n += 1
                assert c.source, f"{kind}/{e.id}.{prop}"
                m = SEED_SOURCE.match(c.source)
                if m and SEED_LINES:
                    for part in m["lines"].replace("L", "").replace("–", "-").split(";"):
                        line = int(part.strip().split("-")[0])
                        assert 1 <= line <= SEED_LINES[m["seed"]], f"{kind}/{e.id}.{prop}: {c.source}"
    assert n > 300


def test_solid_electrolytes_carry_ccd_and_liquids_do_not_need_it():
    cat = load_catalogue()
    for e in cat.entries["electrolyte"].values():
        if e.state == "solid":
            assert e.critical_current_density is not None and e.min_stack_pressure is not None


def test_override_changes_only_the_named_property_and_keeps_the_hash_honest():
    cat = load_catalogue()
    new = cat.with_overrides({"NMC811": {"specific_capacity": "210 mAh/g"}})
    assert new.get("cathode", "NMC811").specific_capacity.value == 210.0
    assert new.get("cathode", "NMC811").average_voltage == cat.get("cathode", "NMC811").average_voltage
    assert new.hash() != cat.hash()
    assert cat.get("cathode", "NMC811").specific_capacity.value != 210.0  # original untouched


@pytest.mark.parametrize(
    "override, message",
    [
        ({"NMC8111": {"specific_capacity": 1}}, "did you mean 'NMC811'"),
        ({"NMC811": {"specfic_capacity": 1}}, "did you mean 'specific_capacity'"),
        ({"NMC811": {"first_cycle_efficiency": 1.5}}, "outside"),
        ({"none": {"price": 1}}, "ambiguous"),
    ],
)
def test_bad_overrides_raise_one_line(override, message):
    with pytest.raises(CatalogueError, match=message) as info:
        load_catalogue().with_overrides(override)
    assert "\n" not in str(info.value)


def test_wrong_unit_in_override():
    with pytest.raises(SpecError, match="expected a specific capacity"):
        load_catalogue().with_overrides({"NMC811": {"specific_capacity": "8 kg"}})


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.replace('source: "seed-001:L52"', 'source: "nowhere-2020"'), "does not resolve"),
        (lambda t: t.replace("density:", "densty:", 1), "unknown field"),
        (lambda t: t.replace("8.96 g/cm^3", "8.96 kg"), "density"),
        (lambda t: t + "\n  - [broken", "malformed YAML"),
    ],
)
def test_broken_catalogue_file_is_rejected_with_its_path(tmp_path, edit, message):
    root = tmp_path / "data"
    shutil.copytree(load_catalogue.__globals__["DATA_DIR"], root)
    cu = root / "collectors" / "Cu.yaml"
    cu.write_text(edit(cu.read_text()))
    with pytest.raises((CatalogueError, SpecError), match=message) as info:
        load_catalogue(root)
    assert "collectors/Cu.yaml" in str(info.value) or "Cu" in str(info.value)
