"""The pages in a real browser (Debian's chromium driven by Playwright): the login of the
analyst console and what it leads to, with the Chinese text rendered by a CJK font."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.conftest import RunningSystem

pytestmark = pytest.mark.infra


async def test_a_browser_without_a_session_is_sent_to_the_login_and_back(
    system: RunningSystem, browser_page: Page
) -> None:
    reporting = system.urls["reporting"]
    await browser_page.goto(f"{reporting}/dashboard")
    assert browser_page.url.startswith(f"{reporting}/login?next=")
    await expect(browser_page.get_by_role("heading", level=1)).to_contain_text("登录")

    await browser_page.get_by_role("button", name="dev-analyst · analyst").click()
    await browser_page.wait_for_url(f"{reporting}/dashboard")
    await expect(browser_page.locator("h1")).to_contain_text("投诉")


async def test_chinese_is_drawn_with_a_cjk_font_not_boxes(
    system: RunningSystem, browser_page: Page
) -> None:
    """Without a CJK font every ideograph is drawn as the same empty box: two different
    ideographs, drawn alone, must give two different pictures."""
    await browser_page.goto(f"{system.urls['reporting']}/login")
    await browser_page.evaluate(
        """() => {
            for (const [id, text] of [['a', '投'], ['b', '诉']]) {
                const span = document.createElement('span');
                span.id = id;
                span.style.cssText = 'font-size:40px;display:inline-block;padding:4px';
                span.textContent = text;
                document.body.appendChild(span);
            }
        }"""
    )
    first = await browser_page.locator("#a").screenshot()
    second = await browser_page.locator("#b").screenshot()
    assert first != second
