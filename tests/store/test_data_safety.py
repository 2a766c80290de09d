"""Data safety (issue 22, points 1 and 3): dse deletes only its own stores, a failed start
keeps the old store, partial stores are refused or labelled, derived results never go stale silently.

Real stores on disk, swept on the session's LocalCluster; the CLI runs in-process
(``dse.cli.main``) and its exit code and stderr line are checked.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
import zarr

from dse.cli import main
from dse.errors import DseError, StoreError
from dse.spec import load_sweep, parse_sweep
from dse.store import completeness, open_results
from dse.store.validate import validate_store
from dse.sweep import run_sweep

#: 2 × 10 × 3 × 2 = 120 designs in 8 blocks of 16
TINY = {
    "name": "safety",
    "inputs": {
        "cathode": ["NMC811", "LFP"],
        "cathode_loading": {"linspace": ["2 mAh/cm^2", "7 mAh/cm^2", 10]},
        "stack_pressure": [0, 1.0, 2.5],
        "electrolyte": ["Li-dual-salt", "Li-LPSCl"],
    },
}
CHUNK = 16


def files_of(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def values_of(path: str) -> dict[str, np.ndarray]:
    ds = xr.open_zarr(path).load()
    return {name: ds[name].values for name in ds.data_vars}


def assert_same_values(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), name


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    f = tmp_path_factory.mktemp("spec") / "spec.yaml"
    f.write_text(yaml.safe_dump(TINY))
    return f


@pytest.fixture(scope="module")
def reference(spec_file, tmp_path_factory, cluster) -> str:
    """A complete store of TINY (from ``spec_file``), never modified (tests copy it)."""
    path = str(tmp_path_factory.mktemp("ref") / "ref.zarr")
    run_sweep(load_sweep(spec_file, chunk_size=CHUNK), path, scheduler=cluster.scheduler_address)
    return path


@pytest.fixture()
def store(reference, tmp_path) -> str:
    path = tmp_path / "out.zarr"
    shutil.copytree(reference, path)
    return str(path)


def make_partial(path: str, blocks: list[int]) -> None:
    """Mark ``blocks`` as not written, as a killed sweep leaves them."""
    record = zarr.open_group(path, mode="r+")["_dse/completed"]
    for b in blocks:
        record[b] = 0


# --------------------------------------------------------------------------- point 1: only a dse store is deleted
@pytest.mark.parametrize("target", [".", "..", "home"])
def test_overwrite_refuses_cwd_parents_and_home(target, spec_file, tmp_path, monkeypatch, capsys):
    work = tmp_path / "home" / "work"
    work.mkdir(parents=True)
    shutil.copy(spec_file, work / "spec.yaml")
    (work / "thesis.tex").write_text("chapter 1")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(work)
    before = files_of(tmp_path)
    out = str(tmp_path / "home") if target == "home" else target
    assert main(["sweep", "spec.yaml", "-o", out, "--overwrite", "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "directory or one of its parents" in line and "--overwrite" in line
    assert files_of(tmp_path) == before


def test_overwrite_refuses_a_directory_that_is_not_a_store(spec_file, tmp_path, capsys):
    thesis = tmp_path / "thesis"
    (thesis / "figures").mkdir(parents=True)
    (thesis / "main.tex").write_text("\\chapter{Results}")
    (thesis / "figures" / "f.png").write_bytes(bytes(range(256)))
    (thesis / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group", "attributes": {}}')
    before = files_of(thesis)
    assert main(["sweep", str(spec_file), "-o", str(thesis), "--overwrite", "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "not a dse results store" in line and str(thesis) in line
    assert files_of(thesis) == before


def test_overwrite_refuses_a_symlink_and_a_file(spec_file, store, tmp_path, capsys):
    link = tmp_path / "link.zarr"
    link.symlink_to(store)
    before = files_of(Path(store))
    assert main(["sweep", str(spec_file), "-o", str(link), "--overwrite", "--quiet"]) == 2
    assert "symbolic link" in one_error_line(capsys)
    assert files_of(Path(store)) == before
    note = tmp_path / "notes.txt"
    note.write_text("keep")
    assert main(["sweep", str(spec_file), "-o", str(note), "--overwrite", "--quiet"]) == 2
    assert "is a file" in one_error_line(capsys)
    assert note.read_text() == "keep"


def test_catalog_replace_refuses_a_published_directory_that_is_not_a_store(reference, tmp_path, capsys):
    publish = tmp_path / "public"
    foreign = publish / "team.zarr"
    foreign.mkdir(parents=True)
    (foreign / "data.csv").write_text("a,b\n1,2\n")
    before = files_of(publish)
    code = main(
        [
            "catalog",
            "add",
            reference,
            "--catalog",
            str(tmp_path / "cat.json"),
            "--title",
            "Team",
            "--id",
            "team",
            "--publish",
            str(publish),
            "--replace",
        ]
    )
    assert code == 2
    line = one_error_line(capsys)
    assert "not a dse results store" in line and "--replace" in line
    assert files_of(publish) == before
    assert not (tmp_path / "cat.json").exists()


def test_catalog_replace_replaces_a_published_store(reference, store, tmp_path, capsys):
    publish = tmp_path / "public"
    shutil.copytree(store, publish / "team.zarr")
    code = main(
        [
            "catalog",
            "add",
            reference,
            "--catalog",
            str(tmp_path / "cat.json"),
            "--title",
            "Team",
            "--id",
            "team",
            "--publish",
            str(publish),
            "--replace",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert_same_values(values_of(str(publish / "team.zarr")), values_of(reference))


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_workers_below_one_refused_before_anything(workers, spec_file, store, capsys):
    before = files_of(Path(store))
    assert main(["sweep", str(spec_file), "-o", store, "--overwrite", "--workers", workers, "--quiet"]) == 2
    assert "--workers: must be a whole number >= 1" in one_error_line(capsys)
    assert files_of(Path(store)) == before
    with pytest.raises(DseError, match="--workers"):
        run_sweep(
            parse_sweep(TINY, text=yaml.safe_dump(TINY), chunk_size=CHUNK),
            store,
            overwrite=True,
            n_workers=int(workers),
        )
    assert files_of(Path(store)) == before


def test_failed_start_keeps_the_old_store(store, cluster, monkeypatch):
    """An error while the new template is written (late: after every array) leaves the old store."""
    import dse.store.template

    old = values_of(store)

    def disk_full() -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dse.store.template, "git_commit", disk_full)
    bigger = dict(TINY, inputs={**TINY["inputs"], "stack_pressure": [0, 1.0, 2.5, 3.0]})
    with pytest.raises(StoreError, match="No space left on device"):
        run_sweep(
            parse_sweep(bigger, text=yaml.safe_dump(bigger), chunk_size=CHUNK),
            store,
            scheduler=cluster.scheduler_address,
            overwrite=True,
        )
    assert_same_values(values_of(store), old)
    assert validate_store(store) == []
    assert sorted(p.name for p in Path(store).parent.iterdir()) == ["out.zarr"]  # no temporary template left


def test_interrupt_while_the_template_is_written(spec_file, store, tmp_path, cluster, monkeypatch, capsys):
    """Ctrl-C before the new store is in place: exit 130, the target unchanged, no advice to --resume."""
    import dse.store.template

    old = values_of(store)

    def interrupt() -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(dse.store.template, "git_commit", interrupt)
    fresh = tmp_path / "fresh.zarr"
    for target, flags in ((store, ["--overwrite"]), (str(fresh), [])):
        code = main(
            ["sweep", str(spec_file), "-o", target, *flags, "--quiet", "--scheduler", cluster.scheduler_address]
        )
        assert code == 130
        line = one_error_line(capsys)
        assert "nothing was changed" in line and "--resume" not in line
    assert_same_values(values_of(store), old)
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]


def test_resume_of_a_template_left_by_an_older_dse_says_what_to_do(spec_file, tmp_path, capsys):
    """Older dse wrote the template in place: an interrupt left a group without dse's root attributes."""
    left = tmp_path / "left.zarr"
    left.mkdir()
    (left / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group", "attributes": {}}')
    before = files_of(left)
    assert main(["sweep", str(spec_file), "-o", str(left), "--resume", "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "nothing to resume" in line and "delete it and run the sweep again" in line
    assert files_of(left) == before


@pytest.mark.slow
@pytest.mark.cluster
def test_ctrl_c_of_the_terminal_prints_no_worker_tracebacks(tmp_path):
    """Ctrl-C in a terminal reaches the whole process group, the embedded cluster's workers included."""
    import os
    import signal
    import subprocess
    import time

    from tests._cluster import DSE, ENV, SPEC, done_blocks

    (tmp_path / "spec.yaml").write_text(SPEC)
    out = tmp_path / "o.zarr"
    proc = subprocess.Popen(
        [
            *DSE,
            "sweep",
            str(tmp_path / "spec.yaml"),
            "-o",
            str(out),
            "--chunk-size",
            "150",
            "--workers",
            "2",
            "--quiet",
        ],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 300
    while done_blocks(out) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "sweep finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1].startswith("interrupted: finished blocks are kept")


def test_overwrite_replaces_a_store(spec_file, store, cluster, capsys):
    bigger = dict(TINY, inputs={**TINY["inputs"], "stack_pressure": [0, 1.0, 2.5, 3.0]})
    Path(spec_file.parent / "bigger.yaml").write_text(yaml.safe_dump(bigger))
    code = main(
        [
            "sweep",
            str(spec_file.parent / "bigger.yaml"),
            "-o",
            store,
            "--overwrite",
            "--quiet",
            "--chunk-size",
            str(CHUNK),
            "--scheduler",
            cluster.scheduler_address,
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert xr.open_zarr(store).sizes["stack_pressure"] == 4
    assert validate_store(store) == []
    assert sorted(p.name for p in Path(store).parent.iterdir()) == ["out.zarr"]


def test_overwrite_on_object_storage(s3_endpoint, cluster):
    """s3://: a store is replaced, a foreign prefix and a whole bucket are refused, nothing is left beside."""
    import fsspec

    options = {
        "endpoint_url": s3_endpoint,
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"region_name": "us-east-1"},
    }
    fs = fsspec.filesystem("s3", **options)
    import boto3  # a bucket of its own: moto keeps every test's objects for the life of the process

    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket="safety")
    url = "s3://safety/safety.zarr"
    small = dict(TINY, inputs={**TINY["inputs"], "stack_pressure": [0, 1.0]})
    bigger = dict(TINY, inputs={**TINY["inputs"], "stack_pressure": [0, 1.0, 2.5, 3.0]})
    run_sweep(
        parse_sweep(small, text=yaml.safe_dump(small), chunk_size=CHUNK),
        url,
        scheduler=cluster.scheduler_address,
        storage_options=options,
    )
    run_sweep(
        parse_sweep(bigger, text=yaml.safe_dump(bigger), chunk_size=CHUNK),
        url,
        scheduler=cluster.scheduler_address,
        storage_options=options,
        overwrite=True,
    )
    assert open_results(url, options)["safety"].sizes["stack_pressure"] == 4
    assert validate_store(url, options) == []
    fs.pipe_file("safety/foreign.zarr/data.csv", b"a,b\n1,2\n")
    spec = parse_sweep(small, text=yaml.safe_dump(small), chunk_size=CHUNK)
    for target, why in (("s3://safety/foreign.zarr", "not a dse results store"), ("s3://safety", "whole bucket")):
        with pytest.raises(StoreError, match=why):
            run_sweep(spec, target, scheduler=cluster.scheduler_address, storage_options=options, overwrite=True)
    fs.invalidate_cache()
    assert fs.cat_file("safety/foreign.zarr/data.csv") == b"a,b\n1,2\n"
    assert sorted(p.rsplit("/", 1)[1] for p in fs.ls("safety")) == ["foreign.zarr", "safety.zarr"]


# --------------------------------------------------------------------------- point 3: partial stores are labelled
@pytest.mark.parametrize(
    "command",
    [
        ["pareto", "{store}", "--no-store"],
        ["sensitivity", "{store}", "--output", "specific_energy", "--bootstrap", "5"],
        pytest.param(["report", "{store}", "-o", "{tmp}/report.html"], marks=pytest.mark.slow),
        ["catalog", "add", "{store}", "--catalog", "{tmp}/cat.json", "--title", "Partial"],
        ["serve", "{store}"],
    ],
)
def test_partial_store_refused_then_allowed_with_the_missing_fraction(command, store, tmp_path, capsys):
    make_partial(store, [1, 4, 6])
    state = completeness(store)
    expected = f"{state.missing} of {state.total} blocks ({100 * state.missing / state.total:.3g} %) missing"
    args = [a.format(store=store, tmp=tmp_path) for a in command]
    assert main(args) == 2
    line = one_error_line(capsys)
    assert "is incomplete" in line and expected in line and "--allow-incomplete" in line
    if command[0] == "serve":
        return  # accepted, it would serve until stopped
    assert main([*args, "--allow-incomplete"]) == 0
    err = capsys.readouterr().err
    assert f"store {store} is incomplete: {expected}" in err


def test_catalog_entry_of_a_partial_store_is_labelled(store, tmp_path, capsys):
    import json

    make_partial(store, [0, 7])
    assert (
        main(
            [
                "catalog",
                "add",
                store,
                "--catalog",
                str(tmp_path / "cat.json"),
                "--title",
                "Partial",
                "--id",
                "partial",
                "--allow-incomplete",
            ]
        )
        == 0
    )
    item = json.loads((tmp_path / "cat" / "partial.json").read_text())
    assert item["properties"]["dse:blocks_missing"] == 2
    assert item["properties"]["dse:blocks"] == completeness(store).total


def test_resume_removes_a_front_computed_from_a_partial_store(spec_file, store, cluster, capsys):
    make_partial(store, [2, 3])
    assert main(["pareto", store, "--allow-incomplete"]) == 0
    assert "pareto_front" in open_results(store)["safety"]
    assert validate_store(store, allow_incomplete=True) == []
    code = main(
        [
            "sweep",
            str(spec_file),
            "-o",
            store,
            "--resume",
            "--quiet",
            "--chunk-size",
            str(CHUNK),
            "--scheduler",
            cluster.scheduler_address,
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "pareto_front" not in open_results(store)["safety"]
    assert validate_store(store) == []
    assert zarr.open_group(store, mode="r").attrs["dse_status"] == "complete"


def test_overwrite_leaves_no_front_behind(spec_file, store, cluster, capsys):
    assert main(["pareto", store]) == 0
    assert "pareto_front" in open_results(store)["safety"]
    code = main(
        [
            "sweep",
            str(spec_file),
            "-o",
            store,
            "--overwrite",
            "--quiet",
            "--chunk-size",
            str(CHUNK),
            "--scheduler",
            cluster.scheduler_address,
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "pareto_front" not in open_results(store)["safety"]


def test_validate_flags_a_stale_front_and_catalog_add_refuses_it(store, tmp_path, capsys):
    make_partial(store, [5])
    assert main(["pareto", store, "--allow-incomplete"]) == 0
    # the missing block is written by something that does not know about derived results
    zarr.open_group(store, mode="r+")["_dse/completed"][5] = 1
    capsys.readouterr()
    assert main(["validate", store]) == 1
    err = capsys.readouterr().err
    assert "derived 'pareto_front' is stale" in err and "dse pareto" in err
    assert main(["catalog", "add", store, "--catalog", str(tmp_path / "cat.json"), "--title", "Stale"]) == 2
    assert "stale" in one_error_line(capsys)
    assert main(["pareto", store]) == 0  # recomputing it makes the store valid again
    assert validate_store(store) == []


def test_validate_flags_a_front_without_a_recorded_state(store):
    assert main(["pareto", store]) == 0
    arr = zarr.open_group(store, mode="r+")["pareto_front"]
    attrs = dict(arr.attrs)
    del attrs["dse_store_state"]
    arr.attrs.clear()
    arr.attrs.update(attrs)
    problems = validate_store(store)
    assert len(problems) == 1 and "records no store state" in problems[0]
