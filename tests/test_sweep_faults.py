"""Sweeps through the CLI: interruption and --resume, a lost worker on a real
``dask scheduler``/``dask worker`` cluster, a read-only target, a full disk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from dse.validate import validate_store

SPEC = """\
name: fault test
inputs:
  cathode: [NMC811, LFP, NCA, NMC622]
  cathode_loading: {linspace: [2 mAh/cm^2, 8 mAh/cm^2, 40]}
  current_collector_thickness: {linspace: [2 um, 12 um, 20]}
  stack_pressure: [0, 0.5, 1, 2, 3]
  electrolyte: [Li-dual-salt, Li-LHCE, Li-ether]
"""
DSE = [sys.executable, "-m", "dse.cli"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def done_blocks(path: Path) -> int:
    try:
        return int(np.asarray(zarr.open_group(str(path), mode="r")["_dse/completed"][:]).sum())
    except Exception:
        return 0


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("faults")
    f = d / "spec.yaml"
    f.write_text(SPEC)
    return f


@pytest.fixture(scope="module")
def reference(spec_file):
    out = spec_file.parent / "reference.zarr"
    subprocess.run([*DSE, "sweep", str(spec_file), "-o", str(out), "--chunk-size", "300", "--quiet"],
                   check=True, env=ENV, capture_output=True)
    return xr.open_zarr(out).load()


def assert_same(path: Path, reference: xr.Dataset) -> None:
    ds = xr.open_zarr(path).load()
    for name in reference.data_vars:
        np.testing.assert_array_equal(ds[name].values, reference[name].values, err_msg=name)
    assert validate_store(str(path)) == []


def test_ctrl_c_then_resume_finishes_only_missing_blocks(spec_file, reference, tmp_path):
    out = tmp_path / "interrupted.zarr"
    # small blocks (320 of them) so that the sweep is still running when interrupted;
    # results do not depend on the chunk size, so the reference still applies
    cmd = [*DSE, "sweep", str(spec_file), "-o", str(out), "--chunk-size", "150", "--workers", "1", "--quiet"]
    # pytest-xdist workers ignore SIGINT and children inherit that: restore Ctrl-C for the sweep
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while done_blocks(out) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "sweep finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "--resume" in err
    total = int(np.prod(json.loads((out / "zarr.json").read_text())["attributes"]["dse_block_grid"]))
    partial = done_blocks(out)
    assert 0 < partial < total
    refused = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    assert refused.returncode == 2 and "already exists; use --resume" in refused.stderr
    resumed = subprocess.run([*cmd, "--resume"], env=ENV, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert done_blocks(out) == total
    assert_same(out, reference)


def test_lost_worker_on_a_real_cluster(spec_file, reference, tmp_path):
    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--dashboard-address", ":0", "--scheduler-file", str(sched_file)],
                              env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.time() + 60
        while not sched_file.exists() and time.time() < deadline:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        for _ in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--nthreads", "1",
                                           "--no-nanny", "--scheduler-file", str(sched_file)],
                                          env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        out = tmp_path / "remote.zarr"
        sweep = subprocess.Popen([*DSE, "sweep", str(spec_file), "-o", str(out), "--chunk-size", "300",
                                  "--scheduler", address, "--quiet"], env=ENV, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while done_blocks(out) < 5 and time.time() < deadline and sweep.poll() is None:
            time.sleep(0.05)
        procs[1].kill()  # a machine is lost mid-sweep
        _, err = sweep.communicate(timeout=300)
        assert sweep.returncode == 0, err
        assert_same(out, reference)
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _mount_tmpfs(path: Path, options: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True)


def test_read_only_target_is_refused_before_anything_is_written(spec_file, tmp_path):
    ro = tmp_path / "readonly"
    if not _mount_tmpfs(ro, "ro,size=1m"):
        ro.mkdir(exist_ok=True)
        ro.chmod(0o500)
        if os.access(ro, os.W_OK):
            pytest.skip("cannot make a read-only directory here (root without mount)")
    try:
        proc = subprocess.run([*DSE, "sweep", str(spec_file), "-o", str(ro / "out.zarr"), "--quiet"], env=ENV,
                              capture_output=True, text=True)
        assert proc.returncode == 2
        assert "cannot write" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        assert not (ro / "out.zarr").exists()
    finally:
        _umount(ro)


def test_full_disk_fails_cleanly_and_resumes_after_space_is_freed(spec_file, reference, tmp_path):
    disk = tmp_path / "small"
    if not _mount_tmpfs(disk, "size=1400k"):
        pytest.skip("needs root and tmpfs to simulate a full disk")
    try:
        out = disk / "out.zarr"
        cmd = [*DSE, "sweep", str(spec_file), "-o", str(out), "--chunk-size", "300", "--quiet"]
        proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
        assert proc.returncode == 2, proc.stderr
        assert "No space left" in proc.stderr and "--resume" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        written = done_blocks(out)
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        resumed = subprocess.run([*cmd, "--resume"], env=ENV, capture_output=True, text=True)
        assert resumed.returncode == 0, resumed.stderr
        assert done_blocks(out) > written
        assert_same(out, reference)
    finally:
        _umount(disk)


@pytest.mark.parametrize(
    "text, message",
    [
        ("inputs:\n  cathode_loading: [2, 3\n", "malformed YAML at line"),
        ("inputs:\n  cathode_loading: {linspace: [2, 8, 0]}\n", "integer ≥ 1"),
        ("inputs:\n  stack_pressure: 3 kg\n", "expected a pressure"),
        ("inputs:\n  cathode_loading: {range: [2, 2]}\nsampler: {method: sobol, n: 4}\n", "empty range"),
    ],
)
def test_bad_spec_through_the_cli_is_one_line(tmp_path, text, message):
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    out = tmp_path / "out.zarr"
    proc = subprocess.run([*DSE, "sweep", str(spec), "-o", str(out), "--quiet"], env=ENV, capture_output=True,
                          text=True)
    assert proc.returncode == 2 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()
