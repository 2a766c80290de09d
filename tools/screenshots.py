"""Regenerate the dashboard screenshots of README.md and docs/pareto.md from the real app.

Serves the shipped example store (``catalogs/stores/anode-free-small.zarr``)
with ``dse serve`` (once with a sensitivity table of the store, once with
``--cells examples/cells``), drives Debian's chromium (``/usr/bin/chromium``,
``--no-sandbox --disable-gpu``; never a downloaded browser) with Playwright,
and writes ``docs/images/dashboard-*.png``, each made smaller than
:data:`MAX_BYTES` by reducing its colours.

Run ``python tools/screenshots.py`` after changing what the dashboard shows.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STORE = ROOT / "catalogs" / "stores" / "anode-free-small.zarr"
CELLS = ROOT / "examples" / "cells"
OUT = ROOT / "docs" / "images"
CHROMIUM = os.environ.get("DSE_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1600, "height": 950}
#: largest PNG committed [bytes]
MAX_BYTES = 300_000
#: the cloud's hover names this for the designs of the pixel under the cursor
HOVER_TEXT = "designs in this pixel"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(*options: str):
    """``dse serve STORE OPTIONS`` on a free loopback port; yields its URL."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dse.cli", "serve", str(STORE), "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
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
            raise RuntimeError("the dashboard did not start")
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def shrink(path: Path) -> int:
    """Reduce a PNG to 256 colours, then fewer, until it is under :data:`MAX_BYTES`; its size."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    for colours in (256, 128, 64):
        image.quantize(colours, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        if path.stat().st_size < MAX_BYTES:
            break
    return path.stat().st_size


def open_page(browser, url: str):
    page = browser.new_page(viewport=VIEWPORT)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, timeout=300_000)
    page.wait_for_selector("text=designs on the front", timeout=300_000)
    page.wait_for_selector("canvas", timeout=60_000)
    page.wait_for_timeout(1500)
    page.errors = errors
    return page


#: runs in the page: where the plotting areas of images (the cloud, the parallel coordinates) are on the
#: screen, and the data ranges they show; in the order of the page
IMAGE_FRAMES = """() => {
  const found = [], seen = new Set();
  const walk = (v) => {
    if (!v || seen.has(v)) return;
    seen.add(v);
    const model = v.model, name = model ? model.constructor.__name__ : '';
    if ((name === 'Figure' || name === 'Plot') && model.renderers.some(
        r => r.glyph && ['Image', 'ImageRGBA'].includes(r.glyph.constructor.__name__))) {
      const box = v.frame.bbox, canvas = v.canvas_view.el.getBoundingClientRect();
      found.push({left: canvas.left + box.left, top: canvas.top + box.top, width: box.width, height: box.height,
                  x0: v.frame.x_range.start, x1: v.frame.x_range.end, y0: v.frame.y_range.start,
                  y1: v.frame.y_range.end});
    }
    try { for (const c of v.children()) walk(c); } catch (e) {}
  };
  for (const v of Bokeh.index) walk(v);
  return found;
}"""


#: runs in the page: what the cloud's server-side hover holds (the fields of the pixel under the mouse)
HOVER_DATA = """() => [...Bokeh.documents[0].all_models].filter(m => m.properties && m.properties.xy
                                                                  && m.properties.data).map(m => m.data)"""


def crowded_pixels(store: str | Path = STORE, count: int = 12) -> list[tuple[float, float, str]]:
    """Centres (plot coordinates) of the most crowded pixels of a store's default cloud, and each one's first design."""
    import numpy as np

    from dashboards.app import CLOUD_HEIGHT, CLOUD_WIDTH, Explorer
    from dse.explore import ResultsSource, aggregate

    source = ResultsSource(str(store))
    app = Explorer(source)
    xa, ya = app.axes()
    agg = aggregate(
        source.plot_column(xa.name),
        source.plot_column(ya.name),
        app.mask(),
        xa,
        ya,
        CLOUD_WIDTH,
        CLOUD_HEIGHT,
        first=True,
    )
    order = np.argsort(-agg["count"].ravel(), kind="stable")[:count]
    out = []
    for flat in order:
        r, c = divmod(int(flat), CLOUD_WIDTH)
        out.append(
            (
                xa.lo + (c + 0.5) * (xa.hi - xa.lo) / CLOUD_WIDTH,
                ya.lo + (r + 0.5) * (ya.hi - ya.lo) / CLOUD_HEIGHT,
                source.design_label(int(agg["first"][r, c])),
            )
        )
    return out


def hover_a_design(page, store: str | Path = STORE) -> str:
    """Move the mouse onto crowded pixels of the cloud until its hover names the pixel's first design; that name.

    The page shows the default view of ``store``; what the hover holds is
    read from the page (the server's answer), not from the app's objects.
    """
    frame = page.evaluate(IMAGE_FRAMES)[0]
    tooltip = page.locator(".bk-Tooltip")
    for x, y, design in crowded_pixels(store):
        page.mouse.move(
            frame["left"] + (x - frame["x0"]) / (frame["x1"] - frame["x0"]) * frame["width"],
            frame["top"] + (frame["y1"] - y) / (frame["y1"] - frame["y0"]) * frame["height"],
        )
        page.wait_for_timeout(1500)  # the server looks the pixel up
        shown = page.evaluate(HOVER_DATA)
        if tooltip.get_by_text(HOVER_TEXT).count() and shown and shown[0].get("design") == design:
            return design
    raise RuntimeError("the cloud's hover never named the first design of a crowded pixel")


def brush_axis(page, axis: int, low: float, high: float) -> None:
    """Drag a box over parallel axis number ``axis`` from height ``low`` to ``high`` (0-1 along the axis)."""
    frame = next(f for f in page.evaluate(IMAGE_FRAMES) if f["y0"] == 0 and f["y1"] == 1)

    def screen(x, y):
        return (
            frame["left"] + (x - frame["x0"]) / (frame["x1"] - frame["x0"]) * frame["width"],
            frame["top"] + (frame["y1"] - y) / (frame["y1"] - frame["y0"]) * frame["height"],
        )

    inward = -1 if axis > (frame["x0"] + frame["x1"]) / 2 else 1  # the box stays inside the plot, nearest the axis
    page.mouse.move(*screen(axis + inward * 0.02, high))
    page.mouse.down()
    page.mouse.move(*screen(axis + inward * 0.15, (high + low) / 2), steps=5)
    page.mouse.move(*screen(axis + inward * 0.3, low), steps=5)
    page.mouse.up()
    page.wait_for_timeout(2500)


def click_tab(page, name: str) -> None:
    tab_header(page, name).click()
    page.wait_for_timeout(1500)


def tab_header(page, name: str):
    return page.locator(".bk-tab").filter(has_text=re.compile(f"^{re.escape(name)}$")).first


def shoot(page, name: str, below=None, height: int = 900, left: int = 0, width: int | None = None) -> None:
    """Screenshot the viewport, or ``height`` pixels of the page from just above the element ``below``."""
    path = OUT / f"dashboard-{name}.png"
    if below is None:
        page.screenshot(path=str(path))
    else:
        below.scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        box = below.bounding_box()
        top = box["y"] + page.evaluate("window.scrollY") - 10
        page.screenshot(
            path=str(path),
            full_page=True,
            clip={"x": left, "y": top, "width": width or VIEWPORT["width"] - left, "height": height},
        )
    print(f"wrote {path.relative_to(ROOT)} ({shrink(path) / 1000:.0f} kB)")


def front_rows(page):
    return page.locator(".tabulator-row")


def main() -> int:
    from playwright.sync_api import sync_playwright

    from dashboards.app import Explorer
    from dse.explore import ResultsSource
    from dse.sensitivity import sensitivity

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "sensitivity.csv"
        sensitivity(str(STORE), ["specific_energy", "cycle_life"], n_boot=0).to_csv(table, index=False)
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
            with serving("--sensitivity", str(table)) as url:
                page = open_page(browser, url)
                print("hover names", hover_a_design(page))
                shoot(page, "cloud-hover")
                # two designs of the front pinned, then compared
                for k in (0, 3):
                    front_rows(page).nth(k).click()
                    page.get_by_role("button", name="Pin design").click()
                    page.wait_for_timeout(800)
                    click_tab(page, "Front")
                click_tab(page, "Design")
                page.wait_for_selector("text=— feasible", timeout=60_000)
                shoot(page, "card")
                click_tab(page, "Pinned")
                page.wait_for_timeout(2000)
                header = tab_header(page, "Pinned")
                left = int(tab_header(page, "Front").bounding_box()["x"]) - 10
                shoot(page, "pinned", below=header, height=1250, left=left, width=VIEWPORT["width"] - left)
                # two ranges brushed on the parallel coordinates (a box drawn on each axis): a filter, a constraint
                click_tab(page, "Parallel coordinates")
                names = Explorer(ResultsSource(str(STORE))).parallel_names()
                for name, (low, high) in (("cathode_loading", (0.3, 0.75)), ("cycle_life", (0.45, 0.95))):
                    brush_axis(page, names.index(name), low, high)
                    page.wait_for_function(
                        f"() => decodeURIComponent(window.location.search).includes('{name}')", timeout=30_000
                    )
                shoot(page, "parallel", below=tab_header(page, "Parallel coordinates"), height=480, left=340)
                click_tab(page, "Sensitivity")
                page.wait_for_selector("text=Sensitivity of each output", timeout=60_000)
                shoot(page, "sensitivity", below=tab_header(page, "Sensitivity"), height=700, left=340)
                errors = page.errors
            with serving("--cells", str(CELLS)) as url:
                page = open_page(browser, url)
                page.wait_for_selector("text=measured cells at their measured values", timeout=60_000)
                shoot(page, "cells")
                errors += page.errors
            browser.close()
    if errors:
        print("errors in the page:", *errors, sep="\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
