"""A filter change in the dashboard at 10^6 to 10^8 designs: this code against an earlier commit or another tree.

For each store size the script builds a grid store with ``dse sweep`` (or
takes ``--store``), then runs, in a fresh process per implementation (so
memory is its own):

* **open + warm-up** - open the store and compile the kernels (what
  ``dse serve`` does before it listens);
* **first render** - build a session's view objects (the aggregated cloud,
  the front and its table, the histograms' counts), the first time;
* **next session** - the same for a second session of the running server
  (what a user opening the page waits for, less the browser's drawing);
* **filter change** - the server-side work of one filter change, with the
  session's panes built as a server builds them (they redraw themselves on
  the change): the filtered designs, their front, the new cloud image, the
  front points and table, and the histograms; not the Bokeh serialization
  and the browser's drawing (``dashboard_load.py`` measures those). Over a
  fixed sequence of changes (drop a
  cathode, narrow the loading, drop an electrolyte, narrow the pressure,
  restore), median of the changes;
* **RSS** - the process's resident memory after the changes, and its peak [MB].

The earlier implementation is ``dashboards/app.py`` at ``--baseline``
(default: the commit before the data layer moved to ``dse.explore``), read
with ``git show`` and imported from a temporary file; both run on the same
store in the same run, so their medians compare. With ``--baseline-tree
DIR`` (e.g. ``/work/main``, another checkout of the project) the baseline
is instead this script's worker run with ``PYTHONPATH=DIR``: the same
measurements of that tree's ``dse`` and ``dashboards``, so a branch compares
with main. The ``git show`` baseline holds the whole store in pandas: at
10^8 designs it needs far more memory than the machine has (``--only new``).

Run: ``python benchmarks/dashboard_filter.py [--sizes 1e6 1e7 1e8] [--baseline REV | --baseline-tree DIR]
[--repeat 2] [--store PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
BASELINE = "658602b"

#: 4 cathodes x 4 electrolytes x 25 loadings x 10 collectors x 25 pressures x T temperatures x 5 DoD
SPEC = """\
name: dashboard filter benchmark
inputs:
  metal: Li
  cathode: [NMC811, NMC622, NCA, LFP]
  electrolyte: [Li-carbonate, Li-dual-salt, Li-ether, Li-LHCE]
  cathode_loading: {{linspace: [1 mAh/cm^2, 8 mAh/cm^2, 25]}}
  current_collector_thickness: {{linspace: [2 um, 12 um, 10]}}
  stack_pressure: {{linspace: [0 MPa, 3 MPa, 25]}}
  temperature: {{linspace: [15 degC, 45 degC, {temperatures}]}}
  depth_of_discharge: [0.6, 0.7, 0.8, 0.9, 1.0]
"""
CHANGES = [
    {"cathode": ["NCA", "NMC622", "NMC811"]},
    {"cathode": ["NCA", "NMC622", "NMC811"], "cathode_loading": [1.0, 5.0]},
    {
        "cathode": ["NCA", "NMC622", "NMC811"],
        "cathode_loading": [1.0, 5.0],
        "electrolyte": ["Li-dual-salt", "Li-ether", "Li-LHCE"],
    },
    {"stack_pressure": [0.5, 2.0]},
    {},
]


def build_store(path: Path, designs: int) -> None:
    temperatures = max(1, round(designs / 500_000))
    spec = path.parent / f"{path.stem}.yaml"
    spec.write_text(SPEC.format(temperatures=temperatures))
    print(f"building {path} ({500_000 * temperatures:,} designs) with dse sweep ...", flush=True)
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "dse.cli", "sweep", str(spec), "-o", str(path), "--quiet", "--overwrite"],
        check=True,
        env=ENV,
    )
    print(f"  built in {time.perf_counter() - t:.0f} s", flush=True)


# --------------------------------------------------------------------------- one implementation
def _old_module(rev: str):
    import importlib.util

    text = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:dashboards/app.py"], check=True, capture_output=True, text=True
    ).stdout
    path = Path(tempfile.mkdtemp(prefix="dse-old-app-")) / "old_app.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("old_app", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def worker(kind: str, store: str, rev: str, repeat: int) -> dict:
    """Time the first render and the filter changes of one implementation in this process."""
    import psutil

    t0 = time.perf_counter()
    if kind == "old":
        import datashader as ds
        from holoviews.operation.datashader import rasterize

        app_module = _old_module(rev)
        source = app_module.ResultsSource(store)
        app_module.warm_up()
        loaded = time.perf_counter() - t0
        app = app_module.Explorer(source)
        app.__panel__()  # the session's panes: they watch the state and redraw on a change
        n = len(source.table)

        def change(filters):
            app.filters = filters  # front summary and histograms redraw (their panes watch the filters)
            points = app._points(app.x, app.y, app.color, app.filters)  # the cloud's DynamicMap callbacks
            rasterize(points, aggregator=ds.count_cat(app.color), dynamic=False, width=640, height=420)
            app._front_points(app.x, app.y, app.filters, app.front_scope)
    else:
        from dashboards.app import Explorer, warm_up
        from dse.explore import ResultsSource

        source = ResultsSource(store)
        warm_up()
        loaded = time.perf_counter() - t0
        app = Explorer(source)
        app.__panel__()  # the session's panes: they watch the state and redraw on a change
        n = len(source)

        def change(filters):
            app.filters = filters  # the front table redraws (it watches the filters)
            app._image()  # the cloud's DynamicMap callbacks
            app._front_points()
            app._band()
            for name in source.inputs:  # the input charts' DynamicMaps (while their tab is shown)
                app.histogram_element(name)

    change({})
    first = time.perf_counter() - t0 - loaded
    times = []
    for _ in range(repeat):
        for filters in CHANGES:
            t = time.perf_counter()
            change(filters)
            times.append(time.perf_counter() - t)
    # a later session of the running server: what a user who opens the page waits for
    t = time.perf_counter()
    other = (app_module if kind == "old" else sys.modules["dashboards.app"]).Explorer(source)
    other.__panel__()
    if kind == "old":
        rasterize(
            other._points(other.x, other.y, other.color, other.filters),
            aggregator=ds.count_cat(other.color),
            dynamic=False,
            width=640,
            height=420,
        )
        other._front_points(other.x, other.y, other.filters, other.front_scope)
    else:
        other._image()
        other._front_points()
    session = time.perf_counter() - t
    rss = psutil.Process().memory_info().rss / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # kB on Linux
    return {
        "kind": kind,
        "designs": n,
        "server_start_s": loaded,
        "first_render_s": first,
        "session_s": session,
        "change_s": times,
        "change_median_s": statistics.median(times),
        "rss_mb": rss,
        "peak_rss_mb": peak,
    }


def run_worker(kind: str, store: str, rev: str, repeat: int, tree: str | None = None) -> dict:
    """One implementation in a fresh process: ``old`` (``dashboards/app.py`` at ``rev``), ``new`` (this tree), or
    ``base``: this worker with ``tree`` first on ``PYTHONPATH`` instead of this tree."""
    env = ENV
    if kind == "base":
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(Path(tree).resolve())}
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            "old" if kind == "old" else "new",
            "--store",
            store,
            "--baseline",
            rev,
            "--repeat",
            str(repeat),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{kind} worker failed:\n{proc.stdout}\n{proc.stderr}")
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "kind": kind}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7], help="designs per store")
    parser.add_argument("--store", help="one existing store instead of building them")
    parser.add_argument("--baseline", default=BASELINE, help="commit of the earlier dashboards/app.py")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of the filter changes")
    parser.add_argument(
        "--baseline-tree", help="another checkout (e.g. /work/main) as the baseline, instead of --baseline"
    )
    parser.add_argument("--only", choices=["old", "base", "new"], help="run one implementation")
    parser.add_argument("--worker", choices=["old", "new"], help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.store, args.baseline, args.repeat)))
        return
    if args.only == "base" and not args.baseline_tree:
        parser.error("--only base needs --baseline-tree")
    scratch = Path(tempfile.mkdtemp(prefix="dse-filter-bench-"))
    stores = [args.store] if args.store else []
    try:
        for size in [] if args.store else args.sizes:
            path = scratch / f"grid{int(size):d}.zarr"
            build_store(path, int(size))
            stores.append(str(path))
        results = []
        for store in stores:
            kinds = ["base" if args.baseline_tree else "old", "new"] if args.only is None else [args.only]
            for kind in kinds:
                print(f"{kind}: {store} ...", flush=True)
                run = run_worker(kind, store, args.baseline, args.repeat, args.baseline_tree)
                results.append({"store": store, **run})
        print()
        print(
            f"{'designs':>12} {'impl':>5} {'open + warm-up [s]':>19} {'first render [s]':>17} "
            f"{'next session [s]':>17} {'filter change median [s]':>25} {'min-max [s]':>14} {'RSS [MB]':>9} "
            f"{'peak [MB]':>10}"
        )
        for r in results:
            print(
                f"{r['designs']:>12,} {r['kind']:>5} {r['server_start_s']:>19.2f} {r['first_render_s']:>17.2f} "
                f"{r['session_s']:>17.2f} "
                f"{r['change_median_s']:>25.3f} "
                f"{min(r['change_s']):>6.3f}-{max(r['change_s']):<7.3f} {r['rss_mb']:>9,.0f} "
                f"{r['peak_rss_mb']:>10,.0f}"
            )
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
