"""The literature table and user calibration files load, or fail with a one-line error."""

from __future__ import annotations

import pandas as pd
import pytest

from dse.errors import CalibrationError
from dse.literature import (
    DEFAULT_PATH,
    KNOWN_FLAGS,
    NUMERIC_COLUMNS,
    REQUIRED_COLUMNS,
    file_sha256,
    has_flag,
    load_literature,
    parse_flags,
)


@pytest.fixture(scope="module")
def lit() -> pd.DataFrame:
    return load_literature()


def test_shipped_table_loads(lit):
    # docs/literature.md: 325 rows; Li 142, Na 131, K 15, Zn 37
    assert len(lit) == 325
    assert lit["metal"].value_counts().to_dict() == {"Li": 142, "Na": 131, "Zn": 37, "K": 15}
    assert lit["row_id"].is_unique
    assert lit.attrs["sha256"] == file_sha256(DEFAULT_PATH)
    for col in NUMERIC_COLUMNS:
        assert lit[col].dtype == float, col
    assert list(lit["file_line"][:3]) == [2, 3, 4]


def test_every_row_has_provenance(lit):
    for col in ("seed", "source_lines", "metal"):
        assert (lit[col].str.strip() != "").all(), col
    assert set(lit["seed"]) == {"000", "001", "002", "003", "004"}
    assert lit["source_lines"].str.fullmatch(r"\d+[a-z]?(;\d+[a-z]?)*").all()


def test_flags_parse_and_are_known(lit):
    parsed = lit["flags"].map(parse_flags)
    names = {name for flags in parsed for name in flags}
    assert names <= set(KNOWN_FLAGS)
    duplicates = [f["duplicate_of"] for f in parsed if "duplicate_of" in f]
    assert duplicates and set(duplicates) <= set(lit["row_id"])  # targets exist
    assert int(has_flag(lit, "reservoir").sum()) == 6


def test_implied_ce_matches_retention_and_cycles(lit):
    rows = lit.dropna(subset=["retention", "cycles", "implied_ce"])
    implied = 100 * (rows["retention"] / 100) ** (1 / rows["cycles"])
    # implied_ce is stored to 6 significant digits
    assert (abs(implied - rows["implied_ce"]) <= 6e-4).all()


def _write(tmp_path, text: str, name: str = "mine.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_minimal_user_file(tmp_path):
    path = _write(tmp_path, "metal,electrolyte_family,retention,cycles\nLi,ether,80,200\nNa,ether,90,100\n")
    frame = load_literature(path)
    assert list(frame["row_id"]) == ["line2", "line3"]
    assert list(frame["cell_type"]) == ["full", "full"]  # defaults of absent columns
    assert list(frame["coating"]) == ["none", "none"]
    assert frame["ce"].isna().all()


@pytest.mark.parametrize("missing", REQUIRED_COLUMNS)
def test_missing_required_column_is_named(tmp_path, missing):
    cols = [c for c in ("metal", "electrolyte_family", "ce") if c != missing]
    path = _write(tmp_path, ",".join(cols) + "\n" + ",".join("x" for _ in cols) + "\n")
    with pytest.raises(CalibrationError) as err:
        load_literature(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("mine.csv:row 1:") and missing in message


def test_missing_target_columns(tmp_path):
    path = _write(tmp_path, "metal,electrolyte_family,retention\nLi,ether,80\n")
    with pytest.raises(CalibrationError, match=r"ce, or retention and cycles"):
        load_literature(path)


def test_non_numeric_cell_names_row_and_column(tmp_path):
    text = "metal,electrolyte_family,ce,stack_pressure\nLi,ether,99.5,1\nNa,ether,99.9,1 MPa\n"
    with pytest.raises(CalibrationError) as err:
        load_literature(_write(tmp_path, text))
    assert str(err.value) == "mine.csv:row 3, column stack_pressure: '1 MPa' is not a number [MPa]"
    assert err.value.where == "mine.csv:row 3, column stack_pressure"


def test_row_numbers_count_blank_lines_as_in_the_file(tmp_path):
    text = "metal,electrolyte_family,ce\nLi,ether,99\n\nLi,ether,n/a\n"
    with pytest.raises(CalibrationError, match=r"row 4, column ce"):
        load_literature(_write(tmp_path, text))


def test_other_edge_errors(tmp_path):
    with pytest.raises(CalibrationError, match="file not found"):
        load_literature(tmp_path / "absent.csv")
    with pytest.raises(CalibrationError, match="empty file"):
        load_literature(_write(tmp_path, ""))
    with pytest.raises(CalibrationError, match=r"row 2, column metal: empty cell"):
        load_literature(_write(tmp_path, "metal,electrolyte_family,ce\n,ether,99\n"))
    with pytest.raises(CalibrationError, match=r"row 2, column flags: malformed flag"):
        load_literature(_write(tmp_path, "metal,electrolyte_family,ce,flags\nLi,ether,99,:x\n"))
    with pytest.raises(CalibrationError, match=r"row 2: 4 cells but the header has 3"):
        load_literature(_write(tmp_path, "metal,electrolyte_family,ce\nLi,ether,99,1\n"))
