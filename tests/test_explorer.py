"""End-to-end tests of the explorer in headless Chromium (Debian's chromium, driven by Playwright).

The server is started with ``python -m sim app``; screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FIELDS = re.compile(
    r"round (\d+) · agreement (\d) · progress ([\d.]+) · trust ([\d.]+) · position gap ([\d.]+) · "
    r"ideas reported (\d+) · cost ([\d.]+)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "server.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "sim", "app", "--port", str(port)], cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"the explorer did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed for these tests: apt-get install chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.errors = []
    page.on("console", lambda m: page.errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(f"pageerror: {e}"))
    page.goto(server)
    try:
        expect(page.locator(".readout-A")).to_contain_text("A: round 0 ", timeout=60000)
    except AssertionError:
        pytest.fail(f"the page did not load; errors: {page.errors}")
    yield page
    page.close()


def values(page, label: str = "A") -> tuple:
    text = page.locator(f".readout-{label}").inner_text()
    m = FIELDS.search(text)
    assert m, text
    return tuple(float(g) for g in m.groups())


def step(page, n: int) -> None:
    for _ in range(n):
        r = int(values(page)[0])
        page.get_by_role("button", name="Step").click()
        expect(page.locator(".readout-A")).to_contain_text(f"A: round {r + 1} ", timeout=20000)


def curves_src(page) -> int:
    """A hash of the bytes of the curves figure as the browser shows it."""
    return page.locator("img").first.evaluate(
        "async img => { const b = new Uint8Array(await (await fetch(img.src)).arrayBuffer());"
        " let h = 7; for (const x of b) h = (h * 31 + x) >>> 0; return h; }"
    )


def test_page_loads_without_console_errors(page):
    step(page, 1)
    assert values(page)[0] == 1
    assert page.locator("img").count() >= 3  # curves, network, positions
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explorer.png"), full_page=True)
    assert page.errors == []


def test_slider_then_step_changes_the_plotted_values(page):
    step(page, 8)
    before, img_before = values(page), curves_src(page)
    page.get_by_role("button", name="Reset").click()
    expect(page.locator(".readout-A")).to_contain_text("A: round 0 ")
    slider = page.locator(".v-input", has_text="turnover (per round)").get_by_role("slider")
    slider.focus()
    page.keyboard.press("End")  # turnover to its maximum, 1 per round
    page.wait_for_timeout(1500)
    expect(page.locator(".readout-A")).to_contain_text("A: round 0 ")
    step(page, 8)
    after, img_after = values(page), curves_src(page)
    assert after[0] == before[0] == 8
    assert after != before  # with every delegate replaced each round the trajectory differs
    assert img_after != img_before
    assert page.errors == []


def test_reset_restores_the_start(page):
    start, img_start = values(page), curves_src(page)
    step(page, 5)
    assert values(page) != start
    page.get_by_role("button", name="Reset").click()
    expect(page.locator(".readout-A")).to_contain_text("A: round 0 ")
    assert values(page) == start
    assert curves_src(page) == img_start
    assert page.errors == []


def test_compare_mode_shows_two_runs(page):
    page.get_by_text("compare mode").click()
    expect(page.locator(".readout-B")).to_contain_text("B: round 0 ", timeout=20000)
    step(page, 10)
    a, b = values(page, "A"), values(page, "B")
    assert a[0] == b[0] == 10  # both advance together
    assert a != b  # B has turnover 0.5 instead of the scenario's 0.1, same seed
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explorer-compare.png"), full_page=True)
    assert page.errors == []


def test_play_advances_and_pause_stops(page):
    page.get_by_role("button", name="Play").click()
    expect(page.locator(".readout-A")).to_contain_text("A: round 3 ", timeout=30000)
    page.get_by_role("button", name="Pause").click()
    page.wait_for_timeout(1500)
    stopped = values(page)[0]
    page.wait_for_timeout(1500)
    assert values(page)[0] == stopped >= 3
    assert page.errors == []
