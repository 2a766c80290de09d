"""Sweeps through the CLI under faults: Ctrl-C and kill -9 of the client, then
--resume; a worker killed, and the scheduler restarted, on a real
``dask scheduler``/``dask worker`` cluster; a read-only target; a full disk.

Results are compared bit for bit with a clean run (``reference``)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests._cluster import (
    DSE,
    ENV,
    SPEC,
    DaskProcesses,
    assert_same,
    clean_run,
    done_blocks,
    run_dir,
    sweep_counts,
    total_blocks,
    wait_until,
)

# real `dse sweep` processes, each with its LocalCluster, interrupted and resumed
pytestmark = [pytest.mark.slow, pytest.mark.cluster]


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("faults")
    f = d / "spec.yaml"
    f.write_text(SPEC)
    return f


# the reference in blocks of 2400 (20 of them), every faulted sweep in blocks of 1200:
# the bit-for-bit comparisons also show that results do not depend on the chunk size
REFERENCE_CHUNK = 2400


@pytest.fixture(scope="module")
def reference(spec_file, tmp_path_factory):
    return clean_run(spec_file, REFERENCE_CHUNK, run_dir(tmp_path_factory))


# 40 blocks: enough to stop mid-sweep (as in tests/store/test_locks.py), few enough to stay
# quick; the results do not depend on the chunk size, so the reference still applies
CLUSTER_CHUNK = "1200"


def test_ctrl_c_then_resume_finishes_only_missing_blocks(spec_file, reference, tmp_path):
    out = tmp_path / "interrupted.zarr"
    # 40 blocks on one worker, so that the sweep is still running when interrupted after 2
    cmd = [*DSE, "sweep", str(spec_file), "-o", str(out), "--chunk-size", CLUSTER_CHUNK, "--workers", "1", "--quiet"]
    # pytest-xdist workers ignore SIGINT and children inherit that: restore Ctrl-C for the sweep
    proc = subprocess.Popen(
        cmd,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while done_blocks(out) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "sweep finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "--resume" in err
    total = total_blocks(out)
    partial = done_blocks(out)
    assert 0 < partial < total
    refused = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    assert refused.returncode == 2 and "already exists; use --resume" in refused.stderr
    resumed = subprocess.run([*cmd, "--resume"], env=ENV, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert sweep_counts(resumed.stdout) == (total - partial, partial)
    assert done_blocks(out) == total
    assert_same(out, reference)


def sweep_args(spec_file: Path, out: Path, *args: str) -> list[str]:
    return [*DSE, "sweep", str(spec_file), "-o", str(out), "--chunk-size", CLUSTER_CHUNK, "--quiet", *args]


def start_sweep(spec_file: Path, out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        sweep_args(spec_file, out, *args), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_blocks(out: Path, n: int, proc: subprocess.Popen) -> None:
    wait_until(lambda: done_blocks(out) >= n or proc.poll() is not None, 120, f"{n} blocks")
    assert proc.poll() is None, "the sweep finished before the fault: " + proc.communicate()[1]


@pytest.mark.cluster
def test_worker_killed_mid_sweep_gives_the_same_store(spec_file, reference, tmp_path):
    with DaskProcesses(tmp_path, workers=2) as cluster:
        out = tmp_path / "remote.zarr"
        sweep = start_sweep(spec_file, out, "--scheduler", cluster.address)
        wait_for_blocks(out, 5, sweep)
        cluster.workers[0].kill()  # kill -9: a machine is lost mid-sweep; its blocks are re-run elsewhere
        _, err = sweep.communicate(timeout=300)
        assert sweep.returncode == 0, err
        assert done_blocks(out) == total_blocks(out)
        assert_same(out, reference)


@pytest.mark.cluster
def test_client_killed_then_resume_recomputes_only_the_missing_blocks(spec_file, reference, tmp_path):
    with DaskProcesses(tmp_path, workers=2) as cluster:
        out = tmp_path / "remote.zarr"
        sweep = start_sweep(spec_file, out, "--scheduler", cluster.address)
        wait_for_blocks(out, 3, sweep)
        sweep.kill()  # kill -9 of the client; blocks already running on workers still finish
        sweep.communicate()
        cluster.wait_idle()
        before, total = done_blocks(out), total_blocks(out)
        assert 0 < before < total
        resumed = subprocess.run(
            sweep_args(spec_file, out, "--scheduler", cluster.address, "--resume"),
            env=ENV,
            capture_output=True,
            text=True,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert sweep_counts(resumed.stdout) == (total - before, before)
        assert done_blocks(out) == total
        assert_same(out, reference)


@pytest.mark.cluster
def test_scheduler_restarted_mid_sweep_then_resume(spec_file, reference, tmp_path):
    with DaskProcesses(tmp_path, workers=2, nanny=True) as cluster:
        out = tmp_path / "remote.zarr"
        sweep = start_sweep(spec_file, out, "--scheduler", cluster.address)
        wait_for_blocks(out, 3, sweep)
        t = time.perf_counter()
        cluster.kill_scheduler()
        cluster.start_scheduler()  # same address, as a supervisor would restart it
        _, err = sweep.communicate(timeout=60)
        assert time.perf_counter() - t < 30
        assert sweep.returncode == 2
        assert "lost the Dask scheduler" in err and "--resume" in err and len(err.strip().splitlines()) == 1, err
        # workers stop with their scheduler; a supervisor replaces them
        for w in cluster.workers:
            w.kill()
            w.wait()
        cluster.start_worker()
        cluster.start_worker()
        cluster.wait_for_workers(2)
        before = done_blocks(out)
        resumed = subprocess.run(
            sweep_args(spec_file, out, "--scheduler", cluster.address, "--resume"),
            env=ENV,
            capture_output=True,
            text=True,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert sweep_counts(resumed.stdout)[1] == before
        assert done_blocks(out) == total_blocks(out)
        assert_same(out, reference)


def _mount_tmpfs(path: Path, options: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir(parents=True, exist_ok=True)
    return (
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode == 0
    )


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
        proc = subprocess.run(
            [*DSE, "sweep", str(spec_file), "-o", str(ro / "out.zarr"), "--quiet"],
            env=ENV,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 2
        assert "cannot be written" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        assert not (ro / "out.zarr").exists()
    finally:
        _umount(ro)


def test_full_disk_fails_cleanly_and_resumes_after_space_is_freed(spec_file, reference, tmp_path):
    disk = tmp_path / "small"
    if not _mount_tmpfs(disk, "size=1400k"):
        pytest.skip("needs root and tmpfs to simulate a full disk")
    try:
        out = disk / "out.zarr"
        cmd = [*DSE, "sweep", str(spec_file), "-o", str(out), "--chunk-size", CLUSTER_CHUNK, "--quiet"]
        proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
        assert proc.returncode == 2, proc.stderr
        assert "No space left" in proc.stderr and "--resume" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        written = done_blocks(out)
        assert 0 < written < total_blocks(out)  # the disk filled mid-sweep (13 of 40 blocks fitted when measured)
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
    proc = subprocess.run(
        [*DSE, "sweep", str(spec), "-o", str(out), "--quiet"], env=ENV, capture_output=True, text=True
    )
    assert proc.returncode == 2 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()
