"""Helpers for tests that run real processes: ``dse sweep`` subprocesses and a
``dask scheduler`` with ``dask worker`` processes on loopback (optionally TLS).

Every command is located from ``sys.executable`` (``python -m dse.cli``,
``python -m dask``), so the tests run the same code in any virtual
environment, and child processes inherit ``PYTHONPATH``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from dse.store.validate import validate_store

#: A 48,000-design grid: 40 blocks of 1200 (tests/integration/test_sweep_faults.py), enough to interrupt mid-sweep.
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
DASK = [sys.executable, "-m", "dask"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def done_blocks(path: Path) -> int:
    """Blocks marked complete in a store's ``_dse/completed`` record (0 if none yet)."""
    try:
        return int(np.asarray(zarr.open_group(str(path), mode="r")["_dse/completed"][:]).sum())
    except Exception:
        return 0


def total_blocks(path: Path) -> int:
    """Blocks of a single-scenario store."""
    return int(np.prod(json.loads((Path(path) / "zarr.json").read_text())["attributes"]["dse_block_grid"]))


def run_dir(tmp_path_factory) -> Path:
    """A directory of this test run that every pytest-xdist worker of the run shares."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def clean_run(spec_file: Path, chunk_size: int, shared: Path | None = None) -> xr.Dataset:
    """Results of one uninterrupted `dse sweep` of ``spec_file`` (the reference for fault tests).

    With ``shared`` (:func:`run_dir`), the sweep runs once per test run, not once per
    xdist worker: the first worker to get here writes it under a lock, the others wait and read it.
    """
    if shared is None:
        out = spec_file.parent / "reference.zarr"
        subprocess.run(
            [*DSE, "sweep", str(spec_file), "-o", str(out), "--chunk-size", str(chunk_size), "--quiet"],
            check=True,
            env=ENV,
            capture_output=True,
        )
        return xr.open_zarr(out).load()
    key = hashlib.sha256(f"{spec_file.read_text()}\0{chunk_size}".encode()).hexdigest()[:16]
    out, done = shared / f"reference-{key}.zarr", shared / f"reference-{key}.done"
    with open(shared / f"reference-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if the sweep fails
        if not done.exists():
            shutil.rmtree(out, ignore_errors=True)  # what a failed attempt left
            clean = shared / f"reference-{key}"
            clean.mkdir(exist_ok=True)
            (clean / "spec.yaml").write_text(spec_file.read_text())
            subprocess.run(
                [*DSE, "sweep", str(clean / "spec.yaml"), "-o", str(out), "--chunk-size", str(chunk_size), "--quiet"],
                check=True,
                env=ENV,
                capture_output=True,
            )
            done.touch()
    return xr.open_zarr(out).load()


def assert_same(path: Path, reference: xr.Dataset) -> None:
    """Every variable of the store at ``path`` is bit-identical to ``reference``."""
    ds = xr.open_zarr(path).load()
    assert set(ds.data_vars) == set(reference.data_vars)
    for name in reference.data_vars:
        a, b = ds[name].values, reference[name].values
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert (a.tobytes() == b.tobytes()) if a.dtype.kind != "O" else np.array_equal(a, b), name
    assert validate_store(str(path)) == []


def sweep_counts(stdout: str) -> tuple[int, int]:
    """(blocks evaluated, blocks already done) from the summary ``dse sweep`` prints."""
    m = re.search(r"evaluated now\s+[\d,]+ in (\d+) block\(s\) \((\d+) block\(s\) already done\)", stdout)
    assert m, stdout
    return int(m[1]), int(m[2])


def wait_until(condition, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class DaskProcesses:
    """A ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1.

    Parameters
    ----------
    workdir : Path
        Where logs go.
    workers : int
        Worker processes (one thread each) started with the scheduler.
    tls : dict, optional
        ``{"ca": path, "cert": path, "key": path}``: the scheduler listens on
        ``tls://`` and every process uses these files.
    nanny : bool
        Start workers under a nanny (default: bare workers, so that a killed
        worker stays dead).
    """

    def __init__(self, workdir: Path, workers: int = 2, tls: dict | None = None, nanny: bool = False):
        self.workdir, self.tls, self.nanny = Path(workdir), tls, nanny
        self.port = free_port()
        self.protocol = "tls" if tls else "tcp"
        self.address = f"{self.protocol}://127.0.0.1:{self.port}"
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self._logs: list = []
        self.start_scheduler()
        for _ in range(workers):
            self.start_worker()
        self.wait_for_workers(workers)

    # processes
    def _tls_args(self) -> list[str]:
        if not self.tls:
            return []
        return [
            "--tls-ca-file",
            str(self.tls["ca"]),
            "--tls-cert",
            str(self.tls["cert"]),
            "--tls-key",
            str(self.tls["key"]),
        ]

    def _popen(self, args: list[str], log: str) -> subprocess.Popen:
        out = open(self.workdir / log, "ab")  # closed in close()
        self._logs.append(out)
        return subprocess.Popen(args, env=ENV, stdout=out, stderr=subprocess.STDOUT)

    def start_scheduler(self) -> None:
        """Start the scheduler (again) on the same address and wait until it listens."""
        self.scheduler = self._popen(
            [
                *DASK,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--protocol",
                self.protocol,
                "--no-dashboard",
                *self._tls_args(),
            ],
            "scheduler.log",
        )
        wait_until(lambda: port_open(self.port) or self.scheduler.poll() is not None, 60, "the scheduler")
        assert self.scheduler.poll() is None, (self.workdir / "scheduler.log").read_text()[-2000:]

    def start_worker(self) -> subprocess.Popen:
        args = [*DASK, "worker", self.address, "--nthreads", "1", "--no-dashboard", *self._tls_args()]
        if not self.nanny:
            args.append("--no-nanny")
        proc = self._popen(args, f"worker{len(self.workers)}.log")
        self.workers.append(proc)
        return proc

    def kill_scheduler(self) -> None:
        self.scheduler.kill()
        self.scheduler.wait()

    def close(self) -> None:
        for p in [*self.workers, self.scheduler]:
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        for f in self._logs:
            f.close()

    def __enter__(self) -> DaskProcesses:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # state, seen through a short-lived client
    def client(self):
        from distributed import Client
        from distributed.security import Security

        security = None
        if self.tls:
            security = Security(
                tls_ca_file=str(self.tls["ca"]),
                tls_client_cert=str(self.tls["cert"]),
                tls_client_key=str(self.tls["key"]),
                require_encryption=True,
            )
        return Client(self.address, security=security, timeout="20s")

    def wait_for_workers(self, n: int, timeout: float = 90) -> None:
        with self.client() as client:
            client.wait_for_workers(n, timeout=timeout)

    def wait_idle(self, timeout: float = 60) -> None:
        """Until the scheduler holds no task and no worker runs one (a cancelled
        block still being written counts as running)."""
        with self.client() as client:

            def idle() -> bool:
                tasks = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
                running = client.run(lambda dask_worker: len(dask_worker.state.executing))
                return tasks == 0 and sum(running.values()) == 0

            wait_until(lambda: idle() and (time.sleep(0.3) or idle()), timeout, "idle workers", interval=0.2)
