"""The report as a reader first sees it, in Debian's chromium at 1280×800: the answer and its
effect curve are on the first screen, and no table is wider than the window."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sim.analysis.report import build_report

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WIDTH, HEIGHT = 1280, 800


@pytest.fixture(scope="module")
def page(small_sweep, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed for these tests: apt-get install chromium"
    report = build_report(small_sweep, tmp_path_factory.mktemp("browser-report") / "report.html")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        pg = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        pg.goto(report.as_uri())
        pg.wait_for_load_state("load")
        yield pg
        browser.close()


class TestFirstScreen:
    def test_answer_and_effect_curve_are_on_the_first_screen(self, page, tmp_path):
        shot = page.screenshot(path=str(tmp_path / "first-screen.png"))
        assert len(shot) > 10_000
        for selector in ("#answer h2", "#answer li", "#answer img"):
            box = page.locator(selector).first.bounding_box()
            assert box is not None, selector
            assert box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT, (selector, box)
            assert box["x"] + box["width"] <= WIDTH, (selector, box)
        img = page.locator("#answer img").first
        assert img.get_attribute("alt") == "answer-effect"
        assert img.evaluate("i => i.complete && i.naturalWidth > 200")
        assert page.locator("#answer img").first.bounding_box()["height"] > 200  # legible, not a thumbnail

    def test_the_answer_comes_before_everything_else(self, page):
        first = page.evaluate("document.querySelector('section').id")
        assert first == "answer"


class TestNoOverflow:
    def test_page_is_no_wider_than_the_window(self, page):
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH

    def test_no_table_overflows(self, page):
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        widths = page.evaluate(
            "[...document.querySelectorAll('table')].map(t => [t.getBoundingClientRect().right, t.parentElement.scrollWidth,"
            " t.parentElement.clientWidth])"
        )
        assert len(widths) >= 5
        for right, scroll, client in widths:
            assert right <= WIDTH and scroll <= client, (right, scroll, client)

    def test_the_check_can_fail(self, page):
        """A table forced wider than the window is caught by the same measurement."""
        page.evaluate("document.querySelector('table').style.minWidth = '1600px'")
        right, scroll, client = page.evaluate(
            "(t => [t.getBoundingClientRect().right, t.parentElement.scrollWidth, t.parentElement.clientWidth])"
            "(document.querySelector('table'))"
        )
        page.evaluate("document.querySelector('table').style.minWidth = ''")
        assert right > WIDTH or scroll > client
