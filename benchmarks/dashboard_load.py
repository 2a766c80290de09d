"""Ten browser sessions filtering a 10^6-design store at once: latency and server memory.

The script builds a 10^6-design store with ``dse sweep`` (or takes one with
``--store``), starts ``dse serve`` as a subprocess and drives N sessions
(default 10) as pages of one headless Chromium (Debian's, via Playwright;
never a downloaded browser). Each session repeatedly narrows a filter (drops
one cathode or electrolyte, or pulls a range slider in) and then restores
it, as a user exploring would, with a short pause between actions.

Per action it records:

* **front summary shown** - from setting the widget until the page shows the
  new number of filtered designs (the server recomputed the mask and the
  front and the browser drew the patch), polled every 20 ms;
* **last server patch** - until the last change the server sent for that
  action (cloud image, histograms, summary) reached the page's document,
  measured with the page's own clock after it has been quiet for 0.5 s.

The server's resident memory (RSS) is sampled throughout. A warm-up round of
sessions is opened, used and closed first; its settled RSS is the baseline.
After the measured round closes, the script waits for the server to discard
the sessions (`dse serve` drops a session DSE_UNUSED_SESSION_SECONDS, 15 s by
default, after its websocket closes, checking every DSE_CHECK_UNUSED_SECONDS;
dashboards/server.py) and
reports whether RSS came back to the baseline within a tolerance: a
per-session leak would show as growth of about N x (session size) per round.

Run: ``python benchmarks/dashboard_load.py [--quick] [--store PATH] [--sessions 10] [--duration 60]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

CHROMIUM = os.environ.get("DSE_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}

#: 4 cathodes x 4 electrolytes x 25 loadings x 10 collectors x 25 pressures x 2 temperatures x 5 DoD = 10^6
SPEC = """\
name: dashboard load (10^6 designs)
inputs:
  metal: Li
  cathode: [NMC811, NMC622, NCA, LFP]
  electrolyte: [Li-carbonate, Li-dual-salt, Li-ether, Li-LHCE]
  cathode_loading: {linspace: [1 mAh/cm^2, 8 mAh/cm^2, 25]}
  current_collector_thickness: {linspace: [2 um, 12 um, 10]}
  stack_pressure: {linspace: [0 MPa, 3 MPa, 25]}
  temperature: [25 degC, 45 degC]
  depth_of_discharge: [0.6, 0.7, 0.8, 0.9, 1.0]
"""

# Runs in the page: the widgets (Bokeh models) a session can filter with.
FIND_WIDGETS = """() => {
  const models = [...Bokeh.documents[0].all_models];
  const name = m => m.constructor.__name__;
  return {
    multi: models.filter(m => name(m) === 'MultiChoice').map(m => ({id: m.id, options: m.options, title: m.title})),
    range: models.filter(m => name(m) === 'RangeSlider').map(m => ({id: m.id, start: m.start, end: m.end,
                                                                      title: m.title})),
  };
}"""

# Runs in the page: remember when the document last changed (server patches included).
WATCH_CHANGES = """() => {
  window.__dseLastChange = performance.now();
  Bokeh.documents[0].on_change(() => { window.__dseLastChange = performance.now(); }, true);
}"""

# Runs in the page: apply one filter value; the page's clock at that moment.
SET = """({id, kind, value}) => {
  const model = Bokeh.documents[0].get_model_by_id(id);
  const t0 = performance.now();
  if (kind === 'multi') { model.value = value; } else { model.setv({value: value, value_throttled: value}); }
  return t0;
}"""

# Runs in the page: wait until the document has had no change for 0.5 s; when its last change came.
SETTLED = """async ({timeout}) => {
  const start = performance.now();
  while (performance.now() - window.__dseLastChange < 500 && performance.now() - start < timeout) {
    await new Promise(r => setTimeout(r, 25));
  }
  return window.__dseLastChange;
}"""
FILTERED = re.compile(r"of ([\d,]+) filtered")


@dataclass
class Stats:
    """Latencies [ms] and failures of the measured round."""

    summary: list[float] = field(default_factory=list)
    last_patch: list[float] = field(default_factory=list)
    timeouts: int = 0
    errors: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(values: list[float]) -> str:
    if not values:
        return "no data"
    q = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else [values[0]] * 99
    return f"p50 {q[49]:7.0f}  p90 {q[89]:7.0f}  p99 {q[98]:7.0f}  max {max(values):7.0f}  (n={len(values)})"


def build_store(path: Path) -> None:
    spec = path.parent / "dashboard_load.yaml"
    spec.write_text(SPEC)
    print(f"building {path} (10^6 designs) with dse sweep ...", flush=True)
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "dse.cli", "sweep", str(spec), "-o", str(path), "--quiet", "--overwrite"],
        check=True,
        env=ENV,
    )
    print(f"  built in {time.perf_counter() - t:.0f} s", flush=True)


def start_server(store: str, port: int, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dse.cli", "serve", store, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=ENV,
        )
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"dse serve ended: {log.read_text()}")
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("dse serve did not start")


class Memory:
    """RSS of the server process, sampled every half second [MB]."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task | None = None

    def now(self) -> float:
        return self.process.memory_info().rss / 2**20

    async def _run(self) -> None:
        while True:
            self.samples.append((time.time(), self.now()))
            await asyncio.sleep(0.5)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def peak_since(self, t0: float) -> float:
        return max((v for t, v in self.samples if t >= t0), default=self.now())

    async def settle(self, seconds: float) -> float:
        """Wait ``seconds``; return the median RSS of the last five seconds."""
        await asyncio.sleep(seconds)
        recent = [v for t, v in self.samples if t >= time.time() - 5]
        return statistics.median(recent) if recent else self.now()


async def session(
    browser,
    url: str,
    duration: float,
    stats: Stats | None,
    seed: int,
    timeout_ms: float,
    max_actions: int | None = None,
) -> None:
    """One user: open the dashboard, then narrow and restore filters for ``duration`` seconds."""
    rng = random.Random(seed)
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = await context.new_page()
        await page.goto(url, timeout=600_000)
        await page.wait_for_selector("text=designs on the front", timeout=600_000)
        await page.evaluate(WATCH_CHANGES)
        widgets = await page.evaluate(FIND_WIDGETS)
        summary = page.get_by_text(FILTERED).first
        full = FILTERED.search(await summary.inner_text()).group(1)
        until = time.time() + duration
        actions = 0
        while time.time() < until and (max_actions is None or actions < max_actions):
            if rng.random() < 0.5 and widgets["multi"]:
                w = rng.choice(widgets["multi"])
                dropped = rng.choice(w["options"])  # one option, drawn once (not once per option)
                narrowed = [o for o in w["options"] if o != dropped]
                steps = [("multi", w["id"], narrowed), ("multi", w["id"], w["options"])]
            else:
                w = rng.choice(widgets["range"])
                lo, hi = w["start"], w["end"]
                steps = [("range", w["id"], [lo, lo + (hi - lo) * rng.uniform(0.3, 0.8)]), ("range", w["id"], [lo, hi])]
            for (kind, wid, value), narrowing in zip(steps, (True, False), strict=True):
                t0 = time.perf_counter()
                t0_page = await page.evaluate(SET, {"id": wid, "kind": kind, "value": value})
                latency = None
                while time.perf_counter() - t0 < timeout_ms / 1000:
                    found = FILTERED.search(await summary.inner_text())
                    # narrowing drops designs (every option and range end has feasible designs: the widgets
                    # are built from them); restoring brings back exactly the full count
                    if found and (found.group(1) != full) == narrowing:
                        latency = 1000 * (time.perf_counter() - t0)
                        break
                    await asyncio.sleep(0.02)
                last_change = await page.evaluate(SETTLED, {"timeout": timeout_ms})
                actions += 1
                if stats is None:
                    continue
                if latency is None:
                    stats.timeouts += 1
                    stats.unanswered.append(f"{kind} {w.get('title') or w.get('start')}: {value}")
                    continue
                stats.summary.append(latency)
                stats.last_patch.append(max(latency, last_change - t0_page))
                await asyncio.sleep(rng.uniform(0.2, 0.6))
    except Exception as exc:  # a failed session is reported, the others go on
        if stats is not None:
            stats.errors.append(f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:160]}")
        else:
            raise
    finally:
        await context.close()


async def run(args: argparse.Namespace, url: str, server: subprocess.Popen) -> dict:
    from playwright.async_api import async_playwright

    memory = Memory(server.pid)
    memory.start()
    loaded = memory.now()
    print(f"server RSS after loading the store: {loaded:,.0f} MB", flush=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--disable-renderer-backgrounding",
                "--disable-background-timer-throttling",
                "--disable-backgrounding-occluded-windows",
            ],
        )
        print(f"warm-up: {args.sessions} sessions, 2 actions each, then closed", flush=True)
        t = time.perf_counter()
        await asyncio.gather(
            *(
                session(browser, url, 3600, None, 1000 + i, args.timeout * 1000, max_actions=2)
                for i in range(args.sessions)
            )
        )
        print(
            f"  warm-up took {time.perf_counter() - t:.0f} s; waiting {args.settle:.0f} s for the server to drop "
            "the sessions",
            flush=True,
        )
        baseline = await memory.settle(args.settle)
        print(f"baseline RSS (after warm-up sessions closed): {baseline:,.0f} MB", flush=True)

        stats = Stats()
        t0 = time.time()
        print(f"measured: {args.sessions} sessions filtering for {args.duration:.0f} s each", flush=True)
        await asyncio.gather(
            *(session(browser, url, args.duration, stats, i, args.timeout * 1000) for i in range(args.sessions))
        )
        elapsed = time.time() - t0
        peak = memory.peak_since(t0)
        await browser.close()
    print(f"  sessions closed after {elapsed:.0f} s; waiting {args.settle:.0f} s", flush=True)
    after = await memory.settle(args.settle)
    tolerance = max(args.tolerance_mb, 0.10 * baseline)
    return {
        "designs": 0,
        "sessions": args.sessions,
        "duration_s": args.duration,
        "actions": len(stats.last_patch),
        "timeouts": stats.timeouts,
        "errors": stats.errors,
        "unanswered": stats.unanswered,
        "summary_ms": stats.summary,
        "last_patch_ms": stats.last_patch,
        "rss_loaded_mb": loaded,
        "rss_baseline_mb": baseline,
        "rss_peak_mb": peak,
        "rss_after_mb": after,
        "tolerance_mb": tolerance,
        "returned": after <= baseline + tolerance,
        "per_session_growth_mb": (after - baseline) / args.sessions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="an existing store (default: build a 10^6-design one in a temp folder)")
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of filtering per session")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds to wait after closing sessions")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one action may take")
    parser.add_argument("--tolerance-mb", type=float, default=50.0, help="RSS allowed above the baseline")
    parser.add_argument("--quick", action="store_true", help="15 s of filtering, 45 s settle (a smoke run)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.settle = 15.0, 45.0
    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"{CHROMIUM} not found (Debian: apt-get install chromium)")
    scratch = None
    store = args.store
    if store is None:
        scratch = Path(tempfile.mkdtemp(prefix="dse-load-"))
        store = str(scratch / "load.zarr")
        build_store(Path(store))
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="dse-load-log-")) / "serve.log"
    t = time.perf_counter()
    server = start_server(store, port, log)
    print(f"dse serve up in {time.perf_counter() - t:.0f} s on port {port} (log: {log})", flush=True)
    try:
        result = asyncio.run(run(args, f"http://127.0.0.1:{port}/", server))
        found = re.search(r"feasible designs of ([\d,]+)", log.read_text())
        result["designs"] = int(found.group(1).replace(",", "")) if found else 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    print()
    print(
        f"{result['sessions']} sessions x {result['duration_s']:.0f} s on {result['designs']:,} designs: "
        f"{result['actions']} filter actions, {result['timeouts']} unanswered within {args.timeout:.0f} s, "
        f"{len(result['errors'])} failed sessions"
    )
    print(f"  filter -> front summary shown [ms]:  {percentiles(result['summary_ms'])}")
    print(f"  filter -> last server patch [ms]:    {percentiles(result['last_patch_ms'])}")
    print(
        f"  server RSS [MB]: loaded {result['rss_loaded_mb']:,.0f}, baseline {result['rss_baseline_mb']:,.0f}, "
        f"peak {result['rss_peak_mb']:,.0f}, after {result['rss_after_mb']:,.0f} "
        f"({result['per_session_growth_mb']:+.1f} MB per session)"
    )
    verdict = "returned to baseline" if result["returned"] else "did NOT return to baseline"
    print(f"  memory {verdict} (tolerance {result['tolerance_mb']:.0f} MB)")
    for e in result["errors"]:
        print(f"  session error: {e}")
    for u in result["unanswered"]:
        print(f"  unanswered: {u}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if not result["returned"] or result["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
