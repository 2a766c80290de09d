"""Damaged stores: every kind of chunk damage is named in one line, and ``--resume`` brings the numbers back.

One small two-scenario store (224 designs, chunks of 32) is written once on
the session's LocalCluster; each test damages a copy of it the way a disk,
a sync tool or a person does (bytes flipped, chunk deleted, truncated, a
directory or a symbolic link in its place) and checks what the commands say
and, after ``dse sweep --resume``, that every array equals the undamaged one.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
import zarr

from dse.cli import main

pytestmark = pytest.mark.cluster

SPEC = {
    "name": "integrity",
    "chunk_size": 32,
    "scenarios": [
        {
            "name": "li",
            "inputs": {
                "metal": "Li",
                "cathode": ["NMC811", "LFP"],
                "electrolyte": "Li-dual-salt",
                "cathode_loading": {"linspace": ["2 mAh/cm^2", "7 mAh/cm^2", 8]},
                "stack_pressure": [0.0, 1.0, 3.0],
                "temperature": [25, 60],
            },
        },
        {
            "name": "na",
            "sampler": {"method": "sobol", "n": 128, "seed": 2},
            "inputs": {
                "metal": "Na",
                "cathode": ["NVP", "NaPW"],
                "electrolyte": "Na-diglyme",
                "current_collector": "Al",
                "cathode_loading": {"range": [1, 5]},
                "stack_pressure": {"range": [0, 2]},
            },
        },
    ],
}


def cli(*args: str) -> tuple[int, str, str]:
    """``dse ARGS`` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "spec.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    return path


@pytest.fixture(scope="module")
def pristine(spec_file, cluster) -> Path:
    """The undamaged store (never modified by a test)."""
    out = spec_file.parent / "pristine.zarr"
    code, _, err = cli("sweep", str(spec_file), "-o", str(out), "--scheduler", cluster.scheduler_address, "--quiet")
    assert code == 0, err
    return out


@pytest.fixture
def damaged_copy(pristine, tmp_path) -> Path:
    copy = tmp_path / "store.zarr"
    shutil.copytree(pristine, copy, symlinks=True)
    return copy


def arrays(store: Path) -> dict[str, np.ndarray]:
    """Every array of a store (completion records and coordinates included), read with plain zarr."""
    out = {}

    def walk(group, prefix: str) -> None:
        for name, arr in group.arrays():
            out[f"{prefix}{name}"] = np.asarray(arr[...])
        for name, sub in group.groups():
            walk(sub, f"{prefix}{name}/")

    walk(zarr.open_group(str(store), mode="r", zarr_format=3), "")
    return out


def assert_same_arrays(store: Path, reference: Path) -> None:
    got, want = arrays(store), arrays(reference)
    assert sorted(got) == sorted(want)
    for name, value in want.items():
        if value.dtype.kind == "f":
            assert np.array_equal(got[name], value, equal_nan=True), name
        else:
            assert np.array_equal(got[name], value), name


def last_chunk(store: Path, scenario: str, variable: str) -> Path:
    """The last chunk file of a variable (not the first: the plain validation reads that one)."""
    files = sorted(p for p in (store / scenario / variable / "c").rglob("*") if p.is_file())
    assert len(files) > 1
    return files[-1]


def flip(chunk: Path) -> None:
    data = bytearray(chunk.read_bytes())
    for offset in (3, len(data) // 2, len(data) - 9):
        data[offset] ^= 0xA5
    chunk.write_bytes(bytes(data))


def delete(chunk: Path) -> None:
    chunk.unlink()


def truncate(chunk: Path) -> None:
    chunk.write_bytes(chunk.read_bytes()[: len(chunk.read_bytes()) // 2])


def directory(chunk: Path) -> None:
    chunk.unlink()
    chunk.mkdir()


def symlink(chunk: Path) -> None:
    """A link to the same chunk of another float32 output: bytes with a valid checksum, the wrong numbers."""
    top = next(p for p in chunk.parents if p.name == "c")
    variable = top.parent
    other = variable.parent / ("energy_density" if variable.name != "energy_density" else "cost")
    chunk.unlink()
    chunk.symlink_to(other / "c" / chunk.relative_to(top))


DAMAGE: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # kind: (damage, scenario, variable)
    "flipped bytes": (flip, "li", "cycle_life"),
    "deleted chunk": (delete, "na", "cost"),
    "truncated chunk": (truncate, "na", "energy_density"),
    "directory in place": (directory, "li", "cost"),
    "symlink in place": (symlink, "li", "cycle_life"),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damage_is_named_refused_and_repaired(kind, damaged_copy, pristine, spec_file, cluster):
    damage, scenario, variable = DAMAGE[kind]
    chunk = last_chunk(damaged_copy, scenario, variable)
    key = f"{variable}/" + chunk.relative_to(damaged_copy / scenario / variable).as_posix()
    damage(chunk)
    store = str(damaged_copy)

    code, _, err = cli("validate", store, "--full")
    assert code == 1
    named = [line for line in err.splitlines() if f"chunk {key} of scenario '{scenario}' is damaged" in line]
    assert len(named) == 1, err
    assert "--resume" in named[0]

    code, out, err = cli("pareto", store)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert f"chunk {key} of scenario '{scenario}'" in lines[0]
    assert "Pareto front" not in out

    code, out, err = cli(
        "sweep", str(spec_file), "-o", store, "--resume", "--scheduler", cluster.scheduler_address, "--quiet"
    )
    assert code == 0, err
    assert "1 damaged blocks re-evaluated" in out
    assert chunk.is_file() and not chunk.is_symlink()
    assert_same_arrays(damaged_copy, pristine)
    code, _, err = cli("validate", store, "--full")
    assert code == 0, err


def test_plain_validate_reads_metadata_only_and_full_reads_every_chunk(damaged_copy):
    flip(last_chunk(damaged_copy, "li", "cost"))
    assert cli("validate", str(damaged_copy))[0] == 0
    code, _, err = cli("validate", str(damaged_copy), "--full")
    assert code == 1 and "chunk cost/c/" in err


def test_every_kind_of_damage_is_listed_one_line_each(damaged_copy):
    targets = [(kind, *DAMAGE[kind][1:]) for kind in DAMAGE]
    seen = set()
    keys = []
    for kind, scenario, variable in targets:
        variable = variable if (scenario, variable) not in seen else "specific_energy"
        seen.add((scenario, variable))
        chunk = last_chunk(damaged_copy, scenario, variable)
        keys.append((scenario, f"{variable}/" + chunk.relative_to(damaged_copy / scenario / variable).as_posix()))
        DAMAGE[kind][0](chunk)
    code, _, err = cli("validate", str(damaged_copy), "--full")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == len(keys), err
    for scenario, key in keys:
        assert sum(f"chunk {key} of scenario '{scenario}'" in line for line in lines) == 1, (key, err)


def test_feasible_must_agree_with_infeasible_reason(damaged_copy):
    group = zarr.open_group(str(damaged_copy / "na"), mode="r+", zarr_format=3)
    feasible = group["feasible"].with_config({"write_empty_chunks": True})  # all False is the fill value
    block = feasible.cdata_shape[0] - 1
    values = feasible.get_block_selection((block,))
    feasible.set_block_selection((block,), ~values)  # a valid checksum, the wrong flags
    code, _, err = cli("validate", str(damaged_copy), "--full")
    assert code == 1
    assert f"scenario 'na': block {block}: 'feasible' disagrees with 'infeasible_reason' in {values.size}" in err


def test_a_damaged_completion_record_entry_is_evaluated_again(damaged_copy, pristine, spec_file, cluster):
    flip(damaged_copy / "li" / "_dse" / "completed" / "c" / "2")
    code, _, err = cli("validate", str(damaged_copy), "--full")
    assert code == 1 and "chunk _dse/completed/c/2 of scenario 'li' is damaged (checksum mismatch)" in err
    code, out, err = cli(
        "sweep",
        str(spec_file),
        "-o",
        str(damaged_copy),
        "--resume",
        "--scheduler",
        cluster.scheduler_address,
        "--quiet",
    )
    assert code == 0, err
    assert "1 damaged blocks re-evaluated" in out
    assert_same_arrays(damaged_copy, pristine)


def test_a_damaged_coordinate_is_not_resumable_and_says_overwrite(damaged_copy, spec_file, cluster):
    before = arrays(damaged_copy)["li/cost"]
    cost = damaged_copy / "li" / "cost"
    flip(damaged_copy / "li" / "cathode_loading" / "c" / "0")
    code, _, err = cli("pareto", str(damaged_copy))
    assert code == 2 and "chunk cathode_loading/c/0 of scenario 'li' is damaged" in err
    code, _, err = cli(
        "sweep",
        str(spec_file),
        "-o",
        str(damaged_copy),
        "--resume",
        "--scheduler",
        cluster.scheduler_address,
        "--quiet",
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "--overwrite" in err, err
    assert np.array_equal(zarr.open_array(str(cost), mode="r")[...], before, equal_nan=True), "nothing rewritten"


def test_a_directory_holding_files_is_not_removed(damaged_copy, spec_file, cluster):
    chunk = last_chunk(damaged_copy, "li", "cost")
    directory(chunk)
    (chunk / "notes.txt").write_text("mine")
    code, _, err = cli(
        "sweep",
        str(spec_file),
        "-o",
        str(damaged_copy),
        "--resume",
        "--scheduler",
        cluster.scheduler_address,
        "--quiet",
    )
    assert code == 2 and "holds files dse did not write" in err
    assert (chunk / "notes.txt").read_text() == "mine"


def test_a_symlink_is_removed_never_its_target(damaged_copy, spec_file, cluster, tmp_path):
    chunk = last_chunk(damaged_copy, "na", "cost")
    target = tmp_path / "precious"
    target.write_bytes(b"not a chunk")
    chunk.unlink()
    chunk.symlink_to(target)
    code, _, err = cli("pareto", str(damaged_copy))
    assert code == 2 and "symbolic link" in err
    code, _, err = cli(
        "sweep",
        str(spec_file),
        "-o",
        str(damaged_copy),
        "--resume",
        "--scheduler",
        cluster.scheduler_address,
        "--quiet",
    )
    assert code == 0, err
    assert target.read_bytes() == b"not a chunk"
    assert chunk.is_file() and not chunk.is_symlink()


def test_every_array_carries_a_checksum(pristine):
    for meta in pristine.rglob("zarr.json"):
        doc = json.loads(meta.read_text())
        if doc.get("node_type") == "array":
            assert doc["codecs"][-1] == {"name": "crc32c"}, meta


def test_every_chunk_of_a_complete_store_exists(pristine):
    """Chunks holding only fill values are written too, so that a missing one is damage."""
    for meta in pristine.rglob("zarr.json"):
        doc = json.loads(meta.read_text())
        if doc.get("node_type") != "array":
            continue
        grid = [
            -(-s // c) for s, c in zip(doc["shape"], doc["chunk_grid"]["configuration"]["chunk_shape"], strict=True)
        ]
        files = [p for p in (meta.parent / "c").rglob("*") if p.is_file()] if doc["shape"] else [meta.parent / "c"]
        assert len(files) == int(np.prod(grid)), meta.parent


def test_a_store_without_checksums_still_opens_with_a_warning(pristine, tmp_path):
    """A dse-results/1 store: rewritten here without the checksum codec, as dse wrote them before."""
    old = tmp_path / "old.zarr"
    shutil.copytree(pristine, old)
    for meta in old.rglob("zarr.json"):
        doc = json.loads(meta.read_text())
        if doc.get("node_type") == "array":
            arr = zarr.open_array(str(meta.parent), mode="r")
            values = arr[...]
            path = meta.parent
            shutil.rmtree(path)
            plain = zarr.create_array(
                str(path),
                shape=arr.shape,
                chunks=arr.chunks,
                dtype=arr.dtype,
                fill_value=arr.fill_value,
                compressors=[zarr.codecs.BloscCodec()],
                attributes=dict(arr.attrs),
                dimension_names=arr.metadata.dimension_names,
                zarr_format=3,
            )
            plain[...] = values
    root = zarr.open_group(str(old), mode="r+", zarr_format=3, use_consolidated=False)
    root.attrs["dse_store_format"] = "dse-results/1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # consolidated metadata is not yet in the v3 spec
        zarr.consolidate_metadata(str(old))
    code, out, err = cli("validate", str(old), "--full")
    assert code == 0, err
    assert err.startswith("warning: ") and "without chunk checksums" in err
    code, out, err = cli("pareto", str(old), "--no-store")
    assert code == 0, err
    assert "Pareto front" in out
    # without a checksum, a chunk that no longer decompresses is still one line, not a Blosc traceback
    chunk = last_chunk(old, "li", "cycle_life")
    chunk.write_bytes(chunk.read_bytes()[:10])  # less than a Blosc header (a chunk cut in half may still "decode":
    # Blosc copies small chunks uncompressed and reads past a short buffer, which only a checksum detects)
    code, out, err = cli("pareto", str(old), "--no-store")
    key = "cycle_life/" + chunk.relative_to(old / "li" / "cycle_life").as_posix()
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert f"chunk {key} of scenario 'li' is damaged (cannot be decompressed by blosc" in err


def test_a_damaged_store_is_not_catalogued(damaged_copy, tmp_path):
    chunk = last_chunk(damaged_copy, "na", "cycle_life")
    flip(chunk)
    key = "cycle_life/" + chunk.relative_to(damaged_copy / "na" / "cycle_life").as_posix()
    catalog = tmp_path / "team.json"
    code, _, err = cli("catalog", "add", str(damaged_copy), "--catalog", str(catalog), "--title", "damaged")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"chunk {key} of scenario 'na' is damaged (checksum mismatch)" in err
    assert not catalog.exists()
