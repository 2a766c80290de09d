"""Measured cells: a folder of cycler files and their design sidecars, read and checked."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dse.errors import CalibrationError, SpecError
from dse.literature import file_sha256

#: design inputs a measured cell must state (everything the CE surrogate and the inventory read)
REQUIRED_KEYS = (
    "metal",
    "cathode",
    "cathode_loading",
    "current_collector",
    "coating",
    "electrolyte",
    "electrolyte_amount",
    "stack_pressure",
    "temperature",
    "charge_rate",
    "discharge_rate",
)
#: sidecar keys that are not design inputs
CELL_META_KEYS = ("cell_mass", "cell_volume")
#: canonical unit of each of them
CELL_META_UNITS = {"cell_mass": "g", "cell_volume": "cm^3"}
#: the folder-wide sidecar
FOLDER_SIDECAR = "cells.yaml"
#: regular cycles averaged for the retention target
TAIL = 5
#: largest precision of a cell row relative to a literature row (module docstring)
CELL_WEIGHT_MAX = 4.0
_S0 = 0.5


@dataclass
class Cell:
    """One measured cell: its file, its design and its cycles."""

    id: str
    path: Path
    sha256: str
    sidecars: dict  # path -> sha256
    design: object  # dse.spec.Design
    data: object  # dse.cycler.CycleData
    cell_mass: float | None = None  # [g]
    cell_volume: float | None = None  # [cm³]

    def measured(self) -> dict:
        """Measured life (cycles to 80 %, censored or not), mean CE and first-cycle energy (per kg, per L)."""
        life, reached = self.data.cycles_to(0.8)
        regular = self.data.regular
        energy = float(regular["discharge_energy"].iloc[0])
        return {
            "measured_life": life,
            "life_reached": reached,
            "measured_ce": float(regular["coulombic_efficiency"].mean()),
            "regular_cycles": len(regular),
            "measured_energy": energy,
            "measured_specific_energy": 1000.0 * energy / self.cell_mass if self.cell_mass else math.nan,
            "measured_energy_density": 1000.0 * energy / self.cell_volume if self.cell_volume else math.nan,
        }


def _cell_id(path: Path) -> str:
    name = path.name
    for suffix in (".bdf.csv.gz", ".bdf.csv", ".bdf.parquet"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def read_sidecars(path: str | Path):
    """The validated design of the cell in ``path`` and its sidecar files.

    Returns
    -------
    design : dse.spec.Design
    sidecars : dict
        Path of each sidecar read → sha256.
    meta : dict
        ``cell_mass`` [g] and ``cell_volume`` [cm³], None where not given.

    Raises
    ------
    SpecError
        No sidecar, a missing required key, a misspelt key, a value out of
        range or an unknown material (each naming the file and the key).
    """
    from dse.spec import DESIGN_META_KEYS, parse_design, read_yaml, suggest
    from dse.units import to_canonical
    from dse.vocabulary import INPUTS

    path = Path(path)
    cell = _cell_id(path)
    folder_file = path.parent / FOLDER_SIDECAR
    own = [p for p in (path.parent / f"{cell}.yaml", path.with_name(path.name + ".yaml")) if p.exists()]
    merged: dict = {}
    sidecars: dict = {}
    for file in ([folder_file] if folder_file.exists() else []) + own[:1]:
        data = read_yaml(file, "cell sidecar")
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise SpecError("expected a mapping of design keys", str(file))
        merged.update(data)
        sidecars[str(file)] = file_sha256(file)
    if not sidecars:
        raise SpecError(
            f"no design for this cell: add {cell}.yaml next to it or {FOLDER_SIDECAR} in its folder", str(path)
        )
    where = str(list(sidecars)[-1])
    known = [*INPUTS, *DESIGN_META_KEYS, *CELL_META_KEYS]
    unknown = [str(k) for k in merged if k not in known]
    if unknown:
        raise SpecError(f"unknown key {unknown[0]!r}" + suggest(unknown[0], known), where)
    missing = [k for k in REQUIRED_KEYS if k not in merged]
    if missing:
        raise SpecError(f"missing key {missing[0]!r} (a measured cell states {', '.join(REQUIRED_KEYS)})", where)
    meta = {}
    for key, unit in CELL_META_UNITS.items():
        value = merged.pop(key, None)
        meta[key] = None if value is None else to_canonical(value, unit, where=f"{where}: {key}")
        if meta[key] is not None and not (math.isfinite(meta[key]) and meta[key] > 0):
            raise SpecError(f"{key} must be a positive {unit} value, got {value!r}", where)
    merged.setdefault("name", cell)
    design = parse_design(merged, source=where, base_dir=path.parent)
    return design, sidecars, meta


def load_cells(folder: str | Path) -> tuple[list[Cell], list[tuple[str, str]]]:
    """Every BDF file of a folder with its design; files that cannot be used, with the reason.

    Sidecar errors are raised (the description is the user's to fix); data
    problems exclude the one cell (:meth:`dse.cycler.CycleData.problem`).

    Raises
    ------
    CalibrationError
        The folder does not exist or holds no BDF file.
    SpecError
        A sidecar is missing or invalid.
    """
    from dse.cycler import BDF_SUFFIXES, is_bdf, load_cycles

    folder = Path(folder)
    if not folder.is_dir():
        raise CalibrationError("not a folder of cells", where=str(folder))
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_bdf(p))
    if not files:
        raise CalibrationError(f"no BDF file ({', '.join(BDF_SUFFIXES)}) in the folder", where=str(folder))
    cells, excluded = [], []
    for path in files:
        design, sidecars, meta = read_sidecars(path)
        try:
            data = load_cycles(path)
        except CalibrationError as exc:
            excluded.append((path.name, exc.message))
            continue
        problem = data.problem()
        if problem:
            excluded.append((path.name, problem))
            continue
        cells.append(Cell(_cell_id(path), path, data.sha256, sidecars, design, data, **meta))
    return cells, excluded
