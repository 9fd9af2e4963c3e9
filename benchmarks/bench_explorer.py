"""Benchmark: the explorer as a user feels it, measured in Chromium (Debian's, via Playwright).

For every shipped scenario (compare mode off): the time from a click on Step to the updated
view (the readout changed and the next frame painted; the charts are updated in the same
message batch, before the readout), as the median and 90th percentile over ``--steps`` clicks;
and Play's rate (rounds per second from the click on Play at round 0 over ``--play`` seconds,
or up to the scenario's horizon if that comes first, the speed control at its default of 10 rounds/s and at its maximum of 30).
A scenario shorter than ``--steps`` rounds is restarted between batches of clicks: a click at
the horizon changes nothing and would count as a lost update. The server is ``python -m sim app`` on a free port,
stopped at the end.

Run: .venv/bin/python benchmarks/bench_explorer.py [--steps 20] [--play 3]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect, sync_playwright

from sim.scenarios import load_scenario, scenario_names

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

STEP_JS = """
async (n) => {
  const button = [...document.querySelectorAll('button')].find(b => b.textContent.trim().toUpperCase() === 'STEP');
  const times = [];
  for (let i = 0; i < n; i++) {
    const before = document.querySelector('.readout-A').textContent;
    const t0 = performance.now();
    const done = new Promise(resolve => {
      const mo = new MutationObserver(() => {
        const el = document.querySelector('.readout-A');
        if (el && el.textContent !== before) { mo.disconnect(); requestAnimationFrame(() => resolve()); }
      });
      mo.observe(document.body, {subtree: true, childList: true, characterData: true});
    });
    button.click();
    await Promise.race([done, new Promise(resolve => setTimeout(resolve, 10000))]);  // a lost update counts as 10 s
    times.push(performance.now() - t0);
  }
  return times;
}
"""


def _round(page) -> int:
    return int(page.locator(".readout-A").inner_text().split("round ")[1].split(" ")[0])


def _start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", "app", "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/"
    for _ in range(360):
        try:
            urllib.request.urlopen(url, timeout=5)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the explorer did not start")


def _set_play_speed(page, value: int) -> None:
    """Set the speed slider by keyboard, one key at a time, each confirmed (keys pressed faster
    than the server answers were lost or doubled: "10" once ended at 30)."""
    slider = page.locator(".v-input", has_text="speed (rounds per second)").get_by_role("slider")
    slider.focus()
    if value >= 30:
        page.keyboard.press("End")
        expect(slider).to_have_attribute("aria-valuenow", "30")
        return
    page.keyboard.press("Home")
    expect(slider).to_have_attribute("aria-valuenow", "1")
    for k in range(2, value + 1):
        page.keyboard.press("ArrowRight")
        expect(slider).to_have_attribute("aria-valuenow", str(k))


def measure(page, name: str, steps: int, play_s: float) -> dict:
    page.locator(".v-select", has_text="scenario").first.click()
    page.locator(".v-overlay--active .v-list-item-title").get_by_text(name, exact=True).click()
    if page.get_by_role("button", name="Restart", exact=True).count() > 1 or page.locator(".pending").count():
        page.locator(".pending").get_by_role("button", name="Restart").click()
    expect(page.locator("h2")).to_have_text(name, timeout=60000)
    expect(page.locator(".readout-A")).to_contain_text("A: round 0 ", timeout=60000)
    page.wait_for_timeout(500)
    rounds = load_scenario(name).rounds
    times: list[float] = []
    while len(times) < steps:  # a short scenario is restarted rather than stepped past its horizon
        if times:
            page.get_by_role("button", name="Restart", exact=True).click()
            expect(page.locator(".readout-A")).to_contain_text("A: round 0 ", timeout=60000)
            page.wait_for_timeout(300)
        times += page.evaluate(STEP_JS, min(steps - len(times), rounds))
    rates = {}
    for speed in (10, 30):
        page.get_by_role("button", name="Restart", exact=True).click()
        expect(page.locator(".readout-A")).to_contain_text("A: round 0 ", timeout=60000)
        _set_play_speed(page, speed)
        page.get_by_role("button", name="Play").click()
        t0 = time.perf_counter()  # from the click on Play at round 0, first round's latency included
        target = min(rounds, max(1, int(play_s * speed)))  # timed while the run is short of its horizon
        page.wait_for_function(
            "t => Number(document.querySelector('.readout-A').textContent.split('round ')[1].split(' ')[0]) >= t",
            arg=target,
            timeout=max(30000, play_s * 10000),
            polling="raf",
        )
        r0, r1, t1 = 0, _round(page), time.perf_counter()
        if page.get_by_role("button", name="Pause").count():
            with contextlib.suppress(PlaywrightTimeout):  # the run may reach its horizon meanwhile
                page.get_by_role("button", name="Pause").click(timeout=2000)
        rates[speed] = (r1 - r0) / (t1 - t0)
    _set_play_speed(page, 10)
    page.get_by_role("button", name="Restart", exact=True).click()
    return {
        "median_ms": statistics.median(times),
        "p90_ms": statistics.quantiles(times, n=10)[-1],
        "play10": rates[10],
        "play30": rates[30],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--play", type=float, default=3.0)
    args = ap.parse_args()
    proc, url = _start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            expect(page.locator(".readout-A")).to_contain_text("A: round 0 ", timeout=120000)
            page.locator(".curves canvas").first.wait_for(timeout=60000)
            print(f"{'scenario':24s} {'step median ms':>15s} {'p90 ms':>8s} {'play r/s @10':>13s} {'play r/s @30':>13s}")
            for name in scenario_names():
                r = measure(page, name, args.steps, args.play)
                print(f"{name:24s} {r['median_ms']:15.0f} {r['p90_ms']:8.0f} {r['play10']:13.1f} {r['play30']:13.1f}", flush=True)
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
