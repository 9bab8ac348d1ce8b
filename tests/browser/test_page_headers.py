"""Every page of the workbench and the reporting console is sent unframeable, with a policy
that allows no script, and uncached — and still renders: its inline styles and SVG charts
draw, and the browser reports no violation of the policy."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import ConsoleMessage, Page

from tests.conftest import RunningSystem

pytestmark = pytest.mark.infra


async def _visit(page: Page, url: str, violations: list[str]) -> None:
    answer = await page.goto(url)
    assert answer is not None and answer.status == 200, url
    headers = await answer.all_headers()
    assert headers["x-frame-options"] == "DENY", url
    assert "default-src 'none'" in headers["content-security-policy"], url
    assert "frame-ancestors 'none'" in headers["content-security-policy"], url
    assert headers["cache-control"] == "no-store", url
    assert await page.locator("script").count() == 0, url  # no page needs a script
    assert not violations, violations


async def test_the_reporting_pages_render_their_charts_under_the_policy(
    system: RunningSystem, browser_page: Page
) -> None:
    reporting = system.urls["reporting"]
    violations: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            violations.append(message.text)

    browser_page.on("console", seen)
    await browser_page.goto(f"{reporting}/dashboard")
    await browser_page.get_by_role("button", name=re.compile(r"^dev-analyst ")).click()
    await browser_page.wait_for_url(f"{reporting}/dashboard")
    for path in ("/login", "/dashboard", "/reports/monthly?office=Y园"):
        await _visit(browser_page, f"{reporting}{path}", violations)
        charts = browser_page.locator("svg")
        for i in range(await charts.count()):
            box = await charts.nth(i).bounding_box()
            assert box is not None and box["width"] > 0 and box["height"] > 0, path
    await _visit(browser_page, f"{reporting}/dashboard", violations)
    assert await browser_page.locator("svg").count() >= 1  # the dashboard's status chart
    # the inline stylesheet applies (the browser's default font is no CJK stack)
    font = await browser_page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Noto" in font or "Source Han" in font, font


async def test_the_workbench_pages_render_under_the_policy(
    system: RunningSystem, browser_page: Page
) -> None:
    workflow = system.urls["workflow"]
    violations: list[str] = []
    browser_page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    await browser_page.goto(f"{workflow}/")
    await browser_page.get_by_role(
        "button", name=re.compile(r"dev-head-\d+ · cs_head · Y园")
    ).click()
    await browser_page.wait_for_url(f"{workflow}/queue?mine=true")
    for path in ("/login", "/queue", "/queue?mine=true"):
        await _visit(browser_page, f"{workflow}{path}", violations)
    # the stylesheet is inline: the header is laid out by it, not the browser's defaults
    display = await browser_page.evaluate(
        "getComputedStyle(document.querySelector('header')).display"
    )
    assert display != "block"
