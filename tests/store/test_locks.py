"""One writer per store: a second sweep is refused, a crashed sweep's lock is stale.

Real ``dse sweep`` processes on real stores; the first store must come out
bit-identical to a clean run of the same spec.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from dse.errors import LockError
from dse.store.locks import LockInfo, StoreLock, lock_path, process_alive, read_lock
from dse.store.validate import validate_store
from tests._cluster import DSE, ENV, assert_same, clean_run, done_blocks, run_dir

# real `dse sweep` processes, each with its LocalCluster, interrupted and resumed
pytestmark = [pytest.mark.slow, pytest.mark.cluster]

SPEC = """\
name: lock test
inputs:
  cathode: [NMC811, LFP, NCA, NMC622]
  cathode_loading: {linspace: [2 mAh/cm^2, 8 mAh/cm^2, 10]}
  current_collector_thickness: {linspace: [2 um, 12 um, 10]}
  stack_pressure: [0, 0.5, 1, 2, 3]
  electrolyte: [Li-dual-salt, Li-LHCE, Li-ether]
"""
SLOW = ["--chunk-size", "150", "--workers", "1", "--quiet"]  # 40 blocks


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    f = tmp_path_factory.mktemp("locks") / "spec.yaml"
    f.write_text(SPEC)
    return f


@pytest.fixture(scope="module")
def reference(spec_file, tmp_path_factory):
    return clean_run(spec_file, 600, run_dir(tmp_path_factory))


def start_sweep(spec_file: Path, out: Path, *extra: str) -> subprocess.Popen:
    # own session: the sweep and its LocalCluster workers form one process group we can kill
    return subprocess.Popen(
        [*DSE, "sweep", str(spec_file), "-o", str(out), *SLOW, *extra],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert proc.poll() is None, f"sweep ended early: {proc.communicate()}"
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def test_second_sweep_on_the_same_store_is_refused_and_the_first_is_intact(spec_file, reference, tmp_path):
    out = tmp_path / "shared.zarr"
    first = start_sweep(spec_file, out)
    try:
        wait_for(lambda: done_blocks(out) >= 2, first)
        # pause the first sweep (client, scheduler and workers) so that it is surely mid-write meanwhile
        os.killpg(first.pid, signal.SIGSTOP)
        holder = read_lock(str(out))
        assert holder is not None and holder.pid == first.pid and holder.host == socket.gethostname()
        # --overwrite would delete the first sweep's store, --resume would write the same blocks twice
        for flag in ("--overwrite", "--resume"):
            second = subprocess.run(
                [*DSE, "sweep", str(spec_file), "-o", str(out), *SLOW, flag],
                env=ENV,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert second.returncode == 2, second.stderr
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1, second.stderr
            assert f"is being written by another sweep (pid {first.pid} on {socket.gethostname()}" in lines[0]
        os.killpg(first.pid, signal.SIGCONT)
        _, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert not Path(lock_path(str(out))).exists(), "the lock is released at the end"
    assert_same(out, reference)


def test_two_sweeps_racing_for_a_new_store(spec_file, reference, tmp_path):
    out = tmp_path / "race.zarr"
    procs = [start_sweep(spec_file, out) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], results
    loser = results[[p.returncode for p in procs].index(2)][1].strip().splitlines()
    assert len(loser) == 1 and ("is being written by another sweep" in loser[0] or "already exists" in loser[0])
    assert_same(out, reference)


def test_lock_of_a_killed_sweep_is_stale_and_resume_finishes(spec_file, reference, tmp_path):
    out = tmp_path / "crashed.zarr"
    proc = start_sweep(spec_file, out)
    try:
        wait_for(lambda: done_blocks(out) >= 2, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no cleanup runs: the lock file stays behind
        proc.communicate(timeout=60)
    holder = read_lock(str(out))
    assert holder is not None and holder.pid == proc.pid
    assert not process_alive(holder.pid, holder.process_start)
    resumed = subprocess.run(
        [*DSE, "sweep", str(spec_file), "-o", str(out), "--resume", "--chunk-size", "150", "--quiet"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"taking over a stale lock of pid {proc.pid}" in resumed.stderr
    assert read_lock(str(out)) is None
    assert_same(out, reference)


def write_lock(store: Path, **fields) -> None:
    info = {
        "host": "node17.cluster",
        "pid": 4242,
        "process_start": 1.0,
        "created": "2026-01-01T00:00:00+00:00",
        "command": "dse sweep",
        "token": "t",
        **fields,
    }
    Path(lock_path(str(store))).write_text(json.dumps(info))


def test_lock_from_another_host_needs_break_lock(spec_file, tmp_path):
    out = tmp_path / "remote-holder.zarr"
    write_lock(out)
    cmd = [*DSE, "sweep", str(spec_file), "-o", str(out), "--chunk-size", "3000", "--quiet"]
    refused = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"error: {out}: is locked by a sweep on another host (pid 4242 on "
        "node17.cluster since 2026-01-01T00:00:00+00:00); dse cannot check whether "
        "it still runs: if it does not, rerun with --break-lock"
    )
    assert not out.exists(), "nothing written"
    broken = subprocess.run([*cmd, "--break-lock"], env=ENV, capture_output=True, text=True, timeout=300)
    assert broken.returncode == 0, broken.stderr
    assert "breaking the lock of pid 4242 on node17.cluster" in broken.stderr
    assert validate_store(str(out)) == [] and read_lock(str(out)) is None


def test_lock_in_process(tmp_path):
    store = str(tmp_path / "s.zarr")
    warnings: list[str] = []
    with StoreLock(store, warn=warnings.append) as lock:
        assert read_lock(store) == lock.info
        with pytest.raises(LockError, match=f"another sweep \\(pid {os.getpid()} on"):
            StoreLock(store).acquire()
        with pytest.raises(LockError):  # other paths to the same store take the same lock
            StoreLock(str(tmp_path / "." / "s.zarr")).acquire()
    assert read_lock(store) is None and warnings == []
    # our own pid, but a process start time that is not ours: the pid was reused, the lock is stale
    write_lock(Path(store), host=socket.gethostname(), pid=os.getpid(), process_start=12345.0)
    with StoreLock(store, warn=warnings.append):
        pass
    assert len(warnings) == 1 and "stale lock" in warnings[0]
    # an unreadable lock file is never taken over silently
    Path(lock_path(store)).write_text("garbage")
    with pytest.raises(LockError, match="unreadable lock file"):
        StoreLock(store).acquire()
    assert LockInfo.mine().pid == os.getpid()


def test_lock_on_object_storage(monkeypatch):
    """Conditional put (If-None-Match) on an S3-compatible server on loopback."""
    from moto.server import ThreadedMotoServer

    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        import boto3

        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="locks")
        options = {"endpoint_url": endpoint}
        url = "s3://locks/run/out.zarr"
        with StoreLock(url, options) as lock:
            assert read_lock(url, options) == lock.info
            with pytest.raises(LockError, match="another sweep"):
                StoreLock(url, options).acquire()
        assert read_lock(url, options) is None
    finally:
        server.stop()
