"""One end-to-end run of the dashboard in a real headless Chromium.

Debian's chromium (``/usr/bin/chromium``) driven by Playwright's Python client,
launched with ``--no-sandbox --disable-gpu``; no browser is ever downloaded.
The run hovers the cloud (the tooltip must name the first design of the
pixel under the mouse), applies a filter and an output constraint through the
page's widgets, checks the front count against the store's own Pareto
computation (what ``dse pareto --where`` does), clicks a design of the front
table and reads its card, reloads the URL and checks that the widgets show
the state, then brushes a range on a parallel axis with the mouse and checks
the filter it sets and the count of designs in it. Screenshots go to
``tests/artifacts/`` (git-ignored; CI keeps them).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = os.environ.get("DSE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
pytestmark = pytest.mark.browser
SUMMARY = re.compile(r"([\d,]+) designs on the front\s+of ([\d,]+) filtered")

# Runs in the page: Bokeh widget models by kind, with what identifies them.
FIND_WIDGETS = """() => {
  const models = [...Bokeh.documents[0].all_models];
  const name = m => m.constructor.__name__;
  return {
    multi: models.filter(m => name(m) === 'MultiChoice').map(m => ({id: m.id, title: m.title, value: m.value})),
    range: models.filter(m => name(m) === 'RangeSlider').map(m => ({id: m.id, start: m.start, end: m.end,
                                                                      value: m.value})),
  };
}"""
SET = """({id, value, throttled}) => {
  const model = Bokeh.documents[0].get_model_by_id(id);
  if (throttled) { model.setv({value: value, value_throttled: value}); } else { model.value = value; }
}"""


def screenshots():
    """``tools/screenshots.py`` (where the page's cloud is, and how to hover a design of it) as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("screenshots", Path(__file__).parents[2] / "tools" / "screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def url_value(text: str):
    """A dict of the URL: JSON as the app writes it, or the Python literal Panel's location sync writes."""
    import ast

    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return ast.literal_eval(text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(small_store):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dse.cli", "serve", small_store, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    # wait until the port accepts connections; an HTTP probe would open a whole app session
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stdout.read())
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError("dashboard did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def store_front_count(store: str, objectives: dict, where: str) -> int:
    """Designs on the front across scenarios, computed as ``dse pareto --where`` does (dse.pareto)."""
    from dse.pareto import nondominated, pareto_mask
    from dse.store import open_results

    values = []
    for ds in open_results(store).values():
        mask = pareto_mask(ds, objectives, where=where).values
        values.append(np.column_stack([ds[n].values[mask] for n in objectives]))
    values = np.concatenate(values)
    return int(nondominated(values, list(objectives.values())).sum()) if len(values) else 0


def summary(page, filtered: int) -> tuple[int, int]:
    """(designs on the front, filtered designs) once the page shows ``filtered`` designs."""
    line = page.get_by_text(re.compile(f"of {filtered:,} filtered")).first
    line.wait_for(timeout=60_000)
    found = SUMMARY.search(line.inner_text())
    return int(found.group(1).replace(",", "")), int(found.group(2).replace(",", ""))


def test_dashboard_in_headless_chromium(server, small_store):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    from dse.explore import ResultsSource

    source = ResultsSource(small_store)
    nmc = source.mask({"cathode": ["NMC811"]})
    limit = float(np.quantile(source.column("cost")[nmc], 0.6))
    expect_filtered = int(source.mask({"cathode": ["NMC811"]}, {"cost": [None, limit]}).sum())
    expect_front = store_front_count(
        small_store, {"energy_density": "max", "cycle_life": "max"}, f"cathode == 'NMC811' and cost <= {limit!r}"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server, timeout=300_000)
        page.wait_for_selector("text=designs on the front", timeout=300_000)
        page.wait_for_selector("canvas", timeout=60_000)
        # the cloud's hover, moved onto crowded pixels, names each one's first design (as the server looked it up)
        assert re.fullmatch(r"\w+ design \d+", screenshots().hover_a_design(page, small_store))
        widgets = page.evaluate(FIND_WIDGETS)
        cathode = next(w for w in widgets["multi"] if w["title"].startswith("Cathode active material"))
        lo, hi = source.extent("cost")
        cost = next(w for w in widgets["range"] if abs(w["start"] - lo) < 1e-3 and abs(w["end"] - hi) < 1e-3)
        # a filter and an output constraint, through the widgets' models (what a click on them changes)
        page.evaluate(SET, {"id": cathode["id"], "value": ["NMC811"], "throttled": False})
        page.evaluate(SET, {"id": cost["id"], "value": [lo, limit], "throttled": True})
        assert summary(page, expect_filtered) == (expect_front, expect_filtered)
        page.wait_for_function("() => window.location.search.includes('constraints')", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "dashboard-filtered.png"), full_page=True)
        # click the first design of the front table: its card opens, named as in the table
        first = page.locator(".tabulator-row").first
        name = first.locator('.tabulator-cell[tabulator-field="design"]').inner_text().strip()
        assert re.fullmatch(r"\w+ design \d+", name), name
        first.click()
        page.wait_for_selector(f"text={name} — feasible", timeout=60_000)
        assert page.locator(f"text={name} — feasible").first.is_visible()  # the card's tab is the active one
        page.screenshot(path=str(ARTIFACTS / "dashboard-card.png"), full_page=True)
        # reload the URL: the state comes back and the widgets show it
        page.wait_for_function("() => window.location.search.includes('design=')", timeout=30_000)
        url = page.url
        page.goto(url, timeout=300_000)
        # the design of the URL is on the card, in the active tab
        page.wait_for_selector(f"text={name} — feasible", timeout=300_000)
        widgets = page.evaluate(FIND_WIDGETS)
        assert next(w for w in widgets["multi"] if w["title"].startswith("Cathode active material"))["value"] == [
            "NMC811"
        ]
        cost = next(w for w in widgets["range"] if abs(w["start"] - lo) < 1e-3 and abs(w["end"] - hi) < 1e-3)
        assert cost["value"][1] == pytest.approx(limit, rel=1e-6)
        page.locator(".bk-tab").filter(has_text=re.compile(r"^Front$")).first.click()
        assert summary(page, expect_filtered) == (expect_front, expect_filtered)
        page.screenshot(path=str(ARTIFACTS / "dashboard-reloaded.png"), full_page=True)
        # a box drawn on the cathode-loading axis of the parallel coordinates becomes its filter: the URL has it,
        # and the page counts the designs the store holds in that range (on top of the other rules)
        tool = screenshots()
        page.locator(".bk-tab").filter(has_text=re.compile(r"^Parallel coordinates$")).first.click()
        tool.tab_header(page, "Parallel coordinates").scroll_into_view_if_needed()
        page.wait_for_timeout(2000)
        from dashboards.app import Explorer

        tool.brush_axis(page, Explorer(source).parallel_names().index("cathode_loading"), 0.3, 0.75)
        page.wait_for_function(
            "() => decodeURIComponent(window.location.search).includes('cathode_loading')", timeout=30_000
        )
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(page.url).query))
        filters, constraints = (url_value(query[k]) for k in ("filters", "constraints"))
        assert set(filters) == {"cathode", "cathode_loading"} and list(constraints) == ["cost"], page.url
        lo, hi = filters["cathode_loading"]
        loading = source.column("cathode_loading")
        assert loading.min() < lo < hi < loading.max()
        brushed = int(source.mask(filters, constraints).sum())
        assert 0 < brushed < expect_filtered
        page.locator(".bk-tab").filter(has_text=re.compile(r"^Front$")).first.click()
        assert summary(page, brushed)[1] == brushed
        page.screenshot(path=str(ARTIFACTS / "dashboard-brushed.png"), full_page=True)
        assert not errors, errors
        browser.close()
