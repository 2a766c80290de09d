"""One end-to-end run of the dashboard in a real headless Chromium.

Debian's chromium (``/usr/bin/chromium``) driven by Playwright's Python client,
launched with ``--no-sandbox --disable-gpu``; no browser is ever downloaded.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

CHROMIUM = os.environ.get("DSE_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(small_store):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dse.cli", "serve", small_store, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    # wait until the port accepts connections; an HTTP probe would open a whole app session
    # (loading and Datashader) per attempt and can starve a busy CI machine
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stdout.read())
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("dashboard did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_dashboard_in_headless_chromium(server, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + "?y=cost", timeout=300_000)
        page.wait_for_selector("text=designs on the front", timeout=300_000)
        page.wait_for_selector("canvas", timeout=60_000)
        # the URL state was applied: the y axis select shows cost
        assert page.locator("select").nth(1).input_value() == "cost"
        # change the x axis in the sidebar: the URL follows
        select = page.locator("select").first
        select.select_option("specific_energy")
        page.wait_for_function("() => window.location.search.includes('x=specific_energy')", timeout=60_000)
        assert "y=cost" in page.url
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        assert (tmp_path / "dashboard.png").stat().st_size > 20_000
        assert not errors, errors
        browser.close()
