"""A loop of plain ``GET /`` against ``dse serve``: server CPU time and memory.

Every ``GET /`` of a Bokeh/Panel server builds a session, which for the dse
dashboard means a whole Explorer. This script starts ``dse serve`` on
127.0.0.1 as a subprocess (with the ``dse`` of ``--source``, default: this
checkout), waits for it, then sends N plain GETs one after another (default
50, no websocket, as a scraper or a flood would) and reports, from
``/proc/<pid>``, the server's CPU time (user + system) and resident memory
before, at the end, and its peak (``VmHWM``), and the wall time of the loop.
It then waits for unused sessions to expire and reports the memory again.

Run: ``python benchmarks/serve_get_loop.py [--requests 50] [--store PATH] [--source DIR]``
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--store", default=str(ROOT / "catalogs" / "stores" / "anode-free-small.zarr"))
    parser.add_argument("--source", default=str(ROOT), help="checkout whose dse to run")
    parser.add_argument("--settle", type=float, default=40.0, help="seconds to wait for sessions to expire")
    args = parser.parse_args()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": args.source}
    server = subprocess.Popen(
        [sys.executable, "-m", "dse.cli", "serve", args.store, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=args.source,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            assert server.poll() is None, "dse serve stopped"
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        time.sleep(2)
        cpu0, rss0 = cpu_seconds(server.pid), memory_mb(server.pid)
        t = time.perf_counter()
        for _ in range(args.requests):
            with urllib.request.urlopen(url, timeout=600) as r:
                r.read()
        wall = time.perf_counter() - t
        cpu1, rss1, peak = cpu_seconds(server.pid), memory_mb(server.pid), memory_mb(server.pid, "VmHWM")
        time.sleep(args.settle)
        rss2 = memory_mb(server.pid)
        print(
            f"source {args.source}: {args.requests} GETs in {wall:.1f} s; server CPU {cpu1 - cpu0:.1f} s "
            f"({(cpu1 - cpu0) / args.requests:.2f} s per GET); RSS {rss0:.0f} -> {rss1:.0f} MB "
            f"(peak {peak:.0f} MB), {rss2:.0f} MB {args.settle:.0f} s later"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
