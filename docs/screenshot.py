"""Redraw the README's screenshot of the explorer (docs/explorer.png): leadership-change in
compare mode (B: turnover 0.4) at round 20, in Debian's chromium at 1400×1000.

Run: .venv/bin/python docs/screenshot.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_explorer import CHROMIUM, _start_server  # noqa: E402  (the same server start-up and stop)


def main(out: Path = ROOT / "docs" / "explorer.png") -> None:
    proc, url = _start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            expect(page.locator(".readout-A")).to_contain_text("A: round 0 ", timeout=120000)
            page.get_by_role("checkbox", name="compare mode: B on the same seed").check()
            field = page.locator(".b-value").locator("input")
            field.fill("0.4")
            field.press("Enter")
            expect(page.locator(".b-label")).to_contain_text("B's turnover: 0.4")
            for r in range(1, 21):
                page.get_by_role("button", name="Step", exact=True).click()
                expect(page.locator(".readout-A")).to_contain_text(f"A: round {r} ", timeout=30000)
            page.wait_for_timeout(1500)  # the charts' animation
            page.screenshot(path=str(out))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
