"""The HTML report in a real headless Chromium, offline: it loads without errors or requests, and
every chart draws. A screenshot is kept in tests/artifacts/report.png for a person to look at."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CampaignFactory
from history import History, make_history

from rcsbatch.gateway.config import Gateway
from rcsbatch.reports.formats import write_report
from rcsbatch.reports.html import CHARTS
from rcsbatch.simulator import SimulatorServer
from rcsbatch.state.paths import journal_path

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
MARKS = ".point, .bars path, .scatterlayer .trace"


@pytest.fixture
def history(make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway) -> History:
    """Three runs with faults, a credit stop and late prices (tests/history.py)."""
    return make_history(make_campaign, sim, gateway)


@pytest.fixture
def page(history: History) -> Path:
    """The campaign's HTML report, written where `rcsbatch report --format html` puts it."""
    path = journal_path(history.campaign, "simulator")
    written = write_report(path, history.campaign.name, "html")
    assert written == path.parent / "report.html"
    return written


def _missing_browser() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(Path(path).name)):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium through the system chromedriver, offline; skipped (failed in CI) when
    Chromium is missing."""
    reason = _missing_browser()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--window-size=1360,900",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(60)
        # No network at all: any request the page tried would fail, and be counted below.
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
        )
        yield driver
    finally:
        driver.quit()


def test_the_page_holds_no_web_address_of_its_own(page: Path) -> None:
    """Outside the inlined plotly.js, the page names no http(s) address and loads nothing: no
    <link>, no <script src>, no <img src>, no @import."""
    text = page.read_text(encoding="utf-8")
    scripts = re.findall(r"<script[^>]*>.*?</script>", text, flags=re.S)
    own = text
    for script in scripts:
        own = own.replace(script, "")
    assert not re.search(r"https?://", own)
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import", own, flags=re.I)
    assert len(scripts) >= 1 + len(CHARTS)  # plotly.js once, then one per chart
    assert not any("src=" in s.split(">", 1)[0] for s in scripts)


def test_the_page_loads_offline_without_errors_and_every_chart_draws(
    page: Path, browser: Any
) -> None:
    """In Chromium, offline: no console error, no network request, each chart has SVG marks,
    the title names the campaign; a full-page screenshot is kept in tests/artifacts."""
    browser.get(page.as_uri())
    browser.implicitly_wait(0)
    drawn = browser.execute_script(
        """
        const marks = arguments[0];
        return Array.from(document.querySelectorAll('[data-chart]')).map(el => ({
            name: el.dataset.chart,
            marks: el.querySelectorAll(marks).length,
            svg: el.querySelectorAll('svg.main-svg').length,
        }));
        """,
        MARKS,
    )
    assert [c["name"] for c in drawn] == list(CHARTS)
    for chart in drawn:
        assert chart["svg"] > 0 and chart["marks"] > 0, chart
    requests = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert requests == []
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    assert "history" in browser.title
    assert "history" in browser.find_element("css selector", "h1").text
    for _ in range(3):  # the charts re-lay themselves out at the new size: measure again
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1360, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
